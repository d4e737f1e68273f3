"""``dpgui parse-log`` on a 200 MB console log: time and peak memory.

Run:  PYTHONPATH=. python bench/bench_parse_log.py [--mb 200] [--keep LOG] [--baseline CHECKOUT]

It writes a realistic diffusion-pipe log of the given size to a temporary file
(per step the DeepSpeed ``[Rank 0] step=...`` line and the ``steps: N loss:``
line, DeepSpeed INFO noise, tqdm eval bars drawn with ``\\r``, a line holding
only an ANSI reset), then runs each of these as a separate process and reports
its wall time and peak RSS (its own VmHWM), each started in its checkout's root:

  floor       read the file in 1 MiB chunks, split lines, ONE step regex per
              line: the least a line-level parser can do;
  parse-log   ``dpgui parse-log LOG > /dev/null`` (human output);
  --json      ``dpgui parse-log LOG --json > /dev/null``.

Ratios are against the floor measured in the same run. ``--baseline DIR``
also runs another checkout's dpgui (e.g. a copy of main) for comparison. No
assertions: timings depend on the machine; memory must not grow with the log.
"""
from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FLOOR = r"""
import re, sys
rx = re.compile(rb"^steps: (\d+) loss: (\S+) iter time \(s\): (\S+) samples/sec: (\S+)$")
n = 0
with open(sys.argv[1], "rb") as f:
    rest = b""
    while chunk := f.read(1 << 20):
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for ln in lines:
            if rx.match(ln):
                n += 1
print(n)
""" + "\n" + "{HWM}"

# each measured process reports its own peak RSS: VmHWM is reset at exec, unlike
# ru_maxrss, which also counts the memory of the process that forked it
HWM = ("sys.stdout.flush(); sys.stderr.write('PEAK_KB ' + [l for l in open('/proc/self/status') "
       "if l.startswith('VmHWM')][0].split()[1] + '\\n')")
FLOOR = FLOOR.replace("{HWM}", HWM)
CLI = ("import sys\nfrom dpgui_qt.cli import main\ntry:\n    rc = main(sys.argv[1:])\n"
       "finally:\n    " + HWM + "\nsys.exit(rc)\n")


def make_log(path: Path, mb: int, ansi: bool = True) -> int:
    rnd = random.Random(7)
    target = mb << 20
    step = 0
    written = 0
    with open(path, "wb") as f:
        while written < target:
            parts = []
            for _ in range(2000):
                step += 1
                lr = 2e-5 * min(1.0, step / 1000)
                parts.append(f"[2025-09-04 15:{step // 60 % 60:02d}:{step % 60:02d},123] [INFO] "
                             f"[logging.py:107:log_dist] [Rank 0] step={step}, skipped=0, "
                             f"lr=[{lr}], mom=[(0.9, 0.99)]\n")
                parts.append(f"steps: {step} loss: {0.05 + rnd.random() * 0.1:.4f} iter time (s): "
                             f"{1.5 + rnd.random():.3f} samples/sec: {2 + rnd.random():.3f}\n")
                if step % 50 == 0:
                    parts.append("[2025-09-04 15:00:00,000] [INFO] [engine.py:3850:_save_checkpoint] "
                                 "Saving model checkpoint: /out/run/global_step/mp_rank_00_model_states.pt\n")
                    if ansi:
                        parts.append("\x1b[0m\n")
                if step % 200 == 0:
                    parts.append("Running eval\n" + "".join(
                        f"\r{p:3d}%|{'#' * (p // 10):<10}| {p}/100 [00:01<00:01, 50.00it/s]"
                        for p in range(0, 101, 10)) + "\n")
            data = "".join(parts).encode()
            f.write(data)
            written += len(data)
    return step


def run(cmd: list[str], env: dict, cwd: Path) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit status) of one process, stdout discarded."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = p.stderr.read()
    rc = p.wait()
    dt = time.perf_counter() - t0
    if rc:
        sys.stderr.write(err.decode(errors="replace")[-2000:])
    try:
        peak = int(err.rsplit(b"PEAK_KB ", 1)[1].split()[0]) * 1024
    except (IndexError, ValueError):
        peak = -1
    return dt, peak, rc


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--keep", metavar="LOG", help="write the log here and keep it")
    ap.add_argument("--baseline", metavar="CHECKOUT", help="also time this checkout's dpgui "
                    "(the log then has no escape-only lines: older versions crash on them)")
    a = ap.parse_args()
    tmp = None
    if a.keep:
        log = Path(a.keep)
    else:
        tmp = tempfile.TemporaryDirectory()
        log = Path(tmp.name) / "train.log"
    if not log.exists() or log.stat().st_size < (a.mb << 20):
        steps = make_log(log, a.mb, ansi=not a.baseline)
        print(f"log: {log} ({log.stat().st_size / 2**20:.0f} MiB, {steps} steps)")
    py = sys.executable
    rows = [("floor (read + 1 regex)", [py, "-c", FLOOR, str(log)], REPO)]
    for name, root in [("dpgui", REPO)] + ([("baseline", Path(a.baseline))] if a.baseline else []):
        rows.append((f"{name} parse-log", [py, "-c", CLI, "parse-log", str(log)], root))
        rows.append((f"{name} parse-log --json", [py, "-c", CLI, "parse-log", str(log), "--json"], root))
    floor = None
    print(f"{'':32} {'time s':>8} {'x floor':>8} {'peak RSS MiB':>13}")
    for name, cmd, root in rows:
        env = dict(os.environ, PYTHONPATH=str(root))
        dt, rss, rc = run(cmd, env, root)
        floor = floor or dt
        print(f"{name:32} {dt:8.2f} {dt / floor:8.2f} {rss / 2**20:13.0f}" + (f"  (exit {rc})" if rc else ""))
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
