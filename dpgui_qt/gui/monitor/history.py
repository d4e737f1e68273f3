"""Run history: the runs in ``output_dir``, their curves overlaid, config diffs.

Summaries and curves are read in background threads (a run folder's log can be
large); results come back through queued signals.
"""
from __future__ import annotations

from typing import Any

import html
import math
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QFontDatabase
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout,
                               QHeaderView, QLabel, QPushButton, QSplitter, QTextEdit,
                               QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from dpgui_qt.gui.workers import ResultPump
from dpgui_qt.core.monitor.history import RunSummary, config_diff, load_run_metrics, summarize_run
from dpgui_qt.core.run.runs import list_runs

__all__ = ["RunHistoryView", "ConfigDiffDialog", "RUN_COLORS", "human_size"]

RUN_COLORS = [(38, 110, 220), (230, 90, 20), (30, 150, 80), (160, 40, 170), (200, 30, 60),
              (20, 160, 170), (150, 120, 0), (90, 90, 90)]
STATUS_COLORS = {"finished": "#2e7d32", "failed": "#c62828", "stopped": "#ef6c00",
                 "running": "#1565c0", "unknown": "#757575"}
PATH_ROLE = Qt.ItemDataRole.UserRole + 1


def human_size(n: int | None) -> str:
    if n is None:
        return "—"
    size: float = n
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)


class ConfigDiffDialog(QDialog):
    def __init__(self, a: Path, b: Path, parent=None):
        super().__init__(parent)
        self.setWindowTitle(f"Config diff: {a.parent.name} → {b.parent.name}")
        self.resize(820, 600)
        lay = QVBoxLayout(self)
        from dpgui_qt.core.errors import DocumentError

        problem = ""
        try:
            self.rows = config_diff(a, b)
        except DocumentError as exc:  # a copy that is gone, too large, or not a file
            self.rows, problem = [], str(exc)
        self.view = QTextEdit(self)
        self.view.setReadOnly(True)
        self.view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        lay.addWidget(QLabel(f"<b>{html.escape(str(a))}</b><br>→ <b>{html.escape(str(b))}</b>", self))
        if problem:
            self.view.setPlainText(f"Cannot compare the configs: {problem}")
        elif not self.rows:
            self.view.setPlainText("The two configs are identical.")
        else:
            colors = {"+": ("#1b5e20", "#e8f5e9"), "-": ("#b71c1c", "#ffebee"),
                      "@": ("#0d47a1", "transparent"), "h": ("#616161", "transparent"),
                      " ": (None, "transparent")}
            out = []
            for kind, line in self.rows:
                fg, bg = colors.get(kind, (None, "transparent"))
                style = f"background:{bg};" + (f"color:{fg};" if fg else "")
                out.append(f"<div style='{style} white-space:pre'>{html.escape(line) or '&nbsp;'}</div>")
            self.view.setHtml("".join(out))
        lay.addWidget(self.view, 1)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)


class RunHistoryView(QWidget):
    """Runs in an output_dir. ``openRun(path)`` asks the monitor to show a run."""

    openRun = Signal(str)
    newConfigFromRun = Signal(str, str)     # the run's config copy, its dataset copy ("" if none)
    loaded = Signal()
    curvesLoaded = Signal(str)

    COLUMNS = ["Run", "Started", "Model", "Last step", "Last loss", "Status", "Saved models",
               "Checkpoints", "Size"]

    def __init__(self, parent=None):
        super().__init__(parent)
        self.output_dir: Path | None = None
        self.summaries: list[RunSummary] = []
        self.overlays: dict[str, tuple[Any, ...]] = {}     # path -> (curve item, metrics)
        self.smoothing = 0.9
        self._gen = 0
        self._pump = ResultPump(self)  # run folders and curves are read off the GUI thread
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        self.title = QLabel("No output_dir", self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.title, 1)
        self.refresh_button = QPushButton("Refresh", self)
        self.show_button = QPushButton("Show curves", self)
        self.show_button.setToolTip("Show the selected run in the Curves tab (follows it if it "
                                    "is still training)")
        self.compare_button = QPushButton("Compare", self)
        self.compare_button.setToolTip("Overlay the smoothed loss of the selected runs below")
        self.diff_button = QPushButton("Config diff", self)
        self.diff_button.setToolTip("Differences between the configs of two selected runs")
        self.folder_button = QPushButton("Open folder", self)
        self.clone_button = QPushButton("New config from this run", self)
        self.clone_button.setToolTip("Open the run's copied config (and dataset config) as new, "
                                     "unsaved documents")
        for b in (self.refresh_button, self.show_button, self.compare_button, self.diff_button,
                  self.folder_button, self.clone_button):
            top.addWidget(b)
        lay.addLayout(top)
        split = QSplitter(Qt.Orientation.Vertical, self)
        self.tree = QTreeWidget(split)
        self.tree.setColumnCount(len(self.COLUMNS))
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.tree.setSortingEnabled(False)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(False)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemDoubleClicked.connect(lambda _i, _c: self.show_selected())
        self.compare_plot = pg.PlotWidget(split)
        self.compare_plot.setLabel("bottom", "step")
        self.compare_plot.setLabel("left", "smoothed loss")
        self.compare_plot.showGrid(x=True, y=True, alpha=0.15)
        self.compare_legend = self.compare_plot.addLegend(offset=(-10, 10))
        split.addWidget(self.tree)
        split.addWidget(self.compare_plot)
        split.setSizes([260, 300])
        lay.addWidget(split, 1)
        self.status = QLabel(self)
        lay.addWidget(self.status)
        self.refresh_button.clicked.connect(self.refresh)
        self.show_button.clicked.connect(self.show_selected)
        self.compare_button.clicked.connect(self.compare_selected)
        self.diff_button.clicked.connect(self.diff_selected)
        self.folder_button.clicked.connect(self.open_folder)
        self.clone_button.clicked.connect(lambda: self.clone_selected())
        self._update_buttons()

    # ------------------------------------------------------------- loading
    def set_output_dir(self, path: str | Path | None) -> None:
        p = Path(path).expanduser() if path else None
        if p == self.output_dir and self.summaries:
            return
        self.output_dir = p
        self.refresh()

    def refresh(self) -> None:
        self._gen += 1
        gen = self._gen
        if self.output_dir is None:
            self.title.setText("Set <b>output_dir</b> in the config to list its runs.")
            self.tree.clear()
            return
        self.title.setText(f"Runs in <b>{html.escape(str(self.output_dir))}</b>")
        self.status.setText("Reading run folders…")
        out = self.output_dir

        self._pump.submit(lambda: [summarize_run(r) for r in list_runs(out)],
                          lambda res, gen=gen: self._got_summaries(gen, res),
                          name="dpgui-run-history")

    def _got_summaries(self, gen, res) -> None:
        if gen != self._gen:
            return
        if isinstance(res, Exception):
            self.status.setText(f"Could not read the run folders: {res}")
            return
        self.summaries = res
        self.tree.clear()
        for s in res:
            self.tree.addTopLevelItem(self._item(s))
        self.status.setText(f"{len(res)} run{'s' if len(res) != 1 else ''}" if res else
                            "No run folders yet (diffusion-pipe names them by UTC start time).")
        self.loaded.emit()

    def _item(self, s: RunSummary) -> QTreeWidgetItem:
        f = s.folder
        started = f.started.astimezone().strftime("%Y-%m-%d %H:%M") if f.started else "—"
        loss = "—" if s.last_loss is None else (f"{s.last_loss:.4f}" if math.isfinite(s.last_loss)
                                               else str(s.last_loss))
        saves = ", ".join(m.name for m in f.saves[:4]) + (" …" if len(f.saves) > 4 else "")
        item = QTreeWidgetItem([
            f.name, started, f.model_type or "—",
            "—" if s.last_step is None else str(s.last_step), loss, s.status,
            f"{len(f.saves)}: {saves}" if f.saves else "none",
            (f"{len(f.checkpoints)} (latest {f.latest_tag})" if f.latest_tag else
             str(len(f.checkpoints)) if f.checkpoints else "none"),
            human_size(f.size_bytes)])
        item.setData(0, PATH_ROLE, str(f.path))
        item.setForeground(5, QColor(STATUS_COLORS.get(s.status, "#757575")))
        item.setToolTip(5, s.status_title or s.status)
        if f.saves:
            item.setToolTip(6, "\n".join(f"{m.name}  {human_size(m.size_bytes)}" for m in f.saves))
        item.setToolTip(0, str(f.path) + ("" if s.log_path is None else f"\nlog: {s.log_path}"))
        for col in (3, 4, 8):
            item.setTextAlignment(col, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    # ------------------------------------------------------------- actions
    def selected_paths(self) -> list[Path]:
        return [Path(i.data(0, PATH_ROLE)) for i in self.tree.selectedItems()]

    def select(self, names: list[str]) -> None:
        self.tree.clearSelection()
        for i in range(self.tree.topLevelItemCount()):
            it = self.tree.topLevelItem(i)
            if it.text(0) in names:
                it.setSelected(True)

    def _update_buttons(self) -> None:
        n = len(self.tree.selectedItems())
        self.show_button.setEnabled(n == 1)
        self.compare_button.setEnabled(n >= 1)
        self.diff_button.setEnabled(n == 2)
        self.folder_button.setEnabled(n == 1 or (n == 0 and self.output_dir is not None))
        s = self._summary(self.selected_paths()[0]) if n == 1 else None
        self.clone_button.setEnabled(s is not None and s.folder.config_copy is not None)

    def clone_selected(self) -> bool:
        paths = self.selected_paths()
        s = self._summary(paths[0]) if len(paths) == 1 else None
        if s is None or s.folder.config_copy is None:
            return False
        from dpgui_qt.core.monitor.outputs import scan_run
        ds = scan_run(s.path).dataset_copy
        self.newConfigFromRun.emit(str(s.folder.config_copy), str(ds or ""))
        return True

    def show_selected(self) -> None:
        paths = self.selected_paths()
        if len(paths) == 1:
            self.openRun.emit(str(paths[0]))

    def open_folder(self) -> bool:
        paths = self.selected_paths()
        target = paths[0] if paths else self.output_dir
        if target is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))

    def _summary(self, path: Path) -> RunSummary | None:
        return next((s for s in self.summaries if s.path == path), None)

    def diff_selected(self) -> ConfigDiffDialog | None:
        paths = self.selected_paths()
        if len(paths) != 2:
            return None
        # older run first
        paths.sort(key=lambda p: p.name)
        cfgs: list[Path | None] = []
        for p in paths:
            s = self._summary(p)
            cfgs.append(s.folder.config_copy if s else None)
        if None in cfgs:
            missing = [p.name for p, c in zip(paths, cfgs) if c is None]
            self.status.setText(f"No config copy in {', '.join(missing)} (diffusion-pipe copies "
                                "the config into fresh runs only).")
            return None
        older, newer = cfgs[0], cfgs[1]
        assert older is not None and newer is not None  # None in cfgs was answered above
        dlg = ConfigDiffDialog(older, newer, self)
        dlg.setModal(False)
        dlg.show()
        return dlg

    def compare_selected(self) -> None:
        paths = self.selected_paths()
        wanted = {str(p) for p in paths}
        for key in list(self.overlays):
            if key not in wanted:
                item, _m = self.overlays.pop(key)
                self.compare_plot.removeItem(item)
                self.compare_legend.removeItem(item)
        todo = [p for p in paths if str(p) not in self.overlays]
        if todo:
            self.status.setText(f"Reading {len(todo)} run{'s' if len(todo) != 1 else ''}…")
        for p in todo:
            self.overlays[str(p)] = (None, None)
            sm = self.smoothing

            self._pump.submit(lambda p=p, sm=sm: load_run_metrics(p, smoothing=sm),
                              lambda res, key=str(p): self._got_curves(key, res),
                              name="dpgui-run-curves")

    def _got_curves(self, key: str, res) -> None:
        if key not in self.overlays:
            return
        if isinstance(res, Exception):
            self.overlays.pop(key, None)
            self.status.setText(f"Could not read {Path(key).name}: {res}")
            return
        loss = res.main_loss()
        idx = sorted(self.overlays).index(key)
        col = RUN_COLORS[idx % len(RUN_COLORS)]
        xs, ys = loss.decimate(max_points=4000, smoothed=True)
        item = self.compare_plot.plot(xs, ys, pen=pg.mkPen(col, width=2), name=Path(key).name,
                                      connect="finite")
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self.overlays[key] = (item, res)
        if not len(loss):
            self.status.setText(f"{Path(key).name}: no loss values (no log and no TensorBoard "
                                "train/loss).")
        else:
            self.status.setText(f"{len([v for v in self.overlays.values() if v[0] is not None])} "
                                "run(s) overlaid")
        self.curvesLoaded.emit(key)

    def set_smoothing(self, w: float) -> None:
        self.smoothing = w
        for item, m in self.overlays.values():
            if item is None:
                continue
            m.set_smoothing(w)
            xs, ys = m.main_loss().decimate(max_points=4000, smoothed=True)
            item.setData(xs, ys)
