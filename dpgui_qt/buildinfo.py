"""What this dpgui is and where it runs from: for About, ``--self-test`` and bug reports.

Qt-free, cheap (no heavy imports), so the CLI can print it too.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from dpgui_qt import DIFFUSION_PIPE_COMMIT, DIFFUSION_PIPE_COMMIT_DATE, __version__


def install_form() -> str:
    """One phrase: how this copy of dpgui was installed."""
    if getattr(sys, "frozen", False):
        exe = Path(sys.executable)
        single = os.environ.get("DPGUI_SINGLE_FILE")
        if single:
            return f"single file {single} (unpacked once into {exe.parent})"
        if hasattr(sys, "_MEIPASS") and Path(sys._MEIPASS).resolve() != (exe.parent / "_internal").resolve() \
                and Path(sys._MEIPASS).resolve() != exe.parent.resolve():
            return f"single file {exe} (unpacked into {sys._MEIPASS} for this run)"
        if exe.resolve().parent == Path("/usr/lib/dpgui"):
            return "installed package (/usr/lib/dpgui)"
        return f"one folder {exe.parent}"
    here = Path(__file__).resolve().parent
    if (here.parent / "pyproject.toml").is_file():
        return f"source checkout {here.parent}"
    return f"Python package {here}"


def facts() -> list[tuple[str, str]]:
    """(label, value) rows, in display order."""
    return [
        ("dpgui", __version__),
        ("diffusion-pipe", f"schemas match commit {DIFFUSION_PIPE_COMMIT[:10]} "
                           f"({DIFFUSION_PIPE_COMMIT_DATE})"),
        ("Installed as", install_form()),
        ("Python", f"{platform.python_version()} ({platform.system()} {platform.machine()})"),
    ]
