"""Throughput of the console pipeline on a 1,000,000-line diffusion-pipe log.

Run:  PYTHONPATH=. python bench/bench_parser.py [--lines N] [--chunk BYTES] [--profile]

It builds a realistic log in memory (per optimizer step the DeepSpeed
``[Rank 0] step=...`` logger line and the ``steps: N loss: ...`` line, DeepSpeed
logger noise such as checkpoint and config messages, and tqdm eval bars
drawn with ``\\r`` updates), then times, in one process:

  floor   decode + split into lines + ONE compiled regex (the step-line regex)
          matched against every line: the least any line-level parser can do;
  parser  LineAssembler (bytes in 64 KiB chunks, as from a pipe) + LogParser
          (typed events for every recognised line), the real pipeline.

It prints lines/s for both and the ratio parser/floor (goal: <= 2x). Each is
the best of several repeats. No assertions: timings depend on the machine.
"""
from __future__ import annotations

import argparse
import gc
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import LogParser, StepEvent, LrEvent, ProgressEvent

# the step-line regex exactly as FORMATS.md gives it
FLOOR_RX = re.compile(
    r"^steps:\s+(?P<step>\d+)\s+loss:\s+(?P<loss>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf)"
    r"\s+(?P<extra>(?:[A-Za-z_][\w./-]*:\s+\S+\s+)*)iter time \(s\):\s+(?P<iter_time>[\d.]+|nan|inf)"
    r"\s+samples/sec:\s+(?P<sps>[\d.]+|nan|inf)\s*$"
)

NOISE = [
    "[{ts}] [INFO] [logging.py:123:log_dist] [Rank 0] [Torch] Checkpoint global_step{step} is about to be saved!",
    "[{ts}] [INFO] [engine.py:3638:save_checkpoint] Saving model checkpoint: /out/20260101_00-00-00/global_step{step}/mp_rank_00_model_states.pt",
    "[{ts}] [INFO] [torch_checkpoint_engine.py:33:commit] [Torch] Checkpoint global_step{step} is ready now!",
    "[{ts}] [INFO] [config.py:1007:print]   zero_optimization_stage ...... 0",
    "[{ts}] [INFO] [logging.py:123:log_dist] [Rank 0] DeepSpeed Final Optimizer = AdamW",
    "[{ts}] [WARNING] [lr_schedules.py:855:get_lr] Attempting to get learning rate from scheduler before it has started",
    "[{ts}] [INFO] [launch.py:139:main] 0 NCCL_P2P_DISABLE=1",
]


def build_log(n_lines: int, seed: int = 1) -> tuple[bytes, int, int]:
    """Return (bytes, physical line count after splitting on \\r and \\n, steps)."""
    rnd = random.Random(seed)
    out: list[str] = []
    count = 0
    step = 0
    sec = 0
    while count < n_lines:
        # ten optimizer steps: the DeepSpeed lr report, then the progress line
        for _ in range(10):
            step += 1
            sec += 3
            ts = f"2026-01-28 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d},{rnd.randrange(1000):03d}"
            lr = 2e-5 * min(1.0, step / 100)
            out.append(f"[{ts}] [INFO] [logging.py:123:log_dist] [Rank 0] step={step}, skipped=0, "
                       f"lr=[{lr!r}], mom=[(0.9, 0.99)]\n")
            loss = rnd.uniform(0.02, 0.2)
            out.append(f"steps: {step} loss: {loss:0.4f} iter time (s): {rnd.uniform(2, 4):0.3f} "
                       f"samples/sec: {rnd.uniform(0.2, 0.5):0.3f}\n")
            count += 2
        # logger noise
        for _ in range(7):
            out.append(rnd.choice(NOISE).format(ts=ts, step=step) + "\n")
            count += 1
        # an eval pass: tqdm draws the bar with \r updates and closes with \n
        out.append("Running eval\n")
        total = 6
        bar = []
        for i in range(total + 1):
            filled = "█" * (i * 10 // total)
            bar.append(f"\r{i * 100 // total:3d}%|{filled:<10}| {i}/{total} "
                       f"[00:{i:02d}<00:{total - i:02d},  1.00it/s]")
        out.append("".join(bar) + "\n")
        count += 1 + total + 1
    text = "".join(out)
    return text.encode("utf-8"), count, step


def run_floor(data: bytes) -> int:
    match = FLOOR_RX.match
    hits = 0
    for line in data.decode("utf-8", "replace").splitlines():
        if match(line) is not None:
            hits += 1
    return hits


class Consumer:
    """Receives each batch of events. In the timed runs it only counts them
    (what a monitor does with the events is the monitor's cost, not the
    parser's); ``count_types=True`` is used for the untimed check run."""

    def __init__(self, count_types: bool = False) -> None:
        self.n = 0
        self.counts: dict[type, int] = {}
        self.count_types = count_types

    def take(self, events: list) -> None:
        self.n += len(events)
        if self.count_types:
            counts = self.counts
            for e in events:
                t = type(e)
                counts[t] = counts.get(t, 0) + 1


def run_parser(data: bytes, chunk: int, count_types: bool = False) -> Consumer:
    """The flood path: feed_raw() text lists straight into feed_many()."""
    asm = LineAssembler()
    parser = LogParser()
    sink = Consumer(count_types)
    feed_raw = asm.feed_raw
    feed_many = parser.feed_many
    take = sink.take
    mv = memoryview(data)
    for i in range(0, len(data), chunk):
        texts, kinds = feed_raw(mv[i:i + chunk])  # (texts, kinds) would also go to the console
        take(feed_many(texts))
    take(parser.feed_many(asm.flush_raw()[0]))
    take(parser.finish())
    return sink


def run_parser_retain(data: bytes, chunk: int) -> Consumer:
    """Same, but every event object is kept alive (a list of ~830k events):
    shows what the cyclic GC costs when a consumer retains everything."""
    asm = LineAssembler()
    parser = LogParser()
    sink = Consumer()
    kept: list = []
    mv = memoryview(data)
    for i in range(0, len(data), chunk):
        ev = parser.feed_many(asm.feed_raw(mv[i:i + chunk])[0])
        kept.extend(ev)
        sink.take(ev)
    ev = parser.feed_many(asm.flush_raw()[0]) + parser.finish()
    kept.extend(ev)
    sink.take(ev)
    return sink


def run_parser_lines(data: bytes, chunk: int) -> Consumer:
    """The convenience path: Line objects from feed(), parser.feed_lines()."""
    asm = LineAssembler()
    parser = LogParser()
    sink = Consumer()
    mv = memoryview(data)
    for i in range(0, len(data), chunk):
        sink.take(parser.feed_lines(asm.feed(mv[i:i + chunk])))
    sink.take(parser.feed_lines(asm.flush()))
    sink.take(parser.finish())
    return sink


# CPU time of this process: on a shared machine, wall time also counts the time
# other processes held the CPU. --wall switches to time.perf_counter.
CLOCK = time.process_time


def best_of_interleaved(fns: dict, repeats: int) -> dict:
    """Best time of each function, runs interleaved so that load changes on a
    shared machine hit all of them alike. Returns {name: (seconds, result)}."""
    best = {k: (float("inf"), None) for k in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            gc.collect()
            t0 = CLOCK()
            result = fn()
            dt = CLOCK() - t0
            if dt < best[name][0]:
                best[name] = (dt, result)
            del result
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--chunk", type=int, default=65536, help="bytes per feed() call")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--profile", action="store_true", help="cProfile one parser run")
    ap.add_argument("--wall", action="store_true", help="time with perf_counter instead of CPU time")
    args = ap.parse_args(argv)
    global CLOCK
    if args.wall:
        CLOCK = time.perf_counter

    data, n_lines, n_steps = build_log(args.lines)
    print(f"log: {n_lines:,} lines ({len(data) / 1e6:.1f} MB), {n_steps:,} optimizer steps, "
          f"python {sys.version.split()[0]}")

    if args.profile:
        import cProfile
        import pstats
        cProfile.runctx("run_parser(data, args.chunk)", globals(), locals(), "/tmp/bench_parser.prof")
        pstats.Stats("/tmp/bench_parser.prof").sort_stats("tottime").print_stats(15)
        return 0

    res = best_of_interleaved({
        "floor": lambda: run_floor(data),
        "parser": lambda: run_parser(data, args.chunk),
        "retain": lambda: run_parser_retain(data, args.chunk),
        "lines": lambda: run_parser_lines(data, args.chunk),
    }, args.repeats)
    t_floor, hits = res["floor"]
    t_parse, _ = res["parser"]
    counts = run_parser(data, args.chunk, count_types=True).counts  # untimed check run
    steps, lrs, bars = counts.get(StepEvent, 0), counts.get(LrEvent, 0), counts.get(ProgressEvent, 0)
    total = sum(counts.values())
    ok = steps == n_steps == hits and lrs == n_steps
    for name in ("parser", "retain", "lines"):
        ok = ok and res[name][1].n == total

    def row(label: str, t: float) -> str:
        return (f"{label:<44}{t:7.3f} s {n_lines / t / 1e6:6.2f} M lines/s "
                f"{t / t_floor:6.2f}x floor")

    print(row("floor: decode+splitlines+1 step regex/line", t_floor)
          + f"   ({hits:,} step lines matched)")
    print(row("parser: LineAssembler.feed_raw+feed_many", t_parse)
          + f"   ({total:,} events: {steps:,} steps, {lrs:,} lr, {bars:,} bars)")
    print(row("  same, all events kept in one list", res["retain"][0]))
    print(row("  same, via Line objects (feed/feed_lines)", res["lines"][0]))
    print(f"ratio parser/floor: {t_parse / t_floor:.2f}x (goal <= 2.00x); "
          f"{'wall' if args.wall else 'CPU'} time, best of {args.repeats} interleaved runs; "
          f"event counts {'match' if ok else 'DO NOT match'} the generated log")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
