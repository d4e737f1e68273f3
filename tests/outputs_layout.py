"""Build output folders and datasets laid out like diffusion-pipe's, with sparse files."""
from __future__ import annotations

import json
import os
import struct
from pathlib import Path

GB = 1 << 30
MB = 1 << 20


def sparse(path: Path, size: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def safetensors(path: Path, tensors: int = 2, metadata: dict | None = None, data_bytes: int = 64) -> Path:
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    per = data_bytes // tensors
    for i in range(tensors):
        header[f"diffusion_model.blocks.{i}.lora_A.weight"] = {
            "dtype": "F32", "shape": [per // 4], "data_offsets": [i * per, (i + 1) * per]}
    raw = json.dumps(header).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + bytes(range(256)) * (data_bytes // 256)
                + bytes(data_bytes % 256))
    return path


def config_text(output_dir: Path, dataset: str, model: str = "flux", epochs: int = 10) -> str:
    return (f"output_dir = '{output_dir}'\ndataset = '{dataset}'\nepochs = {epochs}\n"
            "micro_batch_size_per_gpu = 1\n# a comment\n[model]\n"
            f"type = '{model}'\ndtype = 'bfloat16'\n[adapter]\ntype = 'lora'\nrank = 32\n"
            "dtype = 'bfloat16'\n[optimizer]\ntype = 'adamw_optimi'\nlr = 2e-5\n")


def make_run(out: Path, name: str, *, epochs=(1, 2, 3), steps=(), checkpoints=(100, 200, 300),
             latest: int | None = 300, ckpt_size: int = 20 * GB, model: str = "flux",
             dataset_cfg: Path | None = None) -> Path:
    run = out / name
    run.mkdir(parents=True)
    ds_name = dataset_cfg.name if dataset_cfg else "dataset.toml"
    (run / "main.toml").write_text(config_text(out, f"/configs/{ds_name}", model))
    if dataset_cfg is not None:
        (run / ds_name).write_text(dataset_cfg.read_text())
    else:
        (run / ds_name).write_text("resolutions = [512]\n[[directory]]\npath = '/nowhere'\n")
    for kind, nums in (("epoch", epochs), ("step", steps)):
        for n in nums:
            d = run / f"{kind}{n}"
            safetensors(d / "adapter_model.safetensors")
            (d / "adapter_config.json").write_text("{}")
            (d / "main.toml").write_text("x = 1\n")
    for s in checkpoints:
        sparse(run / f"global_step{s}" / "mp_rank_00_model_states.pt", ckpt_size)
        sparse(run / f"global_step{s}" / "zero_pp_rank_0_mp_rank_00_optim_states.pt", ckpt_size // 2)
    if latest is not None:
        (run / "latest").write_text(f"global_step{latest}")
    sparse(run / "events.out.tfevents.1.host", 1000)
    return run


def make_dataset(root: Path, model_names=("flux",), media=3, resolutions=(512,),
                 ar_frames=("ar_frames_1.000_1",), cache_size: int = 2 * GB) -> tuple[Path, Path]:
    """A dataset folder with media, captions and caches; returns (folder, dataset config)."""
    d = root / "images"
    d.mkdir(parents=True)
    for i in range(media):
        (d / f"img{i}.png").write_bytes(b"png")
        (d / f"img{i}.txt").write_text(f"caption {i}")
    old = 1_600_000_000
    for p in d.iterdir():
        os.utime(p, (old, old))
    for m in model_names:
        cache = d / "cache" / m
        (cache / "metadata" / "metadata_intermediate").mkdir(parents=True)
        for af in ar_frames:
            sparse(cache / af / "text_embeddings_0" / "shard_0.bin", cache_size // 4)
            ar = af.split("_")[2]
            fr = af.split("_")[3]
            for r in resolutions:
                sparse(cache / f"cache_{ar}x{r}x{r}x{fr}" / "latents" / "shard_0.bin", cache_size // 2)
        for p in (cache / "metadata" / "metadata_intermediate", cache / "metadata"):
            os.utime(p, (old + 100, old + 100))       # cached after the files were written
    os.utime(d, (old, old))
    cfg = root / "dataset.toml"
    cfg.write_text(f"resolutions = {list(resolutions)}\nenable_ar_bucket = false\n"
                   f"[[directory]]\npath = '{d}'\nnum_repeats = 1\n")
    return d, cfg
