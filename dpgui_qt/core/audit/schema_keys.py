"""The keys dpgui's schemas describe, per config table, in the labels the extraction uses.

:func:`load_schema_keys` reads a schema folder (``main``, ``monitoring``, ``dataset`` with its
``[[directory]]`` entries, and one file per model/adapter/optimizer type) and flattens each
file's properties into :class:`SchemaTable` records: nested tables become labels such as
``model.text_encoders[]`` (spelled as :mod:`.codemodel` spells them). Schemas are walked
with the config wing's schema helpers (:func:`~dpgui_qt.core.config.schema.object_properties`,
:func:`~dpgui_qt.core.config.schema.item_schema`), the same ones the validator uses.

Schema side allow-list (principled, documented in schemas/README.md terms)
--------------------------------------------------------------------------
* ``"x-dpgui-audit": "ignore"`` on a property: never reported either way.
* ``x-dpgui-deprecated`` / ``x-dpgui-forbidden`` properties describe keys that are legacy or
  must not be set; they are expected to be unread and are never reported as unread.
* Nested tables are compared only where the schema describes the nested object's
  ``properties`` (after following local ``$ref`` and ``anyOf``/``oneOf``/``allOf``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpgui_qt.core.audit.checkout import AuditError
from dpgui_qt.core.audit.codemodel import child_label, item_label
from dpgui_qt.core.config.schema import deref, item_schema, object_properties

_ALLOW_VALUES = {"ignore"}


@dataclass
class SchemaTable:
    """Properties of one table in one schema file."""

    file: str
    keys: set[str] = field(default_factory=set)
    exempt_unread: set[str] = field(default_factory=set)  # deprecated / forbidden / ignore
    ignored: set[str] = field(default_factory=set)  # x-dpgui-audit: ignore


@dataclass
class SchemaKeys:
    """Every table of a schema folder: shared tables and one set per dispatched type."""

    root: Path
    tables: dict[str, SchemaTable]  # main, main.*, monitoring, dataset, directory...
    models: dict[str, dict[str, SchemaTable]]  # type -> label -> table
    adapters: dict[str, dict[str, SchemaTable]]
    optimizers: dict[str, dict[str, SchemaTable]]


def _add_tables(into: dict[str, SchemaTable], label: str, props: dict[str, Any], doc: dict[str, Any], file: str) -> None:
    tab = into.setdefault(label, SchemaTable(file))
    for key, spec in props.items():
        spec_r = deref(doc, spec) or {}
        if spec_r.get("x-dpgui-audit") in _ALLOW_VALUES:
            tab.ignored.add(key)
            continue
        tab.keys.add(key)
        if "x-dpgui-deprecated" in spec_r or "x-dpgui-forbidden" in spec_r:
            tab.exempt_unread.add(key)
            continue
        if spec_r.get("x-dpgui-compose"):
            continue  # composed from its own schema files
        sub = object_properties(doc, spec_r)
        if sub is not None:
            _add_tables(into, child_label(label, key), sub, doc, file)
        items = item_schema(doc, spec_r)
        item_props = object_properties(doc, items) if items is not None else None
        if item_props is not None:
            _add_tables(into, item_label(child_label(label, key)), item_props, doc, file)


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AuditError(f"cannot read schema {path}: {exc}") from exc


def load_schema_keys(schemas_dir: str | Path) -> SchemaKeys:
    """The tables of a dpgui schema folder; :class:`AuditError` when it is not one or a file
    cannot be read."""
    root = Path(schemas_dir)
    if not (root / "main.schema.json").is_file():
        raise AuditError(f"{root} holds no main.schema.json (not a dpgui schema folder)")
    tables: dict[str, SchemaTable] = {}
    for fname, label in (("main.schema.json", "main"), ("monitoring.schema.json", "monitoring"),
                         ("dataset.schema.json", "dataset")):
        p = root / fname
        if not p.is_file():
            continue
        doc = _load_json(p)
        _add_tables(tables, label, object_properties(doc, doc) or {}, doc, fname)
        if label == "dataset":
            d = (doc.get("$defs") or {}).get("directory")
            if d is not None:
                _add_tables(tables, "directory", object_properties(doc, d) or {}, doc, fname)

    def per_type(sub: str, label: str) -> dict[str, dict[str, SchemaTable]]:
        out: dict[str, dict[str, SchemaTable]] = {}
        for p in sorted((root / sub).glob("*.schema.json")):
            name = p.name[: -len(".schema.json")]
            doc = _load_json(p)
            t: dict[str, SchemaTable] = {}
            _add_tables(t, label, object_properties(doc, doc) or {}, doc, f"{sub}/{p.name}")
            out[name] = t
        return out

    return SchemaKeys(root, tables, per_type("model", "model"), per_type("adapter", "adapter"),
                      per_type("optimizer", "optimizer"))
