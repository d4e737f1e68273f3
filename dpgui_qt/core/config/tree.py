"""The config editor's row structure, without Qt: which keys a document shows, grouped and
ordered, derived from its composed schema and the keys present in the file.

:class:`TreeBuilder` turns ``(registry, values, kind)`` into a tree of :class:`Node` records
(groups, keys, tables, arrays of tables and their items); values are never copied, only the
shape. Keys no schema knows go under "other" (or stay in their table) marked ``unused``; a
key the current model/adapter/optimizer type does not read lists the types that do
(:func:`readers_of`). :class:`DirectoryTreeBuilder` builds the same for one ``[[directory]]``
entry of a dataset config. The GUI's ``PropertyTreeModel`` is a Qt adapter over these trees.

Groups: training, evaluation, saving, memory, model, adapter, optimizer, monitoring (dataset
configs: dataset, buckets, captions), other -- from ``x-dpgui-group``, ordered by
``x-dpgui-order``.
"""
from __future__ import annotations

from typing import Any, Iterable

from dpgui_qt.core.config.document import MISSING, DocKind
from dpgui_qt.core.config.schema import SchemaRegistry, deref

GROUPS: list[tuple[str, str]] = [
    ("training", "Training"),
    ("evaluation", "Evaluation"),
    ("saving", "Saving & checkpoints"),
    ("memory", "Memory & performance"),
    ("model", "Model"),
    ("adapter", "Adapter"),
    ("optimizer", "Optimizer"),
    ("monitoring", "Monitoring (W&B)"),
    ("dataset", "Dataset"),
    ("buckets", "Buckets"),
    ("captions", "Captions"),
    ("other", "Other"),
]
GROUP_TITLES = dict(GROUPS)
DISCRIMINATORS = ("model", "adapter", "optimizer")

#: Node kinds.
GROUP, KEY, TABLE, TABLES, ITEM = "group", "key", "table", "tables", "item"

class Node:
    __slots__ = ("parent", "children", "kind", "path", "name", "schema", "group", "row",
                 "unused", "order", "readers", "__weakref__")

    def __init__(self, kind: str, path: tuple[Any, ...] | None, name: str, schema: dict[str, Any] | None = None,
                 group: str = "other", order: float = 0.0):
        self.parent: Node | None = None
        self.children: list[Node] = []
        self.kind = kind
        self.path = path
        self.name = name
        self.schema = schema
        self.group = group
        self.row = 0
        self.unused: str | None = None
        self.readers: list[str] = []   # for a key the current type does not read: the types that do
        self.order = order

    @property
    def uid(self) -> tuple[Any, ...]:
        return ("g", self.name) if self.kind == GROUP else ("k", self.path)

    def add(self, child: "Node") -> "Node":
        child.parent = self
        child.row = len(self.children)
        self.children.append(child)
        return child

    def renumber(self) -> None:
        for i, c in enumerate(self.children):
            c.row = i
            c.parent = self

    def walk(self) -> Iterable["Node"]:
        for c in self.children:
            yield c
            yield from c.walk()

    def __repr__(self) -> str:
        return f"Node({self.kind}, {self.path or self.name})"


# ------------------------------------------------------------------ build
class TreeBuilder:
    """Derives the row structure (not the values) from schema + present keys."""

    def __init__(self, registry: SchemaRegistry, values: dict[str, Any], kind: DocKind | str) -> None:
        self.registry = registry
        self.values = values if isinstance(values, dict) else {}
        self.kind = kind
        if kind == DocKind.DATASET:
            self.schema = registry.dataset()
        else:
            self.schema = registry.compose_for(self.values)
        self.groups: dict[str, Node] = {}

    def _group(self, name: str) -> Node:
        if name not in GROUP_TITLES:
            name = "other"
        g = self.groups.get(name)
        if g is None:
            g = self.groups[name] = Node(GROUP, None, name, None, name)
        return g

    def build(self) -> Node:
        root = Node(GROUP, None, "<root>")
        props = self.schema.get("properties") or {}
        if self.kind != DocKind.DATASET:
            for name in ("training", "model", "adapter", "optimizer"):
                self._group(name)  # always present, even for an empty file
        for decl, (key, prop) in enumerate(props.items()):
            prop = deref(self.schema, prop) or {}
            group = prop.get("x-dpgui-group", "other")
            order = float(prop.get("x-dpgui-order", 500)) + decl / 1000.0
            if prop.get("x-dpgui-compose"):
                slot = prop["x-dpgui-compose"]
                self._composed(key, prop, slot if slot in GROUP_TITLES else group)
                continue
            node = self._node((key,), prop, self.values.get(key, MISSING), group, order)
            self._group(group).add(node)
        return self._finish(root, (), self.values, props)

    def _finish(self, root: Node, base: tuple[Any, ...], values: dict[str, Any], props: dict[str, Any]) -> Node:
        """Put keys no schema knows under "other", then attach the groups in order."""
        for i, (key, val) in enumerate(values.items()):
            if key in props:
                continue
            node = self._node(base + (key,), None, val, "other", 10_000 + i)
            node.unused = "unknown key"
            self._group("other").add(node)
        for name, _title in GROUPS:
            g = self.groups.get(name)
            if g is None:
                continue
            g.children.sort(key=lambda n: n.order)
            g.renumber()
            root.add(g)
        return root

    def _composed(self, slot: str, prop: dict[str, Any], group: str) -> None:
        table = self.values.get(slot, MISSING)
        g = self._group(group)
        if table is not MISSING and not isinstance(table, dict):
            n = Node(KEY, (slot,), slot, None, group, -1)
            n.unused = "must be a table"
            g.add(n)
            return
        table = table if isinstance(table, dict) else {}
        props = prop.get("properties") or {}
        known = bool(props)
        if slot in DISCRIMINATORS:
            g.add(Node(KEY, (slot, "type"), "type", self._discriminator_schema(slot, props),
                       group, -1))
        for decl, (key, sub) in enumerate(props.items()):
            if key == "type" and slot in DISCRIMINATORS:
                continue
            sub = deref(prop, sub) or {}
            order = float(sub.get("x-dpgui-order", 500)) + decl / 1000.0
            g.add(self._node((slot, key), sub, table.get(key, MISSING), group, order))
        for i, (key, val) in enumerate(table.items()):
            if key in props or (key == "type" and slot in DISCRIMINATORS):
                continue
            n = self._node((slot, key), None, val, group, 10_000 + i)
            if known:
                n.unused = f"not used by {table.get('type', slot)}"
                n.readers = readers_of(self.registry, slot, key)
            g.add(n)

    def _discriminator_schema(self, slot: str, props: dict[str, Any]) -> dict[str, Any]:
        own = deref(self.schema, props.get("type")) or {}
        intro = {
            "model": "Which model architecture to train. Changing it shows that model's keys "
                     "at once; keys the new model does not use are kept and marked.",
            "adapter": "What to train: a LoRA or LoKr adapter, or none for a full fine-tune "
                       "(which removes the [adapter] table).",
            "optimizer": "Optimizer class. Built-in names are matched case-insensitively; any "
                         "other name is loaded from the pytorch_optimizer package.",
        }[slot]
        desc = intro + ("\n\n" + own["description"] if own.get("description") else "")
        return {"type": "string", "description": desc, "x-dpgui-widget": "discriminator",
                "x-dpgui-discriminator": slot, "x-dpgui-group": slot,
                "x-dpgui-source": own.get("x-dpgui-source", "train.py")}

    def _node(self, path: tuple[Any, ...], schema: dict[str, Any] | None, value: Any, group: str, order: float) -> Node:
        name = str(path[-1])
        if schema is None:
            if isinstance(value, dict):
                n = Node(TABLE, path, name, None, group, order)
                for k, v in value.items():
                    c = self._node(path + (k,), None, v, group, 0)
                    n.add(c)
                return n
            if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                n = Node(TABLES, path, name, None, group, order)
                for i, v in enumerate(value):
                    n.add(self._item(path + (i,), None, v, group))
                return n
            return Node(KEY, path, name, None, group, order)
        t = schema.get("type")
        items = deref(self.schema, schema.get("items")) if isinstance(schema.get("items"), dict) else None
        if t == "array" and items is not None and items.get("type") == "object":
            n = Node(TABLES, path, name, schema, group, order)
            if isinstance(value, list):
                for i, v in enumerate(value):
                    n.add(self._item(path + (i,), items, v, group))
            return n
        if t == "object" and "anyOf" not in schema:
            n = Node(TABLE, path, name, schema, group, order)
            self._fill(n, path, schema, value if isinstance(value, dict) else {}, group)
            return n
        return Node(KEY, path, name, schema, group, order)

    def _item(self, path: tuple[Any, ...], schema: dict[str, Any] | None, value: Any, group: str) -> Node:
        n = Node(ITEM, path, f"#{path[-1] + 1}", schema, group, path[-1])
        if isinstance(value, dict):
            self._fill(n, path, schema or {}, value, group)
        return n

    def _fill(self, n: Node, path: tuple[Any, ...], schema: dict[str, Any], value: dict[str, Any], group: str) -> None:
        props = schema.get("properties") or {}
        for decl, (k, sub) in enumerate(props.items()):
            sub = deref(self.schema, sub) or {}
            n.add(self._node(path + (k,), sub, value.get(k, MISSING), group, decl))
        for k, v in value.items():
            if k not in props:
                c = self._node(path + (k,), None, v, group, 10_000)
                if props:
                    c.unused = "unknown key"
                n.add(c)


class DirectoryTreeBuilder(TreeBuilder):
    """The settings of ``[[directory]]`` number ``index`` of a dataset config."""

    def __init__(self, registry: SchemaRegistry, values: dict[str, Any], index: int) -> None:
        super().__init__(registry, values, DocKind.DATASET)
        self.index = index
        dirs = self.values.get("directory")
        entry = dirs[index] if isinstance(dirs, list) and 0 <= index < len(dirs) else None
        self.valid = isinstance(entry, dict)
        self.dir_values = entry if isinstance(entry, dict) else {}
        self.dir_schema = deref(self.schema, (self.schema.get("$defs") or {}).get("directory")) or {}

    def build(self) -> Node:
        root = Node(GROUP, None, "<root>")
        if not self.valid:
            return root
        base = ("directory", self.index)
        props = self.dir_schema.get("properties") or {}
        for decl, (key, prop) in enumerate(props.items()):
            prop = deref(self.schema, prop) or {}
            group = prop.get("x-dpgui-group", "other")
            order = float(prop.get("x-dpgui-order", 500)) + decl / 1000.0
            self._group(group).add(self._node(base + (key,), prop,
                                              self.dir_values.get(key, MISSING), group, order))
        return self._finish(root, base, self.dir_values, props)


def readers_of(registry: SchemaRegistry, slot: str, key: str) -> list[str]:
    """The model / adapter / optimizer types whose schema reads ``slot.key``."""
    get = {"model": (registry.model_types, registry.model),
           "adapter": (registry.adapter_types, registry.adapter),
           "optimizer": (registry.optimizer_types, registry.optimizer)}.get(slot)
    if get is None:
        return []
    types, schema = get
    return [t for t in types() if key in ((schema(t) or {}).get("properties") or {})]


def stale_keys(registry: SchemaRegistry, values: dict[str, Any], slot: str) -> list[str]:
    """Keys of the ``[slot]`` table its current type does not read (not "type")."""
    table = values.get(slot) if isinstance(values, dict) else None
    if not isinstance(table, dict):
        return []
    t = table.get("type")
    schema = {"model": registry.model, "adapter": registry.adapter,
              "optimizer": registry.optimizer}[slot](t) if isinstance(t, str) else None
    if schema is None:
        return []
    props = schema.get("properties") or {}
    if not props:
        return []
    return [k for k in table if k != "type" and k not in props]
