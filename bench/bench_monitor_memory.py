"""Memory and loading of long runs in the monitor, against an empty monitor measured in
the same process.

    QT_QPA_PLATFORM=offscreen PYTHONPATH=. python bench/bench_monitor_memory.py [--steps 300000 1000000]

For each run length a synthetic console log (tests/monitor_synth.py: constant lr, 50
epochs, a save every epoch) is written once to bench/out/ (gitignored), then, in a fresh
process per log and way of opening it:

* the ``dpgui monitor`` window is created and shown empty; resident set size (RSS,
  ``/proc/self/statm``) after a garbage collection = the floor;
* the log is opened -- ``follow`` (what Open Log / a run folder does: a thread reads and
  parses, the GUI thread feeds the series) or ``instant`` (``--replay`` with
  ``--screenshot``: slices parsed on the GUI thread) -- and the event loop runs until
  every step is in;
* reported: RSS added over the floor (after a collection) and at its peak while
  loading (sampled every event-loop turn), the seconds to load, the longest the
  GUI thread went without turning its event loop while loading (responsiveness;
  wall clock, and the CPU time the GUI thread itself spent in that turn, which does
  not grow with the machine's load),
  how many progress reports the view got, and the bytes the series hold.

Aim (issue 19): added memory <= 60 MB over an empty monitor at 1,000,000 steps.

Measured on the 2-core development machine (shared with other jobs, load average
~10), empty monitor window 132 MB RSS; "stall" is the longest event-loop turn while
loading in wall-clock time, with the GUI thread's own CPU time in brackets:

=========  ======  =======  =======  ==========  =======  ======  ================
steps      log     way      added    peak added  series   load    longest stall
=========  ======  =======  =======  ==========  =======  ======  ================
300,000    57 MB   follow   44.8 MB  40.7 MB     17.6 MB  18 s    1.2 s (0.30 s)
300,000    57 MB   instant  36.5 MB  33.0 MB     17.6 MB  36 s    2.5 s (0.53 s)
1,000,000  190 MB  follow   58.7 MB  57.2 MB     30.1 MB  58 s    2.3 s (0.55 s)
1,000,000  190 MB  instant  55.1 MB  53.0 MB     30.1 MB  85 s    1.9 s (0.55 s)
=========  ======  =======  =======  ==========  =======  ======  ================

Before (issue 19's report, same kind of 300,000-step log): +148 MB (139 -> 287 MB) and
7.4 s to load; on this machine the old code's ``--replay
--screenshot`` of it peaked at 361 MB RSS and took 87 s. A long turn is one frame of
the plots, a refresh and at worst a full garbage collection together; its wall time
grows with the machine's load, its CPU time does not.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tests")):
    if p not in sys.path:
        sys.path.insert(0, p)
OUT = ROOT / "bench" / "out"


def rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def make_log(steps: int) -> Path:
    from monitor_synth import write_log

    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"monitor-{steps}.log"
    if not path.exists():
        spe = steps // 50
        tmp = path.with_suffix(".tmp")
        write_log(tmp, steps=steps, steps_per_epoch=spe, epochs=50, save_every=1, eval_every=0,
                  warmup=100, lr=2e-4, lr_schedule="constant", complete=True)
        tmp.replace(path)
    return path


def measure(log: Path, way: str, steps: int) -> dict:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    import numpy as np  # noqa: F401 - imports belong to the floor
    import pyqtgraph  # noqa: F401 - its memory is what is measured

    from dpgui_qt.core.monitor.gpu import FakeSampler
    from dpgui_qt.gui.monitor.window import MonitorWindow

    win = MonitorWindow(sampler=FakeSampler(count=1))
    win.resize(1400, 900)
    win.show()
    model = win.model
    for _ in range(20):
        app.processEvents()
        time.sleep(0.01)
    win.grab()
    gc.collect()
    floor = rss()
    reports = []
    model.loadProgress.connect(lambda d, t: reports.append((d, t)))
    t0 = time.perf_counter()
    if way == "follow":
        model.follow(log)
    else:
        model.replay(log, 1000, instant=True)
    peak, last, stall, stall_cpu = floor, time.perf_counter(), 0.0, 0.0
    deadline = t0 + 600
    while time.perf_counter() < deadline:
        c0 = time.thread_time()
        app.processEvents()
        stall_cpu = max(stall_cpu, time.thread_time() - c0)   # the GUI thread's own work
        now = time.perf_counter()
        stall = max(stall, now - last)
        last = now
        peak = max(peak, rss())
        if len(model.metrics.loss) >= steps and not model.replaying and not model.loading:
            break
        time.sleep(0.002)
    load_s = time.perf_counter() - t0
    win.view.refresh()
    win.grab()
    for _ in range(5):
        app.processEvents()
    model.stop()
    gc.collect()
    added = rss() - floor
    m = model.metrics
    series = [m.loss, m.lr, m.iter_time, m.samples_per_sec, *m.extra_losses.values(), *m.tb.values()]
    res = {"way": way, "steps": len(m.loss), "floor": floor, "added": added,
           "peak_added": max(0, peak - floor), "load_s": load_s, "max_stall_s": stall,
           "max_turn_cpu_s": stall_cpu,
           "progress_reports": len(reports), "series_bytes": sum(s.nbytes for s in series),
           "log_bytes": log.stat().st_size}
    win.close()
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[300_000, 1_000_000])
    ap.add_argument("--ways", nargs="+", default=["follow", "instant"],
                    choices=["follow", "instant"])
    ap.add_argument("--one", nargs=3, help=argparse.SUPPRESS)   # log way steps
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.one:
        print(json.dumps(measure(Path(a.one[0]), a.one[1], int(a.one[2]))))
        return 0
    rows = []
    for n in a.steps:
        log = make_log(n)
        for way in a.ways:
            r = subprocess.run([sys.executable, __file__, "--one", str(log), way, str(n)],
                               capture_output=True, text=True, env=dict(os.environ))
            if r.returncode:
                sys.stderr.write(r.stderr[-3000:])
                continue
            rows.append(json.loads(r.stdout.strip().splitlines()[-1]))
    if a.json:
        print(json.dumps(rows))
        return 0
    mb = lambda v: f"{v / 1e6:6.1f} MB"  # noqa: E731 - a one-line formatter
    print(f"monitor memory and loading, {os.cpu_count()} CPUs (RSS over an empty monitor "
          f"window measured in the same process; aim <= 60 MB at 1M steps)")
    for r in rows:
        print(f"  {r['steps']:>9,} steps, {r['log_bytes'] / 1e6:5.0f} MB log, {r['way']:7s}: "
              f"empty monitor {mb(r['floor'])}; added {mb(r['added'])} "
              f"(x{(r['floor'] + r['added']) / r['floor']:.2f} of empty), peak while loading "
              f"+{mb(r['peak_added'])}; series hold {mb(r['series_bytes'])}; "
              f"load {r['load_s']:5.1f} s, longest GUI stall {1000 * r['max_stall_s']:4.0f} ms "
              f"(of it GUI-thread CPU {1000 * r['max_turn_cpu_s']:4.0f} ms), "
              f"{r['progress_reports']} progress reports")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
