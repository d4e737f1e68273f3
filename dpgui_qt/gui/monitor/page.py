"""MonitorPage: curves + run history tabs with the GPU panel beside them.

Used as the main window's "monitor" page and as the body of ``dpgui monitor``.
In the main window it reads the open config's ``epochs`` / ``max_steps`` /
``x_axis_examples`` (the plan for the ETA) and ``output_dir`` (the history).
"""
from __future__ import annotations

from typing import Any

import html
import os
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (QFileDialog, QHBoxLayout, QLabel, QPushButton, QSplitter,
                               QTabWidget, QVBoxLayout, QWidget)

from dpgui_qt.gui.bind import bind

from .gpu_panel import GpuPanel
from .history import RunHistoryView
from .model import MonitorModel
from .outputs_view import OutputsView
from .queue_panel import QueuePanel
from .samples_view import SamplesView
from .view import MonitorView

__all__ = ["MonitorPage"]


class MonitorPage(QWidget):
    message = Signal(str)

    def __init__(self, model: MonitorModel | None = None, window=None, sampler=None,
                 gpu_interval_ms: int = 1000, parent=None):
        super().__init__(parent)
        self.window_ = window
        self.model = model or MonitorModel(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        bar = QHBoxLayout()
        self.source_label = QLabel(self)
        self.source_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar.addWidget(self.source_label, 1)
        self.open_run_button = QPushButton("Open Run Folder…", self)
        self.open_run_button.setToolTip("Show a run folder (or an output_dir's newest run); "
                                        "a run that is still training is followed")
        self.open_log_button = QPushButton("Open Log…", self)
        self.open_log_button.setToolTip("Show a diffusion-pipe console log")
        self.folder_button = QPushButton("Show in File Manager", self)
        for b in (self.open_run_button, self.open_log_button, self.folder_button):
            bar.addWidget(b)
        lay.addLayout(bar)

        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.tabs = QTabWidget(split)
        self.tabs.setDocumentMode(True)
        self.view = MonitorView(self.model, self.tabs)
        self.history = RunHistoryView(self.tabs)
        self.tabs.addTab(self.view, "Curves")
        self.tabs.addTab(self.history, "Runs")
        self.outputs = OutputsView(self.tabs)
        self.tabs.addTab(self.outputs, "Outputs")
        self.samples = SamplesView(self.tabs)
        self.tabs.addTab(self.samples, "Samples")
        self.queue = QueuePanel(parent=self.tabs, window=window)
        self.tabs.addTab(self.queue, "Queue")
        self._extra_windows: list[Any] = []
        self.gpu = GpuPanel(sampler, interval_ms=gpu_interval_ms, parent=split)
        self.gpu.setMinimumWidth(250)
        split.addWidget(self.tabs)
        split.addWidget(self.gpu)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setSizes([1000, 300])
        lay.addWidget(split, 1)

        self.open_run_button.clicked.connect(self.open_run_dialog)
        self.open_log_button.clicked.connect(self.open_log_dialog)
        self.folder_button.clicked.connect(self.open_in_file_manager)
        self.history.openRun.connect(self.show_run)
        self.history.tree.itemSelectionChanged.connect(self._history_selected)
        self.outputs.newConfigFromRun.connect(self.new_config_from_run)
        self.history.newConfigFromRun.connect(self.new_config_from_run)
        self.outputs.finished.connect(self._message)
        self.queue.message.connect(self._message)
        self.view.smooth_spin.valueChanged.connect(self.history.set_smoothing)
        self.model.sourceChanged.connect(self._source_changed)
        self.model.message.connect(self._message)
        self.tabs.currentChanged.connect(self._tab_changed)
        if window is not None and hasattr(window, "session"):
            s = window.session
            bind(s.changed, self, lambda _c: self.read_config())
            s.documentReplaced.connect(self.read_config)
            self.read_config()
        self._source_changed()

    # --------------------------------------------------------------- config
    def read_config(self) -> None:
        """Plan and output_dir from the main window's open config (a followed run
        folder's own config copy takes precedence for the plan)."""
        doc = self.window_.session.doc
        get = doc.get

        def num(key):
            v = get(key, None)
            return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None

        if self.model.config_path is None:
            xe = get("x_axis_examples", None)
            self.model.set_plan(num("epochs"), num("max_steps"),
                                xe if isinstance(xe, bool) else None)
        out = get("output_dir", None)
        if isinstance(out, str) and out.strip():
            p = Path(os.path.expanduser(out))
            if not p.is_absolute():
                # read from diffusion-pipe's working directory, as the trainer writes it
                from dpgui_qt.gui.session import trainer_cwd
                base = trainer_cwd()
                path = self.window_.session.path
                if base is None and path is not None:
                    base = path.parent
                if base is not None:
                    p = base / p
            self.history.set_output_dir(p)
            self.outputs.set_output_dir(p, self.window_.session.path)

    # -------------------------------------------------------------- sources
    def show_run(self, path: str) -> bool:
        ok = self.model.follow(path)
        if ok:
            self.tabs.setCurrentWidget(self.view)
        return ok

    def open_run_dialog(self) -> None:
        start = str(self.history.output_dir or Path.home())
        d = QFileDialog.getExistingDirectory(self, "Open Run Folder", start)
        if d:
            self.show_run(d)
            if self.model.run_dir is not None:
                self.history.set_output_dir(self.model.run_dir.parent)

    def open_log_dialog(self) -> None:
        start = str(self.history.output_dir or Path.home())
        f, _ = QFileDialog.getOpenFileName(self, "Open Console Log", start,
                                           "Logs (*.log *.txt);;All files (*)")
        if f:
            self.show_run(f)

    def open_in_file_manager(self) -> bool:
        target = self.model.run_dir or (self.model.log_path.parent if self.model.log_path else None)
        if target is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    def _source_changed(self) -> None:
        src = self.model.describe_source()
        self.source_label.setText(f"<b>{html.escape(src)}</b>" if src else
                                  "No run selected: start one, or open a run folder or log.")
        self.folder_button.setEnabled(bool(self.model.run_dir or self.model.log_path))
        if self.model.run_dir is not None and self.history.output_dir is None:
            self.history.set_output_dir(self.model.run_dir.parent)
        if self.model.run_dir is not None:
            if self.outputs.output_dir is None:
                self.outputs.set_output_dir(self.model.run_dir.parent)
            self.samples.set_run(self.model.run_dir)

    def _tab_changed(self, _i: int) -> None:
        if self.tabs.currentWidget() is self.history and not self.history.summaries:
            self.history.refresh()
        if self.tabs.currentWidget() is self.outputs and self.outputs.report is None:
            if self.outputs.output_dir is None and self.history.output_dir is not None:
                self.outputs.set_output_dir(self.history.output_dir)
            else:
                self.outputs.refresh()

    def _history_selected(self) -> None:
        paths = self.history.selected_paths()
        if len(paths) == 1:
            self.samples.set_run(paths[0])

    def new_config_from_run(self, config: str, dataset: str = "") -> bool:
        """Open a run's copied config (and dataset config) as new, unsaved documents."""
        w = self.window_
        if w is None or not hasattr(w, "session"):
            return False
        try:
            text = Path(config).read_text(encoding="utf-8")
            ds_text = Path(dataset).read_text(encoding="utf-8") if dataset else None
        except (OSError, UnicodeDecodeError) as e:
            self._message(f"Cannot read the run's config copy: {e}")
            return False
        if hasattr(w, "maybe_save") and not w.maybe_save("opening a config from a run"):
            return False
        w.session.new_from_text(text)
        if hasattr(w, "show_page"):
            w.show_page("config")
        if ds_text is not None:
            # another window like the one this page lives in (the main window; the page
            # does not import it: the main window imports the page)
            other = type(w)(w.session.registry)
            other.session.new_from_text(ds_text)
            other.setWindowTitle(f"Dataset config from {Path(dataset).parent.name} — dpgui")
            other.show()
            self._extra_windows.append(other)
        self._message(f"New config from run {Path(config).parent.name} (unsaved: Save As to keep it)")
        return True

    def _message(self, text: str) -> None:
        self.message.emit(text)
        w = self.window_
        if w is not None and hasattr(w, "statusBar"):
            w.statusBar().showMessage(text, 8000)

    # -------------------------------------------------------------- cleanup
    def shutdown(self) -> None:
        self.queue.shutdown()
        self.samples.timer.stop()
        self.gpu.stop()
        self.model.stop()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
