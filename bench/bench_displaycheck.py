"""Cost of what issue #11 put on the start-up path - the platform-plugin check
(dpgui_qt.core.displaycheck) and applying the saved View > Theme - against a floor
measured in the same run: creating the QApplication itself.

    PYTHONPATH=. python bench/bench_displaycheck.py [--runs 20]

"cold" walks the xcb plugin's whole library closure (the first start after an install
or a library change); "warm" is every later start (the remembered result: two stat()
calls and a small read). Each figure is the median of --runs, in-process.
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
sys.path.insert(0, str(REPO))

FLOOR = r"""
import sys, time
t = time.perf_counter()
from PySide6.QtWidgets import QApplication
app = QApplication(sys.argv[:1])
floor = (time.perf_counter() - t) * 1000
from dpgui_qt.gui import theme
t = time.perf_counter()
theme.apply(theme.saved(), app)   # the saved theme: sys.argv[1]
applied = (time.perf_counter() - t) * 1000
print(floor, applied)
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    from dpgui_qt.core import displaycheck as dc

    folder = dc.plugin_dir()
    plugin = dc.plugin_file("xcb", folder) if folder else None
    if plugin is None:
        print("no xcb plugin: nothing to measure")
        return 0
    stamp = Path(tempfile.mkdtemp(prefix="dpgui-bench-dc-")) / "ok"
    cold, warm = [], []
    for _ in range(args.runs):
        stamp.unlink(missing_ok=True)
        r = dc.Resolver(stamp=stamp)
        t = time.perf_counter()
        missing = r.missing(str(plugin))
        cold.append((time.perf_counter() - t) * 1000)
        r = dc.Resolver(stamp=stamp)
        t = time.perf_counter()
        r.missing(str(plugin))
        warm.append((time.perf_counter() - t) * 1000)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               DPGUI_CONFIG_DIR=tempfile.mkdtemp(prefix="dpgui-bench-cfg-"))
    floor, themes = [], {"system": [], "dark": []}
    for _ in range(min(args.runs, 7)):
        for name in themes:
            out = subprocess.run([sys.executable, "-c", FLOOR], capture_output=True, text=True,
                                 env=dict(env, DPGUI_THEME=name)).stdout.split()
            floor.append(float(out[0]))
            themes[name].append(float(out[1]))
    f, c, w = statistics.median(floor), statistics.median(cold), statistics.median(warm)
    print(f"xcb plugin: {plugin.name}, libraries missing here: {sorted(missing) or 'none'}")
    print(f"QApplication creation (floor) median {f:7.2f} ms")
    print(f"check, cold (full walk)       median {c:7.2f} ms   {c / f:.3f}x the floor"
)
    print(f"check, warm (remembered)      median {w:7.3f} ms   {w / f:.4f}x the floor")
    for name, values in themes.items():
        t = statistics.median(values)
        print(f"theme {name:6} applied         median {t:7.3f} ms   {t / f:.4f}x the floor")
    if missing:
        print("(a plugin with missing libraries is never remembered: dpgui stops with the "
              "install command instead)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
