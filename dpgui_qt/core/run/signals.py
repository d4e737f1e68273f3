"""Ending a run's process group: SIGTERM, a grace period, then SIGKILL until
nothing of the group is left.

The ranks the DeepSpeed launcher starts stay in the trainer's process group and
session, may ignore SIGTERM and may outlive a launcher that died, so the group is
re-checked after each signal and escalated until it is empty.

Host-agnostic: the two primitives -- send a signal (by name: ``"TERM"``,
``"KILL"``) to a group, list a group's live members -- are parameters; callers
pass their host's (``Host.signal_group``, ``Host.group_members``).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["StopResult", "DEFAULT_GRACE_S", "DEFAULT_KILL_WAIT_S", "Send", "Members",
           "stop_group", "kill_group"]

DEFAULT_GRACE_S = 20.0
# how long SIGKILLed processes may take to leave the process table before a Stop/Kill
# reports them as still running (the wait ends as soon as the group is empty; a
# loaded machine can take seconds to run the exits)
DEFAULT_KILL_WAIT_S = 30.0

# (pgid, signal name, leader start ticks) -> pids signalled
Send = Callable[[int, str, "int | None"], "list[int]"]
# (pgid, leader start ticks) -> live pids of the group
Members = Callable[[int, "int | None"], "list[int]"]


@dataclass
class StopResult:
    signalled: list[int] = field(default_factory=list)   # pids that got SIGTERM
    killed: list[int] = field(default_factory=list)      # pids that needed SIGKILL
    remaining: list[int] = field(default_factory=list)   # should always be empty

    @property
    def clean(self) -> bool:
        return not self.remaining


def _wait_gone(members: Members, pgid: int, ticks: int | None, timeout: float,
               poll_s: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = members(pgid, ticks)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll_s)


def stop_group(pgid: int | None, ticks: int | None, grace_s: float = DEFAULT_GRACE_S,
               kill_wait_s: float = DEFAULT_KILL_WAIT_S, poll_s: float = 0.1, *, send: Send,
               members: Members) -> StopResult:
    """SIGTERM the group; SIGKILL whatever is left after ``grace_s``.  Blocks until no
    member is left (or ``kill_wait_s`` after the SIGKILL)."""
    res = StopResult()
    if not pgid:
        return res
    res.signalled = send(pgid, "TERM", ticks)
    if not res.signalled:
        return res
    if _wait_gone(members, pgid, ticks, grace_s, poll_s):
        return _kill(pgid, ticks, kill_wait_s, poll_s, res, send, members)
    return res


def kill_group(pgid: int | None, ticks: int | None, wait_s: float = DEFAULT_KILL_WAIT_S,
               poll_s: float = 0.05,
               *, send: Send, members: Members) -> StopResult:
    """SIGKILL the group at once and verify it is gone."""
    res = StopResult()
    if not pgid:
        return res
    return _kill(pgid, ticks, wait_s, poll_s, res, send, members)


def _kill(pgid: int, ticks: int | None, wait_s: float, poll_s: float, res: StopResult,
          send: Send, members: Members) -> StopResult:
    deadline = time.monotonic() + wait_s
    while True:
        got = send(pgid, "KILL", ticks)     # repeat: a member may fork meanwhile
        res.killed = sorted(set(res.killed) | set(got))
        left = _wait_gone(members, pgid, ticks, min(0.5, max(0.0, deadline - time.monotonic())),
                          poll_s)
        if not left or time.monotonic() >= deadline:
            res.remaining = left
            return res
