"""The main window: menus, toolbar, status bar, page tabs and docks.

API for other parts of dpgui
----------------------------
``window.session``            the :class:`~dpgui_qt.gui.session.DocumentSession`
                              (``.doc`` ConfigDocument, ``.registry`` SchemaRegistry,
                              ``.findings``, ``.undo_stack``; signals ``changed``,
                              ``documentReplaced``, ``findingsChanged``, ``pathChanged``)
``window.add_page(spec)``     add a tab from a :class:`~dpgui_qt.gui.pages.PageSpec`
                              (factory, empty state, menu actions, close guard, feeds);
                              the built-in pages are "dataset", "run" and "monitor"
``window.page(name)``         the page widget (created on demand), or None
``window.created_page(name)`` the page widget if it exists already, else None
``window.feed(name)``         a feed a page offers ("monitor": the MonitorFeed), or None
``window.show_page(name)``
``window.actions[...]``       named QActions ("file.open", "run.start", "run.stop", ...)
``window.runRequested``       emitted by Run ▸ Start Training once the config is saved
                              and has no errors; the run console connects to it
``window.add_companion(session, go_to=None)`` / ``remove_companion(session)``
                              a document edited beside the main one (the dataset page's
                              dataset files): Save writes it too, closing asks about it,
                              its findings join the Problems panel (``go_to(finding)``
                              shows them); ``window.undo_group`` holds every undo stack
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QMainWindow, QMenu,
                               QStackedWidget, QTabWidget, QToolButton, QWidget)

from dpgui_qt import __version__
from dpgui_qt.core.config.document import (ConflictError, DocumentError, ReadError, ReadOnlyError,
                                    TomlSyntaxError)
from dpgui_qt.gui import icons, messages
from dpgui_qt.gui import settings as st
from dpgui_qt.gui.pages import EmptyState, PageAction, PageSlot, PageSpec
from dpgui_qt.gui.config.problems import ProblemsPanel
from dpgui_qt.gui.config.page import ConfigEditorPage
from dpgui_qt.gui.session import DocumentSession
from dpgui_qt.gui.start_page import StartPage

TOML_FILTER = "TOML configs (*.toml);;All files (*)"
DP_URL = "https://github.com/tdrussell/diffusion-pipe"


def describe_open_error(path: str | Path, exc: Exception) -> tuple[str, str, str]:
    """(text, informative, details) for a file that cannot be opened."""
    name = Path(path).name
    if isinstance(exc, TomlSyntaxError):
        details = ""
        try:
            lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
            lo, hi = max(0, exc.line - 3), min(len(lines), exc.line + 2)
            out = []
            for i in range(lo, hi):
                out.append(f"{i + 1:>5} | {lines[i]}")
                if i + 1 == exc.line:
                    out.append("      | " + " " * max(0, exc.col - 1) + "^")
            details = "\n".join(out)
        except OSError:
            pass
        return (f"{name} is not valid TOML.",
                f"Line {exc.line}, column {exc.col}: {exc.message}.\n\n"
                "Fix that line in a text editor and open the file again. Nothing was changed.",
                details)
    if isinstance(exc, ReadError):
        return f"Cannot read {name}.", f"{exc.path}: {exc.reason}.", ""
    return f"Cannot open {name}.", str(exc), ""


def _shutdown_dataset_page(page: Any) -> None:
    """The window closes: the dataset page's scans and thumbnail loads stop."""
    if page is not None:
        page.shutdown()


def _dataset_page(window):
    from dpgui_qt.gui.dataset.page import DatasetPage  # imported when the tab is first shown

    return DatasetPage(window)


class MainWindow(QMainWindow):
    runRequested = Signal()  # Start Training passed its checks

    def __init__(self, registry=None, parent=None):
        super().__init__(parent)
        self.setObjectName("MainWindow")
        self.setWindowIcon(icons.app_icon())
        self.setDockNestingEnabled(True)
        self.session = DocumentSession(registry, self)
        # the window's named QActions ("run.start", ...); replaces QWidget.actions() on purpose
        self.actions: dict[str, QAction] = {}  # type: ignore[assignment]
        self._slots: dict[str, PageSlot] = {}
        self._feeds: dict[str, object] = {}
        self.menus: dict[str, QMenu] = {}
        self._undo_view = None
        self._companions: list = []  # [(session, go_to)] saved and checked with the main one
        self.undo_group = QUndoGroup(self)  # Edit ▸ Undo follows the page's active document
        self.undo_group.addStack(self.session.undo_stack)
        self.undo_group.setActiveStack(self.session.undo_stack)
        # an opened file enters the recent list after the window has painted, or on close
        self._recent_pending: str | None = None
        self._recent_timer = QTimer(self)
        self._recent_timer.setSingleShot(True)
        self._recent_timer.setInterval(300)
        self._recent_timer.timeout.connect(self._write_pending_recent)

        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.currentChanged.connect(self._tab_changed)
        self.setCentralWidget(self.tabs)
        # the Config tab: the start page while nothing is open, else the editor
        self.config_stack = QStackedWidget(self)
        self.config_stack.setObjectName("ConfigStack")
        self.editor = ConfigEditorPage(self.session, self.config_stack)
        self.editor.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 6000))
        self.start_page = StartPage(self, self.config_stack)
        self.config_stack.addWidget(self.start_page)
        self.config_stack.addWidget(self.editor)
        self.tabs.addTab(self.config_stack, "Config")

        self._make_actions()
        self._make_menus()
        self._make_toolbar()
        self._make_docks()
        self._make_status()
        self._make_slots()

        s = self.session
        s.modifiedChanged.connect(lambda _m: self._update_modified())
        s.pathChanged.connect(lambda _p: self._update_title())
        s.documentReplaced.connect(self._update_title)
        s.findingsChanged.connect(self._findings_changed)
        s.changed.connect(lambda _c: self._update_summary())
        s.documentReplaced.connect(self._update_summary)
        s.documentReplaced.connect(self._update_start_page)
        s.pathChanged.connect(lambda _p: self._update_start_page())
        s.changed.connect(lambda _c: self._update_start_page())
        s.externalChange.connect(self._external_change)
        s.editFailed.connect(lambda m: self.statusBar().showMessage(f"Not changed: {m}", 8000))
        s.undo_stack.cleanChanged.connect(lambda _c: self._update_actions())
        s.changed.connect(lambda _c: self._update_actions())
        self._update_title()
        self._update_summary()
        self._update_actions()
        self._update_start_page()
        self.resize(1280, 800)
        for slot in list(self._slots.values()):
            if slot.spec is not None and slot.spec.on_ready is not None:
                slot.spec.on_ready()

    # ------------------------------------------------------------- actions
    def _action(self, name: str, text: str, slot: Callable | None = None, shortcut=None,
                icon: str | None = None, tip: str = "", checkable: bool = False) -> QAction:
        act = QAction(text, self)
        if icon:
            act.setIcon(icons.themed(icon))
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(f"{text.replace('&', '').rstrip('…')} — {tip}")
        act.setCheckable(checkable)
        if slot is not None:
            (act.toggled if checkable else act.triggered).connect(slot)
        self.actions[name] = act
        return act

    def _make_actions(self) -> None:
        SK = QKeySequence.StandardKey
        a = self._action
        a("file.new", "&New…", self.new_file, SK.New, "new", "Start a config from a model template")
        a("file.open", "&Open…", self.open_dialog, SK.Open, "open", "Open a diffusion-pipe TOML")
        a("file.save", "&Save", self.save, SK.Save, "save", "Save the config")
        a("file.save_as", "Save &As…", self.save_as, SK.SaveAs, "save-as", "Save under a new name")
        a("file.revert", "&Revert to Saved", self.revert, None, "revert",
          "Drop unsaved edits (undoable)")
        a("file.quit", "&Quit", self.close, SK.Quit, "quit")
        undo = self.undo_group.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(SK.Undo))
        undo.setIcon(icons.themed("undo"))
        redo = self.undo_group.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence(SK.Redo))
        redo.setIcon(icons.themed("redo"))
        self.actions["edit.undo"] = undo
        self.actions["edit.redo"] = redo
        self.actions["edit.reset"] = self.editor.reset_action
        a("edit.preset", "Apply &Preset…", self.apply_preset, None, None,
          "Set the memory-related keys of a preset (shows the changes first; one undo step)")
        a("edit.find", "&Find Key…", self._focus_filter, SK.Find, None, "Filter the keys")
        a("edit.history", "Undo &History", self._toggle_history, "Ctrl+Shift+H", None,
          "Show every edit; click one to go back to it", checkable=True)
        a("view.advanced", "Show &Advanced Keys", self.editor.set_show_advanced, "Ctrl+Shift+A",
          None, "List rarely needed keys too", checkable=True)
        self.editor.advanced.toggled.connect(self.actions["view.advanced"].setChecked)
        a("view.expand", "E&xpand All", lambda: self.editor.tree.expandAll())
        a("view.collapse", "&Collapse All", lambda: self.editor.tree.collapseAll())
        a("view.details", "&Details", lambda: self._side(0), "Ctrl+Alt+1")
        a("view.toml", "&TOML Preview", lambda: self._side(1), "Ctrl+Alt+2", None,
          "The file exactly as Save writes it")
        a("view.diff", "&Changes Against Disk", lambda: self._side(2), "Ctrl+Alt+3", None,
          "Unified diff of your unsaved edits")
        a("run.validate", "&Validate Now", self.validate_now, "F7", "validate",
          "Check the config against diffusion-pipe's rules")
        a("run.start", "&Start Training…", self.start_training, "F5", "run",
          "Save, check and start diffusion-pipe with this config")
        a("run.stop", "S&top Training", None, "Shift+F5", "stop", "Stop the running training")
        self.actions["run.stop"].setEnabled(False)
        a("help.about", "&About dpgui", self.about, None, "help")
        a("help.dp", "diffusion-pipe on &GitHub", lambda: QDesktopServices.openUrl(QUrl(DP_URL)))

    def _make_menus(self) -> None:
        mb = self.menuBar()
        A = self.actions
        m = mb.addMenu("&File")
        m.addActions([A["file.new"], A["file.open"]])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        m.addSeparator()
        m.addActions([A["file.save"], A["file.save_as"], A["file.revert"]])
        m.addSeparator()
        m.addAction(A["file.quit"])
        m = mb.addMenu("&Edit")
        m.addActions([A["edit.undo"], A["edit.redo"]])
        m.addSeparator()
        m.addActions([A["edit.reset"], A["edit.find"]])
        m.addAction(A["edit.preset"])
        m.addSeparator()
        m.addAction(A["edit.history"])
        self.view_menu = m = mb.addMenu("&View")
        m.addAction(A["view.advanced"])
        m.addActions([A["view.expand"], A["view.collapse"]])
        m.addSeparator()
        m.addActions([A["view.details"], A["view.toml"], A["view.diff"]])
        m.addSeparator()
        self.pages_menu = m.addMenu("&Pages")
        self.docks_menu = m.addMenu("P&anels")
        from dpgui_qt.gui import theme

        theme.install_menu(self, m)
        self.run_menu = m = mb.addMenu("&Run")
        m.addActions([A["run.validate"]])
        m.addSeparator()
        m.addActions([A["run.start"], A["run.stop"]])
        self.menus.update(view=self.view_menu, run=self.run_menu)
        m = mb.addMenu("&Help")
        m.addActions([A["help.dp"]])
        m.addSeparator()
        m.addAction(A["help.about"])

    def _make_toolbar(self) -> None:
        tb = self.addToolBar("Main")
        tb.setObjectName("MainToolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(20, 20))
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        A = self.actions
        for name in ("file.new", "file.open", "file.save"):
            tb.addAction(A[name])
        tb.addSeparator()
        tb.addAction(A["edit.undo"])
        tb.addAction(A["edit.redo"])
        tb.addSeparator()
        tb.addAction(A["run.validate"])
        tb.addAction(A["run.start"])
        for name in ("file.new", "file.open", "edit.undo", "edit.redo"):
            w = tb.widgetForAction(A[name])
            if isinstance(w, QToolButton):
                w.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        self.toolbar = tb

    def _make_docks(self) -> None:
        self.problems = ProblemsPanel(self)
        self.problems.activated.connect(self.go_to_finding)
        dock = QDockWidget("Problems", self)
        dock.setObjectName("ProblemsDock")
        dock.setWidget(self.problems)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.resizeDocks([dock], [150], Qt.Orientation.Vertical)
        self.problems.expandedChanged.connect(self._problems_expanded)
        self.problems_dock = dock
        self._problems_wanted = True
        act = dock.toggleViewAction()
        act.triggered.connect(lambda on: setattr(self, "_problems_wanted", on))
        act.setShortcut(QKeySequence("Ctrl+Shift+M"))
        self.actions["view.problems"] = act
        self.docks_menu.addAction(act)
        self.history_dock = QDockWidget("Undo History", self)
        self.history_dock.setObjectName("HistoryDock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.history_dock)
        self.history_dock.hide()
        self.history_dock.visibilityChanged.connect(self.actions["edit.history"].setChecked)
        self.docks_menu.addAction(self.actions["edit.history"])

    def _make_status(self) -> None:
        sb = self.statusBar()
        self.summary_label = QLabel(self)
        self.summary_label.setContentsMargins(6, 0, 6, 0)
        self.problem_button = QToolButton(self)
        self.problem_button.setAutoRaise(True)
        self.problem_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.problem_button.clicked.connect(lambda: self._open_problems())
        from dpgui_qt.gui.config.memory_status import MemoryEstimateButton

        self.memory_button = MemoryEstimateButton(self.session, self)
        sb.addPermanentWidget(self.memory_button)
        sb.addPermanentWidget(self.summary_label)
        sb.addPermanentWidget(self.problem_button)

    def _make_slots(self) -> None:
        open_ds = self._action("dataset.open", "Open Dataset Config", self.open_dataset_config,
                               None, "open", "Open the dataset TOML this config names")
        self.dataset_empty = EmptyState(
            "Dataset", "The dataset editor is not loaded.", [open_ds])
        self.add_page(PageSpec("dataset", "Dataset", _dataset_page, self.dataset_empty,
                               shutdown=_shutdown_dataset_page))
        from dpgui_qt.gui.monitor import monitor_page_spec  # light: no pyqtgraph
        from dpgui_qt.gui.run import run_page_spec          # light: the page is built on demand

        self.add_page(run_page_spec(self))
        self.add_page(monitor_page_spec(self))
        # the placeholder text resolves the dataset path from the checkout (file system,
        # settings): after the first paint, and once per burst of edits
        self._dataset_empty_timer = QTimer(self)
        self._dataset_empty_timer.setSingleShot(True)
        self._dataset_empty_timer.setInterval(250)
        self._dataset_empty_timer.timeout.connect(self._update_dataset_empty)
        self.session.changed.connect(lambda _c: self._dataset_empty_timer.start())
        self.session.documentReplaced.connect(self._dataset_empty_timer.start)
        self._dataset_empty_timer.start()

    # --------------------------------------------------------------- pages
    def _open_problems(self) -> None:
        """The Problems dock, shown, expanded and in front."""
        self.problems_dock.show()
        self.problems.set_expanded(True)
        self.problems_dock.raise_()

    def add_page(self, spec: PageSpec) -> PageSlot:
        """Add a tab and everything ``spec`` declares (see :mod:`dpgui_qt.gui.pages`)."""
        slot = PageSlot(spec.name, spec.empty or EmptyState(spec.title, ""), self, spec,
                        on_created=self._page_created)
        self._slots[spec.name] = slot
        i = (self.tabs.addTab(slot, spec.title) if spec.icon is None
             else self.tabs.addTab(slot, spec.icon, spec.title))
        act = QAction(spec.title, self)
        act.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
        act.triggered.connect(lambda: self.show_page(spec.name))
        self.pages_menu.addAction(act)
        self.actions[f"page.{spec.name}"] = act
        for pa in spec.actions:
            self._add_page_action(pa)
        for name, handler in spec.handles.items():
            self._reroute(self.actions[name], handler)
        for name, feed in spec.offers.items():
            self._feeds[name] = feed
            for other in self._slots.values():          # pages built before the offer
                take = other.spec.takes.get(name) if other.spec is not None else None
                if take is not None and other.page is not None:
                    take(other.page, feed)
        if self.tabs.currentWidget() is slot:
            slot.ensure_page(self)
        return slot

    def _add_page_action(self, pa: PageAction) -> QAction:
        act = self._action(pa.name, pa.text, pa.slot, pa.shortcut, None, pa.tip)
        act.setEnabled(pa.enabled)
        menu = self.menus[pa.menu]
        before = self.actions.get(pa.before) if pa.before else None
        if pa.separator:
            menu.insertSeparator(before) if before is not None else menu.addSeparator()
        if before is not None:
            menu.insertAction(before, act)
        else:
            menu.addAction(act)
        return act

    @staticmethod
    def _reroute(act: QAction, handler) -> None:
        """A page answers a window action: the window's own slot no longer runs."""
        try:
            act.triggered.disconnect()
        except (RuntimeError, TypeError):
            pass
        act.triggered.connect(lambda _checked=False: handler())

    def _page_created(self, slot: PageSlot) -> None:
        if slot.page is None:
            return
        for name, take in (slot.spec.takes.items() if slot.spec is not None else ()):
            feed = self._feeds.get(name)
            if feed is not None:
                take(slot.page, feed)

    def feed(self, name: str):
        """A feed some page offers (``"monitor"``: the MonitorFeed), or None."""
        return self._feeds.get(name)

    def created_page(self, name: str) -> QWidget | None:
        """The page if it has been built, without building it."""
        slot = self._slots.get(name)
        return slot.page if slot is not None else None

    @property
    def run_page(self) -> QWidget | None:
        """Shorthand for ``created_page("run")``."""
        return self.created_page("run")

    @property
    def monitor_feed(self):
        """Shorthand for ``feed("monitor")``."""
        return self.feed("monitor")

    def page(self, name: str) -> QWidget | None:
        if name == "config":
            return self.editor
        if name == "start":
            return self.start_page
        slot = self._slots.get(name)
        return slot.ensure_page(self) if slot else None

    def show_page(self, name: str) -> None:
        if name == "config":
            self.tabs.setCurrentWidget(self.config_stack)
            return
        self.tabs.setCurrentWidget(self._slots[name])

    def _tab_changed(self, i: int) -> None:
        w = self.tabs.widget(i)
        if isinstance(w, PageSlot):
            w.ensure_page(self)

    def _side(self, i: int) -> None:
        self.show_page("config")
        self.editor.side.setCurrentIndex(i)

    # ---------------------------------------------------------------- files
    def maybe_save(self, why: str = "closing") -> bool:
        """Ask about unsaved edits; False means the user cancelled."""
        if not self.session.modified:
            return self._maybe_save_companions(why)
        name = self.session.display_name()
        answer = messages.ask(self, "Unsaved changes", f"Save the changes to {name} before {why}?",
                              "Your edits are lost if you don't save them.",
                              ("save", "discard", "cancel"), "save")
        if answer == "save":
            return self.save()
        return answer == "discard" and self._maybe_save_companions(why, ask_main=False)

    # ------------------------------------------------------ companion documents
    def add_companion(self, session, go_to: Callable | None = None) -> None:
        if any(s is session for s, _g in self._companions):
            return
        self._companions.append((session, go_to))
        self.undo_group.addStack(session.undo_stack)
        session.findingsChanged.connect(self._companion_findings)
        session.modifiedChanged.connect(self._update_modified)
        self._companion_findings()
        self._update_modified()

    def remove_companion(self, session) -> None:
        self._companions = [(s, g) for s, g in self._companions if s is not session]
        if self.undo_group.activeStack() is session.undo_stack:
            self.undo_group.setActiveStack(self.session.undo_stack)
        self.undo_group.removeStack(session.undo_stack)
        for sig, slot in ((session.findingsChanged, self._companion_findings),
                          (session.modifiedChanged, self._update_modified)):
            try:
                sig.disconnect(slot)
            except (RuntimeError, TypeError):
                pass
        self._companion_findings()
        self._update_modified()

    def companions(self) -> list:
        return [s for s, _g in self._companions]

    def _companion_findings(self, *_args) -> None:
        self._findings_changed(self.session.findings)

    def _update_modified(self, *_args) -> None:
        self.setWindowModified(self.session.modified or any(s.modified for s in self.companions()))

    def _save_companions(self) -> bool:
        for s in self.companions():
            if s.modified and s.path is not None:
                try:
                    s.save()
                except ConflictError as exc:  # the dataset file was changed elsewhere: ask
                    answer = self._ask_conflict(s, exc)
                    if answer == "Reload":
                        try:
                            s.reload_from_disk()
                        except DocumentError as err:
                            messages.error(self, "Cannot reload", str(err))
                    if answer != "Overwrite":
                        return False
                    try:
                        s.save(overwrite=True)
                    except DocumentError as err:
                        messages.error(self, "Save failed", str(err))
                        return False
                except DocumentError as exc:
                    messages.error(self, "Save failed", str(exc),
                                   "The other files were saved. Check that the folder exists "
                                   "and that you may write to it.")
                    return False
        return True

    def _maybe_save_companions(self, why: str, ask_main: bool = True) -> bool:
        dirty = [s for s in self.companions() if s.modified and s.path is not None]
        if not dirty:
            return True
        names = ", ".join(s.display_name() for s in dirty)
        answer = messages.ask(self, "Unsaved changes", f"Save the changes to {names} before {why}?",
                              "Your edits are lost if you don't save them.",
                              ("save", "discard", "cancel"), "save")
        if answer == "save":
            return self._save_companions()
        return answer == "discard"

    def new_file(self) -> bool:
        from dpgui_qt.gui.config.new_dialog import NewConfigDialog

        if not self.maybe_save("starting a new config"):
            return False
        current = self.session.doc.get(("model", "type"))
        dlg = NewConfigDialog(self.session.registry, self,
                              current if isinstance(current, str) else None)
        if dlg.exec() != NewConfigDialog.DialogCode.Accepted or not dlg.model_type():
            return False
        self.new_from_template(dlg.text())
        return True

    def apply_preset(self) -> bool:
        from dpgui_qt.gui.config.new_dialog import ApplyPresetDialog

        dlg = ApplyPresetDialog(self.session, self)
        if dlg.exec() != ApplyPresetDialog.DialogCode.Accepted:
            return False
        p = dlg.preset()
        self.statusBar().showMessage(f"Applied preset {p.name if p else ''} "
                                     f"({len(dlg.changes())} keys; Undo takes them back)", 8000)
        return True

    def new_from_template(self, text: str) -> None:
        self.session.new_from_text(text)
        self.show_page("config")
        self.statusBar().showMessage("New config from template — replace the placeholder paths, "
                                     "then Save As", 10000)

    def showing_start_page(self) -> bool:
        return self.config_stack.currentWidget() is self.start_page

    def _update_start_page(self) -> None:
        """The start page while no file is open (an empty, untitled document)."""
        empty = self.session.path is None and not self.session.doc.text.strip()
        was = self.showing_start_page()
        self.config_stack.setCurrentWidget(self.start_page if empty else self.editor)
        if empty and not was and self.start_page._built:
            self.start_page.rebuild()          # recent files may have changed
        self.problems_dock.setVisible(not empty and self._problems_wanted)
        if was and not empty and self.problems.expanded:
            self._problems_expanded(True)
        self.summary_label.setVisible(not empty)     # nothing to summarise or count yet
        self.problem_button.setVisible(not empty)

    def new_from_example(self, path: str | Path) -> bool:
        """Start an untitled config from one of diffusion-pipe's example files (the
        original is never written)."""
        if not self.maybe_save("starting a new config"):
            return False
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            messages.error(self, "Cannot open the example", f"{path}: {exc}")
            return False
        self.session.new_from_text(text)
        self.show_page("config")
        self.statusBar().showMessage(f"New config from {Path(path).name} — set your paths, then "
                                     "Save As", 10000)
        return True

    def edit_environment(self) -> bool:
        """Where diffusion-pipe and DeepSpeed are (Run ▸ Environment…, also from the
        start page)."""
        page: Any = self.created_page("run")
        if page is not None:
            ok = page.edit_environment()
        else:
            from dpgui_qt.gui.run.env_dialog import EnvironmentDialog
            from dpgui_qt.gui.run.launch_settings import EnvSettings

            dlg = EnvironmentDialog(EnvSettings.load(), self)
            ok = dlg.exec() == EnvironmentDialog.DialogCode.Accepted
            if ok:
                dlg.settings().save()
        if ok:
            from dpgui_qt.gui.session import forget_trainer_cwd

            forget_trainer_cwd()
            self.session.schedule_validation()
            for c in self.companions():
                c.schedule_validation()
            self.start_page.rebuild()
        return ok

    def open_dialog(self) -> bool:
        if not self.maybe_save("opening another file"):
            return False
        start = str(self.session.path.parent) if self.session.path else (
            str(Path(st.recent_files()[0]).parent) if st.recent_files() else os.getcwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open config", start, TOML_FILTER)
        if not path:
            return False
        return self.open_file(path, ask=False)

    def open_file(self, path: str | Path, ask: bool = True) -> bool:
        """Open ``path`` in this window; a clear dialog (never a traceback) if it can't be read."""
        if ask and not self.maybe_save("opening another file"):
            return False
        try:
            self.session.open(path)
        except DocumentError as exc:
            text, info, details = describe_open_error(path, exc)
            messages.error(self, "Cannot open config", text, info, details)
            if isinstance(exc, ReadError) and "no such file" in exc.reason:
                st.remove_recent_file(str(Path(path).resolve()))
            return False
        self._recent_pending = str(path)
        self._recent_timer.start()
        self.show_page("config")
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def _write_pending_recent(self) -> None:
        self._recent_timer.stop()
        path, self._recent_pending = self._recent_pending, None
        if path:
            st.add_recent_file(path)

    def _stop_work(self) -> None:
        """A closed window leaves no work behind (its pages' shutdown hooks ran first): the
        file it just opened enters the recent list now (not lost by a quick quit) and its
        timers (validation, file watching, run polling) stop, so a window closed while others
        stay open no longer reads or writes settings and files."""
        self._write_pending_recent()
        for timer in self.findChildren(QTimer):
            timer.stop()

    def save(self) -> bool:
        """Save the config and every modified companion (dataset) file, each atomically."""
        if self.session.path is None:
            return self.save_as() and self._save_companions()
        return self._save_to(None) and self._save_companions()

    def save_as(self) -> bool:
        start = str(self.session.path) if self.session.path else os.path.join(
            os.getcwd(), self._suggested_name())
        path, _ = QFileDialog.getSaveFileName(self, "Save config as", start, TOML_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += ".toml"
        return self._save_to(path)

    def _suggested_name(self) -> str:
        t = self.session.doc.get(("model", "type"))
        return f"{t}_config.toml" if isinstance(t, str) else "config.toml"

    def _save_to(self, path, overwrite: bool = False, allow_readonly: bool = False) -> bool:
        try:
            written = self.session.save(path, overwrite=overwrite, allow_readonly=allow_readonly)
        except ConflictError as exc:
            return self._save_conflict(path, exc, allow_readonly)
        except ReadOnlyError:
            name = self.session.display_name()
            answer = messages.ask(self, "Read-only file", f"{name} is read-only.",
                                  "Its permissions say it should not be changed. Overwrite it "
                                  "anyway (it stays read-only), or use Save As to write a copy?",
                                  ("Overwrite", "cancel"), "cancel")
            if answer != "Overwrite":
                return False
            return self._save_to(path, overwrite, allow_readonly=True)
        except DocumentError as exc:
            messages.error(self, "Save failed", str(exc),
                           "Check that the folder exists and that you may write to it, "
                           "or use Save As to pick another place.")
            return False
        st.add_recent_file(written)
        self.statusBar().showMessage(f"Saved {written}", 5000)
        return True

    def _save_conflict(self, path, exc: ConflictError, allow_readonly: bool) -> bool:
        """Another program changed (or deleted) the file since it was read: show the
        difference and let the user choose; never overwrite silently."""
        answer = self._ask_conflict(self.session, exc)
        if answer == "Overwrite":
            return self._save_to(path, overwrite=True, allow_readonly=allow_readonly)
        if answer == "Reload":
            self._reload()
        return False

    def _ask_conflict(self, session, exc: ConflictError) -> str:
        """Overwrite / Reload / cancel, with the difference between the file on disk and
        the user's version (secrets masked) under Show Details."""
        from dpgui_qt.core.secrets import mask_toml_text
        from dpgui_qt.gui.config.toml_view import unified_diff

        name = session.display_name()
        if exc.current is None:
            theirs, what = "", "deleted"
        else:
            theirs = exc.current.decode("utf-8-sig", errors="replace")
            what = "changed"
        diff = unified_diff(mask_toml_text(theirs), mask_toml_text(session.doc.text), name,
                            "on disk, by the other program", "your version")
        answer = messages.ask(
            self, "File changed on disk",
            f"<b>{name}</b> was {what} by another program after you opened it.",
            "Saving now would overwrite that edit. Overwrite it with your version, reload "
            "theirs (Undo brings your edits back), or cancel and decide later. "
            "Show Details lists what differs.",
            ("Overwrite", "Reload", "cancel"), "cancel", details=diff)
        return answer

    def revert(self) -> None:
        if not self.session.modified:
            return
        self.session.revert()
        self.statusBar().showMessage("Reverted to the saved file (Undo brings your edits back)", 8000)

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        files = st.recent_files()
        if not files:
            a = self.recent_menu.addAction("No recent files")
            a.setEnabled(False)
            return
        for i, f in enumerate(files):
            label = f"&{i + 1}  {Path(f).name}" if i < 9 else Path(f).name
            act = self.recent_menu.addAction(label)
            act.setToolTip(f)
            act.setStatusTip(f)
            act.triggered.connect(lambda _=False, f=f: self.open_file(f))
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear Menu", st.clear_recent_files)

    def _external_change(self, what: str) -> None:
        name = self.session.display_name()
        bar = self.editor.banner
        if what == "deleted":
            bar.show_message(f"<b>{name}</b> was deleted or moved by another program. "
                             "Save to write it again.", [("Save", self.save), ("Dismiss", lambda: None)])
            self.setWindowModified(True)
            return
        extra = " You have unsaved edits; reloading replaces them (Undo brings them back)." \
            if self.session.modified else ""
        bar.show_message(f"<b>{name}</b> was changed on disk by another program.{extra}",
                         [("Reload", self._reload), ("Keep My Version", self.session.keep_local_version)])

    def _reload(self) -> None:
        try:
            self.session.reload_from_disk()
        except DocumentError as exc:
            text, info, details = describe_open_error(self.session.path, exc)
            messages.error(self, "Cannot reload", text, info + "\nYour version is kept.", details)

    # -------------------------------------------------------------- dataset
    def dataset_path(self) -> Path | None:
        raw = self.session.doc.get("dataset")
        if not isinstance(raw, str) or not raw.strip():
            return None
        p = Path(os.path.expanduser(raw))
        if not p.is_absolute():
            from dpgui_qt.gui.session import trainer_cwd
            base = trainer_cwd()       # where diffusion-pipe reads it from
            if base is None and self.session.path is not None:
                base = self.session.path.parent
            if base is not None:
                p = base / p
        return p

    def _update_dataset_empty(self) -> None:
        raw = self.session.doc.get("dataset")
        p = self.dataset_path()
        act = self.actions["dataset.open"]
        if self.session.kind == "dataset":
            text = "The open file is a dataset config; it is edited in the Config tab."
            act.setEnabled(False)
        elif p is None:
            text = "This config names no dataset yet. Set <b>dataset</b> in the Config tab."
            act.setEnabled(False)
        elif p.is_file():
            text = f"This config trains on <code>{raw}</code>. Open it to edit its folders, " \
                   "resolutions and buckets."
            act.setEnabled(True)
        else:
            text = f"This config names <code>{raw}</code>, which is not on this machine " \
                   "(relative paths are read from the folder diffusion-pipe runs in)."
            act.setEnabled(False)
        self.dataset_empty.set_text(text)

    def open_dataset_config(self) -> None:
        p = self.dataset_path()
        if p is not None and p.is_file():
            self.open_file(p)

    # ----------------------------------------------------------- validation
    def validate_now(self) -> None:
        self.session.validate_now()
        for c in self.companions():
            c.validate_now()
        e, _w = self.problems.counts()      # the same count the Problems panel shows
        self.problems_dock.show()
        if e:
            self.problems.set_expanded(True)
        self.statusBar().showMessage(
            "No errors: diffusion-pipe should accept this config" if not e
            else f"{e} error{'s' if e != 1 else ''} — see Problems", 6000)

    def _findings_changed(self, findings: list) -> None:
        findings = list(findings) + [f for s in self.companions() for f in s.findings]
        self.problems.set_findings(findings, self.session.last_validation_ms)
        e, w = self.problems.counts()
        if e:
            self.problem_button.setIcon(icons.error_icon())
        elif w:
            self.problem_button.setIcon(icons.warning_icon())
        else:
            self.problem_button.setIcon(icons.ok_icon())
        self.problem_button.setText(f"{e} error{'s' if e != 1 else ''}, "
                                    f"{w} warning{'s' if w != 1 else ''}")
        self.problem_button.setToolTip("Show the Problems panel")

    def _problems_expanded(self, on: bool) -> None:
        if on:   # after the panel's new maximum height has reached the dock layout
            QTimer.singleShot(0, self, lambda: self.resizeDocks(
                [self.problems_dock], [150], Qt.Orientation.Vertical))

    def go_to_finding(self, finding) -> None:
        fname = str(self.session.path) if self.session.path else "<text>"
        for s, go_to in self._companions:
            if go_to is not None and finding in s.findings:
                go_to(finding)
                return
        if finding.file not in (None, fname):
            self.statusBar().showMessage(f"{finding.file}:{finding.line}: {finding.message}", 10000)
            return
        self.show_page("config")
        if not self.editor.select_path(finding.path):
            self.editor.side.setCurrentIndex(1)
            self.editor.preview.go_to_line(finding.line)

    def start_training(self) -> None:
        findings = self.session.validate_now()
        errors = [f for f in findings if f.is_error]
        if errors:
            self.problems_dock.show()
            messages.warning(self, "Cannot start training",
                             f"The config has {len(errors)} error{'s' if len(errors) != 1 else ''}.",
                             "Fix the entries in the Problems panel first; diffusion-pipe would "
                             "stop on them.")
            return
        if self.session.modified or self.session.path is None:
            if not self.save():
                return
        self.show_page("run")
        self.runRequested.emit()
        if self._slots["run"].factory is None:
            self.statusBar().showMessage("The config is saved and has no errors. The run console "
                                         "is not part of this build: start train.py with it.", 10000)

    # ----------------------------------------------------------------- misc
    def _focus_filter(self) -> None:
        self.show_page("config")
        self.editor.filter.setFocus()
        self.editor.filter.selectAll()

    def _toggle_history(self, on: bool) -> None:
        if on and self._undo_view is None:
            from PySide6.QtWidgets import QUndoView

            self._undo_view = QUndoView(self.session.undo_stack, self.history_dock)
            self._undo_view.setEmptyLabel("Opened file")
            self.history_dock.setWidget(self._undo_view)
        self.history_dock.setVisible(on)

    def about(self) -> None:
        from PySide6 import __version__ as pyside_version
        from PySide6.QtCore import qVersion

        from dpgui_qt import buildinfo

        rows = buildinfo.facts() + [("Qt", f"{qVersion()} (PySide6 {pyside_version})")]
        messages.info(self, "About dpgui", f"dpgui {__version__}",
                      "A desktop editor, validator and launcher for diffusion-pipe training "
                      "configs.\n\n" + "\n".join(f"{label}: {value}" for label, value in rows[1:]))

    def _update_title(self) -> None:
        p = self.session.path
        name = p.name if p else "Untitled"
        where = f" — {p.parent}" if p else ""
        self.setWindowTitle(f"{name}[*]{where}")
        self._update_modified()
        self.setWindowFilePath(str(p) if p else "")

    def _update_actions(self) -> None:
        self.actions["file.revert"].setEnabled(self.session.modified and self.session.path is not None)

    def _update_summary(self) -> None:
        vals = self.session.doc.values()
        if self.session.kind == "dataset":
            self.summary_label.setText("dataset config")
            return
        model = vals.get("model") if isinstance(vals.get("model"), dict) else {}
        adapter = vals.get("adapter") if isinstance(vals.get("adapter"), dict) else None
        opt = vals.get("optimizer") if isinstance(vals.get("optimizer"), dict) else {}
        parts = [str(model.get("type", "no model")),
                 str(adapter.get("type", "adapter?")) if adapter is not None else "full fine-tune",
                 str(opt.get("type", "no optimizer"))]
        self.summary_label.setText("  ·  ".join(parts))

    # ------------------------------------------------------------- settings
    def restore_settings(self) -> None:
        s = st.settings()
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
        split = s.value("window/splitter")
        if isinstance(split, QByteArray) and not split.isEmpty():
            self.editor.splitter.restoreState(split)
        self.editor.set_show_advanced(st.get_bool("editor/show_advanced", False))
        self.history_dock.hide()

    def save_settings(self) -> None:
        s = st.settings()
        s.setValue("window/geometry", self.saveGeometry())
        s.setValue("window/state", self.saveState())
        s.setValue("window/splitter", self.editor.splitter.saveState())
        s.setValue("editor/show_advanced", self.editor.advanced.isChecked())
        s.sync()

    def closeEvent(self, event) -> None:
        if not self.maybe_save("closing"):
            event.ignore()
            return
        for slot in self._slots.values():   # e.g. an active run: keep / stop / cancel
            guard = slot.spec.close_guard if slot.spec is not None else None
            if guard is not None and slot.page is not None and not guard(slot.page):
                event.ignore()
                return
        self.save_settings()
        for slot in self._slots.values():   # background work ends before the window goes
            if slot.spec is not None and slot.spec.shutdown is not None:
                slot.spec.shutdown(slot.page)
        self._stop_work()
        event.accept()
