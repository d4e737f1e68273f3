"""Following a run's console log, re-attaching to runs, and listing run folders.

``LogFollower`` tails the log by byte offset (the log is the only source of
console text, so a GUI that starts later reads it from offset 0 and then
keeps polling).  ``attach``/``list_sessions`` read the supervisor's state
files.  ``list_runs``/``resume_candidates`` describe ``output_dir``.
"""
from __future__ import annotations

from typing import Any, cast

import os
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run.supervisor import (
    LOG_SUBDIR, RUN_DIR_RE, STATE_FILE, parse_run_dir_name, read_state,
)

__all__ = ["LogFollower", "RunHandle", "attach", "active_runs", "list_sessions", "SavedModel", "RunFolder",
           "list_runs", "resume_candidates", "LOG_SUBDIR"]


class LogFollower:
    """Incremental reader of a growing file.

    ``read()`` returns the bytes appended since the last call (b"" when there
    is nothing new or the file does not exist yet).  If the file shrinks or is
    replaced (different inode), reading restarts at 0 and ``resets`` is
    incremented.  Bytes are returned raw; split them into lines with a line
    assembler that also honours ``\\r`` (tqdm).

    ``host``: read through that host (``Host.read_bytes``) instead of this
    machine's file system -- for a log this machine cannot open directly.
    """

    def __init__(self, path: str | os.PathLike[str], offset: int = 0, chunk_size: int = 4 << 20,
                 host: hosts.Host | None = None):
        self.path = Path(path)
        self.offset = int(offset)
        self.chunk_size = chunk_size
        self.resets = 0
        self._ino: object = None
        self.host = host

    def _read_host(self, limit: int) -> bytes:
        assert self.host is not None
        where = self.host.to_host_path(self.path)
        chunk = self.host.read_bytes(where, self.offset, limit)
        if chunk.size is None:
            return b""
        if (self._ino is not None and chunk.identity != self._ino) or chunk.size < self.offset:
            self.offset = 0
            self.resets += 1
            chunk = self.host.read_bytes(where, 0, limit)
        self._ino = chunk.identity
        self.offset = chunk.end
        return chunk.data

    def read(self, max_bytes: int | None = None) -> bytes:
        limit = self.chunk_size if max_bytes is None else max_bytes
        if self.host is not None:
            return self._read_host(limit)
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if (self._ino is not None and st.st_ino != self._ino) or st.st_size < self.offset:
                    self.offset = 0
                    self.resets += 1
                self._ino = st.st_ino
                if st.st_size == self.offset:
                    return b""
                f.seek(self.offset)
                data = f.read(limit)
        except FileNotFoundError:
            return b""
        self.offset += len(data)
        return data

    def read_available(self) -> bytes:
        """Everything there is right now (may be large on a first re-attach)."""
        parts: list[bytes] = []
        while True:
            chunk = self.read()
            if not chunk:
                return b"".join(parts)
            parts.append(chunk)


@dataclass
class RunHandle:
    """A started run, identified by its run-state dir."""
    state_dir: Path

    def state(self) -> dict[str, Any]:
        st = read_state(self.state_dir)
        if st is None:
            raise FileNotFoundError(f"no {STATE_FILE} in {self.state_dir}")
        return st

    @property
    def run_id(self) -> str:
        return self.state_dir.name

    def trainer_alive(self, st: dict[str, Any] | None = None) -> bool:
        """Is any process of the trainer's group still running?"""
        st = st or self.state()
        if st.get("pid") is None:
            return False
        host = hosts.from_state(st)           # the pids are the host's
        return (host.pid_alive(st["pid"], st.get("pid_start_ticks"))
                or bool(host.group_members(st.get("pgid"), st.get("pid_start_ticks"))))

    def supervisor_alive(self, st: dict[str, Any] | None = None) -> bool:
        st = st or self.state()
        return hosts.from_state(st).pid_alive(st.get("supervisor_pid"))

    def effective_status(self, st: dict[str, Any] | None = None) -> str:
        """``state.json``'s status, checked against reality: ``lost`` when the
        state says running/starting but no process of the run exists any more
        (the supervisor was killed too, so the exit code is unknown)."""
        st = st or self.state()
        status = cast(str, st.get("status"))  # state.json always has one
        if status in ("running", "starting"):
            if self.trainer_alive(st) or self.supervisor_alive(st):
                return status
            st2 = read_state(self.state_dir) or st     # may just have been finalised
            if st2.get("status") not in ("running", "starting"):
                return cast(str, st2.get("status"))
            if st2.get("status") == "running" and st2.get("pid"):
                return cast(str, self.conclude_from_log(st2).get("status", "lost"))
            return "lost"
        return status

    def conclude_from_log(self, st: dict[str, Any]) -> dict[str, Any]:
        """The supervisor was killed (``kill -9``, or a plain ``kill``) and no process
        of the run is left, so nobody recorded how it ended: read that from the log
        (the launcher's exit lines, ``TRAINING COMPLETE!``, ``Manually quitting``),
        record it in ``state.json`` (``exit_inferred`` says so) and return the state.
        When the log does not tell, the status recorded is ``lost`` (exit code None)."""
        from dpgui_qt.core.run.supervisor import (
            RunDirBinder, clear_signal_files, iso, read_json, REQUEST_FILE, write_json_atomic,
        )
        rc, why = _exit_from_log(st.get("log_path"))
        st = dict(st)
        if not st.get("run_dir"):
            req = read_json(self.state_dir / REQUEST_FILE)
            if req:
                st["run_dir"] = RunDirBinder(req, st.get("pgid"), st.get("pid_start_ticks")).find()
        try:
            ended = os.stat(st["log_path"]).st_mtime
        except (OSError, KeyError, TypeError):
            ended = time.time()
        # "lost": it ended, but nothing says how (the exit code is unknown)
        st.update(status="exited" if rc is not None else "lost", exit_code=rc, ended_at=iso(ended),
                  exit_inferred=f"the run supervisor was gone; {why}",
                  signal_files_cleared=clear_signal_files(st.get("run_dir")))
        try:
            write_json_atomic(self.state_dir / STATE_FILE, st)
        except OSError:
            pass
        return st

    def is_active(self) -> bool:
        return self.effective_status() in ("starting", "running")

    def follower(self, offset: int = 0) -> LogFollower:
        st = self.state()
        host = hosts.from_state(st)
        # a log this machine sees (local, WSL through its share) is read directly
        direct = host.is_this_machine or host.to_local_path(host.to_host_path(st["log_path"]))
        return LogFollower(st["log_path"], offset, host=None if direct else host)

    def wait(self, timeout: float | None = None, poll_s: float = 0.1) -> dict[str, Any]:
        """Block until the supervisor has recorded the end (or timeout); returns the state."""
        deadline = None if timeout is None else time.time() + timeout
        while True:
            st = self.state()
            if self.effective_status(st) not in ("running", "starting"):
                return self.state()
            if deadline is not None and time.time() >= deadline:
                return st
            time.sleep(poll_s)


_TAIL_BYTES = 1 << 20


def _exit_from_log(log_path: str | None) -> tuple[int | None, str]:
    """(exit code, how it was inferred) from the end of a console log."""
    from dpgui_qt.core.run.parse import (
        CompleteEvent, ExitCodeEvent, ManualQuitEvent, parse_bytes,
    )
    try:
        with open(log_path, "rb") as f:  # type: ignore[arg-type]
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - _TAIL_BYTES))
            data = f.read(_TAIL_BYTES)
    except (OSError, TypeError):
        return None, "its log cannot be read, so the exit code is unknown"
    if size > _TAIL_BYTES:
        data = data[data.find(b"\n") + 1:]       # drop the cut first line
    events = parse_bytes(data)
    failed = [e.rc for e in events if type(e) is ExitCodeEvent and e.rc != 0]
    if failed:
        return failed[-1], "the launcher's log reports a non-zero exit code"
    if any(type(e) is CompleteEvent for e in events):
        return 0, "the log ends with TRAINING COMPLETE!"
    if any(type(e) is ManualQuitEvent for e in events):
        return 0, "the log shows the trainer quitting after save_quit"
    if any(type(e) is ExitCodeEvent for e in events):
        return 0, "the launcher's log reports that its processes exited successfully"
    return None, "the log does not say how it ended, so the exit code is unknown"


def active_runs(output_dir: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """States of the runs dpgui started on ``output_dir`` that are still active
    (from the registry in ``<output_dir>/.dpgui-logs``; any GUI or CLI)."""
    from dpgui_qt.core.run.supervisor import registered_runs
    out = []
    for entry in registered_runs(output_dir):
        h = RunHandle(Path(entry["state_dir"]))
        try:
            st = h.state()
        except FileNotFoundError:
            continue
        if h.effective_status(st) in ("starting", "running"):
            out.append(st)
    return out


def attach(state_dir: str | os.PathLike[str]) -> RunHandle:
    """Re-attach to a run by its run-state dir (raises FileNotFoundError)."""
    h = RunHandle(Path(state_dir))
    h.state()
    return h


def list_sessions(state_root: str | os.PathLike[str], active_only: bool = False) -> list[RunHandle]:
    """Runs started under ``state_root``, newest first (what a GUI checks at start-up)."""
    root = Path(state_root)
    try:
        dirs = sorted((d for d in root.iterdir() if (d / STATE_FILE).is_file()),
                      key=lambda d: d.name, reverse=True)
    except OSError:
        return []
    out = [RunHandle(d) for d in dirs]
    return [h for h in out if h.is_active()] if active_only else out


# --------------------------------------------------------------------------
# run folders in output_dir
@dataclass
class SavedModel:
    name: str           # epoch5 / step500
    kind: str           # "epoch" | "step"
    number: int
    path: Path
    size_bytes: int


@dataclass
class RunFolder:
    name: str
    path: Path
    started: datetime | None             # UTC, from the folder name
    latest_tag: str | None               # contents of the `latest` file
    checkpoints: list[str] = field(default_factory=list)   # global_step* folder names
    saves: list[SavedModel] = field(default_factory=list)  # newest first
    config_copy: Path | None = None
    model_type: str | None = None
    size_bytes: int | None = None

    @property
    def resumable(self) -> bool:
        """diffusion-pipe asserts unless the run folder has a `latest` file."""
        return self.latest_tag is not None

    @property
    def has_checkpoint(self) -> bool:
        return self.latest_tag is not None or bool(self.checkpoints)


def _dir_size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                st = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            total += st.st_size
    return total


def _model_config(run_dir: Path) -> tuple[Path | None, str | None]:
    """The copy of the main config (the .toml that has a [model] table)."""
    for p in sorted(run_dir.glob("*.toml")):
        try:
            with open(p, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            continue
        model = data.get("model")
        if isinstance(model, dict):
            mt = model.get("type")
            return p, str(mt) if mt is not None else None
    return None, None


def _step_number(name: str, prefix: str) -> int:
    try:
        return int(name[len(prefix):])
    except ValueError:
        return -1


def read_run_folder(path: str | os.PathLike[str], with_sizes: bool = True) -> RunFolder:
    path = Path(path)
    latest = None
    try:
        latest = (path / "latest").read_text(encoding="utf-8", errors="replace").strip() or ""
    except OSError:
        pass
    ckpts, saves = [], []
    try:
        entries = list(path.iterdir())
    except OSError:
        entries = []
    for e in entries:
        if not e.is_dir():
            continue
        n = e.name
        if n.startswith("global_step") and n[11:].isdigit():
            ckpts.append(n)
        for kind in ("epoch", "step"):
            if n.startswith(kind) and n[len(kind):].isdigit():
                saves.append(SavedModel(n, kind, int(n[len(kind):]), e,
                                        _dir_size(e) if with_sizes else 0))
    ckpts.sort(key=lambda n: _step_number(n, "global_step"), reverse=True)
    saves.sort(key=lambda s: (s.path.stat().st_mtime if s.path.exists() else 0, s.number),
               reverse=True)
    cfg, mt = _model_config(path)
    return RunFolder(path.name, path, parse_run_dir_name(path.name), latest, ckpts, saves, cfg, mt,
                     _dir_size(path) if with_sizes else None)


def list_runs(output_dir: str | os.PathLike[str], with_sizes: bool = True) -> list[RunFolder]:
    """Run folders (``<UTC %Y%m%d_%H-%M-%S>``) in ``output_dir``, newest first."""
    try:
        names = [n for n in os.listdir(output_dir) if RUN_DIR_RE.match(n)]
    except OSError:
        return []
    names = [n for n in names if os.path.isdir(os.path.join(output_dir, n))]
    names.sort(reverse=True)
    return [read_run_folder(Path(output_dir) / n, with_sizes) for n in names]


def resume_candidates(output_dir: str | os.PathLike[str]) -> list[RunFolder]:
    """Picker data for "resume from checkpoint": folders with a `latest` file, newest first."""
    return [r for r in list_runs(output_dir, with_sizes=False) if r.resumable]
