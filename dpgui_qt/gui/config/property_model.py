"""PropertyTreeModel: a stateless Qt adapter (QAbstractItemModel) over a ConfigDocument and
the Qt-free row structure of :mod:`dpgui_qt.core.config.tree` (napari's tree-adapter idea).

Rows are *key paths* (plus group headers); values are never copied: ``data()`` reads
``session.doc`` every time. On every document change :class:`~dpgui_qt.core.config.tree.
TreeBuilder` derives the structure again and it is merged into the live tree with proper
insert/remove/move signals, so a model-type switch keeps expansion, selection and open
editors where rows survive. This module adds only what Qt needs: roles, columns, colours,
tooltips and edits.
"""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QFont, QGuiApplication, QPalette

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core.config.document import MISSING
from dpgui_qt.core.config.literals import toml_literal
from dpgui_qt.core.config.tree import (DISCRIMINATORS, GROUP, GROUP_TITLES, ITEM, KEY, TABLE, TABLES,
                                       Node, TreeBuilder)
from dpgui_qt.core.text import one_line
from dpgui_qt.gui import icons

__all__ = ["PropertyTreeModel", "COL_KEY", "COL_VALUE", "COL_STATUS", "HEADERS", "GROUP", "KEY",
           "TABLE", "TABLES", "ITEM", "Node"]

COL_KEY, COL_VALUE, COL_STATUS = 0, 1, 2
HEADERS = ("Key", "Value", "Status")

_ROLE = int(Qt.ItemDataRole.UserRole)
PathRole = _ROLE + 1  # tuple key path (None for groups)
KindRole = _ROLE + 2  # "group" | "key" | "table" | "tables" | "item"
ValueRole = _ROLE + 3  # the document value (or None when unset)
LiteralRole = _ROLE + 4  # the value as written (None when unset)
SchemaRole = _ROLE + 5  # property schema (None for unknown keys)
IsSetRole = _ROLE + 6
SeverityRole = _ROLE + 7  # "error" | "warning" | "unused" | None
FilterTextRole = _ROLE + 8  # key path + description, lower-case
AdvancedRole = _ROLE + 9
GroupRole = _ROLE + 10


# ------------------------------------------------------------------ model
class PropertyTreeModel(QAbstractItemModel):
    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.merge_token: Any = None  # set by the delegate while it commits
        self.confirm_full_finetune = None  # callable(keys) -> bool; None: always yes
        self._root = Node(GROUP, None, "<root>")
        self._by_path: dict[tuple, Node] = {}
        self._schema: dict = {}
        self._findings: list = []
        self._status: dict[int, tuple[str | None, list]] | None = None
        self._choices_cache: dict[str, list] = {}
        session.changed.connect(self._on_change)
        session.documentReplaced.connect(self.reload)
        session.findingsChanged.connect(self.set_findings)
        self._built = False  # built on first use: a file opened at start-up builds once

    # --------------------------------------------------------- structure
    @property
    def schema(self) -> dict:
        """The composed schema the tree currently shows."""
        self._ensure()
        return self._schema

    def _build(self) -> Node:
        b = TreeBuilder(self.session.registry, self.session.doc.values(), self.session.kind)
        self._schema = b.schema
        return b.build()

    def _ensure(self) -> None:
        if not self._built:
            self._built = True
            self._root = self._build()
            self._index_paths()
            self._status = None
            self._findings = list(self.session.findings)

    def reload(self) -> None:
        if not self._built:
            return  # nobody has seen rows yet; the first query builds them
        self.beginResetModel()
        self._root = self._build()
        self._index_paths()
        self._status = None
        self._findings = list(self.session.findings)
        self.endResetModel()

    def _index_paths(self) -> None:
        self._by_path = {n.path: n for n in self._root.walk() if n.path is not None}

    def _on_change(self, _change) -> None:
        self.sync()

    def sync(self) -> None:
        """Rebuild the structure and merge it into the live tree."""
        if not self._built:
            return
        new_root = self._build()
        self._merge(self._root, new_root, QModelIndex())
        self._index_paths()
        self._status = None

    def _merge(self, old: Node, new: Node, parent_index: QModelIndex) -> None:
        new_uids = [c.uid for c in new.children]
        new_set = set(new_uids)
        # 1. remove rows that are gone (contiguous runs, from the end)
        i = len(old.children) - 1
        while i >= 0:
            if old.children[i].uid in new_set:
                i -= 1
                continue
            j = i
            while j - 1 >= 0 and old.children[j - 1].uid not in new_set:
                j -= 1
            self.beginRemoveRows(parent_index, j, i)
            del old.children[j:i + 1]
            old.renumber()
            self.endRemoveRows()
            i = j - 1
        # 2. move survivors into the new relative order
        surviving = {c.uid for c in old.children}
        target = [u for u in new_uids if u in surviving]
        for t, uid in enumerate(target):
            if old.children[t].uid == uid:
                continue
            s = next(k for k in range(t + 1, len(old.children)) if old.children[k].uid == uid)
            self.beginMoveRows(parent_index, s, s, parent_index, t)
            node = old.children.pop(s)
            old.children.insert(t, node)
            old.renumber()
            self.endMoveRows()
        # 3. insert new rows (contiguous runs); survivors are now in order, so a
        #    mismatch at p means new_uids[p] is a new row
        p = 0
        while p < len(new.children):
            if p < len(old.children) and old.children[p].uid == new_uids[p]:
                p += 1
                continue
            q = p
            while q < len(new.children) and new_uids[q] not in surviving:
                q += 1
            q = max(q, p + 1)
            self.beginInsertRows(parent_index, p, q - 1)
            old.children[p:p] = new.children[p:q]
            old.renumber()
            self.endInsertRows()
            p = q
        # 4. update survivors in place and recurse
        for o, n in zip(old.children, new.children):
            if o is n:
                continue
            o.schema, o.name, o.group, o.unused, o.order = n.schema, n.name, n.group, n.unused, n.order
            o.readers = n.readers
            o.kind = n.kind
            idx = self.createIndex(o.row, 0, o)
            self._merge(o, n, idx)
        if old.children:
            self.dataChanged.emit(self.createIndex(0, 0, old.children[0]),
                                  self.createIndex(len(old.children) - 1, COL_STATUS,
                                                   old.children[-1]))

    # ---------------------------------------------------------- findings
    def set_findings(self, findings: list) -> None:
        if not self._built:
            return
        self._findings = list(findings)
        self._status = None
        self._emit_all(COL_KEY, COL_STATUS)

    def _emit_all(self, c0: int, c1: int) -> None:
        def rec(node: Node, parent: QModelIndex):
            if not node.children:
                return
            self.dataChanged.emit(self.index(0, c0, parent),
                                  self.index(len(node.children) - 1, c1, parent))
            for c in node.children:
                if c.children:
                    rec(c, self.index(c.row, 0, parent))
        rec(self._root, QModelIndex())

    def node_for_path(self, path) -> Node | None:
        """The row for ``path``, or its nearest shown ancestor (the group for table paths)."""
        self._ensure()
        parts = kp.parse(path) if path else ()
        while parts:
            n = self._by_path.get(parts)
            if n is not None:
                return n
            if len(parts) == 1:
                for g in self._root.children:
                    if g.name == parts[0]:
                        return g
            parts = parts[:-1]
        return None

    def _status_map(self) -> dict[int, tuple[str | None, list]]:
        if self._status is None:
            status: dict[int, tuple[str | None, list]] = {}
            fname = str(self.session.doc.path) if self.session.doc.path else "<text>"
            for f in self._findings:
                if f.file not in (None, fname):
                    continue
                node = self.node_for_path(f.path)
                while node is not None and node is not self._root:
                    sev, lst = status.get(id(node), (None, []))
                    if sev != "error":
                        sev = f.severity
                    status[id(node)] = (sev, lst + [f])
                    node = node.parent
            self._status = status
        return self._status

    def findings_for(self, node: Node) -> list:
        return self._status_map().get(id(node), (None, []))[1]

    # ---------------------------------------------------------- qt model
    def columnCount(self, parent=QModelIndex()) -> int:
        return 3

    def rowCount(self, parent=QModelIndex()) -> int:
        self._ensure()
        if parent.isValid():
            if parent.column() != 0:
                return 0
            return len(parent.internalPointer().children)
        return len(self._root.children)

    def index(self, row, column, parent=QModelIndex()) -> QModelIndex:
        self._ensure()
        if not self.hasIndex(row, column, parent):
            return QModelIndex()
        pnode = parent.internalPointer() if parent.isValid() else self._root
        return self.createIndex(row, column, pnode.children[row])

    def parent(self, index=QModelIndex()) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        node: Node = index.internalPointer()
        p = node.parent
        if p is None or p is self._root:
            return QModelIndex()
        return self.createIndex(p.row, 0, p)

    def hasChildren(self, parent=QModelIndex()) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section] if 0 <= section < 3 else None
        return None

    def node(self, index: QModelIndex) -> Node | None:
        return index.internalPointer() if index.isValid() else None

    def index_for_node(self, node: Node, column: int = 0) -> QModelIndex:
        if node is None or node is self._root:
            return QModelIndex()
        return self.createIndex(node.row, column, node)

    def index_for_path(self, path, column: int = 0) -> QModelIndex:
        node = self.node_for_path(path)
        return self.index_for_node(node, column) if node else QModelIndex()

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        node: Node = index.internalPointer()
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if node.kind == KEY and index.column() == COL_VALUE:
            f |= Qt.ItemFlag.ItemIsEditable
            if self._is_bool(node):
                f |= Qt.ItemFlag.ItemIsUserCheckable
        return f

    # ------------------------------------------------------------ values
    def _is_bool(self, node: Node) -> bool:
        schema = node.schema or {}
        return schema.get("type") == "boolean" and "enum" not in schema

    def value(self, node: Node) -> Any:
        return self.session.doc.get(node.path) if node.path is not None else MISSING

    def is_set(self, node: Node) -> bool:
        return node.path is not None and self.session.doc.has(node.path)

    def literal(self, node: Node) -> str | None:
        if node.path is None:
            return None
        return self.session.doc.literal(node.path)

    def _value_text(self, node: Node) -> str:
        doc = self.session.doc
        if node.kind == GROUP:
            return self._group_summary(node)
        if node.kind == TABLES:
            v = self.value(node)
            n = len(v) if isinstance(v, list) else 0
            return f"{n} item{'s' if n != 1 else ''}" if n else "none — right-click to add"
        if node.kind == ITEM:
            v = self.value(node)
            if isinstance(v, dict):
                shown = [f"{k} = {toml_literal(x)}" for k, x in v.items()
                         if isinstance(x, (str, int, float))][:2]
                return ", ".join(shown)
            return ""
        if node.kind == TABLE:
            v = self.value(node)
            return f"{len(v)} key{'s' if len(v) != 1 else ''}" if isinstance(v, dict) else ""
        v = self.value(node)
        schema = node.schema or {}
        if v is MISSING:
            if schema.get("x-dpgui-discriminator") == "adapter":
                return "none — full fine-tune"
            if "default" in schema:
                d = schema["default"]
                return d if isinstance(d, str) and d else one_line(toml_literal(d))
            if schema.get("x-dpgui-dp-default"):
                return f"= {schema['x-dpgui-dp-default']}"
            return "not set"
        if schema.get("x-dpgui-secret") and isinstance(v, str):
            return "••••••••" if v else "(empty)"
        if isinstance(v, str):
            return v if v else "(empty)"
        lit = doc.literal(node.path)
        return one_line(lit) if lit is not None else one_line(toml_literal(v))

    def _group_summary(self, g: Node) -> str:
        vals = self.session.doc.values()
        if g.name in DISCRIMINATORS:
            table = vals.get(g.name)
            if not isinstance(table, dict):
                return "full fine-tune (no adapter)" if g.name == "adapter" else "not set"
            t = table.get("type")
            if g.name == "model" and isinstance(t, str):
                known = self.session.registry.model(t)
                if known is None:
                    return f"{t} — not a known model type; keys shown as written"
                return _model_title(known, t)
            return str(t) if t is not None else "type not set"
        n = sum(1 for c in g.children if c.kind != GROUP and self.is_set(c))
        return f"{n} of {len(g.children)} set" if g.children else ""

    def status(self, node: Node) -> tuple[str | None, str]:
        sev, found = self._status_map().get(id(node), (None, []))
        if node.kind in (GROUP, TABLE, TABLES, ITEM) and found:
            e = sum(1 for f in found if f.is_error)
            w = len(found) - e
            parts = []
            if e:
                parts.append(f"{e} error{'s' if e != 1 else ''}")
            if w:
                parts.append(f"{w} warning{'s' if w != 1 else ''}")
            return sev, ", ".join(parts)
        if found:
            worst = next((f for f in found if f.is_error), found[0])
            return sev, worst.message
        if node.unused and self.is_set(node):
            return "unused", node.unused
        dep = (node.schema or {}).get("x-dpgui-deprecated")
        if dep and self.is_set(node):
            return "warning", dep
        return None, ""

    def tooltip(self, node: Node) -> str:
        if node.kind == GROUP:
            _sev, text = self.status(node)
            return f"<b>{html.escape(GROUP_TITLES.get(node.name, node.name))}</b>" + (
                f"<br>{html.escape(text)}" if text else "")
        schema = node.schema or {}
        path = node.path or ()
        out = [f"<b>{html.escape(kp.format(path))}</b>"]
        if schema.get("description"):
            out.append(html.escape(schema["description"]).replace("\n", "<br>"))
        elif node.schema is None and node.readers:
            shown = ", ".join(node.readers[:8]) + (", …" if len(node.readers) > 8 else "")
            out.append(f"Only read by {path[0]}.type = {html.escape(shown)}; the current "
                       f"type ignores it.")
        elif node.schema is None:
            out.append("No schema describes this key; it is kept and edited as a raw TOML value.")
        facts = []
        if "default" in schema:
            facts.append(f"Default: <code>{html.escape(toml_literal(schema['default']))}</code>")
        if schema.get("x-dpgui-dp-default"):
            facts.append(f"diffusion-pipe default: <code>{html.escape(str(schema['x-dpgui-dp-default']))}</code>")
        allowed = schema.get("enum")
        if allowed:
            facts.append("Allowed: " + ", ".join(f"<code>{html.escape(toml_literal(a))}</code>"
                                                for a in allowed))
        rng = _range_text(schema)
        if rng:
            facts.append(f"Range: {rng}")
        if schema.get("format") in ("file-path", "dir-path", "path"):
            facts.append({"file-path": "A file path", "dir-path": "A folder path",
                          "path": "A file or folder path"}[schema["format"]])
        if schema.get("x-dpgui-source"):
            facts.append(f"Read at: <code>{html.escape(str(schema['x-dpgui-source']))}</code>")
        if not self.is_set(node) and node.kind == KEY:
            facts.append("<i>Not set in the file.</i>")
        if facts:
            out.append("<br>".join(facts))
        for f in self.findings_for(node):
            color = "#d64545" if f.is_error else "#b88600"
            out.append(f"<span style='color:{color}'>{html.escape(f.severity)}:</span> "
                       f"{html.escape(f.message)}")
        if node.unused and self.is_set(node):
            out.append(f"<i>{html.escape(node.unused)}</i> — kept in the file; reset it to remove.")
        return "<qt>" + "<br><br>".join(out) + "</qt>"

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        col = index.column()
        R = Qt.ItemDataRole
        if role == R.DisplayRole:
            if col == COL_KEY:
                return GROUP_TITLES.get(node.name, node.name) if node.kind == GROUP else node.name
            if col == COL_VALUE:
                if self._is_bool(node):
                    v = self.value(node)
                    d = (node.schema or {}).get("default")
                    shown = v if isinstance(v, bool) else d
                    if isinstance(shown, bool):
                        return "true" if shown else "false"
                return self._value_text(node)
            return self.status(node)[1]
        if role == R.EditRole:
            if col == COL_VALUE and node.kind == KEY:
                v = self.value(node)
                return None if v is MISSING else v
            return self.data(index, R.DisplayRole)
        if role == R.CheckStateRole and col == COL_VALUE and node.kind == KEY and self._is_bool(node):
            v = self.value(node)
            if v is MISSING:
                v = (node.schema or {}).get("default", False)
            return Qt.CheckState.Checked if v is True else Qt.CheckState.Unchecked
        if role == R.DecorationRole:
            if col == COL_STATUS:
                return icons.severity_icon(self.status(node)[0])
            return None
        if role == R.ToolTipRole:
            return self.tooltip(node)
        if role == R.FontRole:
            f = QFont()
            if node.kind == GROUP and col == COL_KEY:
                f.setBold(True)
                return f
            if node.kind == KEY and col == COL_VALUE and not self.is_set(node):
                f.setItalic(True)
                return f
            if node.unused and self.is_set(node) and col in (COL_KEY, COL_VALUE):
                f.setStrikeOut(True)
                return f
            return None
        if role == R.ForegroundRole:
            pal = QGuiApplication.palette()
            if node.kind == GROUP and col != COL_KEY:
                return QBrush(pal.color(QPalette.ColorRole.PlaceholderText))
            if node.kind == KEY and col == COL_VALUE and not self.is_set(node):
                return QBrush(pal.color(QPalette.ColorRole.PlaceholderText))
            if node.unused and self.is_set(node):
                return QBrush(pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
            if col == COL_STATUS:
                sev = self.status(node)[0]
                if sev == "error":
                    return QBrush(icons.ERROR_COLOR)
            return None
        if role == PathRole:
            return node.path
        if role == KindRole:
            return node.kind
        if role == ValueRole:
            v = self.value(node)
            return None if v is MISSING else v
        if role == LiteralRole:
            return self.literal(node)
        if role == SchemaRole:
            return node.schema
        if role == IsSetRole:
            return self.is_set(node)
        if role == SeverityRole:
            return self.status(node)[0]
        if role == AdvancedRole:
            return bool((node.schema or {}).get("x-dpgui-advanced"))
        if role == GroupRole:
            return node.group
        if role == FilterTextRole:
            if node.kind == GROUP:
                return GROUP_TITLES.get(node.name, node.name).lower()
            desc = (node.schema or {}).get("description", "")
            return (kp.format(node.path) + " " + desc).lower()
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        node: Node = index.internalPointer()
        if node.kind != KEY or index.column() != COL_VALUE:
            return False
        if role == Qt.ItemDataRole.CheckStateRole:
            on = value in (Qt.CheckState.Checked, int(Qt.CheckState.Checked.value), 2, True)
            return self.session.set_value(node.path, bool(on))
        if role != Qt.ItemDataRole.EditRole:
            return False
        if value is None:
            if node.path == ("adapter", "type"):
                return self.full_finetune()
            return self.session.reset(node.path)
        return self.session.set_value(node.path, value, token=self.merge_token)

    def full_finetune(self) -> bool:
        """adapter.type = none: remove the [adapter] table (asks first; undoable)."""
        table = self.session.doc.get(("adapter",))
        if table is MISSING:
            return True
        keys = list(table) if isinstance(table, dict) else []
        if self.confirm_full_finetune is not None and not self.confirm_full_finetune(keys):
            return False
        return self.session.edit("Full fine-tune (remove [adapter])",
                                 lambda d: d.delete(("adapter",)), ("adapter",))

    def reset(self, index: QModelIndex) -> bool:
        node = self.node(index)
        if node is None or node.path is None:
            return False
        if node.kind == ITEM:
            return self.session.remove_item(node.path[:-1], node.path[-1])
        if node.path == ("adapter", "type"):
            return self.full_finetune()
        return self.session.reset(node.path)

    # ------------------------------------------------------- choices
    def choices_for(self, slot: str) -> tuple[list[tuple[str, Any]], bool]:
        """Combo entries for a discriminator row, and whether free text is allowed."""
        reg = self.session.registry
        if slot == "adapter":
            return [("none — full fine-tune", None)] + [(t, t) for t in reg.adapter_types()], False
        if slot == "optimizer":
            return [(t, t) for t in reg.optimizer_types()], True
        if "model" not in self._choices_cache:
            self._choices_cache["model"] = [
                (f"{t} — {_model_title(reg.model(t) or {}, t)}", t) for t in reg.model_types()]
        return list(self._choices_cache["model"]), False

    def persistent(self, index: QModelIndex) -> QPersistentModelIndex:
        return QPersistentModelIndex(index)


def _model_title(schema: dict, fallback: str) -> str:
    desc = schema.get("description", "")
    i = desc.find("(")
    if i >= 0 and desc.rstrip().endswith(")."):
        return desc[i + 1: desc.rstrip().rfind(")")]
    return schema.get("title", fallback)


def _range_text(schema: dict) -> str:
    lo = schema.get("minimum")
    xlo = schema.get("exclusiveMinimum")
    hi = schema.get("maximum")
    xhi = schema.get("exclusiveMaximum")
    parts = []
    if lo is not None:
        parts.append(f"≥ {lo}")
    if xlo is not None:
        parts.append(f"> {xlo}")
    if hi is not None:
        parts.append(f"≤ {hi}")
    if xhi is not None:
        parts.append(f"< {xhi}")
    return ", ".join(parts)
