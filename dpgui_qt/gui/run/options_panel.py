"""The Run page's left column, top: where training runs (:class:`EnvironmentBox`) and
how this run starts (:class:`RunOptionsPanel`: resume, and the train.py switches of
:mod:`dpgui_qt.core.run.switches`, e.g. the dataset dump folder)."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPushButton,
                               QSizePolicy, QToolButton, QVBoxLayout)

from dpgui_qt.core.run import switches as train_switches
from dpgui_qt.gui.run.launch_settings import RunOptions


class EnvironmentBox(QGroupBox):
    """What was found (checkout, deepspeed, GPUs...) with Change… and Doctor… beside it."""

    def __init__(self, parent=None):
        super().__init__("Environment", parent)
        el = QHBoxLayout(self)        # the buttons beside the status: the page fits 1280x800
        self.env_label = QLabel(self)
        self.env_label.setTextFormat(Qt.TextFormat.RichText)
        self.env_label.setWordWrap(True)
        self.env_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        el.addWidget(self.env_label, 1)
        self.env_btn = QPushButton("Change…", self)
        self.env_btn.setToolTip("diffusion-pipe checkout, Python environment, GPUs, port, NCCL "
                                "and extra variables (Run ▸ Environment…)")
        self.doctor_btn = QPushButton("Doctor…", self)
        self.doctor_btn.setToolTip("Check this environment: torch and its CUDA/GPU architectures, "
                                   "driver, deepspeed, flash-attn, requirements, submodules, disk")
        eb = QVBoxLayout()
        eb.setSpacing(2)
        eb.addWidget(self.env_btn)
        eb.addWidget(self.doctor_btn)
        eb.addStretch(1)
        el.addLayout(eb)


class RunOptionsPanel(QGroupBox):
    """Resume from, and the train.py switches (check boxes and folder fields).
    ``changed`` on every edit by the user (not on :meth:`set_options` or
    :meth:`set_resume_candidates`)."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("Run options", parent)
        ol = QFormLayout(self)
        ol.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        ol.addRow("Resume from:", self._build_resume_row())
        self.switches: dict[str, QCheckBox] = {}
        self.switch_fields: dict[str, QLineEdit] = {}
        self._build_switches(ol)

    def _build_resume_row(self) -> QHBoxLayout:
        rrow = QHBoxLayout()
        self.resume_combo = QComboBox(self)
        self.resume_combo.setToolTip("Resume from a run folder in output_dir that holds a "
                                     "checkpoint (newest first). The folder is passed by name, "
                                     "never as the bare flag, which would pick the newest folder "
                                     "even when it has no checkpoint.")
        self.resume_combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
        self.resume_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.resume_combo.setMinimumContentsLength(14)
        self.resume_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        rrow.addWidget(self.resume_combo, 1)
        self.refresh_btn = QToolButton(self)
        self.refresh_btn.setText("⟳")
        self.refresh_btn.setToolTip("Look for run folders again")
        rrow.addWidget(self.refresh_btn)
        return rrow

    def _build_switches(self, form: QFormLayout) -> None:
        """One check box per on/off train.py switch (two columns: the page fits 1280x800
        without scrolling), one folder field per path switch, from the core table."""
        grid = QGridLayout()
        grid.setSpacing(2)
        grid.setHorizontalSpacing(10)
        form.addRow(grid)
        for switch in train_switches.TRAIN_SWITCHES:
            if switch.kind == "bool":
                cb = QCheckBox(switch.label, self)
                cb.setToolTip(switch.tooltip())
                cb.toggled.connect(lambda _on: self.changed.emit())
                n = len(self.switches)
                self.switches[switch.name] = cb
                grid.addWidget(cb, n // 2, n % 2)
                continue
            drow = QHBoxLayout()
            edit = QLineEdit(self)
            edit.setPlaceholderText("off")
            edit.setToolTip(switch.tooltip())
            edit.textChanged.connect(lambda _t: self.changed.emit())
            dpick = QToolButton(self)
            dpick.setText("…")
            dpick.clicked.connect(lambda _c=False, n=switch.name: self.pick_folder(n))
            drow.addWidget(edit, 1)
            drow.addWidget(dpick)
            self.switch_fields[switch.name] = edit
            form.addRow(f"{switch.label}:", drow)

    # ------------------------------------------------------------------ values
    def options(self) -> RunOptions:
        o = RunOptions()
        idx = self.resume_combo.currentIndex()
        o.resume = self.resume_combo.itemData(idx) or "" if idx >= 0 else ""
        for name, cb in self.switches.items():
            o.switches[name] = cb.isChecked()
        for name, edit in self.switch_fields.items():
            o.switches[name] = edit.text().strip()
        return o

    def set_options(self, opts: RunOptions) -> None:
        """Show ``opts`` (no ``changed``)."""
        for name, cb in self.switches.items():
            cb.blockSignals(True)
            cb.setChecked(bool(opts.switch(name)))
            cb.blockSignals(False)
        for name, edit in self.switch_fields.items():
            edit.blockSignals(True)
            edit.setText(str(opts.switch(name)))
            edit.blockSignals(False)
        if opts.resume and self.resume_combo.findData(opts.resume) < 0:
            self.resume_combo.addItem(opts.resume, opts.resume)
        self.resume_combo.blockSignals(True)
        self.resume_combo.setCurrentIndex(max(0, self.resume_combo.findData(opts.resume or "")))
        self.resume_combo.blockSignals(False)

    def set_resume_candidates(self, cands) -> bool:
        """Offer the run folders with a checkpoint (newest first), keeping the choice when
        it is still there. False when the chosen folder has gone (the selection fell back
        to a fresh run)."""
        combo = self.resume_combo
        cur = combo.currentData() or ""
        combo.blockSignals(True)
        combo.clear()
        combo.addItem("Fresh run (no resume)", "")
        for r in cands:
            when = r.started.strftime("%Y-%m-%d %H:%M UTC") if r.started else r.name
            tag = f" · {r.latest_tag}" if r.latest_tag else ""
            combo.addItem(f"{r.name}{tag}", r.name)
            combo.setItemData(combo.count() - 1,
                              f"{r.path}\nstarted {when}; checkpoint {r.latest_tag}",
                              Qt.ItemDataRole.ToolTipRole)
        if not cands:
            combo.addItem("(no run folder with a checkpoint)", None)
            m = combo.model()
            assert isinstance(m, QStandardItemModel)        # a QComboBox's own model
            m.item(combo.count() - 1).setEnabled(False)
        i = combo.findData(cur) if cur else 0
        combo.setCurrentIndex(max(0, i))
        combo.blockSignals(False)
        return not (cur and i < 0)

    def pick_folder(self, name: str) -> None:
        """Browse for the folder of path switch ``name``."""
        edit = self.switch_fields[name]
        d = QFileDialog.getExistingDirectory(self, train_switches.switch(name).help,
                                             edit.text() or os.path.expanduser("~"))
        if d:
            edit.setText(d)
