"""Helpers for tests that run the fake deepspeed (import after adding this folder to sys.path)."""
from __future__ import annotations

import os
import time
from pathlib import Path

FAKE_DEEPSPEED = Path(__file__).resolve().parent / "deepspeed"


def make_checkout(tmp: Path, *, stages: int = 1, model: str = "flux",
                  valid: bool = False) -> tuple[Path, Path, Path]:
    """A fake diffusion-pipe checkout, a main config in it and its output_dir.
    ``valid``: a config the launch gate accepts (see :func:`write_valid_config`);
    otherwise a bare one that only the environment checks would pass.
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
    if valid:
        cfg = write_valid_config(tmp, co, out, stages=stages)
    return co, cfg, out


def write_images(folder: Path, n: int = 4, captions: int | None = None,
                 size: tuple[int, int] = (64, 64)) -> list[Path]:
    """``n`` small PNGs in ``folder``; the first ``captions`` of them (default all) get a
    same-named .txt caption."""
    from PIL import Image
    folder.mkdir(parents=True, exist_ok=True)
    captions = n if captions is None else captions
    out = []
    for i in range(n):
        p = folder / f"img{i:03d}.png"
        Image.new("RGB", size, (i * 40 % 256, 90, 160)).save(p)
        if i < captions:
            p.with_suffix(".txt").write_text(f"a test picture number {i}\n")
        out.append(p)
    return out


def write_valid_config(tmp: Path, co: Path, out: Path, *, stages: int = 1,
                       images: int = 4) -> Path:
    """A flux LoRA config the launch gate accepts: every path present, a dataset
    folder with captioned images, named relative to the checkout as upstream does."""
    models = tmp / "models" / "flux-dev"
    models.mkdir(parents=True, exist_ok=True)
    data = tmp / "data" / "images"
    write_images(data, images)
    (co / "examples" / "dataset.toml").write_text(
        f"resolutions = [512]\n\n[[directory]]\npath = '{data}'\nnum_repeats = 1\n")
    cfg = co / "examples" / "fake.toml"
    cfg.write_text(f"""output_dir = '{out}'
dataset = 'examples/dataset.toml'
epochs = 1
micro_batch_size_per_gpu = 1
pipeline_stages = {stages}
gradient_accumulation_steps = 1
save_every_n_epochs = 1

[model]
type = 'flux'
diffusers_path = '{models}'
dtype = 'bfloat16'
transformer_dtype = 'float8'

[adapter]
type = 'lora'
rank = 32
dtype = 'bfloat16'

[optimizer]
type = 'adamw_optimi'
lr = 2e-5
""")
    return cfg


def wait_for(cond, timeout: float = 60.0, poll: float = 0.02, what: str = "condition"):
    """Poll ``cond`` until it is truthy (returned) or ``timeout`` passes (AssertionError).
    The ceiling is generous on purpose: it only matters when the condition never comes,
    and a loaded machine must not turn a slow start into a failure."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def live_group_psutil(pgid: int) -> list[int]:
    """Processes whose process group or session is ``pgid`` and that have not exited
    (zombies and dead ones do not count, as in the product's check; checked with psutil)."""
    import psutil
    out = []
    for p in psutil.process_iter():
        try:
            if os.getpgid(p.pid) == pgid or os.getsid(p.pid) == pgid:
                if p.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD):
                    out.append(p.pid)
        except (ProcessLookupError, PermissionError, psutil.Error):
            pass
    return out
