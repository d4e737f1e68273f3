"""A run's headline numbers from its parsed events: steps, losses, lr, epochs,
saves and the outcome (``summarize``, and ``SummaryBuilder`` for a stream).

It sits above both :mod:`.parse` (the events) and :mod:`.outcome` (how the run
ended), so neither of those imports the other's consumer.
"""
from __future__ import annotations

import math
from collections import deque
from typing import Any, Iterable

from .outcome import classify
from .parse import (
    CacheEvent,
    CachingEvent,
    CheckpointEvent,
    DeepSpeedVersionEvent,
    EpochEvent,
    ErrorEvent,
    EvalEvent,
    Event,
    ExitCodeEvent,
    GlobalBatchEvent,
    LrEvent,
    ProgressEvent,
    ResumeEvent,
    SaveEvent,
    StepEvent,
    TracebackEvent,
)

__all__ = ["SummaryBuilder", "summarize"]


class SummaryBuilder:
    """:func:`summarize` for a stream: add events batch by batch, then call
    :meth:`result`. Memory grows with what the summary reports (saves, epochs,
    error kinds), not with the log: steps, lr reports and progress bars are
    counted, not kept, and the outcome is decided from a bounded sample of the
    other events (the first and the last ``keep`` of them) plus counts."""

    def __init__(self, keep: int = 2000) -> None:
        self.keep = keep
        self.steps = 0
        self.first_step: StepEvent | None = None
        self.last_step: StepEvent | None = None
        self.first_nonfinite: StepEvent | None = None
        self.nonfinite = 0
        self.min_loss: float | None = None
        self.last_lr: LrEvent | None = None
        self.epochs: list[int] = []
        self.resume: ResumeEvent | None = None
        self.gbs: int | None = None
        self.version: str | None = None
        self.saves: list[str] = []
        self.checkpoints: list[str] = []
        self.evals = 0
        self.errors: list[str] = []
        self.tracebacks = 0
        self.exit_codes: list[int] = []
        self.too_short = 0
        self.progress_seen: Event | None = None
        self._head: list[Event] = []
        self._tail: deque[Event] = deque(maxlen=keep)

    def add(self, events: Iterable[Event]) -> None:
        e: Any  # an Event, dispatched on its exact type below
        for e in events:
            t = type(e)
            if t is StepEvent:
                self.steps += 1
                if self.first_step is None:
                    self.first_step = e
                self.last_step = e
                loss = e.loss
                if math.isfinite(loss):
                    if self.min_loss is None or loss < self.min_loss:
                        self.min_loss = loss
                else:
                    self.nonfinite += 1
                    if self.first_nonfinite is None:
                        self.first_nonfinite = e
                continue
            if t is LrEvent:
                self.last_lr = e
                continue
            if t is ProgressEvent or t is CachingEvent or t is CacheEvent:
                if self.progress_seen is None:
                    self.progress_seen = e
                    self._sample(e)
                continue
            if t is EpochEvent:
                self.epochs.append(e.epoch)
            elif t is ResumeEvent:
                self.resume = e
            elif t is GlobalBatchEvent:
                if self.gbs is None:
                    self.gbs = e.n
            elif t is DeepSpeedVersionEvent:
                if self.version is None:
                    self.version = e.version
            elif t is SaveEvent:
                self.saves.append(e.name)
            elif t is CheckpointEvent:
                self.checkpoints.append(e.tag)
            elif t is EvalEvent:
                self.evals += 1
            elif t is ErrorEvent:
                self.errors.append(e.kind)
                if e.kind == "video_too_short":
                    self.too_short += 1
            elif t is TracebackEvent:
                self.tracebacks += 1
            elif t is ExitCodeEvent:
                self.exit_codes.append(e.rc)
            self._sample(e)

    def _sample(self, e: Event) -> None:
        if len(self._head) < self.keep:
            self._head.append(e)
        else:
            self._tail.append(e)

    def outcome_events(self) -> list[Event]:
        """The events :func:`~dpgui_qt.core.run.outcome.classify` needs, in log order."""
        out = list(self._head) + list(self._tail)
        for e in (self.first_step, self.first_nonfinite, self.last_step):
            if e is not None and e not in out:
                out.append(e)
        return out

    def result(self, exit_code: int | None = None, user_stopped: bool = False) -> dict[str, Any]:
        first, last, resume = self.first_step, self.last_step, self.resume
        epochs = self.epochs
        outcome = classify(self.outcome_events(), exit_code=exit_code, user_stopped=user_stopped,
                           totals={"steps": self.steps, "nonfinite": self.nonfinite,
                                   "video_too_short": self.too_short})
        return {
            "steps_logged": self.steps,
            "first_step": first.step if first else None,
            "last_step": last.step if last else None,
            "first_loss": first.loss if first else None,
            "last_loss": last.loss if last else None,
            "min_loss": self.min_loss,
            "nonfinite_loss_steps": self.nonfinite,
            "first_nonfinite_step": self.first_nonfinite.step if self.first_nonfinite else None,
            "last_iter_time": last.iter_time if last else None,
            "last_samples_per_sec": last.samples_per_sec if last else None,
            "last_lr": self.last_lr.lrs if self.last_lr else None,
            # None when the log does not say (a run that never started a 2nd epoch is in epoch 1)
            "epoch": epochs[-1] if epochs else (resume.epoch if resume else None),
            "epochs_started": epochs,
            "saves": self.saves,
            "checkpoints": self.checkpoints,
            "evals": self.evals,
            "global_batch_size": self.gbs,
            "deepspeed_version": self.version,
            "resumed": {"epoch": resume.epoch, "step": resume.step} if resume else None,
            "errors": self.errors,
            "tracebacks": self.tracebacks,
            "exit_codes": self.exit_codes,
            "outcome": outcome.to_dict(),
        }


def summarize(events: Iterable[Event], exit_code: int | None = None,
              user_stopped: bool = False) -> dict[str, Any]:
    """Headline numbers for a run: steps, losses, lr, epochs, saves, outcome."""
    b = SummaryBuilder()
    b.add(events)
    return b.result(exit_code, user_stopped)
