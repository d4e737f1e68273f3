"""New-config templates: a main config for one model type with the
model's required keys, recommended defaults and short comments.

Values come from the schemas: the model file's ``x-dpgui-template`` (the
``[model]`` table) and ``x-dpgui-template-main`` (top-level keys worth setting for
that model), on top of general defaults written here. Paths are placeholders
under ``/models`` and ``/data``, marked with an inline ``# placeholder`` comment and
recognised by :mod:`dpgui_qt.core.config.placeholders` (the launch gate refuses them);
everything else validates as it is.  Comments are whole sentences, wrapped.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import math

import tomlkit

from dpgui_qt.core.config.placeholders import DATASET_PLACEHOLDER, MARK, is_placeholder, output_dir_placeholder
from dpgui_qt.core.text import comment_lines, first_sentence

if TYPE_CHECKING:
    from dpgui_qt.core.config.schema import SchemaRegistry

# (key, TOML literal, comment) -- comments are our own short explanations
MAIN_KEYS: list[tuple[str, str | None, str]] = [
    ("output_dir", None, "Where runs are written: every training run gets its own time-stamped folder here."),
    ("dataset", None, "The dataset config: folders of images or videos, resolutions and repeats. Use an absolute path: diffusion-pipe reads relative paths from its own folder."),
    ("", "", "Training"),
    ("epochs", "100", "Passes over the dataset. Set it high and stop when the samples look right."),
    ("micro_batch_size_per_gpu", "1", "Samples per GPU in one forward/backward pass; raise it if VRAM allows."),
    ("pipeline_stages", "1", "Split one copy of the model across this many GPUs (1 = each GPU holds it all)."),
    ("gradient_accumulation_steps", "1", "Micro-batches summed per optimizer step (a larger effective batch)."),
    ("gradient_clipping", "1.0", "Clip the gradient norm to this value; 0 turns clipping off."),
    ("warmup_steps", "100", "Ramp the learning rate up over this many steps at the start."),
    ("", "", "Saving"),
    ("save_every_n_epochs", "5", "Write the trained weights every N epochs."),
    ("checkpoint_every_n_minutes", "120", "Write a resumable training-state checkpoint this often."),
    ("save_dtype", "'bfloat16'", "Precision of the saved weights."),
    ("", "", "Memory and speed"),
    ("activation_checkpointing", "true", "Recompute activations in the backward pass: far less VRAM for a little speed."),
    ("caching_batch_size", "1", "Batch size while caching latents and text embeddings before training."),
    ("steps_per_print", "1", "How often DeepSpeed prints progress to the console."),
]

OPTIMIZERS: dict[str, list[tuple[str, str, str]]] = {
    "adamw_optimi": [
        ("lr", "2e-5", "Learning rate: 2e-5 to 1e-4 is typical for a LoRA; go lower for a full fine-tune."),
        ("betas", "[0.9, 0.99]", ""),
        ("weight_decay", "0.01", ""),
        ("eps", "1e-8", ""),
    ],
}

ADAPTER_KEYS: dict[str, list[tuple[str, str, str]]] = {
    "lora": [("rank", "32", "LoRA rank: higher learns more detail, files get larger."),
             ("dtype", "'bfloat16'", "Precision of the trained LoRA weights.")],
    "lokr": [("rank", "32", "LoKr rank (a very large value makes it full-matrix LoKr)."),
             ("dtype", "'bfloat16'", "Precision of the trained LoKr weights.")],
}


def literal(value: Any) -> str:
    """A TOML literal for a template value; strings use single quotes like upstream examples."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and "'" not in value and "\n" not in value:
        return f"'{value}'"
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    return str(tomlkit.item(value).as_string())


def _first_sentence(text: str) -> str:
    """A whole sentence for a comment (wrapped by :func:`_comment`, never cut)."""
    return first_sentence(text)


def _comment(lines: list[str], text: str) -> None:
    if text:
        lines.extend(comment_lines(text))


def _assign(key: str, lit: str, registry: SchemaRegistry) -> str:
    """``key = value``, with an inline mark when the value is a template placeholder."""
    line = f"{key} = {lit}"
    try:
        value = tomlkit.parse(line)[key]
    except Exception:  # noqa: BLE001 - not a plain value
        return line
    values = value if isinstance(value, list) else [value]
    if any(is_placeholder(v, registry) for v in values):
        line += f"  # {MARK}"
    return line


def model_title(registry: SchemaRegistry, model_type: str) -> str:
    schema = registry.model(model_type) or {}
    desc = schema.get("description", "")
    i = desc.find("(")
    if i >= 0 and desc.rstrip().endswith(")."):
        return str(desc[i + 1: desc.rstrip().rfind(")")])
    return str(schema.get("title", model_type))


def choose_adapter(registry: SchemaRegistry, model_type: str, wanted: str | None) -> str | None:
    """The adapter to use: ``wanted`` if the model supports it, else lora."""
    caps = registry.capabilities(model_type)
    if wanted is None:
        return None if caps.get("full_finetune", False) else "lora"
    if wanted == "lokr" and not caps.get("lokr", False):
        return "lora"
    return wanted if wanted in ("lora", "lokr") else "lora"


def build_template(registry: SchemaRegistry, model_type: str, adapter: str | None = "lora",
                   output_dir: str | None = None, dataset: str | None = None) -> str:
    """TOML text of a new main config for ``model_type``."""
    schema = registry.model(model_type)
    if schema is None:
        raise ValueError(f"unknown model type {model_type!r}")
    main_props = registry.main().get("properties", {})
    adapter = choose_adapter(registry, model_type, adapter)
    title = model_title(registry, model_type)
    caps = registry.capabilities(model_type)
    tmpl = dict(schema.get("x-dpgui-template", {}))
    tmpl_main = dict(schema.get("x-dpgui-template-main", {}))
    kind = "lora" if adapter else "full"
    lines = [
        f"# diffusion-pipe training config: {title} ({'full fine-tune' if not adapter else adapter.upper() if adapter == 'lokr' else 'LoRA'})",
        "# Made with dpgui. Lines marked 'placeholder' hold example paths: point them at your",
        "# own files, then check the Problems panel, which is free of errors when the config",
        "# can train.",
        "",
    ]
    overrides = {
        "output_dir": literal(output_dir or output_dir_placeholder(model_type, kind)),
        "dataset": literal(dataset or DATASET_PLACEHOLDER),
    }
    written = set()
    for key, lit, comment in MAIN_KEYS:
        if not key:
            lines += ["", f"# --- {comment}"]
            continue
        if key in tmpl_main:
            lit = literal(tmpl_main.pop(key))
        lit = overrides.get(key, lit)
        assert lit is not None  # the keys without a literal (output_dir, dataset) are overridden
        _comment(lines, comment)
        lines.append(_assign(key, lit, registry))
        written.add(key)
    extra = [(k, v) for k, v in tmpl_main.items() if k not in written]
    if extra:
        lines += ["", f"# --- Recommended for {title}"]
        for key, value in extra:
            _comment(lines, _first_sentence(main_props.get(key, {}).get("description", "")))
            lines.append(_assign(key, literal(value), registry))
    lines += ["", "[model]", f"type = '{model_type}'"]
    props = schema.get("properties", {})
    order = sorted(tmpl.items(), key=lambda kv: (props.get(kv[0], {}).get("x-dpgui-order", 500)))
    tables: list[tuple[str, list[Any]]] = []
    for key, value in order:
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            tables.append((key, value))
            continue
        _comment(lines, _first_sentence(props.get(key, {}).get("description", "")))
        lines.append(_assign(key, literal(value), registry))
    for key, items in tables:
        desc = _first_sentence(props.get(key, {}).get("description", ""))
        for i, item in enumerate(items):
            lines.append("")
            if i == 0:
                _comment(lines, desc)
            lines.append(f"[[model.{key}]]")
            for k, v in item.items():
                lines.append(_assign(k, literal(v), registry))
    if adapter:
        lines += ["", "[adapter]", f"type = '{adapter}'"]
        for key, lit, comment in ADAPTER_KEYS[adapter]:
            _comment(lines, comment)
            lines.append(f"{key} = {lit}")
    elif caps.get("full_finetune"):
        lines += ["", "# No [adapter] table: this trains the whole model (full fine-tune)."]
    lines += ["", "[optimizer]",
              "# AdamW from the optimi library: a solid default that uses Kahan summation for bf16.",
              "type = 'adamw_optimi'"]
    for key, lit, comment in OPTIMIZERS["adamw_optimi"]:
        if key == "lr" and not adapter:
            lit = "1e-5"
        _comment(lines, comment)
        lines.append(f"{key} = {lit}")
    lines += ["", "[monitoring]",
              "# Set to true and fill in the three wandb_* keys to log to Weights & Biases.",
              "enable_wandb = false", ""]
    return "\n".join(lines)
