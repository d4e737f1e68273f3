"""Windows -> WSL2 translation for launching diffusion-pipe from a Windows host.

diffusion-pipe (DeepSpeed, NCCL) only runs on Linux, so on Windows the trainer
runs inside a WSL2 distribution.  These helpers are pure string functions so
they can be unit-tested on any platform.
"""
from __future__ import annotations

import re
import shlex
import sys

# \\wsl$\Distro\rest  or  \\wsl.localhost\Distro\rest  (either slash style)
_UNC_WSL = re.compile(r"^[\\/]{2}(?:wsl\$|wsl\.localhost)[\\/](?P<distro>[^\\/]+)(?P<rest>(?:[\\/].*)?)$",
                      re.IGNORECASE)
_DRIVE = re.compile(r"^(?P<drive>[A-Za-z]):(?P<rest>(?:[\\/].*)?)$")


def is_windows(platform: str | None = None) -> bool:
    """True for a Windows host.  ``platform`` is ``sys.platform``-style ("win32")
    or one of "windows"/"linux"; None means the running interpreter's."""
    p = (platform or sys.platform).lower()
    return p.startswith("win")


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


def _shell_arg(arg: str) -> str:
    # ``wsl.exe ... -- cmdline`` hands the joined command line to the default
    # Linux shell, so every argument is quoted for that shell.
    return shlex.quote(arg)


def wrap_argv(argv: list[str], env: dict[str, str], linux_cwd: str,
              distro: str | None = None, wsl_exe: str = "wsl.exe") -> list[str]:
    """``wsl.exe -d DISTRO --cd <linux cwd> -- env VAR=... <argv>`` (argv already
    holds Linux paths)."""
    out = [wsl_exe]
    if distro:
        out += ["-d", distro]
    out += ["--cd", linux_cwd, "--"]
    if env:
        out.append("env")
        out += [_shell_arg(f"{k}={v}") for k, v in env.items()]
    out += [_shell_arg(a) for a in argv]
    return out
