"""The cyclic garbage collector runs on the GUI thread only."""
from __future__ import annotations

import gc
import threading


def test_collections_happen_on_the_gui_thread(qtbot, _gc_on_gui_thread):
    guard = _gc_on_gui_thread
    assert not gc.isenabled()  # no automatic collection in whatever thread allocates
    seen_threads = []

    def callback(phase, info):
        if phase == "start":
            seen_threads.append(threading.get_ident())

    class Cycle:
        def __init__(self):
            self.me = self

    def churn():
        for _ in range(50_000):
            Cycle()

    gc.callbacks.append(callback)
    try:
        t = threading.Thread(target=churn)
        t.start()
        t.join()
        before = guard.collections
        qtbot.waitUntil(lambda: guard.collections > before, timeout=30_000)
    finally:
        gc.callbacks.remove(callback)
    assert seen_threads and set(seen_threads) == {threading.get_ident()}
