"""``SshHost``: a machine reached over SSH, as one more host on the seam (issue #15).

The trainer runs there under dpgui's own run supervisor (``supervisor.py``, standard library
only), started detached (its own session, double fork: no SIGHUP when the connection drops),
so the run outlives the connection, a sleeping laptop and dpgui itself.  Everything dpgui does
on the host goes through :mod:`.sshtransport` (the system ``ssh``) and a small helper,
:mod:`.remote_agent`, copied with ``supervisor.py`` into ``<workdir>/.dpgui/<hash>/``.

Spec fields (``HostSpec.of("ssh", ...)``): ``destination`` (required), ``checkout``, ``env``,
``workdir`` (default ``~/dpgui``), ``python`` (default ``python3``), ``deepspeed``,
``ssh_config``, ``control_dir``, ``profile`` (a profile name the fields came from).
``SshHost.from_profile(profile)`` builds one from a :class:`.profiles.HostProfile`.

Beyond the :class:`~.base.Host` protocol (all implemented; ``state_root``/``read_state`` take a
*host* state folder, or a local pointer folder written at start, see below):

``connect()``                      reach the host, resolve ``~``, install the helper (idempotent)
``agent(op, args)``                one helper operation -> its JSON answer
``batch([(op, args), ...])``       several in one round trip; ``write_files({path: bytes})``
``follow(state_dir, offset, start=None, files=None)``  (``start``: :meth:`start_args`, the run
                                   is started first in the same round trip: ``("started", st)``)
                                   iterator of ``("log", offset, bytes)`` / ``("state", info)`` /
                                   ``("reset",)`` / ``("end",)``: a streaming tail that a caller
                                   restarts with its last offset after the connection drops, so
                                   no byte is lost or repeated
``control(state_dir, action, grace_s)``  save / save_quit / stop / kill on the host (stop and kill
                                   escalate there until no process of the group is left)
``active_runs(include_ended=False)``  states of the runs (still going) under ``<workdir>/runs``
``list_saves(output_dir)``         run folders with saved epochs/steps (sizes) and checkpoints
``download(host_paths, local_dir, progress, cancel, include_checkpoints=False)``
``probe(paths, disk)``             facts for the pre-flight (:mod:`dpgui_qt.core.run.ssh_preflight`)
``remote_state_root``              ``<workdir>/runs``

A local *pointer* folder ``<local state root>/<run id>/remote.json`` records the host spec and
the host's state folder, so ``dpgui launch --attach <local folder>`` works like a local run.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import posixpath
import subprocess
import tarfile
import threading
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Mapping, Sequence, cast

from dpgui_qt.core.run.hosts import register
from dpgui_qt.core.run.hosts.base import (
    DEFAULT_TIMEOUT_S, CommandResult, GpuInfo, HostBase, HostError, HostSpec, ReadChunk,
    Runner, parse_nvidia_smi, NVIDIA_SMI_QUERY, supervisor_source,
)
from dpgui_qt.core.run.hosts.sshtransport import SshError, SshTransport, parse_destination, quote

if TYPE_CHECKING:
    from dpgui_qt.core.run.hosts.profiles import HostProfile

POINTER_FILE = "remote.json"
_HERE = Path(__file__).resolve().parent
_AGENT = _HERE / "remote_agent.py"

Progress = Callable[[int, int, int, int], None]     # bytes done, bytes total, files done, total


def _bundle() -> tuple[str, bytes]:
    """(hash, tar bytes) of the files the host needs."""
    buf = io.BytesIO()
    h = hashlib.sha256()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for src, name in ((Path(supervisor_source()), "supervisor.py"), (_AGENT, "remote_agent.py")):
            data = src.read_bytes()
            h.update(name.encode() + b"\0" + data)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))
    return h.hexdigest()[:16], buf.getvalue()


class SshHost(HostBase):
    kind = "ssh"

    def __init__(self, spec: HostSpec, runner: Runner | None = None,
                 transport: SshTransport | None = None) -> None:
        super().__init__(spec, runner)
        dest = spec.get("destination")
        if not dest:
            raise HostError("an SSH host needs a destination (alias or user@host[:port])")
        try:
            self.transport = transport or SshTransport(
                parse_destination(dest), config_file=spec.get("ssh_config") or None,
                control_dir=spec.get("control_dir") or None)
        except SshError as e:
            raise HostError(str(e)) from None
        self.python = spec.get("python") or "python3"
        self._home: str | None = None
        self._agent_dir: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_profile(cls, profile: HostProfile, **overrides: Any) -> "SshHost":
        fields = {"destination": profile.destination, "checkout": profile.checkout,
                  "env": profile.env, "workdir": profile.workdir, "python": profile.python,
                  "deepspeed": profile.deepspeed, "ssh_config": profile.ssh_config,
                  "profile": profile.name}
        fields.update({k: v for k, v in overrides.items() if v not in (None, "")})
        return cls(HostSpec.of("ssh", **fields))

    # -- what it is ----------------------------------------------------------
    def describe(self) -> str:
        name = self.spec.get("profile")
        return f"SSH host {name} ({self.transport.destination})" if name else \
            f"SSH host {self.transport.destination}"

    @property
    def is_this_machine(self) -> bool:
        return False

    # -- paths ---------------------------------------------------------------
    def expand(self, host_path: str | None) -> str | None:
        """``~`` and ``~/...`` in a host path -> the host user's home."""
        if not host_path:
            return host_path
        if host_path == "~" or host_path.startswith("~/"):
            return (self.home() + host_path[1:]).replace("//", "/")
        return host_path

    def to_host_path(self, local_path: str | os.PathLike[str]) -> str:
        """Paths on an SSH host are host paths already (the sync maps dataset and config
        folders itself, see :mod:`.sync`); ``~`` is expanded."""
        return self.expand(os.fspath(local_path).replace("\\", "/")) or ""

    def to_local_path(self, host_path: str) -> str | None:
        return None

    @property
    def checkout(self) -> str | None:
        return self.expand(self.spec.get("checkout"))

    @property
    def workdir(self) -> str:
        return self.expand(self.spec.get("workdir") or "~/dpgui") or ""

    @property
    def remote_state_root(self) -> str:
        return posixpath.join(self.workdir, "runs")

    def deepspeed(self) -> str:
        return self.executable(self.expand(self.spec.get("deepspeed")) or self.expand(self.spec.get("env")),
                               "deepspeed")

    # -- commands --------------------------------------------------------------
    def _prefix(self) -> str:
        """Shell words that activate the host's environment."""
        env = self.spec.get("env")
        if not env:
            return ""
        e = quote((self.expand(env) if self._home else env) or env)  # expand keeps a path a path
        return (f'if [ -f {e}/bin/activate ]; then . {e}/bin/activate; '
                f'else PATH={e}/bin:"$PATH"; export PATH; fi; ')

    def command_line(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
                     cwd: str | None = None) -> str:
        line = self._prefix()
        if cwd:
            line += f"cd {quote(cwd)} && "
        if env:
            line += "env " + " ".join(quote(f"{k}={v}") for k, v in env.items()) + " "
        return line + " ".join(quote(a) for a in argv)

    def wrap(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> list[str]:
        return self.transport.argv(self.command_line(argv, env, cwd))

    def preview(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
        return " ".join(quote(a) for a in self.transport.base_argv()) + " " + \
            quote(self.command_line(argv, env, cwd))

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, input: bytes | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        try:
            self.transport.ensure_master()
        except SshError as e:
            return CommandResult(tuple(argv), 255, b"", str(e).encode())
        return self.runner(self.wrap(argv, env, cwd), input=input if input is not None else b"",
                           timeout=timeout)

    def shell(self, line: str, input: bytes | None = None, timeout: float = 120) -> CommandResult:
        """Run a raw shell line on the host (raises HostError when ssh cannot connect)."""
        try:
            r = self.transport.run(line, input=input, timeout=timeout)
        except SshError as e:
            raise HostError(str(e)) from None
        return CommandResult(("ssh", line), r.returncode, r.stdout, r.stderr)

    # -- the helper ----------------------------------------------------------
    def home(self) -> str:
        if self._home is None:
            self.connect()
        return self._home  # type: ignore[return-value]

    def connect(self) -> "SshHost":
        """Reach the host, learn its home folder and install the helper files (once per
        content hash) -- one round trip."""
        self._connect(None)
        return self

    def _connect(self, first: tuple[str, dict[str, Any]] | None) -> tuple[bool, object]:
        """Connect; with ``first`` (a helper operation with small arguments) also run it in
        the same round trip: (whether it ran, its answer)."""
        with self._lock:
            if self._agent_dir:
                return False, None
            digest, tar = _bundle()
            wd = self.spec.get("workdir") or "~/dpgui"
            if wd == "~" or wd.startswith("~/"):
                shell_wd = '"$HOME"' + (quote(wd[1:]) if len(wd) > 1 else "")
            else:
                shell_wd = quote(wd)
            line = (f'printf "%s\\n" "$HOME"; d={shell_wd}/.dpgui/{digest}; '
                    f'if [ ! -f "$d/ok" ]; then mkdir -p "$d" && tar -xf - -C "$d" && touch "$d/ok" '
                    f'|| exit 3; else cat >/dev/null; fi')
            if first is not None:
                import base64
                b64 = base64.b64encode(json.dumps(first[1]).encode()).decode("ascii")
                line += (f'; {self._prefix()}{self.python} -I "$d/remote_agent.py" {quote(first[0])} '
                         f'--args-b64 {b64}')
            r = self.shell(line, input=tar, timeout=120)
            home, _, rest = r.stdout.partition(b"\n")
            home_s = home.decode("utf-8", "replace")
            if not home_s.startswith("/") or r.rc == 3:
                raise HostError(f"{self.describe()}: cannot install dpgui's helper under {wd}/.dpgui: "
                                f"{r.error_text() or f'exit status {r.rc}'}")
            self._home = home_s
            self._agent_dir = posixpath.join(self.workdir, ".dpgui", digest)
            if first is None:
                return False, None
            return True, self._answer(first[0], CommandResult(("ssh", line), r.rc, rest, r.stderr))

    def _agent_line(self, op: str) -> str:
        self.connect()
        assert self._agent_dir is not None  # connect() placed the helper
        return self._prefix() + f"{self.python} -I {quote(posixpath.join(self._agent_dir, 'remote_agent.py'))} {op}"

    def agent(self, op: str, args: dict[str, Any] | None = None, timeout: float = 120) -> Any:
        """One helper operation; the first one of a session rides on the connection's
        round trip when its arguments are small."""
        args = args or {}
        if self._agent_dir is None and op not in ("read", "follow"):
            blob = json.dumps(args)
            if len(blob) < 48_000:             # one command-line argument stays well < 128 KiB
                ran, answer = self._connect((op, args))
                if ran:
                    return answer
                # another thread connected meanwhile: a plain call
        r = self.shell(self._agent_line(op), input=json.dumps(args).encode(), timeout=timeout)
        return self._answer(op, r)

    def _answer(self, op: str, r: CommandResult) -> Any:  # the helper's JSON answer
        if r.rc != 0:
            raise HostError(f"{self.describe()}: {op} failed: {r.error_text() or f'exit status {r.rc}'}")
        try:
            return json.loads(r.stdout)
        except json.JSONDecodeError:
            raise HostError(f"{self.describe()}: unreadable answer to {op}: {r.text()[:200]!r}") from None

    # -- runs ----------------------------------------------------------------
    def start_supervisor(self, argv: Sequence[str], state_root: str | os.PathLike[str] | None = None, *,
                         env: Mapping[str, str] | None = None, cwd: str | None = None,
                         config: str | None = None, output_dir: str | None = None,
                         resume_from: str | None = None,
                         log_path: str | os.PathLike[str] | None = None,
                         wait_s: float = 10.0, files: Mapping[str, bytes] | None = None) -> dict[str, Any]:
        """Start the run on the host.  ``output_dir``, ``cwd``, ``config`` and ``log_path`` are
        host paths; the host's state folder lives under :attr:`remote_state_root`.  When
        ``state_root`` (a local folder) is given, a pointer to the run is left there.
        ``files`` ({host path: bytes}, an SSH addition to the protocol): written first, in the
        same round trip (the run's rewritten configs)."""
        import base64

        start = {"argv": list(argv), "state_root": self.remote_state_root,
                 "env": dict(env or {}), "cwd": cwd, "config": config,
                 "output_dir": output_dir, "resume_from": resume_from,
                 "log_path": os.fspath(log_path) if log_path else None, "wait_s": wait_s}
        ops: list[tuple[str, dict[str, Any]]] = []
        if files:
            ops.append(("write_files", {"files": {p: base64.b64encode(d).decode("ascii")
                                                  for p, d in files.items()}}))
        ops.append(("start", start))
        try:
            st = self.batch(ops, timeout=wait_s + 60)[-1]
        except HostError as e:
            raise RuntimeError(str(e)) from None
        st["host"] = self.spec.to_dict()
        if state_root:
            self.write_pointer(state_root, st)
        return cast("dict[str, Any]", st)

    def write_pointer(self, state_root: str | os.PathLike[str], st: dict[str, Any]) -> Path:
        from dpgui_qt.core.run.supervisor import write_json_atomic

        d = Path(state_root) / str(st["run_id"])
        d.mkdir(parents=True, exist_ok=True)
        write_json_atomic(d / POINTER_FILE, {"host": self.spec.to_dict(),
                                             "state_dir": st["state_dir"], "run_id": st["run_id"],
                                             "log_path": st.get("log_path"),
                                             "output_dir": st.get("output_dir")})
        return d

    def host_state_dir(self, state_dir: str | os.PathLike[str]) -> str:
        """A host state folder from itself or from a local pointer folder."""
        p = Path(state_dir)
        ptr = p / POINTER_FILE
        if ptr.is_file():
            data = json.loads(ptr.read_text())
            return str(data["state_dir"])
        return self.expand(os.fspath(state_dir).replace("\\", "/")) or ""

    def read_state(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        info = self.agent("state", {"state_dir": self.host_state_dir(state_dir)})
        return info["state"] if info else None

    def run_info(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        """``{state, trainer_alive, supervisor_alive}`` for a run on the host."""
        answer = self.agent("state", {"state_dir": self.host_state_dir(state_dir)})
        return cast("dict[str, Any] | None", answer)

    def active_runs(self, include_ended: bool = False) -> list[dict[str, Any]]:
        """States of the runs going on under :attr:`remote_state_root` (``include_ended``:
        every run there), newest first."""
        answer = self.agent("active", {"runs_root": self.remote_state_root, "all": include_ended})
        return cast("list[dict[str, Any]]", answer)

    def read_bytes(self, host_path: str, offset: int = 0, limit: int = 4 << 20) -> ReadChunk:
        r = self.shell(self._agent_line("read"),
                       input=json.dumps({"path": host_path, "offset": offset, "limit": limit}).encode())
        if r.rc != 0:
            raise HostError(f"{self.describe()}: cannot read {host_path}: {r.error_text()}")
        head, _, data = r.stdout.partition(b"\n")
        h = json.loads(head)
        return ReadChunk(data[:h["n"]], offset, h["size"], h["ino"])

    def read_tb(self, output_dir: str = "", run_dir: str = "",
                offsets: Mapping[str, int] | None = None, limit: int = 4 << 20) -> dict[str, Any]:
        """A run folder's TensorBoard event files from where the caller stopped, in one
        round trip: ``{run_dir, files: [{name, size, ino, offset, data: bytes}]}`` (the
        newest run folder of ``output_dir`` unless ``run_dir`` is given)."""
        import base64
        ans: dict[str, Any] = self.agent("tbread", {"output_dir": self.expand(output_dir) if output_dir else "",
                                    "run_dir": self.expand(run_dir) if run_dir else "",
                                    "offsets": dict(offsets or {}), "limit": int(limit)})
        for f in ans.get("files") or ():
            f["data"] = base64.b64decode(f.get("data") or "")
        return ans

    def start_args(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                   cwd: str | None = None, config: str | None = None,
                   output_dir: str | None = None, resume_from: str | None = None,
                   wait_s: float = 10.0) -> dict[str, Any]:
        """What :meth:`follow` needs to start a run itself (``start=``)."""
        return {"argv": list(argv), "state_root": self.remote_state_root, "env": dict(env or {}),
                "cwd": cwd, "config": config, "output_dir": output_dir,
                "resume_from": resume_from, "log_path": None, "wait_s": wait_s}

    def follow(self, state_dir: str | os.PathLike[str] | None, offset: int = 0, poll_s: float = 0.1,
               proc_holder: list[Any] | None = None, start: dict[str, Any] | None = None,
               files: Mapping[str, bytes] | None = None) -> Iterator[tuple[Any, ...]]:
        """Stream the run's log and state from ``offset`` (see the module docstring).  Ends
        with ``("end",)``; when the connection breaks, the iterator stops without it (raise
        nothing): call again with the last offset.  ``proc_holder`` receives the ssh process
        (a caller may kill it to stop following).  With ``start`` (:meth:`start_args`) and
        ``files`` the run is started first, in the same round trip: the first item is then
        ``("started", state)`` (or HostError is raised); never pass ``start`` again when
        reconnecting."""
        import base64

        line = self._agent_line("follow")
        proc = self.transport.popen(line, stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
        if proc_holder is not None:
            proc_holder.append(proc)
        req: dict[str, Any] = {"offset": offset, "poll": poll_s}
        if start is not None:
            req["start"] = start
            req["files"] = {p: base64.b64encode(d).decode("ascii") for p, d in (files or {}).items()}
        else:
            req["state_dir"] = self.host_state_dir(state_dir)   # type: ignore[arg-type]
        assert proc.stdin is not None and proc.stdout is not None  # PIPEs
        try:
            proc.stdin.write(json.dumps(req).encode())
            proc.stdin.close()
        except OSError:
            pass
        out = proc.stdout
        try:
            while True:
                head = out.readline()
                if not head.endswith(b"\n"):
                    return
                kind = head[:1]
                if kind == b"L":
                    _, off, n = head.split()
                    data = _read_exact(out, int(n))
                    if data is None:
                        return
                    yield ("log", int(off), data)
                elif kind == b"S":
                    data = _read_exact(out, int(head.split()[1]))
                    if data is None:
                        return
                    yield ("state", json.loads(data))
                elif kind == b"T":
                    data = _read_exact(out, int(head.split()[1]))
                    if data is None:
                        return
                    st = json.loads(data)
                    st["host"] = self.spec.to_dict()
                    yield ("started", st)
                elif kind == b"X":
                    data = _read_exact(out, int(head.split()[1]))
                    raise HostError(f"{self.describe()}: the run could not be started: "
                                    f"{json.loads(data or b'{}').get('error', '?')}")
                elif kind == b"R":
                    yield ("reset",)
                elif kind == b"E":
                    yield ("end",)
                    return
                else:
                    return
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            out.close()

    def pid_alive(self, pid: int | None, start_ticks: int | None = None) -> bool:
        if not pid:
            return False
        return bool(self.agent("alive", {"pid": pid, "ticks": start_ticks}))

    def group_members(self, pgid: int | None, leader_ticks: int | None = None) -> list[int]:
        if not pgid:
            return []
        return list(self.agent("group", {"pgid": pgid, "ticks": leader_ticks}))

    def signal_group(self, pgid: int, sig: str, leader_ticks: int | None = None) -> list[int]:
        if sig not in ("TERM", "KILL", "INT"):
            raise HostError(f"unknown signal {sig!r}")
        return list(self.agent("signal", {"pgid": pgid, "sig": sig, "ticks": leader_ticks}))

    def control(self, state_dir: str | os.PathLike[str], action: str, grace_s: float = 20.0,
                kill_wait_s: float = 5.0) -> dict[str, Any]:
        """save | save_quit | stop | kill, done on the host.  Raises HostError (why)."""
        if action not in ("save", "save_quit", "stop", "kill"):
            raise HostError(f"unknown action {action!r}")
        res = self.agent("control", {"state_dir": self.host_state_dir(state_dir), "action": action,
                                     "grace": grace_s, "kill_wait": kill_wait_s},
                         timeout=grace_s + kill_wait_s + 60)
        if isinstance(res, dict) and res.get("error"):
            raise HostError(res["error"])
        return cast("dict[str, Any]", res)

    def touch(self, host_path: str) -> None:
        res = self.agent("touch", {"path": host_path})
        if res.get("error"):
            raise HostError(res["error"])

    def query_gpus(self, timeout: float = 15.0) -> list[GpuInfo]:
        r = self.run(["nvidia-smi", f"--query-gpu={NVIDIA_SMI_QUERY}", "--format=csv,noheader,nounits"],
                     timeout=timeout)
        if r.timed_out:
            raise HostError(f"nvidia-smi on {self.describe()} did not answer within {timeout:.0f} s")
        if r.rc != 0:
            raise HostError(f"nvidia-smi failed on {self.describe()}: "
                            f"{r.error_text() or r.text().strip() or f'exit status {r.rc}'}")
        return parse_nvidia_smi(r.text())

    # -- files ---------------------------------------------------------------
    def copy_to(self, local_path: str | os.PathLike[str], host_path: str) -> None:
        data = Path(local_path).read_bytes()
        self.write_bytes(host_path, data)

    def write_bytes(self, host_path: str, data: bytes) -> None:
        """Write a host file atomically (temp file + rename)."""
        d = posixpath.dirname(host_path)
        tmp = f"{host_path}.dpgui-tmp"
        r = self.shell(f"mkdir -p {quote(d)} && cat > {quote(tmp)} && mv -f {quote(tmp)} {quote(host_path)}",
                       input=data)
        if r.rc != 0:
            raise HostError(f"{self.describe()}: cannot write {host_path}: {r.error_text()}")

    def write_files(self, files: Mapping[str, bytes]) -> None:
        """Write several host files in one round trip (each atomically)."""
        import base64

        if files:
            self.agent("write_files", {"files": {p: base64.b64encode(d).decode("ascii")
                                                 for p, d in files.items()}})

    def batch(self, ops: Sequence[tuple[str, dict[str, Any]]], timeout: float = 120) -> list[Any]:
        """Several helper operations in one round trip; their answers in order."""
        answer = self.agent("batch", {"ops": [[op, args] for op, args in ops]}, timeout=timeout)
        return cast("list[Any]", answer)

    def copy_from(self, host_path: str, local_path: str | os.PathLike[str]) -> None:
        r = self.shell(f"cat {quote(host_path)}", timeout=3600)
        if r.rc != 0:
            raise HostError(f"{self.describe()}: cannot read {host_path}: {r.error_text()}")
        from dpgui_qt.core.safeio import write_file

        Path(local_path).parent.mkdir(parents=True, exist_ok=True)
        write_file(local_path, r.stdout)

    def list_saves(self, output_dir: str) -> list[dict[str, Any]]:
        """Run folders of ``output_dir`` on the host, newest first: ``{name, path, saves:
        [{name, kind, number, path, size, files: {name: bytes}}], checkpoints: [...]}``."""
        answer = self.agent("saves", {"output_dir": self.expand(output_dir)})
        return cast("list[dict[str, Any]]", answer)

    def download(self, host_paths: Sequence[str], local_dir: str | os.PathLike[str],
                 progress: Progress | None = None, cancel: threading.Event | None = None,
                 include_checkpoints: bool = False) -> list[Path]:
        """Copy host files or folders into ``local_dir`` (a folder keeps its name), with
        progress; DeepSpeed checkpoint folders (``global_step*``) are skipped unless
        ``include_checkpoints``; symbolic links are not followed or copied.  Returns the
        local paths written."""
        local_dir = Path(local_dir)
        local_dir.mkdir(parents=True, exist_ok=True)
        answer = self.agent("sizes", {"paths": list(host_paths),
                                      "skip_checkpoints": not include_checkpoints})
        sizes, nfiles = answer["sizes"], answer["files"]
        missing = [p for p, s in sizes.items() if s is None]
        if missing:
            raise HostError(f"not on {self.describe()}: {', '.join(missing)}")
        total = sum(sizes.values())
        done = 0
        out: list[Path] = []
        for hp in host_paths:
            parent, name = posixpath.split(hp.rstrip("/"))
            excl = "" if include_checkpoints else "--exclude='global_step*' "
            line = f"cd {quote(parent)} && tar -cf - {excl}-- {quote(name)}"
            proc = self.transport.popen(line, stderr=subprocess.PIPE)
            try:
                with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
                    for member in tar:
                        if cancel is not None and cancel.is_set():
                            raise HostError("download cancelled")
                        target = (local_dir / member.name).resolve()
                        if not str(target).startswith(str(local_dir.resolve())):
                            continue
                        if member.isdir():
                            target.mkdir(parents=True, exist_ok=True)
                        elif member.isfile():
                            target.parent.mkdir(parents=True, exist_ok=True)
                            src = tar.extractfile(member)
                            assert src is not None  # a regular file member
                            tmp = target.with_name(target.name + ".dpgui-part")
                            with open(tmp, "wb") as f:
                                while chunk := src.read(1 << 20):
                                    f.write(chunk)
                                    done += len(chunk)
                                    if progress:
                                        progress(done, total, len(out), nfiles)
                                    if cancel is not None and cancel.is_set():
                                        break
                            if cancel is not None and cancel.is_set():
                                tmp.unlink(missing_ok=True)
                                raise HostError("download cancelled")
                            os.replace(tmp, target)
                            os.utime(target, (member.mtime, member.mtime))
                            out.append(target)
                            if progress:
                                progress(done, total, len(out), nfiles)
            finally:
                if proc.poll() is None:
                    proc.kill()
                proc.wait()
        return out

    def probe(self, paths: Sequence[str] = (), disk: Sequence[str] = ()) -> dict[str, Any]:
        answer = self.agent("probe", {"checkout": self.checkout, "deepspeed": self.deepspeed(),
                                      "paths": list(paths), "disk": list(disk)}, timeout=120)
        return cast("dict[str, Any]", answer)


def _read_exact(f: IO[bytes], n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = f.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def host_for(dest: str, **fields: Any) -> SshHost:
    """An SshHost from a profile name or an SSH destination, with optional field overrides
    (``checkout``, ``deepspeed``, ``workdir``, ``env``, ...)."""
    from dpgui_qt.core.run.hosts.profiles import get_profile

    prof = None
    try:
        prof = get_profile(dest)
    except Exception:  # noqa: BLE001 - an unreadable profiles file does not stop a plain destination
        prof = None
    if prof is not None:
        return SshHost.from_profile(prof, **fields)
    return SshHost(HostSpec.of("ssh", destination=dest, **fields))


register("ssh", SshHost)
