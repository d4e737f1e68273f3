"""Render the monitor screenshots in docs/:

* ``screenshot-monitor.png``: a synthetic run (tests/monitor_synth.py: 3,000 steps of a
  decaying noisy loss, lr warm-up + cosine, epoch ends, saves, eval loss and grad norm in
  TensorBoard events) replayed to step 2,200 with two demo GPUs;
* ``screenshot-monitor-constant-lr.png``: the most common run -- a 3,000-step LoRA at a
  constant ``lr = 2e-4`` (diffusion-pipe's default scheduler), 30 epochs, a save every 5,
  a bare console log (no TensorBoard files, so no grad norm).

    PYTHONPATH=. python bench/make_monitor_screenshot.py [OUT_DIR]
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from monitor_synth import make_run, write_log  # noqa: E402 - after the sys.path entry


def shoot(log: Path, out: Path, *extra: str) -> int:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    r = subprocess.run([sys.executable, "-m", "dpgui_qt", "monitor", str(log),
                        "--replay", "50", "--screenshot", str(out), *extra],
                       env=env, capture_output=True, text=True)
    sys.stdout.write(r.stdout)
    if r.returncode:
        sys.stderr.write(r.stderr)
    return r.returncode


def main() -> int:
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "output", "20250904_15-00-00", steps=3000,
                       steps_per_epoch=250, epochs=16, eval_every=250)
        rc = shoot(next(run.glob("dpgui-*.log")), out_dir / "screenshot-monitor.png",
                   "--after-steps", "2200", "--fake-gpus", "2")
        log = Path(tmp) / "constant-lr.log"
        write_log(log, steps=3000, steps_per_epoch=100, epochs=30, save_every=5, eval_every=0,
                  warmup=0, lr=2e-4, lr_schedule="constant", complete=True)
        rc |= shoot(log, out_dir / "screenshot-monitor-constant-lr.png", "--epochs", "30",
                    "--fake-gpus", "1")
        return rc


if __name__ == "__main__":
    raise SystemExit(main())
