"""dpgui's helper on an SSH host (issue #15): standard library only, copied to the host next to
``supervisor.py`` and run as ``python3 -I remote_agent.py OP`` with a JSON object on stdin
(or base64 after ``--args-b64``, when the connection's own stdin carried the helper's files).

Every operation but ``read`` and ``follow`` prints one JSON object.  Operations:

``start``       supervisor.start_run(**args) on the host -> the run's state
``state``       {state_dir} -> {state, trainer_alive, supervisor_alive}
``active``      {runs_root, all} -> [state, ...] of runs still going (all: every run) under
                runs_root, newest first
``read``        {path, offset, limit} -> a JSON header line {size, ino, offset} then the bytes
``follow``      {state_dir, offset, poll} or {start: <start's args>, files} (start the run first:
                ``T <n>\\n`` + its state JSON, or ``X <n>\\n`` + {error}) -> frames until the run
                has ended and its log is read:
                ``L <offset> <n>\\n`` + n log bytes, ``S <n>\\n`` + state JSON, ``R\\n`` (log
                replaced: offsets restart at 0), ``E\\n`` (end)
``alive``       {pid, ticks} ; ``group`` {pgid, ticks} ; ``signal`` {pgid, sig, ticks}
``control``     {state_dir, action: save|save_quit|stop|kill, grace, kill_wait} -> what was done;
                stop/kill escalate until no process of the run's group is left
``touch``       {path}
``manifest``    {root, exclude} -> {files: {relpath: [size, mtime_s]}, rsync: host has rsync}
``write_files`` {files: {host path: base64}} -> {written}
``batch``       {ops: [[op, args], ...]} -> [answer, ...]: several operations, one round trip
``remove``      {root, files}: delete files under root (dataset files deleted locally)
``saves``       {output_dir} -> the run folders with their saved epochs/steps and checkpoints
``sizes``       {paths, skip_checkpoints} -> {sizes: {path: bytes or None}, files: n}
``probe``       {checkout, deepspeed, paths, disk} -> pre-flight facts
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from typing import Any

if __package__:          # imported inside dpgui (tests, the layering check)
    from dpgui_qt.core.run import supervisor as sv
else:                    # run by path on the host, next to its copy of supervisor.py
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import supervisor as sv  # type: ignore[import-not-found, no-redef]  # the copy beside this file

Args = dict[str, Any]  # an operation's arguments: a JSON object


def _out(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj))
    sys.stdout.flush()


def _status(state_dir: str) -> dict[str, Any] | None:
    st = sv.read_state(state_dir)
    if st is None:
        return None
    return {"state": st,
            "trainer_alive": bool(st.get("pid")) and (
                sv.pid_alive(st.get("pid"), st.get("pid_start_ticks"))
                or bool(sv.group_members(st.get("pgid"), st.get("pid_start_ticks")))),
            "supervisor_alive": sv.pid_alive(st.get("supervisor_pid"))}


def _active(info: dict[str, Any] | None) -> bool:
    if info is None:
        return False
    if info["state"].get("status") not in ("starting", "running"):
        return False
    return bool(info["trainer_alive"] or info["supervisor_alive"])


def _spawn(state_dir: str | os.PathLike[str], wait_s: float) -> None:
    """The supervisor, detached: its own session (no SIGHUP when the SSH connection goes),
    forking once so that nobody has to reap it (the ``nohup ... &`` of a shell, done right)."""
    cmd = [sys.executable, "-I", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                "supervisor.py"), str(state_dir)]
    with open(os.path.join(str(state_dir), sv.SUPERVISOR_ERR), "ab") as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, start_new_session=True, close_fds=True)
        p.wait(timeout=wait_s)


def op_start(a: Args) -> Any:
    wait_s = float(a.get("wait_s", 10.0))
    return sv.start_run(**a, spawn=lambda sd: _spawn(sd, wait_s))


def op_state(a: Args) -> Any:
    return _status(a["state_dir"])


def op_active(a: Args) -> Any:
    out: list[dict[str, Any]] = []
    root = a["runs_root"]
    try:
        names = sorted(os.listdir(root), reverse=True)
    except OSError:
        return out
    for n in names:
        info = _status(os.path.join(root, n))
        if info is not None and (a.get("all") or _active(info)):
            out.append(info["state"])
    return out


def _read(path: str, offset: int, limit: int) -> tuple[dict[str, Any], bytes]:
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size < offset:
                return {"size": st.st_size, "ino": st.st_ino, "offset": offset}, b""
            f.seek(offset)
            return {"size": st.st_size, "ino": st.st_ino, "offset": offset}, f.read(limit)
    except FileNotFoundError:
        return {"size": None, "ino": None, "offset": offset}, b""


def op_read(a: Args) -> Any:
    head, data = _read(a["path"], int(a.get("offset", 0)), int(a.get("limit", 4 << 20)))
    out = sys.stdout.buffer
    out.write(json.dumps(dict(head, n=len(data))).encode() + b"\n" + data)
    out.flush()


def op_follow(a: Args) -> Any:
    out = sys.stdout.buffer
    if a.get("start"):
        # start the run, then follow it: one round trip from Start to the first log bytes
        try:
            if a.get("files"):
                op_write_files({"files": a["files"]})
            st = op_start(a["start"])
        except Exception as e:          # noqa: BLE001 - reported to dpgui as a sentence
            blob = json.dumps({"error": "%s: %s" % (type(e).__name__, e)}).encode()
            out.write(b"X %d\n" % len(blob) + blob)
            out.flush()
            return
        blob = json.dumps(st).encode()
        out.write(b"T %d\n" % len(blob) + blob)
        out.flush()
        a = dict(a, state_dir=st["state_dir"], offset=0)
    state_dir = a["state_dir"]
    offset = int(a.get("offset", 0))
    poll = float(a.get("poll", 0.1))
    last_state = None
    ino = None
    ended_checks = 0
    while True:
        info = _status(state_dir)
        if info is None:
            out.write(b"E\n")
            out.flush()
            return
        blob = json.dumps(info, sort_keys=True).encode()
        if blob != last_state:
            out.write(b"S %d\n" % len(blob) + blob)
            last_state = blob
        path = info["state"].get("log_path")
        got = 0
        while path:
            head, data = _read(path, offset, 1 << 20)
            if head["ino"] is not None and ((ino is not None and head["ino"] != ino)
                                            or head["size"] < offset):
                offset = 0
                out.write(b"R\n")
                ino = head["ino"]
                continue
            ino = head["ino"] if head["ino"] is not None else ino
            if not data:
                break
            out.write(b"L %d %d\n" % (offset, len(data)) + data)
            offset += len(data)
            got += len(data)
        out.flush()
        if not _active(info):
            # the end is recorded: one more read after it catches the last bytes written
            ended_checks += 1
            if ended_checks >= 2 and not got:
                out.write(b"E\n")
                out.flush()
                return
        elif not got:
            time.sleep(poll)


def op_alive(a: Args) -> Any:
    return sv.pid_alive(a.get("pid"), a.get("ticks"))


def op_group(a: Args) -> Any:
    return sv.group_members(a.get("pgid"), a.get("ticks"))


def op_signal(a: Args) -> Any:
    sig = {"TERM": signal.SIGTERM, "KILL": signal.SIGKILL, "INT": signal.SIGINT}[a["sig"]]
    return sv.signal_group(int(a["pgid"]), sig, a.get("ticks"))


def _wait_gone(pgid: int, ticks: int | None, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while True:
        left = sv.group_members(pgid, ticks)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.1)


def op_control(a: Args) -> Any:
    state_dir = a["state_dir"]
    st = sv.read_state(state_dir)
    if st is None:
        return {"error": "no run state in " + state_dir}
    action = a["action"]
    if action in ("save", "save_quit"):
        rd = sv.locate_run_dir(st)
        if not rd:
            return {"error": "the run folder does not exist yet (the trainer creates it after "
                             "caching); use Stop instead"}
        if st.get("status") in ("exited", "failed_to_start"):
            return {"error": "the run has already ended"}
        p = os.path.join(rd, action)
        if os.path.exists(p) and not os.path.isfile(p):
            return {"error": p + " exists and is not a regular file"}
        open(p, "ab").close()
        sv.write_json_atomic(os.path.join(state_dir, sv.CONTROL_FILE), {"action": action, "at": time.time()})
        return {"path": p}
    pgid, ticks = st.get("pgid"), st.get("pid_start_ticks")
    res: dict[str, list[int]] = {"signalled": [], "killed": [], "remaining": []}
    if not pgid:
        return res
    sv.write_json_atomic(os.path.join(state_dir, sv.CONTROL_FILE), {"action": action, "at": time.time()})
    left = None
    if action == "stop":
        res["signalled"] = sv.signal_group(pgid, signal.SIGTERM, ticks)
        if not res["signalled"]:
            return res
        left = _wait_gone(pgid, ticks, float(a.get("grace", 20.0)))
        if not left:
            return res
    deadline = time.monotonic() + float(a.get("kill_wait", 5.0))
    while True:
        got = sv.signal_group(pgid, signal.SIGKILL, ticks)
        res["killed"] = sorted(set(res["killed"]) | set(got))
        left = _wait_gone(pgid, ticks, min(0.5, max(0.0, deadline - time.monotonic())))
        if not left or time.monotonic() >= deadline:
            res["remaining"] = left
            return res


def op_touch(a: Args) -> Any:
    p = a["path"]
    if os.path.exists(p) and not os.path.isfile(p):
        return {"error": p + " exists and is not a regular file"}
    open(p, "ab").close()
    return {"path": p}


def op_manifest(a: Args) -> Any:
    root = a["root"]
    exclude = set(a.get("exclude") or ())
    files = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in exclude]
            rel_dir = ""
        for n in filenames:
            p = os.path.join(dirpath, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            files[(rel_dir + "/" + n) if rel_dir else n] = [st.st_size, int(st.st_mtime)]
    return {"files": files, "rsync": bool(shutil.which("rsync"))}


def op_write_files(a: Args) -> Any:
    """{files: {host path: base64}}: each written atomically (temp file, rename)."""
    import base64
    done = []
    for path, b64 in (a.get("files") or {}).items():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = path + ".dpgui-tmp"
        with open(tmp, "wb") as f:
            f.write(base64.b64decode(b64))
        os.replace(tmp, path)
        done.append(path)
    return {"written": done}


def op_batch(a: Args) -> Any:
    """{ops: [[op, args], ...]} -> [result, ...] in one round trip (no read/follow)."""
    out = []
    for name, args in a.get("ops") or ():
        if name in ("read", "follow", "batch"):
            raise SystemExit("batch cannot run " + name)
        out.append(OPS[name](args))
    return out


def op_remove(a: Args) -> Any:
    root = os.path.realpath(a["root"])
    removed = []
    for rel in a.get("files") or ():
        p = os.path.realpath(os.path.join(root, rel))
        if not p.startswith(root + os.sep):
            continue
        try:
            os.unlink(p)
            removed.append(rel)
        except OSError:
            pass
    return {"removed": removed}


def _dir_size(path: str, skip_checkpoints: bool = False, counts: list[int] | None = None) -> int:
    total = 0
    for dirpath, dirs, files in os.walk(path):
        if skip_checkpoints:
            dirs[:] = [d for d in dirs if not d.startswith("global_step")]
        for f in files:
            try:
                st = os.lstat(os.path.join(dirpath, f))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):        # links are not downloaded
                total += st.st_size
                if counts is not None:
                    counts[0] += 1
    return total


def op_saves(a: Args) -> Any:
    od = a["output_dir"]
    out: list[dict[str, Any]] = []
    try:
        names = sorted((n for n in os.listdir(od) if sv.RUN_DIR_RE.match(n)), reverse=True)
    except OSError:
        return out
    for n in names:
        rd = os.path.join(od, n)
        if not os.path.isdir(rd):
            continue
        saves, ckpts = [], []
        for e in sorted(os.listdir(rd)):
            p = os.path.join(rd, e)
            if not os.path.isdir(p):
                continue
            for kind in ("epoch", "step"):
                if e.startswith(kind) and e[len(kind):].isdigit():
                    files = {}
                    for f in sorted(os.listdir(p)):
                        fp = os.path.join(p, f)
                        if os.path.isfile(fp):
                            files[f] = os.path.getsize(fp)
                    saves.append({"name": e, "kind": kind, "number": int(e[len(kind):]),
                                  "path": p, "size": _dir_size(p), "files": files,
                                  "mtime": os.path.getmtime(p)})
            if e.startswith("global_step") and e[11:].isdigit():
                ckpts.append({"name": e, "path": p, "size": _dir_size(p)})
        out.append({"name": n, "path": rd, "saves": saves, "checkpoints": ckpts})
    return out


def op_sizes(a: Args) -> Any:
    """{paths, skip_checkpoints} -> {sizes: {path: bytes or None}, files: count}"""
    out: dict[str, int | None] = {}
    counts = [0]
    for p in a.get("paths") or ():
        if os.path.isdir(p):
            out[p] = _dir_size(p, bool(a.get("skip_checkpoints")), counts)
        elif os.path.isfile(p):
            out[p] = os.path.getsize(p)
            counts[0] += 1
        else:
            out[p] = None
    return {"sizes": out, "files": counts[0]}


def _free(path: str) -> int | None:
    p = os.path.abspath(path)
    while p and not os.path.exists(p):
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    try:
        st = os.statvfs(p)
        return st.f_bavail * st.f_frsize
    except OSError:
        return None


def op_probe(a: Args) -> Any:
    checkout = a.get("checkout") or ""
    facts = {"python": sys.version.split()[0], "python_executable": sys.executable,
             "checkout_exists": os.path.isdir(checkout),
             "train_py": os.path.isfile(os.path.join(checkout, "train.py")), "commit": None}
    if facts["checkout_exists"]:
        try:
            r = subprocess.run(["git", "-C", checkout, "rev-parse", "HEAD"], capture_output=True,
                               text=True, timeout=20)
            if r.returncode == 0:
                facts["commit"] = r.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            pass
    ds = a.get("deepspeed") or "deepspeed"
    if "/" in ds:
        facts["deepspeed"] = ds if (os.path.isfile(ds) and os.access(ds, os.X_OK)) else None
    else:
        facts["deepspeed"] = shutil.which(ds)
    facts["paths"] = {p: os.path.exists(p) for p in a.get("paths") or ()}
    facts["free"] = {p: _free(p) for p in a.get("disk") or ()}
    smi = shutil.which("nvidia-smi")
    facts["gpus"] = None
    if smi:
        try:
            r = subprocess.run([smi, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits"],
                               capture_output=True, text=True, timeout=30)
            if r.returncode == 0:
                facts["gpus"] = [ln.strip() for ln in r.stdout.splitlines() if ln.strip()]
        except (OSError, subprocess.SubprocessError):
            pass
    facts["rsync"] = shutil.which("rsync")
    return facts


def op_tbread(a: Args) -> Any:
    """{output_dir, run_dir?, offsets: {name: offset}, limit} -> {run_dir, files: [{name,
    size, ino, offset, data (base64 of the bytes from offset)}]}: a run folder's TensorBoard
    event files read from where the caller stopped (the newest run folder of output_dir
    unless run_dir is given); ``limit`` bytes in all per call."""
    import base64
    rd = a.get("run_dir") or ""
    if not rd:
        od = a.get("output_dir") or ""
        try:
            names = sorted((n for n in os.listdir(od) if sv.RUN_DIR_RE.match(n)
                            and os.path.isdir(os.path.join(od, n))), reverse=True)
        except OSError:
            names = []
        if not names:
            return {"run_dir": None, "files": []}
        rd = os.path.join(od, names[0])
    offsets = a.get("offsets") or {}
    budget = int(a.get("limit", 4 << 20))
    try:
        names = sorted(n for n in os.listdir(rd) if n.startswith("events.out.tfevents."))
    except OSError:
        names = []
    files = []
    for n in names:
        p = os.path.join(rd, n)
        off = int(offsets.get(n, 0))
        head, data = _read(p, off, max(0, budget))
        if head["size"] is None:
            continue
        budget -= len(data)
        files.append({"name": n, "size": head["size"], "ino": head["ino"], "offset": off,
                      "data": base64.b64encode(data).decode("ascii")})
    return {"run_dir": rd, "files": files}


OPS = {k[3:]: v for k, v in globals().items() if k.startswith("op_")}


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[1] not in OPS:
        sys.stderr.write("usage: remote_agent.py OP < args.json  (OP: %s)\n" % ", ".join(sorted(OPS)))
        return 2
    if len(argv) > 3 and argv[2] == "--args-b64":     # arguments on the command line
        import base64
        raw = base64.b64decode(argv[3]).decode("utf-8")
    else:
        raw = sys.stdin.read()
    args = json.loads(raw) if raw.strip() else {}
    result = OPS[argv[1]](args)
    if argv[1] not in ("read", "follow"):
        _out(result)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        sys.exit(0)
