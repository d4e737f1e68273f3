"""The run queue (Qt-free, standard library only): runs that start one after another.

The queue lives beside the run supervisors' state, in ``<state root>/.queue/``,
so that it belongs to no GUI: a detached runner process
(:mod:`dpgui_qt.core.run.queue_runner`) starts each queued run through the same
supervisor a GUI launch uses (:func:`supervisor.start_run`) and waits for it.
Closing the GUI, or the terminal of ``dpgui queue add``, changes nothing.

Files in the queue folder:

* ``queue.json`` -- the queue (``QUEUE_FIELDS``/``ITEM_FIELDS``), always
  rewritten atomically under ``queue.lock`` (an ``fcntl`` lock), so the GUI,
  the CLI and the runner can all edit it;
* ``runner.lock`` -- held by the live runner for its lifetime (at most one);
* ``runner.log`` -- the runner's own messages;
* ``configs/<id>/<name>.toml`` -- the snapshot of each queued main config,
  taken when it was queued (a run trains on what was queued, even if the
  file is edited afterwards; sweeps write their variants here).
"""
from __future__ import annotations

from typing import Any, Iterator, cast

import contextlib
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from dpgui_qt.core.run.supervisor import read_json, write_json_atomic

try:  # pragma: no cover - Windows has no fcntl
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]  # Windows: no advisory locks

__all__ = ["QUEUE_DIRNAME", "queue_dir_for", "RunQueue", "TERMINAL", "ensure_runner",
           "runner_alive"]

QUEUE_DIRNAME = ".queue"
QUEUE_FILE = "queue.json"
LOCK_FILE = "queue.lock"
RUNNER_LOCK = "runner.lock"
RUNNER_LOG = "runner.log"
TERMINAL = ("finished", "failed", "cancelled", "stopped")

QUEUE_FIELDS = {
    "version": "1",
    "paused": "true: the runner starts nothing new (the current run goes on)",
    "pause_reason": "why it paused (user, or a failed run with continue_on_failure off)",
    "continue_on_failure": "after a failed run: true = start the next one, false = pause",
    "stop_grace_s": "cancelling a running run: seconds between SIGTERM and SIGKILL (default 20)",
    "items": "the runs, in order",
}
ITEM_FIELDS = {
    "id": "short random id", "label": "what the user sees (config name, sweep value)",
    "config": "the snapshot the run trains on", "source_config": "the file that was queued",
    "argv": "the command (as dpgui launch builds it)", "env": "variables added", "cwd": "checkout",
    "output_dir": "output_dir on this host", "status": "pending | running | finished | failed | "
    "cancelled | stopped", "state_dir": "the supervisor's run-state dir once started",
    "run_dir": "the run folder", "exit_code": "trainer exit status", "message": "outcome in words",
    "added_at": "epoch seconds", "started_at": "epoch seconds", "ended_at": "epoch seconds",
    "cancel_requested": "the user cancelled it while it ran",
}


def queue_dir_for(state_root: str | os.PathLike[str]) -> Path:
    return Path(state_root) / QUEUE_DIRNAME


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as f:
        if fcntl is not None:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)


class RunQueue:
    """Read and edit ``queue.json``.  Every method that changes the queue takes
    the lock, re-reads the file, changes it and writes it back."""

    def __init__(self, folder: str | os.PathLike[str]):
        self.dir = Path(folder)
        self.file = self.dir / QUEUE_FILE

    # -------------------------------------------------------------- reading
    def load(self) -> dict[str, Any]:
        data = read_json(self.file) or {}
        data.setdefault("version", 1)
        data.setdefault("paused", False)
        data.setdefault("pause_reason", None)
        data.setdefault("continue_on_failure", True)
        data.setdefault("items", [])
        return data

    def items(self) -> list[dict[str, Any]]:
        return cast("list[dict[str, Any]]", self.load()["items"])

    def item(self, item_id: str) -> dict[str, Any] | None:
        return next((i for i in self.items() if i["id"] == item_id), None)

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict[str, Any]]:
        """``with q.edit() as data: ...`` -- locked read-modify-write."""
        with _locked(self.dir / LOCK_FILE):
            data = self.load()
            yield data
            write_json_atomic(self.file, data)

    # -------------------------------------------------------------- changing
    def new_id(self) -> str:
        return secrets.token_hex(4)

    def add(self, item: dict[str, Any], position: int | None = None) -> dict[str, Any]:
        item = dict(item)
        item.setdefault("id", self.new_id())
        item.update(status="pending", state_dir=None, run_dir=None, exit_code=None, message="",
                    started_at=None, ended_at=None, cancel_requested=False)
        item.setdefault("added_at", time.time())
        with self.edit() as data:
            items = data["items"]
            items.insert(len(items) if position is None else position, item)
        return item

    def _find(self, data: dict[str, Any], ref: str) -> dict[str, Any]:
        items: list[dict[str, Any]] = data["items"]
        for i in items:
            if i["id"] == ref:
                return i
        if ref.isdigit() and 1 <= int(ref) <= len(items):
            return items[int(ref) - 1]
        raise KeyError(f"no queued run {ref!r} (use the id or the position from 'dpgui queue list')")

    def remove(self, ref: str) -> dict[str, Any]:
        """Drop a run that has not started (or finished ones); a running one is
        cancelled instead (see :meth:`cancel`)."""
        with self.edit() as data:
            it = self._find(data, ref)
            if it["status"] == "running":
                raise ValueError(f"{it['label']} is running; cancel it instead")
            data["items"] = [i for i in data["items"] if i is not it]
        return it

    def cancel(self, ref: str) -> dict[str, Any]:
        """A pending run will not start; a running one is stopped by the runner."""
        with self.edit() as data:
            it = self._find(data, ref)
            if it["status"] == "pending":
                it.update(status="cancelled", message="cancelled before it started",
                          ended_at=time.time())
            elif it["status"] == "running":
                it["cancel_requested"] = True
            return it

    def move(self, ref: str, delta: int) -> int:
        """Move a pending run up (delta<0) or down among the items; returns its new index."""
        with self.edit() as data:
            items: list[dict[str, Any]] = data["items"]
            it = self._find(data, ref)
            i = items.index(it)
            j = max(0, min(len(items) - 1, i + delta))
            # never ahead of a run that has started or ended
            while j < i and items[j]["status"] != "pending":
                j += 1
            items.insert(j, items.pop(i))
            return j

    def set_paused(self, paused: bool, reason: str | None = "paused by the user") -> None:
        with self.edit() as data:
            data["paused"] = bool(paused)
            data["pause_reason"] = reason if paused else None

    def set_continue_on_failure(self, value: bool) -> None:
        with self.edit() as data:
            data["continue_on_failure"] = bool(value)

    def clear_finished(self) -> int:
        with self.edit() as data:
            before = len(data["items"])
            data["items"] = [i for i in data["items"] if i["status"] not in TERMINAL]
            return before - len(data["items"])

    def pending(self) -> list[dict[str, Any]]:
        return [i for i in self.items() if i["status"] == "pending"]


# ---------------------------------------------------------------------- runner process
def runner_alive(folder: str | os.PathLike[str]) -> bool:
    """Is a runner holding ``runner.lock``?"""
    path = Path(folder) / RUNNER_LOCK
    if fcntl is None or not path.exists():  # pragma: no cover
        data = read_json(Path(folder) / "runner.json") or {}
        pid = data.get("pid")
        from dpgui_qt.core.run.supervisor import pid_alive
        return bool(pid) and pid_alive(pid)
    with open(path, "a+b") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(f.fileno(), fcntl.LOCK_UN)
        return False


def ensure_runner(folder: str | os.PathLike[str], state_root: str | os.PathLike[str],
                  python: str | None = None, poll_s: float = 1.0) -> bool:
    """Start the detached queue runner unless one is alive; True if one was started."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if runner_alive(folder):
        return False
    here = Path(__file__).resolve().parent
    cmd = [python or sys.executable, "-I", str(here / "queue_runner.py"), str(folder),
           str(state_root), "--poll", str(poll_s)]
    err = open(folder / RUNNER_LOG, "ab")
    try:
        if os.name == "nt":  # pragma: no cover
            flags = (getattr(subprocess, "DETACHED_PROCESS", 0x8)
                     | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
                     | getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000))
            subprocess.Popen(cmd + ["--foreground"], stdin=subprocess.DEVNULL, stdout=err,
                             stderr=err, creationflags=flags, close_fds=True)
        else:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err,
                                 start_new_session=True, close_fds=True)
            p.wait(timeout=10)     # the intermediate exits once it has forked
    finally:
        err.close()
    return True
