"""The trainer runs on this machine (Linux; native Windows only in dpgui's own tests).

Paths are this machine's, commands are started directly, the run supervisor is
``python -I supervisor.py STATE_DIR`` in a new session, and the trainer's process
group is read through ``/proc`` and signalled with ``os.killpg``.
"""
from __future__ import annotations

import os
import shlex
import shutil
import signal
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from dpgui_qt.core.run import supervisor as sup
from dpgui_qt.core.run.hosts import register
from dpgui_qt.core.run.hosts.base import (
    DEFAULT_TIMEOUT_S, ENV_EXECUTABLES, CommandResult, DoctorContext, HostBase, HostError,
    HostFinding, HostSpec, ReadChunk, Runner, native_windows_findings,
)

__all__ = ["LocalHost", "signal_number", "env_executable"]


def signal_number(sig: str) -> int:
    """``"TERM"`` -> ``signal.SIGTERM`` on this machine (``KILL`` is ``SIGTERM``
    where there is no SIGKILL)."""
    name = "SIG" + sig.upper().removeprefix("SIG")
    num = getattr(signal, name, None)
    if num is None:
        if name == "SIGKILL":
            return signal.SIGTERM
        raise HostError(f"unknown signal {sig!r}")
    return int(num)


def env_executable(env_dir: str | os.PathLike[str], name: str,
                   platform: str | None = None) -> Path | None:
    """``<env>/bin/<name>`` of a venv/conda environment on this machine
    (``<env>\\Scripts\\<name>.exe`` first for a native Windows environment)."""
    d = Path(env_dir).expanduser()
    cands = [d / "bin" / name, d / "Scripts" / f"{name}.exe", d / "Scripts" / name]
    if (platform or sys.platform).lower().startswith("win"):
        cands = cands[1:] + cands[:1]
    for c in cands:
        if c.is_file():
            return c
    return None


class LocalHost(HostBase):
    """This machine."""

    kind = "local"

    def __init__(self, spec: HostSpec | None = None, runner: Runner | None = None):
        super().__init__(spec or HostSpec("local"), runner)

    def describe(self) -> str:
        return "this machine"

    @property
    def is_this_machine(self) -> bool:
        return True

    def doctor_checks(self, context: DoctorContext) -> list[HostFinding]:
        # a native Windows Python: the trainer belongs in WSL2 on this machine
        return native_windows_findings(
            context.facts, "wsl --install -d Ubuntu, set the environment up inside it, then run "
            "'dpgui doctor --host wsl'")

    # -- paths -------------------------------------------------------------
    def to_host_path(self, local_path: str | os.PathLike[str]) -> str:
        return os.path.abspath(os.path.expanduser(os.fspath(local_path)))

    def to_local_path(self, host_path: str) -> str | None:
        return host_path

    def host_join(self, base: str, *parts: str) -> str:
        return os.path.join(base, *parts)

    def resolve(self, value: str, cwd: str | None) -> str | None:
        p = os.path.expanduser(str(value))
        if not os.path.isabs(p):
            if not cwd:
                return None
            p = os.path.join(cwd, p)
        return os.path.abspath(p)

    def executable(self, setting: str | os.PathLike[str] | None, name: str) -> str:
        if setting in (None, ""):
            return name
        s = os.fspath(setting)
        base = os.path.basename(s.rstrip("/\\")).lower()
        if base in (name, name + ".exe") or (name == "python" and base.startswith("python")):
            exe = s
        elif base in ENV_EXECUTABLES:
            exe = os.path.join(os.path.dirname(s.rstrip("/\\")), name)
        else:
            exe = os.path.join(s, "bin", name)
        return self.to_host_path(exe) if ("/" in exe or os.sep in exe) else exe

    # -- commands ----------------------------------------------------------
    def wrap(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> list[str]:
        return [str(a) for a in argv]

    def preview(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
        parts = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
        parts += [shlex.quote(str(a)) for a in argv]
        return f"cd {shlex.quote(cwd)} && " + " ".join(parts)

    def run(self, argv: Sequence[str], *, cwd: str | None = None,
            env: Mapping[str, str] | None = None, input: bytes | None = None,
            timeout: float = DEFAULT_TIMEOUT_S) -> CommandResult:
        return self.runner(self.wrap(argv), input=input, timeout=timeout, cwd=cwd, env=env)

    # -- runs --------------------------------------------------------------
    def start_supervisor(self, argv: Sequence[str], state_root: str | os.PathLike[str], *,
                         env: Mapping[str, str] | None = None, cwd: str | None = None,
                         config: str | None = None, output_dir: str | None = None,
                         resume_from: str | None = None,
                         log_path: str | os.PathLike[str] | None = None,
                         wait_s: float = sup.START_WAIT_S,
                         python: str | None = None) -> dict[str, Any]:
        return sup.start_run(list(argv), state_root, env=dict(env or {}), cwd=cwd, config=config,
                             output_dir=output_dir, resume_from=resume_from, log_path=log_path,
                             wait_s=wait_s, python=python, host=None)

    def read_state(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        return sup.read_state(state_dir)

    def read_bytes(self, host_path: str, offset: int = 0, limit: int = 4 << 20) -> ReadChunk:
        try:
            with open(host_path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size <= offset:
                    return ReadChunk(b"", offset, st.st_size, st.st_ino)
                f.seek(offset)
                return ReadChunk(f.read(limit), offset, st.st_size, st.st_ino)
        except OSError:
            return ReadChunk(b"", offset, None, None)

    def pid_alive(self, pid: int | None, start_ticks: int | None = None) -> bool:
        return sup.pid_alive(pid, start_ticks)

    def group_members(self, pgid: int | None, leader_ticks: int | None = None) -> list[int]:
        return sup.group_members(pgid, leader_ticks)

    def signal_group(self, pgid: int, sig: str, leader_ticks: int | None = None) -> list[int]:
        return sup.signal_group(pgid, signal_number(sig), leader_ticks)

    def touch(self, host_path: str) -> None:
        p = Path(host_path)
        if p.exists() and not p.is_file():
            raise HostError(f"{p} exists and is not a regular file")
        try:
            p.touch()
        except OSError as e:
            raise HostError(f"cannot create {p}: {e.strerror or e}") from None

    # -- files -------------------------------------------------------------
    def copy_to(self, local_path: str | os.PathLike[str], host_path: str) -> None:
        _copy(os.fspath(local_path), host_path)

    def copy_from(self, host_path: str, local_path: str | os.PathLike[str]) -> None:
        _copy(host_path, os.fspath(local_path))


def _copy(src: str, dst: str) -> None:
    try:
        shutil.copyfile(src, dst)
    except OSError as e:
        raise HostError(f"cannot copy {src} to {dst}: {e.strerror or e}") from None


register("local", LocalHost)
