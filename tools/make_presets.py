"""Write schemas/presets/<model>.json: the presets for every model type.

    PYTHONPATH=. python3 tools/make_presets.py

Two kinds of presets are written:

* SOURCED -- the settings and GPU memory figure diffusion-pipe itself states (an
  example config or docs/supported_models.md, with file and line);
* estimated -- for every model type, adapter and GPU tier (12/16/24/48/80 GB),
  the least aggressive settings whose estimate (dpgui_qt/core/config/memory.py, formula
  stored with the preset) stays under 85 % of the tier; tiers nothing fits are
  left out.

Upstream example configs are listed as ``upstream`` entries (path only; their
text is read from the user's checkout).  The test suite validates every preset.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpgui_qt.core.config import memory
from dpgui_qt.core.config.presets import TIERS
from dpgui_qt.core.config.schema import default_registry

OUT = Path(__file__).resolve().parents[1] / "schemas" / "presets"
DOCS = "docs/supported_models.md"
HEADROOM = 0.85
E5M2 = {"anima", "cosmos_predict2"}          # float8 (e4m3fn) trains poorly there (schema notes)

# hand-written from diffusion-pipe's own examples and docs (commit 8f83dbf)
SOURCED: dict[str, list[dict]] = {
    "wan": [{
        "name": "14b-lora-24gb", "title": "Wan 14B t2v LoRA on 24 GB (diffusion-pipe's minimum-VRAM example)",
        "adapter": "lora", "tier": 24, "resolution": 512, "frames": 81,
        "memory": {"gb": 24, "kind": "upstream", "source": "examples/wan_14b_min_vram.toml:1",
                   "detail": "512x512x81 videos with 24GB VRAM; blocks_to_swap = 32 at line 31"},
        "set": {"model.ckpt_path": "/models/Wan2.1-T2V-14B", "model.transformer_dtype": "float8",
                "blocks_to_swap": 32, "activation_checkpointing": "unsloth", "optimizer.lr": 2e-5},
        "notes": "Also set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True (Run ▸ Environment)."}],
    "qwen_image": [{
        "name": "lora-24gb", "title": "Qwen-Image LoRA on one 24 GB GPU (diffusion-pipe's 24 GB example)",
        "adapter": "lora", "tier": 24, "resolution": 640,
        "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:387",
                   "detail": "examples/qwen_image_24gb_vram.toml: blocks_to_swap = 8 (line 30), "
                             "resolution 640 (docs line 390)"},
        "set": {"model.transformer_dtype": "float8", "blocks_to_swap": 8, "activation_checkpointing": True,
                "gradient_accumulation_steps": 4, "caching_batch_size": 8, "optimizer.lr": 2e-5},
        "notes": "Higher rank or resolution may need more blocks_to_swap (docs line 391)."}],
    "minimax_h3": [{
        "name": "lora-24gb", "title": "MiniMax H3 LoRA on 24 GB (diffusion-pipe's example)",
        "adapter": "lora", "tier": 24, "resolution": 512,
        "memory": {"gb": 24, "kind": "upstream", "source": "examples/minimax_h3_example.toml:1",
                   "detail": "blocks_to_swap = 48 (the maximum, line 34), 'unsloth' checkpointing (line 28)"},
        "set": {"blocks_to_swap": 48, "activation_checkpointing": "unsloth", "optimizer.lr": 1e-4}}],
    "sdxl": [{
        "name": "full-48gb", "title": "SDXL full fine-tune on 48 GB", "adapter": None, "tier": 48,
        "resolution": 1024,
        "memory": {"gb": 48, "kind": "upstream", "source": f"{DOCS}:52",
                   "detail": "full fine tune needs 48GB VRAM"}, "set": {}},
        {"name": "full-2x24gb", "title": "SDXL full fine-tune on two 24 GB GPUs (pipeline_stages = 2)",
         "adapter": None, "tier": 24, "resolution": 1024,
         "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:52",
                    "detail": "2x24GB GPUs work with pipeline_stages=2"},
         "set": {"pipeline_stages": 2}, "notes": "Needs two GPUs (Run ▸ Environment: 2)."}],
    "lumina_2": [{
        "name": "full-24gb", "title": "Lumina 2 full fine-tune at 512 on one 24 GB GPU (AdamW8bitKahan)",
        "adapter": None, "tier": 24, "resolution": 512,
        "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:147",
                   "detail": "a single 24GB GPU with AdamW8bitKahan (line 149); at 512 resolution "
                             "without gradient release (line 158)"},
        "set": {"optimizer.type": "adamw8bitkahan", "optimizer.lr": 5e-6},
        "notes": "The docs' 1024 setting adds gradient_release, which dpgui's validation reports "
                 "as failing with lumina_2 at this commit, so it is left out."}],
    "hidream": [
        {"name": "lora-48gb", "title": "HiDream LoRA on 48 GB without block swapping", "adapter": "lora",
         "tier": 48, "resolution": 1024,
         "memory": {"gb": 48, "kind": "upstream", "source": f"{DOCS}:239",
                    "detail": "without block swapping you need 48GB VRAM"}, "set": {}},
        {"name": "lora-24gb", "title": "HiDream LoRA on 24 GB with block swapping", "adapter": "lora",
         "tier": 24, "resolution": 1024,
         "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:239",
                    "detail": "with enough block swapping a single 24GB GPU works (the count is "
                              "dpgui's estimate)"},
         "set": {"blocks_to_swap": 20, "activation_checkpointing": "unsloth"}}],
    "flux2": [{
        "name": "dev-lora-48gb", "title": "Flux 2 Dev LoRA on 48 GB without block swapping", "adapter": "lora",
        "tier": 48, "resolution": 1024,
        "memory": {"gb": 48, "kind": "upstream", "source": f"{DOCS}:536",
                   "detail": "without block swapping, Dev needs at least 48GB VRAM for LoRA training"},
        "set": {"model.diffusion_model_dtype": "float8"}}],
    "ltx2": [{
        "name": "lora-24gb", "title": "LTX 2.3 LoRA squeezed into 24 GB (maximum block swap)", "adapter": "lora",
        "tier": 24, "resolution": 384, "frames": 33,
        "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:600",
                   "detail": "blocks_to_swap = 46 is the maximum; might barely fit 24GB with low "
                             "resolution, video length and rank"},
        "set": {"blocks_to_swap": 46, "activation_checkpointing": "unsloth", "adapter.rank": 16}}],
    "ideogram4": [{
        "name": "lora-24gb", "title": "Ideogram4 LoRA on 24 GB (the documented config)", "adapter": "lora",
        "tier": 24, "resolution": 1024,
        "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:618",
                   "detail": "this configuration should train a LoRA with 24GB VRAM"},
        "set": {"model.diffusion_model_dtype": "float8"}}],
    "krea2": [{
        "name": "lora-24gb", "title": "Krea 2 rank-32 LoRA at 512 on 24 GB", "adapter": "lora", "tier": 24,
        "resolution": 512,
        "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:633",
                   "detail": "a rank 32 LoRA at 512 resolution with 24GB VRAM"},
        "set": {"model.diffusion_model_dtype": "float8", "adapter.rank": 32}}],
}

UPSTREAM: dict[str, list[dict]] = {
    "wan": [{"name": "wan_14b_min_vram", "path": "examples/wan_14b_min_vram.toml", "adapter": "lora",
             "tier": 24, "title": "diffusion-pipe example: wan_14b_min_vram.toml",
             "memory": {"gb": 24, "kind": "upstream", "source": "examples/wan_14b_min_vram.toml:1"}}],
    "qwen_image": [{"name": "qwen_image_24gb_vram", "path": "examples/qwen_image_24gb_vram.toml",
                    "adapter": "lora", "tier": 24, "title": "diffusion-pipe example: qwen_image_24gb_vram.toml",
                    "memory": {"gb": 24, "kind": "upstream", "source": f"{DOCS}:387"}}],
    "minimax_h3": [{"name": "minimax_h3_example", "path": "examples/minimax_h3_example.toml",
                    "adapter": "lora", "tier": 24, "title": "diffusion-pipe example: minimax_h3_example.toml",
                    "memory": {"gb": 24, "kind": "upstream", "source": "examples/minimax_h3_example.toml:1"}}],
    # main_example.toml states no memory figure: its estimate (hunyuan-video 13B, float8, LoRA
    # rank 32, checkpointing, 512px x 33 frames) is filled in below
    "hunyuan-video": [{"name": "main_example", "path": "examples/main_example.toml", "adapter": "lora",
                       "title": "diffusion-pipe example: main_example.toml (every option commented)",
                       "estimate_values": {"activation_checkpointing": True,
                                           "model": {"type": "hunyuan-video", "transformer_dtype": "float8"},
                                           "adapter": {"type": "lora", "rank": 32}}}],
}


def dtype_key(schema: dict) -> str | None:
    props = schema.get("properties", {})
    for k in ("transformer_dtype", "diffusion_model_dtype"):
        if k in props and "float8" in (props[k].get("enum") or []):
            return k
    return None


def values_for(registry, mt, adapter, s: dict) -> dict:
    """The parsed values of the config the preset would write (template + settings)."""
    from dpgui_qt.core.config.document import ConfigDocument
    from dpgui_qt.core.config.presets import Preset, build_text

    p = Preset(name="probe", model_type=mt, title="", adapter=adapter, tier=0, memory={}, set=dict(s))
    return ConfigDocument.from_text(build_text(registry, p)).values()


def search(registry, mt: str, adapter: str | None, tier: int) -> tuple[dict, int, int, object] | None:
    schema = registry.model(mt)
    caps = registry.capabilities(mt)
    info = memory.MODELS[mt]
    video = info[3]
    dkey = dtype_key(schema)
    f8 = "float8_e5m2" if mt in E5M2 else "float8"
    swap_ok = bool(caps.get("block_swap")) and adapter is not None
    limit = caps.get("block_swap_max") or max(0, info[2] - 2)
    tmpl_dtype = registry.template(mt).get(dkey) if dkey else None
    base_res = 512 if video else 1024
    ladder: list[tuple[dict, int]] = []
    dt16 = {f"model.{dkey}": None} if dkey and tmpl_dtype else {}
    dt8 = {f"model.{dkey}": f8} if dkey and adapter else {}
    # least aggressive first; bigger batches only where memory is plentiful
    for batch in (4, 2):
        if not video:
            ladder.append(({**dt16, "micro_batch_size_per_gpu": batch,
                            "gradient_accumulation_steps": 1}, base_res))
    ladder.append((dict(dt16), base_res))
    if dt8:
        ladder.append((dict(dt8), base_res))
    ladder.append(({**(dt8 or dt16), "activation_checkpointing": "unsloth"}, base_res))
    if adapter is None:
        ladder.append(({**dt16, "activation_checkpointing": "unsloth", "optimizer.type": "adamw8bitkahan"},
                       base_res))
    if swap_ok and limit:
        for frac in (0.25, 0.5, 0.75, 1.0):
            n = max(1, int(limit * frac))
            ladder.append(({**(dt8 or dt16), "activation_checkpointing": "unsloth", "blocks_to_swap": n},
                           base_res))
    for res in ((768, 512) if not video else (384,)):
        last = dict(ladder[-1][0])
        ladder.append((last, res))
    for s, res in ladder:
        vals = values_for(registry, mt, adapter, s)
        est = memory.estimate(vals, res, 33 if video else None)
        if est.gb <= tier * HEADROOM:
            return s, res, (33 if video else None), est
    return None


def main() -> int:
    reg = default_registry()
    OUT.mkdir(parents=True, exist_ok=True)
    counts = {}
    for mt in reg.model_types():
        caps = reg.capabilities(mt)
        adapters = ["lora"] + ([None] if caps.get("full_finetune") else [])
        presets = [dict(p) for p in SOURCED.get(mt, [])]
        taken = {(p["adapter"], p["tier"]) for p in presets}
        for adapter in adapters:
            seen_settings = []
            for tier in TIERS:
                if (adapter, tier) in taken:
                    continue
                found = search(reg, mt, adapter, tier)
                if not found:
                    continue
                s, res, frames, est = found
                if any(s == o and res == r for o, r in seen_settings):
                    continue           # the same settings as a smaller tier: nothing new to offer
                seen_settings.append((s, res))
                kind = "lora" if adapter else "full"
                lr = {"optimizer.lr": 2e-5 if adapter else 1e-5}
                presets.append({
                    "name": f"{kind}-{tier}gb",
                    "title": f"{'LoRA' if adapter else 'Full fine-tune'} for {tier} GB"
                             + (f", {res}px" + (f" x {frames} frames" if frames else "")),
                    "adapter": adapter, "tier": tier, "resolution": res, "frames": frames,
                    "memory": {"gb": round(est.gb, 1), "kind": "estimate", "formula": memory.FORMULA,
                               "inputs": {name: f"{gb:.1f} GiB: {inp}" for name, gb, inp in est.terms},
                               "params": est.params_basis},
                    "set": {**s, **lr},
                })
                check = memory.estimate(values_for(reg, mt, adapter, {**s, **lr}), res, frames)
                assert abs(check.gb - est.gb) < 0.05, (mt, tier, check.gb, est.gb)
        ups = []
        for u in UPSTREAM.get(mt, []):
            u = dict(u)
            ev = u.pop("estimate_values", None)
            if ev is not None:
                est = memory.estimate(ev)
                u["tier"] = min(t for t in TIERS if t * HEADROOM >= est.gb)
                u["memory"] = {"gb": round(est.gb, 1), "kind": "estimate", "formula": memory.FORMULA,
                               "inputs": {n: f"{g:.1f} GiB: {i}" for n, g, i in est.terms},
                               "params": est.params_basis}
            ups.append(u)
        for p in presets:
            if p.get("frames") is None:
                p.pop("frames", None)
        data = {"model": mt, "about": "dpgui presets (tools/make_presets.py); memory.kind 'upstream' "
                "cites diffusion-pipe at commit 8f83dbf, 'estimate' gives the formula and its inputs",
                "presets": presets}
        if ups:
            data["upstream"] = ups
        (OUT / f"{mt}.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
        counts[mt] = len(presets) + len(ups)
    print(" ".join(f"{k}:{v}" for k, v in counts.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
