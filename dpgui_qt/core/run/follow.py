"""Following one run's console: bytes -> lines -> events -> phase -> outcome.

:class:`RunFollower` is the one pipeline behind ``dpgui launch``, the Run page
and the Monitor.  It does no I/O: the caller reads the log (a file, a pipe, a
host) however it likes and hands the bytes over; the follower splits them into
lines (:class:`~dpgui_qt.core.run.lines.LineAssembler`), parses the lines into
events (:class:`~dpgui_qt.core.run.parse.LogParser`), advances the run's phase
(:mod:`~dpgui_qt.core.run.phase`), keeps what the outcome needs, and once the
run has ended decides how it ended (:meth:`RunFollower.conclude`).

Typical use::

    f = RunFollower.for_state(state)            # exits_early_ok, stop request from state
    while running:
        chunk = f.feed(read_some_bytes())        # .texts .kinds .pending .events .changed
        show(chunk)
    last = f.finish_log()                        # the unterminated tail, held-back events
    outcome = f.conclude(final_state, effective_status)

A caller that shows each line next to what it meant (``dpgui launch``) uses the
stages one at a time: :meth:`RunFollower.split` then :meth:`RunFollower.parse_line`.

Memory stays bounded on any log: steps are kept as a tail (plus every
non-finite loss, for the NaN notice) and other events up to a cap.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Sequence

from dpgui_qt.core.run import phase as ph
from dpgui_qt.core.run.lines import LineAssembler, LineKind
from dpgui_qt.core.run.outcome import Outcome, classify
from dpgui_qt.core.run.parse import Event, LogParser, LrEvent, ProgressEvent, StepEvent
from dpgui_qt.core.run.switches import argv_ends_early

__all__ = ["RunFollower", "Chunk", "STEP_TAIL", "OTHER_EVENTS_MAX", "BAD_STEPS_MAX"]

STEP_TAIL = 4000           # step events kept for the outcome (NaN notice, "during training")
OTHER_EVENTS_MAX = 20000   # non-step events kept for the outcome
BAD_STEPS_MAX = 1000       # steps with a non-finite loss kept for the outcome

_loss = attrgetter("loss")


@dataclass
class Chunk:
    """What one piece of input gave: the complete lines (``kinds`` None = all plain
    lines), the open line still being written (``pending``), the parsed events,
    whether the run's status changed and how many step events came in."""
    texts: list[str]
    kinds: Sequence[LineKind] | None
    pending: str
    events: list[Event]
    changed: bool = False
    steps: int = 0


class RunFollower:
    """One run's console, followed from its first byte."""

    def __init__(self, exits_early_ok: bool = False, stop_request: str | None = None) -> None:
        self.assembler = LineAssembler()
        self.parser = LogParser()
        self.status = ph.RunStatus(exits_early_ok=bool(exits_early_ok))
        if stop_request:
            self.status = ph.advance(self.status, "stop_requested", stop_request)
        self.outcome: Outcome | None = None
        self.exit_code: int | None = None
        self.last_step: StepEvent | None = None
        self.last_lr: LrEvent | None = None
        self.last_bar: ProgressEvent | None = None
        self.epoch: int | None = None
        self.lines = 0
        self.steps_seen = 0
        self._steps: deque[StepEvent] = deque(maxlen=STEP_TAIL)
        self._bad_steps: list[StepEvent] = []
        self._others: list[Event] = []

    @classmethod
    def for_state(cls, state: dict[str, Any], exits_early_ok: bool | None = None) -> "RunFollower":
        """A follower for the run a supervisor ``state.json`` describes: whether a clean
        early exit counts as done is read from its argv unless given, and a stop
        request already recorded is taken over."""
        if exits_early_ok is None:
            exits_early_ok = argv_ends_early(state.get("argv") or [])
        return cls(exits_early_ok=exits_early_ok, stop_request=state.get("stop_request"))

    # ------------------------------------------------------------ stages
    @property
    def pending(self) -> str:
        """The line being written (no newline yet; a progress bar's latest state)."""
        return self.assembler.pending

    def split(self, data: bytes) -> tuple[list[str], Sequence[LineKind] | None]:
        """Stage 1: bytes -> complete lines (and their kinds; None = all plain)."""
        return self.assembler.feed_raw(data)

    def flush(self) -> tuple[list[str], Sequence[LineKind] | None]:
        """Stage 1 at the end of the log: the unterminated last line, if any."""
        return self.assembler.flush_raw()

    def end_events(self) -> list[Event]:
        """Stages 2-3 at the end of the log: the events the parser held back (a
        traceback's last frame), observed."""
        tail = self.parser.finish()
        if tail:
            self.observe(tail)
        return tail

    def parse(self, texts: list[str]) -> list[Event]:
        """Stages 2-3 for a batch of lines: their events, observed (see :meth:`observe`)."""
        if not texts:
            return []
        self.lines += len(texts)
        events = self.parser.feed_many(texts)
        if events:
            self.observe(events)
        return events

    def parse_line(self, text: str) -> list[Event]:
        """Stages 2-3 for one line, for a caller that shows each line with its events."""
        self.lines += 1
        events = self.parser.feed(text)
        if events:
            self.observe(events)
        return events

    def observe(self, events: list[Event]) -> tuple[bool, int]:
        """Advance the phase and keep what the outcome needs; returns (status changed,
        step events seen).  A run of consecutive steps advances the phase once, with
        its last step (the same result as one by one, far cheaper on a flood)."""
        st = self.status
        advance, event_name = ph.advance, ph.event_name
        pending_step: Any = None       # the last of a run of steps (a StepEvent)
        step_t, lr_t, bar_t = StepEvent, LrEvent, ProgressEvent
        n_steps = 0
        others = self._others
        for ev in events:
            t = type(ev)
            if t is step_t:
                pending_step = ev
                n_steps += 1
                continue
            if t is lr_t:
                self.last_lr = ev          # type: ignore[assignment]
                continue
            if t is bar_t:
                self.last_bar = ev         # type: ignore[assignment]
                if st.phase == ph.Phase.STARTING and ev.desc.startswith("caching"):  # type: ignore[attr-defined]
                    st = advance(st, "caching")
                continue
            if pending_step is not None:
                st = advance(st, "step", pending_step.step)
                pending_step = None
            if len(others) < OTHER_EVENTS_MAX:
                others.append(ev)
            mapped = event_name(ev)
            if mapped is not None:
                st = advance(st, *mapped)
                if mapped[0] == "new_epoch":
                    self.epoch = getattr(ev, "epoch", self.epoch)
        if n_steps:
            self.steps_seen += n_steps
            # keep a tail of steps plus every non-finite loss (for the NaN notice)
            tail = [e for e in events if type(e) is step_t] if n_steps < len(events) else events
            # a sum is finite only if every loss is (losses are small numbers): one C loop
            if not math.isfinite(sum(map(_loss, tail))) and len(self._bad_steps) < BAD_STEPS_MAX:
                bad = [e for e in tail if not math.isfinite(e.loss)]  # type: ignore[attr-defined]
                self._bad_steps.extend(bad[:BAD_STEPS_MAX - len(self._bad_steps)])  # type: ignore[arg-type]
            if len(tail) > STEP_TAIL:
                tail = tail[-STEP_TAIL:]
            self._steps.extend(tail)       # type: ignore[arg-type]
            self.last_step = tail[-1]      # type: ignore[assignment]
        if pending_step is not None:
            st = advance(st, "step", pending_step.step)
        changed = st != self.status
        self.status = st
        return changed, n_steps

    # ------------------------------------------------------------ all stages
    def feed(self, data: bytes) -> Chunk:
        """Bytes as they come -> a :class:`Chunk` (lines, events, status change)."""
        texts, kinds = self.assembler.feed_raw(data)
        return self._chunk(texts, kinds)

    def finish_log(self) -> Chunk:
        """The log has no more bytes: the unterminated last line, and the events the
        parser held back (a traceback's last frame)."""
        texts, kinds = self.assembler.flush_raw()
        chunk = self._chunk(texts, kinds)
        tail = self.parser.finish()
        if tail:
            changed, steps = self.observe(tail)
            chunk.events = chunk.events + tail
            chunk.changed = chunk.changed or changed
            chunk.steps += steps
        return chunk

    def _chunk(self, texts: list[str], kinds: Sequence[LineKind] | None) -> Chunk:
        changed, steps, events = False, 0, []
        if texts:
            self.lines += len(texts)
            events = self.parser.feed_many(texts)
            if events:
                changed, steps = self.observe(events)
        return Chunk(texts, kinds, self.assembler.pending, events, changed, steps)

    # ------------------------------------------------------------ stop and end
    def request_stop(self, action: str) -> bool:
        """dpgui asked for ``save_quit``, ``stop`` or ``kill``; True if the status changed."""
        before = self.status
        self.status = ph.advance(self.status, "stop_requested", action)
        return self.status != before

    def note_state(self, state: dict[str, Any]) -> bool:
        """Take over a stop request recorded in ``state`` (by this or another dpgui)
        when none is known yet; True if the status changed."""
        req = state.get("stop_request")
        if req and self.status.stop_request is None and not self.status.phase.terminal:
            return self.request_stop(req)
        return False

    def events_for_outcome(self) -> list[Event]:
        steps = list(self._steps)
        ids = {id(e) for e in steps}
        bad = [e for e in self._bad_steps if id(e) not in ids]
        return self._others + bad + steps

    def conclude(self, state: dict[str, Any], effective: str) -> Outcome:
        """The run has ended and its log is read (call :meth:`finish_log` first):
        the terminal phase and how it ended, from the events, the supervisor's
        ``state`` (exit code, error, stop request) and its ``effective`` status
        (``exited``, ``failed_to_start``, ``lost``)."""
        rc = state.get("exit_code")
        self.exit_code = rc
        self.note_state(state)
        user_stopped = self.status.stop_request in ("stop", "kill")
        if effective == "failed_to_start":
            self.status = ph.on_exit(self.status, rc if rc is not None else 1)
            error = state.get("error") or ""
            outcome = Outcome("failed", "failed_to_start", "The trainer could not be started",
                              error or "The launcher could not be executed.",
                              "Check the Python environment (deepspeed) and the diffusion-pipe "
                              "checkout in Run ▸ Environment.", [error])
        elif effective == "lost":
            self.status = ph.on_exit(self.status, None)
            outcome = classify(self.events_for_outcome(), None, user_stopped=user_stopped,
                               cache_only=self.status.exits_early_ok)
            if outcome.status != "finished":
                outcome = Outcome(
                    "failed" if not user_stopped else "stopped", "lost",
                    "The run's processes are gone",
                    "The trainer and its supervisor are no longer running and no exit code was "
                    "recorded (the machine restarted, or they were killed from outside). "
                    + (outcome.explanation or ""),
                    outcome.fix or "Look at the end of the log; resume from the last checkpoint.",
                    outcome.evidence, outcome.notices)
        else:
            self.status = ph.on_exit(self.status, rc)
            outcome = classify(self.events_for_outcome(), rc, user_stopped=user_stopped,
                               cache_only=self.status.exits_early_ok)
            if state.get("error") and outcome.status == "failed":
                # the supervisor found why the log says nothing (its disk is full)
                outcome = Outcome(
                    "failed", "log_unwritable", "The run's console log could not be written",
                    state["error"], "Free space on that disk, or choose an output_dir on a disk "
                    "with room, then start again.", [state["error"]], outcome.notices)
        self.outcome = outcome
        return outcome

    def progress_info(self) -> dict[str, Any]:
        """The latest step, loss, lr, epoch and progress bar, for a status line."""
        s, lr, bar = self.last_step, self.last_lr, self.last_bar
        return {"step": s.step if s else self.status.last_step, "loss": s.loss if s else None,
                "iter_time": s.iter_time if s else None,
                "lr": lr.lrs[0] if lr and lr.lrs else None, "epoch": self.epoch,
                "bar": bar, "steps_seen": self.steps_seen, "lines": self.lines}
