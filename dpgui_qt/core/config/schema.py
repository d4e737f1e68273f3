"""Schema registry: loads ``schemas/`` and composes the schema for one config.

The main config's schema is assembled from ``main`` + ``model/<type>`` +
``adapter/<type>`` + ``optimizer/<type>`` + ``monitoring``; the discriminator
values choose the files (no ``oneOf``). Files are read lazily and validators are
built once per composition and cached. Meta-validation (``check_schema``) costs
seconds for the whole set, so it lives in the test-suite, not here.
"""
from __future__ import annotations

import copy
import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: jsonschema costs ~0.25 s, too much for GUI start-up
    from jsonschema import Draft202012Validator

# optimizer types diffusion-pipe matches case-insensitively (train.py); anything else
# is looked up by exact class name in the pytorch_optimizer package.
FALLBACK_OPTIMIZER = "pytorch_optimizer"


class SchemaError(Exception):
    pass


class SchemaRegistry:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not (self.root / "main.schema.json").is_file():
            raise SchemaError(f"{self.root} holds no main.schema.json")
        self._cache: dict[str, dict[str, Any]] = {}
        self._composed: dict[tuple[Any, ...], dict[str, Any]] = {}
        self._validators: dict[int, "Draft202012Validator"] = {}

    # ------------------------------------------------------------------ files
    def _load(self, rel: str) -> dict[str, Any] | None:
        if rel not in self._cache:
            path = self.root / rel
            if not path.is_file():
                return None
            with open(path, encoding="utf-8") as fh:
                self._cache[rel] = json.load(fh)
        return self._cache[rel]

    def files(self) -> list[Path]:
        return sorted(self.root.rglob("*.schema.json"))

    def main(self) -> dict[str, Any]:
        schema = self._load("main.schema.json")
        if schema is None:
            raise SchemaError("main.schema.json is missing")
        return schema

    def dataset(self) -> dict[str, Any]:
        schema = self._load("dataset.schema.json")
        if schema is None:
            raise SchemaError("dataset.schema.json is missing")
        return schema

    def directory(self) -> dict[str, Any]:
        directory: dict[str, Any] = self.dataset().get("$defs", {}).get("directory", {})
        return directory

    def monitoring(self) -> dict[str, Any] | None:
        return self._load("monitoring.schema.json")

    def _types(self, folder: str) -> list[str]:
        base = self.root / folder
        if not base.is_dir():
            return []
        return sorted(p.name[: -len(".schema.json")] for p in base.glob("*.schema.json"))

    def model_types(self) -> list[str]:
        return self._types("model")

    def adapter_types(self) -> list[str]:
        return self._types("adapter")

    def optimizer_types(self) -> list[str]:
        return [t for t in self._types("optimizer") if t != FALLBACK_OPTIMIZER]

    def model(self, model_type: Any) -> dict[str, Any] | None:  # anything read from a config
        if not isinstance(model_type, str) or "/" in model_type or "\\" in model_type:
            return None
        return self._load(f"model/{model_type}.schema.json")

    def adapter(self, adapter_type: Any) -> dict[str, Any] | None:
        if not isinstance(adapter_type, str) or "/" in adapter_type or "\\" in adapter_type:
            return None
        return self._load(f"adapter/{adapter_type}.schema.json")

    def optimizer_key(self, optimizer_type: Any) -> str | None:
        """Schema file for an ``optimizer.type`` value (None for a non-string)."""
        if not isinstance(optimizer_type, str):
            return None
        lowered = optimizer_type.lower()
        if lowered in self.optimizer_types():
            return lowered
        return FALLBACK_OPTIMIZER

    def optimizer(self, optimizer_type: Any) -> dict[str, Any] | None:
        key = self.optimizer_key(optimizer_type)
        return self._load(f"optimizer/{key}.schema.json") if key else None

    def capabilities(self, model_type: str) -> dict[str, Any]:
        schema = self.model(model_type) or {}
        caps: dict[str, Any] = schema.get("x-dpgui-capabilities", {})
        return caps

    def template(self, model_type: str) -> dict[str, Any]:
        schema = self.model(model_type) or {}
        template: dict[str, Any] = schema.get("x-dpgui-template", {})
        return template

    # -------------------------------------------------------------- composition
    def compose_main(self, model_type: Any = None, adapter_type: Any = None,
                     optimizer_type: Any = None) -> dict[str, Any]:
        """The main schema with the chosen model/adapter/optimizer tables swapped in.

        An unknown (or missing) discriminator leaves that table as a plain object.
        """
        opt_key = self.optimizer_key(optimizer_type)
        key = (model_type if isinstance(model_type, str) else None,
               adapter_type if isinstance(adapter_type, str) else None, opt_key)
        cached = self._composed.get(key)
        if cached is not None:
            return cached
        composed = copy.deepcopy(self.main())
        props = composed.setdefault("properties", {})
        parts = {
            "model": self.model(key[0]) if key[0] else None,
            "adapter": self.adapter(key[1]) if key[1] else None,
            "optimizer": self._load(f"optimizer/{opt_key}.schema.json") if opt_key else None,
            "monitoring": self.monitoring(),
        }
        for name, prop in list(props.items()):
            slot = prop.get("x-dpgui-compose") if isinstance(prop, dict) else None
            if slot and parts.get(slot) is not None:
                sub: dict[str, Any] = copy.deepcopy(parts[slot] or {})
                for meta in ("$schema", "$id"):
                    sub.pop(meta, None)
                sub["x-dpgui-compose"] = slot
                props[name] = sub
        self._composed[key] = composed
        return composed

    def compose_for(self, values: dict[str, Any]) -> dict[str, Any]:
        def table(name: str) -> dict[str, Any]:
            v = values.get(name)
            return v if isinstance(v, dict) else {}

        return self.compose_main(table("model").get("type"), table("adapter").get("type"),
                                 table("optimizer").get("type"))

    def validator(self, schema: dict[str, Any]) -> "Draft202012Validator":
        v = self._validators.get(id(schema))
        if v is None:
            from jsonschema import Draft202012Validator

            v = Draft202012Validator(schema)
            self._validators[id(schema)] = v
        return v


# ------------------------------------------------------------------ walking
# The one set of schema-walking helpers: the validator, the tree builder, the editors and
# the schema audit all navigate schemas through these (local ``$ref`` only).

def deref(root: dict[str, Any], node: Any) -> dict[str, Any] | None:
    """``node`` with a local ``$ref`` (``#/...`` into ``root``) followed; keys written
    beside the ``$ref`` override the target's. ``None`` for a non-dict node."""
    if not isinstance(node, dict):
        return None
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for seg in ref[2:].split("/"):
            target = target.get(seg) if isinstance(target, dict) else None
        merged = dict(target or {})
        merged.update({k: v for k, v in node.items() if k != "$ref"})
        return merged
    return node


def array_branch(root: dict[str, Any], node: dict[str, Any]) -> dict[str, Any] | None:
    """The ``type: array`` alternative of an ``anyOf``/``oneOf`` node (a key that takes a
    value or a list of values), dereferenced; ``None`` if it has none."""
    for key in ("anyOf", "oneOf"):
        for alt in node.get(key, []) or []:
            alt = deref(root, alt)
            if alt and alt.get("type") == "array":
                return alt
    return None


def item_schema(root: dict[str, Any], node: Any) -> dict[str, Any] | None:
    """The schema of the items of an array node: its own ``items``, else the ``items`` of
    its array alternative. Not dereferenced; ``None`` when it describes no items."""
    node = deref(root, node)
    if node is None:
        return None
    items = node.get("items")
    if isinstance(items, dict):
        return items
    branch = array_branch(root, node)
    items = branch.get("items") if branch else None
    return items if isinstance(items, dict) else None


def object_properties(root: dict[str, Any], node: Any, _depth: int = 0) -> dict[str, Any] | None:
    """The properties an object node describes, following ``$ref`` and gathering those of
    its ``allOf``/``anyOf``/``oneOf`` branches (the node's own win on a clash). ``None``
    when neither the node nor a branch has ``properties``. The result may be the schema's
    own dict: read it, never change it."""
    node = deref(root, node)
    if node is None or _depth > 8:
        return None
    own = node.get("properties")
    own = own if isinstance(own, dict) else None
    if not any(comb in node for comb in ("allOf", "anyOf", "oneOf")):
        return own  # the common case: no copy (the validator asks once per table)
    props: dict[str, Any] = dict(own) if own is not None else {}
    found = own is not None
    for comb in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(comb, []) or []:
            more = object_properties(root, sub, _depth + 1)
            if more is not None:
                found = True
                for key, value in more.items():
                    props.setdefault(key, value)
    return props if found else None


@lru_cache(maxsize=1)
def default_registry() -> SchemaRegistry:
    from dpgui_qt.resources import schemas_dir

    return SchemaRegistry(schemas_dir())
