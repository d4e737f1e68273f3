"""Run a dataset scan off the GUI thread.

:class:`ScanController` runs a :class:`ScanWorker` in a
:class:`~dpgui_qt.gui.workers.WorkerThread`. Signals
cross back to the GUI thread queued; ``progress`` is emitted at most every
``min_interval_s`` so a fast scan cannot flood the event loop. ``cancel()`` sets
a flag the core scan polls every few hundred files; the scan then finishes early
and ``finished`` carries the partial result with ``cancelled=True``.
"""
from __future__ import annotations

from typing import Any

import threading
import time

from PySide6.QtCore import QObject, Signal, Slot

from dpgui_qt.core.dataset.scan import scan_dataset
from dpgui_qt.gui.workers import WorkerThread


class ScanWorker(QObject):
    progress = Signal(int, int)  # done, total estimate
    finished = Signal(object)  # DatasetScan
    failed = Signal(str)

    def __init__(self, dataset_values: dict[str, Any], kwargs: dict[str, Any], min_interval_s: float = 0.05):
        super().__init__()
        self._values = dataset_values
        self._kwargs = kwargs
        self._cancel = threading.Event()
        self._min_interval = min_interval_s
        self._last = 0.0

    def cancel(self) -> None:  # any thread
        self._cancel.set()

    def _progress(self, done: int, total: int) -> None:
        now = time.monotonic()
        # rate-limited, except the final report: a bar must not stop short of 100 %
        if done >= total or now - self._last >= self._min_interval:
            self._last = now
            self.progress.emit(done, total)

    @Slot()
    def run(self) -> None:
        try:
            result = scan_dataset(self._values, progress=self._progress,
                                  cancel=self._cancel.is_set, **self._kwargs)
        except Exception as exc:  # noqa: BLE001 - reported: never kill the thread silently
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        finally:
            # quit from inside: a queued quit would wait for the GUI loop, and a GUI
            # thread blocked in wait() would never deliver it
            self.thread().quit()


class ScanController(QObject):
    """Start one scan; re-emits the worker's signals on the GUI thread. The thread's
    lifecycle (a controller deleted mid-scan, the application quitting) is
    :class:`~dpgui_qt.gui.workers.WorkerThread`'s."""

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._work = WorkerThread(self, "dataset-scan")

    @property
    def running(self) -> bool:
        return self._work.running

    def start(self, dataset_values: dict[str, Any], **kwargs) -> None:
        """kwargs go to :func:`scan_dataset` (model_type, read_headers, sizes, base_dir)."""
        if self.running:
            raise RuntimeError("a scan is already running; cancel it first")
        worker = ScanWorker(dataset_values, kwargs)
        self._work.start(worker, worker.run, cancel=worker.cancel,
                         links=[(worker.progress, self._progress),
                                (worker.finished, self._done),
                                (worker.failed, self._failed)])

    def cancel(self) -> None:
        self._work.cancel()

    def wait(self, ms: int = 5000) -> bool:
        return self._work.wait(ms)

    @Slot(int, int)
    def _progress(self, done: int, total: int) -> None:
        self.progress.emit(done, total)

    @Slot(object)
    def _done(self, result) -> None:
        self.finished.emit(result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.failed.emit(message)
