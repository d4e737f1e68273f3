"""Monitor ▸ Outputs, Samples and Queue: previews, trash, export, new config from a run,
the samples grid through a fake ComfyUI, and a queue that outlives the GUI process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(TESTS))
sys.path.insert(0, str(TESTS / "fake_deepspeed"))
from fake_comfyui import FakeComfy, api_workflow, png_text  # noqa: E402 - after the sys.path entry
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, wait_for  # noqa: E402 - after the sys.path entry
from outputs_layout import GB, make_dataset, make_run  # noqa: E402 - after the sys.path entry

REPO = TESTS.parent


@pytest.fixture
def outputs(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DPGUI_STATE_DIR", str(tmp_path / "state"))
    d, cfg = make_dataset(tmp_path / "data", model_names=("flux", "sdxl"))
    out = tmp_path / "out"
    a = make_run(out, "20250101_00-00-00", dataset_cfg=cfg)
    b = make_run(out, "20250102_00-00-00", dataset_cfg=cfg, checkpoints=(10, 20), latest=10,
                 ckpt_size=4 * GB)
    return out, a, b, d


def _view(qtbot, out):
    from dpgui_qt.gui.monitor.outputs_view import OutputsView
    v = OutputsView()
    qtbot.addWidget(v)
    with qtbot.waitSignal(v.loaded, timeout=10000):
        v.set_output_dir(out)
    return v


def test_outputs_tree_and_prune_with_preview_to_trash(qtbot, outputs, tmp_path):
    out, a, b, d = outputs
    v = _view(qtbot, out)
    runs = v.tree.topLevelItem(0)
    assert runs.text(0) == "Runs" and runs.childCount() == 2
    run_a = runs.child(1)
    texts = [run_a.child(i).text(0) for i in range(run_a.childCount())]
    assert texts == ["epoch1", "epoch2", "epoch3", "global_step100", "global_step200",
                     "global_step300", "main.toml"]
    latest = run_a.child(5)
    assert "latest" in latest.text(2) and latest.text(1) == "30.0 GB"
    caches = v.tree.topLevelItem(1)
    assert caches.childCount() == 2 and "stale" in caches.child(1).text(2)
    v.keep_spin.setValue(1)
    seen = {}

    def ask(dlg):
        seen["rows"] = [dlg.tree.topLevelItem(i).text(0) for i in range(dlg.tree.topLevelItemCount())]
        seen["head"] = dlg.findChildren(type(v.title))[0].text()
        return True

    with qtbot.waitSignal(v.finished, timeout=10000) as sig:
        v.prune_checkpoints(ask=ask)
    assert seen["rows"][0] == str(a / "global_step100") and "30.0 GB freed" in seen["head"]
    assert "Freed 30.0 GB" in sig.args[0] and "trash" in sig.args[0]
    assert not (a / "global_step100").exists() and (a / "epoch1").exists()
    assert (tmp_path / "xdg" / "Trash" / "files" / "global_step100").is_dir()
    qtbot.waitUntil(lambda: v.report is not None and len(v.report.runs[1].checkpoints) == 2, timeout=10000)
    # a declined preview changes nothing
    v.prune_checkpoints(ask=lambda dlg: False)
    assert (a / "global_step200").exists()
    with qtbot.waitSignal(v.finished, timeout=10000):
        v.delete_stale_caches(ask=lambda dlg: True)
    assert not (d / "cache" / "sdxl").exists() and (d / "cache" / "flux").exists()


def test_export_from_outputs_view(qtbot, outputs, tmp_path):
    out, a, b, d = outputs
    v = _view(qtbot, out)
    assert v.select_path("Runs", a.name, "epoch2")
    assert v.export_button.isEnabled()
    loras = tmp_path / "loras"
    loras.mkdir()

    def ask(dlg):
        assert dlg.name.text() == f"{a.name}-flux-e2.safetensors"
        dlg.folder.setText(str(loras))
        return True

    with qtbot.waitSignal(v.finished, timeout=10000) as sig:
        v.export_selected(ask=ask)
    assert "run settings in its metadata" in sig.args[0]
    from dpgui_qt.core.monitor.export import read_header
    h, _ = read_header(loras / f"{a.name}-flux-e2.safetensors")
    assert h["__metadata__"]["dpgui_save"] == "epoch2"
    from dpgui_qt.gui.monitor.outputs_view import loras_dir_setting
    assert loras_dir_setting() == str(loras)              # remembered


def test_new_config_from_this_run(qtbot, window, outputs):
    out, a, b, d = outputs
    from dpgui_qt.gui.monitor.page import MonitorPage
    page = MonitorPage(window=window, gpu_interval_ms=60000)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.outputs.loaded, timeout=10000):
        page.outputs.set_output_dir(out)
    page.outputs.select_path("Runs", a.name)
    assert page.outputs.clone_button.isEnabled()
    assert page.outputs.clone_selected()
    s = window.session
    assert s.path is None and s.doc.text == (a / "main.toml").read_text()
    assert "# a comment" in s.doc.text
    other = page._extra_windows[-1]
    qtbot.addWidget(other)
    assert other.session.path is None and "[[directory]]" in other.session.doc.text
    for w in (window, other):
        w.session.doc.saved_text = w.session.doc.text
    page.shutdown()


def test_samples_grid_through_comfyui(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("DPGUI_STATE_DIR", str(tmp_path / "state"))
    run = make_run(tmp_path / "out", "20250101_10-00-00", epochs=(1, 2, 3), checkpoints=(), latest=None)
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(api_workflow()))
    loras = tmp_path / "loras"
    loras.mkdir()
    from dpgui_qt.gui.monitor.samples_view import SamplesView
    with FakeComfy() as fake:
        v = SamplesView()
        qtbot.addWidget(v)
        v.address.setText(fake.address)
        v.workflow.setText(str(wf))
        assert v.load_workflow() is not None and "node 10" in v.workflow_info.text()
        v.loras_dir.setText(str(loras))
        v.prompts.setPlainText("a red fox\na lighthouse at dusk\n")
        v.set_run(run)
        assert v.sample_new()
        assert not v.sample_new()                     # one at a time
        qtbot.waitUntil(lambda: v.busy is None and not v.todo(), timeout=30000)
    assert v.table.rowCount() == 3 and v.table.columnCount() == 2
    assert [v.table.verticalHeaderItem(i).text() for i in range(3)] == ["epoch1", "epoch2", "epoch3"]
    cell = v.table.cellWidget(2, 1)
    assert cell.pixmap() is not None and not cell.pixmap().isNull()
    assert png_text(run / "dpgui-samples" / "epoch3" / "p1.png")[1:] == ["a lighthouse at dusk", 42]
    # ComfyUI gone: a finding in the cells, no crash, the GUI stays usable
    (run / "epoch4").mkdir()
    (run / "epoch3" / "adapter_model.safetensors").rename(run / "epoch4" / "adapter_model.safetensors")
    (run / "epoch3" / "adapter_model.safetensors").write_bytes(b"")
    (run / "epoch4").touch()
    assert v.sample_new()
    qtbot.waitUntil(lambda: v.busy is None, timeout=30000)
    assert "not reachable" in v.status.text()
    err_cell = v.table.cellWidget(3, 0)
    assert "not reachable" in err_cell.text()


def test_queue_panel_controls(qtbot, tmp_path):
    from dpgui_qt.core.run.runqueue import RunQueue, queue_dir_for
    from dpgui_qt.gui.monitor.queue_panel import QueuePanel
    q = RunQueue(queue_dir_for(tmp_path / "state"))
    q.set_paused(True)
    for n in range(3):
        q.add({"label": f"run{n}", "argv": ["true"], "config": "x", "source_config": "x"})
    p = QueuePanel(tmp_path / "state", poll_ms=50)
    qtbot.addWidget(p)
    assert p.tree.topLevelItemCount() == 3 and p.pause_button.text() == "Resume"
    ids = [i["id"] for i in q.items()]
    p.select(ids[2])
    p._move(-1)
    assert [i["id"] for i in q.items()] == [ids[0], ids[2], ids[1]]
    p.select(ids[1])
    p.cancel_button.click()
    assert q.item(ids[1])["status"] == "cancelled"
    p.continue_box.setChecked(False)
    assert q.load()["continue_on_failure"] is False
    p.select(ids[1])
    p.remove_button.click()
    assert [i["id"] for i in q.items()] == [ids[0], ids[2]]
    qtbot.waitUntil(lambda: p.tree.topLevelItemCount() == 2, timeout=3000)


GUI_CHILD = textwrap.dedent("""
    import os, sys, time
    from PySide6.QtWidgets import QApplication
    from dpgui_qt.gui.monitor.queue_panel import QueuePanel
    app = QApplication([])
    panel = QueuePanel(sys.argv[1], poll_ms=50)
    co = sys.argv[2]
    panel.queue.set_continue_on_failure(True)
    for i, cfg in enumerate(sys.argv[3:]):
        panel.add_config(cfg, checkout=co, deepspeed=os.environ["FAKE_DS"],
                         extra_env={"FAKE_DS_FAIL_AT": "2"} if i == 1 else None)
        deadline = time.time() + 30
        while len(panel.queue.items()) < i + 1 and time.time() < deadline:
            app.processEvents(); time.sleep(0.01)
    deadline = time.time() + 30
    while time.time() < deadline:
        app.processEvents()
        if any(it["status"] == "running" and it.get("state_dir") for it in panel.queue.items()):
            break
        time.sleep(0.01)
    print("closing", flush=True)
    os._exit(0)     # the GUI goes away abruptly while the first run trains
""")


def test_queue_survives_the_gui_closing(tmp_path):
    co, cfg, out = make_checkout(tmp_path, valid=True)
    cfgs = []
    for i in range(3):
        c = co / "examples" / f"run{i}.toml"
        c.write_text(cfg.read_text().replace(str(out), str(tmp_path / f"runs{i}")))
        cfgs.append(str(c))
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", FAKE_DS=str(FAKE_DEEPSPEED),
               FAKE_DS_DELAY="0.1", FAKE_DS_STEPS="8", DPGUI_CONFIG_DIR=str(tmp_path / "settings"))
    p = subprocess.run([sys.executable, "-c", GUI_CHILD, str(tmp_path / "state"), str(co), *cfgs],
                       env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and "closing" in p.stdout, p.stderr
    from dpgui_qt.core.run.runqueue import RunQueue, queue_dir_for, runner_alive
    q = RunQueue(queue_dir_for(tmp_path / "state"))
    assert q.items()[0]["status"] == "running"              # the GUI is gone, the run is not
    wait_for(lambda: not runner_alive(q.dir) and all(i["status"] not in ("running", "pending")
                                                     for i in q.items()), 120, 0.1, "the queue")
    items = q.items()
    assert [i["status"] for i in items] == ["finished", "failed", "finished"]
    assert "Out of GPU memory" in items[1]["message"]
    assert all(Path(i["run_dir"]).is_dir() for i in items)


def test_new_config_from_the_runs_tab(qtbot, window, outputs):
    out, a, b, d = outputs
    from dpgui_qt.gui.monitor.page import MonitorPage
    page = MonitorPage(window=window, gpu_interval_ms=60000)
    qtbot.addWidget(page)
    with qtbot.waitSignal(page.history.loaded, timeout=10000):
        page.history.set_output_dir(out)
    page.history.select([b.name])
    assert page.history.clone_button.isEnabled()
    assert page.history.clone_selected()
    assert window.session.path is None and window.session.doc.text == (b / "main.toml").read_text()
    for w in [window] + page._extra_windows:
        qtbot.addWidget(w) if w is not window else None
        w.session.doc.saved_text = w.session.doc.text
    page.shutdown()


def test_samples_follow_new_epochs_while_training(qtbot, tmp_path):
    run = make_run(tmp_path / "out", "20250101_10-00-00", epochs=(1,), checkpoints=(), latest=None)
    wf = tmp_path / "wf.json"
    wf.write_text(json.dumps(api_workflow("LoraLoaderModelOnly")))
    loras = tmp_path / "loras"
    loras.mkdir()
    from dpgui_qt.gui.monitor.samples_view import SamplesView
    with FakeComfy() as fake:
        v = SamplesView(poll_ms=100)
        qtbot.addWidget(v)
        v.address.setText(fake.address)
        v.workflow.setText(str(wf))
        v.loras_dir.setText(str(loras))
        v.prompts.setPlainText("one prompt")
        v.set_run(run)
        v.auto.setChecked(True)
        qtbot.waitUntil(lambda: v.table.rowCount() == 1 and v.busy is None, timeout=20000)
        # diffusion-pipe writes the next epoch: first into tmp/, then the weights appear
        (run / "epoch2" / "tmp").mkdir(parents=True)
        qtbot.wait(400)
        assert v.table.rowCount() == 1                     # not while it is being written
        (run / "epoch2" / "tmp").rmdir()
        (run / "epoch2" / "adapter_model.safetensors").write_bytes(
            (run / "epoch1" / "adapter_model.safetensors").read_bytes())
        qtbot.waitUntil(lambda: v.table.rowCount() == 2 and v.busy is None, timeout=20000)
        v.auto.setChecked(False)
    assert png_text(run / "dpgui-samples" / "epoch2" / "p0.png")[0].endswith("-e2.safetensors")


def test_queue_panel_restarts_a_missing_runner(qtbot, tmp_path):
    from dpgui_qt.core.run.runqueue import RunQueue, queue_dir_for, runner_alive
    from dpgui_qt.gui.monitor.queue_panel import QueuePanel
    q = RunQueue(queue_dir_for(tmp_path / "state"))
    q.add({"label": "quick", "argv": [sys.executable, "-c", "print('TRAINING COMPLETE!')"],
           "config": "x", "source_config": "x", "cwd": str(tmp_path), "output_dir": None})
    p = QueuePanel(tmp_path / "state", poll_ms=50)       # nobody started a runner for it
    qtbot.addWidget(p)
    msgs = []
    p.message.connect(msgs.append)
    qtbot.waitUntil(lambda: q.items()[0]["status"] == "finished", timeout=30000)
    qtbot.waitUntil(lambda: any("quick finished" in m for m in msgs), timeout=5000)
    qtbot.waitUntil(lambda: not runner_alive(q.dir), timeout=10000)
    p.shutdown()


def test_new_tabs_keep_the_monitor_narrow_enough(qtbot, tmp_path, monkeypatch):
    """The monitor must fit the 1400 px screenshot window beside the GPU panel."""
    monkeypatch.setenv("DPGUI_STATE_DIR", str(tmp_path / "state"))
    from dpgui_qt.gui.monitor.page import MonitorPage
    p = MonitorPage(gpu_interval_ms=60000)
    qtbot.addWidget(p)
    for w in (p.outputs, p.samples, p.queue):
        assert w.minimumSizeHint().width() < 1000, w
    assert p.minimumSizeHint().width() <= 1400
    p.shutdown()
