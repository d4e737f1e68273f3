"""Run blocking work on plain Python threads and get the result back on the GUI thread.

Worker threads never touch a QObject: they put their result in a queue, and a QTimer on
the GUI thread drains it. Emitting a Qt signal from a plain Python thread is legal in
principle, but with PySide6 6.11 several threads emitting at once while the GUI thread
runs Python aborted the interpreter in our tests; a queue has no such failure mode.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer


class ResultPump(QObject):
    """``submit(fn, on_result)``: ``fn()`` runs on a daemon thread, then
    ``on_result(value_or_exception)`` is called on the GUI thread."""

    def __init__(self, parent: QObject | None = None, interval_ms: int = 25):
        super().__init__(parent)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._pending = 0
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.drain)

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, fn: Callable[[], Any], on_result: Callable[[Any], None],
               name: str = "dpgui-worker") -> threading.Thread:
        q = self._queue

        def run() -> None:
            try:
                value = fn()
            except Exception as exc:  # noqa: BLE001 - handed to on_result
                value = exc
            q.put((on_result, value))

        self._pending += 1
        if not self._timer.isActive():
            self._timer.start()
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        return thread

    def drain(self) -> None:
        while True:
            try:
                on_result, value = self._queue.get_nowait()
            except queue.Empty:
                break
            self._pending -= 1
            on_result(value)
        if self._pending <= 0:
            self._pending = 0
            self._timer.stop()
