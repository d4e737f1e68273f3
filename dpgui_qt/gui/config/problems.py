"""Problems panel: every finding of the last validation (severity, key, message,
file:line); activating one selects its row in the property tree."""
from __future__ import annotations

from typing import Any

from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QToolButton,
                               QTreeView, QVBoxLayout, QWidget)

from dpgui_qt.gui import icons

FindingRole = int(Qt.ItemDataRole.UserRole) + 50


class ProblemsModel(QAbstractTableModel):
    HEADERS = ("", "Key", "Problem", "Location")

    def __init__(self, parent=None):
        super().__init__(parent)
        self._findings: list[Any] = []

    def set_findings(self, findings: list[Any]) -> None:
        self.beginResetModel()
        self._findings = list(findings)
        self.endResetModel()

    def findings(self) -> list[Any]:
        return list(self._findings)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._findings)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else 4

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        f = self._findings[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return None
            if col == 1:
                return f.key
            if col == 2:
                return f.message
            name = Path(f.file).name if f.file else "<text>"
            return f"{name}:{f.line}"
        if role == Qt.ItemDataRole.DecorationRole and col == 0:
            return icons.severity_icon(f.severity)
        if role == Qt.ItemDataRole.ToolTipRole:
            src = f"\nmirrors diffusion-pipe {f.source}" if f.source else ""
            return f"{f.severity}: {f.key}\n{f.message}\n{f.file}:{f.line}:{f.col}  [{f.rule}]{src}"
        if role == FindingRole:
            return f
        if role == Qt.ItemDataRole.UserRole:  # sort key for the severity column
            return (0 if f.is_error else 1, f.line)
        return None


class ProblemsPanel(QWidget):
    """The Problems dock's content."""

    activated = Signal(object)  # Finding
    expandedChanged = Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = ProblemsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.view = QTreeView(self)
        self.view.setRootIsDecorated(False)
        self.view.setAlternatingRowColors(True)
        self.view.setUniformRowHeights(False)
        self.view.setWordWrap(True)        # messages end with what to do: never cut them
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        h = self.view.header()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        h.resizeSection(0, 28)
        h.resizeSection(1, 230)
        h.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        h.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(False)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.summary = QLabel(self)
        self.toggle = QToolButton(self)
        self.toggle.setAutoRaise(True)
        self.toggle.setCheckable(True)
        self.toggle.setChecked(True)
        self.toggle.setToolTip("Show or hide the list of problems")
        self.toggle.toggled.connect(self._toggled)
        self._user_collapsed = False
        self.errors_only = QToolButton(self)
        self.errors_only.setText("Errors only")
        self.errors_only.setCheckable(True)
        self.errors_only.setAutoRaise(True)
        self.errors_only.toggled.connect(self._apply_filter)
        top = QHBoxLayout()
        top.setContentsMargins(2, 2, 6, 2)
        top.addWidget(self.toggle)
        top.addWidget(self.summary, 1)
        top.addWidget(self.errors_only)
        lay = self.column = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addLayout(top)
        lay.addWidget(self.view, 1)
        self._all: list[Any] = []
        self.set_findings([], None)

    def set_findings(self, findings: list[Any], ms: float | None = None) -> None:
        self._all = list(findings)
        self._apply_filter()
        e = sum(1 for f in findings if f.is_error)
        w = len(findings) - e
        if not findings:
            text = "No problems found." if ms is not None else "Not validated yet."
        else:
            text = f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}"
        if ms is not None:
            text += f"   <span style='color:gray'>(checked in {ms:.1f} ms)</span>"
        self.summary.setText(text)
        # empty: a one-line summary; problems appear: the list opens again (unless the
        # user closed it while there were problems)
        if not findings:
            self.set_expanded(False, user=False)
        elif not self._user_collapsed:
            self.set_expanded(True, user=False)

    # ------------------------------------------------------------ collapsing
    @property
    def expanded(self) -> bool:
        return self.toggle.isChecked()

    def set_expanded(self, on: bool, user: bool = True) -> None:
        if user:
            self._user_collapsed = not on
        self.toggle.blockSignals(True)
        self.toggle.setChecked(on)
        self.toggle.blockSignals(False)
        self._apply_expanded()

    def _toggled(self, on: bool) -> None:
        self._user_collapsed = not on
        self._apply_expanded()

    def _apply_expanded(self) -> None:
        on = self.toggle.isChecked()
        self.toggle.setArrowType(Qt.ArrowType.DownArrow if on else Qt.ArrowType.RightArrow)
        self.view.setVisible(on)
        self.errors_only.setVisible(on)
        if on:
            self.setMaximumHeight(16777215)
        else:
            self.setMaximumHeight(self.column.contentsMargins().top()
                                  + max(self.summary.sizeHint().height(),
                                        self.toggle.sizeHint().height()) + 6)
        self.expandedChanged.emit(on)

    def _apply_filter(self) -> None:
        shown = [f for f in self._all if f.is_error] if self.errors_only.isChecked() else self._all
        self.model.set_findings(shown)

    def _activated(self, index: QModelIndex) -> None:
        f = self.proxy.mapToSource(index).data(FindingRole)
        if f is not None:
            self.activated.emit(f)

    def counts(self) -> tuple[int, int]:
        e = sum(1 for f in self._all if f.is_error)
        return e, len(self._all) - e
