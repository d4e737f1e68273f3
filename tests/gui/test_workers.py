"""ResultPump: results of worker threads arrive on the GUI thread, never from the worker."""
from __future__ import annotations

import threading

from dpgui_qt.gui.workers import ResultPump


def test_results_and_errors_arrive_on_the_gui_thread(qtbot):
    pump = ResultPump()
    gui = threading.get_ident()
    got = []

    def boom():
        raise ValueError("bad")

    for i in range(20):
        pump.submit(lambda i=i: (i, threading.get_ident()),
                    lambda res: got.append((res, threading.get_ident())))
    pump.submit(boom, lambda res: got.append((res, threading.get_ident())))
    qtbot.waitUntil(lambda: len(got) == 21, timeout=10_000)
    assert all(tid == gui for _res, tid in got)  # callbacks ran on the GUI thread
    values = sorted(r[0] for r, _ in got if isinstance(r, tuple))
    assert values == list(range(20))
    assert all(r[1] != gui for r, _ in got if isinstance(r, tuple))  # work ran elsewhere
    assert any(isinstance(r, ValueError) for r, _ in got)
    qtbot.waitUntil(lambda: pump.pending == 0 and not pump._timer.isActive(), timeout=30_000)
