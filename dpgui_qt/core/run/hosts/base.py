"""The host seam: *where the trainer runs*, behind one small protocol.

dpgui itself always runs on "this machine".  The trainer (DeepSpeed, NCCL) runs on a
**host**: this machine (:mod:`.local`), a WSL2 distribution of this Windows machine
(:mod:`.wsl`), or later a remote machine over SSH.  Everything that differs between
them -- how a path is spelled there, how a command is started there, how a process
group there is signalled, how a file there is read -- is a method of :class:`Host`.
Nothing outside ``core/run/hosts/`` branches on the platform; it asks the host.

Two kinds of path appear below:

* a **local path** is a path as this machine (the one running dpgui) sees it;
* a **host path** is a path as the host (the trainer) sees it.

A run's files: its state dir is local (``state_root`` is this machine's).  The
supervisor runs on the host and opens the request's paths as the host spells them
(``request.json`` ``host_paths``, made with :meth:`Host.to_host_path` by
``supervisor.prepare_run``); ``state.json`` keeps the *local* spelling of
``log_path``/``run_dir``/``output_dir`` for this machine's readers, and the host spec
under ``host``.  Its pids are the host's: ask the host (:meth:`Host.pid_alive`,
:meth:`Host.group_members`, :meth:`Host.signal_group`).  A host whose files this
machine cannot open (``to_local_path`` gives None) is read with :meth:`Host.read_bytes`
(``runs.LogFollower(host=...)``); how such a host gets the state dir back to this
machine (mirroring ``state.json``) is that host's ``start_supervisor``/``read_state``.

A host is described by a :class:`HostSpec` (kind + a few string fields), which is
small, hashable and JSON-serialisable: ``RunSpec`` carries one, queue items and run
state files store one, and :func:`dpgui_qt.core.run.hosts.make` turns it back into a
:class:`Host`.

How to add a host (e.g. ``ssh``)
--------------------------------
1. Write ``core/run/hosts/<kind>.py`` with a class implementing :class:`Host`
   (subclass :class:`HostBase` to get the shared helpers); standard library only,
   no Qt.  Set ``kind = "<kind>"``.
2. Give it a constructor ``Cls(spec: HostSpec)`` that reads its fields from
   ``spec.get(...)`` and raises :class:`HostError` (a user-facing sentence) for bad ones.
3. Register it at the bottom of the module: ``register("<kind>", Cls)``, and add the
   module name to ``_BUILTIN`` in ``hosts/__init__.py`` so it is imported lazily
   (``ssh`` -> ``hosts/ssh.py`` is listed already).
4. The supervisor (``core/run/supervisor.py``) must be able to run on the host: it
   needs only Python 3.10+'s standard library.  ``start_supervisor`` copies it there
   (:func:`supervisor_source` finds the file, also in a frozen build) and starts it
   detached (``python3 -I supervisor.py STATE_DIR``; ``--no-fork`` keeps the starter
   attached, see ``WslHost``), through ``supervisor.start_run(..., host=, to_host=,
   spawn=)``.
5. Unit-test the command forms (argv of ``wrap``, ``start_supervisor``, ``signal_group``,
   ``query_gpus``, ``copy_*``) with a fake runner -- see ``tests/test_hosts.py``.
6. Expose its fields in the environment settings (``gui/run/env_dialog.py``) and in
   ``dpgui launch --host`` if users should pick it.
7. The environment doctor (``dpgui doctor --host <kind>``) examines any registered
   kind: it runs its probe through ``wrap``, runs ``diagnostic_commands`` and adds
   ``doctor_checks`` (host-only findings) and ``memory_wording``; override them where
   the host has something to say (``WslHost``: its distribution list, ``.wslconfig``).
"""
from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import (
    Any, ClassVar, Iterable, Mapping, Protocol, Self, Sequence, runtime_checkable,
)

__all__ = ["HostError", "HostSpec", "CommandResult", "ReadChunk", "GpuInfo", "Host", "HostBase",
           "DoctorContext", "HostFinding", "MemoryWording", "probe_memory_wording",
           "native_windows_findings",
           "Runner", "subprocess_runner", "SIGNALS", "parse_nvidia_smi", "NVIDIA_SMI_QUERY",
           "supervisor_source", "shell_join", "env_assignments", "ENV_EXECUTABLES",
           "DEFAULT_TIMEOUT_S"]

# The signals a caller may send to a run's process group.  Names, not numbers:
# numbers differ between this machine and the host (Windows has no SIGKILL).
SIGNALS = ("TERM", "KILL", "INT")

DEFAULT_TIMEOUT_S = 30.0


class HostError(RuntimeError):
    """The host cannot do what was asked (the message is a user-facing sentence)."""


@dataclass(frozen=True)
class HostSpec:
    """What host to use: a ``kind`` registered in :mod:`dpgui_qt.core.run.hosts` and
    its string fields (WSL: ``distro``; SSH: ``destination``, ``port``, ...).

    Frozen and hashable; ``to_dict``/``from_dict`` round-trip through JSON."""
    kind: str = "local"
    fields: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, kind: str, **values: Any) -> "HostSpec":
        """``HostSpec.of("wsl", distro="Ubuntu")``; None and "" values are dropped."""
        return cls(kind, tuple(sorted((k, str(v)) for k, v in values.items()
                                      if v is not None and v != "")))

    def get(self, name: str, default: str | None = None) -> str | None:
        for k, v in self.fields:
            if k == name:
                return v
        return default

    def replace(self, **values: Any) -> "HostSpec":
        merged = dict(self.fields)
        merged.update({k: v for k, v in values.items()})
        return HostSpec.of(self.kind, **merged)

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, **dict(self.fields)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "HostSpec":
        """The inverse of ``to_dict``; None or {} is the local host."""
        if not data:
            return cls()
        d = dict(data)
        kind = str(d.pop("kind", "local") or "local")
        return cls.of(kind, **d)


@dataclass(frozen=True)
class CommandResult:
    """A finished short command: exit status and its captured output."""
    argv: tuple[str, ...]
    rc: int
    stdout: bytes = b""
    stderr: bytes = b""
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.rc == 0 and not self.timed_out

    def text(self) -> str:
        return self.stdout.decode("utf-8", "replace")

    def error_text(self) -> str:
        return self.stderr.decode("utf-8", "replace").strip()


@dataclass(frozen=True)
class ReadChunk:
    """Bytes read from a host file at an offset.

    ``size`` is the file's size when read (None: the file does not exist),
    ``identity`` changes when the file is replaced (an inode, or None where the host
    cannot tell).  A follower restarts at 0 when ``size`` drops below its offset or
    ``identity`` changes."""
    data: bytes
    offset: int              # where ``data`` starts
    size: int | None
    identity: object = None

    @property
    def end(self) -> int:
        return self.offset + len(self.data)


@dataclass(frozen=True)
class GpuInfo:
    """One GPU as ``nvidia-smi`` on the host reports it."""
    index: int
    name: str
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    utilization: float | None = None
    uuid: str = ""


@dataclass(frozen=True)
class HostFinding:
    """A finding of the environment doctor that only the host can make (its
    distributions, its memory limit, ...); the doctor shows it beside its own.
    ``severity`` is ``"error"``, ``"warning"``, ``"info"`` or ``"ok"``."""
    code: str            # stable id, e.g. "wsl.version"
    severity: str
    title: str           # what is wrong (or fine)
    why: str = ""        # why it matters for training
    fix: str = ""        # the exact fix
    detail: str = ""


@dataclass(frozen=True)
class DoctorContext:
    """What the doctor hands :meth:`Host.doctor_checks`."""
    facts: Mapping[str, Any]          # what the probe saw on the host (core/doctor/probe.py)
    # the outputs of :meth:`Host.diagnostic_commands` by key: (exit status or None, stdout, stderr)
    results: Mapping[str, tuple[int | None, bytes, bytes]] = field(default_factory=dict)
    ram_need_gb: float | None = None  # RAM the config's swapped blocks need (None: no block swap)
    blocks_to_swap: int | None = None
    environ: Mapping[str, str] = field(default_factory=dict)   # this machine's environment


@dataclass(frozen=True)
class MemoryWording:
    """How the doctor words the RAM the probe saw: ``visible`` qualifies it ("" = the
    machine's own RAM), ``fix`` says how to get more when a config needs it."""
    visible: str = ""
    fix: str = "Use fewer swapped blocks or more RAM."


def probe_memory_wording(facts: Mapping[str, Any]) -> MemoryWording:
    """The wording for any Linux host: the probe reports when its kernel is WSL2's
    (dpgui inside WSL, a WSL distribution, an SSH host that is one), whose RAM is
    capped by ``.wslconfig`` on the Windows side."""
    mem = facts.get("memory") or {}
    if isinstance(mem, Mapping) and mem.get("wsl"):
        return MemoryWording("visible to WSL",
                             "Raise the memory limit in %USERPROFILE%\\.wslconfig ([wsl2] "
                             "memory=...) and run wsl --shutdown")
    return MemoryWording()


# nvidia-smi --query-gpu fields, in the order parse_nvidia_smi expects
NVIDIA_SMI_QUERY = "index,name,memory.total,memory.used,utilization.gpu,uuid"


def parse_nvidia_smi(text: str) -> list[GpuInfo]:
    """``nvidia-smi --query-gpu=<NVIDIA_SMI_QUERY> --format=csv,noheader,nounits`` -> GPUs."""
    def num(s: str) -> float | None:
        try:
            return float(s)
        except ValueError:
            return None          # "[N/A]", "[Not Supported]"

    out = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 5 or not parts[0].isdigit():
            continue
        total, used, util = num(parts[2]), num(parts[3]), num(parts[4])
        out.append(GpuInfo(int(parts[0]), parts[1],
                           int(total) if total is not None else None,
                           int(used) if used is not None else None,
                           util, parts[5] if len(parts) > 5 else ""))
    return out


class Runner(Protocol):
    """How a host runs a short command on this machine.  Tests replace it with a
    recorder, so every command form is checkable without the host."""

    def __call__(self, argv: Sequence[str], *, input: bytes | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, cwd: str | None = None,
                 env: Mapping[str, str] | None = None) -> CommandResult: ...


def subprocess_runner(argv: Sequence[str], *, input: bytes | None = None,
                      timeout: float = DEFAULT_TIMEOUT_S, cwd: str | None = None,
                      env: Mapping[str, str] | None = None) -> CommandResult:
    """Run ``argv`` on this machine and capture its output (``env`` is added to this
    process's environment); never raises for a missing program, a missing ``cwd``
    or a timeout (rc 127 / ``timed_out``)."""
    full_env = None if not env else {**os.environ, **env}
    try:
        p = subprocess.run(list(argv), input=input, capture_output=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL,
                           cwd=cwd, env=full_env)
    except subprocess.TimeoutExpired as e:
        return CommandResult(tuple(argv), -1, e.stdout or b"", e.stderr or b"", timed_out=True)
    except OSError as e:
        return CommandResult(tuple(argv), 127, b"", str(e).encode())
    return CommandResult(tuple(argv), p.returncode, p.stdout, p.stderr)


@runtime_checkable
class Host(Protocol):
    """Where the trainer runs.  Implementations: ``LocalHost``, ``WslHost`` (and SSH).

    Methods never raise for an unreachable host unless documented: short commands
    return a :class:`CommandResult` with the failure; process queries return "nothing
    alive".  ``HostError`` carries user-facing sentences."""

    kind: ClassVar[str]
    spec: HostSpec

    # -- what it is ----------------------------------------------------------
    def describe(self) -> str:
        """Where the trainer runs, for people: "this machine", "WSL (Ubuntu)"."""
        ...

    @property
    def is_this_machine(self) -> bool:
        """True when the host's processes and files are this machine's own (local)."""
        ...

    def unavailable_reason(self, platform: str | None = None) -> str | None:
        """Why this host cannot be used from this machine (``platform`` is
        ``sys.platform``-style, None = this one's), or None when it can."""
        ...

    def diagnostic_commands(self) -> list[tuple[str, list[str], str]]:
        """Extra commands, run on this machine, whose output the environment doctor
        analyses: (key, argv, label).  WSL: the distribution list."""
        ...

    def for_paths(self, *local_paths: str | os.PathLike[str] | None) -> "Host":
        """This host, completed from what the given local paths imply (WSL: the
        distribution a ``\\\\wsl$\\Distro\\...`` path names).  Local: ``self``."""
        ...

    # -- paths ---------------------------------------------------------------
    def to_host_path(self, local_path: str | os.PathLike[str]) -> str:
        """A local path as the host sees it (absolute paths stay absolute)."""
        ...

    def to_local_path(self, host_path: str) -> str | None:
        """A host path as this machine sees it, or None where it cannot see it."""
        ...

    def host_join(self, base: str, *parts: str) -> str:
        """Join host path parts (POSIX rules on a Linux host)."""
        ...

    def resolve(self, value: str, cwd: str | None) -> str | None:
        """A path as written in a file the trainer reads (a config's ``output_dir``,
        a dataset path): absolute on the host, relative ones taken from ``cwd`` (a host
        path, the trainer's working directory).  None when it is relative and there
        is no ``cwd``."""
        ...

    def executable(self, setting: str | os.PathLike[str] | None, name: str) -> str:
        """``name`` (``deepspeed``, ``python``) as the host runs it, from an
        environment setting: a venv/conda dir (its ``bin/<name>``), the executable
        itself, or None/"" for ``name`` on the host's PATH."""
        ...

    # -- short commands --------------------------------------------------------
    def wrap(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> list[str]:
        """The argv that, run on this machine, runs ``argv`` (host paths) on the host
        with ``env`` added and ``cwd`` (a host path) as working directory.  For
        LocalHost that is ``argv`` itself (env/cwd are then given to the process)."""
        ...

    def preview(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
        """A copyable one-line command a user could paste on this machine."""
        ...

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, input: bytes | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Run a short command on the host and wait for it (probes, ``kill``, ``nvidia-smi``)."""
        ...

    # -- runs ----------------------------------------------------------------
    def start_supervisor(self, argv: Sequence[str], state_root: str | os.PathLike[str], *,
                         env: Mapping[str, str] | None = None, cwd: str | None = None,
                         config: str | None = None, output_dir: str | None = None,
                         resume_from: str | None = None,
                         log_path: str | os.PathLike[str] | None = None,
                         wait_s: float = 10.0) -> dict[str, Any]:
        """Start ``argv`` (host paths; ``cwd`` a host path) under a detached run
        supervisor *on the host* and return the run's state once the trainer was
        started (see ``supervisor.start_run``).  ``state_root``, ``output_dir`` and
        ``log_path`` are local paths; the state records host paths and ``host``
        (this host's spec).  Raises RuntimeError when the supervisor cannot start."""
        ...

    def read_state(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        """The run's ``state.json`` (``state_dir`` is a local path), or None."""
        ...

    def read_bytes(self, host_path: str, offset: int = 0, limit: int = 4 << 20) -> ReadChunk:
        """Up to ``limit`` bytes of a host file from ``offset`` (a log follower's read)."""
        ...

    def pid_alive(self, pid: int | None, start_ticks: int | None = None) -> bool:
        """Is the host process ``pid`` alive (and the one with ``start_ticks``)?"""
        ...

    def group_members(self, pgid: int | None, leader_ticks: int | None = None) -> list[int]:
        """Live host pids in the process group/session ``pgid``."""
        ...

    def signal_group(self, pgid: int, sig: str, leader_ticks: int | None = None) -> list[int]:
        """Send ``sig`` (one of :data:`SIGNALS`) to the group/session ``pgid`` on the
        host; returns the pids signalled ([] when the group is gone)."""
        ...

    def touch(self, host_path: str) -> None:
        """Create an empty regular file on the host (the ``save``/``save_quit``
        signal files that diffusion-pipe polls).  Raises HostError with the reason
        (e.g. the path exists and is not a regular file)."""
        ...

    def query_gpus(self, timeout: float = 15.0) -> list[GpuInfo]:
        """The host's GPUs through its ``nvidia-smi``.  Raises HostError (why) when
        there is no answer."""
        ...

    # -- files ---------------------------------------------------------------
    def copy_to(self, local_path: str | os.PathLike[str], host_path: str) -> None:
        """Copy a local file to the host (raises HostError)."""
        ...

    def copy_from(self, host_path: str, local_path: str | os.PathLike[str]) -> None:
        """Copy a host file to this machine (raises HostError)."""
        ...

    # -- environment doctor (core/doctor) ----------------------------------------
    def doctor_checks(self, context: DoctorContext) -> list[HostFinding]:
        """What the environment doctor should report about this host beyond the
        probe's generic checks (WSL: its distributions and ``.wslconfig``; this
        machine: a native Windows Python).  ``context.results`` holds the outputs of
        :meth:`diagnostic_commands`.  Never raises; [] when there is nothing to add."""
        ...

    def memory_wording(self, facts: Mapping[str, Any]) -> MemoryWording:
        """How the doctor words the RAM the probe saw on this host (``facts``: the
        probe's) and how to raise it."""
        ...


# executables that sit in an environment's bin/ (a setting naming one names the env)
ENV_EXECUTABLES = ("deepspeed", "deepspeed.exe", "python", "python3", "python.exe")


class HostBase:
    """Shared parts of the built-in hosts: a replaceable runner, ``run`` over
    ``wrap``, GPUs over ``run``, a POSIX ``host_join`` and env-dir executables."""

    kind: ClassVar[str] = ""

    def __init__(self, spec: HostSpec | None = None, runner: Runner | None = None):
        self.spec = spec or HostSpec(self.kind)
        self.runner: Runner = runner or subprocess_runner

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.spec!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HostBase) and type(other) is type(self) and other.spec == self.spec

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.spec))

    def for_paths(self, *local_paths: str | os.PathLike[str] | None) -> Self:
        return self

    def unavailable_reason(self, platform: str | None = None) -> str | None:
        return None

    def diagnostic_commands(self) -> list[tuple[str, list[str], str]]:
        return []

    def host_join(self, base: str, *parts: str) -> str:
        import posixpath
        return posixpath.join(base, *parts)

    def resolve(self, value: str, cwd: str | None) -> str | None:
        import posixpath
        v = str(value).replace("\\", "/")
        if v.startswith("/"):
            return v
        return posixpath.join(cwd, v) if cwd else None

    def executable(self, setting: str | os.PathLike[str] | None, name: str) -> str:
        if setting in (None, ""):
            return name
        s = os.fspath(setting)
        base = s.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
        if base in (name, name + ".exe") or (name == "python" and base.startswith("python")):
            exe = s
        elif base in ENV_EXECUTABLES:
            # another executable of the same environment: its neighbour
            exe = s.replace("\\", "/").rstrip("/").rsplit("/", 1)[0] + "/" + name
        else:
            exe = s.rstrip("\\/") + "/bin/" + name      # a venv/conda environment folder
        return self.to_host_path(exe) if ("/" in exe or "\\" in exe) else exe

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, input: bytes | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        """Short commands go through ``wrap`` (hosts whose ``wrap`` does not carry
        ``env``/``cwd``, like LocalHost, override this)."""
        return self.runner(self.wrap(argv, env, cwd), input=input, timeout=timeout)

    def wrap(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> list[str]:       # pragma: no cover - overridden
        raise NotImplementedError

    def to_host_path(self, local_path: str | os.PathLike[str]) -> str:  # pragma: no cover
        raise NotImplementedError

    def query_gpus(self, timeout: float = 15.0) -> list[GpuInfo]:
        res = self.run(["nvidia-smi", f"--query-gpu={NVIDIA_SMI_QUERY}",
                        "--format=csv,noheader,nounits"], timeout=timeout)
        if res.timed_out:
            raise HostError(f"nvidia-smi on {self.describe()} did not answer within {timeout:.0f} s")
        if res.rc != 0:
            why = res.error_text() or res.text().strip() or f"exit status {res.rc}"
            raise HostError(f"nvidia-smi failed on {self.describe()}: {why}")
        return parse_nvidia_smi(res.text())

    def describe(self) -> str:       # pragma: no cover - overridden
        return self.kind

    def doctor_checks(self, context: DoctorContext) -> list[HostFinding]:
        return native_windows_findings(
            context.facts, "Choose a Python of a Linux environment on "
            f"{self.describe()} (Run ▸ Environment, or --python PATH).")

    def memory_wording(self, facts: Mapping[str, Any]) -> MemoryWording:
        return probe_memory_wording(facts)


def native_windows_findings(facts: Mapping[str, Any], fix: str) -> list[HostFinding]:
    """The error for a training Python that runs on native Windows (the probe's
    ``python.platform``), with the host's ``fix``."""
    py = facts.get("python") or {}
    if not (isinstance(py, Mapping) and str(py.get("platform", "")).startswith("win")):
        return []
    return [HostFinding(
        "windows.native", "error", "this Python runs on native Windows",
        "diffusion-pipe needs DeepSpeed pipeline parallelism, which has only partial Windows "
        "support; it runs in WSL2 (diffusion-pipe README, Windows support).", fix)]


def supervisor_source() -> str:
    """The run supervisor's source file, to copy to a host (a frozen build ships it
    as data).  Raises HostError when this installation lacks it."""
    from dpgui_qt.core.run import supervisor
    if not os.path.isfile(supervisor.SUPERVISOR_SCRIPT):
        raise HostError(f"this installation of dpgui lacks {supervisor.SUPERVISOR_SCRIPT}, "
                        "which a run on another host needs; reinstall dpgui")
    return supervisor.SUPERVISOR_SCRIPT


def shell_join(argv: Iterable[str]) -> str:
    """``argv`` as one POSIX shell command line."""
    return " ".join(shlex.quote(str(a)) for a in argv)


def env_assignments(env: Mapping[str, str] | None) -> list[str]:
    """``K=V`` words for ``env`` (a command prefix for ``env``/the shell)."""
    return [f"{k}={v}" for k, v in (env or {}).items()]

