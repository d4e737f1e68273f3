"""The run-phase state machine: parsed console events -> the phase a run is in
(starting, caching, training, saving; finished, failed, stopped once it ended) and
which control actions make sense in it.

Pure functions over a frozen :class:`RunStatus`; no I/O.  The follower
(:mod:`.follow`) drives it; the Run page and ``dpgui launch`` read it.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from dpgui_qt.core.run import parse as p

__all__ = ["Phase", "EVENTS", "event_name", "RunStatus", "advance", "on_exit",
           "allowed_actions"]


class Phase(str, Enum):
    STARTING = "starting"
    CACHING = "caching"
    TRAINING = "training"
    SAVING = "saving"
    FINISHED = "finished"
    FAILED = "failed"
    STOPPED = "stopped"

    @property
    def terminal(self) -> bool:
        return self in (Phase.FINISHED, Phase.FAILED, Phase.STOPPED)


# Event names (map parse.py's events onto these):
#   "caching"      caching latents/text embeddings, [CACHE] ..., metadata lines
#   "engine"       DeepSpeed engine/optimizer init lines, "Global batch size"
#   "step"         a `steps: N loss: ...` line (or the `[Rank 0] step=N` report)
#   "eval"         "Running eval"
#   "saving"       "Saving model to directory ...", checkpoint about to be saved
#   "new_epoch"    "Started new epoch: N"
#   "manual_quit"  "Manually quitting"
#   "complete"     "TRAINING COMPLETE!"
#   "error"        traceback / CUDA OOM / NCCL watchdog seen
#   "stop_requested"  dpgui asked for stop/kill (value: "stop" | "kill" | "save_quit")
EVENTS = ("caching", "engine", "step", "eval", "saving", "new_epoch", "manual_quit",
          "complete", "error", "stop_requested")


def event_name(ev: object) -> tuple[str, object] | None:
    """Map a parsed console event (dpgui_qt.core.run.parse) to (EVENTS name, value)."""
    if isinstance(ev, p.StepEvent):
        return "step", ev.step
    if isinstance(ev, (p.CachingEvent, p.CacheEvent)):
        return "caching", None
    if isinstance(ev, p.GlobalBatchEvent):
        return "engine", None
    if isinstance(ev, p.EvalEvent):
        return "eval", None
    if isinstance(ev, (p.SaveEvent, p.CheckpointEvent)):
        return "saving", None
    if isinstance(ev, p.EpochEvent):
        return "new_epoch", None
    if isinstance(ev, p.ManualQuitEvent):
        return "manual_quit", None
    if isinstance(ev, p.CompleteEvent):
        return "complete", None
    if isinstance(ev, p.TracebackEvent) or (
            isinstance(ev, p.ErrorEvent) and getattr(ev, "severity", "error") == "error"):
        return "error", None
    return None


@dataclass(frozen=True)
class RunStatus:
    phase: Phase = Phase.STARTING
    last_step: int | None = None
    completed: bool = False          # TRAINING COMPLETE! seen
    manual_quit: bool = False        # Manually quitting seen
    error_seen: bool = False
    stop_request: str | None = None  # "save_quit" | "stop" | "kill"
    exits_early_ok: bool = False     # --cache_only / --dump_dataset: exit 0 is success
    exit_code: int | None = None


def advance(status: RunStatus, event: str, value: object = None) -> RunStatus:
    """Pure transition function: the status after ``event`` (see EVENTS)."""
    if status.phase.terminal:
        return status
    p = status.phase
    if event == "caching":
        return replace(status, phase=Phase.CACHING if p in (Phase.STARTING, Phase.CACHING) else p)
    if event == "engine":
        return replace(status, phase=Phase.STARTING if p == Phase.CACHING else p)
    if event == "step":
        step = value if isinstance(value, int) else status.last_step
        return replace(status, phase=Phase.TRAINING, last_step=step)
    if event in ("eval", "new_epoch"):
        return replace(status, phase=Phase.TRAINING)
    if event == "saving":
        return replace(status, phase=Phase.SAVING)
    if event == "manual_quit":
        return replace(status, manual_quit=True, phase=Phase.SAVING)
    if event == "complete":
        return replace(status, completed=True)
    if event == "error":
        return replace(status, error_seen=True)
    if event == "stop_requested":
        return replace(status, stop_request=str(value) if value else "stop")
    return status


def on_exit(status: RunStatus, exit_code: int | None) -> RunStatus:
    """The terminal status once the trainer process has ended."""
    if status.phase.terminal:
        return status
    if status.completed and exit_code == 0:
        phase = Phase.FINISHED
    elif status.stop_request in ("stop", "kill"):
        phase = Phase.STOPPED
    elif exit_code == 0 and (status.manual_quit or status.stop_request == "save_quit"):
        phase = Phase.STOPPED
    elif exit_code == 0 and status.exits_early_ok and not status.error_seen:
        phase = Phase.FINISHED
    else:
        phase = Phase.FAILED
    return replace(status, phase=phase, exit_code=exit_code)


def allowed_actions(status: RunStatus, run_dir_known: bool = True) -> frozenset[str]:
    """Which buttons make sense: subset of {"save", "save_quit", "stop", "kill"}."""
    p = status.phase
    if p.terminal:
        return frozenset()
    acts = {"stop", "kill"}
    if run_dir_known and p == Phase.TRAINING and not status.manual_quit:
        acts |= {"save", "save_quit"}
    elif run_dir_known and p == Phase.SAVING and not status.manual_quit:
        acts.add("save_quit")
    return frozenset(acts)
