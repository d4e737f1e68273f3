"""DatasetEditor: everything about one dataset TOML.

Left: the ``[[directory]]`` list (counts from the scan, drag and drop) above the
dataset's top-level settings. Right, for the selected directory: the media browser,
its own settings (inherited values marked), the scan's problems with file names, the
bucket preview; and the epoch estimate for the whole dataset.
"""
from __future__ import annotations

import html
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFileDialog, QFrame, QHBoxLayout,
                               QHeaderView, QLabel, QProgressBar, QPushButton, QSplitter,
                               QTableView, QTabWidget, QTextBrowser, QToolButton,
                               QVBoxLayout, QWidget)

from dpgui_qt.gui import icons
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.dataset.buckets_view import BucketPanel, describe_config
from dpgui_qt.gui.dataset.directory_model import (COL_PATH, COL_PROBLEMS, DirectoryTableModel)
from dpgui_qt.gui.dataset.estimate_view import EstimatePanel
from dpgui_qt.gui.dataset.media_view import MediaBrowser
from dpgui_qt.gui.dataset.properties import DatasetSettingsProxy, DirectoryPropertyModel
from dpgui_qt.gui.dataset.scans import ScanManager
from dpgui_qt.gui.config.page import PropertyFilterProxy, PropertyTreeView
from dpgui_qt.core.config.tree import GROUP
from dpgui_qt.gui.config.property_model import COL_KEY, KindRole, PropertyTreeModel

if TYPE_CHECKING:
    from dpgui_qt.core.dataset.scan import DirectoryScan

TAB_MEDIA, TAB_FOLDER, TAB_PROBLEMS, TAB_BUCKETS, TAB_ESTIMATE = range(5)
_SEV_ORDER = {"error": 0, "warning": 1, "info": 2}


class DirectoryTable(QTableView):
    """The [[directory]] list; accepts folders dropped from a file manager."""

    removeRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragDropOverwriteMode(False)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setDefaultSectionSize(26)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)

    def setModel(self, model) -> None:
        super().setModel(model)
        h = self.horizontalHeader()
        h.setSectionResizeMode(COL_PATH, QHeaderView.ResizeMode.Stretch)
        for c in range(1, model.columnCount()):
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        h.setHighlightSections(False)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and \
                self.state() != QAbstractItemView.State.EditingState:
            self.removeRequested.emit()
            return
        super().keyPressEvent(event)

    def dragEnterEvent(self, event) -> None:
        m = self.model()
        if m is not None and m.canDropMimeData(event.mimeData(), event.dropAction(), -1, -1,
                                               QModelIndex()):
            super().dragEnterEvent(event)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        super().dragMoveEvent(event)
        model = self.model()
        if isinstance(model, DirectoryTableModel) and model.folders_in(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.model() is not None and self.model().rowCount() == 0:
            p = QPainter(self.viewport())
            p.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            p.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter,
                       "No folders yet.\nDrop image folders here or click Add.")


class ProblemsList(QTextBrowser):
    """Scan problems of one directory, with the file names (links that show the file in
    the media browser), and the config findings for its [[directory]] table."""

    fileActivated = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setOpenLinks(False)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.anchorClicked.connect(self._clicked)
        self.items: list[tuple[str, str, list, int]] = []

    def show_problems(self, scan, findings: list, state: str, extra: Sequence[Any] = ()) -> None:
        """``extra``: problems from the bucket pass (videos too short, empty frame
        buckets, ...) shown with the scan's own."""
        rows: list[tuple[str, str, list[str], int, str]] = [(f.severity, f"<code>{html.escape(f.key)}</code>: {html.escape(f.message)}",
                 [], 0, "dataset config") for f in findings]
        if scan is not None:
            rows += [(p.severity, html.escape(p.message), p.files, p.count, p.source)
                     for p in list(scan.problems) + list(extra)]
        rows.sort(key=lambda r: _SEV_ORDER.get(r[0], 3))
        self.items = [(r[0], r[1], r[2], r[3]) for r in rows]
        if not rows:
            text = {"scanning": "Scanning…", "pending": "Waiting to scan…",
                    "cancelled": "The scan was cancelled: click Rescan."}.get(
                state, "No problems found in this folder." if scan is not None else
                "Select a folder.")
            self._set_html(f"<p style='color:gray'>{text}</p>")
            return
        color = {"error": "#d64545", "warning": "#b88600", "info": "#3d7fd6"}
        out = []
        self._files: list[str] = []
        for sev, msg, files, count, source in rows:
            head = (f"<p style='margin-bottom:2px'><b style='color:{color.get(sev, 'gray')}'>"
                    f"{sev.upper()}</b>&nbsp; {msg}")
            if source:
                head += f" <span style='color:gray'>({html.escape(source)})</span>"
            out.append(head + "</p>")
            if files:
                links = []
                for n in files:
                    links.append(f"<a href='gfile:{len(self._files)}'>{html.escape(n)}</a>")
                    self._files.append(n)
                more = f" … and {count - len(files):,} more" if count > len(files) else ""
                out.append(f"<p style='margin-top:0; margin-left:18px'>{', '.join(links)}"
                           f"{more}</p>")
        self._set_html("".join(out))

    def _set_html(self, text: str) -> None:
        # the panel is refreshed after every scan event and bucket pass; re-laying out
        # the same rich text costs milliseconds each time
        if text != getattr(self, "_html", None):
            self._html = text
            self.setHtml(text)

    def _clicked(self, url) -> None:
        s = url.toString()
        if s.startswith("gfile:"):
            try:
                name = self._files[int(s[6:])]
            except (ValueError, IndexError):
                return
            self.fileActivated.emit(name)


def _boxed(title: str, widget: QWidget, extra: QWidget | None = None, parent=None) -> QWidget:
    w = QWidget(parent)
    lay = QVBoxLayout(w)
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(3)
    head = QHBoxLayout()
    head.setContentsMargins(2, 0, 0, 0)
    lab = QLabel(f"<b>{title}</b>", w)
    head.addWidget(lab)
    head.addStretch(1)
    if extra is not None:
        head.addWidget(extra)
    lay.addLayout(head)
    lay.addWidget(widget, 1)
    return w


class DatasetEditor(QWidget):
    statusMessage = Signal(str)

    def __init__(self, session, context: Callable[[], tuple | None] | None = None,
                 base_dirs: Callable[[], list] | None = None, parent=None, role: str = ""):
        super().__init__(parent)
        self.session = session
        self.context = context or (lambda: None)
        self.role = role
        self._base_dirs = base_dirs or (lambda: [])
        self.current_row = -1
        self._shown_scan: DirectoryScan | None = None
        self.buckets_by_row: dict = {}  # row -> DirectoryBuckets of the last bucket pass
        self.scans = ScanManager(session, self.base_dirs, self.model_type, self)

        head = self._build_header()
        dirs_box = self._build_directories()
        settings_box = self._build_settings()
        left = QSplitter(Qt.Orientation.Vertical, self)
        left.addWidget(dirs_box)
        left.addWidget(settings_box)
        left.setStretchFactor(0, 2)
        left.setStretchFactor(1, 3)
        left.setSizes([300, 420])
        self.left_splitter = left
        self._build_tabs()
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.tabs)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setSizes([560, 800])
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 0)
        lay.setSpacing(4)
        lay.addWidget(head)
        lay.addWidget(self.splitter, 1)
        self._wire()

    # ---------------------------------------------------------------- parts
    def _build_header(self) -> QFrame:
        """The file name, the scan status and progress, Cancel and Rescan."""
        self.file_label = QLabel(self)
        self.file_label.setTextFormat(Qt.TextFormat.RichText)
        self.file_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.scan_status = QLabel(self)
        self.scan_status.setStyleSheet("color: gray")
        self.progress = QProgressBar(self)
        self.progress.setFixedWidth(160)
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(14)
        self.progress.hide()
        self.rescan_btn = QPushButton("Rescan", self)
        self.rescan_btn.setToolTip("Scan every folder again (files, captions, sizes, problems)")
        self.rescan_btn.clicked.connect(lambda: self.scans.rescan())
        self.cancel_btn = QPushButton("Cancel", self)
        self.cancel_btn.setToolTip("Stop the running scan")
        self.cancel_btn.clicked.connect(self.scans.cancel)
        self.cancel_btn.hide()
        head = QFrame(self)
        head.setObjectName("DatasetHeader")
        head.setStyleSheet("#DatasetHeader { border-bottom: 1px solid palette(mid); }")
        hl = QHBoxLayout(head)
        hl.setContentsMargins(4, 2, 4, 4)
        icon = QLabel(head)
        icon.setPixmap(icons.themed("file").pixmap(18, 18))
        hl.addWidget(icon)
        hl.addWidget(self.file_label, 1)
        hl.addWidget(self.scan_status)
        hl.addWidget(self.progress)
        hl.addWidget(self.cancel_btn)
        hl.addWidget(self.rescan_btn)
        return head

    def _build_directories(self) -> QWidget:
        """The [[directory]] table with its tool buttons and shortcuts."""
        session = self.session
        self.dir_model = DirectoryTableModel(session, self.scans, self)
        self.dir_model.bucket_problems = self._video_problems
        self.table = DirectoryTable(self)
        self.table.setModel(self.dir_model)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.table.removeRequested.connect(self.remove_selected)
        self.dir_model.modelReset.connect(self._restore_selection)
        self.dir_model.dataChanged.connect(self._dir_data_changed)
        tb = QHBoxLayout()
        tb.setContentsMargins(0, 0, 0, 0)
        tb.setSpacing(2)
        self.btn_add = self._tool("add", "Add…", "Add a folder of images (or drop folders on the "
                                  "list)", self.add_dialog)
        self.btn_remove = self._tool("remove", "Remove", "Remove the selected folder from the "
                                     "dataset (Delete; undoable)", self.remove_selected)
        self.btn_dup = self._tool(None, "Duplicate", "Copy the selected [[directory]] table "
                                  "(Ctrl+D)", self.duplicate_selected)
        self.btn_up = self._tool(None, "▲", "Move up (Alt+Up)", lambda: self.move_selected(-1))
        self.btn_down = self._tool(None, "▼", "Move down (Alt+Down)", lambda: self.move_selected(1))
        for b in (self.btn_add, self.btn_remove, self.btn_dup, self.btn_up, self.btn_down):
            tb.addWidget(b)
        tb.addStretch(1)
        tools = QWidget(self)
        tools.setLayout(tb)
        for seq, fn in (("Ctrl+D", self.duplicate_selected), ("Alt+Up", lambda: self.move_selected(-1)),
                        ("Alt+Down", lambda: self.move_selected(1))):
            a = QAction(self.table)
            a.setShortcut(QKeySequence(seq))
            a.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            a.triggered.connect(fn)
            self.table.addAction(a)
        dirs_box = QWidget(self)
        dl = QVBoxLayout(dirs_box)
        dl.setContentsMargins(0, 0, 0, 0)
        dl.setSpacing(3)
        dh = QHBoxLayout()
        dh.addWidget(QLabel("<b>Folders</b>  <span style='color:gray'>[[directory]]</span>", self))
        dh.addStretch(1)
        dh.addWidget(tools)
        dl.addLayout(dh)
        dl.addWidget(self.table, 1)
        return dirs_box

    def _build_settings(self) -> QWidget:
        """The dataset-wide settings every folder inherits."""
        session = self.session
        self.settings_model = PropertyTreeModel(session, self)
        self.settings_proxy = DatasetSettingsProxy(self)
        self.settings_proxy.setSourceModel(self.settings_model)
        self.settings_view = PropertyTreeView(self)
        self.settings_view.setModel(self.settings_proxy)
        self.settings_view.setColumnWidth(0, 170)
        self.settings_view.setColumnWidth(1, 170)
        self._wire_tree(self.settings_view, self.settings_model, self.settings_proxy)
        self.settings_adv = QCheckBox("Show advanced", self)
        self.settings_adv.toggled.connect(
            lambda on: self._show_advanced(self.settings_proxy, self.settings_view, on))
        settings_box = _boxed("Dataset settings <span style='color:gray; font-weight:normal'>"
                              "(every folder inherits these)</span>", self.settings_view,
                              self.settings_adv, self)
        return settings_box

    def _build_tabs(self) -> None:
        """Media, Folder settings, Problems, Buckets, Estimate."""
        session = self.session
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.media = MediaBrowser(self)
        self.media.statusMessage.connect(self.statusMessage)
        self.media.model.undo_stack = session.undo_stack    # Edit ▸ Undo takes caption edits back
        self.media.model.captionWritten.connect(lambda p: self.scans._folder_changed(
            os.path.dirname(p)))
        folder_page = self._build_folder_page()
        self.problems = ProblemsList(self)
        self.problems.fileActivated.connect(self.show_file)
        self.buckets = BucketPanel(self)
        self.buckets.scope.currentIndexChanged.connect(lambda _i: self._schedule_derived())
        self.estimate = EstimatePanel(self)
        self.estimate.gpusChanged.connect(lambda _n: self._schedule_derived())
        self.tabs.addTab(self.media, "Media")
        self.tabs.addTab(folder_page, "Folder settings")
        self.tabs.addTab(self.problems, "Problems")
        self.tabs.addTab(self.buckets, "Buckets")
        self.tabs.addTab(self.estimate, "Estimate")

    def _build_folder_page(self) -> QWidget:
        """The selected folder's own settings, inherited values in blue italics."""
        session = self.session
        self.folder_model = DirectoryPropertyModel(session, self)
        self.folder_proxy = PropertyFilterProxy(self)
        self.folder_proxy.setSourceModel(self.folder_model)
        self.folder_view = PropertyTreeView(self)
        self.folder_view.setModel(self.folder_proxy)
        self.folder_view.setColumnWidth(0, 190)
        self.folder_view.setColumnWidth(1, 260)
        self._wire_tree(self.folder_view, self.folder_model, self.folder_proxy)
        self.folder_adv = QCheckBox("Show advanced", self)
        self.folder_adv.toggled.connect(
            lambda on: self._show_advanced(self.folder_proxy, self.folder_view, on))
        self.folder_hint = QLabel(
            "<span style='color:#2f7fb8'><i>Blue italic</i></span> values are inherited from "
            "the dataset settings; set one to override it for this folder, Reset (Delete) to "
            "inherit again.", self)
        self.folder_hint.setWordWrap(True)
        folder_page = QWidget(self)
        fl = QVBoxLayout(folder_page)
        fl.setContentsMargins(0, 4, 0, 0)
        fh = QHBoxLayout()
        fh.addWidget(self.folder_hint, 1)
        fh.addWidget(self.folder_adv)
        fl.addLayout(fh)
        fl.addWidget(self.folder_view, 1)
        return folder_page

    def _wire(self) -> None:
        """Scan reports, document changes, and the work for the first show."""
        self._derived_timer = QTimer(self)
        self._derived_timer.setSingleShot(True)
        self._derived_timer.setInterval(80)
        self._derived_timer.timeout.connect(self.refresh_derived)
        self.scans.started.connect(self._scan_started)
        self.scans.progress.connect(self._scan_progress)
        self.scans.finished.connect(self._scan_finished)
        self.scans.failed.connect(lambda m: self.statusMessage.emit(f"Scan failed: {m}"))
        self.scans.resultsChanged.connect(self._results_changed)
        bind(self.session.changed, self, lambda _c: self._doc_changed())
        self.session.documentReplaced.connect(self._doc_changed)
        bind(self.session.pathChanged, self, lambda _p: self.update_header())
        bind(self.session.modifiedChanged, self, lambda _m: self.update_header())
        bind(self.session.findingsChanged, self, lambda _f: self._refresh_problems())
        self.update_header()
        self._update_buttons()
        QTimer.singleShot(0, self, self._first_show)

    # ---------------------------------------------------------------- helpers
    def _tool(self, icon, text, tip, fn) -> QToolButton:
        b = QToolButton(self)
        if icon:
            b.setIcon(icons.themed(icon))
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        b.setText(text)
        b.setToolTip(tip)
        b.setAutoRaise(True)
        b.clicked.connect(fn)
        return b

    def _wire_tree(self, view, model, proxy) -> None:
        def reset(index):
            if index.isValid():
                model.reset(proxy.mapToSource(index.siblingAtColumn(COL_KEY)))
        view.resetRequested.connect(reset)
        view.removeItemRequested.connect(reset)
        proxy.modelReset.connect(lambda: self._expand(view))
        proxy.rowsInserted.connect(lambda *_a: self._expand(view))

    @classmethod
    def _show_advanced(cls, proxy: PropertyFilterProxy, view: PropertyTreeView, on: bool) -> None:
        proxy.set_show_advanced(on)
        cls._expand(view)

    @staticmethod
    def _expand(view) -> None:
        m = view.model()
        for r in range(m.rowCount()):
            idx = m.index(r, 0)
            if idx.data(KindRole) == GROUP:
                view.expand(idx)

    def _first_show(self) -> None:
        self._expand(self.settings_view)
        if self.dir_model.rowCount() and self.current_row < 0:
            self.select_row(0)
        self.scans.schedule()

    def base_dirs(self) -> list[str]:
        """Where relative folder paths are read from: diffusion-pipe's working directory
        (its checkout) when known -- only there, as the trainer will -- else next to
        the dataset file."""
        known = [str(p) for p in self._base_dirs()]
        if known:
            return known
        if self.session.doc.path is not None:
            return [str(self.session.doc.path.parent)]
        return [os.getcwd()]

    def model_type(self) -> str | None:
        ctx = self.context()
        return ctx[0] if ctx else None

    def main_values(self) -> dict | None:
        ctx = self.context()
        return ctx[1] if ctx else None

    def update_header(self) -> None:
        p = self.session.doc.path
        mark = " <span style='color:#d64545'>●</span> <span style='color:gray'>modified</span>" \
            if self.session.modified else ""
        role = f"<span style='color:gray'>{html.escape(self.role)}:</span> " if self.role else ""
        if p is None:
            self.file_label.setText(f"{role}<b>Untitled dataset</b>{mark}")
        else:
            self.file_label.setText(f"{role}<b>{html.escape(p.name)}</b> "
                                    f"<span style='color:gray'>{html.escape(str(p.parent))}"
                                    f"</span>{mark}")
        self.file_label.setToolTip(str(p) if p else "")

    # --------------------------------------------------------------- selection
    def select_row(self, row: int) -> None:
        n = self.dir_model.rowCount()
        if not n:
            self._row_changed(QModelIndex(), QModelIndex())
            return
        row = max(0, min(row, n - 1))
        idx = self.dir_model.index(row, COL_PATH)
        self.table.selectionModel().setCurrentIndex(
            idx, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)

    def _restore_selection(self) -> None:
        want = self.current_row
        self.current_row = -2  # force a refresh
        self.select_row(max(0, want))

    def _row_changed(self, current: QModelIndex, _prev=None) -> None:
        row = current.row() if current.isValid() else -1
        self.current_row = row
        self.folder_model.set_directory(row)
        self._expand(self.folder_view)
        self._show_selected_scan(force=True)
        self._update_buttons()
        self._schedule_derived()

    def _dir_data_changed(self, *_a) -> None:
        self._show_selected_scan()

    def _show_selected_scan(self, force: bool = False) -> None:
        scan = self.scans.result(self.current_row) if self.current_row >= 0 else None
        if force or scan is not self._shown_scan:
            self._shown_scan = scan
            self.media.set_scan(scan)
        self._refresh_problems()

    def _refresh_problems(self) -> None:
        row = self.current_row
        scan = self.scans.result(row) if row >= 0 else None
        findings = self.dir_model.findings_for(row) if row >= 0 else []
        extra = self._video_problems(row) if row >= 0 else []
        self.problems.show_problems(scan, findings, self.scans.state(row) if row >= 0 else "none",
                                    extra)
        n_err = sum(1 for f in findings if f.is_error) + (len(scan.errors) if scan else 0) \
            + sum(1 for p in extra if p.severity == "error")
        n_all = len(findings) + (sum(1 for p in scan.problems if p.severity != "info") if scan else 0) \
            + sum(1 for p in extra if p.severity != "info")
        self.tabs.setTabText(TAB_PROBLEMS, f"Problems ({n_all})" if n_all else "Problems")
        self.tabs.setTabIcon(TAB_PROBLEMS, icons.error_icon() if n_err else
                             (icons.warning_icon() if n_all else icons.ok_icon() if scan else
                              icons.info_icon()))

    def _update_buttons(self) -> None:
        n = self.dir_model.rowCount()
        r = self.current_row
        ok = 0 <= r < n
        self.btn_remove.setEnabled(ok)
        self.btn_dup.setEnabled(ok)
        self.btn_up.setEnabled(ok and r > 0)
        self.btn_down.setEnabled(ok and r < n - 1)

    def show_file(self, name: str) -> None:
        self.tabs.setCurrentIndex(TAB_MEDIA)
        self.media.select_name(name)

    def select_path(self, path: tuple) -> bool:
        """Show a key path: a directory's row and key, or a top-level setting."""
        if len(path) >= 2 and path[0] == "directory" and isinstance(path[1], int):
            self.select_row(path[1])
            self.tabs.setCurrentIndex(TAB_FOLDER if len(path) > 2 else TAB_PROBLEMS)
            if len(path) > 2:
                sidx = self.folder_model.index_for_path(path)
                pidx = self.folder_proxy.mapFromSource(sidx)
                if not pidx.isValid():
                    self.folder_adv.setChecked(True)
                    pidx = self.folder_proxy.mapFromSource(sidx)
                if pidx.isValid():
                    self.folder_view.setCurrentIndex(pidx)
                    self.folder_view.scrollTo(pidx)
            return True
        if path:
            sidx = self.settings_model.index_for_path(path)
            pidx = self.settings_proxy.mapFromSource(sidx)
            if not pidx.isValid():
                self.settings_adv.setChecked(True)
                pidx = self.settings_proxy.mapFromSource(sidx)
            if pidx.isValid():
                self.settings_view.setCurrentIndex(pidx)
                self.settings_view.scrollTo(pidx)
                self.settings_view.setFocus()
                return True
        return False

    # ------------------------------------------------------------- operations
    def add_dialog(self) -> None:
        start = ""
        e = self.dir_model.entry(self.current_row) if self.current_row >= 0 else {}
        if isinstance(e.get("path"), str):
            start = str(Path(os.path.expanduser(e["path"])).parent)
        elif self.session.doc.path is not None:
            start = str(self.session.doc.path.parent)
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of images or videos", start)
        if folder:
            self.add_folders([folder])

    def add_folders(self, folders: list[str], row: int | None = None) -> bool:
        at = self.dir_model.rowCount() if row is None else row
        if self.dir_model.add_directories(folders, at):
            self.select_row(at + len(folders) - 1)
            self.statusMessage.emit(f"Added {len(folders)} folder{'s' if len(folders) != 1 else ''}"
                                    " — scanning")
            return True
        return False

    def remove_selected(self) -> None:
        r = self.current_row
        if r < 0:
            return
        name = self.dir_model.entry(r).get("path", f"#{r + 1}")
        if self.dir_model.remove_rows([r]):
            self.select_row(min(r, self.dir_model.rowCount() - 1))
            self.statusMessage.emit(f"Removed {name} from the dataset (Undo brings it back)")

    def duplicate_selected(self) -> None:
        r = self.current_row
        if r >= 0 and self.dir_model.duplicate_row(r):
            self.select_row(r + 1)

    def move_selected(self, delta: int) -> None:
        r = self.current_row
        if r >= 0 and self.dir_model.move_row(r, r + delta):
            self.select_row(r + delta)

    # --------------------------------------------------------------- scanning
    def _scan_started(self) -> None:
        self.progress.setRange(0, 0)
        self.progress.show()
        self.cancel_btn.show()
        self.scan_status.setText("Scanning…")

    def _scan_progress(self, done: int, total: int) -> None:
        if total > 0:
            # QProgressBar.setValue repaints synchronously (tens of ms for the window
            # around it): with updates off it only schedules a paint, like any widget
            bar = self.progress
            bar.setUpdatesEnabled(False)
            try:
                bar.setRange(0, total)
                bar.setValue(done)
            finally:
                bar.setUpdatesEnabled(True)
        self.scan_status.setText(f"Scanning… {done:,} files")

    def _scan_finished(self) -> None:
        if self.scans.running:
            return
        self.progress.hide()
        self.cancel_btn.hide()
        res = self.scans.dataset_scan
        if res is not None:
            n = sum(len(d.media) for d in res.directories)
            verb = "Cancelled after" if res.cancelled else "Scanned"
            self.scan_status.setText(f"{verb} {n:,} files in {res.elapsed_s * 1000:.0f} ms")

    def _results_changed(self) -> None:
        self._show_selected_scan()
        self._schedule_derived()

    def _doc_changed(self) -> None:
        self.update_header()
        self._update_buttons()
        self._show_selected_scan()
        self._schedule_derived()

    # ------------------------------------------------------ buckets, estimate
    def _schedule_derived(self) -> None:
        if self.scans.enabled:  # nothing new once shut down (its window closed)
            self._derived_timer.start()

    def framerate(self):
        """The model's video frame rate (Wan's depends on its checkpoint)."""
        from dpgui_qt.core.dataset.video import model_framerate

        main = self.main_values() or {}
        model = main.get("model") if isinstance(main.get("model"), dict) else {}
        return model_framerate(self.model_type(), model, self.base_dirs()[0])

    def refresh_derived(self) -> None:
        from dpgui_qt.core.dataset.buckets import directory_buckets
        from dpgui_qt.core.dataset.estimate import estimate
        from dpgui_qt.core.dataset.report import clip_mode_of

        values = self.session.doc.values()
        mtype = self.model_type()
        rate = self.framerate()
        mode = clip_mode_of(self.main_values())
        dbs = []
        rows = []
        self.buckets_by_row = {}
        from dataclasses import replace

        from dpgui_qt.core.dataset.scan import directory_settings
        for r in range(self.dir_model.rowCount()):
            scan = self.scans.result(r)
            if scan is None or not scan.exists:
                continue
            # the settings as they are now (resolutions, buckets, repeats), not as they
            # were when the folder was scanned: only new or changed files need a rescan
            entry = self.dir_model.entry(r)
            if isinstance(entry, dict):
                scan = replace(scan, settings=directory_settings(entry, values))
            try:
                db = directory_buckets(scan, values, model_type=mtype,
                                       unsized_as_square=True, framerate=rate,
                                       clip_mode=mode, dir_config=self.dir_model.entry(r))
                dbs.append(db)
                rows.append(r)
                self.buckets_by_row[r] = db
            except Exception as exc:  # noqa: BLE001 - a broken value must not break the tab
                self.statusMessage.emit(f"Bucket preview: {exc}")
        main = self.main_values()
        gpus = self.estimate.gpus.value()
        main_v = main if isinstance(main, dict) else {}
        est = None
        if dbs:
            try:
                est = estimate(values, main_v, gpus, dbs)
            except Exception as exc:  # noqa: BLE001 - shown in the status bar; the tab stays usable
                self.statusMessage.emit(f"Estimate: {exc}")
        gb = est.global_batch if est is not None else None
        # buckets: the selected folder, or all
        if self.buckets.scope.currentIndex() == 0:
            sel = [db for db, r in zip(dbs, rows) if r == self.current_row]
            if sel:
                entry = self.dir_model.entry(self.current_row)
                over: list[str] = [k for k in ("resolutions", "enable_ar_bucket", "min_ar", "max_ar",
                                    "num_ar_buckets", "ar_buckets", "frame_buckets",
                                    "size_buckets") if k in entry]
                self.buckets.show_buckets(sel, describe_config(sel[0], over), gb)
            else:
                self.buckets.show_buckets([], "Select a scanned folder.")
        else:
            self.buckets.show_buckets(dbs, f"All {len(dbs)} scanned folders, merged by bucket."
                                      if dbs else "Nothing scanned yet.", gb)
        if main is None:
            src = ("<span style='color:gray'>No main config is open: micro_batch_size_per_gpu "
                   "= 1, gradient_accumulation_steps = 1 assumed. Open the training config to "
                   "use its batch settings.</span>")
        else:
            keys = [f"{k} = {main_v[k]}" for k in ("micro_batch_size_per_gpu",
                                                   "image_micro_batch_size_per_gpu",
                                                   "gradient_accumulation_steps",
                                                   "pipeline_stages") if k in main_v]
            src = "From the main config: " + (", ".join(keys) if keys else "defaults (1)")
        self.estimate.show_estimate(est, src, bool(dbs))
        self.last_buckets = dbs
        cur = self.buckets_by_row.get(self.current_row)
        self.media.set_plans(cur.video_plans if cur is not None else {})
        n = self.dir_model.rowCount()
        if n:
            self.dir_model.dataChanged.emit(self.dir_model.index(0, COL_PROBLEMS),
                                            self.dir_model.index(n - 1, COL_PROBLEMS))
        self._refresh_problems()

    def _video_problems(self, row: int) -> list:
        """The bucket pass's video findings for a row (shown with the scan's own)."""
        scan = self.scans.result(row)
        db = self.buckets_by_row.get(row)
        if scan is None or db is None or db.path != scan.path:
            return []
        return [p for p in db.problems if p.kind.startswith(("video", "frame_bucket"))]

    # --------------------------------------------------------------- teardown
    def shutdown(self) -> None:
        self.scans.shutdown()
        self.media.model.loader.shutdown()

    def wait_idle(self, timeout_s: float = 30.0, thumbnails: bool = True) -> bool:
        import time

        from PySide6.QtCore import QCoreApplication

        ok = self.scans.wait_idle(timeout_s)
        end = time.monotonic() + timeout_s
        self._derived_timer.stop()
        self.refresh_derived()
        while thumbnails and time.monotonic() < end:
            QCoreApplication.processEvents()
            if self.media.model.loader.idle():
                break
            time.sleep(0.005)
        QCoreApplication.processEvents()
        return ok
