"""How much GPU memory a main config needs: the settings that drive it, the
direction each pushes, and -- where no diffusion-pipe figure applies -- an
estimate with its formula (Qt-free).

The estimate is deliberately simple and says so.  Every term is printed with its
inputs so a user can see why the number is what it is:

    VRAM ≈ W + T + A + C
    W  resident weights   = P · (1 − s / N) · b / stages   (P parameters, s of N blocks swapped
                                                          to RAM, b bytes per weight: bf16 2,
                                                          float8 1, nf4 0.5)
    T  trained state      LoRA/LoKr: P_t · 8 bytes       (bf16 weights, gradients, two moments)
                          P_t = P · rank / 3000
                          full fine-tune: P · 12 bytes   (fp32 gradients and two fp32 moments;
                                                          8-bit AdamW: P · 6)
    A  activations        = 3 GiB · batch · (tokens / 4096) · √(P / 12)
                            × 1 with activation checkpointing, × 4 without, × 0.8 with 'unsloth'
       tokens             = (resolution / 16)² · latent frames ((frames − 1) / 4 + 1)
    C  CUDA context, DeepSpeed buffers and fragmentation = 2.5 GiB

The constants were set so that the estimate stays at or under every memory figure
diffusion-pipe states (the sourced presets; tests/test_presets.py checks it) and
above the next smaller tier where upstream says a setting does not fit there.
"""
from __future__ import annotations

from typing import Any

import math
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

FORMULA = ("VRAM ≈ W + T + A + C; W = P·(1 − s/N)·b; T = P_t·8 bytes (LoRA P_t = P·rank/3000; "
           "full fine-tune: P·12 bytes, 8-bit AdamW P·6); A = 3 GiB·batch·(tokens/4096)·√(P/12) "
           "(×4 without activation checkpointing, ×0.8 with 'unsloth'); C = 2.5 GiB")
GIB = 1024 ** 3

# model type -> (default parameters in billions of the trained network, where that
# number comes from, transformer blocks (for the swap fraction), video model)
MODELS: dict[str, tuple[float, str, int, bool]] = {
    "sdxl": (2.6, "SDXL UNet, 2.6B (SDXL report)", 0, False),
    "flux": (12.0, "FLUX.1 model card: 12B", 57, False),
    "chroma": (8.9, "Chroma model card: 8.9B", 36, False),
    "flux2": (32.0, "FLUX.2 [dev] model card: 32B", 56, False),
    "hunyuan-video": (13.0, "HunyuanVideo: 13B", 60, True),
    "hunyuan_video_15": (8.3, "HunyuanVideo-1.5: 8.3B", 54, True),
    "hunyuan_image": (17.0, "HunyuanImage-2.1: 17B", 38, False),
    "wan": (14.0, "Wan2.1/2.2 14B (ckpt name sets 1.3B/5B/14B)", 40, True),
    "ltx-video": (2.0, "LTX-Video 2B (ckpt name sets 13B)", 28, True),
    "ltx2": (22.0, "LTX 2.3 22B (ckpt name)", 48, True),
    "lumina_2": (2.6, "Lumina-Image 2.0: 2.6B", 26, False),
    "hidream": (17.0, "HiDream-I1: 17B", 48, False),
    "qwen_image": (20.0, "Qwen-Image: 20B MMDiT", 60, False),
    "sd3": (2.5, "SD3.5 Medium 2.5B (ckpt name sets Large 8B)", 24, False),
    "auraflow": (6.8, "AuraFlow v0.3: 6.8B", 32, False),
    "cosmos": (7.0, "Cosmos-1.0 Diffusion 7B (ckpt name sets 14B)", 28, True),
    "cosmos_predict2": (2.0, "Cosmos-Predict2 2B (ckpt name sets 14B)", 28, True),
    "omnigen2": (4.0, "OmniGen2 diffusion decoder: about 4B", 32, False),
    "z_image": (6.0, "Z-Image: 6B", 30, False),
    "anima": (2.0, "Anima: about 2B (Cosmos-Predict2 2B based)", 28, False),
    "ernie_image": (8.0, "assumed 8B: no published size known to dpgui", 36, False),
    "ideogram4": (8.0, "assumed 8B: no published size known to dpgui", 36, False),
    "krea2": (8.0, "assumed 8B: no published size known to dpgui", 36, False),
    "minimax_h3": (15.0, "assumed 15B: no published size known to dpgui", 50, True),
}
CHECKPOINT_KEYS = ("ckpt_path", "diffusion_model", "transformer_path", "diffusers_path",
                   "checkpoint_path", "single_file_path")
DTYPE_BYTES = {"float32": 4.0, "bfloat16": 2.0, "float16": 2.0, "float8": 1.0,
               "float8_e4m3fn": 1.0, "float8_e5m2": 1.0, "nf4": 0.5}


@dataclass
class Driver:
    key: str          # key path as written ("blocks_to_swap", "model.transformer_dtype")
    value: object
    effect: str       # "lowers" | "raises" | "neutral"
    why: str


@dataclass
class Estimate:
    gb: float
    terms: list[tuple[str, float, str]] = field(default_factory=list)   # (name, GiB, inputs)
    drivers: list[Driver] = field(default_factory=list)
    params_b: float = 0.0
    params_basis: str = ""
    resolution: int = 0
    frames: int = 1
    formula: str = FORMULA

    def basis_text(self) -> str:
        lines = [f"Estimate: {self.gb:.1f} GiB  (P = {self.params_b:g}B: {self.params_basis})",
                 "", self.formula, ""]
        lines += [f"  {n:<22} {g:6.1f} GiB   {inp}" for n, g, inp in self.terms]
        return "\n".join(lines)


def _num(value: Any, default: float) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return default


def params_for(model: dict[str, Any]) -> tuple[float, str]:
    mt = model.get("type")
    base = MODELS.get(str(mt), (8.0, "unknown model type: assumed 8B", 36, False))
    for k in CHECKPOINT_KEYS:
        v = model.get(k)
        if isinstance(v, str) and v:
            name = PurePosixPath(v.replace("\\", "/")).name
            m = re.search(r"(?<![\d.])(\d+(?:\.\d+)?)[bB](?![a-zA-Z])", name)
            if m and 0.3 <= float(m.group(1)) <= 100:
                return float(m.group(1)), f"{m.group(1)}B from the checkpoint name {name}"
            if mt == "sd3" and "large" in name.lower():
                return 8.0, f"SD3.5 Large 8B (checkpoint name {name})"
    return base[0], base[1]


def estimate(values: dict[str, Any], resolution: int | None = None, frames: int | None = None) -> Estimate | None:
    """An estimate for a main config's parsed values (None without a known [model] type).
    ``resolution``/``frames`` come from the dataset config; defaults: 1024 images, 512×33 video."""
    model = _model if isinstance(_model := values.get("model"), dict) else {}
    mt = model.get("type")
    if not isinstance(mt, str) or not mt:
        return None
    P, basis = params_for(model)
    info = MODELS.get(mt, (8.0, "", 36, False))
    video = info[3]
    blocks = info[2] or 1
    res = int(resolution or (512 if video else 1024))
    fr = int(frames or 33) if video else 1     # image models see single frames
    dtype = model.get("transformer_dtype") or model.get("diffusion_model_dtype") or model.get("dtype") or "bfloat16"
    b = DTYPE_BYTES.get(str(dtype), 2.0)
    swap = _num(values.get("blocks_to_swap"), 0)
    stages = max(1, _num(values.get("pipeline_stages"), 1))
    frac = min(1.0, swap / blocks) if blocks > 1 else 0.0
    W = P * 1e9 * (1 - frac) * b / GIB / stages
    adapter = _adapter if isinstance(_adapter := values.get("adapter"), dict) else None
    opt = _opt if isinstance(_opt := values.get("optimizer"), dict) else {}
    eight_bit = "8bit" in str(opt.get("type", "")).lower()
    if adapter is not None:
        rank = _num(adapter.get("rank"), 32)
        rank = min(rank, 1024)
        Pt = P * 1e9 * rank / 3000
        T = Pt * (6 if eight_bit else 8) / GIB
        t_inp = f"P_t = {Pt / 1e6:.0f}M (rank {rank:g}), {'6' if eight_bit else '8'} bytes each"
    else:
        T = P * 1e9 * (6 if eight_bit else 12) / GIB / stages
        t_inp = f"full fine-tune: gradients + AdamW moments, {'6' if eight_bit else '12'} bytes × {P:g}B"
    mb = values.get("micro_batch_size_per_gpu")
    batch = mb if isinstance(mb, int) else 1
    ac = values.get("activation_checkpointing", False)
    ac_factor = 0.8 if ac == "unsloth" else (1.0 if ac else 4.0)
    latent_frames = (fr - 1) // 4 + 1 if fr > 1 else 1
    tokens = (res / 16) ** 2 * latent_frames
    A = 3.0 * batch * (tokens / 4096) * math.sqrt(P / 12) * ac_factor
    C = 2.5
    total = W + T + A + C
    est = Estimate(gb=total, params_b=P, params_basis=basis, resolution=res, frames=fr)
    est.terms = [
        ("W resident weights", W, f"{P:g}B × {b:g} bytes ({dtype}), {swap} of {blocks} blocks swapped"
         + (f", ÷ {stages} pipeline stages" if stages > 1 else "")),
        ("T trained state", T, t_inp),
        ("A activations", A, f"batch {batch}, {int(tokens)} tokens ({res}px"
         + (f", {fr} frames" if fr > 1 else "") + f"), checkpointing {ac!r}"),
        ("C CUDA context", C, "fixed"),
    ]
    est.drivers = drivers(values, mt)
    return est


def drivers(values: dict[str, Any], model_type: str | None = None) -> list[Driver]:
    """The settings of this config that move memory, with the direction of each."""
    model = _model if isinstance(_model := values.get("model"), dict) else {}
    out: list[Driver] = []
    for key in ("transformer_dtype", "diffusion_model_dtype"):
        v = model.get(key)
        if v is not None:
            low = str(v) in ("float8", "float8_e4m3fn", "float8_e5m2", "nf4")
            out.append(Driver(f"model.{key}", v, "lowers" if low else "raises",
                              "8-bit (or 4-bit) weights halve (quarter) the model's share"
                              if low else "16-bit weights: set float8 to halve them"))
    swap = values.get("blocks_to_swap")
    out.append(Driver("blocks_to_swap", swap if swap is not None else 0,
                      "lowers" if swap else "neutral",
                      "blocks kept in RAM and moved in per step: less VRAM, slower steps"
                      if swap else "0: every block stays on the GPU (raise it to fit a smaller card)"))
    ac = values.get("activation_checkpointing")
    out.append(Driver("activation_checkpointing", ac if ac is not None else False,
                      "lowers" if ac else "raises",
                      "'unsloth' also offloads the saved activations to RAM" if ac == "unsloth"
                      else ("recomputes activations in the backward pass" if ac
                            else "off: every activation is kept (several times the memory)")))
    mb = values.get("micro_batch_size_per_gpu")
    out.append(Driver("micro_batch_size_per_gpu", mb if mb is not None else 1,
                      "raises" if isinstance(mb, int) and mb > 1 else "neutral",
                      "activations grow linearly with the batch (accumulation does not)"))
    adapter = _adapter if isinstance(_adapter := values.get("adapter"), dict) else None
    if adapter is None:
        out.append(Driver("adapter", "(none: full fine-tune)", "raises",
                          "gradients and optimizer state for every weight"))
    else:
        out.append(Driver("adapter.rank", adapter.get("rank", 32), "raises",
                          "trained parameters grow with the rank (a small share of the total)"))
    opt = _opt if isinstance(_opt := values.get("optimizer"), dict) else {}
    if "8bit" in str(opt.get("type", "")).lower():
        out.append(Driver("optimizer.type", opt.get("type"), "lowers", "8-bit optimizer moments"))
    ps = values.get("pipeline_stages")
    if isinstance(ps, int) and ps > 1:
        out.append(Driver("pipeline_stages", ps, "lowers", "the model is split across GPUs"))
    out.append(Driver("dataset resolutions", "(dataset config)", "raises",
                      "activations grow with the square of the resolution (and with video frames)"))
    return out


def swapped_gb(values: dict[str, Any]) -> float | None:
    """GiB of transformer weights ``blocks_to_swap`` keeps in host RAM (None without swapping)."""
    model = _model if isinstance(_model := values.get("model"), dict) else {}
    swap = _num(values.get("blocks_to_swap"), 0)
    mt = model.get("type")
    if not swap or not isinstance(mt, str):
        return None
    P, _ = params_for(model)
    blocks = MODELS.get(mt, (8.0, "", 36, False))[2] or 1
    dtype = model.get("transformer_dtype") or model.get("diffusion_model_dtype") or model.get("dtype") or "bfloat16"
    return P * 1e9 * min(1.0, swap / blocks) * DTYPE_BYTES.get(str(dtype), 2.0) / GIB
