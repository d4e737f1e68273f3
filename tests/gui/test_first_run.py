"""A new user's first run, end to end, offscreen, with the fake deepspeed.

start page -> New (wan, LoRA) -> set the paths -> New dataset with a generated
folder (half the captions missing) -> edit the resolutions without saving ->
Start Training -> the save prompt -> the pre-flight lists the missing captions and
the placeholder -> fix -> launch -> the Monitor shows the loss -> Stop asks -> no
process left.

Every page is also rendered at 1280x800 and at a device pixel ratio of 2; the PNGs
are kept under tests/artifacts/first_run/ (ignored by git) for a person to look at.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.gui.run_fixtures import live_group_psutil, write_images

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "first_run"
TIMEOUT_MS = 30_000


def shoot(widget, name: str) -> list[Path]:
    """``widget`` at its logical size, once at 1x and once at 2x device pixel ratio."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QPixmap
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = []
    for ratio in (1, 2):
        pm = QPixmap(widget.size() * ratio)
        pm.setDevicePixelRatio(ratio)
        pm.fill()
        widget.render(pm, QPoint())
        path = ARTIFACTS / f"{name}@{ratio}x.png"
        assert pm.save(str(path)), path
        out.append(path)
    print(f"screenshot: {out[0]} (and @2x)")
    return out


def drive_modal(qtbot, fn):
    """Run ``fn(dialog)`` on the next modal dialog (the test's hand on the mouse)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    done = []

    def poll():
        dlg = QApplication.activeModalWidget()
        if dlg is None:
            QTimer.singleShot(20, poll)
            return
        done.append(dlg)
        fn(dlg)

    QTimer.singleShot(0, poll)
    return done


def test_new_users_first_run(qtbot, fake_run, dialogs, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QFileDialog, QGroupBox

    from dpgui_qt.gui import mainwindow as mw
    from dpgui_qt.gui.mainwindow import MainWindow
    from dpgui_qt.gui.config.new_dialog import NewConfigDialog
    from dpgui_qt.gui.run import preflight as pf

    fake_run.configure(steps=100000, delay=0.05)      # checkout + fake deepspeed, 2 GPUs
    models = tmp_path / "models" / "Wan2.1-T2V-1.3B"
    models.mkdir(parents=True)
    images = tmp_path / "my_pictures"
    write_images(images, 8, captions=4)             # half the captions missing
    out_dir = tmp_path / "runs"
    cfg_dir = tmp_path / "configs"
    cfg_dir.mkdir()

    w = MainWindow()
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)

    # -- 1. the start page: a way in, and diffusion-pipe found in words
    assert w.showing_start_page()
    sp = w.start_page
    qtbot.waitUntil(lambda: sp.setup_state.get("ready") is True, timeout=5000)
    assert "✔ diffusion-pipe" in sp.setup_label.text() and str(fake_run.co) in sp.setup_label.text()
    assert "--checkout" not in sp.setup_label.text()              # words, not flags
    assert {"new", "open"} <= set(sp.buttons)
    assert not w.problems_dock.isVisible() and not w.problem_button.isVisible()
    shoot(w, "01-start-page")

    # -- 2. New: wan, LoRA (through the real dialog)
    def pick_wan(dlg):
        assert isinstance(dlg, NewConfigDialog)
        for i in range(dlg.list.count()):
            if dlg.list.item(i).data(Qt.ItemDataRole.UserRole) == "wan":
                dlg.list.setCurrentRow(i)
        dlg.radios["lora"].setChecked(True)
        shoot(dlg, "02-new-config-dialog")
        dlg.accept()

    seen = drive_modal(qtbot, pick_wan)
    sp.buttons["new"].click()
    assert seen and not w.showing_start_page()
    s = w.session
    assert s.doc.get(("model", "type")) == "wan" and s.doc.get(("adapter", "type")) == "lora"
    assert s.path is None and s.modified
    ph = {f.key for f in s.validate_now() if f.rule == "template_placeholder"}
    assert {"output_dir", "dataset", "model.ckpt_path"} <= ph
    qtbot.wait(300)
    # the Problems panel opened for the warnings, with room for them
    assert w.problems.expanded and w.problems.view.height() > 60
    # the status bar and the panel give the same counts
    assert w.problem_button.text() == w.problems.summary.text().split("   ")[0]
    shoot(w, "03-new-config")

    # -- 3. set the paths (the output folder; the model path is forgotten for now)
    s.set_value(("output_dir",), str(out_dir))

    # -- 4. New dataset with the generated folder: written with absolute paths
    w.show_page("dataset")
    page = w.page("dataset")
    ds_path = page.new_dataset(cfg_dir / "my_dataset.toml", image_dir=str(images))
    assert s.doc.get("dataset") == str(ds_path.resolve())
    qtbot.waitUntil(lambda: len(page.editors) == 1, timeout=TIMEOUT_MS)
    ed = page.editors[0]
    assert ed.wait_idle(30)
    scan = ed.scans.result(0)
    assert scan is not None and len(scan.missing_captions) == 4
    shoot(w, "04-dataset")

    # -- 5. edit the resolutions, not saved
    ed.session.set_value(("resolutions",), [256, 512])
    assert ed.session.modified and "[512]" in ds_path.read_text()
    qtbot.waitUntil(lambda: [b.config.resolutions for b in ed.last_buckets][:1] == [[256, 512]]
                    if ed.last_buckets else False, timeout=5000)   # buckets follow the edit

    # -- 6. Start Training: asked to save everything, then the gate on the saved files
    main_cfg = cfg_dir / "wan_lora.toml"
    monkeypatch.setattr(mw.QFileDialog, "getSaveFileName",
                        staticmethod(lambda *a, **k: (str(main_cfg), "")))
    assert QFileDialog.getSaveFileName is not None
    fake_run.answer = "cancel"
    w.actions["run.start"].trigger()
    prompt = [m for m in dialogs.messages if m.title == "Save before training?"]
    assert prompt and "my_dataset.toml" in prompt[0].text and "Untitled" in prompt[0].text
    assert main_cfg.is_file() and not s.modified and not ed.session.modified
    assert "resolutions = [256, 512]" in ds_path.read_text()          # what you see is on disk
    rep = fake_run.reports[-1]
    errors = {f.key: f for f in rep.errors}
    assert errors["model.ckpt_path"].message.startswith(
        "set model.ckpt_path: still the template's placeholder")
    missing = [f for f in rep.warnings if f.code == "dataset:missing_captions"]
    assert missing and "4 files" in missing[0].message and "img007.png" in missing[0].message
    assert str(main_cfg) in rep.files and str(ds_path) in rep.files
    run_page = w.page("run")
    assert run_page.controller.handle is None                          # nothing started
    dlg = pf.PreflightDialog(rep, w)
    dlg.show()
    qtbot.waitExposed(dlg)
    assert dlg.force_btn.isVisible() and not dlg.start_btn.isVisible()
    assert dlg.list.count() == len(rep.findings)
    assert dlg.frameGeometry().height() <= w.screen().availableGeometry().height()
    shoot(dlg, "05-preflight")
    dlg.close()

    # -- 7. fix: the model path and the captions
    s.set_value(("model", "ckpt_path"), str(models))
    for p in sorted(images.glob("*.png")):
        if not p.with_suffix(".txt").exists():
            p.with_suffix(".txt").write_text("a test picture\n")
    fake_run.answer = "start"
    n_reports = len(fake_run.reports)
    w.actions["run.start"].trigger()
    for r in fake_run.reports[n_reports:]:      # only warnings may be left (e.g. disk space)
        assert not r.errors, [f.message for f in r.errors]
    c = run_page.controller
    qtbot.waitUntil(lambda: c.handle is not None, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: c.status.phase.value == "training" and bool(c.run_dir),
                    timeout=TIMEOUT_MS)
    qtbot.wait(50)
    side = run_page.side_scroll.widget()
    assert run_page.side_scroll.verticalScrollBar().maximum() == 0, (
        "the Run page scrolls", run_page.side_scroll.viewport().height(),
        [(c.title(), c.minimumSizeHint().height()) for c in side.findChildren(QGroupBox)],
        w.problems_dock.height(), run_page.height())
    shoot(w, "06-run")

    # -- 8. the Monitor shows the loss
    w.show_page("monitor")
    metrics = w.monitor_feed.model.metrics
    qtbot.waitUntil(lambda: len(metrics.loss) >= 3, timeout=TIMEOUT_MS)
    assert all(v == v for v in metrics.loss.y)
    qtbot.wait(300)
    shoot(w, "07-monitor")

    # -- 9. Stop asks (the button, as a user clicks it), then no process is left
    w.show_page("run")
    pgid = c.state["pgid"]
    assert live_group_psutil(pgid)
    dialogs.answers = ["cancel"]
    qtbot.mouseClick(run_page.stop_btn, Qt.MouseButton.LeftButton)
    asked = [m for m in dialogs.messages if m.title == "Stop training"]
    assert asked and "current step" in asked[-1].informative
    assert c.active                                                    # cancel: still running
    dialogs.answers = ["Stop"]
    qtbot.mouseClick(run_page.stop_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.ended, timeout=TIMEOUT_MS)
    qtbot.waitUntil(lambda: not live_group_psutil(pgid), timeout=TIMEOUT_MS)
    assert c.status.phase.value == "stopped"
    assert not run_page.banner.isHidden()                 # the outcome, without a refresh
    shoot(w, "08-stopped")

    # -- 10. the Monitor's Runs list knows the run ended, without a Refresh click
    history = w.page("monitor").history
    run_name = Path(c.run_dir).name

    def listed_status():
        for s_ in history.summaries or []:
            if Path(s_.path).name == run_name:
                return s_.status
        return None

    qtbot.waitUntil(lambda: listed_status() not in (None, "running"), timeout=TIMEOUT_MS)
    w.show_page("monitor")
    w.page("monitor").tabs.setCurrentWidget(history)
    shoot(w, "09-runs-list")
    w.close()
