"""Run history (summaries, overlays, config diff, open folder) and `dpgui monitor`."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor_synth import make_run, write_log

from dpgui_qt.core.monitor.history import config_diff, find_run_log, load_run_metrics, summarize_run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def output_dir(tmp_path):
    out = tmp_path / "out"
    make_run(out, "20250901_10-00-00", steps=300, steps_per_epoch=100, epochs=3, complete=True,
             seed=1)
    b = make_run(out, "20250902_10-00-00", steps=200, steps_per_epoch=100, epochs=6, seed=2,
                 lr=5e-5)
    make_run(out, "20250903_10-00-00", steps=150, with_log=False, seed=3)
    os.utime(next(b.glob("events.out.tfevents.*")), (1e9, 1e9))     # not recent
    return out


def test_summaries(output_dir):
    runs = sorted(output_dir.iterdir())
    a = summarize_run(output_dir / "20250901_10-00-00", now=2e9)
    assert a.status == "finished" and a.last_step == 300
    assert a.folder.model_type == "wan" and [s.name for s in a.folder.saves] == ["epoch2"]
    assert a.log_path is not None and a.log_path.name.startswith("dpgui-")
    b = summarize_run(output_dir / "20250902_10-00-00", now=2e9)
    assert b.status == "unknown" and b.last_step == 200
    c = summarize_run(output_dir / "20250903_10-00-00", now=2e9)
    assert c.log_path is None and c.has_events and c.last_step == 150
    assert c.last_loss == pytest.approx(load_run_metrics(c.path).main_loss().last_y, rel=1e-6)
    assert len(runs) == 4  # three runs + .dpgui-logs


def test_find_log_without_link(output_dir):
    run = output_dir / "20250902_10-00-00"
    for p in run.glob("dpgui-*.log"):
        p.unlink()
    log = find_run_log(run)
    assert log is not None and log.parent.name == ".dpgui-logs"
    assert log.name == "dpgui-20250902_09-59-40.log"


def test_config_diff(output_dir):
    a = output_dir / "20250901_10-00-00" / "config.toml"
    b = output_dir / "20250902_10-00-00" / "config.toml"
    rows = config_diff(a, b)
    assert ("-", "-epochs = 3") in rows and ("+", "+epochs = 6") in rows
    assert ("+", "+lr = 5e-05") in rows
    assert config_diff(a, a) == []


@pytest.fixture
def history(qtbot, output_dir):
    from dpgui_qt.gui.monitor.history import RunHistoryView

    h = RunHistoryView()
    qtbot.addWidget(h)
    h.resize(1100, 700)
    h.show()
    with qtbot.waitSignal(h.loaded, timeout=20000):
        h.set_output_dir(output_dir)
    return h


def test_history_table(history):
    t = history.tree
    assert t.topLevelItemCount() == 3
    names = [t.topLevelItem(i).text(0) for i in range(3)]
    assert names == ["20250903_10-00-00", "20250902_10-00-00", "20250901_10-00-00"]
    first = t.topLevelItem(2)
    assert first.text(2) == "wan" and first.text(3) == "300" and first.text(5) == "finished"
    assert first.text(6).startswith("1: epoch2")
    assert "latest global_step" not in first.text(7)  # 300 steps: no checkpoint folder
    assert "epoch2" in first.toolTip(6) and "KB" in first.toolTip(6) or "B" in first.toolTip(6)


def test_overlay_runs(history, qtbot):
    history.select(["20250901_10-00-00", "20250902_10-00-00", "20250903_10-00-00"])
    history.compare_selected()
    qtbot.waitUntil(lambda: all(v[0] is not None for v in history.overlays.values()), timeout=20000)
    items = [v[0] for v in history.overlays.values()]
    pens = {it.opts["pen"].color().name() for it in items}
    assert len(pens) == 3                                    # different colours
    labels = {history.compare_legend.getLabel(it).text for it in items}
    assert labels == {"20250901_10-00-00", "20250902_10-00-00", "20250903_10-00-00"}
    assert len(items[0].getData()[0]) in (300, 200, 150)
    history.select(["20250901_10-00-00"])
    history.compare_selected()
    assert list(history.overlays) == [str(history.output_dir / "20250901_10-00-00")]


def test_config_diff_dialog_and_open_folder(history, qtbot, monkeypatch):
    history.select(["20250901_10-00-00", "20250902_10-00-00"])
    dlg = history.diff_selected()
    qtbot.addWidget(dlg)
    html = dlg.view.toHtml()
    assert "epochs = 6" in html and "#e8f5e9" in html.lower() or "232, 245, 233" in html
    opened = []
    from PySide6.QtGui import QDesktopServices

    monkeypatch.setattr(QDesktopServices, "openUrl", lambda url: opened.append(url) or True)
    history.select(["20250902_10-00-00"])
    assert history.open_folder()
    assert opened[0].toLocalFile().endswith("20250902_10-00-00")


def test_show_run_opens_curves(qtbot, output_dir):
    from dpgui_qt.core.monitor.gpu import FakeSampler
    from dpgui_qt.gui.monitor.page import MonitorPage

    p = MonitorPage(sampler=FakeSampler(fail="none here"))
    qtbot.addWidget(p)
    p.show()
    try:
        p.tabs.setCurrentWidget(p.history)
        p.history.set_output_dir(output_dir)
        qtbot.waitUntil(lambda: p.history.tree.topLevelItemCount() == 3, timeout=20000)
        p.history.select(["20250901_10-00-00"])
        p.history.show_selected()
        assert p.tabs.currentWidget() is p.view
        qtbot.waitUntil(lambda: len(p.model.metrics.loss) == 300, timeout=30_000)
        assert p.model.metrics.completed
        p.view.refresh()
        assert p.view.eta_label.text() == "Finished"
    finally:
        p.shutdown()


def _cli(args, tmp_path, timeout=180):
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path / "cfg"),
               QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "dpgui_qt", "monitor", *args],
                          capture_output=True, text=True, env=env, timeout=timeout)


def test_cli_replay_screenshot(tmp_path):
    log = tmp_path / "train.log"
    write_log(log, steps=400, steps_per_epoch=100, epochs=5)
    out = tmp_path / "out.png"
    r = _cli([str(log), "--replay", "50", "--screenshot", str(out), "--after-steps", "250",
              "--epochs", "5"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "250 steps" in r.stdout
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1400, 900)


def test_cli_run_folder_screenshot_and_errors(tmp_path):
    run = make_run(tmp_path / "out", steps=120, eval_every=50)
    out = tmp_path / "folder.png"
    r = _cli([str(run), "--screenshot", str(out)], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "120 steps" in r.stdout and out.exists()
    r = _cli([str(tmp_path / "missing"), "--screenshot", str(out)], tmp_path)
    assert r.returncode == 2 and "no such file" in r.stderr
    empty = tmp_path / "empty"
    empty.mkdir()
    r = _cli([str(empty), "--replay", "10", "--screenshot", str(out)], tmp_path)
    assert r.returncode == 2 and "needs a console log" in r.stderr
