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
    "status": "starting | running | exited | failed_to_start",
    "argv": "list[str] executed (no shell)",
    "env": "dict of variables dpgui added on top of the inherited environment",
    "cwd": "working directory of the trainer process (None with wsl.exe)",
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
    "error": "why the trainer could not be started, else None",
}


# --------------------------------------------------------------------------
# small file helpers
def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: str | os.PathLike, data: dict) -> None:
    """Write JSON so that readers see the old or the new file, never half of one."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix="." + path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_json(path: str | os.PathLike) -> dict | None:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def read_state(state_dir: str | os.PathLike) -> dict | None:
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
# run-folder discovery
def parse_run_dir_name(name: str) -> datetime | None:
    if not RUN_DIR_RE.match(name):
        return None
    try:
        return datetime.strptime(name, RUN_DIR_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def discover_run_dir(output_dir: str | os.PathLike | None, since_epoch: float,
                     exclude: set[str] | frozenset[str] = frozenset(),
                     slack_s: float = 2.0) -> str | None:
    """The newest ``output_dir/<UTC stamp>/`` folder named at or after
    ``since_epoch`` (minus ``slack_s``) and not in ``exclude`` (the folders that
    existed before the start)."""
    if not output_dir:
        return None
    try:
        names = os.listdir(output_dir)
    except OSError:
        return None
    best = None
    for name in names:
        ts = parse_run_dir_name(name)
        if ts is None or name in exclude or ts.timestamp() < since_epoch - slack_s:
            continue
        if not os.path.isdir(os.path.join(output_dir, name)):
            continue
        if best is None or name > best:
            best = name
    return os.path.join(os.fspath(output_dir), best) if best else None


def locate_run_dir(state: dict) -> str | None:
    """The run folder: from the state, or discovered now (the supervisor scans
    only periodically, so a caller that needs it at once looks itself)."""
    if state.get("run_dir"):
        return state["run_dir"]
    sd = state.get("state_dir")
    req = read_json(Path(sd) / REQUEST_FILE) if sd else None
    if not req:
        return None
    since = req.get("requested_at_epoch") or state.get("started_at_epoch") or 0.0
    return discover_run_dir(req.get("output_dir"), since, set(req.get("preexisting_run_dirs") or []))


def existing_run_dirs(output_dir: str | os.PathLike | None) -> list[str]:
    try:
        return [n for n in os.listdir(output_dir) if RUN_DIR_RE.match(n)] if output_dir else []
    except OSError:
        return []


# --------------------------------------------------------------------------
# starting (runs in the caller: GUI or CLI)
def default_log_path(output_dir: str | None, state_dir: Path, stamp: str) -> Path:
    if output_dir:
        d = Path(output_dir) / LOG_SUBDIR
        try:
            d.mkdir(parents=True, exist_ok=True)
            if os.access(d, os.W_OK):
                return d / f"dpgui-{stamp}.log"
        except OSError:
            pass
    return state_dir / f"dpgui-{stamp}.log"


def start_run(argv: list[str], state_root: str | os.PathLike, *,
              env: dict[str, str] | None = None, cwd: str | None = None,
              config: str | None = None, output_dir: str | None = None,
              resume_from: str | None = None, log_path: str | os.PathLike | None = None,
              orphan_grace_s: float = 10.0, wait_s: float = 10.0,
              python: str | None = None) -> dict:
    """Start ``argv`` under a detached supervisor; return the state dict once the
    trainer has been started (``status`` is then ``running``, ``exited`` or
    ``failed_to_start``).  ``env`` is merged over the inherited environment.
    ``output_dir`` (host path) is used to place the log and find the run folder.
    Raises ``RuntimeError`` if the supervisor cannot be started."""
    if not argv or not isinstance(argv, (list, tuple)):
        raise ValueError("argv must be a non-empty list")
    state_root = Path(state_root)
    state_root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    stamp = datetime.fromtimestamp(now, timezone.utc).strftime(RUN_DIR_FORMAT)
    run_id = f"{stamp}-{secrets.token_hex(3)}"
    state_dir = state_root / run_id
    state_dir.mkdir()
    log = Path(log_path) if log_path else default_log_path(output_dir, state_dir, stamp)
    log.parent.mkdir(parents=True, exist_ok=True)
    request = {
        "version": STATE_VERSION, "run_id": run_id, "argv": [str(a) for a in argv],
        "env": dict(env or {}), "cwd": cwd, "config": config, "output_dir": output_dir,
        "resume_from": resume_from, "log_path": str(log), "state_dir": str(state_dir),
        "orphan_grace_s": orphan_grace_s, "requested_at_epoch": now,
        "preexisting_run_dirs": existing_run_dirs(output_dir),
    }
    write_json_atomic(state_dir / REQUEST_FILE, request)
    state = _initial_state(request)
    write_json_atomic(state_dir / STATE_FILE, state)

    # -I: the supervisor needs only the standard library, and isolation keeps
    # this folder (spec.py, parse.py, ...) and PYTHON* variables out of its sys.path.
    cmd = [python or sys.executable, "-I", os.path.abspath(__file__), str(state_dir)]
    err = open(state_dir / SUPERVISOR_ERR, "ab")
    try:
        if os.name == "nt":  # pragma: no cover - exercised on Windows only
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
    except (OSError, subprocess.TimeoutExpired) as e:
        raise RuntimeError(f"could not start the run supervisor: {e}") from e
    finally:
        err.close()
    deadline = time.time() + wait_s
    while time.time() < deadline:
        st = read_state(state_dir) or state
        if st.get("status") != "starting":
            return st
        time.sleep(0.02)
    raise RuntimeError(f"the run supervisor did not start the trainer within {wait_s:.0f} s; "
                       f"see {state_dir / SUPERVISOR_ERR}")


def _initial_state(request: dict) -> dict:
    st = {k: None for k in STATE_FIELDS}
    st.update({k: request.get(k) for k in ("run_id", "argv", "env", "cwd", "config",
                                           "output_dir", "resume_from", "log_path", "state_dir")})
    st.update(version=STATE_VERSION, status="starting", orphans_killed=[])
    if request.get("resume_from") and request.get("output_dir"):
        st["run_dir"] = os.path.join(request["output_dir"], request["resume_from"])
    return st


# --------------------------------------------------------------------------
# the supervisor process
class _Supervisor:
    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.request = read_json(state_dir / REQUEST_FILE)
        if self.request is None:
            raise SystemExit(f"no readable {REQUEST_FILE} in {state_dir}")
        self.state = read_state(state_dir) or _initial_state(self.request)
        self.state["supervisor_pid"] = os.getpid()

    def save(self) -> None:
        ctl = read_json(self.state_dir / CONTROL_FILE)
        if ctl and ctl.get("action"):
            self.state["stop_request"] = ctl["action"]
        write_json_atomic(self.state_dir / STATE_FILE, self.state)

    def run(self) -> int:
        req = self.request
        env = dict(os.environ)
        env.update(req.get("env") or {})
        log_path = req["log_path"]
        logf = open(log_path, "ab", buffering=0)
        popen_kw: dict = {}
        if os.name == "nt":  # pragma: no cover
            popen_kw["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
        else:
            popen_kw["start_new_session"] = True
        started = time.time()
        cwd = req.get("cwd") or None
        try:
            if cwd is not None and not os.path.isdir(cwd):
                raise NotADirectoryError(f"working directory {cwd} does not exist")
            proc = subprocess.Popen(req["argv"], cwd=cwd, env=env,
                                    stdin=subprocess.DEVNULL, stdout=logf,
                                    stderr=subprocess.STDOUT, close_fds=True, **popen_kw)
        except OSError as e:
            why = e.strerror if isinstance(e, FileNotFoundError) and e.strerror else str(e)
            msg = f"dpgui: could not start {req['argv'][0]!r}: {why}"
            logf.write((msg + "\n").encode())
            logf.close()
            self.state.update(status="failed_to_start", error=msg, started_at=iso(started),
                              started_at_epoch=started, ended_at=iso(time.time()))
            self.save()
            return 1
        logf.close()             # the trainer holds its own copy of the descriptor
        st = proc_stat(proc.pid)
        self.state.update(status="running", pid=proc.pid, pgid=proc.pid,
                          pid_start_ticks=st[4] if st else None,
                          started_at=iso(started), started_at_epoch=started)
        self.save()

        exclude = set(req.get("preexisting_run_dirs") or [])
        since = req.get("requested_at_epoch") or started
        last_scan = 0.0
        while True:
            try:
                rc = proc.wait(timeout=0.25)
                break
            except subprocess.TimeoutExpired:
                pass
            if self.state.get("run_dir") is None and time.time() - last_scan >= 0.25:
                last_scan = time.time()
                self._found(discover_run_dir(req.get("output_dir"), since, exclude))
        if self.state.get("run_dir") is None:
            self._found(discover_run_dir(req.get("output_dir"), since, exclude), save=False)
        self.state["orphans_killed"] = self._reap_orphans(proc.pid, self.state.get("pid_start_ticks"),
                                                          float(req.get("orphan_grace_s", 10.0)))
        self.state.update(status="exited", exit_code=rc, ended_at=iso(time.time()))
        self.save()
        return 0

    def _found(self, run_dir: str | None, save: bool = True) -> None:
        if not run_dir:
            return
        self.state["run_dir"] = run_dir
        # best effort: a link to the console log next to the checkpoints
        link = Path(run_dir) / Path(self.request["log_path"]).name
        try:
            if not link.exists():
                link.symlink_to(self.request["log_path"])
        except OSError:
            pass
        if save:
            self.save()

    @staticmethod
    def _reap_orphans(pgid: int, ticks: int | None, grace: float) -> list[int]:
        """Ranks left behind by a launcher that died would keep holding GPU memory."""
        if os.name == "nt":  # pragma: no cover
            return []
        deadline = time.time() + grace
        while group_members(pgid, ticks) and time.time() < deadline:
            time.sleep(0.1)
        left = group_members(pgid, ticks)
        if left:
            signal_group(pgid, signal.SIGKILL, ticks)
        return left


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: supervisor.py RUN_STATE_DIR [--foreground]", file=sys.stderr)
        return 2
    state_dir = Path(argv[0]).resolve()
    # No signal is set to SIG_IGN here: ignored dispositions would be inherited
    # by the trainer.  The new session has no controlling terminal, so no
    # terminal SIGINT/SIGHUP reaches this process anyway.
    if os.name != "nt":
        if "--foreground" not in argv:
            if os.fork() > 0:
                os._exit(0)   # the starter reaps this intermediate at once
            try:
                os.setsid()
            except OSError:
                pass
    return _Supervisor(state_dir).run()


if __name__ == "__main__":
    sys.exit(main())
