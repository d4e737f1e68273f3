"""Files named on the GUI's command line that would block a reader (issue #12); the
validator's side is tests/reliability/test_files.py."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


def test_fifo_as_config_does_not_hang_the_screenshot(tmp_path):
    # before: `dpgui --screenshot out.png FIFO` blocked forever
    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    res = subprocess.run([sys.executable, "-m", "dpgui_qt", "--screenshot", str(tmp_path / "shot.png"),
                          str(fifo)], env=env, capture_output=True, text=True, timeout=120)
    assert "FIFO" in res.stdout + res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
