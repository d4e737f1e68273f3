"""A realistic synthetic diffusion-pipe run (console log, TensorBoard events, config
copy) for the monitor's tests, bench and README screenshot.

Log lines follow shared/corpus/logs/FORMATS.md: DeepSpeed's ``[Rank 0] step=N``
report just before each ``steps: N loss:`` line, ``Saving model to directory
epochE`` then ``Started new epoch: E+1`` at epoch ends, ``Running eval`` + a
tqdm bar, DeepSpeed checkpoint lines and ``TRAINING COMPLETE!`` at the end.
Loss: a decaying curve with log-normal noise (diffusion losses are noisy
because each step samples a different timestep); lr: linear warm-up then cosine.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

CONFIG = """\
output_dir = '{out}'
dataset = 'dataset.toml'
epochs = {epochs}
micro_batch_size_per_gpu = 1
gradient_accumulation_steps = 4
warmup_steps = {warmup}
save_every_n_epochs = {save_every}
checkpoint_every_n_minutes = 120
eval_every_n_steps = {eval_every}

[model]
type = 'wan'
ckpt_path = '/models/Wan2.1-T2V-14B'
dtype = 'bfloat16'
transformer_dtype = 'float8'
timestep_sample_method = 'logit_normal'

[adapter]
type = 'lora'
rank = 32
dtype = 'bfloat16'

[optimizer]
type = 'adamw_optimi'
lr = {lr}
betas = [0.9, 0.99]
weight_decay = 0.01
"""


def loss_at(step: int, rng: random.Random) -> float:
    base = 0.072 + 0.055 * math.exp(-step / 700.0) + 0.01 * math.exp(-step / 4000.0)
    return base * math.exp(rng.gauss(0.0, 0.33))


def lr_at(step: int, total: int, peak: float, warmup: int, schedule: str = "cosine") -> float:
    """``cosine``: linear warm-up then cosine decay; ``constant``: diffusion-pipe's
    default (``lr_scheduler = 'constant'``), the same lr every step (after warm-up)."""
    if step <= warmup:
        return peak * step / warmup
    if schedule == "constant":
        return peak
    t = (step - warmup) / max(1, total - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * min(1.0, t)))


def write_log(path: Path, steps: int = 3000, steps_per_epoch: int = 250, epochs: int = 16,
              save_every: int = 2, eval_every: int = 500, warmup: int = 100, lr: float = 2e-5,
              seed: int = 7, nan_steps: tuple[int, ...] = (), complete: bool = False,
              start: datetime | None = None, lr_schedule: str = "cosine") -> dict:
    """Write the console log; returns {"losses", "lrs", "iter_times", "epochs", "saves"}."""
    rng = random.Random(seed)
    total = steps_per_epoch * epochs
    t = start or datetime(2025, 9, 4, 15, 0, 0)
    gbs = 4
    out: list[str] = [
        f"[{t:%Y-%m-%d %H:%M:%S},100] [INFO] [real_accelerator.py:254:get_accelerator] "
        "Setting ds_accelerator to cuda (auto detect)",
        "caching latents: /data/clips",
        "Global batch size = 4",
        f"[{t:%Y-%m-%d %H:%M:%S},900] [INFO] [logging.py:107:log_dist] [Rank 0] DeepSpeed info: "
        "version=0.17.0, git-hash=unknown, git-branch=unknown",
    ]
    rec = {"losses": [], "lrs": [], "iter_times": [], "epoch_ends": [], "saves": []}
    for s in range(1, steps + 1):
        it = 531.283 if s == 1 else max(0.5, rng.gauss(2.15, 0.08) + (0.6 if s % 97 == 0 else 0.0))
        t += timedelta(seconds=it)
        lr_v = lr_at(s, total, lr, warmup, lr_schedule)
        loss = math.nan if s in nan_steps else loss_at(s, rng)
        ms = int((t.microsecond or 0) / 1000)
        out.append(f"[{t:%Y-%m-%d %H:%M:%S},{ms:03d}] [INFO] [logging.py:107:log_dist] [Rank 0] "
                   f"step={s}, skipped=0, lr=[{lr_v!r}], mom=[(0.9, 0.99)]")
        out.append(f"steps: {s} loss: {loss:0.4f} iter time (s): {it:0.3f} "
                   f"samples/sec: {gbs / it:0.3f}")
        rec["losses"].append(float(f"{loss:0.4f}"))
        rec["lrs"].append(lr_v)
        rec["iter_times"].append(float(f"{it:0.3f}"))
        if s % steps_per_epoch == 0:
            e = s // steps_per_epoch
            rec["epoch_ends"].append(s)
            if e % save_every == 0:
                out.append(f"Saving model to directory epoch{e}")
                rec["saves"].append((s, f"epoch{e}"))
            if e < epochs:
                out.append(f"Started new epoch: {e + 1}")
        if eval_every and s % eval_every == 0:
            out.append("Running eval")
            out.append("100%|██████████| 9/9 [00:04<00:00,  2.05it/s]")
        if s % 1000 == 0:
            out.append(f"[{t:%Y-%m-%d %H:%M:%S},{ms:03d}] [INFO] [torch_checkpoint_engine.py:33:save] "
                       f"[Torch] Checkpoint global_step{s} is about to be saved!")
    if complete:
        out.append(f"Saving model to directory epoch{epochs}")
        out.append("TRAINING COMPLETE!")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")
    return rec


def make_run(output_dir: Path, name: str = "20250904_15-00-00", steps: int = 3000,
             steps_per_epoch: int = 250, epochs: int = 16, eval_every: int = 250,
             with_log: bool = True, with_events: bool = True, seed: int = 7,
             lr: float = 2e-5, **kw) -> Path:
    """A run folder as diffusion-pipe + dpgui leave it: config copy, TensorBoard
    events, epoch saves, a checkpoint, and dpgui's log (in output_dir/.dpgui-logs,
    linked from the run folder). Returns the run folder."""
    from dpgui_qt.core.monitor.tbevents import (encode_file_version, encode_scalar_event)

    output_dir.mkdir(parents=True, exist_ok=True)
    run = output_dir / name
    run.mkdir()
    (run / "config.toml").write_text(CONFIG.format(out=output_dir, epochs=epochs, warmup=100,
                                                   save_every=2, eval_every=eval_every, lr=lr))
    (run / "dataset.toml").write_text("[[directory]]\npath = '/data/clips'\n")
    started = datetime.strptime(name, "%Y%m%d_%H-%M-%S").replace(tzinfo=timezone.utc)
    rec = None
    if with_log:
        logs = output_dir / ".dpgui-logs"
        logs.mkdir(exist_ok=True)
        log = logs / f"dpgui-{(started - timedelta(seconds=20)):%Y%m%d_%H-%M-%S}.log"
        rec = write_log(log, steps, steps_per_epoch, epochs, eval_every=eval_every, seed=seed,
                        lr=lr, **kw)
        try:
            (run / log.name).symlink_to(log)
        except OSError:
            pass
    if rec is None:
        rng = random.Random(seed)
        rec = {"losses": [round(loss_at(s, rng), 4) for s in range(1, steps + 1)], "saves": [],
               "epoch_ends": [s for s in range(1, steps + 1) if s % steps_per_epoch == 0]}
    for s, nm in rec["saves"]:
        d = run / nm
        d.mkdir()
        (d / "adapter_model.safetensors").write_bytes(b"\0" * (1000 + s))
        (d / "adapter_config.json").write_text("{}")
    ck = (steps // 1000) * 1000
    if ck:
        (run / f"global_step{ck}").mkdir()
        (run / f"global_step{ck}" / "layer_00-model_states.pt").write_bytes(b"\0" * 512)
        (run / "latest").write_text(f"global_step{ck}")
    if with_events:
        rng = random.Random(seed + 1)
        wall = started.timestamp()
        chunks = [encode_file_version(wall)]
        for s in range(1, steps + 1):
            chunks.append(encode_scalar_event("train/loss", rec["losses"][s - 1], s, wall + s * 2))
            chunks.append(encode_scalar_event("train/grad_norm",
                                              0.05 + 0.4 * math.exp(-s / 300) * math.exp(rng.gauss(0, 0.3)),
                                              s, wall + s * 2))
            if eval_every and s % eval_every == 0:
                ev = 0.068 + 0.05 * math.exp(-s / 900) + 0.002 * rng.random()
                chunks.append(encode_scalar_event("eval/loss", ev, s, wall + s * 2))
                chunks.append(encode_scalar_event("eval/eval_time_sec", 4.1, s, wall + s * 2))
        for e, end in enumerate(rec["epoch_ends"], start=1):
            lo = (e - 1) * steps_per_epoch
            vals = [v for v in rec["losses"][lo:end] if v == v]
            chunks.append(encode_scalar_event("train/epoch_loss", sum(vals) / len(vals), e,
                                              wall + end * 2))
        (run / f"events.out.tfevents.{int(wall)}.host.1234.0").write_bytes(b"".join(chunks))
    return run


if __name__ == "__main__":  # pragma: no cover
    import sys

    out = Path(sys.argv[1] if len(sys.argv) > 1 else "synthetic-output")
    print(make_run(out))
