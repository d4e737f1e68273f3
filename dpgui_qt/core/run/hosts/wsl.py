"""The trainer runs in a WSL2 distribution of this Windows machine.

diffusion-pipe (DeepSpeed, NCCL) runs only on Linux, so on Windows it runs inside
WSL2.  Everything Linux-side goes through ``wsl.exe -d DISTRO``:

* **paths**: ``C:\\data\\x`` is ``/mnt/c/data/x`` inside; ``\\\\wsl$\\Distro\\home\\u``
  (or ``\\\\wsl.localhost\\...``) is ``/home/u``; the reverse is how this machine opens
  the distribution's files (pure functions below, testable anywhere);
* **the run supervisor runs inside the distribution** (it needs only Python's standard
  library): ``wsl.exe -d D --cd / -- python3 -I <supervisor.py> <state dir> --no-fork``,
  started detached on the Windows side.  It starts the trainer in a Linux session of
  its own, so Stop and Kill reach the Linux process group (``wsl.exe ... kill -s TERM
  -- -PGID ...``); ending ``wsl.exe`` on the Windows side would not stop the Linux
  processes it started.  ``wsl.exe`` stays attached to the supervisor for the run's
  lifetime, which keeps the distribution running;
* **process queries** read ``/proc`` inside with one ``sh`` command.

The run's state dir stays on this machine (the supervisor writes it through
``/mnt/<drive>``); the console log and the run folder are read through the
``\\\\wsl.localhost\\`` share when they live inside the distribution.
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from dpgui_qt.core.run import supervisor as sup
from dpgui_qt.core.run.hosts import register
from dpgui_qt.core.run.hosts.base import (
    SIGNALS, DoctorContext, HostBase, HostError, HostFinding, HostSpec, ReadChunk, Runner,
    native_windows_findings, supervisor_source,
)

__all__ = ["WslHost", "to_linux_path", "to_windows_path", "distro_from_path", "wrap_argv",
           "Spawner", "parse_wsl_list", "parse_wslconfig_memory", "wslconfig_memory",
           "distribution_findings", "wslconfig_findings"]

GIB = 1024 ** 3

# \\wsl$\Distro\rest  or  \\wsl.localhost\Distro\rest  (either slash style)
_UNC_WSL = re.compile(r"^[\\/]{2}(?:wsl\$|wsl\.localhost)[\\/](?P<distro>[^\\/]+)(?P<rest>(?:[\\/].*)?)$",
                      re.IGNORECASE)
_DRIVE = re.compile(r"^(?P<drive>[A-Za-z]):(?P<rest>(?:[\\/].*)?)$")


def distro_from_path(path: str) -> str | None:
    """The distribution named by a ``\\\\wsl$\\Distro\\...`` path, else None."""
    m = _UNC_WSL.match(str(path))
    return m.group("distro") if m else None


def to_linux_path(path: str) -> str:
    """Translate a Windows path to the path WSL sees.

    ``C:\\data\\x`` -> ``/mnt/c/data/x``; ``\\\\wsl$\\Ubuntu\\home\\u`` and
    ``\\\\wsl.localhost\\Ubuntu\\home\\u`` -> ``/home/u``.  POSIX paths and
    relative paths only get their backslashes turned into slashes.
    """
    s = str(path)
    m = _UNC_WSL.match(s)
    if m:
        rest = m.group("rest").replace("\\", "/")
        return rest if rest not in ("", "/") else "/"
    m = _DRIVE.match(s)
    if m:
        rest = m.group("rest").replace("\\", "/").rstrip("/")
        return f"/mnt/{m.group('drive').lower()}{rest}"
    if s.startswith("/"):
        return s
    return s.replace("\\", "/")


def to_windows_path(linux_path: str, distro: str | None) -> str:
    """The reverse, for checking files from the Windows side:
    ``/mnt/c/x`` -> ``C:\\x``; other absolute paths -> ``\\\\wsl.localhost\\<distro>\\...``."""
    m = re.match(r"^/mnt/([a-zA-Z])(/.*)?$", linux_path)
    if m:
        return f"{m.group(1).upper()}:" + (m.group(2) or "\\").replace("/", "\\")
    if linux_path.startswith("/") and distro:
        return f"\\\\wsl.localhost\\{distro}" + linux_path.replace("/", "\\")
    return linux_path


def wrap_argv(argv: Sequence[str], env: Mapping[str, str] | None, linux_cwd: str | None,
              distro: str | None = None, wsl_exe: str = "wsl.exe") -> list[str]:
    """``wsl.exe -d DISTRO --cd <linux cwd> -- env VAR=... <argv>`` (argv already
    holds Linux paths).  ``wsl.exe ... -- cmdline`` hands the joined command line to
    the distribution's default shell, so every word is quoted for that shell."""
    out = [wsl_exe]
    if distro:
        out += ["-d", distro]
    if linux_cwd:
        out += ["--cd", linux_cwd]
    out.append("--")
    if env:
        out.append("env")
        out += [shlex.quote(f"{k}={v}") for k, v in env.items()]
    out += [shlex.quote(str(a)) for a in argv]
    return out


# --------------------------------------------------------------------------- doctor
def parse_wsl_list(text: str | bytes) -> list[dict[str, Any]]:
    """``wsl.exe --list --verbose`` (UTF-16 on Windows) -> [{name, state, version, default}]."""
    if isinstance(text, bytes):
        enc = "utf-16-le" if text[1:2] == b"\x00" or text[:2] == b"\xff\xfe" else "utf-8"
        text = text.decode(enc, "replace")
    text = text.replace("\x00", "").lstrip("\ufeff")
    out = []
    for line in text.splitlines():
        s = line.strip()
        if not s or s.upper().startswith("NAME"):
            continue
        default = s.startswith("*")
        parts = s.lstrip("* ").split()
        if len(parts) >= 3 and parts[-1].isdigit():
            out.append({"name": " ".join(parts[:-2]), "state": parts[-2], "version": int(parts[-1]),
                        "default": default})
    return out


def parse_wslconfig_memory(text: str) -> int | None:
    """The ``memory=`` limit in ``%USERPROFILE%\\.wslconfig`` ([wsl2] section), in bytes."""
    section = ""
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].split(";", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1].strip().lower()
        elif section == "wsl2" and "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            if k.lower() == "memory":
                m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMGT]?)B?", v.upper())
                if m:
                    mult = {"": 1, "K": 1024, "M": 1024 ** 2, "G": GIB, "T": 1024 ** 4}[m.group(2)]
                    return int(float(m.group(1)) * mult)
    return None


def wslconfig_memory(environ: Mapping[str, str]) -> int | None:
    """The ``.wslconfig`` memory limit of the Windows user in ``environ`` (None: no
    limit set, no file, or not Windows)."""
    home = environ.get("USERPROFILE")
    if not home:
        return None
    try:
        return parse_wslconfig_memory(Path(home, ".wslconfig").read_text(encoding="utf-8",
                                                                          errors="replace"))
    except OSError:
        return None


def distribution_findings(dists: list[dict[str, Any]] | None) -> list[HostFinding]:
    """Findings for the distribution list (None: it was not listed)."""
    if dists is None:
        return []
    if not dists:
        return [HostFinding(
            "wsl.missing", "error", "WSL has no Linux distribution",
            "diffusion-pipe needs Linux (DeepSpeed has only partial Windows support); on "
            "Windows it runs in WSL2 (diffusion-pipe README).",
            "wsl --install -d Ubuntu  (in an administrator PowerShell, then reboot)")]
    v1 = [d["name"] for d in dists if d["version"] != 2]
    default = next((d for d in dists if d["default"]), dists[0])
    if default["version"] != 2:
        return [HostFinding("wsl.version", "error",
                            f"the WSL distribution {default['name']} runs WSL 1",
                            "WSL 1 has no GPU access.", f"wsl --set-version {default['name']} 2")]
    return [HostFinding("wsl.ok", "ok", f"WSL2 distribution {default['name']}"
                        + (f" (WSL 1: {', '.join(v1)})" if v1 else ""))]


def wslconfig_findings(limit: int | None, ram_need_gb: float | None,
                       blocks_to_swap: int | None) -> list[HostFinding]:
    """Findings for the ``.wslconfig`` memory limit against what the config needs."""
    if limit is None:
        return []
    out = [HostFinding("wsl.memory", "info", f".wslconfig limits WSL to {limit / GIB:.0f} GiB RAM")]
    need = ram_need_gb
    if blocks_to_swap and need is not None and limit / GIB < need:
        out.append(HostFinding(
            "wsl.memory_low", "warning",
            f".wslconfig memory={limit / GIB:.0f}GB is below the ~{need:.0f} GiB "
            f"blocks_to_swap = {blocks_to_swap} needs",
            "Swapped blocks are held in WSL's RAM; at the limit the trainer is killed.",
            f"Set memory={int(need + 0.999) + 8}GB under [wsl2] in %USERPROFILE%\\.wslconfig, "
            "then run wsl --shutdown"))
    return out


# Starts a long-lived process on this machine, detached from the caller, its
# stderr into ``err_path``.  Tests replace it with a recorder.
Spawner = Callable[[Sequence[str], Path], None]


def _spawn_detached(argv: Sequence[str], err_path: Path) -> None:  # pragma: no cover - Windows
    flags = (getattr(subprocess, "DETACHED_PROCESS", 0x8)
             | getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
             | getattr(subprocess, "CREATE_NO_WINDOW", 0x08000000))
    with open(err_path, "ab") as err:
        subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=err, creationflags=flags if os.name == "nt" else 0,
                         start_new_session=os.name != "nt", close_fds=True)


# one line per live process: /proc/<pid>/stat (read inside the distribution)
_PROC_SCRIPT = 'for f in /proc/[0-9]*/stat; do read -r l < "$f" 2>/dev/null && echo "$l"; done'


class WslHost(HostBase):
    """A WSL2 distribution (field ``distro``; none = the default distribution;
    ``python``: the interpreter that runs the supervisor there, default ``python3``)."""

    kind = "wsl"

    def __init__(self, spec: HostSpec | None = None, runner: Runner | None = None,
                 spawner: Spawner | None = None, wsl_exe: str = "wsl.exe"):
        super().__init__(spec or HostSpec("wsl"), runner)
        self.distro = self.spec.get("distro") or None
        self.python = self.spec.get("python") or "python3"
        self.wsl_exe = wsl_exe
        self.spawner: Spawner = spawner or _spawn_detached

    def describe(self) -> str:
        return f"WSL ({self.distro or 'default distribution'})"

    @property
    def is_this_machine(self) -> bool:
        return False

    def for_paths(self, *local_paths: str | os.PathLike[str] | None) -> "WslHost":
        if self.distro:
            return self
        for p in local_paths:
            d = distro_from_path(os.fspath(p)) if p not in (None, "") else None
            if d:
                return WslHost(self.spec.replace(distro=d), self.runner, self.spawner, self.wsl_exe)
        return self

    def unavailable_reason(self, platform: str | None = None) -> str | None:
        if (platform or sys.platform).lower().startswith("win"):
            return None
        return ("WSL2 is reached from Windows; on Linux diffusion-pipe runs on this "
                "machine (the local host).")

    def diagnostic_commands(self) -> list[tuple[str, list[str], str]]:
        return [("wsl_list", [self.wsl_exe, "--list", "--verbose"], "WSL distributions")]

    def doctor_checks(self, context: DoctorContext) -> list[HostFinding]:
        listed = context.results.get("wsl_list")
        dists = None if listed is None else (parse_wsl_list(listed[1]) if listed[0] == 0 else [])
        return (native_windows_findings(
                    context.facts, "Choose a Linux Python inside the distribution (a venv or "
                    "conda environment there; a Windows python.exe runs on Windows even when "
                    "started from WSL) in Run ▸ Environment, or pass --python PATH.")
                + distribution_findings(dists)
                + wslconfig_findings(wslconfig_memory(context.environ), context.ram_need_gb,
                                     context.blocks_to_swap))

    # -- paths -------------------------------------------------------------
    def to_host_path(self, local_path: str | os.PathLike[str]) -> str:
        return to_linux_path(os.fspath(local_path))

    def to_local_path(self, host_path: str) -> str | None:
        return to_windows_path(host_path, self.distro)

    def resolve(self, value: str, cwd: str | None) -> str | None:
        return super().resolve(to_linux_path(str(value)), cwd)

    # -- commands ----------------------------------------------------------
    def wrap(self, argv: Sequence[str], env: Mapping[str, str] | None = None,
             cwd: str | None = None) -> list[str]:
        return wrap_argv(argv, env, cwd, self.distro, self.wsl_exe)

    def preview(self, argv: Sequence[str], env: Mapping[str, str], cwd: str) -> str:
        return subprocess.list2cmdline(self.wrap(argv, env, cwd))

    # -- runs --------------------------------------------------------------
    def supervisor_argv(self, script: str, state_dir: str) -> list[str]:
        """The Windows-side command that runs the supervisor inside the distribution
        (``script`` and ``state_dir`` are host paths)."""
        return self.wrap([self.python, "-I", script, state_dir, "--no-fork"], cwd="/")

    def start_supervisor(self, argv: Sequence[str], state_root: str | os.PathLike[str], *,
                         env: Mapping[str, str] | None = None, cwd: str | None = None,
                         config: str | None = None, output_dir: str | None = None,
                         resume_from: str | None = None,
                         log_path: str | os.PathLike[str] | None = None,
                         wait_s: float = 30.0) -> dict[str, Any]:
        # (wsl.exe may have to boot the distribution first: a longer default wait)
        def spawn(state_dir: Path) -> None:
            # the supervisor is copied next to its state: the running dpgui may be a
            # bundle whose files vanish when it exits
            script = state_dir / "supervisor.py"
            shutil.copyfile(supervisor_source(), script)
            self.spawner(self.supervisor_argv(self.to_host_path(script),
                                              self.to_host_path(state_dir)),
                         state_dir / sup.SUPERVISOR_ERR)

        return sup.start_run(list(argv), state_root, env=dict(env or {}), cwd=cwd, config=config,
                             output_dir=output_dir, resume_from=resume_from, log_path=log_path,
                             wait_s=wait_s, host=self.spec.to_dict(),
                             to_host=self.to_host_path, spawn=spawn)

    def read_state(self, state_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
        return sup.read_state(state_dir)

    def read_bytes(self, host_path: str, offset: int = 0, limit: int = 4 << 20) -> ReadChunk:
        local = self.to_local_path(host_path)
        try:
            with open(local or host_path, "rb") as f:
                st = os.fstat(f.fileno())
                if st.st_size <= offset:
                    return ReadChunk(b"", offset, st.st_size, st.st_ino or None)
                f.seek(offset)
                return ReadChunk(f.read(limit), offset, st.st_size, st.st_ino or None)
        except OSError:
            return ReadChunk(b"", offset, None, None)

    def _stats(self) -> list[tuple[int, tuple[str, int, int, int, int]]]:
        res = self.run(["sh", "-c", _PROC_SCRIPT], timeout=30.0)
        if not res.ok:
            return []
        out = []
        for line in res.text().splitlines():
            pid, _, _ = line.partition(" ")
            st = sup.parse_proc_stat(line)
            if pid.isdigit() and st is not None:
                out.append((int(pid), st))
        return out

    def pid_alive(self, pid: int | None, start_ticks: int | None = None) -> bool:
        if not pid or pid <= 0:
            return False
        for p, st in self._stats():
            if p == pid:
                return st[0] not in ("Z", "X") and (start_ticks is None or st[4] == start_ticks)
        return False

    def group_members(self, pgid: int | None, leader_ticks: int | None = None) -> list[int]:
        if not pgid or pgid <= 0:
            return []
        stats = self._stats()
        for p, st in stats:
            if p == pgid and leader_ticks is not None and st[4] != leader_ticks:
                return []        # the id now belongs to another process: our group is gone
        return sorted(p for p, st in stats
                      if st[0] not in ("Z", "X") and pgid in (st[2], st[3]))

    def kill_argv(self, pgid: int, sig: str, pids: Sequence[int]) -> list[str]:
        """``kill -s SIG -- -PGID PID...`` inside the distribution."""
        if sig not in SIGNALS:
            raise HostError(f"unknown signal {sig!r}")
        return self.wrap(["kill", "-s", sig, "--", f"-{int(pgid)}", *[str(int(p)) for p in pids]])

    def signal_group(self, pgid: int, sig: str, leader_ticks: int | None = None) -> list[int]:
        members = self.group_members(pgid, leader_ticks)
        if not members:
            return []
        # members that left the group but stayed in the session get it by pid
        self.runner(self.kill_argv(pgid, sig, [p for p in members if p != pgid]), timeout=30.0)
        return members

    def touch(self, host_path: str) -> None:
        local = self.to_local_path(host_path)
        if local is None or local == host_path:
            res = self.run(["sh", "-c", 'test ! -e "$1" -o -f "$1" && touch "$1"', "sh", host_path])
            if not res.ok:
                raise HostError(f"cannot create {host_path} in {self.describe()}: "
                                f"{res.error_text() or 'it exists and is not a regular file'}")
            return
        p = Path(local)
        if p.exists() and not p.is_file():
            raise HostError(f"{host_path} exists and is not a regular file")
        try:
            p.touch()
        except OSError as e:
            raise HostError(f"cannot create {host_path}: {e.strerror or e}") from None

    # -- files -------------------------------------------------------------
    def copy_argv(self, src: str, dst: str) -> list[str]:
        """``cp -- SRC DST`` inside the distribution (both host paths)."""
        return self.wrap(["cp", "--", src, dst])

    def copy_to(self, local_path: str | os.PathLike[str], host_path: str) -> None:
        self._cp(self.to_host_path(local_path), host_path)

    def copy_from(self, host_path: str, local_path: str | os.PathLike[str]) -> None:
        self._cp(host_path, self.to_host_path(local_path))

    def _cp(self, src: str, dst: str) -> None:
        res = self.runner(self.copy_argv(src, dst), timeout=600.0)
        if not res.ok:
            raise HostError(f"cannot copy {src} to {dst} in {self.describe()}: "
                            f"{res.error_text() or f'exit status {res.rc}'}")


register("wsl", WslHost)
