"""Template placeholders: the example paths a new config or dataset is written with.

A config made from a template names paths such as ``/models/Wan2.1-T2V-1.3B`` or
``/data/my_images`` that only stand for the user's own files. They are marked in the
template text (an inline ``# placeholder`` comment) and recognised here by value, so
the validator can say "still the template's placeholder" instead of treating them
as real paths, and the launch gate can refuse them.

The set is derived from the schemas (every path-valued entry of a model schema's
``x-dpgui-template`` and ``x-dpgui-template-main``) plus the few paths the template
writers add themselves (output folder and dataset folder).
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpgui_qt.core.config.schema import SchemaRegistry

# what the template writers put where the user's own paths belong
OUTPUT_DIR_PLACEHOLDER = "/data/training_runs/{model_type}-{kind}"
IMAGE_DIR_PLACEHOLDER = "/data/my_images"
DATASET_PLACEHOLDER = "/data/dataset.toml"
MARK = "placeholder: replace with your own path"

_OUTPUT_RE = re.compile(r"^/data/training_runs/[A-Za-z0-9_.-]+-(lora|lokr|full)$")
_PATH_FORMATS = ("file-path", "dir-path", "path")


def output_dir_placeholder(model_type: str, kind: str) -> str:
    return OUTPUT_DIR_PLACEHOLDER.format(model_type=model_type, kind=kind)


@lru_cache(maxsize=4)
def _schema_values(registry: SchemaRegistry) -> frozenset[str]:
    out: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            if value.startswith(("/models/", "/data/")):
                out.add(value)
        elif isinstance(value, list):
            for v in value:
                walk(v)
        elif isinstance(value, dict):
            for v in value.values():
                walk(v)

    for t in registry.model_types():
        schema = registry.model(t) or {}
        walk(schema.get("x-dpgui-template", {}))
        walk(schema.get("x-dpgui-template-main", {}))
    return frozenset(out)


def placeholder_values(registry: SchemaRegistry) -> frozenset[str]:
    """Every exact placeholder string the templates can write."""
    return _schema_values(registry) | {IMAGE_DIR_PLACEHOLDER, DATASET_PLACEHOLDER}


def is_placeholder(value: Any, registry: SchemaRegistry) -> bool:
    """True when ``value`` is one of the templates' stand-in paths."""
    if not isinstance(value, str):
        return False
    v = value.strip()
    return v in placeholder_values(registry) or bool(_OUTPUT_RE.match(v))
