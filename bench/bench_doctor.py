"""How long the doctor's probe takes, against the floor of starting the same
interpreter (``python -c pass``), measured in the same run.

    PYTHONPATH=. python3 bench/bench_doctor.py [PYTHON]

Without PYTHON a fresh venv (no torch) is made; pass a real training
environment's python to see what importing torch/deepspeed adds.
"""
from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpgui_qt.core import doctor


def best(fn, n=7) -> float:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    with tempfile.TemporaryDirectory() as d:
        if len(sys.argv) > 1:
            python = sys.argv[1]
        else:
            venv.EnvBuilder(with_pip=False).create(Path(d) / "v")
            python = str(Path(d) / "v" / "bin" / "python")
        floor = best(lambda: subprocess.run([python, "-c", "pass"], check=True))
        step = doctor.probe_steps(doctor.Target(python=python, platform="linux"))[0]
        probe = best(lambda: doctor.run_step(step))
        target = doctor.Target(python=python, platform="linux")
        whole = best(lambda: doctor.examine(target), n=3)
    print(f"interpreter start (floor): {floor * 1000:7.1f} ms")
    print(f"probe:                     {probe * 1000:7.1f} ms  ({probe / floor:.1f}x the floor)")
    print(f"dpgui doctor (in-process): {whole * 1000:7.1f} ms  ({whole / floor:.1f}x the floor)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
