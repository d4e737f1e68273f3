"""Epoch estimate: items per epoch per directory, the global batch and steps per epoch,
with the main config's batch settings and a GPU count, from :mod:`..core.dataset.estimate`.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFrame, QGridLayout, QHBoxLayout, QHeaderView, QLabel,
                               QSpinBox, QTableWidget, QTableWidgetItem, QTextBrowser,
                               QVBoxLayout, QWidget)

from dpgui_qt.gui import icons


class _Figure(QFrame):
    def __init__(self, title: str, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        self.value = QLabel("–", self)
        f = QFont(self.value.font())
        f.setPointSizeF(f.pointSizeF() * 1.7)
        f.setBold(True)
        self.value.setFont(f)
        self.caption = QLabel(title, self)
        self.caption.setStyleSheet("color: gray")
        lay.addWidget(self.value)
        lay.addWidget(self.caption)

    def set(self, text: str, tip: str = "") -> None:
        self.value.setText(text)
        self.setToolTip(tip)


class EstimatePanel(QWidget):
    gpusChanged = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.gpus = QSpinBox(self)
        self.gpus.setRange(1, 64)
        self.gpus.setValue(1)
        self.gpus.setToolTip("GPUs the run uses (data parallel = GPUs / pipeline_stages)")
        self.gpus.valueChanged.connect(self.gpusChanged)
        self.source = QLabel(self)
        self.source.setWordWrap(True)
        self.source.setTextFormat(Qt.TextFormat.RichText)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("GPUs", self))
        top.addWidget(self.gpus)
        top.addSpacing(12)
        top.addWidget(self.source, 1)

        self.items = _Figure("items per epoch", self)
        self.batch = _Figure("global batch", self)
        self.steps = _Figure("steps per epoch", self)
        self.dropped = _Figure("items dropped per epoch", self)
        figs = QGridLayout()
        for i, w in enumerate((self.items, self.batch, self.steps, self.dropped)):
            figs.addWidget(w, 0, i)

        self.table = QTableWidget(0, 5, self)
        self.table.setHorizontalHeaderLabels(["Folder", "Files", "Repeats", "Resolutions",
                                              "Items / epoch"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        h = self.table.horizontalHeader()
        h.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, 5):
            h.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        self.notes = QTextBrowser(self)
        self.notes.setFrameShape(QFrame.Shape.NoFrame)
        self.notes.setMaximumHeight(150)

        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 6, 4, 0)
        lay.addLayout(top)
        lay.addLayout(figs)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.notes)
        self.estimate = None

    def show_estimate(self, est, source_html: str, scanned: bool) -> None:
        self.estimate = est
        self.source.setText(source_html)
        if est is None:
            for f in (self.items, self.batch, self.steps, self.dropped):
                f.set("–")
            self.table.setRowCount(0)
            self.notes.setHtml("<p style='color:gray'>"
                               + ("Scanning…" if not scanned else "Nothing to estimate.")
                               + "</p>")
            return
        approx = "≈ " if est.approximate else ""
        self.items.set(f"{approx}{est.items_per_epoch:,}",
                       "Sum over buckets of files × captions × num_repeats")
        self.batch.set(f"{est.global_batch}" if est.global_batch else "per size",
                       "micro_batch_size_per_gpu × gradient_accumulation_steps × data-parallel GPUs")
        self.steps.set(f"{approx}{est.steps_per_epoch:,}",
                       "Whole global batches per epoch (each bucket rounded down)")
        self.dropped.set(f"{est.dropped_items:,}",
                         "Items left over in buckets that are not a multiple of the global batch")
        self.table.setRowCount(len(est.directories))
        for r, d in enumerate(est.directories):
            vals = [d.path, f"{d.files:,}", f"{d.num_repeats:g}", str(d.resolutions),
                    f"{d.items_per_epoch:,}"]
            for c, v in enumerate(vals):
                it = QTableWidgetItem(v)
                if c:
                    it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if c == 4 and est.global_batch and 0 < d.items_per_epoch < est.global_batch:
                    it.setIcon(icons.warning_icon())
                    it.setToolTip("Fewer items than the global batch")
                self.table.setItem(r, c, it)
        rows = []
        for p in est.problems:
            color = {"error": "#d64545", "warning": "#b88600"}.get(p.severity, "#3d7fd6")
            where = f" <i>({html.escape(p.directory)})</i>" if p.directory else ""
            rows.append(f"<p><span style='color:{color}'><b>{p.severity}</b></span>: "
                        f"{html.escape(p.message)}{where}</p>")
        if est.approximate:
            rows.append("<p style='color:gray'>Approximate: some media have no known size or "
                        "frame count (videos) and are counted as square images or left out.</p>")
        if not rows:
            rows.append("<p style='color:gray'>Every bucket holds at least one global batch.</p>")
        self.notes.setHtml("".join(rows))
