"""Monitor view offscreen: replayed log -> series, markers, ETA, crosshair, redraw throttle,
feeding from the Run page, following a run folder (log + TensorBoard) in the background."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor_synth import make_run, write_log

from dpgui_qt.core.monitor.gpu import FakeSampler
from dpgui_qt.core.run.parse import EpochEvent, StepEvent, parse_text


@pytest.fixture
def view(qtbot):
    from dpgui_qt.gui.monitor.view import MonitorView

    v = MonitorView()
    qtbot.addWidget(v)
    v.resize(1000, 700)
    v.show()
    yield v
    v.model.stop()


@pytest.fixture
def page(qtbot):
    from dpgui_qt.gui.monitor.page import MonitorPage

    p = MonitorPage(sampler=FakeSampler(count=1), gpu_interval_ms=50)
    qtbot.addWidget(p)
    p.resize(1300, 800)
    p.show()
    yield p
    p.shutdown()


def test_replay_matches_parsed_steps_and_markers(view, qtbot, tmp_path):
    log = tmp_path / "run.log"
    rec = write_log(log, steps=600, steps_per_epoch=100, epochs=10, eval_every=0,
                    nan_steps=(333,))
    view.model.replay(log, speed=1e6, instant=True)
    qtbot.waitUntil(lambda: not view.model.replaying, timeout=30_000)
    m = view.model.metrics
    assert m.loss.x.tolist() == list(range(1, 601))
    expected = np.array(rec["losses"])
    np.testing.assert_array_equal(np.isnan(m.loss.y), np.isnan(expected))
    np.testing.assert_allclose(m.loss.y[~np.isnan(expected)], expected[~np.isnan(expected)])
    np.testing.assert_allclose(m.lr.y, rec["lrs"])
    np.testing.assert_allclose(m.iter_time.y, rec["iter_times"])
    assert m.loss.nonfinite == [[333.0, 333.0, "nan", 1]]
    epochs = [mk.x for mk in m.markers if mk.kind == "epoch"]
    saves = [(mk.x, mk.label) for mk in m.markers if mk.kind == "save"]
    assert epochs == [100.5, 200.5, 300.5, 400.5, 500.5, 600.5]
    assert saves == [(200.0, "epoch2"), (400.0, "epoch4"), (600.0, "epoch6")]
    view.refresh()
    # drawn: the marker lines are in the loss plot at those steps
    from pyqtgraph import InfiniteLine

    xs = sorted(i.value() for i in view.loss_plot.items if isinstance(i, InfiniteLine)
                and i.pen.style() != 1 and i not in view.cross)
    for x in epochs + [s[0] for s in saves]:
        assert x in xs
    # the drawn curve holds exactly the parsed values (no decimation at this size)
    dx, dy = view.raw_curve.item.getData()
    assert len(dx) == 600 and dx[0] == 1 and dx[-1] == 600
    assert "1 non-finite" in view.loss_label.text()


def test_eta_header_known_case(view):
    view.set_plan(epochs=10)
    evs = [StepEvent(i, 0.1, {}, 2.0, 0.5) for i in range(1, 101)] + [EpochEvent(2)]
    evs += [StepEvent(i, 0.1, {}, 2.0, 0.5) for i in range(101, 151)]
    view.feed_events(evs)
    view.refresh()
    assert view.progress.value() == 150           # 15.0 % of 1000
    assert "step 150 / 1000" in view.progress.format()
    assert view.eta_label.text().startswith("ETA 28m 20s")   # 850 steps x 2 s
    assert "2.00 s/step" in view.eta_label.text()
    assert "Epoch <b>2 / 10</b>" in view.epoch_label.text()
    assert view.elapsed_label.text() == "Elapsed 5m 00s"


def test_progress_without_plan_and_waiting_text(view):
    view.refresh()
    assert "Nothing to show yet" in view.empty_text.textItem.toPlainText()
    view.feed_events(parse_text("caching latents: /data/x\n"))
    view.refresh()
    assert "Caching latents" in view.empty_text.textItem.toPlainText()
    view.feed_events([StepEvent(1, 0.5, {}, 1.0, 1.0)])
    view.refresh()
    assert not view.empty_text.isVisible()
    assert view.eta_label.text() == "ETA —"


def test_redraw_is_throttled_and_only_when_dirty(view, qtbot):
    """Feeds only mark the view dirty; the redraw timer (at most 10 Hz) redraws once per
    tick and only when something changed. The ticks are driven by hand, so the verdict
    does not depend on how busy the machine is."""
    from dpgui_qt.gui.monitor.view import REDRAW_MS

    assert view._timer.isActive() and view._timer.interval() == REDRAW_MS >= 100
    view._timer.stop()                             # the test plays the timer
    view._tick()
    base = view.redraws
    view._tick()
    assert view.redraws == base                    # nothing changed: no redraw
    for i in range(1, 200):                        # 199 feeds in a burst
        view.feed_events([StepEvent(i, 1.0 / i, {}, 1.0, 1.0)])
    assert view.redraws == base                    # feeding never redraws by itself
    view._tick()
    assert view.redraws == base + 1                # a tick redraws at most once
    for _ in range(5):                             # (a redraw that moves the axes may
        view._tick()                               #  ask for one more, then it settles)
    settled = view.redraws
    view._tick()
    view._tick()
    assert view.redraws == settled                 # nothing changed: no redraw
    assert settled - base <= 3                     # a handful for 199 feeds, not one each
    assert len(view.raw_curve.item.getData()[0]) == 199


def test_smoothing_controls_and_log_scale(view):
    view.feed_events([StepEvent(i, v, {}, 1.0, 1.0) for i, v in enumerate([1.0, 3.0, 1.0, 3.0], 1)])
    view.smooth_spin.setValue(0.0)
    assert view.smooth_slider.value() == 0
    assert view.model.metrics.loss.smoothed().tolist() == [1.0, 3.0, 1.0, 3.0]
    view.smooth_slider.setValue(500)
    assert view.smooth_spin.value() == pytest.approx(0.5)
    assert view.model.metrics.loss.smoothed()[1] == pytest.approx((0.5 * 0.5 * 1 + 0.5 * 3) / 0.75)
    view.log_check.setChecked(True)
    view.refresh()
    assert view.loss_plot.ctrl.logYCheck.isChecked()


def test_crosshair_readout(view):
    view.feed_events(parse_text(
        "[2025-01-01 00:00:00,000] [INFO] [logging.py:1:log_dist] [Rank 0] step=1, skipped=0, "
        "lr=[2e-05], mom=[0.0]\n"
        "steps: 1 loss: 0.2500 iter time (s): 2.000 samples/sec: 2.000\n"
        "steps: 2 loss: 0.1250 iter time (s): 2.500 samples/sec: 1.600\n"))
    view.refresh()
    text = view.show_crosshair(1.9)
    assert "step 2" in text and "loss 0.125" in text and "s/step 2.500" in text
    assert view.cross[0].isVisible() and all(line.value() == 2.0 for line in view.cross)
    assert "lr 2e-5" in view.show_crosshair(1.0)   # written as configs write it


def test_follow_button_and_manual_zoom(view):
    view.feed_events([StepEvent(i, 1.0, {}, 1.0, 1.0) for i in range(1, 1001)])
    view.refresh()
    lo, hi = view.loss_plot.vb.viewRange()[0]
    assert lo < 5 and hi > 995
    view.loss_plot.vb.sigRangeChangedManually.emit([True, True])
    assert not view.follow_button.isChecked()
    view.loss_plot.vb.setXRange(100, 200, padding=0)
    view.feed_events([StepEvent(i, 1.0, {}, 1.0, 1.0) for i in range(1001, 1101)])
    view.refresh()
    assert view.loss_plot.vb.viewRange()[0] == pytest.approx([100, 200])
    view.follow_button.setChecked(True)
    view.refresh()
    assert view.loss_plot.vb.viewRange()[0][1] > 1095


def test_million_points_are_decimated_for_drawing(view):
    n = 1_000_000
    m = view.model.metrics
    y = np.abs(np.random.default_rng(1).normal(0.1, 0.02, n))
    y[500_000] = 5.0
    m.loss.extend(np.arange(1, n + 1), y)
    view.model.changed.emit()
    view.refresh()
    dx, dy = view.raw_curve.item.getData()
    assert len(dx) < 20_000
    assert np.nanmax(dy) == 5.0                    # the spike survives decimation
    assert view.grab().width() > 0


def test_feed_api_and_monitor_feed_without_page(qtbot, tmp_path):
    """The Run page feeds events through window.monitor_feed before the page exists."""
    import subprocess

    code = (
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from dpgui_qt.gui.mainwindow import MainWindow\n"
        "from dpgui_qt.core.run.parse import StepEvent\n"
        "w = MainWindow()\n"
        "w.monitor_feed.start_run()\n"
        "w.monitor_feed.feed_events([StepEvent(i, 0.5, {}, 1.0, 1.0) for i in range(1, 11)])\n"
        "print('PG', 'pyqtgraph' in sys.modules)\n"
        "w.show_page('monitor'); app.processEvents()\n"
        "page = w.page('monitor')\n"
        "print('PG', 'pyqtgraph' in sys.modules, type(page).__name__, len(page.view.model.metrics.loss))\n"
        "page.shutdown()\n"
        "w.session.doc.saved_text = w.session.doc.text\n"
    )
    import os

    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]),
               DPGUI_CONFIG_DIR=str(tmp_path / "cfg"), DPGUI_FAKE_GPU="1")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert "PG False" in out.stdout, out.stdout + out.stderr
    assert "PG True MonitorPage 10" in out.stdout, out.stdout + out.stderr


def test_follow_run_folder_reads_log_and_tensorboard(page, qtbot, tmp_path):
    run = make_run(tmp_path / "out", steps=400, steps_per_epoch=100, epochs=8, eval_every=100)
    assert page.show_run(str(run))
    m = page.model
    qtbot.waitUntil(lambda: len(m.metrics.loss) == 400 and "eval/loss" in m.metrics.tb,
                    timeout=30_000)
    assert m.metrics.tb["eval/loss"].x.tolist() == [100.0, 200.0, 300.0, 400.0]
    assert len(m.metrics.tb["train/grad_norm"]) == 400
    assert m.metrics.epochs == 8                       # from the run folder's config copy
    qtbot.waitUntil(lambda: "train/epoch_loss" in m.metrics.tb, timeout=30_000)
    page.view.refresh()
    assert page.view.grad_plot.isVisible()
    assert "eval/loss" in page.view._eval_curves
    # the run keeps going: more log lines and events appear and are picked up
    from dpgui_qt.core.monitor.tbevents import encode_scalar_event

    log = m.log_path
    with open(log, "a") as f:
        f.write("steps: 401 loss: 0.0500 iter time (s): 2.000 samples/sec: 2.000\n")
    ev = next(run.glob("events.out.tfevents.*"))
    with open(ev, "ab") as f:
        f.write(encode_scalar_event("eval/loss", 0.07, 500))
    qtbot.waitUntil(lambda: len(m.metrics.loss) == 401 and len(m.metrics.tb["eval/loss"]) == 5,
                    timeout=30_000)


def test_follow_events_only_run(page, qtbot, tmp_path):
    run = make_run(tmp_path / "out", steps=300, with_log=False, eval_every=100)
    assert page.show_run(str(run))
    qtbot.waitUntil(lambda: len(page.model.metrics.main_loss()) == 300, timeout=30_000)
    assert page.model.metrics.main_loss() is page.model.metrics.tb["train/loss"]
    page.view.refresh()
    assert len(page.view.smooth_curve.item.getData()[0]) == 300


def test_attach_run_fed_reads_only_events(page, qtbot, tmp_path):
    run = make_run(tmp_path / "out", steps=200, eval_every=100)
    page.model.attach_run(run, fed=True)
    qtbot.waitUntil(lambda: "eval/loss" in page.model.metrics.tb, timeout=30_000)
    qtbot.wait(600)
    assert len(page.model.metrics.loss) == 0           # the log is the Run page's job
    page.model.feed_events([StepEvent(1, 0.3, {}, 2.0, 0.5)])
    assert len(page.model.metrics.loss) == 1
