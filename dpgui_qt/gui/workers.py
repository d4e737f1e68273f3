"""Background work that reports to the GUI thread, in two shapes.

:class:`ResultPump` runs one-shot blocking calls on plain Python threads. Those threads
never touch a QObject: they put their result in a queue, and a QTimer on the GUI thread
drains it. Emitting a Qt signal from a plain Python thread is legal in principle, but
with PySide6 6.11 several threads emitting at once while the GUI thread runs Python
aborted the interpreter in our tests; a queue has no such failure mode.

:class:`WorkerThread` runs a QObject worker in its own QThread (a dataset scan, the
Monitor's log follower, the GPU sampler) and owns the thread's whole lifecycle:

* the QThread has no Qt parent, so the page that started it can be deleted at any
  moment (a window closed mid-scan) without Qt's "QThread destroyed while running"
  abort; a module registry keeps the thread until it has finished, and the process's
  exit (``aboutToQuit`` and ``atexit``) stops and waits for every one still running;
* the worker's signals are connected to slots of the owner (a QObject) only through
  :meth:`WorkerThread.start`, so they are queued to the GUI thread, and Qt drops them
  once the owner is deleted: no late result reaches a deleted widget; when the owner
  goes, the worker is told to stop (its ``cancel`` hook, then its thread's event loop
  is quit).
"""
from __future__ import annotations

import atexit
import queue
import threading
from typing import Any, Callable, Iterable

from PySide6.QtCore import QCoreApplication, QObject, QThread, QTimer


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


Link = tuple[Any, Any]   # (worker signal, owner slot or owner signal)


def _valid(obj) -> bool:
    """Does the C++ side of a Qt wrapper still exist?"""
    try:
        import shiboken6
    except ImportError:  # pragma: no cover - PySide6 always ships it
        return True
    return shiboken6.isValid(obj)


class _Job:
    """One started worker: plain Python, so nothing here dies with the owner."""

    def __init__(self, thread: QThread, worker: QObject, links: list[Link],
                 cancel: Callable[[], None] | None):
        self.thread = thread
        self.worker = worker
        self.links = links
        self.cancel = cancel

    def unlink(self) -> None:
        links, self.links = self.links, []
        for signal, slot in links:
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass                    # already gone with one of its ends

    def request_stop(self) -> None:
        """Ask the worker to end (any thread may still be inside it): its cancel hook,
        then the end of its thread's event loop."""
        if self.cancel is not None:
            try:
                self.cancel()
            except RuntimeError:
                pass
        if _valid(self.thread):
            self.thread.quit()

    def wait(self, ms: int) -> bool:
        return not _valid(self.thread) or self.thread.wait(ms)

    @property
    def finished(self) -> bool:
        return not _valid(self.thread) or self.thread.isFinished()


_LIVE: list[_Job] = []          # started jobs whose thread may still run
_HOOKED = False
EXIT_WAIT_MS = 5000


def _reap() -> None:
    """Drop finished jobs (on the GUI thread, never from a worker thread): the last
    Python reference to a finished QThread may go now."""
    _LIVE[:] = [j for j in _LIVE if not j.finished]


def live_count() -> int:
    """Worker threads started and not yet finished (for tests and diagnostics)."""
    _reap()
    return len(_LIVE)


def shutdown_all(timeout_ms: int = EXIT_WAIT_MS) -> None:
    """Stop every worker thread and wait for each (the application is quitting)."""
    jobs = list(_LIVE)
    for job in jobs:
        job.unlink()
        job.request_stop()
    for job in jobs:
        job.wait(timeout_ms)
    _reap()


def _hook_exit() -> None:
    global _HOOKED
    if _HOOKED:
        return
    _HOOKED = True
    atexit.register(shutdown_all)    # a script that never ran app.exec() (--screenshot)
    app = QCoreApplication.instance()
    if app is not None:
        app.aboutToQuit.connect(shutdown_all)


class WorkerThread:
    """Runs one QObject worker at a time in a QThread on behalf of ``owner``.

    ``start(worker, entry, links=[(worker.sig, owner.slot), ...], cancel=worker.cancel,
    on_stop=worker.stop)``: ``entry`` (a slot of the worker) runs in the new thread once
    it starts; ``on_stop`` runs in that thread when its event loop ends (stop timers
    there). A worker that does one blocking job calls ``self.thread().quit()`` at its
    end. ``stop()`` cuts the links, asks the worker to end and waits for its thread.
    If ``owner`` is deleted first, the same happens without the wait; the thread
    finishes on its own and is collected afterwards.

    The link slots must be methods of ``owner`` (or of another QObject that lives on the
    GUI thread): Qt then queues each signal to the GUI thread and never delivers one to a
    receiver that has been deleted.
    """

    def __init__(self, owner: QObject, name: str):
        self.name = name
        self._job: _Job | None = None
        # the closure holds no reference to the owner or to self: it runs while the
        # owner is being destroyed
        holder: list[_Job | None] = [None]
        self._holder = holder
        owner.destroyed.connect(lambda *_a, h=holder: WorkerThread._abandon(h))

    @staticmethod
    def _abandon(holder: list) -> None:
        job, holder[0] = holder[0], None
        if job is not None:
            # the owner is mid-destruction: Qt already drops every queued call to it and
            # cuts its connections (disconnecting from Python here raises SystemError)
            job.links = []
            job.request_stop()

    @property
    def worker(self) -> Any:
        """The running worker object (its own class), or None."""
        return self._job.worker if self._job is not None else None

    @property
    def thread(self) -> QThread | None:
        return self._job.thread if self._job is not None else None

    @property
    def running(self) -> bool:
        return self._job is not None and not self._job.finished

    def start(self, worker: QObject, entry: Callable[[], Any], *, links: Iterable[Link] = (),
              cancel: Callable[[], None] | None = None,
              on_stop: Callable[[], Any] | None = None) -> None:
        if self._job is not None and not self._job.finished:
            raise RuntimeError(f"{self.name} is already running; stop it first")
        _reap()
        _hook_exit()
        thread = QThread()                      # no parent: see the module docstring
        thread.setObjectName(self.name)
        worker.moveToThread(thread)
        thread.started.connect(entry)
        if on_stop is not None:
            thread.finished.connect(on_stop)    # emitted in the worker's thread
        thread.finished.connect(worker.deleteLater)
        links = list(links)
        for signal, slot in links:
            signal.connect(slot)
        job = _Job(thread, worker, links, cancel)
        self._job = self._holder[0] = job
        _LIVE.append(job)
        thread.start()

    def cancel(self) -> None:
        """Ask the worker to end early (its ``cancel`` hook); the links stay, so a
        cancelled scan still reports its partial result."""
        job = self._job
        if job is not None and job.cancel is not None:
            job.cancel()

    def wait(self, ms: int = EXIT_WAIT_MS) -> bool:
        return self._job.wait(ms) if self._job is not None else True

    def stop(self, wait_ms: int = EXIT_WAIT_MS) -> bool:
        """Cut the links, ask the worker to end and wait up to ``wait_ms`` for its
        thread; True when it has finished. Safe to call repeatedly."""
        job, self._job = self._job, None
        self._holder[0] = None
        if job is None:
            return True
        job.unlink()
        job.request_stop()
        done = job.wait(wait_ms) if wait_ms else job.finished
        _reap()
        return done
