"""Run a dataset scan off the GUI thread.

:class:`ScanController` owns a QThread with a :class:`ScanWorker` in it. Signals
cross back to the GUI thread queued; ``progress`` is emitted at most every
``min_interval_s`` so a fast scan cannot flood the event loop. ``cancel()`` sets
a flag the core scan polls every few hundred files; the scan then finishes early
and ``finished`` carries the partial result with ``cancelled=True``.
"""
from __future__ import annotations

from typing import Any

import threading
import time

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from dpgui_qt.core.dataset.scan import scan_dataset


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


_QUIT_HOOKED = False
_LIVE: set[Any] = set()  # running threads, kept alive past their controller (see start())


def shutdown_all(timeout_ms: int = 5000) -> None:
    """Cancel every running scan and wait for its thread (at application exit)."""
    for _thread, worker in list(_LIVE):
        worker.cancel()
    for thread, _worker in list(_LIVE):
        thread.wait(timeout_ms)


class ScanController(QObject):
    """Start one scan; re-emits the worker's signals on the GUI thread."""

    progress = Signal(int, int)
    finished = Signal(object)
    failed = Signal(str)

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._thread: QThread | None = None
        self._worker: ScanWorker | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def start(self, dataset_values: dict[str, Any], **kwargs) -> None:
        """kwargs go to :func:`scan_dataset` (model_type, read_headers, sizes, base_dir)."""
        if self.running:
            raise RuntimeError("a scan is already running; cancel it first")
        # The thread has no Qt parent: deleting a running QThread aborts the process, and a
        # page (with its controller) may be deleted mid-scan. The thread is kept in _LIVE
        # until it has finished; the controller's destruction cancels the scan.
        thread = QThread()
        worker = ScanWorker(dataset_values, kwargs)
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.progress.connect(self.progress)
        worker.finished.connect(self._done)
        worker.failed.connect(self._failed)
        thread.finished.connect(worker.deleteLater)
        for done in [e for e in _LIVE if e[0].isFinished()]:
            _LIVE.discard(done)  # dropped here, in the GUI thread, never from the thread itself
        _LIVE.add((thread, worker))
        flag = worker._cancel
        self.destroyed.connect(lambda *_a, f=flag: f.set())
        global _QUIT_HOOKED
        app = QCoreApplication.instance()
        if app is not None and not _QUIT_HOOKED:
            _QUIT_HOOKED = True
            app.aboutToQuit.connect(shutdown_all)
        self._thread, self._worker = thread, worker
        thread.start()

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def wait(self, ms: int = 5000) -> bool:
        return self._thread.wait(ms) if self._thread is not None else True

    @Slot(object)
    def _done(self, result) -> None:
        self.finished.emit(result)

    @Slot(str)
    def _failed(self, message: str) -> None:
        self.failed.emit(message)
