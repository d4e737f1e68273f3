"""The property tree view: filter proxy, editor delegate, details panel and the
Config editor page that puts them together with the TOML preview and diff."""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import (QItemSelectionModel, QModelIndex, QPersistentModelIndex, QSize,
                            QSortFilterProxyModel, Qt, QTimer, Signal)
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemDelegate, QAbstractItemView, QApplication, QCheckBox,
                               QFrame, QHBoxLayout, QHeaderView,
                               QInputDialog, QLabel, QLineEdit, QMenu, QPushButton, QSplitter,
                               QStyledItemDelegate, QTabWidget, QTextBrowser, QToolButton,
                               QTreeView, QVBoxLayout, QWidget)

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core.config.literals import same_value
from dpgui_qt.core.config.tree import GROUP, ITEM, KEY, TABLE, TABLES, stale_keys
from dpgui_qt.gui import icons
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.config.property_model import (COL_KEY, COL_VALUE, AdvancedRole, FilterTextRole,
                                                IsSetRole, KindRole, LiteralRole, PathRole,
                                                PropertyTreeModel, SeverityRole, ValueRole)


def source_of(index: QModelIndex) -> tuple[Any, QModelIndex]:
    """(source model, source index) through any stack of proxies."""
    model = index.model()
    while isinstance(model, QSortFilterProxyModel):
        index = model.mapToSource(index)
        model = model.sourceModel()
    return model, index


# ------------------------------------------------------------------ proxy
class PropertyFilterProxy(QSortFilterProxyModel):
    """Filter by key/description text; hide advanced keys unless asked (advanced keys
    that are set in the file or have a problem are always shown)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setRecursiveFilteringEnabled(True)
        self.setAutoAcceptChildRows(True)
        self._text = ""
        self._advanced = False

    @property
    def show_advanced(self) -> bool:
        return self._advanced

    def _refilter(self, change) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def set_filter_text(self, text: str) -> None:
        self._refilter(lambda: setattr(self, "_text", text.strip().lower()))

    def set_show_advanced(self, on: bool) -> None:
        self._refilter(lambda: setattr(self, "_advanced", bool(on)))

    def filterAcceptsRow(self, row: int, parent: QModelIndex | QPersistentModelIndex) -> bool:
        src = self.sourceModel()
        idx = src.index(row, 0, parent)
        kind = idx.data(KindRole)
        if kind == GROUP:
            return False  # shown when one of its rows is
        if (not self._advanced and idx.data(AdvancedRole) and not idx.data(IsSetRole)
                and not idx.data(SeverityRole)):
            return False
        if self._text:
            return self._text in (idx.data(FilterTextRole) or "")
        return True


# --------------------------------------------------------------- delegate
class PropertyDelegate(QStyledItemDelegate):
    """Creates editors from :data:`EDITORS` for the value column and writes their
    values through the model (so every edit lands on the undo stack)."""

    invalidValue = Signal(str)

    def __init__(self, parent=None, registry=None):
        super().__init__(parent)
        self._registry = registry

    @property
    def registry(self):
        if self._registry is None:  # imported on first edit, not at start-up
            from dpgui_qt.gui.config.editors import EDITORS

            self._registry = EDITORS
        return self._registry

    def createEditor(self, parent, option, index):
        model, sidx = source_of(index)
        node = model.node(sidx) if isinstance(model, PropertyTreeModel) else None
        if node is None or node.kind != KEY or sidx.column() != COL_VALUE:
            return None
        from dpgui_qt.gui.config.editors import EditorContext

        schema = node.schema
        doc_path = model.session.doc.path
        ctx = EditorContext(schema, root=model.schema,
                            base_dir=str(doc_path.parent) if doc_path else None)
        slot = (schema or {}).get("x-dpgui-discriminator")
        if slot:
            ctx.choices, ctx.editable_choice = model.choices_for(slot)
        editor = self.registry.create(ctx, parent)
        editor._dp_token = object()  # commits from one editor merge into one undo step
        editor._dp_loaded = None
        editor.edited.connect(lambda ed=editor: self.commitData.emit(ed))
        return editor

    def setEditorData(self, editor, index):
        _model, sidx = source_of(index)
        value = sidx.data(ValueRole)
        literal = sidx.data(LiteralRole)
        state = (repr(value), literal)
        if getattr(editor, "_dp_loaded", None) == state:
            return  # the document value did not change: keep what the user is typing
        editor.set_value(value, literal)
        editor._dp_loaded = state

    def setModelData(self, editor, model, index):
        from dpgui_qt.gui.config.editors import INVALID

        src, sidx = source_of(index)
        new = editor.value()
        if new is INVALID:
            why = editor.problem() if hasattr(editor, "problem") else None
            if hasattr(editor, "show_problem"):
                editor.show_problem(why or "not a valid value")
            self.invalidValue.emit(f"{kp.format(sidx.data(PathRole) or ())}: "
                                   f"{why or 'not a valid value'} — nothing was written")
            return
        current = sidx.data(ValueRole)
        is_set = sidx.data(IsSetRole)
        if new is None and not is_set:
            return
        if new is not None and is_set and same_value(new, current):
            return
        src.merge_token = getattr(editor, "_dp_token", None)
        try:
            src.setData(sidx, new, Qt.ItemDataRole.EditRole)
        finally:
            src.merge_token = None
        editor._dp_loaded = (repr(sidx.data(ValueRole)), sidx.data(LiteralRole))

    def eventFilter(self, editor, event) -> bool:
        """Enter, Tab and leaving the editor normally write the value and close it; with
        a value that cannot be written (out of range, not a number) the editor stays
        open with the reason beside it.  Esc always cancels."""
        from PySide6.QtCore import QEvent

        from dpgui_qt.gui.config.editors import INVALID, ValueEditor
        et = event.type()
        if isinstance(editor, ValueEditor) and (
                et == QEvent.Type.FocusOut or (et == QEvent.Type.KeyPress and event.key() in (
                    Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab, Qt.Key.Key_Backtab))):
            try:
                invalid = editor.value() is INVALID
            except Exception:  # noqa: BLE001 - an editor bug must not block closing
                invalid = False
            if invalid:
                editor.show_problem(editor.problem() or "not a valid value")
                return True
        return super().eventFilter(editor, event)

    def updateEditorGeometry(self, editor, option, index):
        editor.setGeometry(option.rect)

    def sizeHint(self, option, index) -> QSize:
        s = super().sizeHint(option, index)
        return QSize(s.width(), max(s.height(), 26))


# ------------------------------------------------------------------ view
class PropertyTreeView(QTreeView):
    resetRequested = Signal(QModelIndex)
    addItemRequested = Signal(QModelIndex)
    removeItemRequested = Signal(QModelIndex)
    addKeyRequested = Signal(QModelIndex)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAlternatingRowColors(True)
        self.setUniformRowHeights(True)
        self.setAnimated(False)
        self.setAllColumnsShowFocus(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.SelectedClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.customContextMenuRequested.connect(self._menu)
        self.clicked.connect(self._clicked)
        self.setItemDelegate(PropertyDelegate(self))
        self.setHeaderHidden(False)
        self.setIndentation(16)

    def setModel(self, model) -> None:
        super().setModel(model)
        h = self.header()
        h.setStretchLastSection(True)
        h.setSectionResizeMode(COL_KEY, QHeaderView.ResizeMode.Interactive)
        h.setSectionResizeMode(COL_VALUE, QHeaderView.ResizeMode.Interactive)
        self.setColumnWidth(COL_KEY, 250)
        self.setColumnWidth(COL_VALUE, 330)

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == COL_VALUE and index.flags() & Qt.ItemFlag.ItemIsEditable \
                and not index.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            self.edit(index)

    def _value_index(self, index: QModelIndex) -> QModelIndex:
        """The editable value cell of ``index``'s row, or an invalid index."""
        if not index.isValid():
            return QModelIndex()
        v = index.siblingAtColumn(COL_VALUE)
        if v.flags() & Qt.ItemFlag.ItemIsEditable and not v.flags() & Qt.ItemFlag.ItemIsUserCheckable:
            return v
        return QModelIndex()

    def keyPressEvent(self, event) -> None:
        """Keyboard editing as in any Qt item view: F2 or Enter edits the selected row's
        value, typing starts the editor with what was typed; Delete resets."""
        editing = self.state() == QAbstractItemView.State.EditingState
        cur = self.currentIndex()
        if not editing and cur.isValid():
            key = event.key()
            if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace):
                self.resetRequested.emit(cur)
                return
            target = self._value_index(cur)
            if target.isValid() and (key in (Qt.Key.Key_F2, Qt.Key.Key_Return, Qt.Key.Key_Enter)):
                self.setCurrentIndex(target)
                self.edit(target)
                return
            text = event.text()
            mods = event.modifiers() & (Qt.KeyboardModifier.ControlModifier
                                        | Qt.KeyboardModifier.AltModifier
                                        | Qt.KeyboardModifier.MetaModifier)
            if target.isValid() and text and text.isprintable() and not mods:
                self.setCurrentIndex(target)
                if self.edit(target, QAbstractItemView.EditTrigger.AllEditTriggers, event):
                    w = QApplication.focusWidget()
                    from PySide6.QtWidgets import QAbstractSpinBox, QComboBox, QLineEdit
                    if isinstance(w, QComboBox) and w.isEditable():
                        w = w.lineEdit()
                    if isinstance(w, (QLineEdit, QAbstractSpinBox)):
                        w.selectAll()               # what is typed replaces the value
                        QApplication.sendEvent(w, event)
                    return
        super().keyPressEvent(event)

    def closeEditor(self, editor, hint) -> None:  # noqa: N802 - Qt name
        """Tab / Shift+Tab from an editor go to the next / previous editable value."""
        D = QAbstractItemDelegate.EndEditHint
        if hint in (D.EditNextItem, D.EditPreviousItem):
            cur = self.currentIndex()
            super().closeEditor(editor, D.NoHint)
            step = self.indexBelow if hint == D.EditNextItem else self.indexAbove
            idx = step(cur.siblingAtColumn(COL_KEY))
            while idx.isValid():
                v = self._value_index(idx)
                if v.isValid():
                    self.setCurrentIndex(v)
                    self.edit(v)
                    return
                idx = step(idx)
            return
        super().closeEditor(editor, hint)

    def _menu(self, pos) -> None:
        index = self.indexAt(pos)
        if not index.isValid():
            return
        key_index = index.siblingAtColumn(COL_KEY)
        kind = key_index.data(KindRole)
        menu = QMenu(self)
        path = key_index.data(PathRole)
        if kind == KEY:
            edit = menu.addAction("Edit value")
            edit.triggered.connect(lambda: self.edit(index.siblingAtColumn(COL_VALUE)))
            reset = menu.addAction(icons.themed("reset"), "Reset to default")
            reset.setEnabled(bool(key_index.data(IsSetRole)))
            reset.triggered.connect(lambda: self.resetRequested.emit(key_index))
        if kind == TABLES:
            add = menu.addAction(icons.themed("add"), "Add item")
            add.triggered.connect(lambda: self.addItemRequested.emit(key_index))
        if kind == ITEM:
            rm = menu.addAction(icons.themed("remove"), "Remove this item")
            rm.triggered.connect(lambda: self.removeItemRequested.emit(key_index))
        if kind in (TABLE, ITEM, GROUP):
            addk = menu.addAction("Add key…")
            addk.triggered.connect(lambda: self.addKeyRequested.emit(key_index))
        if path:
            menu.addSeparator()
            cp = menu.addAction("Copy key path")
            cp.triggered.connect(lambda: QGuiApplication.clipboard().setText(kp.format(path)))
            lit = key_index.siblingAtColumn(COL_VALUE).data(LiteralRole)
            if lit:
                cv = menu.addAction("Copy value as TOML")
                cv.triggered.connect(lambda: QGuiApplication.clipboard().setText(lit))
        if not menu.isEmpty():
            menu.exec(self.viewport().mapToGlobal(pos))


# --------------------------------------------------------------- details
class DetailsPanel(QTextBrowser):
    """Everything about the selected key: description, defaults, allowed values,
    source line, problems."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.show_placeholder()

    def show_placeholder(self) -> None:
        self.setHtml("<p style='color:gray'>Select a key to see what it does, its default, "
                     "the values diffusion-pipe accepts and where it is read.</p>")

    def show_node(self, model: PropertyTreeModel, index: QModelIndex) -> None:
        node = model.node(index)
        if node is None:
            self.show_placeholder()
            return
        body = model.tooltip(node)
        value = ""
        if node.kind == KEY:
            if model.is_set(node):
                value = (f"<p><b>Value:</b> <code>{html.escape(model.literal(node) or '')}</code>"
                         f"</p>")
                if (node.schema or {}).get("x-dpgui-secret"):
                    value = "<p><b>Value:</b> <i>hidden</i></p>"
            else:
                value = f"<p><b>Not set</b> — shows <i>{html.escape(model._value_text(node))}</i></p>"
        self.setHtml(value + body.replace("<qt>", "").replace("</qt>", ""))


# --------------------------------------------------------------- banner
class InfoBar(QFrame):
    """A slim message strip with actions (file changed on disk, ...)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("InfoBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setStyleSheet("#InfoBar { background: rgba(224,161,0,0.18); "
                           "border: 1px solid rgba(224,161,0,0.6); border-radius: 4px; }")
        lay = self.row = QHBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        self.icon = QLabel(self)
        self.icon.setPixmap(icons.warning_icon().pixmap(16, 16))
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        lay.addWidget(self.icon)
        lay.addWidget(self.label, 1)
        self._buttons: list[QPushButton] = []
        self.hide()

    def show_message(self, text: str, actions: list[tuple[str, Any]]) -> None:
        for b in self._buttons:
            b.deleteLater()
        self._buttons = []
        self.label.setText(text)
        for label, fn in actions:
            b = QPushButton(label, self)
            b.clicked.connect(fn)
            b.clicked.connect(self.hide)
            self.row.addWidget(b)
            self._buttons.append(b)
        self.show()

    def button(self, label: str) -> QPushButton | None:
        return next((b for b in self._buttons if b.text() == label), None)


# ------------------------------------------------------------------ page
class ConfigEditorPage(QWidget):
    """Config editor: filter bar, property tree, and a side panel with details,
    the TOML as it will be saved and its diff against the file on disk."""

    statusMessage = Signal(str)

    def __init__(self, session, parent=None):
        super().__init__(parent)
        from dpgui_qt.gui import messages

        self.session = session
        bind(session.changed, self, lambda c: self._type_switched(c))
        self.model = PropertyTreeModel(session, self)
        self.model.confirm_full_finetune = lambda keys: messages.ask(
            self, "Full fine-tune",
            "Train the whole model instead of an adapter?",
            "This removes the [adapter] table" + (f" ({', '.join(keys)})" if keys else "")
            + ". Edit ▸ Undo brings it back.", ("yes", "cancel"), "yes") == "yes"
        self.proxy = PropertyFilterProxy(self)
        self.proxy.setSourceModel(self.model)

        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter keys and descriptions  (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self._filter_changed)
        self.advanced = QCheckBox("Show advanced", self)
        self.advanced.setToolTip("Also list rarely needed keys (keys set in the file are always shown)")
        self.advanced.toggled.connect(self.set_show_advanced)
        self.expand_btn = QToolButton(self)
        self.expand_btn.setText("Expand all")
        self.expand_btn.setAutoRaise(True)
        self.expand_btn.clicked.connect(lambda: self.tree.expandAll())
        self.collapse_btn = QToolButton(self)
        self.collapse_btn.setText("Collapse all")
        self.collapse_btn.setAutoRaise(True)
        self.collapse_btn.clicked.connect(lambda: self.tree.collapseAll())
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.advanced)
        bar.addWidget(self.expand_btn)
        bar.addWidget(self.collapse_btn)

        self.banner = InfoBar(self)
        self.tree = PropertyTreeView(self)
        self.tree.setModel(self.proxy)
        self.tree.itemDelegate().invalidValue.connect(self.statusMessage)
        self.tree.resetRequested.connect(self.reset_index)
        self.tree.addItemRequested.connect(self.add_item)
        self.tree.removeItemRequested.connect(self.reset_index)
        self.tree.addKeyRequested.connect(self.add_key)
        self.tree.selectionModel().currentChanged.connect(self._current_changed)
        self.proxy.rowsInserted.connect(self._expand_new)
        self.proxy.modelReset.connect(self.expand_default)
        self.model.rowsInserted.connect(self._refresh_details)
        self.model.dataChanged.connect(self._refresh_details)

        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(4)
        ll.addLayout(bar)
        ll.addWidget(self.banner)
        ll.addWidget(self.tree, 1)

        self.side = QTabWidget(self)
        self.side.setDocumentMode(True)
        self.details = DetailsPanel(self.side)
        self.side.addTab(self.details, "Details")
        # the TOML preview and diff are built the first time their tab is shown
        self._preview = self._diff = None
        self.side.addTab(QWidget(self.side), "TOML")
        self.side.addTab(QWidget(self.side), "Changes")
        self.side.setTabToolTip(1, "The file exactly as Save writes it")
        self.side.setTabToolTip(2, "Your unsaved edits against the file on disk")
        self.side.currentChanged.connect(self._side_changed)

        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.side)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([820, 520])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 0)
        lay.addWidget(self.splitter)

        self.reset_action = QAction(icons.themed("reset"), "Reset to Default", self)
        self.reset_action.setShortcut(QKeySequence("Ctrl+Shift+Backspace"))
        self.reset_action.setStatusTip("Remove the selected key from the file so diffusion-pipe's "
                                       "default applies")
        self.reset_action.triggered.connect(lambda: self.reset_index(self.tree.currentIndex()))
        self.addAction(self.reset_action)
        bind(session.changed, self, lambda _c: self._refresh_side())
        session.documentReplaced.connect(self._refresh_side)
        QTimer.singleShot(0, self, self.expand_default)

    # ------------------------------------------------------------ side tabs
    @property
    def preview(self):
        """The TOML preview (created on first use)."""
        if self._preview is None:
            from dpgui_qt.gui.config.toml_view import TomlPreview

            self._preview = TomlPreview(self.session, self.side)
            self._swap_tab(1, self._preview, "TOML")
        return self._preview

    @property
    def diff(self):
        """The diff against the file on disk (created on first use)."""
        if self._diff is None:
            from dpgui_qt.gui.config.toml_view import TomlDiffView

            self._diff = TomlDiffView(self.session, self.side)
            self._swap_tab(2, self._diff, "Changes")
        return self._diff

    def _swap_tab(self, i: int, widget: QWidget, title: str) -> None:
        current = self.side.currentIndex()
        blocker = self.side.blockSignals(True)
        old = self.side.widget(i)
        tip = self.side.tabToolTip(i)
        self.side.removeTab(i)
        self.side.insertTab(i, widget, title)
        self.side.setTabToolTip(i, tip)
        self.side.setCurrentIndex(current)
        self.side.blockSignals(blocker)
        old.deleteLater()

    def _side_changed(self, i: int) -> None:
        if i == 1:
            self.preview  # noqa: B018 - create it
        elif i == 2:
            self.diff  # noqa: B018 - create it
        self._refresh_side()

    # ------------------------------------------------------------ helpers
    def set_show_advanced(self, on: bool) -> None:
        if self.advanced.isChecked() != on:
            self.advanced.setChecked(on)
            return
        self.proxy.set_show_advanced(on)
        self.expand_default()

    def _filter_changed(self, text: str) -> None:
        self.proxy.set_filter_text(text)
        if text:
            self.tree.expandAll()
        else:
            self.expand_default()

    def expand_default(self) -> None:
        """Groups open, arrays of tables and their items open, raw tables closed."""
        def rec(parent: QModelIndex):
            for r in range(self.proxy.rowCount(parent)):
                idx = self.proxy.index(r, 0, parent)
                if idx.data(KindRole) in (GROUP, TABLES, ITEM):
                    self.tree.expand(idx)
                    rec(idx)
        rec(QModelIndex())

    def _expand_new(self, parent: QModelIndex, first: int, last: int) -> None:
        for r in range(first, last + 1):
            idx = self.proxy.index(r, 0, parent)
            if idx.data(KindRole) in (GROUP, TABLES, ITEM):
                self.tree.expand(idx)

    def _type_switched(self, change) -> None:
        """After model.type / adapter.type / optimizer.type changes: offer one undoable
        action that removes the keys the new type does not read (listed first)."""
        path = getattr(change, "path", None)
        if getattr(change, "kind", "") != "set" or not path or len(path) != 2 \
                or path[1] != "type" or path[0] not in ("model", "adapter", "optimizer"):
            return
        slot = path[0]
        keys = stale_keys(self.session.registry, self.session.doc.values(), slot)
        if not keys:
            if self.banner.isVisible() and self.banner.property("cleanup") == slot:
                self.banner.hide()
            return
        t = self.session.doc.get((slot, "type"))
        shown = ", ".join(keys[:8]) + (f" and {len(keys) - 8} more" if len(keys) > 8 else "")
        self.banner.setProperty("cleanup", slot)
        self.banner.show_message(
            f"{t} does not read {len(keys)} key{'s' if len(keys) != 1 else ''} in "
            f"[{slot}]: <b>{html.escape(shown)}</b>. They are kept and marked; remove them "
            "in one step (undoable)?",
            [(f"Remove {len(keys)} Key{'s' if len(keys) != 1 else ''}",
              lambda: self.remove_stale(slot)), ("Keep Them", lambda: None)])

    def remove_stale(self, slot: str) -> bool:
        """Remove every key of ``[slot]`` its type does not read, as one undo step."""
        from dpgui_qt.core.config.document import Change
        keys = stale_keys(self.session.registry, self.session.doc.values(), slot)
        if not keys:
            return False
        t = self.session.doc.get((slot, "type"))

        def fn(doc):
            before = doc.text
            for k in keys:
                doc.delete((slot, k))
            return Change("delete", (slot,), before, doc.text)

        return self.session.edit(f"Remove {len(keys)} keys {t} does not read", fn, (slot,))

    def select_path(self, path) -> bool:
        """Select the row for ``path`` (or its nearest ancestor), making it visible."""
        sidx = self.model.index_for_path(path)
        if not sidx.isValid():
            return False
        pidx = self.proxy.mapFromSource(sidx)
        if not pidx.isValid() and self.filter.text():
            self.filter.clear()
            pidx = self.proxy.mapFromSource(sidx)
        if not pidx.isValid() and not self.proxy.show_advanced:
            self.set_show_advanced(True)
            pidx = self.proxy.mapFromSource(sidx)
        if not pidx.isValid():
            return False
        p = pidx.parent()
        while p.isValid():
            self.tree.expand(p)
            p = p.parent()
        self.tree.setCurrentIndex(pidx)
        self.tree.selectionModel().select(
            pidx, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.tree.scrollTo(pidx, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.tree.setFocus()
        return True

    def current_source_index(self) -> QModelIndex:
        idx = self.tree.currentIndex()
        return self.proxy.mapToSource(idx.siblingAtColumn(COL_KEY)) if idx.isValid() else QModelIndex()

    def _to_source(self, index: QModelIndex) -> QModelIndex:
        """``index`` in the model's terms (it may come from the proxy or from the model)."""
        from_proxy = index.model() is self.proxy
        return self.proxy.mapToSource(index) if from_proxy else index

    def reset_index(self, index: QModelIndex) -> None:
        if not index.isValid():
            return
        sidx = self._to_source(index.siblingAtColumn(COL_KEY))
        node = self.model.node(sidx)
        if node is None or node.path is None:
            return
        if node.kind in (KEY, ITEM, TABLE, TABLES):
            self.model.reset(sidx)

    def add_item(self, index: QModelIndex) -> None:
        sidx = self._to_source(index)
        node = self.model.node(sidx)
        if node is None or node.kind != TABLES:
            return
        value = self.model.value(node)
        n = len(value) if isinstance(value, list) else 0
        item_schema = ((node.schema or {}).get("items") or {}) if node.schema else {}
        from dpgui_qt.core.config.schema import deref

        item_schema = deref(self.model.schema, item_schema) or {}
        new: dict = {}
        for key in item_schema.get("required", []):
            sub = deref(self.model.schema, (item_schema.get("properties") or {}).get(key)) or {}
            if "enum" in sub:
                new[key] = sub["enum"][0]
            elif sub.get("type") == "string" or "anyOf" in sub:
                new[key] = ""
            elif sub.get("type") in ("integer", "number"):
                new[key] = sub.get("default", 1)
        if not new and n and isinstance(value[-1], dict):
            new = {k: v for k, v in value[-1].items() if isinstance(v, (str, int, float, bool))}
        if node.path == ("eval_datasets",) and not new:
            new = {"name": "eval", "config": ""}
        if self.session.insert_item(node.path, n, new or {"name": ""}):
            self.statusMessage.emit(f"Added {kp.format(node.path + (n,))}")

    def add_key(self, index: QModelIndex) -> None:
        sidx = self._to_source(index)
        node = self.model.node(sidx)
        if node is None:
            return
        base = node.path or ()
        if node.kind == GROUP:
            base = (node.name,) if node.name in ("model", "adapter", "optimizer", "monitoring") else ()
        text, ok = QInputDialog.getText(
            self, "Add key", f"Add to {('[' + kp.format(base) + ']') if base else 'the top level'}"
            " as  key = TOML value  (e.g.  my_key = 1e-4):")
        if not ok or "=" not in text:
            return
        key, _, raw = text.partition("=")
        from dpgui_qt.core.config.document import RawValue

        try:
            path = base + kp.parse(key.strip())
        except kp.KeyPathError as exc:
            self.statusMessage.emit(str(exc))
            return
        if self.session.set_value(path, RawValue(raw.strip())):
            self.select_path(path)

    def _current_changed(self, current: QModelIndex, _prev: QModelIndex) -> None:
        self._refresh_details()

    def _refresh_details(self, *args) -> None:
        sidx = self.current_source_index()
        if self.side.currentWidget() is self.details:
            if sidx.isValid():
                self.details.show_node(self.model, sidx)
            else:
                self.details.show_placeholder()

    def _refresh_side(self) -> None:
        w = self.side.currentWidget()
        if w is self.details:
            self._refresh_details()
        elif hasattr(w, "refresh"):
            w.refresh()
