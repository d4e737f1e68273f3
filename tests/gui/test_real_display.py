"""The GUI on a real X server (Xvfb) through Qt's xcb plugin: .ci/display_smoke.py starts
``python -m dpgui_qt -platform xcb CONFIG`` there and grabs the window from the server.
Skips where Xvfb, the X tools or the plugin's libraries are missing (.ci/run installs
them, so there it always runs)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt.core import displaycheck

REPO = Path(__file__).resolve().parents[2]


def test_window_on_a_real_x_server(tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 check")
    absent = [t for t in ("Xvfb", "xwininfo", "xwd") if shutil.which(t) is None]
    if absent:
        pytest.skip(f"not installed: {', '.join(absent)} (apt-get install xvfb x11-utils x11-apps)")
    folder = displaycheck.plugin_dir()
    plugin = displaycheck.plugin_file("xcb", folder) if folder else None
    if plugin is None:
        pytest.skip("no xcb plugin in PySide6")
    lacking = displaycheck.Resolver().missing(str(plugin))
    if lacking:
        pytest.skip("the xcb plugin lacks " + ", ".join(sorted(lacking)))
    out = tmp_path / "grab.png"
    r = subprocess.run([sys.executable, str(REPO / ".ci" / "display_smoke.py"), "--out", str(out),
                        "--timeout", "120"], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "with the xcb plugin showed smoke_wan_lora.toml" in r.stdout
    assert out.read_bytes().startswith(b"\x89PNG")
