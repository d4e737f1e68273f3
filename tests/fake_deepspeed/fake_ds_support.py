"""Helpers for tests that run the fake deepspeed (import after adding this folder to sys.path)."""
from __future__ import annotations

import os
import time
from pathlib import Path

FAKE_DEEPSPEED = Path(__file__).resolve().parent / "deepspeed"


def make_checkout(tmp: Path, *, stages: int = 1, model: str = "flux") -> tuple[Path, Path, Path]:
    """A fake diffusion-pipe checkout, a main config in it and its output_dir.
    Returns (checkout, config, output_dir)."""
    co = tmp / "diffusion-pipe"
    (co / "examples").mkdir(parents=True, exist_ok=True)
    (co / "train.py").write_text("# fake\n")
    (co / "examples" / "dataset.toml").write_text("[[directory]]\npath = '/nonexistent'\n")
    out = tmp / "training_runs"
    cfg = co / "examples" / "fake.toml"
    cfg.write_text(f"output_dir = '{out}'\ndataset = 'examples/dataset.toml'\nepochs = 1\n"
                   f"micro_batch_size_per_gpu = 1\npipeline_stages = {stages}\n"
                   f"gradient_accumulation_steps = 1\n[model]\ntype = '{model}'\n")
    return co, cfg, out


def wait_for(cond, timeout: float = 10.0, poll: float = 0.02, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def live_group_psutil(pgid: int) -> list[int]:
    """Non-zombie processes whose process group or session is ``pgid`` (checked with psutil)."""
    import psutil
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid or os.getsid(p.pid) == pgid:
                if p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return out
