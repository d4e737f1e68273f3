"""GUI: the Doctor dialog runs real probes as QProcess children without blocking,
File ▸ New's preset picker (tier preselected from the Doctor's VRAM, differences
listed), Apply Preset as one undo step, and the status-bar memory estimate."""
from __future__ import annotations

import sys
import time

import pytest

from dpgui_qt.core import doctor
from dpgui_qt.core.config import presets as P
from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.templates import build_template
from dpgui_qt.core.doctor.target import saved_environment
from tests import doctor_envs as E
from tests.gui.conftest import make_session

REG = default_registry()


@pytest.fixture(scope="module")
def envs(tmp_path_factory):
    root = tmp_path_factory.mktemp("guienvs")
    bare = root / "bare"
    E.make_venv(bare)
    good = root / "good"
    E.make_venv(good)
    E.add_torch(good, devices=[E.gpu(total_gb=24, free_gb=23.5)])
    E.add_module(good, "deepspeed", "0.18.4")
    return {"bare": bare, "good": good}


def target(python, checkout=""):
    return doctor.Target(python=str(python), checkout=str(checkout), checkout_host=str(checkout),
                         platform="linux", python_source="the test")


def test_doctor_dialog_runs_probes_without_blocking(qtbot, envs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))            # no nvidia-smi
    from dpgui_qt.gui.run.doctor_dialog import DoctorDialog

    # The probe starts only once the dialog's event loop has run a timer, so a report can
    # only come if the loop kept running meanwhile (counting ticks depended on how fast
    # the probe happened to be).
    gate = tmp_path / "loop-ran"
    real_steps = doctor.probe_steps

    def gated_steps(t):
        steps = real_steps(t)
        wait = ("import os, sys, time\n"
                "while not os.path.exists(sys.argv[1]): time.sleep(0.01)\n"
                "os.execv(sys.argv[2], sys.argv[2:])\n")
        steps[0].argv = [sys.executable, "-c", wait, str(gate), *steps[0].argv]
        return steps

    monkeypatch.setattr(doctor, "probe_steps", gated_steps)
    dlg = DoctorDialog(target(envs["bare"] / "bin" / "python"), autostart=False)
    qtbot.addWidget(dlg)
    ticks = []
    from PySide6.QtCore import QTimer
    t = QTimer(dlg)
    t.timeout.connect(lambda: (ticks.append(time.monotonic()), gate.touch()))
    t.start(10)
    dlg.start()
    assert dlg.running and not ticks                      # the probe is a child process
    with qtbot.waitSignal(dlg.finished_report, timeout=30000) as blocker:
        pass
    report = blocker.args[0]
    assert report.find("torch.missing").is_error          # it ran, once the loop had ticked
    assert ticks
    texts = [dlg.list.item(i).text() for i in range(dlg.list.count())]
    assert any("PyTorch is not installed" in x for x in texts)
    assert "will stop training" in dlg.head.text()
    dlg.list.setCurrentRow(0)
    assert "pip install torch" in dlg.detail.toPlainText()
    dlg.copy_fix()
    from PySide6.QtGui import QGuiApplication
    assert "pip install" in QGuiApplication.clipboard().text()


def test_doctor_remembers_vram_for_the_preset_picker(qtbot, envs, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    from dpgui_qt.gui.run.doctor_dialog import DoctorDialog, last_vram_gb
    from dpgui_qt.gui.config.new_dialog import NewConfigDialog

    dlg = DoctorDialog(target(envs["good"] / "bin" / "python"), autostart=False)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_report, timeout=30000):
        dlg.start()
    assert last_vram_gb() == pytest.approx(24.0, abs=0.01)
    new = NewConfigDialog(REG, None, "qwen_image", checkout="")
    qtbot.addWidget(new)
    assert new.tier.currentData() == 24
    assert new.preset().name == "lora-24gb"               # the largest preset that fits


def test_doctor_dialog_cancel_kills_the_probe(qtbot, tmp_path):
    slow = tmp_path / "slowpython"
    slow.write_text(f"#!{sys.executable}\nimport time\ntime.sleep(60)\n")
    slow.chmod(0o755)
    from dpgui_qt.gui.run.doctor_dialog import DoctorDialog

    dlg = DoctorDialog(target(slow), autostart=False)
    qtbot.addWidget(dlg)
    dlg.start()
    proc = dlg._proc
    qtbot.waitUntil(lambda: proc.processId() > 0, timeout=5000)
    t0 = time.monotonic()
    dlg.reject()
    assert time.monotonic() - t0 < 5
    assert dlg.report is None


def test_doctor_reachable_from_run_page_and_preflight(window, qtbot, monkeypatch):
    opened = []
    import dpgui_qt.gui.run.doctor_dialog as dd

    monkeypatch.setattr(dd, "show_doctor", lambda *a, **k: opened.append((a, k)))
    window.actions["run.doctor"].trigger()
    page = window.run_page
    page.doctor_btn.click()
    from dpgui_qt.gui.run.preflight import PreflightDialog, PreflightReport
    pf = PreflightDialog(PreflightReport([], values={"model": {"type": "wan"}}))
    qtbot.addWidget(pf)
    pf.doctor_btn.click()
    assert len(opened) == 3
    assert opened[2][0][2] == {"model": {"type": "wan"}}
    # and from the start page's set-up box, for a user who has no config yet
    sp = window.start_page
    sp.rebuild(detect=False)
    sp.doctor_btn.click()
    assert len(opened) == 4 and opened[3][0] == (window,)
    assert "preset" in sp.buttons["new"].toolTip()


def test_new_dialog_lists_presets_and_differences(qtbot):
    from dpgui_qt.gui.config.new_dialog import PLAIN, NewConfigDialog

    dlg = NewConfigDialog(REG, None, "wan", vram_gb=23.6, checkout="", detect=False)
    qtbot.addWidget(dlg)
    assert dlg.tier.currentData() == 24
    assert dlg.preset().name == "14b-lora-24gb"
    diffs = {k: (a, b) for k, a, b in dlg.differences()}
    assert diffs["blocks_to_swap"] == ("(not set)", "32")
    assert diffs["model.ckpt_path"][1] == "'/models/Wan2.1-T2V-14B'"
    assert "examples/wan_14b_min_vram.toml:1" in dlg.memory.text()
    text = dlg.text()
    assert ConfigDocument.from_text(text).values()["blocks_to_swap"] == 32
    # upstream example without a checkout: listed, not selectable
    items = [dlg.presets.item(i) for i in range(dlg.presets.count())]
    up = [it for it in items if it.data(0x0100) is not None and it.data(0x0100).is_upstream]
    from PySide6.QtCore import Qt
    assert up and not (up[0].flags() & Qt.ItemFlag.ItemIsEnabled)
    # plain template: no differences, the old behaviour
    dlg.presets.setCurrentRow(0)
    assert dlg.preset() is None and dlg.differences() == []
    assert dlg.text() == build_template(REG, "wan", "lora")
    assert PLAIN in dlg.presets.item(0).text()
    # a smaller card: only presets that fit
    dlg.tier.setCurrentIndex(dlg.tier.findData(12))
    tiers = {dlg.presets.item(i).data(0x0100).tier for i in range(1, dlg.presets.count())}
    assert tiers and max(tiers) <= 12
    # full fine-tune presets when the model has them
    dlg.radios[None].setChecked(True)
    assert all(dlg.presets.item(i).data(0x0100).adapter is None for i in range(1, dlg.presets.count()))


def test_new_dialog_upstream_preset_with_a_checkout(qtbot, tmp_path):
    from tests.conftest import CORPUS_CONFIGS
    if not CORPUS_CONFIGS.exists():
        pytest.skip("../shared is absent")
    co = tmp_path / "dp"
    (co / "examples").mkdir(parents=True)
    src = CORPUS_CONFIGS / "tdrussell__diffusion-pipe__examples__qwen_image_24gb_vram.toml"
    (co / "examples" / "qwen_image_24gb_vram.toml").write_bytes(src.read_bytes())
    from dpgui_qt.gui.config.new_dialog import NewConfigDialog

    dlg = NewConfigDialog(REG, None, "qwen_image", vram_gb=24, checkout=str(co), detect=False)
    qtbot.addWidget(dlg)
    assert dlg.select_preset("upstream:qwen_image_24gb_vram")
    assert dlg.text().encode() == src.read_bytes()
    assert ("model.transformer_dtype", "(not set)", "'float8'") in dlg.differences() or \
        any(k == "blocks_to_swap" for k, _a, _b in dlg.differences())


def test_file_new_uses_the_picker(window, qtbot, monkeypatch):
    from dpgui_qt.gui.config import new_dialog

    def fake_exec(self):
        self.list.setCurrentRow([self.list.item(i).data(0x0100) for i in range(self.list.count())].index("flux"))
        self.tier.setCurrentIndex(self.tier.findData(16))
        return new_dialog.NewConfigDialog.DialogCode.Accepted

    monkeypatch.setattr(new_dialog.NewConfigDialog, "exec", fake_exec)
    assert window.new_file()
    v = window.session.doc.values()
    assert v["model"]["type"] == "flux"
    assert v["blocks_to_swap"] == P.find("flux", "lora-16gb").set["blocks_to_swap"]
    assert "Preset lora-16gb" in window.session.doc.text


def test_apply_preset_is_one_undo_step(qtbot):
    from dpgui_qt.gui.config.new_dialog import ApplyPresetDialog

    text = "# my own comment\n" + build_template(REG, "qwen_image", "lora")
    s = make_session(text)
    dlg = ApplyPresetDialog(s, None, checkout="", detect=False)
    qtbot.addWidget(dlg)
    assert dlg.select_preset("lora-24gb")
    keys = {dlg.diff.topLevelItem(i).text(0): dlg.diff.topLevelItem(i).text(2)
            for i in range(dlg.diff.topLevelItemCount())}
    assert keys["blocks_to_swap"] == "8" and keys["gradient_accumulation_steps"] == "4"
    assert "model.diffusers_path" not in keys
    depth = s.undo_stack.count()
    dlg._apply()
    assert s.undo_stack.count() == depth + 1
    v = s.doc.values()
    assert v["blocks_to_swap"] == 8 and v["gradient_accumulation_steps"] == 4
    assert s.doc.text.startswith("# my own comment\n")
    assert s.undo_stack.undoText() == "Apply preset lora-24gb"
    s.undo_stack.undo()
    assert s.doc.text == text
    s.undo_stack.redo()
    assert s.doc.values()["blocks_to_swap"] == 8


def test_apply_upstream_preset_skips_paths(qtbot, tmp_path):
    from tests.conftest import CORPUS_CONFIGS
    if not CORPUS_CONFIGS.exists():
        pytest.skip("../shared is absent")
    co = tmp_path / "dp"
    (co / "examples").mkdir(parents=True)
    (co / "examples" / "wan_14b_min_vram.toml").write_bytes(
        (CORPUS_CONFIGS / "tdrussell__diffusion-pipe__examples__wan_14b_min_vram.toml").read_bytes())
    p = P.find("wan", "upstream:wan_14b_min_vram")
    base = ConfigDocument.from_text(build_template(REG, "wan", "lora"))
    changes = {".".join(map(str, c[0])): c[2] for c in P.changes_for_open(base.values(), p, co)}
    assert changes["blocks_to_swap"] == 32 and changes["activation_checkpointing"] == "unsloth"
    assert not any(k in changes for k in ("output_dir", "dataset", "model.ckpt_path", "model.type"))


def test_memory_estimate_in_the_status_bar(window, qtbot, tmp_path):
    from dpgui_qt.core.config import memory

    cfg = tmp_path / "c.toml"
    (tmp_path / "ds.toml").write_text("resolutions = [512]\nframe_buckets = [1, 33]\n")
    text = build_template(REG, "flux", "lora").replace("dataset = '/data/dataset.toml'",
                                                       f"dataset = '{tmp_path / 'ds.toml'}'")
    assert str(tmp_path / "ds.toml") in text
    cfg.write_text(text)
    assert window.open_file(str(cfg))
    btn = window.memory_button
    qtbot.waitUntil(lambda: btn.estimate is not None and btn.isVisibleTo(window), timeout=3000)
    est = memory.estimate(ConfigDocument.from_text(text).values(), 512)
    assert btn.text() == f"≈ {est.gb:.1f} GiB VRAM (estimate)"
    assert "512px" in btn.text_basis and memory.FORMULA in btn.text_basis
    assert "↓ model.transformer_dtype" in btn.text_basis
    before = btn.estimate.gb
    window.session.set_value("blocks_to_swap", 20)
    qtbot.waitUntil(lambda: btn.estimate.gb < before, timeout=3000)
    dlg = btn.show_basis()
    qtbot.addWidget(dlg)
    assert dlg.findChild(__import__("PySide6.QtWidgets", fromlist=["QPlainTextEdit"]).QPlainTextEdit)\
        .toPlainText() == btn.text_basis


def test_memory_status_names_the_sourced_figure(qtbot):
    from dpgui_qt.gui.config.memory_status import MemoryEstimateButton

    p = P.find("wan", "14b-lora-24gb")
    s = make_session(P.build_text(REG, p))
    btn = MemoryEstimateButton(s)
    qtbot.addWidget(btn)
    assert btn.text().startswith("24 GB VRAM (diffusion-pipe)")
    assert "examples/wan_14b_min_vram.toml:1" in btn.text_basis


def test_doctor_dialog_python_that_cannot_start(qtbot, tmp_path):
    from dpgui_qt.gui.run.doctor_dialog import DoctorDialog

    dlg = DoctorDialog(target(tmp_path / "no" / "python"), autostart=False)
    qtbot.addWidget(dlg)
    with qtbot.waitSignal(dlg.finished_report, timeout=10000) as blocker:
        dlg.start()
    f = blocker.args[0].find("python.unusable")
    assert f.is_error and "cannot be started" in f.title
    assert "Run Again" == dlg.run_btn.text() and dlg.run_btn.isEnabled()


def test_memory_status_dataset_shape(tmp_path):
    import os

    from dpgui_qt.gui.config.memory_status import dataset_shape

    (tmp_path / "ds.toml").write_text("resolutions = [[1280, 720], 512]\nframe_buckets = [1, 33, 65]\n")
    assert dataset_shape({"dataset": "ds.toml"}, tmp_path / "c.toml") == (960, 65)
    os.mkfifo(tmp_path / "fifo.toml")
    assert dataset_shape({"dataset": "fifo.toml"}, tmp_path / "c.toml") == (None, None)
    (tmp_path / "bad.toml").write_text("resolutions = [")
    assert dataset_shape({"dataset": "bad.toml"}, tmp_path / "c.toml") == (None, None)


# the Doctor reads the settings file QSettings wrote (without Qt: core/doctor/target.py)
def test_settings_written_by_qsettings_read_back(tmp_path):
    from PySide6.QtCore import QSettings

    ini = tmp_path / "dpgui.ini"
    qs = QSettings(str(ini), QSettings.Format.IniFormat)
    values = {"checkout": r"C:\dp\with space", "deepspeed": '/home/u/my env,x/"venv"',
              "wsl_distro": "Ubüntu@home"}
    for k, v in values.items():
        qs.setValue(f"run/{k}", v)
    qs.setValue("run/gpu_count", 2)
    qs.sync()
    assert saved_environment(ini) == values
