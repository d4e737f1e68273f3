"""Shared helpers for the run/log reliability tests (launching the fake deepspeed)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for  # noqa: E402, F401 - after the sys.path entry; re-exported


def cli_env(tmp_path: Path, **fake: str) -> dict[str, str]:
    """Environment for ``python -m dpgui_qt`` subprocesses that run this worktree's code."""
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_STATE_DIR=str(tmp_path / "state"),
               FAKE_DS_DELAY="0.02", FAKE_DS_STEPS="4")
    env.update(fake)
    return env


def launch_cmd(cfg: Path, co: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "dpgui_qt", "launch", str(cfg), "--checkout", str(co),
            "--deepspeed", str(FAKE_DEEPSPEED), *extra]
