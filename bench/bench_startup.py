"""Start-up time: process start -> main window painted with main_example.toml loaded,
as a ratio to a bare PySide6 QMainWindow measured the same way in the same run.

    PYTHONPATH=. python bench/bench_startup.py [--runs 7] [--config FILE] [--theme dark]

``--theme`` starts dpgui with that View > Theme (system, light, dark). The platform is
``QT_QPA_PLATFORM`` (offscreen unless set): ``QT_QPA_PLATFORM=xcb DISPLAY=:N`` measures a
real X server (Xvfb), including dpgui's check of the xcb plugin's libraries.

Each sample is a fresh interpreter. The child prints the wall-clock time of its
first paint (``DPGUI_BENCH_FIRST_PAINT=1`` makes dpgui do that and quit); the
figure is that time minus the moment the parent started the process. Runs
alternate between bare and dpgui so machine noise hits both alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO.parent / "shared" / "corpus" / "configs" / \
    "tdrussell__diffusion-pipe__examples__main_example.toml"

BARE = r"""
import time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QMainWindow
app = QApplication([])
w = QMainWindow()
w.resize(1280, 800)
class F(QObject):
    done = False
    def eventFilter(self, o, e):
        if e.type() == QEvent.Type.Paint and not self.done:
            self.done = True
            print(f"DPGUI_FIRST_PAINT {time.time():.6f}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False
f = F()
w.installEventFilter(f)
w.show()
app.exec()
"""


def sample(cmd: list[str], env: dict) -> float:
    t0 = time.time()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    for line in out.stdout.splitlines():
        if line.startswith("DPGUI_FIRST_PAINT "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"no paint report from {cmd}:\n{out.stdout}\n{out.stderr}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--theme", choices=("system", "light", "dark"), default=None)
    args = ap.parse_args()
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["DPGUI_BENCH_FIRST_PAINT"] = "1"
    env["DPGUI_CONFIG_DIR"] = tempfile.mkdtemp(prefix="dpgui-bench-")
    # measure what an installed app does: modules load from .pyc (pip compiles them at
    # install time); the warm-up run below writes them if this shell disables bytecode
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="dpgui-bench-cache-")
    app_env = dict(env)
    if args.theme:
        app_env["DPGUI_THEME"] = args.theme
    bare_cmd = [sys.executable, "-c", BARE]
    app_cmd = [sys.executable, "-m", "dpgui_qt", args.config]
    sample(bare_cmd, env), sample(app_cmd, app_env)  # warm the page cache / .pyc files
    bare, app = [], []
    for _ in range(args.runs):
        bare.append(sample(bare_cmd, env))
        app.append(sample(app_cmd, app_env))
    mb, ma = statistics.median(bare), statistics.median(app)
    print(f"platform: {env['QT_QPA_PLATFORM']}, theme: {args.theme or 'saved (system)'}, "
          f"runs: {args.runs}, config: {Path(args.config).name}")
    print(f"bare PySide6 window   median {mb * 1000:7.1f} ms   (min {min(bare) * 1000:.1f}, max {max(bare) * 1000:.1f})")
    print(f"dpgui + config loaded median {ma * 1000:7.1f} ms   (min {min(app) * 1000:.1f}, max {max(app) * 1000:.1f})")
    ratio = ma / mb
    print(f"ratio dpgui / bare    {ratio:.2f}x   (target <= 1.5x)  {'OK' if ratio <= 1.5 else 'OVER TARGET'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
