"""Loss-plot cost with 1,000,000 points: dpgui's monitor against a bare pyqtgraph item.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python bench/bench_plot.py [--points N] [--reps R]

Time (median of R, alternating the two sides in one process, same data):

* **bare**   -- ``PlotDataItem`` with ``setDownsampling(auto=True, method="peak")`` and
  ``setClipToView(True)`` in a 1000x420 ``PlotWidget``: ``setData(x, y)`` + one frame
  (``grab()`` renders synchronously).
* **draw**   -- the monitor's loss plot (raw + smoothed curve) with the series already
  holding the points: what happens each time new data arrive -- decimate the visible
  range (min/max per bucket) + ``setData`` on both curves + one frame of the plots.
* **ingest+draw** -- the same plus putting the points into a fresh ``Series``
  (``extend``) and computing the smoothed curve (EMA of all points): the cost of
  opening a finished run with a million steps in one go.

Memory (separate processes, resident set size, ``/proc/self/statm``): RSS added by the
points in the series + the drawn plot, and by the bare item holding the same arrays.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

W, H = 1000, 420


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def data(n: int, seed: int = 0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=np.float64)
    y = 0.07 + 0.05 * np.exp(-x / (n / 5)) * np.exp(rng.normal(0, 0.3, n))
    return x, y


def make_bare():
    import pyqtgraph as pg

    w = pg.PlotWidget()
    w.resize(W, H)
    item = pg.PlotDataItem(pen=pg.mkPen((38, 110, 220), width=1))
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    w.addItem(item)
    w.show()
    return w, item


def make_view():
    from dpgui_qt.gui.monitor.view import MonitorView

    from PySide6.QtWidgets import QApplication

    v = MonitorView()
    v._timer.stop()  # the bench calls refresh() itself
    v.resize(W, H + 200)
    v.show()
    # only the loss has data, so the loss plot is the only one shown: size the view so
    # that its plot area is as large as the bare PlotWidget's
    for _ in range(2):
        v.refresh()
        QApplication.processEvents()
        v.resize(W, v.height() + int(H - v.loss_plot.vb.height()))
        QApplication.processEvents()
    return v


def time_it(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        gc.collect()
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench_time(n: int, reps: int) -> dict:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from dpgui_qt.core.monitor.metrics import Series

    x, y1 = data(n, 0)
    _, y2 = data(n, 1)
    bare_w, bare = make_bare()
    view = make_view()
    m = view.model.metrics
    m.loss.extend(x, y1)
    for _ in range(3):
        app.processEvents()
    flip = [0]

    def bare_once():
        flip[0] ^= 1
        bare.setData(x, y1 if flip[0] else y2)
        bare_w.grab()

    def draw_once():
        m.loss.version += 1            # "new data": the curves must decimate and redraw
        view.refresh()
        view.glw.grab()

    def ingest_once():
        s = Series("loss", smoothing=0.9)
        s.extend(x, y2 if flip[0] else y1)
        m.loss = s
        view.refresh()
        view.glw.grab()

    for f in (bare_once, draw_once, ingest_once):  # warm-up
        f()
    bare_t, draw_t, ingest_t = [], [], []
    for _ in range(reps):  # interleaved, so load on the machine hits all sides alike
        bare_t += time_it(bare_once, 1)
        draw_t += time_it(draw_once, 1)
        ingest_t += time_it(ingest_once, 1)
    dx, _dy = view.raw_curve.item.getData()
    res = {"bare_ms": 1000 * statistics.median(bare_t), "draw_ms": 1000 * statistics.median(draw_t),
           "ingest_draw_ms": 1000 * statistics.median(ingest_t),
           "bare_min_ms": 1000 * min(bare_t), "draw_min_ms": 1000 * min(draw_t),
           "ingest_min_ms": 1000 * min(ingest_t), "drawn_points": int(len(dx))}
    view.close()
    bare_w.close()
    return res


def bench_mem(kind: str, n: int) -> int:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import numpy as np  # noqa: F401 - imports count as baseline, not as data
    import pyqtgraph  # noqa: F401 - the import is what is timed

    if kind == "ours":
        view = make_view()
        view.refresh()
        view.glw.grab()
    else:
        w, item = make_bare()
        w.grab()
    for _ in range(3):
        app.processEvents()
    gc.collect()
    before = rss()
    x, y = data(n)
    if kind == "ours":
        view.model.metrics.loss.extend(x, y)
        del x, y
        view.refresh()
        view.glw.grab()
    else:
        item.setData(x, y)
        w.grab()
    for _ in range(3):
        app.processEvents()
    gc.collect()
    return rss() - before


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--mem", choices=["ours", "bare"], help=argparse.SUPPRESS)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.mem:
        print(bench_mem(a.mem, a.points))
        return 0
    t = bench_time(a.points, a.reps)
    mem = {}
    for kind in ("ours", "bare"):
        out = subprocess.run([sys.executable, __file__, "--mem", kind, "--points", str(a.points)],
                             capture_output=True, text=True, env=dict(os.environ))
        mem[kind] = int(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else None
    r_draw = t["draw_ms"] / t["bare_ms"]
    r_ing = t["ingest_draw_ms"] / t["bare_ms"]
    if a.json:
        print(json.dumps({**t, "ratio_draw": r_draw, "ratio_ingest": r_ing,
                          "mem_ours": mem["ours"], "mem_bare": mem["bare"]}))
        return 0
    mb = lambda v: "n/a" if v is None else f"{v / 1e6:.1f} MB"  # noqa: E731 - a one-line formatter
    print(f"loss plot, {a.points:,} points, {a.reps} interleaved reps (median; min in brackets), "
          f"{os.cpu_count()} CPUs")
    print(f"  bare PlotDataItem (peak downsampling, clip to view): setData + frame "
          f"{t['bare_ms']:7.1f} ms  [{t['bare_min_ms']:.1f}]")
    print(f"  monitor loss plot, new data (decimate + 2 curves + frame)  "
          f"{t['draw_ms']:7.1f} ms  [{t['draw_min_ms']:.1f}]  ratio {r_draw:.2f}x  "
          f"(aim <= 1.3x) -> {t['drawn_points']:,} points handed to pyqtgraph")
    print(f"  monitor, ingest 1M into a fresh series + EMA + draw      "
          f"{t['ingest_draw_ms']:7.1f} ms  [{t['ingest_min_ms']:.1f}]  ratio {r_ing:.2f}x")
    print(f"  resident memory added by the points: monitor series + plot {mb(mem['ours'])} "
          f"(aim <= 100 MB); bare item {mb(mem['bare'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
