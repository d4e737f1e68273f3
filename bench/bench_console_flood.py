"""A 1,000,000-line console flood through the Run page's real path, with the event-loop stall.

Run:  PYTHONPATH=. QT_QPA_PLATFORM=offscreen python bench/bench_console_flood.py [--lines N]

Path measured (what the Run page does, nothing mocked)::

    fake deepspeed (FAKE_DS_FLOOD=N step lines) -> supervisor -> log file
    -> RunController (QTimer tick, LogFollower.read,
       RunFollower.feed (LineAssembler, LogParser, phase), ConsoleView.append_batch) -> outcome

Three timings:

  live    the run is started and followed while the fake writes the flood
          (bounded by the producer as well as by the GUI);
  replay  a second controller re-attaches to the finished run and reads the
          whole log from byte 0 at full speed (consumer-bound: what the GUI
          path costs per line);
  floor   a bare loop that reads the same log file, decodes, splits into lines
          and applies ONE compiled regex per line (the step-line regex of
          FORMATS.md, as in bench_parser.py).

Ratio = replay lines/s / floor lines/s (goal >= 0.7).  While live and replay
run, a QTimer fires every 5 ms and the largest gap between its ticks is the
worst event-loop stall (goal <= 50 ms).  Best of --repeat runs for replay and
floor, CPU-bound on a possibly busy machine; no assertions.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "fake_deepspeed"))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from fake_ds_support import FAKE_DEEPSPEED, make_checkout  # noqa: E402 - after the sys.path entry

# the step-line regex exactly as FORMATS.md gives it (same floor as bench_parser.py)
FLOOR_RX = re.compile(
    r"^steps:\s+(?P<step>\d+)\s+loss:\s+(?P<loss>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf)"
    r"\s+(?P<extra>(?:[A-Za-z_][\w./-]*:\s+\S+\s+)*)iter time \(s\):\s+(?P<iter_time>[\d.]+|nan|inf)"
    r"\s+samples/sec:\s+(?P<sps>[\d.]+|nan|inf)\s*$"
)


def floor(path: Path) -> tuple[float, int, int]:
    """Bare loop: read, decode, split, one regex per line."""
    t0 = time.perf_counter()
    n = matched = 0
    tail = ""
    match = FLOOR_RX.match
    with open(path, "rb") as f:
        while True:
            chunk = f.read(4 << 20)
            if not chunk:
                break
            lines = (tail + chunk.decode("utf-8", "replace")).split("\n")
            tail = lines.pop()
            n += len(lines)
            for s in lines:
                if match(s) is not None:
                    matched += 1
    if tail:
        n += 1
        matched += match(tail) is not None
    return time.perf_counter() - t0, n, matched


def core_only(path: Path) -> float:
    """The same bytes through LineAssembler + LogParser alone (no Qt, no console):
    what the core costs, so the GUI's own overhead can be told apart."""
    from dpgui_qt.core.run.lines import LineAssembler
    from dpgui_qt.core.run.parse import LogParser
    asm, parser = LineAssembler(), LogParser()
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        while True:
            chunk = f.read(256 << 10)
            if not chunk:
                break
            texts, _kinds = asm.feed_raw(chunk)
            parser.feed_many(texts)
    texts, _kinds = asm.flush_raw()
    parser.feed_many(texts)
    return time.perf_counter() - t0


class StallProbe:
    """A 5 ms QTimer; the largest gap between two of its ticks."""

    def __init__(self, interval_ms: int = 5):
        from PySide6.QtCore import QTimer
        self.interval = interval_ms / 1000
        self.max_gap = 0.0
        self.ticks = 0
        self._last = None
        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)

    def start(self):
        self.max_gap, self.ticks, self._last = 0.0, 0, time.perf_counter()
        self.timer.start()

    def stop(self):
        self.timer.stop()

    def _tick(self):
        now = time.perf_counter()
        self.max_gap = max(self.max_gap, now - self._last)
        self._last = now
        self.ticks += 1


def follow(app, console, state_dir, probe) -> tuple[float, object]:
    from dpgui_qt.gui.run.controller import RunController
    from PySide6.QtCore import QEventLoop
    c = RunController(console)
    loop = QEventLoop()
    c.finished.connect(lambda _o: loop.quit())
    probe.start()
    t0 = time.perf_counter()
    c.attach(state_dir)
    loop.exec()                  # the real event loop, as in the app
    dt = time.perf_counter() - t0
    probe.stop()
    console.flush()
    return dt, c


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from PySide6.QtWidgets import QApplication
    from dpgui_qt.core.run.spec import RunSpec
    from dpgui_qt.core.run.supervisor import start_run
    from dpgui_qt.gui.run.console import ConsoleView

    app = QApplication.instance() or QApplication([])
    console = ConsoleView()
    console.resize(1000, 700)
    console.show()
    probe = StallProbe()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        co, cfg, out = make_checkout(tmp)
        spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=1, extra_env={
            "FAKE_DS_FLOOD": str(args.lines), "FAKE_DS_STEPS": "3", "FAKE_DS_DELAY": "0"})
        cmd = spec.command()
        st = start_run(cmd.argv, tmp / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                       output_dir=str(out))
        live_s, c = follow(app, console, st["state_dir"], probe)
        live_stall = probe.max_gap
        log = Path(c.state["log_path"])
        size = log.stat().st_size
        rows = console.total_rows
        print(f"log: {c.lines:,} lines, {size / 1e6:.1f} MB, {c.steps_seen:,} step events, "
              f"outcome: {c.outcome.title}; console held {console.row_count():,} of {rows:,} rows "
              f"(max_rows {console.max_rows:,})")
        print(f"live    (producer + GUI)        {live_s:7.2f} s  {c.lines / live_s / 1e6:5.2f} M lines/s"
              f"   max event-loop gap {live_stall * 1000:5.1f} ms ({probe.ticks} probe ticks)")

        best_replay, replay_stall = None, 0.0
        best_floor = best_core = None
        for _ in range(max(1, args.repeat)):
            f_s, f_n, f_m = floor(log)
            best_floor = f_s if best_floor is None else min(best_floor, f_s)
            k_s = core_only(log)
            best_core = k_s if best_core is None else min(best_core, k_s)
            r_s, rc = follow(app, console, st["state_dir"], probe)
            replay_stall = max(replay_stall, probe.max_gap)
            best_replay = r_s if best_replay is None else min(best_replay, r_s)
            assert rc.lines == c.lines and console.total_rows == rows, "replay read a different log"
        n = c.lines
        r_rate, f_rate = n / best_replay, f_n / best_floor
        print(f"replay  (GUI path, full speed)  {best_replay:7.2f} s  {r_rate / 1e6:5.2f} M lines/s"
              f"   max event-loop gap {replay_stall * 1000:5.1f} ms")
        print(f"floor   (read+split+1 regex)    {best_floor:7.2f} s  {f_rate / 1e6:5.2f} M lines/s"
              f"   ({f_m:,} lines matched)")
        k_rate = n / best_core
        print(f"core    (assembler+parser only) {best_core:7.2f} s  {k_rate / 1e6:5.2f} M lines/s"
              f"   = {k_rate / f_rate:.2f}x floor; the GUI path runs at {r_rate / k_rate:.2f}x "
              f"of the bare core")
        ratio = r_rate / f_rate
        stall = max(live_stall, replay_stall) * 1000
        print(f"\nRESULT: GUI path = {ratio:.2f}x the floor's lines/s (goal >= 0.70: "
              f"{'met' if ratio >= 0.7 else 'NOT met'}); worst event-loop stall {stall:.1f} ms "
              f"(goal <= 50: {'met' if stall <= 50 else 'NOT met'})")
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}; "
              f"tick budget {c.budget_s * 1000:.0f} ms, last chunk {c._chunk // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
