"""Controlling a running training: save / save-and-stop signal files, Stop, Kill.

Signal files are diffusion-pipe's own mechanism (utils/saver.py): at the next
step boundary the trainer looks for regular files named ``save`` (write a
checkpoint) and ``save_quit`` (checkpoint, print ``Manually quitting``, exit 0)
in the run folder, and deletes them.

Stop/Kill record the request (so the supervisor can tell a stopped run from a
failed one) and end the trainer's whole process group and session through
:mod:`.signals`.  The pids are the host's (the run's state records which host);
the host signals and lists them (``core/run/hosts``).  The phase machine that
decides which of these make sense is :mod:`.phase`.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Union

import time
from pathlib import Path

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run.hosts import HostError
from dpgui_qt.core.run.signals import (
    DEFAULT_GRACE_S, DEFAULT_KILL_WAIT_S, StopResult, kill_group, stop_group,
)
from dpgui_qt.core.run.supervisor import CONTROL_FILE, locate_run_dir, read_state, write_json_atomic

if TYPE_CHECKING:
    from dpgui_qt.core.run.runs import RunHandle

# what the actions take: a RunHandle, a run-state folder, or a state dict
RunRef = Union["RunHandle", str, "os.PathLike[str]", dict[str, Any]]

__all__ = ["ControlError", "DEFAULT_GRACE_S", "StopResult", "record_request", "save_now",
           "save_and_stop", "stop", "kill"]


class ControlError(RuntimeError):
    """A control action is not possible right now (message is user-facing)."""


def _resolve(run: RunRef) -> tuple[dict[str, Any], Path | None]:
    """Accept a RunHandle, a run-state dir, or a state dict."""
    if isinstance(run, dict):
        sd = run.get("state_dir")
        return run, Path(sd) if sd else None
    where: Any = getattr(run, "state_dir", run)  # a RunHandle's folder, or the folder itself
    state_dir = Path(where)
    st = read_state(state_dir)
    if st is None:
        raise ControlError(f"no run state in {state_dir}")
    return st, state_dir


def record_request(run: RunRef, action: str) -> None:
    """Remember the action so the supervisor can tell a stopped run from a failed one."""
    st, state_dir = _resolve(run)
    if state_dir is not None and state_dir.is_dir():
        write_json_atomic(state_dir / CONTROL_FILE, {"action": action, "at": time.time()})


def _signal_file(run: RunRef, name: str) -> Path:
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


def save_now(run: RunRef) -> Path:
    """Create the ``save`` signal file: checkpoint at the next step."""
    return _signal_file(run, "save")


def save_and_stop(run: RunRef) -> Path:
    """Create the ``save_quit`` signal file: checkpoint, then exit 0."""
    return _signal_file(run, "save_quit")


def stop(run: RunRef, grace_s: float = DEFAULT_GRACE_S, kill_wait_s: float = DEFAULT_KILL_WAIT_S,
         poll_s: float = 0.1) -> StopResult:
    """SIGTERM the whole group; SIGKILL whatever is left after ``grace_s``.
    Blocks until no process of the group is left (or ``kill_wait_s`` after
    the SIGKILL); run it off the GUI thread."""
    st, _ = _resolve(run)
    pgid, ticks = st.get("pgid"), st.get("pid_start_ticks")
    if not pgid:
        return StopResult()
    record_request(run, "stop")
    host = hosts.from_state(st)
    return stop_group(pgid, ticks, grace_s, kill_wait_s, poll_s, send=host.signal_group,
                      members=host.group_members)


def kill(run: RunRef, wait_s: float = DEFAULT_KILL_WAIT_S, poll_s: float = 0.05) -> StopResult:
    """SIGKILL the whole group at once and verify it is gone."""
    st, _ = _resolve(run)
    pgid, ticks = st.get("pgid"), st.get("pid_start_ticks")
    if not pgid:
        return StopResult()
    record_request(run, "kill")
    host = hosts.from_state(st)
    return kill_group(pgid, ticks, wait_s, poll_s, send=host.signal_group,
                      members=host.group_members)
