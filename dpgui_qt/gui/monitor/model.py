"""MonitorModel: the run the monitor shows, fed by the Run page or following files itself.

Three ways in, one :class:`~dpgui_qt.core.monitor.metrics.RunMetrics`:

* ``feed_events(events)`` -- parsed events from whoever already reads the log
  (the Run page's follower). Call ``attach_run(run_dir, fed=True)`` once the run
  folder is known so the TensorBoard files (eval loss, grad norm) are read too.
* ``follow(path)`` -- a run folder, a log file, or an ``output_dir`` (its newest
  run): a background thread tails the log (LogFollower -> the core's RunFollower)
  and the event files (EventDirReader) every ``poll_s``.
* ``replay(log, speed)`` -- play a log back in time order (demos, bug reports);
  ``instant=True`` reads it as fast as it can, in slices on the event loop.

Long logs: neither way holds the whole log or all its events at once. The
follower's thread reads and parses one slice (1 MB) per turn of its event loop
and hands the events over; an instant replay parses one slice per timer tick
(~40 ms of work) on the GUI thread. Both report ``loadProgress(done, total)``
(bytes) while they catch up with the file, so the view shows how far loading
is, and the window stays responsive throughout. The series themselves are
bounded (:class:`~dpgui_qt.core.monitor.metrics.Series`).

``changed`` is emitted after new data (views redraw at most ~10 times a second).
Qt is used for the signals, the thread and the timers only.
"""
from __future__ import annotations

import math
import os
import threading
import time
from pathlib import Path
from typing import BinaryIO

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from dpgui_qt.core.monitor.history import find_run_log, read_plan, is_run_dir
from dpgui_qt.core.monitor.metrics import RunMetrics
from dpgui_qt.core.run import parse as P
from dpgui_qt.core.run.follow import RunFollower
from dpgui_qt.core.run.runs import LogFollower, list_runs, read_run_folder
from dpgui_qt.core.monitor.tbevents import EventDirReader
from dpgui_qt.gui.workers import WorkerThread

__all__ = ["MonitorModel", "FollowWorker", "ReplaySchedule", "iter_log_events",
           "resolve_source"]


def resolve_source(path: str | os.PathLike) -> tuple[Path | None, Path | None]:
    """(run_dir, log_path) for a run folder, a log file or an output_dir."""
    p = Path(path).expanduser()
    if p.is_file():
        if p.name.startswith("events.out.tfevents."):
            return p.parent, find_run_log(p.parent)
        parent = p.parent
        run_dir = parent if is_run_dir(parent) else None
        return run_dir, p
    if p.is_dir():
        if any(p.glob("events.out.tfevents.*")) or is_run_dir(p):
            return p, find_run_log(p)
        runs = list_runs(p, with_sizes=False)
        if runs:
            return runs[0].path, find_run_log(runs[0].path, p)
    return None, None


def _release_memory() -> None:
    """After a long log is read: collect (on this, the GUI, thread) and hand the freed
    heap back to the OS -- parsing millions of short-lived events leaves several MB of
    free but mapped heap behind (glibc only; elsewhere nothing happens)."""
    import gc

    gc.collect()
    if os.name == "posix":
        try:
            import ctypes

            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass


class FollowWorker(QObject):
    """Lives in a QThread: polls a log and a run folder's event files."""

    events = Signal(object)    # list of parse events
    scalars = Signal(object)   # list of (tag, step, value, wall_time)
    problem = Signal(str)
    progress = Signal(object, object)   # bytes of the log read, its size (while catching up)

    SLICE = 1 << 20            # bytes parsed per turn of the thread's event loop

    def __init__(self, log_path: Path | None, run_dir: Path | None, poll_s: float = 0.5):
        super().__init__()
        self.log_path = log_path
        self.run_dir = run_dir
        self.poll_s = poll_s
        self._timer: QTimer | None = None
        self._follower = LogFollower(log_path, chunk_size=self.SLICE) if log_path else None
        self._run = RunFollower()
        self._tb = EventDirReader(run_dir) if run_dir else None
        self._reported: set[str] = set()
        # back-pressure: at most MAX_UNACKED event lists on their way to the GUI thread
        # (a long log is not parsed into a queue faster than the GUI can take it)
        self._lock = threading.Lock()
        self._unacked = 0
        self._catching_up = False

    MAX_UNACKED = 2

    def ack(self) -> None:
        """The GUI thread has fed one event list (plain Python: no Qt call crosses)."""
        with self._lock:
            self._unacked = max(0, self._unacked - 1)

    @Slot()
    def start(self) -> None:
        self._timer = QTimer(self)
        self._timer.setInterval(int(self.poll_s * 1000))
        self._timer.timeout.connect(self.poll)
        self._timer.start()
        self.poll()

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()

    @Slot()
    def poll(self) -> None:
        if self._follower is not None:
            # one slice per turn: a long log is read while stop() and the GUI's
            # consumption keep pace; the timer runs at 0 ms until it has caught up
            with self._lock:
                waiting = self._unacked >= self.MAX_UNACKED
            if waiting:
                if self._timer is not None:
                    self._timer.setInterval(5)
                return
            data = self._follower.read()
            if data:
                evs = self._run.feed(data).events
                if evs:
                    with self._lock:
                        self._unacked += 1
                    self.events.emit(evs)
                try:
                    size = os.path.getsize(self._follower.path)
                except OSError:
                    size = self._follower.offset
                behind = size > self._follower.offset
                if behind or self._catching_up:
                    # the last report (done == total) ends the view's loading state
                    self.progress.emit(self._follower.offset, max(size, self._follower.offset))
                self._catching_up = behind
                if self._timer is not None:
                    self._timer.setInterval(0 if behind else int(self.poll_s * 1000))
                if behind:
                    return   # the event files are polled once the log has caught up
        if self._tb is not None:
            rows = self._tb.poll()
            if rows:
                self.scalars.emit([tuple(r) for r in rows])
            for p in self._tb.problems:
                if p not in self._reported:
                    self._reported.add(p)
                    self.problem.emit(f"TensorBoard file damaged, reading stopped: {p}")


def iter_log_events(path: str | os.PathLike, slice_bytes: int = 256 << 10):
    """A console log's parsed events, one slice of the file at a time (nothing but the
    current slice is held)."""
    run = RunFollower()
    with open(path, "rb") as f:
        while data := f.read(slice_bytes):
            yield from run.feed(data).events
    yield from run.finish_log().events


class ReplaySchedule:
    """Events in time order with a virtual time for each: a step takes its
    ``iter_time`` (each gap capped at ``max_gap`` virtual seconds); other events
    take no time. ``events`` may be a list or any iterable (a log read lazily,
    :func:`iter_log_events`): events are taken from it only as the replay reaches
    them, so a long log is never held whole."""

    def __init__(self, events, max_gap: float = 30.0):
        self._it = iter(events)
        self.max_gap = max_gap
        self._next = None          # (time, event) taken from the iterable, not yet played
        self._t = 0.0              # virtual time of the last event taken
        self.clock = 0.0           # virtual time of the last event played
        self.played = 0
        self._exhausted = False

    def _peek(self):
        if self._next is None and not self._exhausted:
            try:
                ev = next(self._it)
            except StopIteration:
                self._exhausted = True
                return None
            if type(ev) is P.StepEvent:
                it = ev.iter_time
                if it is not None and math.isfinite(it) and it > 0:
                    self._t += min(self.max_gap, it)
            self._next = (self._t, ev)
        return self._next

    @property
    def done(self) -> bool:
        return self._peek() is None

    def until(self, t: float, max_steps: int | None = None) -> list:
        """Events with virtual time <= t (stops after ``max_steps`` step events)."""
        out = []
        steps = 0
        while (nxt := self._peek()) is not None and nxt[0] <= t:
            ev = nxt[1]
            if type(ev) is P.StepEvent:
                if max_steps is not None and steps >= max_steps:
                    break
                steps += 1
            out.append(ev)
            self.clock = nxt[0]
            self._next = None
        self.played += len(out)
        return out


class MonitorModel(QObject):
    changed = Signal()
    sourceChanged = Signal()
    message = Signal(str)          # status-bar text (problems, what is followed)
    replayFinished = Signal()
    loadProgress = Signal(object, object)   # (bytes read, bytes in all) while a log loads

    SLICE_S = 0.04                 # instant replay: parse for this long per event-loop turn

    def __init__(self, parent=None, smoothing: float = 0.9):
        super().__init__(parent)
        self.metrics = RunMetrics(smoothing=smoothing)
        self.run_dir: Path | None = None
        self.log_path: Path | None = None
        self.config_path: Path | None = None
        self.plan: dict = {}
        self.fed = False
        self.mode = "idle"            # idle | fed | follow | replay
        self.phase = ""               # the last non-step activity (caching, eval ...)
        self._follow = WorkerThread(self, "monitor-follow")
        self._replay: ReplaySchedule | None = None
        self._replay_timer: QTimer | None = None
        self._replay_speed = 1.0
        self._replay_t0 = 0.0
        self._replay_limit: int | None = None
        self.replay_steps = 0
        self._replay_rows: list = []
        self._replay_epoch_rows: list = []
        self._replay_row_pos = 0
        self._stream: tuple[BinaryIO, RunFollower] | None = None   # instant replay
        self.load_done: int | None = None   # bytes of the log read while loading, else None
        self.load_total: int | None = None

    # ----------------------------------------------------------- feeding
    def feed_events(self, events) -> None:
        """Parsed events (any iterable of ``dpgui_qt.core.run.parse`` events)."""
        events = list(events)
        if not events:
            return
        if self.mode == "idle":
            self.mode = "fed"
        self.metrics.feed(events)
        self._note_phase(events)
        self.changed.emit()

    def _worker_events(self, events) -> None:
        try:
            self.feed_events(events)
        finally:
            worker = self._follow.worker
            if worker is not None:
                worker.ack()

    def feed_scalars(self, rows) -> None:
        if self.metrics.feed_scalars(rows):
            self.changed.emit()

    def _note_phase(self, events) -> None:
        for ev in reversed(events):
            t = type(ev)
            if t is P.StepEvent:
                self.phase = "training"
                return
            if t is P.CachingEvent:
                self.phase = f"caching {ev.what}"
                return
            if t is P.CacheEvent:
                self.phase = "caching"
                return
            if t is P.EvalEvent:
                self.phase = "evaluating"
                return
            if t is P.CompleteEvent:
                self.phase = "complete"
                return
            if t in (P.TracebackEvent, P.ErrorEvent) and getattr(ev, "severity", "error") == "error":
                self.phase = "error"
                return

    def set_plan(self, epochs=None, max_steps=None, x_axis_examples=None) -> None:
        self.metrics.set_plan(epochs, max_steps, x_axis_examples)
        self.changed.emit()

    def set_smoothing(self, weight: float) -> None:
        self.metrics.set_smoothing(weight)
        self.changed.emit()

    # ------------------------------------------------------------ sources
    def reset(self) -> None:
        """Forget the current run (the next feed starts a new one)."""
        self.stop()
        w = self.metrics.loss.smoothing
        old = self.metrics
        self.metrics = RunMetrics(smoothing=w)
        self.metrics.set_plan(old.epochs, old.max_steps, old.x_axis_examples)
        self.run_dir = self.log_path = self.config_path = None
        self.phase = ""
        self.mode = "idle"
        self.sourceChanged.emit()
        self.changed.emit()

    def _use_run_dir(self, run_dir: Path | None) -> None:
        self.run_dir = run_dir
        self.config_path = None
        if run_dir is not None:
            folder = read_run_folder(run_dir, with_sizes=False)
            self.config_path = folder.config_copy
            if folder.started is not None:
                self.metrics.started_at = folder.started.timestamp()
        if self.config_path is not None:
            plan = read_plan(self.config_path)
            self.plan = plan
            self.metrics.set_plan(plan.get("epochs"), plan.get("max_steps"),
                                  plan.get("x_axis_examples"))

    def attach_run(self, run_dir: str | os.PathLike | None, log_path=None, fed: bool = True,
                   started_at: float | None = None) -> None:
        """The Run page's run: events come through ``feed_events`` (``fed=True``); this
        only adds the run folder's TensorBoard files (and its config copy's plan)."""
        self._stop_thread()
        self.mode = "fed" if fed else "follow"
        self._use_run_dir(Path(run_dir) if run_dir else None)
        if started_at is not None:
            self.metrics.started_at = started_at
        self.metrics.live = True
        self.log_path = Path(log_path) if log_path else None
        self._start_thread(None if fed else self.log_path, self.run_dir)
        self.sourceChanged.emit()

    def follow(self, path: str | os.PathLike) -> bool:
        """Follow a run folder, a log file or an output_dir (its newest run)."""
        run_dir, log = resolve_source(path)
        if run_dir is None and log is None:
            self.message.emit(f"Nothing to follow in {path}: no run folder, log or event file.")
            return False
        self.reset()
        self._use_run_dir(run_dir)
        self.log_path = log
        self.mode = "follow"
        self.metrics.live = self._recent(log, run_dir)
        try:
            size = log.stat().st_size if log is not None else 0
        except OSError:
            size = 0
        if size > FollowWorker.SLICE:
            self._progress(0, size)    # a long log: the view shows how far reading is
        self._start_thread(log, run_dir)
        self.sourceChanged.emit()
        what = run_dir.name if run_dir else (log.name if log is not None else "")
        self.message.emit(f"Following {what}")
        return True

    @staticmethod
    def _recent(log, run_dir) -> bool:
        newest = 0.0
        for p in ([log] if log else []) + (list(run_dir.glob("events.out.tfevents.*")) if run_dir else []):
            try:
                newest = max(newest, p.stat().st_mtime)
            except OSError:
                pass
        return time.time() - newest < 180.0

    def _start_thread(self, log: Path | None, run_dir: Path | None, poll_s: float = 0.5) -> None:
        if log is None and run_dir is None:
            return
        worker = FollowWorker(log, run_dir, poll_s)
        self._follow.start(worker, worker.start, on_stop=worker.stop,   # its timer, in its thread
                           links=[(worker.events, self._worker_events),
                                  (worker.scalars, self.feed_scalars),
                                  (worker.problem, self.message),
                                  (worker.progress, self._progress)])

    def _stop_thread(self) -> None:
        """Stop following (safe whatever Qt has already deleted at teardown)."""
        self._follow.stop()

    def _progress(self, done, total) -> None:
        loading = done < total
        was = self.loading
        self.load_done, self.load_total = (done, total) if loading else (None, None)
        self.loadProgress.emit(done, total)
        if was and not loading and total > 8 * FollowWorker.SLICE:
            _release_memory()


    @property
    def loading(self) -> bool:
        return self.load_done is not None

    def stop(self) -> None:
        self._stop_thread()
        if self._replay_timer is not None:
            self._replay_timer.stop()
            self._replay_timer = None
        self._replay = None
        self._close_stream()
        if self.loading:
            self._progress(1, 1)

    def _close_stream(self) -> None:
        if self._stream is not None:
            try:
                self._stream[0].close()
            except OSError:
                pass
            self._stream = None

    # ------------------------------------------------------------- replay
    def replay(self, log_path: str | os.PathLike, speed: float = 10.0, max_gap_s: float = 1.0,
               stop_after_steps: int | None = None, instant: bool = False,
               tick_ms: int = 30) -> int:
        """Play a log back: a step waits its ``iter_time / speed`` (at most ``max_gap_s``
        real seconds). ``instant`` skips the waiting (screenshots); replay stops after
        ``stop_after_steps`` steps if given. The log is read lazily, a slice at a time, in
        both modes. Returns the size of the log in bytes (0: nothing to replay)."""
        self.reset()
        log_path = Path(log_path)
        run_dir, _ = resolve_source(log_path)
        self._use_run_dir(run_dir)
        self.log_path = log_path
        if instant:
            # no waiting: stream the log in slices (nothing held but the series)
            f = open(log_path, "rb")
            self._stream = (f, RunFollower())
            total = os.fstat(f.fileno()).st_size
        # the run folder's TensorBoard scalars come in as the replay reaches their step
        self._replay_rows = []
        if run_dir is not None:
            from dpgui_qt.core.monitor.tbevents import read_scalars

            try:
                rows = [tuple(r) for r in read_scalars(run_dir)]
            except OSError:
                rows = []
            self._replay_rows = sorted(rows, key=lambda r: r[1])
        self._replay_row_pos = 0
        self._replay_epoch_rows = [r for r in self._replay_rows if r[0] == "train/epoch_loss"]
        self._replay_rows = [r for r in self._replay_rows if r[0] != "train/epoch_loss"]
        speed = max(1e-3, float(speed))
        self._replay = (None if instant else
                        ReplaySchedule(iter_log_events(log_path), max_gap=max_gap_s * speed))
        self._replay_speed = speed
        self._replay_limit = stop_after_steps
        self.replay_steps = 0
        self._replay_instant = instant
        # a timed replay's clock is its virtual time; an instant one shows the run's
        # own time (the sum of its iteration times)
        self.metrics.clock = None if instant else 0.0
        self.mode = "replay"
        self._replay_t0 = time.monotonic()
        self._replay_timer = QTimer(self)
        self._replay_timer.setInterval(0 if instant else tick_ms)
        self._replay_timer.timeout.connect(self._stream_tick if instant else self._replay_tick)
        self._replay_timer.start()
        self.sourceChanged.emit()
        self.message.emit(f"Replaying {log_path.name} at {speed:g}×")
        if instant:
            self._progress(0, max(1, total))
            return total
        try:
            return log_path.stat().st_size
        except OSError:
            return 0

    def _stream_tick(self) -> None:
        """Instant replay: parse the next slices of the log (about SLICE_S of work),
        feed them, report progress; stop at the end or after ``stop_after_steps``."""
        if self._stream is None:
            return
        f, run = self._stream
        t0 = time.monotonic()
        evs: list = []
        done = False
        while time.monotonic() - t0 < self.SLICE_S:
            data = f.read(256 << 10)
            if not data:
                evs += run.finish_log().events
                done = True
                break
            evs += run.feed(data).events
        if self._replay_limit is not None:
            left = self._replay_limit - self.replay_steps
            n = 0
            for i, ev in enumerate(evs):
                if type(ev) is P.StepEvent:
                    if n >= left:
                        evs = evs[:i]
                        done = True
                        break
                    n += 1
        pos = f.tell()
        total = max(pos, os.fstat(f.fileno()).st_size)
        if evs:
            n = self.metrics.feed(evs)
            self.replay_steps += n
            self._note_phase(evs)
            self._replay_scalars()
            self.changed.emit()
        if done:
            self._close_stream()
            self._replay_scalars(final=True)
            if self._replay_timer is not None:
                self._replay_timer.stop()
            self._progress(total, total)
            self.changed.emit()
            self.replayFinished.emit()
        else:
            self._progress(pos, total)

    def _replay_tick(self) -> None:
        r = self._replay
        if r is None:
            return
        left = None if self._replay_limit is None else self._replay_limit - self.replay_steps
        if self._replay_instant:
            t = math.inf
            left = 500 if left is None else min(left, 500)   # keep the UI alive: chunks
        else:
            t = (time.monotonic() - self._replay_t0) * self._replay_speed
        evs = r.until(t, left)
        if evs:
            n = self.metrics.feed(evs)
            self.replay_steps += n
            self._note_phase(evs)
            self.metrics.clock = r.clock
            self._replay_scalars()
            self.changed.emit()
        limit_hit = self._replay_limit is not None and self.replay_steps >= self._replay_limit
        if r.done or limit_hit:
            if self._replay_timer is not None:
                self._replay_timer.stop()
            self.replayFinished.emit()

    def _replay_scalars(self, final: bool = False) -> None:
        m = self.metrics
        last = m.last_step
        if last is None:
            return
        if final and self._replay_limit is None:
            last = math.inf     # the whole log is in: the rest of the event files too
        div = m.global_batch if (m.x_axis_examples and m.global_batch) else 1
        rows, i = self._replay_rows, self._replay_row_pos
        j = i
        while j < len(rows) and rows[j][1] / div <= last:
            j += 1
        out = rows[i:j]
        self._replay_row_pos = j
        done_epochs = [r for r in self._replay_epoch_rows if r[1] in m.epoch_ends]
        if done_epochs:
            self._replay_epoch_rows = [r for r in self._replay_epoch_rows
                                       if r[1] not in m.epoch_ends]
            out += done_epochs
        if out:
            m.feed_scalars(out)

    @property
    def replaying(self) -> bool:
        """A replay is under way (an instant one: still reading the log)."""
        return self._replay_timer is not None and self._replay_timer.isActive()

    def describe_source(self) -> str:
        if self.mode == "replay" and self.log_path:
            return f"Replay of {self.log_path.name}"
        if self.run_dir is not None:
            return str(self.run_dir)
        if self.log_path is not None:
            return str(self.log_path)
        if self.mode == "fed":
            return "Live run"
        return ""
