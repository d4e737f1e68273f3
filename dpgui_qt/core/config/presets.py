"""Presets: starting points per model type, GPU memory tier and adapter (Qt-free).

Presets are data: ``schemas/presets/<model type>.json``, beside the schemas, one
file per model type.  A preset is the plain template for (model, adapter) plus
the keys in its ``set`` table (key paths; ``null`` removes a key), applied with
the comment-preserving document API.  Every preset carries ``memory``: the GPU
memory it targets and where that figure comes from -- a diffusion-pipe example
or documentation line (``kind = "upstream"``) or an estimate with its formula
(``kind = "estimate"``, see :mod:`dpgui_qt.core.config.memory`).

Upstream example configs are presets too (``upstream`` entries naming
``examples/<file>.toml``): their text is read from the user's diffusion-pipe
checkout and written out byte for byte -- dpgui ships none of diffusion-pipe's
files.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from dpgui_qt.core.config import keypath as kp

if TYPE_CHECKING:
    from dpgui_qt.core.config.document import ConfigDocument
    from dpgui_qt.core.config.schema import SchemaRegistry

TIERS = (12, 16, 24, 48, 80)
PRESETS_DIR = Path(__file__).resolve().parents[3] / "schemas" / "presets"   # source tree


def presets_dir() -> Path:
    """schemas/presets of this installation (source tree, wheel or frozen build)."""
    from dpgui_qt.resources import schemas_dir

    return Path(schemas_dir()) / "presets"
UPSTREAM_PREFIX = "upstream:"


class PresetError(ValueError):
    """A preset that cannot be used (message is user-facing)."""


@dataclass
class Preset:
    name: str                       # unique within the model type ("lora-24gb", "upstream:wan_14b_min_vram")
    model_type: str
    title: str
    adapter: str | None             # "lora" | "lokr" | None (full fine-tune)
    tier: int                       # GPU memory in GB it targets
    memory: dict[str, Any]                    # {"gb", "kind": "upstream"|"estimate", "source" | "formula", ...}
    set: dict[str, Any] = field(default_factory=dict)
    resolution: int | None = None   # for the dataset config (advice; the estimate uses it)
    frames: int | None = None
    notes: str = ""
    upstream: str | None = None     # examples/<file>.toml in a diffusion-pipe checkout

    @property
    def is_upstream(self) -> bool:
        return self.upstream is not None

    def source_text(self) -> str:
        m = self.memory
        if m.get("kind") == "upstream":
            return f"diffusion-pipe {m.get('source')}"
        return f"estimate: {m.get('gb', 0):.1f} GiB (dpgui's formula; basis in --json / the picker)"

    def adapter_label(self) -> str:
        return {"lora": "LoRA", "lokr": "LoKr", None: "full fine-tune"}.get(self.adapter, str(self.adapter))

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "model_type": self.model_type, "title": self.title,
                "adapter": self.adapter or "none", "tier_gb": self.tier, "memory": self.memory,
                "source": self.source_text(), "set": self.set, "resolution": self.resolution,
                "frames": self.frames, "notes": self.notes, "upstream": self.upstream}


def _from_json(model_type: str, d: dict[str, Any], upstream: bool = False) -> Preset:
    adapter = d.get("adapter", "lora")
    return Preset(name=(UPSTREAM_PREFIX + d["name"]) if upstream else d["name"], model_type=model_type,
                  title=d.get("title", d["name"]), adapter=None if adapter in (None, "none") else adapter,
                  tier=int(d["tier"]), memory=dict(d["memory"]), set=dict(d.get("set", {})),
                  resolution=d.get("resolution"), frames=d.get("frames"), notes=d.get("notes", ""),
                  upstream=d.get("path") if upstream else None)


def load(model_type: str | None = None, folder: str | os.PathLike[str] | None = None) -> list[Preset]:
    """Every preset (of one model type), sorted by model, tier, adapter, name."""
    folder = Path(folder) if folder else presets_dir()
    files = [folder / f"{model_type}.json"] if model_type else sorted(folder.glob("*.json"))
    out: list[Preset] = []
    for f in files:
        if not f.is_file():
            continue
        data = json.loads(f.read_text(encoding="utf-8"))
        mt = data["model"]
        out += [_from_json(mt, d) for d in data.get("presets", [])]
        out += [_from_json(mt, d, upstream=True) for d in data.get("upstream", [])]
    out.sort(key=lambda p: (p.model_type, p.tier, p.is_upstream, p.adapter or "~", p.name))
    return out


def find(model_type: str, name: str, folder: str | os.PathLike[str] | None = None) -> Preset:
    presets = load(model_type, folder)
    for p in presets:
        if p.name == name or (p.is_upstream and p.name == UPSTREAM_PREFIX + name):
            return p
    names = ", ".join(p.name for p in presets) or "none"
    raise PresetError(f"no preset {name!r} for {model_type} (presets: {names})")


def best_for(presets: list[Preset], vram_gb: float | None, adapter: str | None = "lora") -> Preset | None:
    """The largest-tier preset that fits ``vram_gb`` (for preselection)."""
    fitting = [p for p in presets if (p.adapter == adapter)
               and (vram_gb is None or p.tier <= vram_gb + 0.5)]
    if not fitting:
        return None
    return max(fitting, key=lambda p: (p.tier, not p.is_upstream))


def tier_for(vram_gb: float | None) -> int | None:
    """The tier a GPU of ``vram_gb`` belongs to (a 23.6 GiB card is a 24 GB card)."""
    if vram_gb is None:
        return None
    fits = [t for t in TIERS if t <= vram_gb * 1.08]
    return max(fits) if fits else TIERS[0]


# --------------------------------------------------------------------------- text
def upstream_text(preset: Preset, checkout: str | os.PathLike[str] | None) -> str:
    if not checkout:
        raise PresetError(f"{preset.name} is diffusion-pipe's {preset.upstream}: choose the "
                          "diffusion-pipe checkout (Run ▸ Environment or --checkout) to use it")
    path = Path(checkout) / str(preset.upstream)
    if path.exists() and not path.is_file():
        raise PresetError(f"{path} is not a regular file")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise PresetError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PresetError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def build_text(registry: SchemaRegistry, preset: Preset, checkout: str | None = None, output_dir: str | None = None) -> str:
    """The TOML text of a new config from ``preset``."""
    if preset.is_upstream:
        return upstream_text(preset, checkout)
    from dpgui_qt.core.config.document import ConfigDocument
    from dpgui_qt.core.config.templates import build_template

    text = build_template(registry, preset.model_type, preset.adapter, output_dir=output_dir)
    head = [f"# Preset {preset.name}: {preset.title}",
            f"# GPU memory: {preset.tier} GB ({preset.source_text()})"]
    if preset.resolution:
        head.append(f"# In the dataset config: resolutions = [{preset.resolution}]"
                    + (f", frame_buckets = [1, {preset.frames}]" if preset.frames else ""))
    lines = text.split("\n")
    text = "\n".join(lines[:1] + head + lines[1:])
    doc = ConfigDocument.from_text(text)
    apply_changes(doc, preset_changes(doc.values(), preset))
    return doc.text


def preset_changes(values: dict[str, Any], preset: Preset) -> list[tuple[tuple[Any, ...], object, object]]:
    """(key path, current value or MISSING, new value or MISSING) for each key the preset
    sets that differs from ``values``."""
    from dpgui_qt.core.config.document import MISSING

    out = []
    for key, new in preset.set.items():
        path = kp.parse(key)
        cur = _get(values, path)
        target = MISSING if new is None else new
        if cur is MISSING and target is MISSING:
            continue
        if cur is not MISSING and target is not MISSING and cur == target and type(cur) is type(target):
            continue
        out.append((path, cur, target))
    return out


def _get(values: Any, path: tuple[Any, ...]) -> Any:
    from dpgui_qt.core.config.document import MISSING

    node = values
    for part in path:
        if isinstance(part, int):
            if not isinstance(node, list) or part >= len(node):
                return MISSING
            node = node[part]
        else:
            if not isinstance(node, dict) or part not in node:
                return MISSING
            node = node[part]
    return node


def toml_value(value: Any) -> Any:
    """A value to hand to ConfigDocument.set, written the way the templates write it
    (single-quoted strings, short floats)."""
    from dpgui_qt.core.config.document import RawValue
    from dpgui_qt.core.config.templates import literal

    if isinstance(value, (str, bool, int, float, list)):
        return RawValue(literal(value))
    return value


def apply_changes(doc: ConfigDocument, changes: list[tuple[tuple[Any, ...], Any, Any]]) -> None:
    from dpgui_qt.core.config.document import MISSING

    for path, _old, new in changes:
        if new is MISSING:
            if doc.has(path):
                doc.delete(path)
        else:
            doc.set(path, toml_value(new))


def diff_lines(base_text: str, new_text: str, base_name: str = "template",
               new_name: str = "preset") -> list[str]:
    import difflib

    return list(difflib.unified_diff(base_text.splitlines(), new_text.splitlines(),
                                     base_name, new_name, lineterm="", n=1))


def show_value(v: Any) -> str:
    from dpgui_qt.core.config.document import MISSING

    if v is MISSING:
        return "(not set)"
    if isinstance(v, str):
        return repr(v)
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


# --------------------------------------------------------------------------- comparing
SKIP_UPSTREAM = ("output_dir", "dataset", "eval_datasets", "model.type", "adapter.type")


def flatten(values: dict[str, Any], prefix: str = "") -> dict[str, object]:
    """{"a.b": value} for every leaf (arrays of tables stay whole)."""
    out: dict[str, object] = {}
    for k, v in values.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def flat_diff(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, object, object]]:
    """(key, before or MISSING, after or MISSING) for every leaf that differs."""
    from dpgui_qt.core.config.document import MISSING

    a, b = flatten(before), flatten(after)
    out = []
    for key in list(a) + [k for k in b if k not in a]:
        va, vb = a.get(key, MISSING), b.get(key, MISSING)
        if va is MISSING or vb is MISSING or va != vb or type(va) is not type(vb):
            out.append((key, va, vb))
    return out


def settings_of(preset: Preset, checkout: str | None = None) -> dict[str, object]:
    """The keys a preset sets on an open config: its ``set`` table, or for an upstream
    example every setting except paths, the dataset and the model/adapter type."""
    if not preset.is_upstream:
        return dict(preset.set)
    import tomllib

    values = tomllib.loads(upstream_text(preset, checkout))
    out = {}
    for key, v in flatten(values).items():
        if key in SKIP_UPSTREAM or key.startswith("monitoring."):
            continue
        if isinstance(v, str) and ("/" in v or "\\" in v):
            continue                  # a path on the author's machine
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            continue                  # text encoders and other tables of paths
        out[key] = v
    return out


def changes_for_open(values: dict[str, Any], preset: Preset, checkout: str | None = None) -> list[tuple[tuple[Any, ...], object, object]]:
    """What applying ``preset`` to an open config would change (key path, now, then)."""
    p = Preset(name=preset.name, model_type=preset.model_type, title=preset.title,
               adapter=preset.adapter, tier=preset.tier, memory=preset.memory,
               set=settings_of(preset, checkout))
    if not isinstance(values.get("adapter"), dict):      # a full fine-tune keeps having none
        p.set = {k: v for k, v in p.set.items() if not k.startswith("adapter.")}
    return preset_changes(values, p)
