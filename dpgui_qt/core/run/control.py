"""Controlling a running training: save / save-and-stop signal files, Stop, Kill,
and the run-phase state machine the GUI uses to enable buttons.

Signal files are diffusion-pipe's own mechanism (utils/saver.py): at the next
step boundary the trainer looks for regular files named ``save`` (write a
checkpoint) and ``save_quit`` (checkpoint, print ``Manually quitting``, exit 0)
in the run folder, and deletes them.

Stop/Kill signal the trainer's whole process group *and* session: the ranks
that the DeepSpeed launcher starts stay in it, may ignore SIGTERM and may
outlive a launcher that died, so the group is re-checked and escalated to
SIGKILL until nothing is left.  The pids are the host's (the run's state
records which host); the host signals and lists them (``core/run/hosts``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run.hosts import Host, HostError
from dpgui_qt.core.run.supervisor import (
    CONTROL_FILE, locate_run_dir, read_state, write_json_atomic,
)

DEFAULT_GRACE_S = 20.0


class ControlError(RuntimeError):
    """A control action is not possible right now (message is user-facing)."""


def _resolve(run) -> tuple[dict, Path | None]:
    """Accept a RunHandle, a run-state dir, or a state dict."""
    if isinstance(run, dict):
        sd = run.get("state_dir")
        return run, Path(sd) if sd else None
    state_dir = Path(getattr(run, "state_dir", run))
    st = read_state(state_dir)
    if st is None:
        raise ControlError(f"no run state in {state_dir}")
    return st, state_dir


def record_request(run, action: str) -> None:
    """Remember the action so the supervisor can tell a stopped run from a failed one."""
    st, state_dir = _resolve(run)
    if state_dir is not None and state_dir.is_dir():
        write_json_atomic(state_dir / CONTROL_FILE, {"action": action, "at": time.time()})


def _signal_file(run, name: str) -> Path:
    st, _ = _resolve(run)
    rd = locate_run_dir(st)
    if not rd:
        raise ControlError("the run folder does not exist yet (the trainer creates it after "
                           "caching); use Stop instead")
    if st.get("status") in ("exited", "failed_to_start"):
        raise ControlError("the run has already ended")
    p = Path(rd) / name
    host = hosts.from_state(st)      # run_dir is a local path; the host creates the file
    try:
        host.touch(host.to_host_path(p))
    except HostError as e:
        raise ControlError(str(e)) from None
    record_request(run, name)
    return p


def save_now(run) -> Path:
    """Create the ``save`` signal file: checkpoint at the next step."""
    return _signal_file(run, "save")


def save_and_stop(run) -> Path:
    """Create the ``save_quit`` signal file: checkpoint, then exit 0."""
    return _signal_file(run, "save_quit")


@dataclass
class StopResult:
    signalled: list[int] = field(default_factory=list)   # pids that got SIGTERM
    killed: list[int] = field(default_factory=list)      # pids that needed SIGKILL
    remaining: list[int] = field(default_factory=list)   # should always be empty

    @property
    def clean(self) -> bool:
        return not self.remaining


def _wait_gone(host: Host, pgid: int, ticks: int | None, timeout: float,
               poll_s: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = host.group_members(pgid, ticks)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll_s)


def stop(run, grace_s: float = DEFAULT_GRACE_S, kill_wait_s: float = 5.0,
         poll_s: float = 0.1) -> StopResult:
    """SIGTERM the whole group; SIGKILL whatever is left after ``grace_s``.
    Blocks until no process of the group is left (or ``kill_wait_s`` after
    the SIGKILL); run it off the GUI thread."""
    st, _ = _resolve(run)
    pgid, ticks = st.get("pgid"), st.get("pid_start_ticks")
    res = StopResult()
    if not pgid:
        return res
    record_request(run, "stop")
    host = hosts.from_state(st)
    res.signalled = host.signal_group(pgid, "TERM", ticks)
    if not res.signalled:
        return res
    left = _wait_gone(host, pgid, ticks, grace_s, poll_s)
    if left:
        return _kill(host, pgid, ticks, kill_wait_s, poll_s, res)
    return res


def kill(run, wait_s: float = 5.0, poll_s: float = 0.05) -> StopResult:
    """SIGKILL the whole group at once and verify it is gone."""
    st, _ = _resolve(run)
    pgid, ticks = st.get("pgid"), st.get("pid_start_ticks")
    res = StopResult()
    if not pgid:
        return res
    record_request(run, "kill")
    return _kill(hosts.from_state(st), pgid, ticks, wait_s, poll_s, res)


def _kill(host: Host, pgid: int, ticks: int | None, wait_s: float, poll_s: float,
          res: StopResult) -> StopResult:
    deadline = time.monotonic() + wait_s
    while True:
        got = host.signal_group(pgid, "KILL", ticks)   # repeat: a member may fork meanwhile
        res.killed = sorted(set(res.killed) | set(got))
        left = _wait_gone(host, pgid, ticks, min(0.5, max(0.0, deadline - time.monotonic())),
                          poll_s)
        if not left or time.monotonic() >= deadline:
            res.remaining = left
            return res


# --------------------------------------------------------------------------
# run phases
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


def event_name(ev) -> tuple[str, object] | None:
    """Map a parsed console event (dpgui_qt.core.run.parse) to (EVENTS name, value)."""
    from dpgui_qt.core.run import parse as p

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


def advance(status: RunStatus, event: str, value=None) -> RunStatus:
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
