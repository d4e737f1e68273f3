"""Pre-flight before every start: one dialog with everything that would stop or
spoil the run.

:func:`collect` gathers the findings (the core's ``preflight`` checks plus the
window's config validation, re-run with the GPU count, passed in through
``extra_checks``); :class:`PreflightDialog` lists them.  Errors block the start;
warnings allow "Start Anyway"; unsaved edits are offered for saving.

Tests replace the dialog with :func:`set_handler` (``handler(report) -> "start" |
"cancel"``), like ``messages.set_handler``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (QCheckBox, QDialog, QDialogButtonBox, QLabel, QListWidget,
                               QListWidgetItem, QPlainTextEdit, QPushButton, QVBoxLayout)

from dpgui_qt.core.run import env as envmod
from dpgui_qt.gui import icons


@dataclass
class PreflightReport:
    findings: list = field(default_factory=list)     # env.Finding, errors first
    unsaved: bool = False                            # the config has unsaved edits / no file
    untitled: bool = False
    command: str = ""
    save_first: bool = True                          # the user's choice in the dialog
    env: object = None                               # EnvSettings (for the Doctor button)
    values: dict | None = None                       # the config's values (for the Doctor)

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list:
        return [f for f in self.findings if not f.is_error]

    @property
    def clean(self) -> bool:
        return not self.findings and not self.unsaved


Handler = Callable[[PreflightReport], str]
_handler: Handler | None = None


def set_handler(handler: Handler | None) -> None:
    global _handler
    _handler = handler


def session_check(findings: list, file_label: str = "") -> envmod.Check:
    """An ``extra_checks`` entry reporting the config validator's findings."""
    def check(_ctx):
        for f in findings:
            where = f.key if f.path else (f.file or file_label or "config")
            yield envmod.Finding("error" if f.is_error else "warning", f"config:{f.rule}",
                                 f"{where}: {f.message}",
                                 "Fix it in the Config tab (see the Problems panel).")
    return check


def ask(parent, report: PreflightReport) -> str:
    """"start" or "cancel" (the dialog, or the test handler)."""
    if _handler is not None:
        return _handler(report)
    dlg = PreflightDialog(report, parent)
    return "start" if dlg.exec() == QDialog.DialogCode.Accepted else "cancel"


class PreflightDialog(QDialog):
    def __init__(self, report: PreflightReport, parent=None):
        super().__init__(parent)
        self.report = report
        self.setObjectName("PreflightDialog")
        self.setWindowTitle("Before Starting Training")
        self.setMinimumWidth(680)
        lay = QVBoxLayout(self)
        e, w = len(report.errors), len(report.warnings)
        if e:
            head = (f"<b>{e} problem{'s' if e != 1 else ''} must be fixed before training can "
                    f"start.</b>")
        elif w:
            head = f"<b>{w} warning{'s' if w != 1 else ''}.</b> Training can start, but check them first."
        else:
            head = "<b>All checks passed.</b>"
        title = QLabel(head, self)
        title.setTextFormat(Qt.TextFormat.RichText)
        title.setWordWrap(True)
        lay.addWidget(title)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        for f in report.findings:
            text = f.message + (f"\n→ {f.fix}" if f.fix else "")
            it = QListWidgetItem(icons.error_icon() if f.is_error else icons.warning_icon(), text)
            it.setToolTip(f"[{f.code}] {text}")
            self.list.addItem(it)
        if report.findings:
            lay.addWidget(self.list, 1)
        else:
            self.list.hide()
        self.save_box = QCheckBox(
            "Save the config first (required: diffusion-pipe reads the file)" if report.untitled
            else "The config has unsaved edits: save them before starting", self)
        self.save_box.setChecked(True)
        self.save_box.setEnabled(not report.untitled)
        self.save_box.setVisible(report.unsaved)
        self.save_box.toggled.connect(self._update)
        self.note = QLabel("", self)
        self.note.setWordWrap(True)
        lay.addWidget(self.save_box)
        lay.addWidget(self.note)
        if report.command:
            lay.addWidget(QLabel("Command:", self))
            cmd = QPlainTextEdit(report.command, self)
            cmd.setReadOnly(True)
            f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            f.setStyleHint(QFont.StyleHint.Monospace)
            cmd.setFont(f)
            cmd.setMaximumHeight(72)
            lay.addWidget(cmd)
        self.buttons = QDialogButtonBox(self)
        self.start_btn = QPushButton("Start Anyway" if w and not e else "Start Training", self)
        self.start_btn.setDefault(not e)
        self.buttons.addButton(self.start_btn, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.doctor_btn = self.buttons.addButton("Doctor…", QDialogButtonBox.ButtonRole.HelpRole)
        self.doctor_btn.setToolTip("Examine the training environment (torch, CUDA, driver, "
                                   "deepspeed, checkout) with exact fixes")
        self.doctor_btn.clicked.connect(lambda: self.open_doctor())
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._update()

    def open_doctor(self, modal: bool = True):
        from dpgui_qt.gui.doctor_dialog import show_doctor

        return show_doctor(self, getattr(self.report, "env", None), getattr(self.report, "values", None),
                           modal=modal)

    def _update(self) -> None:
        blocked = bool(self.report.errors)
        if self.report.unsaved and not self.save_box.isChecked():
            self.note.setText("diffusion-pipe reads the file on disk: without saving, it trains "
                              "on the last saved version, not on what you see.")
        else:
            self.note.setText("")
        self.start_btn.setEnabled(not blocked)
        self.start_btn.setVisible(not blocked)

    def _accept(self) -> None:
        self.report.save_first = self.save_box.isChecked() or self.report.untitled
        self.accept()
