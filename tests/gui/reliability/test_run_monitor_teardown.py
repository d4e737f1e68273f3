"""A "FollowWorker already deleted" traceback on exit while following a run (issue #12):
stopping the monitor's follower must be safe whatever Qt has already deleted."""
from __future__ import annotations

import shiboken6

from dpgui_qt.gui.monitor.model import MonitorModel

STEP = "steps: 1 loss: 0.1000 iter time (s): 1.000 samples/sec: 1.000\n"


def _following(qtbot, tmp_path):
    run = tmp_path / "20250101_00-00-00"
    run.mkdir()
    (run / "dpgui-x.log").write_text(STEP)
    m = MonitorModel()
    assert m.follow(run)
    qtbot.waitUntil(lambda: m.metrics.events_seen > 0, timeout=5000)
    return m


def test_stop_after_qt_deleted_the_worker(qtbot, tmp_path):
    m = _following(qtbot, tmp_path)
    worker, thread = m._follow.worker, m._follow.thread
    worker.deleteLater()                     # as at teardown: the C++ worker goes first
    qtbot.waitUntil(lambda: not shiboken6.isValid(worker), timeout=5000)
    m.stop()                                 # was: RuntimeError ... already deleted
    assert m._follow.worker is None and m._follow.thread is None
    assert not thread.isRunning() if shiboken6.isValid(thread) else True
    m.stop()                                 # and stopping twice is harmless


def test_stop_after_qt_deleted_the_thread(qtbot, tmp_path):
    m = _following(qtbot, tmp_path)
    thread = m._follow.thread
    thread.quit()
    thread.wait(5000)
    shiboken6.delete(thread)
    m.stop()
    assert m._follow.thread is None
