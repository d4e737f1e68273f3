"""The GUI side of one training run: start it through the supervisor, follow its
log, keep its phase, and stop it -- without ever blocking the event loop.

Data path (the log file is the only source; the GUI never owns the trainer's pipe)::

    QTimer tick -> LogFollower.read(chunk) -> RunFollower.feed (core: lines, events,
                   phase, what the outcome needs)
                -> ConsoleView.append_batch (coalesced repaint) + eventsParsed,
                   statusChanged, progress (once per tick)

Each tick works for at most ``budget_ms`` and then returns to the event loop;
while there is a backlog (a flood, or a re-attach reading a long log) the next
tick is scheduled at once, otherwise the log is polled every ``poll_ms``.  The
chunk size adapts so one chunk costs about a third of the budget.

Blocking calls (``start_run``, which waits for the supervisor; ``control.stop``
and ``control.kill``, which wait for the process group to go) run in worker
threads and report back through queued signals.
"""
from __future__ import annotations

import gc
import threading
import time
from pathlib import Path

from dpgui_qt.gui.workers import ResultPump
from PySide6.QtCore import QObject, QTimer, Signal

from dpgui_qt.core.run import control, phase
from dpgui_qt.core.run.follow import Chunk, RunFollower
from dpgui_qt.core.run.outcome import Outcome
from dpgui_qt.core.run.parse import StepEvent
from dpgui_qt.core.run.phase import RunStatus
from dpgui_qt.core.run.runs import LogFollower, RunHandle, attach
from dpgui_qt.core.run.supervisor import locate_run_dir

READ_BLOCK = 1 << 20       # bytes read from the log at once


_gc_frozen = False


def _freeze_gc_once() -> None:
    """Move everything allocated so far (Qt wrappers, modules, the window) out of the
    cyclic GC's reach.  A flood creates hundreds of thousands of short-lived event
    objects; each full collection would otherwise rescan the whole GUI, which showed
    up as 20-30 ms event-loop stalls.  New objects are still collected normally."""
    global _gc_frozen
    if not _gc_frozen and hasattr(gc, "freeze"):
        gc.freeze()          # no gc.collect() first: that alone would stall ~30 ms
        _gc_frozen = True


class _Call(QObject):
    """Run ``fn`` on a daemon thread; ``done(result)`` / ``failed(message)`` are emitted on
    the GUI thread. The thread only fills a slot; a GUI-thread timer picks the result up
    (see dpgui_qt.gui.workers: no signal is ever emitted from a plain Python thread)."""
    done = Signal(object)
    failed = Signal(str)

    def __init__(self, fn, *args, parent=None, **kwargs):
        super().__init__(parent)
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._pump = ResultPump(self)
        # the worker thread once started (join it to wait); not "thread": QObject.thread()
        self.worker: threading.Thread | None = None

    def start(self) -> "_Call":
        self.worker = self._pump.submit(lambda: self._fn(*self._args, **self._kwargs),
                                        self._deliver, name="dpgui-run-call")
        return self

    def _deliver(self, res) -> None:
        if isinstance(res, Exception):
            self.failed.emit(str(res) or type(res).__name__)
        else:
            self.done.emit(res)


class RunController(QObject):
    """Follows one run (started here or re-attached) and controls it."""

    attached = Signal(object)            # state.json (dict) of the run now followed
    stateChanged = Signal(object)        # state.json re-read (every ~0.5 s)
    statusChanged = Signal(object)       # RunStatus
    progress = Signal(object)            # dict: step, loss, lr, iter_time, epoch, bar
    # every parsed event, one list per chunk (Signal(object): a list signal would
    # convert every element to a QVariant on each emit)
    eventsParsed = Signal(object)
    finished = Signal(object)            # Outcome, once the run has ended and the log is read
    startFailed = Signal(str)
    actionStarted = Signal(str, str)     # action, message
    actionDone = Signal(str, str, bool)  # action, message, ok
    loading = Signal(float)              # fraction of the log read while catching up (re-attach)

    def __init__(self, console=None, parent=None, *, budget_ms: float = 8.0,
                 poll_ms: int = 100, state_poll_s: float = 0.5):
        super().__init__(parent)
        self.console = console
        self.budget_s = budget_ms / 1000.0
        self.poll_ms = poll_ms
        self.state_poll_s = state_poll_s
        self.handle: RunHandle | None = None
        self.state: dict = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self._calls: set[_Call] = set()
        self._reset()

    # ------------------------------------------------------------ state
    def _reset(self, run: RunFollower | None = None) -> None:
        self.follower: LogFollower | None = None
        self.run = run or RunFollower()      # lines -> events -> phase -> outcome (core)
        self.ended = False
        self.effective = ""
        self._chunk = 64 << 10
        self._last_state = 0.0
        self._draining = False
        self._pending_action: str | None = None
        self._log_size_at_attach = 0
        self._catching_up = False
        self._backlog = False
        self._buf, self._buf_pos = b"", 0
        self._in_tick = False
        self._tick_events: list = []
        self._tick_changed = False
        self._tick_progress = False

    # what the core's follower knows about the run
    @property
    def status(self) -> RunStatus:
        return self.run.status

    @property
    def outcome(self) -> Outcome | None:
        return self.run.outcome

    @property
    def exit_code(self) -> int | None:
        return self.run.exit_code

    @property
    def last_step(self) -> StepEvent | None:
        return self.run.last_step

    @property
    def lines(self) -> int:
        return self.run.lines

    @property
    def steps_seen(self) -> int:
        return self.run.steps_seen

    @property
    def active(self) -> bool:
        return self.handle is not None and not self.ended

    @property
    def run_dir(self) -> str | None:
        return self.state.get("run_dir") or (locate_run_dir(self.state) if self.state else None)

    def allowed(self) -> frozenset[str]:
        if not self.active:
            return frozenset()
        if self._pending_action in ("stop", "kill"):
            return frozenset({"kill"}) if self._pending_action == "stop" else frozenset()
        return phase.allowed_actions(self.status, bool(self.run_dir))

    # ------------------------------------------------------------ start / attach
    def start(self, command, state_root, *, config: str, output_dir: str | None,
              resume_from: str | None, exits_early_ok: bool = False) -> _Call:
        """Start ``command`` (a LaunchCommand) under the supervisor in a worker thread;
        attaches when it has started (``attached``) or emits ``startFailed``."""
        call = _Call(command.host.start_supervisor, list(command.argv), state_root,
                     env=dict(command.env), cwd=command.cwd, config=config,
                     output_dir=output_dir, resume_from=resume_from, parent=self)

        def done(st: dict) -> None:
            self._calls.discard(call)
            self.attach(st["state_dir"], exits_early_ok=exits_early_ok)

        def failed(msg: str) -> None:
            self._calls.discard(call)
            self.startFailed.emit(msg)

        call.done.connect(done)
        call.failed.connect(failed)
        self._calls.add(call)
        return call.start()

    def attach(self, state_dir, exits_early_ok: bool | None = None) -> RunHandle:
        """Follow the run in ``state_dir`` (raises FileNotFoundError); the console is
        rebuilt from the log's first byte."""
        handle = attach(state_dir)
        _freeze_gc_once()
        self._timer.stop()
        state = handle.state()
        self._reset(RunFollower.for_state(state, exits_early_ok))
        self.handle = handle
        self.state = state
        self.follower = LogFollower(self.state["log_path"])
        try:
            self._log_size_at_attach = Path(self.state["log_path"]).stat().st_size
        except OSError:
            self._log_size_at_attach = 0
        self._catching_up = self._log_size_at_attach > (4 << 20)
        if self.console is not None:
            self.console.clear()
        self.effective = handle.effective_status(self.state)
        self.attached.emit(self.state)
        self.statusChanged.emit(self.status)
        self._timer.start(0)
        return handle

    def detach(self) -> None:
        self._timer.stop()
        self.handle = None
        self.ended = True

    # ------------------------------------------------------------ the tick
    def _tick(self) -> None:
        f = self.follower
        if f is None or self.handle is None:
            return
        t0 = time.perf_counter()
        deadline = t0 + self.budget_s
        backlog = False
        self._in_tick = True
        while True:
            c0 = time.perf_counter()
            # read big blocks (one open/seek per MiB, not per chunk) and feed them in
            # time-sized slices; what is left waits in _buf for the next tick
            if self._buf_pos >= len(self._buf):
                self._buf, self._buf_pos = f.read(READ_BLOCK), 0
                if not self._buf:
                    break
            data = self._buf[self._buf_pos:self._buf_pos + self._chunk]
            self._buf_pos += len(data)
            self._consume(data)
            c1 = time.perf_counter()
            # adapt: one chunk should take about a third of the budget
            per = (c1 - c0) / max(1, len(data))
            if per > 0:
                self._chunk = int(min(4 << 20, max(8 << 10, (self.budget_s / 3) / per)))
            if c1 >= deadline:
                backlog = True
                break
        backlog = backlog or self._buf_pos < len(self._buf)
        self._in_tick = False
        self._emit_tick()
        if self._catching_up and self._log_size_at_attach:
            frac = min(1.0, (f.offset - len(self._buf) + self._buf_pos) / self._log_size_at_attach)
            self.loading.emit(frac)
            if frac >= 1.0:
                self._catching_up = False
        now = time.monotonic()
        if not backlog and (now - self._last_state >= self.state_poll_s or self._draining):
            self._last_state = now
            self._poll_state()
            if self.ended:
                return
        if self.console is not None and backlog != self._backlog:
            self.console.set_busy(backlog)
        self._backlog = backlog
        if self._draining and not backlog:
            self._finish()
            return
        self._timer.start(0 if backlog else self.poll_ms)

    def _consume(self, data: bytes) -> None:
        self._show(self.run.feed(data))

    def _show(self, chunk: Chunk) -> None:
        if self.console is not None:
            self.console.append_batch(chunk.texts, chunk.kinds, chunk.pending)
        self._tick_events.extend(chunk.events)
        self._tick_changed |= chunk.changed
        self._tick_progress |= bool(chunk.steps) or chunk.changed
        if not self._in_tick:
            self._emit_tick()

    def _emit_tick(self) -> None:
        """Signals once per tick, not once per chunk."""
        if self._tick_events:
            ev, self._tick_events = self._tick_events, []
            self.eventsParsed.emit(ev)
        if self._tick_changed:
            self._tick_changed = False
            self.statusChanged.emit(self.status)
        if self._tick_progress:
            self._tick_progress = False
            self.progress.emit(self.progress_info())

    def progress_info(self) -> dict:
        return self.run.progress_info()

    def events_for_outcome(self) -> list:
        return self.run.events_for_outcome()

    # ------------------------------------------------------------ state file
    def _poll_state(self) -> None:
        h = self.handle
        if h is None:
            return
        try:
            st = h.state()
        except FileNotFoundError:
            st = self.state
        self.state = st
        self.effective = h.effective_status(st)
        if self.run.note_state(st):
            self.statusChanged.emit(self.status)
        self.stateChanged.emit(st)
        if self.effective not in ("starting", "running"):
            self._draining = True

    def _finish(self) -> None:
        """The processes are gone and the log is read to its end."""
        if self.ended:
            return
        self._timer.stop()
        self._show(self.run.finish_log())
        if self.console is not None:
            self.console.append_batch([], None, "")
        st = self.handle.state() if self.handle else self.state
        self.state = st
        self.run.conclude(st, self.effective)
        self.ended = True
        self.statusChanged.emit(self.status)
        self.progress.emit(self.progress_info())
        self.stateChanged.emit(st)
        self.finished.emit(self.outcome)

    # ------------------------------------------------------------ control
    def save_now(self) -> str:
        p = control.save_now(self.state)
        return str(p)

    def save_and_stop(self) -> str:
        p = control.save_and_stop(self.state)
        self.run.request_stop("save_quit")
        self.statusChanged.emit(self.status)
        return str(p)

    def stop(self, grace_s: float = control.DEFAULT_GRACE_S) -> _Call:
        """SIGTERM the group, SIGKILL after ``grace_s`` (worker thread)."""
        return self._control("stop", control.stop, self.state, grace_s)

    def kill(self) -> _Call:
        return self._control("kill", control.kill, self.state)

    def _control(self, action: str, fn, *args) -> _Call:
        self._pending_action = action
        self.run.request_stop(action)
        self.statusChanged.emit(self.status)
        call = _Call(fn, *args, parent=self)
        self.actionStarted.emit(action, "")

        def done(res) -> None:
            self._calls.discard(call)
            self._pending_action = None
            n_sig, n_kill = len(res.signalled), len(res.killed)
            if res.remaining:
                msg = f"{len(res.remaining)} process(es) are still running: {res.remaining}"
            elif action == "stop":
                msg = (f"Stopped: SIGTERM to {n_sig} process(es)" +
                       (f", {n_kill} needed SIGKILL" if n_kill else "") + "." if n_sig
                       else "Nothing was running any more.")
            else:
                msg = f"Killed {n_kill} process(es)." if n_kill else "Nothing was running any more."
            self.actionDone.emit(action, msg, res.clean)
            self._last_state = 0.0
            self._timer.start(0)

        def failed(msg: str) -> None:
            self._calls.discard(call)
            self._pending_action = None
            self.actionDone.emit(action, msg, False)

        call.done.connect(done)
        call.failed.connect(failed)
        self._calls.add(call)
        return call.start()

    def wait_calls(self, timeout: float = 30.0) -> None:
        """Join worker threads (closing the window while Stop runs)."""
        for c in list(self._calls):
            if c.worker is not None:
                c.worker.join(timeout)
