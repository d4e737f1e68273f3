"""Keep Python's cyclic garbage collector on the GUI thread.

The cyclic collector runs in whichever thread happens to allocate when a generation
fills up. If that is a worker thread (a dataset scan, reading run history, a log
follower), it finalises dead Python wrappers of Qt objects there, and Qt objects that
own OS resources (a QFileSystemWatcher's inotify socket notifier, timers) are then torn
down from the wrong thread: Qt warns "Socket notifiers cannot be enabled or disabled from
another thread" in a loop and the heap gets corrupted. We saw exactly that in the test
suite. So automatic collection is switched off and a GUI-thread timer collects instead,
with the same generation thresholds. Reference counting still frees everything that is
not in a cycle immediately.
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

_installed: "GcGuard | None" = None


class GcGuard(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = 250):
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self.collections = 0
        gc.disable()
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.check)
        self.timer.start()

    def check(self) -> None:
        g0, g1, g2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if g0 <= t0:
            return
        generation = 0
        if g1 > t1:
            generation = 1
            if g2 > t2:
                generation = 2
        gc.collect(generation)
        self.collections += 1

    def stop(self) -> None:
        self.timer.stop()
        gc.enable()


def install(app: QObject) -> GcGuard:
    """Install once per process (idempotent); the guard lives as long as ``app``."""
    global _installed
    if _installed is None:
        _installed = GcGuard(app)
    return _installed
