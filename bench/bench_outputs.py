"""Outputs scan vs the floor: ``scan_outputs`` (sizes of every run, saved model and checkpoint,
config parsing, cache staleness) against a bare ``os.walk`` + ``lstat`` of the same tree.

An output_dir of RUNS runs, each with 20 epoch saves and 10 DeepSpeed checkpoints of 8 files
(sparse, so nothing big is written), plus a dataset with caches.

    PYTHONPATH=. python bench/bench_outputs.py [RUNS]
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))


def floor(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            total += os.lstat(os.path.join(root, f)).st_size
    return total


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    from dpgui_qt.core.monitor.outputs import scan_outputs
    from outputs_layout import make_dataset, make_run, sparse
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _d, cfg = make_dataset(tmp / "data", model_names=("flux", "sdxl"))
        out = tmp / "out"
        for i in range(runs):
            r = make_run(out, f"2025{(i // 28) + 1:02d}{(i % 28) + 1:02d}_00-00-00",
                         epochs=range(1, 21), checkpoints=range(100, 1100, 100), latest=1000,
                         ckpt_size=1 << 30, dataset_cfg=cfg)
            for c in range(100, 1100, 100):
                for k in range(6):
                    sparse(r / f"global_step{c}" / f"layer_{k:02d}-model_states.pt", 1 << 28)
        files = sum(len(f) for _r, _d2, f in os.walk(tmp))
        best_floor = best_scan = float("inf")
        for _ in range(5):
            t = time.perf_counter()
            floor(tmp)
            best_floor = min(best_floor, time.perf_counter() - t)
            t = time.perf_counter()
            rep = scan_outputs(out)
            best_scan = min(best_scan, time.perf_counter() - t)
        print(f"{runs} runs, {files} files: floor (os.walk + lstat) {best_floor * 1000:.1f} ms, "
              f"scan_outputs {best_scan * 1000:.1f} ms, ratio {best_scan / best_floor:.2f}x "
              f"({len(rep.runs)} runs, {len(rep.caches)} caches)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
