"""Rough timings of the launcher core with the fake deepspeed (not a test).

    PYTHONPATH=. python tests/fake_deepspeed/bench_follow.py [FLOOD_LINES]
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, wait_for  # noqa: E402

from dpgui_qt.commands.launch import _Lines, parse_line  # noqa: E402
from dpgui_qt.core.run import control  # noqa: E402
from dpgui_qt.core.run.runs import LogFollower, attach  # noqa: E402
from dpgui_qt.core.run.spec import RunSpec  # noqa: E402
from dpgui_qt.core.run.supervisor import start_run  # noqa: E402


def main(flood: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        co, cfg, out = make_checkout(tmp)

        def start(**fake):
            cmd = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=2, extra_env={
                f"FAKE_DS_{k.upper()}": str(v) for k, v in fake.items()}).command()
            t0 = time.perf_counter()
            st = start_run(cmd.argv, tmp / "state", env=cmd.env, cwd=cmd.cwd, output_dir=str(out))
            return st, time.perf_counter() - t0

        st, t_start = start(steps=1, delay=0, flood=flood)
        print(f"start_run() returned after {t_start * 1000:.0f} ms (trainer pid known)")
        f, lines, n_lines, n_steps = LogFollower(st["log_path"]), _Lines(), 0, 0
        h = attach(st["state_dir"])
        t0 = time.perf_counter()
        while True:
            active = h.is_active()
            data = f.read()
            for line in lines.feed(data):
                n_lines += 1
                ev = parse_line(line)
                n_steps += ev is not None and ev[0] == "step"
            if not data and not active:
                break
            if not data:
                time.sleep(0.01)
        dt = time.perf_counter() - t0
        size = Path(st["log_path"]).stat().st_size
        print(f"live follow of {n_lines} lines ({size / 1e6:.1f} MB, {n_steps} step lines): {dt:.2f} s "
              f"including the producer")
        t0 = time.perf_counter()
        data = LogFollower(st["log_path"]).read_available()
        n = sum(1 for line in _Lines().feed(data) if parse_line(line))
        dt = time.perf_counter() - t0
        print(f"re-attach: read+split+parse whole log: {dt * 1000:.0f} ms ({n_lines / dt / 1e6:.2f} M lines/s)")

        st, _ = start(steps=100000, delay=0.05)
        t0 = time.perf_counter()
        wait_for(lambda: h2.state().get("run_dir") if (h2 := attach(st["state_dir"])) else None, timeout=20)
        print(f"run folder recorded {time.perf_counter() - t0:.2f} s after start_run() returned")
        for grace in (0.5, 2.0):
            if grace == 2.0:
                st, _ = start(steps=100000, delay=0.05)
                wait_for(lambda: "steps: 1 " in Path(st["log_path"]).read_text(), timeout=20)
            t0 = time.perf_counter()
            res = control.stop(st, grace_s=grace)
            print(f"Stop (grace {grace} s; ranks ignore SIGTERM): {time.perf_counter() - t0:.2f} s, "
                  f"signalled {len(res.signalled)}, SIGKILLed {len(res.killed)}, left {len(res.remaining)}")
        st, _ = start(steps=100000, delay=0.05)
        wait_for(lambda: "steps: 1 " in Path(st["log_path"]).read_text(), timeout=20)
        t0 = time.perf_counter()
        res = control.kill(st)
        print(f"Kill: {(time.perf_counter() - t0) * 1000:.0f} ms, left {len(res.remaining)}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
