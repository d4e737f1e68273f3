"""Render docs/screenshot-monitor.png: a synthetic run (tests/monitor_synth.py: 3,000 steps
of a decaying noisy loss, lr warm-up + cosine, epoch ends, saves, eval loss and grad norm in
TensorBoard events) replayed to step 2,200 with two demo GPUs.

    PYTHONPATH=. python bench/make_monitor_screenshot.py [OUT.png]
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

from monitor_synth import make_run  # noqa: E402


def main() -> int:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshot-monitor.png"
    with tempfile.TemporaryDirectory() as tmp:
        run = make_run(Path(tmp) / "output", "20250904_15-00-00", steps=3000,
                       steps_per_epoch=250, epochs=16, eval_every=250)
        log = next(run.glob("dpgui-*.log"))
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
        r = subprocess.run([sys.executable, "-m", "dpgui_qt", "monitor", str(log),
                            "--replay", "50", "--screenshot", str(out), "--after-steps", "2200",
                            "--fake-gpus", "2"], env=env, capture_output=True, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode:
            sys.stderr.write(r.stderr)
        return r.returncode


if __name__ == "__main__":
    raise SystemExit(main())
