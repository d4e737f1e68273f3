"""A detached supervisor that owns one training run, so the run outlives the GUI.

Why a supervisor: if the GUI started the trainer itself with a pipe for its
output, closing or crashing the GUI would break the pipe (SIGPIPE / blocked
writes) and nobody would record the exit code.  Instead::

    GUI/CLI --start_run()--> python supervisor.py <run-state-dir>
                                 |  (new session, forks once and the
                                 |   intermediate exits, so nobody has to reap it)
                                 +--> deepspeed ... train.py ...   (own session
                                      and process group; stdout+stderr go
                                      straight into the log file)

The log file is the single source of truth for the console; the state file
(``state.json``, written atomically, only by the supervisor once it runs)
records pid/pgid, paths, timing, the run folder once discovered and the exit
code.  A GUI started later re-attaches by reading the state file and tailing
the log (see ``runs.LogFollower``/``runs.attach``).

This module uses the standard library only and is started by file path, so it
works whether or not dpgui is installed.  Files in a run-state dir:

* ``request.json`` - what to run (written by ``start_run``)
* ``state.json``   - see ``STATE_FIELDS``
* ``control.json`` - the last control request (written by ``control.py``)
* ``supervisor.err`` - the supervisor's own stderr (normally empty)
"""
from __future__ import annotations

from typing import Any, BinaryIO, Callable, cast

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

STATE_FILE = "state.json"
REQUEST_FILE = "request.json"
CONTROL_FILE = "control.json"
SUPERVISOR_ERR = "supervisor.err"
STATE_VERSION = 1
LOG_SUBDIR = ".dpgui-logs"       # hidden: train.py's bare --resume_from_checkpoint globs output_dir/*

# diffusion-pipe names run folders with datetime.now(timezone.utc).strftime('%Y%m%d_%H-%M-%S')
RUN_DIR_RE = re.compile(r"^\d{8}_\d{2}-\d{2}-\d{2}$")
RUN_DIR_FORMAT = "%Y%m%d_%H-%M-%S"

STATE_FIELDS = {
    "version": "state-file format version (1)",
    "run_id": "name of the run-state dir (UTC stamp + random suffix)",
    "status": "starting | running | exited | failed_to_start | lost (ended, the supervisor was "
              "gone and the log does not say how)",
    "argv": "list[str] executed (no shell)",
    "env": "dict of variables dpgui added on top of the inherited environment",
    "cwd": "working directory of the trainer process (a host path)",
    "config": "main config path as given",
    "output_dir": "output_dir of the config on this host (None if unknown)",
    "resume_from": "run-folder name being resumed, or None",
    "log_path": "the console log file (stdout+stderr of the trainer)",
    "state_dir": "this run-state dir",
    "supervisor_pid": "pid of the supervisor",
    "pid": "pid of the trainer (the deepspeed launcher)",
    "pgid": "its process group (== pid; also its session id)",
    "pid_start_ticks": "/proc/<pid>/stat starttime, to detect pid reuse",
    "started_at": "ISO-8601 UTC time the trainer was started",
    "started_at_epoch": "same as a float (time.time())",
    "run_dir": "the output_dir/<UTC stamp> folder once discovered, else None",
    "ended_at": "ISO-8601 UTC time of exit, else None",
    "exit_code": "trainer exit status (negative = killed by that signal), else None",
    "stop_request": "the last control action requested (save/save_quit/stop/kill) or None",
    "orphans_killed": "pids of group members SIGKILLed after the launcher exited",
    "error": "why the trainer could not be started (or its log could not be written), else None",
    "signal_files_cleared": "save/save_quit files left unconsumed in run_dir, removed at the end",
    "exit_inferred": "set when the supervisor was gone and the end was read from the log",
    "host": "where the trainer runs: a host spec dict (kind + fields), None = this machine; "
            "pids are that host's, paths are this machine's",
}


# --------------------------------------------------------------------------
# small file helpers
def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write JSON so that readers see the old or the new file, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)   # the rename itself must survive a crash too
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Flush a folder's entries (a rename in it) to disk; a no-op where folders
    cannot be opened (Windows)."""
    if os.name == "nt":  # pragma: no cover
        return
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as f:
            return cast("dict[str, Any] | None", json.load(f))  # what dpgui wrote: an object
    except (OSError, ValueError):
        return None


def read_state(state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    return read_json(Path(state_dir) / STATE_FILE)


# --------------------------------------------------------------------------
# processes via /proc (Linux); os.kill(pid, 0) elsewhere
def proc_stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgrp, session, starttime ticks) from /proc/<pid>/stat, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read().decode("ascii", "replace")
    except OSError:
        return None
    return parse_proc_stat(raw)


def parse_proc_stat(raw: str) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, pgrp, session, starttime ticks) from one ``/proc/<pid>/stat`` line."""
    rest = raw.rpartition(")")[2].split()
    try:
        return rest[0], int(rest[1]), int(rest[2]), int(rest[3]), int(rest[19])
    except (IndexError, ValueError):
        return None


def _have_proc() -> bool:
    return os.path.isdir("/proc/self")


def pid_alive(pid: int | None, start_ticks: int | None = None) -> bool:
    """Is ``pid`` a live (non-zombie) process, and the same one that had
    ``start_ticks`` when recorded (guards against pid reuse)?"""
    if not pid or pid <= 0:
        return False
    if _have_proc():
        st = proc_stat(pid)
        if st is None or st[0] in ("Z", "X"):
            return False
        return start_ticks is None or st[4] == start_ticks
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_members(pgid: int | None, leader_ticks: int | None = None) -> list[int]:
    """Live pids whose process group or session is ``pgid`` (the trainer is
    started as a session leader, so both ids equal its pid).  Returns [] if the
    id has been reused by an unrelated process."""
    if not pgid or pgid <= 0:
        return []
    if not _have_proc():
        try:
            os.killpg(pgid, 0)
            return [pgid]
        except OSError:
            return []
    leader = proc_stat(pgid)
    if leader is not None and leader_ticks is not None and leader[4] != leader_ticks:
        # The kernel does not hand out a pid that is still some group's or
        # session's id, so a different process at pid==pgid means our group is gone.
        return []
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st is None or st[0] in ("Z", "X"):
            continue
        if st[2] == pgid or st[3] == pgid:
            out.append(int(name))
    return sorted(out)


def signal_group(pgid: int, sig: int, leader_ticks: int | None = None) -> list[int]:
    """Send ``sig`` to the whole group/session; returns the pids signalled."""
    members = group_members(pgid, leader_ticks)
    if not members:
        return []
    if hasattr(os, "killpg"):
        try:
            os.killpg(pgid, sig)
        except OSError:
            pass
    for pid in members:          # members that left the group but stayed in the session
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    return members


# --------------------------------------------------------------------------
# run-folder binding
#
# Several runs may share one output_dir (an lr sweep on a multi-GPU box), so the
# newest stamped folder is not necessarily ours.  A folder is bound to a run only
# on evidence the trainer itself leaves: diffusion-pipe's rank 0 opens a
# TensorBoard writer directly in its run folder before the first step, and the
# event file's name carries the writer's pid
# (``events.out.tfevents.<time>.<host>.<pid>.<n>``).  That pid is ours when the
# launcher named it in our log (``process <pid> spawned with command: ...``) or
# when it is a member of our trainer's process group/session.
def parse_run_dir_name(name: str) -> datetime | None:
    if not RUN_DIR_RE.match(name):
        return None
    try:
        return datetime.strptime(name, RUN_DIR_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


TFEVENTS_RE = re.compile(r"^events\.out\.tfevents\.\d+(?:\.\d+)?\.(?P<host>.+)\.(?P<pid>\d+)\.\d+")
SPAWNED_RE = re.compile(rb"process (\d+) spawned with command")
LOG_SCAN_LIMIT = 4 << 20      # the launcher names its ranks in the first kilobytes
SIGNAL_FILES = ("save", "save_quit")
ORPHAN_KILL_WAIT_S = 60.0   # ceiling for SIGKILLed orphans to leave /proc
# ceiling for the supervisor to start the trainer: the wait ends as soon as it has;
# giving up early would report a failed start while the run goes on unfollowed
START_WAIT_S = 60.0


def tfevents_pids(run_dir: str | os.PathLike[str]) -> set[int]:
    """Pids of the processes that wrote TensorBoard event files in ``run_dir``."""
    try:
        names = os.listdir(run_dir)
    except OSError:
        return set()
    out = set()
    for n in names:
        m = TFEVENTS_RE.match(n)
        if m is not None:
            out.add(int(m.group("pid")))
    return out


class RunDirBinder:
    """Finds the run folder of one run from evidence (see above), never from timing
    alone.  ``observe()`` collects the trainer's pids (call it while the trainer
    runs); ``find()`` returns the folder or None while there is no evidence yet."""

    def __init__(self, request: dict[str, Any], pgid: int | None = None, ticks: int | None = None,
                 slack_s: float = 2.0):
        self.output_dir = request.get("output_dir")
        self.exclude = set(request.get("preexisting_run_dirs") or [])
        self.since = float(request.get("requested_at_epoch") or 0.0) - slack_s
        self.log_path = request.get("log_path")
        self.pgid, self.ticks = pgid, ticks
        self.pids: set[int] = set()
        self._log_off = 0

    def observe(self) -> None:
        self._scan_log()
        if self.pgid and _have_proc():
            self.pids.update(group_members(self.pgid, self.ticks))

    def _scan_log(self) -> None:
        if not self.log_path or self._log_off >= LOG_SCAN_LIMIT:
            return
        try:
            with open(self.log_path, "rb") as f:
                f.seek(self._log_off)
                data = f.read(LOG_SCAN_LIMIT - self._log_off)
        except OSError:
            return
        end = data.rfind(b"\n") + 1
        if end == 0 and len(data) < LOG_SCAN_LIMIT - self._log_off:
            return                      # an unfinished first line: read it again later
        data = data[:end] if end else data
        self._log_off += len(data)
        self.pids.update(int(m.group(1)) for m in SPAWNED_RE.finditer(data))

    def _ours(self, pid: int) -> bool:
        if pid in self.pids:
            return True
        if not (self.pgid and _have_proc()):
            return False
        leader = proc_stat(self.pgid)
        if leader is not None and self.ticks is not None and leader[4] != self.ticks:
            return False                # our session is gone and its id was reused
        st = proc_stat(pid)
        if st is not None and st[0] not in ("Z", "X") and self.pgid in (st[2], st[3]):
            self.pids.add(pid)
            return True
        return False

    def candidates(self) -> list[str]:
        """New stamped folders of output_dir (made at or after the request), newest first."""
        if not self.output_dir:
            return []
        try:
            names = os.listdir(self.output_dir)
        except OSError:
            return []
        out = []
        for name in names:
            ts = parse_run_dir_name(name)
            if ts is None or name in self.exclude or ts.timestamp() < self.since:
                continue
            path = os.path.join(os.fspath(self.output_dir), name)
            if os.path.isdir(path):
                out.append(path)
        return sorted(out, reverse=True)

    def find(self, scan_log: bool = True) -> str | None:
        if scan_log:
            self._scan_log()
        for path in self.candidates():
            if any(self._ours(pid) for pid in tfevents_pids(path)):
                return path
        return None


def locate_run_dir(state: dict[str, Any]) -> str | None:
    """The run folder: from the state, or bound now from the same evidence the
    supervisor uses (it looks only periodically; a caller may need it at once)."""
    if state.get("run_dir"):
        return str(state["run_dir"])
    sd = state.get("state_dir")
    req = read_json(Path(sd) / REQUEST_FILE) if sd else None
    if not req:
        return None
    # cheap enough for a GUI that asks on every status change: no log scan, and
    # only the pids named in new folders' event files are looked up in /proc
    return RunDirBinder(req, state.get("pgid"), state.get("pid_start_ticks")).find(scan_log=False)


def existing_run_dirs(output_dir: str | os.PathLike[str] | None) -> list[str]:
    try:
        return [n for n in os.listdir(output_dir) if RUN_DIR_RE.match(n)] if output_dir else []
    except OSError:
        return []


def clear_signal_files(run_dir: str | os.PathLike[str] | None) -> list[str]:
    """Remove ``save``/``save_quit`` files the trainer did not consume (it deletes
    them when it acts on them), so that they cannot stop the next resume."""
    removed: list[str] = []
    if not run_dir:
        return removed
    for name in SIGNAL_FILES:
        p = os.path.join(run_dir, name)
        try:
            if os.path.isfile(p) and not os.path.islink(p):
                os.unlink(p)
                removed.append(name)
        except OSError:
            pass
    return removed


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free space for an unprivileged writer at ``path`` (None if unknown)."""
    try:
        st = os.statvfs(path)
    except (OSError, AttributeError):
        try:
            import shutil
            return shutil.disk_usage(path).free
        except OSError:
            return None
    return st.f_bavail * st.f_frsize


# --------------------------------------------------------------------------
# starting (runs in the caller: GUI or CLI)
def log_dir_for(output_dir: str | None) -> Path | None:
    """``<output_dir>/.dpgui-logs`` if it can be made and written, else None."""
    if not output_dir:
        return None
    d = Path(output_dir) / LOG_SUBDIR
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return d if os.access(d, os.W_OK) else None


def default_log_path(output_dir: str | None, state_dir: Path, run_id: str) -> Path:
    """``dpgui-<run id>.log``: the run id (UTC stamp + random suffix) keeps two
    launches in the same second apart."""
    d = log_dir_for(output_dir)
    return (d or state_dir) / f"dpgui-{run_id}.log"


def _create_log(path: Path) -> None:
    """Create the log file, refusing to share one with another run."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    os.close(fd)


REGISTRY_SUFFIX = ".run.json"


def register_run(output_dir: str | None, request: dict[str, Any]) -> Path | None:
    """Leave a pointer to the run-state dir in ``<output_dir>/.dpgui-logs`` so that
    any dpgui (GUI or CLI, whatever its state folder) sees the runs active on this
    output_dir."""
    d = log_dir_for(output_dir)
    if d is None:
        return None
    p = d / f"dpgui-{request['run_id']}{REGISTRY_SUFFIX}"
    try:
        write_json_atomic(p, {"run_id": request["run_id"], "state_dir": request["state_dir"],
                              "config": request.get("config"), "log_path": request["log_path"],
                              "requested_at_epoch": request["requested_at_epoch"]})
    except OSError:
        return None
    return p


def registered_runs(output_dir: str | os.PathLike[str] | None) -> list[dict[str, Any]]:
    """The registry entries of ``output_dir`` (any state, newest first)."""
    if not output_dir:
        return []
    d = Path(output_dir) / LOG_SUBDIR
    try:
        names = sorted((n for n in os.listdir(d) if n.endswith(REGISTRY_SUFFIX)), reverse=True)
    except OSError:
        return []
    out = []
    for n in names:
        e = read_json(d / n)
        if isinstance(e, dict) and e.get("state_dir"):
            out.append(e)
    return out


def start_run(argv: list[str], state_root: str | os.PathLike[str], *,
              env: dict[str, str] | None = None, cwd: str | None = None,
              config: str | None = None, output_dir: str | None = None,
              resume_from: str | None = None, log_path: str | os.PathLike[str] | None = None,
              orphan_grace_s: float = 10.0, wait_s: float = START_WAIT_S,
              python: str | None = None, host: dict[str, Any] | None = None,
              to_host: Callable[[str], str] | None = None,
              spawn: Callable[[Path], None] | None = None) -> dict[str, Any]:
    """Start ``argv`` under a detached supervisor; return the state dict once the
    trainer has been started (``status`` is then ``running``, ``exited`` or
    ``failed_to_start``).  ``env`` is merged over the supervisor's environment.
    ``output_dir`` (a local path) is used to place the log and find the run folder.

    Where the supervisor runs is the host's business (``core/run/hosts``): ``host``
    is its spec (recorded in the state), ``to_host`` turns a local path into the
    host's (the supervisor then works with host paths; ``state.json`` keeps local
    ones), and ``spawn(state_dir)`` starts the supervisor detached.  The default is
    this machine.  Raises ``RuntimeError`` if the supervisor cannot be started."""
    state_dir, state = prepare_run(argv, state_root, env=env, cwd=cwd, config=config,
                                   output_dir=output_dir, resume_from=resume_from,
                                   log_path=log_path, orphan_grace_s=orphan_grace_s,
                                   host=host, to_host=to_host)
    if spawn is None:
        def spawn(sd: Path) -> None:
            spawn_local_supervisor(sd, python=python, wait_s=wait_s)
    try:
        spawn(state_dir)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"could not start the run supervisor: {e}") from e
    return wait_started(state_dir, state, wait_s)


SUPERVISOR_SCRIPT = os.path.abspath(__file__)


def spawn_local_supervisor(state_dir: Path, *, python: str | None = None,
                           wait_s: float = START_WAIT_S) -> None:
    """Start the supervisor for ``state_dir`` on this machine, detached (its own
    session; it forks once, so nobody has to reap it).  Raises OSError or
    subprocess.TimeoutExpired."""
    # -I: the supervisor needs only the standard library, and isolation keeps
    # this folder (spec.py, parse.py, ...) and PYTHON* variables out of its sys.path.
    cmd = [python or sys.executable, "-I", SUPERVISOR_SCRIPT, str(state_dir)]
    with open(state_dir / SUPERVISOR_ERR, "ab") as err:
        if os.name == "nt":  # pragma: no cover - dpgui's own Windows tests
            flags = (getattr(subprocess, "DETACHED_PROCESS", 0x8)
                     | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
                     | getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000))
            subprocess.Popen(cmd + ["--foreground"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, creationflags=flags,
                             close_fds=True)
        else:
            p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=err, start_new_session=True, close_fds=True)
            p.wait(timeout=wait_s)    # the intermediate exits as soon as it has forked


def prepare_run(argv: list[str], state_root: str | os.PathLike[str], *,
                env: dict[str, str] | None = None, cwd: str | None = None,
                config: str | None = None, output_dir: str | None = None,
                resume_from: str | None = None, log_path: str | os.PathLike[str] | None = None,
                orphan_grace_s: float = 10.0, host: dict[str, Any] | None = None,
                to_host: Callable[[str], str] | None = None) -> tuple[Path, dict[str, Any]]:
    """Make the run-state dir, the log file, ``request.json`` and the first
    ``state.json`` (the caller's side of a start); returns (state dir, state)."""
    if not argv or not isinstance(argv, (list, tuple)):
        raise ValueError("argv must be a non-empty list")
    state_root = Path(state_root)
    state_root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime(RUN_DIR_FORMAT)
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    state_dir = state_root / run_id
    state_dir.mkdir()
    if log_path:
        log = Path(log_path)
        log.parent.mkdir(parents=True, exist_ok=True)
    else:
        log = default_log_path(output_dir, state_dir, run_id)
        try:
            _create_log(log)
        except FileExistsError:      # astronomically unlikely: same second, same suffix
            raise RuntimeError(f"{log} already exists; start the run again") from None
    request: dict[str, Any] = {
        "version": STATE_VERSION, "run_id": run_id, "argv": [str(a) for a in argv],
        "env": dict(env or {}), "cwd": cwd, "config": config, "output_dir": output_dir,
        "resume_from": resume_from, "log_path": str(log), "state_dir": str(state_dir),
        "orphan_grace_s": orphan_grace_s, "requested_at_epoch": now,
        "preexisting_run_dirs": existing_run_dirs(output_dir), "host": host,
    }
    if to_host is not None:
        # the supervisor runs on the host and opens these there; state.json keeps
        # the local spelling for this machine's readers
        request["host_paths"] = {k: to_host(request[k]) for k in HOST_PATH_KEYS if request.get(k)}
        request["local_sep"] = os.sep
    write_json_atomic(state_dir / REQUEST_FILE, request)
    register_run(output_dir, request)
    state = _initial_state(request)
    write_json_atomic(state_dir / STATE_FILE, state)
    return state_dir, state


HOST_PATH_KEYS = ("log_path", "state_dir", "output_dir")


def wait_started(state_dir: Path, state: dict[str, Any], wait_s: float) -> dict[str, Any]:
    """Wait until the supervisor has started the trainer (or failed to)."""
    deadline = time.time() + wait_s
    while time.time() < deadline:
        st = read_state(state_dir) or state
        if st.get("status") != "starting":
            return st
        time.sleep(0.02)
    raise RuntimeError(f"the run supervisor did not start the trainer within {wait_s:.0f} s; "
                       f"see {state_dir / SUPERVISOR_ERR}")


def _masked(env: dict[str, Any]) -> dict[str, Any]:
    try:
        from dpgui_qt.core.secrets import is_secret_name, mask
    except ImportError:          # started by path (-I): mask every value rather than leak one
        return {k: "****" for k in env}
    return {k: (mask(v) if is_secret_name(k) else v) for k, v in env.items()}


def _initial_state(request: dict[str, Any]) -> dict[str, Any]:
    st: dict[str, Any] = {k: None for k in STATE_FIELDS}
    st.update({k: request.get(k) for k in ("run_id", "argv", "env", "cwd", "config",
                                           "output_dir", "resume_from", "log_path", "state_dir",
                                           "host")})
    st.update(version=STATE_VERSION, status="starting", orphans_killed=[])
    # state.json is read by every follower and shown in the GUI: no secret in clear
    # (request.json keeps the real values for the supervisor; it is private, mode 0600)
    st["env"] = _masked(st.get("env") or {})
    if request.get("resume_from") and request.get("output_dir"):
        st["run_dir"] = os.path.join(request["output_dir"], request["resume_from"])
    return st


# --------------------------------------------------------------------------
# the supervisor process
class _Supervisor:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        request = read_json(state_dir / REQUEST_FILE)
        if request is None:
            raise SystemExit(f"no readable {REQUEST_FILE} in {state_dir}")
        self.request: dict[str, Any] = request
        self.state = read_state(state_dir) or _initial_state(self.request)
        self.state["supervisor_pid"] = os.getpid()
        # the request as this (host) side spells its paths; state.json keeps the
        # caller's spelling (see prepare_run)
        self.hreq = {**self.request, **(self.request.get("host_paths") or {})}

    def local_run_dir(self, run_dir: str) -> str:
        """A run folder found here, spelled as the caller sees it."""
        if not self.request.get("host_paths") or not self.request.get("output_dir"):
            return run_dir
        sep = self.request.get("local_sep") or os.sep
        return str(self.request["output_dir"]).rstrip("/\\") + sep + os.path.basename(run_dir)

    def host_run_dir(self) -> str | None:
        """The bound run folder as this side spells it."""
        rd = self.state.get("run_dir")
        if not rd or not self.request.get("host_paths"):
            return rd
        od = self.hreq.get("output_dir")
        return os.path.join(od, rd.replace("\\", "/").rsplit("/", 1)[-1]) if od else None

    def save(self) -> None:
        ctl = read_json(self.state_dir / CONTROL_FILE)
        if ctl and ctl.get("action"):
            self.state["stop_request"] = ctl["action"]
        write_json_atomic(self.state_dir / STATE_FILE, self.state)

    def run(self) -> int:
        req = self.hreq
        env = dict(os.environ)
        env.update(req.get("env") or {})
        log_path = req["log_path"]
        started = time.time()
        try:
            logf = open(log_path, "ab", buffering=0)
        except OSError as e:
            return self._fail(started, f"dpgui: cannot write the console log {log_path}: "
                              f"{e.strerror or e}", log=None)
        full = self._log_disk_full(log_path)
        if full:
            return self._fail(started, full, log=logf)
        if req.get("resume_from") and self.host_run_dir():
            stale = clear_signal_files(self.host_run_dir())
            if stale:
                self._note(logf, f"dpgui: removed {' and '.join(stale)} left in "
                                 f"{self.state['run_dir']} by an earlier run (it would have "
                                 f"stopped this run at its first step)")
        popen_kw: dict[str, Any] = {}
        if os.name == "nt":  # pragma: no cover
            popen_kw["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        else:
            popen_kw["start_new_session"] = True
        cwd = req.get("cwd") or None
        try:
            if cwd is not None and not os.path.isdir(cwd):
                raise NotADirectoryError(f"working directory {cwd} does not exist")
            proc = subprocess.Popen(req["argv"], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, close_fds=True, **popen_kw)
        except OSError as e:
            why = e.strerror if isinstance(e, FileNotFoundError) and e.strerror else str(e)
            return self._fail(started, f"dpgui: could not start {req['argv'][0]!r}: {why}", log=logf)
        logf.close()             # the trainer holds its own copy of the descriptor
        st = proc_stat(proc.pid)
        self.state.update(status="running", pid=proc.pid, pgid=proc.pid,
                          pid_start_ticks=st[4] if st else None,
                          started_at=iso(started), started_at_epoch=started)
        self.save()

        binder = RunDirBinder(req, proc.pid, self.state.get("pid_start_ticks"))
        last_scan = 0.0
        while True:
            try:
                rc = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.state.get("run_dir") is None and time.time() - last_scan >= 0.25:
                last_scan = time.time()
                binder.observe()
                self._found(binder.find())
        if self.state.get("run_dir") is None:
            self._found(binder.find(), save=False)
        self.state["orphans_killed"] = self._reap_orphans(proc.pid, self.state.get("pid_start_ticks"),
                                                          float(req.get("orphan_grace_s", 10.0)))
        # save/save_quit files the trainer never saw would stop the next resume
        self.state["signal_files_cleared"] = clear_signal_files(self.host_run_dir())
        if rc != 0:
            full = self._log_disk_full(log_path)
            if full:
                self.state["error"] = full
        self.state.update(status="exited", exit_code=rc, ended_at=iso(time.time()))
        self.save()
        return 0

    @staticmethod
    def _log_disk_full(log_path: str, need: int = 64 << 10) -> str | None:
        """A message when the log's disk has (almost) no room left, else None."""
        free = free_bytes(os.path.dirname(os.path.abspath(log_path)))
        if free is None or free >= need:
            return None
        return (f"dpgui: no space left on the disk of the console log {log_path} "
                f"({free} bytes free): the trainer's output cannot be written. Free some "
                f"space or choose an output_dir on a disk with room.")

    @staticmethod
    def _note(logf: BinaryIO, msg: str) -> None:
        try:
            logf.write((msg + "\n").encode())
        except OSError:
            pass

    def _fail(self, started: float, msg: str, log: BinaryIO | None) -> int:
        if log is not None:
            self._note(log, msg)
            log.close()
        print(msg, file=sys.stderr)          # supervisor.err, in the run-state dir
        self.state.update(status="failed_to_start", error=msg, started_at=iso(started),
                          started_at_epoch=started, ended_at=iso(time.time()))
        self.save()
        return 1

    def _found(self, run_dir: str | None, save: bool = True) -> None:
        if not run_dir:
            return
        self.state["run_dir"] = self.local_run_dir(run_dir)
        # best effort: a link to the console log next to the checkpoints
        link = Path(run_dir) / Path(self.hreq["log_path"]).name
        try:
            if not link.exists():
                link.symlink_to(self.hreq["log_path"])
        except OSError:
            pass
        if save:
            self.save()

    @staticmethod
    def _reap_orphans(pgid: int, ticks: int | None, grace: float) -> list[int]:
        """Ranks left behind by a launcher that died would keep holding GPU memory."""
        if os.name == "nt":  # pragma: no cover
            return []
        deadline = time.monotonic() + grace
        while group_members(pgid, ticks) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = group_members(pgid, ticks)
        if not left:
            return []
        # SIGKILL is not instant: a process stays in /proc until the kernel has run its
        # exit, which on a busy machine takes a while.  "exited" in the state must mean
        # nothing of the run is left, so wait (re-sending, in case one forked meanwhile)
        # until the group is empty, within a generous ceiling.
        killed = set(left)
        deadline = time.monotonic() + ORPHAN_KILL_WAIT_S
        while True:
            killed.update(signal_group(pgid, signal.SIGKILL, ticks))
            time.sleep(0.05)
            if not group_members(pgid, ticks) or time.monotonic() >= deadline:
                return sorted(killed)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: supervisor.py RUN_STATE_DIR [--foreground | --no-fork]", file=sys.stderr)
        return 2
    state_dir = Path(argv[0]).resolve()
    # No signal is set to SIG_IGN here: ignored dispositions would be inherited
    # by the trainer.  The new session has no controlling terminal, so no
    # terminal SIGINT/SIGHUP reaches this process anyway.
    # --foreground: stay the process the starter started (it keeps a handle);
    # --no-fork: the same, but in a session of its own (a starter such as
    # wsl.exe stays attached to it and keeps its Linux side alive).
    if hasattr(os, "fork") and "--foreground" not in argv:
        if "--no-fork" not in argv and os.fork() > 0:
            os._exit(0)   # the starter reaps this intermediate at once
        try:
            os.setsid()
        except OSError:
            pass
    return _Supervisor(state_dir).run()


if __name__ == "__main__":
    sys.exit(main())
