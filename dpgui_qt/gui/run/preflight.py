"""Pre-flight before every start: one dialog with what the launch gate found.

:func:`dpgui_qt.core.run.gate.run_gate` checks the files on disk (the page has
already asked to save every edited document); :class:`PreflightDialog` lists the
findings.  Errors block "Start Training"; "Launch Anyway…" overrides them after a
confirmation that names them.  "Check Again" re-runs the gate, and findings with a
one-click fix (a relative path that only exists next to the config: make it
absolute) get a button.  The dialog is skipped when the gate found nothing.

Tests replace the dialog with :func:`set_handler` (``handler(report) -> "start" |
"force" | "cancel"``), like ``messages.set_handler``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QListWidget, QListWidgetItem,
                               QPlainTextEdit, QPushButton, QVBoxLayout, QWidget)

from dpgui_qt.gui import icons, messages


@dataclass
class PreflightReport:
    findings: list = field(default_factory=list)     # preflight.PreflightIssue, errors first
    files: list = field(default_factory=list)        # the documents the gate read
    command: str = ""
    saved: list = field(default_factory=list)        # documents saved for this start
    recheck: Callable[[], "PreflightReport"] | None = None   # run the gate again
    fix: Callable[[list], bool] | None = None        # apply one-click fixes (actions)
    env: object = None                               # EnvSettings (for the Doctor button)
    values: dict | None = None                       # the config's values (for the Doctor)

    @property
    def errors(self) -> list:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list:
        return [f for f in self.findings if not f.is_error]

    @property
    def fixes(self) -> list:
        return [f.action for f in self.findings if getattr(f, "action", None)]

    @property
    def clean(self) -> bool:
        return not self.findings


def finding_text(f) -> str:
    key = getattr(f, "key", "")
    where = f"{key}: " if key and not f.message.startswith(f"set {key}:") else ""
    return f"{where}{f.message}" + (f"\n→ {f.fix}" if f.fix else "")


Handler = Callable[[PreflightReport], str]
_handler: Handler | None = None


def set_handler(handler: Handler | None) -> None:
    global _handler
    _handler = handler


def ask(parent, report: PreflightReport) -> tuple[str, PreflightReport]:
    """("start" | "force" | "cancel", the last report) from the dialog or the test handler."""
    if _handler is not None:
        return _handler(report), report
    dlg = PreflightDialog(report, parent)
    dlg.exec()
    return dlg.answer, dlg.report


class PreflightDialog(QDialog):
    def __init__(self, report: PreflightReport, parent=None):
        super().__init__(parent)
        self.report = report
        self.answer = "cancel"
        self.setObjectName("PreflightDialog")
        self.setWindowTitle("Before Starting Training")
        lay = QVBoxLayout(self)
        self.head = QLabel(self)
        self.head.setTextFormat(Qt.TextFormat.RichText)
        self.head.setWordWrap(True)
        lay.addWidget(self.head)
        self.files = QLabel(self)
        self.files.setWordWrap(True)
        self.files.setStyleSheet("color: palette(placeholder-text);")
        lay.addWidget(self.files)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        self.list.setTextElideMode(Qt.TextElideMode.ElideNone)
        lay.addWidget(self.list, 1)
        self.fix_btn = QPushButton(self)
        self.fix_btn.clicked.connect(lambda: self._fix())
        lay.addWidget(self.fix_btn, 0, Qt.AlignmentFlag.AlignLeft)
        self.cmd = None
        if report.command:
            lay.addWidget(QLabel("Command:", self))
            self.cmd = QPlainTextEdit(report.command, self)
            self.cmd.setReadOnly(True)
            f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            f.setStyleHint(QFont.StyleHint.Monospace)
            self.cmd.setFont(f)
            self.cmd.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            self.cmd.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
            self.cmd.setMaximumHeight(80)
            lay.addWidget(self.cmd)
        self.buttons = QDialogButtonBox(self)
        self.check_btn = QPushButton("Check Again", self)
        self.check_btn.setToolTip("Run the checks again on the files on disk")
        self.check_btn.clicked.connect(lambda: self.check())
        self.buttons.addButton(self.check_btn, QDialogButtonBox.ButtonRole.ResetRole)
        self.force_btn = QPushButton("Launch Anyway…", self)
        self.force_btn.clicked.connect(lambda: self._force())
        self.buttons.addButton(self.force_btn, QDialogButtonBox.ButtonRole.ActionRole)
        self.start_btn = QPushButton(icons.themed("run"), "Start Training", self)
        self.start_btn.clicked.connect(lambda: self._done("start"))
        self.buttons.addButton(self.start_btn, QDialogButtonBox.ButtonRole.AcceptRole)
        self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.doctor_btn = self.buttons.addButton("Doctor…", QDialogButtonBox.ButtonRole.HelpRole)
        self.doctor_btn.setToolTip("Examine the training environment (torch, CUDA, driver, "
                                   "deepspeed, checkout) with exact fixes")
        self.doctor_btn.clicked.connect(lambda: self.open_doctor())
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self._fill()
        self._fit()

    def _fit(self) -> None:
        """A comfortable size that never exceeds the screen."""
        parent = self.parent()
        screen = (parent.screen() if isinstance(parent, QWidget) else None) or \
            QGuiApplication.primaryScreen()
        avail = screen.availableGeometry() if screen is not None else None
        w, h = 760, 520
        if avail is not None:
            w, h = min(w, avail.width() - 40), min(h, avail.height() - 80)
            self.setMaximumSize(avail.width(), avail.height())
        self.resize(w, h)

    def _fill(self) -> None:
        rep = self.report
        e, w = len(rep.errors), len(rep.warnings)
        if e:
            also = f" (and {w} warning{'s' if w != 1 else ''})" if w else ""
            head = (f"<b>{e} error{'s' if e != 1 else ''} would stop this run{also}.</b> "
                    "Fix them and press Check Again, or launch anyway.")
        elif w:
            head = (f"<b>{w} warning{'s' if w != 1 else ''}.</b> Training can start, but check "
                    "them first.")
        else:
            head = "<b>All checks passed.</b> diffusion-pipe should start with these files."
        self.head.setText(head)
        self.files.setText("Checked on disk: " + ", ".join(rep.files) if rep.files else "")
        self.files.setVisible(bool(rep.files))
        self.list.clear()
        for f in rep.findings:
            text = finding_text(f)
            it = QListWidgetItem(icons.error_icon() if f.is_error else icons.warning_icon(), text)
            it.setToolTip(f"[{f.code}] {text}")
            self.list.addItem(it)
        self.list.setVisible(bool(rep.findings))
        n = len(rep.fixes)
        self.fix_btn.setText(f"Make {n} Path{'s' if n != 1 else ''} Absolute")
        self.fix_btn.setToolTip("Write the paths that only exist next to the config as "
                                "absolute paths and save")
        self.fix_btn.setVisible(bool(n) and rep.fix is not None)
        self.check_btn.setVisible(rep.recheck is not None)
        self.start_btn.setVisible(not e)
        self.start_btn.setText("Start Anyway" if w else "Start Training")
        self.start_btn.setDefault(not e)
        self.force_btn.setVisible(bool(e))
        self.force_btn.setToolTip("Start the trainer although these errors will most likely "
                                  "stop it")

    def open_doctor(self, modal: bool = True):
        from dpgui_qt.gui.run.doctor_dialog import show_doctor

        return show_doctor(self, getattr(self.report, "env", None),
                           getattr(self.report, "values", None), modal=modal)

    def check(self) -> None:
        if self.report.recheck is None:
            return
        self.report = self.report.recheck()
        self._fill()

    def _fix(self) -> None:
        if self.report.fix is not None and self.report.fix(self.report.fixes):
            self.check()

    def _force(self) -> None:
        errs = self.report.errors
        listed = "\n".join(f"• {finding_text(f).splitlines()[0]}" for f in errs[:8])
        more = f"\n… and {len(errs) - 8} more" if len(errs) > 8 else ""
        ans = messages.ask(self, "Launch anyway?",
                           f"Start training despite {len(errs)} error{'s' if len(errs) != 1 else ''}?",
                           f"{listed}{more}\n\ndiffusion-pipe will most likely stop on "
                           f"{'these' if len(errs) != 1 else 'this'}, possibly after loading "
                           "the model for minutes.", ("Launch Anyway", "cancel"), "cancel")
        if ans == "Launch Anyway":
            self._done("force")

    def _done(self, answer: str) -> None:
        self.answer = answer
        self.accept()
