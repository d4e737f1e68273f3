"""The Dataset tab of the main window.

Two ways in:

* a **main config** is open: the page opens the dataset file its ``dataset`` key
  names and every ``eval_datasets[*].config`` (resolved next to the main config, then
  in the diffusion-pipe checkout), one inner tab per file. Each is a
  :class:`DatasetSession` registered with the window as a *companion*: Save writes it
  too, closing asks about it, its findings (validated with the main config's model
  type and batch settings) join the Problems panel, and Edit ▸ Undo works on it
  while its tab is shown;
* a **dataset config opened on its own**: the page edits the window's own session.

"New Dataset…" writes a template (512 px, AR buckets, one folder) and points the main
config's ``dataset`` key at it (undoable in the main config).
"""
from __future__ import annotations

from typing import Any

import html
import os
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QStackedLayout, QTabWidget, QWidget

from dpgui_qt.core.config.document import DocKind, DocumentError, atomic_write
from dpgui_qt.gui import icons, messages
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.dataset.editor import DatasetEditor
from dpgui_qt.gui.dataset.linked import (DatasetSession, checkout_dirs, dataset_references,
                                         dataset_template)
from dpgui_qt.gui.pages import EmptyState

TOML_FILTER = "TOML configs (*.toml);;All files (*)"


class DatasetPage(QWidget):
    def __init__(self, window, parent=None):
        super().__init__(parent or window)
        self.window_ = window
        self.editors: list[DatasetEditor] = []
        self._refs_key = None
        self.main = window.session

        self.act_new = QAction(icons.themed("new"), "New Dataset…", self)
        self.act_new.setStatusTip("Create a dataset config from a template and use it")
        self.act_new.triggered.connect(lambda: self.new_dataset())
        self.act_open = QAction(icons.themed("open"), "Use Existing Dataset…", self)
        self.act_open.setStatusTip("Pick a dataset TOML for this config's dataset key")
        self.act_open.triggered.connect(lambda: self.open_dataset())
        self.act_abs = QAction(icons.themed("open"), "Use the File Next to the Config", self)
        self.act_abs.setStatusTip("Write the dataset path as an absolute path, so diffusion-pipe "
                                  "finds it from its own folder")
        self.act_abs.triggered.connect(lambda: self.make_dataset_absolute())
        self.act_abs.setVisible(False)
        self.empty = EmptyState("No dataset", "", [self.act_abs, self.act_new, self.act_open], self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setTabBarAutoHide(True)
        self.tabs.currentChanged.connect(lambda _i: self._activate_undo())
        self._stack = QStackedLayout(self)
        self._stack.addWidget(self.empty)
        self._stack.addWidget(self.tabs)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(300)
        self._timer.timeout.connect(self.sync)
        self.main.documentReplaced.connect(self._replaced)
        bind(self.main.pathChanged, self, lambda _p: self._timer.start())
        bind(self.main.changed, self, lambda _c: self._main_changed())
        bind(window.tabs.currentChanged, self, lambda _i: self._activate_undo())
        window.actions["dataset.new"] = self.act_new
        self.sync()

    # ------------------------------------------------------------ documents
    @property
    def standalone(self) -> bool:
        return self.main.kind == DocKind.DATASET

    def context(self):
        if self.standalone:
            return None
        v = self.main.doc.values()
        model = _model if isinstance(_model := v.get("model"), dict) else {}
        mtype = model.get("type") if isinstance(model.get("type"), str) else None
        return mtype, v

    def _replaced(self) -> None:
        """Another file in the window: its datasets replace the old ones (the window has
        already asked about unsaved edits)."""
        self._clear(keep=[])
        self._refs_key = None
        self.sync()

    def _main_changed(self) -> None:
        self._timer.start()
        for ed in self.editors:
            if ed.session is not self.main:
                ed.session.schedule_validation()  # model type / batch may have changed
            ed._schedule_derived()
            ed.scans.schedule()

    def sync(self) -> None:
        """Match the inner tabs to the files the main config names (or to the dataset
        config open on its own)."""
        self._timer.stop()
        if self.standalone:
            key: tuple[Any, ...] = ("standalone", id(self.main.doc))
            if key == self._refs_key and self.editors:
                return
            self._clear(keep=[])
            only = self._make_editor(self.main, "")
            self.editors = [only]
            self.tabs.addTab(only, self._title(only))
            self._refs_key = key
            self._stack.setCurrentWidget(self.tabs)
            return
        refs = dataset_references(self.main.doc, self.main.registry) if self.main.doc.text.strip() else []
        key = ("main", id(self.main.doc), tuple((r.path, str(r.file)) for r in refs))
        if key == self._refs_key:
            return
        self._refs_key = key
        if any(ed.session is self.main for ed in self.editors):
            self._clear(keep=[])  # was a dataset opened on its own
        wanted = [(r, r.file) for r in refs if r.file is not None]
        keep = []
        new_editors: list[DatasetEditor] = []
        for ref, file in wanted:
            ed = next((e for e in self.editors if e.session.path is not None
                       and Path(e.session.path).resolve() == file), None)
            if ed is None and any(Path(e.session.path or "").resolve() == file for e in new_editors):
                continue  # named twice
            if ed is None:
                s = DatasetSession(self.main.registry, self, context=self.context, role=ref.label)
                try:
                    s.open(file)
                except DocumentError as exc:
                    self.window_.statusBar().showMessage(f"Cannot open {file}: {exc}", 10000)
                    continue
                ed = self._make_editor(s, ref.label)
                self.window_.add_companion(s, self.go_to_finding)
            else:
                ed.role = ref.label
                ed.session.role = ref.label
                ed.update_header()
            keep.append(ed)
            new_editors.append(ed)
        # a file no longer named but with unsaved edits stays until saved or discarded
        for ed in self.editors:
            if ed not in keep and ed.session.modified and ed.session is not self.main:
                ed.role = "no longer named by the config"
                ed.update_header()
                keep.append(ed)
                new_editors.append(ed)
        self._clear(keep=keep)
        self.editors = new_editors
        current = self.tabs.currentWidget()
        self.tabs.blockSignals(True)
        while self.tabs.count():
            self.tabs.removeTab(0)
        for ed in self.editors:
            i = self.tabs.addTab(ed, self._title(ed))
            self.tabs.setTabToolTip(i, str(ed.session.path))
        if current in self.editors:
            self.tabs.setCurrentWidget(current)
        self.tabs.blockSignals(False)
        if self.editors:
            self._stack.setCurrentWidget(self.tabs)
        else:
            self.empty.set_text(self._empty_text(refs))
            show_abs = not self.standalone and self._beside_config(
                self.main.doc.get("dataset")) is not None
            self.act_abs.setVisible(show_abs)
            for b in self.empty.buttons:
                if b.text() == self.act_abs.text():
                    b.setVisible(show_abs)
            self._stack.setCurrentWidget(self.empty)
        self._activate_undo()

    def _empty_text(self, refs) -> str:
        if not self.main.doc.text.strip() and self.main.path is None:
            return ("Open a training config (its dataset opens here too) or a dataset config, "
                    "or start a new dataset.")
        raw = self.main.doc.get("dataset")
        if not isinstance(raw, str) or not raw.strip():
            return ("This config names no dataset yet. Create one from a template, or use an "
                    "existing dataset TOML; the config's <b>dataset</b> key is set for you.")
        beside = self._beside_config(raw)
        if beside is not None:
            from dpgui_qt.gui.session import trainer_cwd
            return (f"This config names <code>{html.escape(raw)}</code>. That file is next to "
                    f"the config, but diffusion-pipe reads relative paths from the folder it "
                    f"runs in (<code>{html.escape(str(trainer_cwd()))}</code>), where it is "
                    "missing. Use the file next to the config (the path is written as an "
                    "absolute path), create a new dataset, or pick another file.")
        return (f"This config names <code>{html.escape(raw)}</code>, which is not on this "
                "machine (relative paths are read from the diffusion-pipe checkout, where "
                "training runs). Create it from a template, or pick the right file.")

    def _beside_config(self, raw) -> Path | None:
        """The existing file a relative ``raw`` names next to the main config, when the
        trainer would not find it from its checkout."""
        from dpgui_qt.gui.session import trainer_cwd
        if not isinstance(raw, str) or not raw.strip() or self.main.path is None:
            return None
        p = Path(os.path.expanduser(raw))
        cwd = trainer_cwd()
        if p.is_absolute() or cwd is None or (cwd / p).is_file():
            return None
        cand = self.main.path.parent / p
        return cand.resolve() if cand.is_file() else None

    def make_dataset_absolute(self) -> bool:
        beside = self._beside_config(self.main.doc.get("dataset"))
        if beside is None:
            return False
        self.main.set_value(("dataset",), str(beside))
        self.sync()
        self.window_.statusBar().showMessage(f"dataset = '{beside}' — save the config to keep it",
                                             8000)
        return True

    def _make_editor(self, session, role: str) -> DatasetEditor:
        ed = DatasetEditor(session, context=self.context, base_dirs=checkout_dirs,
                           parent=self, role=role)
        ed.statusMessage.connect(lambda m: self.window_.statusBar().showMessage(m, 6000))
        bind(session.modifiedChanged, ed, lambda _m, e=ed: self._retitle(e))
        bind(session.pathChanged, ed, lambda _p, e=ed: self._retitle(e))
        return ed

    def _title(self, ed: DatasetEditor) -> str:
        name = ed.session.display_name()
        prefix = f"{ed.role}: " if ed.role and ed.role != "dataset" else ""
        return f"{prefix}{name}{' •' if ed.session.modified else ''}"

    def _retitle(self, ed: DatasetEditor) -> None:
        i = self.tabs.indexOf(ed)
        if i >= 0:
            self.tabs.setTabText(i, self._title(ed))

    def shutdown(self) -> None:
        """Its window closed: every editor's scans and thumbnail loads stop."""
        for ed in self.editors:
            ed.shutdown()

    def _clear(self, keep: list[Any]) -> None:
        for ed in list(self.editors):
            if ed in keep:
                continue
            i = self.tabs.indexOf(ed)
            if i >= 0:
                self.tabs.removeTab(i)
            if ed.session is not self.main:
                self.window_.remove_companion(ed.session)
            ed.shutdown()
            ed.setParent(None)
            ed.deleteLater()
            if ed.session is not self.main:
                ed.session.deleteLater()
        self.editors = [e for e in self.editors if e in keep]

    def current_editor(self) -> DatasetEditor | None:
        w = self.tabs.currentWidget()
        return w if isinstance(w, DatasetEditor) else None

    def editor_for(self, session) -> DatasetEditor | None:
        return next((e for e in self.editors if e.session is session), None)

    def _activate_undo(self) -> None:
        w = self.window_
        group = w.undo_group
        ed = self.current_editor()
        cur = w.tabs.currentWidget()
        on_page = cur is not None and (cur.isAncestorOf(self) or getattr(cur, "name", None) == "dataset")
        stack = ed.session.undo_stack if (on_page and ed is not None) else w.session.undo_stack
        if stack in group.stacks():
            group.setActiveStack(stack)

    def go_to_finding(self, finding) -> None:
        for ed in self.editors:
            if finding in ed.session.findings:
                self.window_.show_page("dataset")
                self.tabs.setCurrentWidget(ed)
                ed.select_path(finding.path)
                return

    # ------------------------------------------------------------- actions
    def _main_folder(self) -> str:
        if self.main.path is not None:
            return str(self.main.path.parent)
        return os.getcwd()

    def new_dataset(self, path: str | os.PathLike[str] | None = None, image_dir: str | None = None,
                    ask_folder: bool = True) -> Path | None:
        """Write a dataset template to ``path`` (asked when None) and use it."""
        if path is None:
            raw = self.main.doc.get("dataset") if not self.standalone else None
            suggested = os.path.join(self._main_folder(), raw if isinstance(raw, str) and raw.strip()
                                     and not os.path.isabs(raw) else "dataset.toml")
            path, _ = QFileDialog.getSaveFileName(self, "New dataset config", suggested, TOML_FILTER)
            if not path:
                return None
            if not Path(path).suffix:
                path += ".toml"
            if image_dir is None and ask_folder:
                image_dir = QFileDialog.getExistingDirectory(
                    self, "Folder with your images and captions (Cancel: fill in later)",
                    self._main_folder()) or None
        target = Path(path)
        try:
            atomic_write(target, dataset_template(image_dir).encode("utf-8"))
        except DocumentError as exc:
            messages.error(self, "Cannot create the dataset", str(exc),
                           "Pick a folder you may write to.")
            return None
        self._use(target)
        return target

    def open_dataset(self, path: str | os.PathLike[str] | None = None) -> bool:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Dataset config", self._main_folder(),
                                                  TOML_FILTER)
            if not path:
                return False
        self._use(Path(path))
        return True

    def _use(self, target: Path) -> None:
        """Point the main config at ``target`` (or open it on its own)."""
        if self.standalone or (self.main.path is None and not self.main.doc.text.strip()):
            self.window_.open_file(target, ask=True)
            self.window_.show_page("dataset")
            return
        # absolute: diffusion-pipe reads a relative path from its checkout, not from
        # the config's folder
        ref = str(Path(target).resolve())
        self.main.set_value(("dataset",), ref)
        self.sync()
        self.window_.show_page("dataset")
        self.window_.statusBar().showMessage(
            f"dataset = '{ref}' — save the config to keep it", 8000)


def prepare_screenshot(window, timeout_s: float = 60.0) -> bool:
    """Show the dataset tab with the scan finished and thumbnails loaded."""
    window.show_page("dataset")
    page = window.page("dataset")
    ed = page.current_editor() if page is not None else None
    if ed is None:
        return False
    from PySide6.QtCore import Qt

    window.resizeDocks([window.problems_dock], [120], Qt.Orientation.Vertical)
    ed._first_show()
    ok = ed.wait_idle(timeout_s)
    ed.select_row(0)
    ed.wait_idle(timeout_s)
    return ok
