"""The scan runs in a QThread without stalling the event loop, and cancels."""
from __future__ import annotations

import os
import sys

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QTimer

from dpgui_qt.gui.dataset.scan_worker import ScanController

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
from bench_scan import generate


@pytest.fixture(scope="module")
def big_folder(tmp_path_factory):
    d = tmp_path_factory.mktemp("scan10k")
    generate(str(d), 10_000)  # 5,000 images with captions
    return d


def test_scan_runs_off_the_gui_thread_and_the_loop_keeps_running(qtbot, big_folder, monkeypatch):
    """While the scan is provably in the middle of its work, the GUI thread's event loop
    runs timers and queued calls.

    No clock decides the verdict (how long the loop may stall is bench/bench_scan.py's
    business): the scan is held at its first cancel poll - inside the worker, mid-scan -
    until a zero-timer posted on the GUI thread has run. A scan on the GUI thread could
    never get there (the test would time out), and a worker that did not poll would
    finish without the poll being seen.
    """
    import threading

    from dpgui_qt.gui.dataset import scan_worker

    real_scan = scan_worker.scan_dataset
    in_scan, loop_ran = threading.Event(), threading.Event()
    seen = {}

    def held_scan(values, *, cancel, **kwargs):
        def polled():
            if not in_scan.is_set():
                seen["thread"] = threading.get_ident()
                in_scan.set()
                seen["released"] = loop_ran.wait(60)  # the GUI loop must get here first
            return cancel()
        return real_scan(values, cancel=polled, **kwargs)

    monkeypatch.setattr(scan_worker, "scan_dataset", held_scan)
    ctl = ScanController()
    progress = []
    ctl.progress.connect(lambda a, b: progress.append((a, b)))
    with qtbot.waitSignal(ctl.finished, timeout=120_000) as blocker:
        ctl.start({"directory": [{"path": str(big_folder)}]}, sizes=True)
        qtbot.waitUntil(in_scan.is_set, timeout=60_000)   # the worker is mid-scan ...
        assert ctl.running
        QTimer.singleShot(0, ctl, loop_ran.set)          # ... and the GUI loop still runs
    ctl.wait()
    result = blocker.args[0]
    assert seen["released"], "the GUI event loop did not run while the scan was held"
    assert seen["thread"] != threading.get_ident(), "the scan ran on the GUI thread"
    assert len(result.directories[0].images) == 5000 and not result.cancelled
    assert progress and progress[-1][0] == progress[-1][1]  # progress reached the GUI, to 100%


def test_cancel_from_gui_thread(qtbot, big_folder, monkeypatch):
    """Cancel, called on the GUI thread while the worker is inside the first of three
    folders, stops the scan there: that folder is marked cancelled and the others are not
    started. The worker is held at its first cancel poll until the GUI thread has
    cancelled, so how fast either thread runs cannot decide the verdict (a cancel that
    arrived through a queued signal after the worker had raced through the folders made
    this test fail under load)."""
    import threading

    from dpgui_qt.gui.dataset import scan_worker

    real_scan = scan_worker.scan_dataset
    in_scan, cancelled = threading.Event(), threading.Event()

    def held_scan(values, *, cancel, **kwargs):
        def polled():
            if not in_scan.is_set():
                in_scan.set()
                cancelled.wait(60)
            return cancel()
        return real_scan(values, cancel=polled, **kwargs)

    monkeypatch.setattr(scan_worker, "scan_dataset", held_scan)
    ctl = ScanController()
    with qtbot.waitSignal(ctl.finished, timeout=120_000) as blocker:
        ctl.start({"directory": [{"path": str(big_folder)}] * 3}, sizes=True)
        qtbot.waitUntil(in_scan.is_set, timeout=60_000)
        ctl.cancel()                                  # on the GUI thread, mid-scan
        cancelled.set()
    ctl.wait()
    result = blocker.args[0]
    assert result.cancelled
    assert len(result.directories) == 1 and result.directories[0].cancelled
