"""Property trees of the dataset tab, built on the config editor's schema-driven
:class:`PropertyTreeModel`:

* :class:`DatasetSettingsProxy` shows the dataset's top-level settings (everything
  but the ``[[directory]]`` list, which has its own table);
* :class:`DirectoryPropertyModel` shows one ``[[directory]]`` table from
  ``$defs/directory``. Keys marked ``x-dpgui-inherits`` that the directory does not
  set show the dataset-level value in a distinct colour ("inherited from dataset");
  a value set here is an override, and Reset removes it so the dataset's applies again.
"""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QBrush, QColor, QFont

from dpgui_qt.core.config.document import MISSING
from dpgui_qt.core.config.literals import toml_literal
from dpgui_qt.core.config.tree import KEY, DirectoryTreeBuilder, Node
from dpgui_qt.core.text import one_line
from dpgui_qt.gui.config.property_model import COL_KEY, COL_STATUS, COL_VALUE, PathRole, PropertyTreeModel
from dpgui_qt.gui.config.page import PropertyFilterProxy

INHERIT_COLOR = QColor("#2f7fb8")
InheritedRole = int(Qt.ItemDataRole.UserRole) + 30  # (source, value) or None
OverridesRole = InheritedRole + 1  # dataset value this directory overrides, or None


class DatasetSettingsProxy(PropertyFilterProxy):
    """The top-level keys of a dataset config, without the [[directory]] tables."""

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        idx = self.sourceModel().index(row, 0, parent)
        path = idx.data(PathRole)
        if path and path[0] == "directory":
            return False
        return super().filterAcceptsRow(row, parent)


class DirectoryPropertyModel(PropertyTreeModel):
    """The settings of ``[[directory]]`` number ``index`` with inheritance shown."""

    def __init__(self, session, parent=None):
        self.dir_index = -1
        super().__init__(session, parent)

    def set_directory(self, index: int) -> None:
        if index == self.dir_index:
            return
        self.dir_index = index
        if self._built:
            self.reload()

    def _build(self) -> Node:
        b = DirectoryTreeBuilder(self.session.registry, self.session.doc.values(), self.dir_index)
        self._schema = b.schema
        return b.build()

    # -------------------------------------------------------- inheritance
    def _inherits(self, node: Node) -> bool:
        return (node.kind == KEY and node.path is not None and len(node.path) == 3
                and bool((node.schema or {}).get("x-dpgui-inherits")))

    @staticmethod
    def _top_key(node: Node) -> tuple[Any, ...]:
        """The dataset-level key a directory key inherits (``_inherits`` saw its path)."""
        assert node.path is not None
        return (node.path[-1],)

    def inherited(self, node: Node) -> tuple[str, Any] | None:
        """("dataset", value) when the dataset sets it and this directory does not;
        ("default", value) for diffusion-pipe's default; None otherwise."""
        if not self._inherits(node) or self.is_set(node):
            return None
        top = self.session.doc.get(self._top_key(node))
        if top is not MISSING:
            return "dataset", top
        schema = node.schema or {}
        if "default" in schema:
            return "default", schema["default"]
        return None

    def overrides(self, node: Node) -> Any:
        if not self._inherits(node) or not self.is_set(node):
            return MISSING
        return self.session.doc.get(self._top_key(node))

    def _value_text(self, node: Node) -> str:
        inh = self.inherited(node)
        if inh is not None and inh[0] == "dataset":
            lit = self.session.doc.literal(self._top_key(node))
            return one_line(lit if lit is not None else toml_literal(inh[1]))
        return super()._value_text(node)

    def status(self, node: Node) -> tuple[str | None, str]:
        sev, text = super().status(node)
        if sev or text:
            return sev, text
        inh = self.inherited(node)
        if inh is not None and inh[0] == "dataset":
            return None, "inherited from dataset"
        ov = self.overrides(node)
        if ov is not MISSING:
            return None, f"overrides dataset ({one_line(toml_literal(ov), 40)})"
        return None, ""

    def tooltip(self, node: Node) -> str:
        tip = super().tooltip(node)
        inh = self.inherited(node)
        extra = ""
        if inh is not None and inh[0] == "dataset":
            extra = (f"<p style='color:{INHERIT_COLOR.name()}'><b>Inherited from dataset:</b> "
                     f"<code>{html.escape(toml_literal(inh[1]))}</code>. Set a value here to "
                     "override it for this folder only.</p>")
        else:
            ov = self.overrides(node)
            if ov is not MISSING:
                extra = (f"<p><b>Overrides</b> the dataset's "
                         f"<code>{html.escape(toml_literal(ov))}</code> for this folder. "
                         "Reset to inherit it again.</p>")
        return tip.replace("<qt>", "<qt>" + extra, 1) if extra else tip

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        node: Node = index.internalPointer()
        col = index.column()
        R = Qt.ItemDataRole
        if role == InheritedRole:
            inh = self.inherited(node)
            return inh if inh is not None and inh[0] == "dataset" else None
        if role == OverridesRole:
            ov = self.overrides(node)
            return None if ov is MISSING else ov
        inh = self.inherited(node) if node.kind == KEY else None
        from_dataset = inh is not None and inh[0] == "dataset"
        if from_dataset:
            if role == R.ForegroundRole and col in (COL_VALUE, COL_STATUS):
                return QBrush(INHERIT_COLOR)
            if role == R.FontRole and col == COL_VALUE:
                f = QFont()
                f.setItalic(True)
                return f
            if role == R.CheckStateRole and col == COL_VALUE and self._is_bool(node):
                return Qt.CheckState.Checked if inh[1] is True else Qt.CheckState.Unchecked
            if role == R.DisplayRole and col == COL_VALUE and self._is_bool(node):
                return "true" if inh[1] is True else "false"
        elif self.overrides(node) is not MISSING:
            if role == R.FontRole and col in (COL_KEY, COL_VALUE):
                f = QFont()
                f.setBold(True)
                return f
        return super().data(index, role)
