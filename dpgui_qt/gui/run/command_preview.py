"""The Run page's command box: the exact command a start runs, where it runs, and
buttons to copy it (as a shell line, or as a headless ``dpgui launch``)."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QGroupBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton,
                               QSizePolicy, QVBoxLayout)

from dpgui_qt.gui.run.header import mono_font


class _CompactText(QPlainTextEdit):
    """A text box that asks for little height and takes what is left: the side panel's
    height-for-width then fits 1280x800 without a scroll bar."""

    def sizeHint(self):
        h = super().sizeHint()
        h.setHeight(self.minimumHeight() or 60)
        return h


class CommandPreview(QGroupBox):
    """Shows a command (or why there is none); the page connects the copy buttons."""

    def __init__(self, parent=None):
        super().__init__("Command", parent)
        cl = QVBoxLayout(self)
        self.preview = _CompactText(self)
        self.preview.setObjectName("CommandPreview")
        self.preview.setReadOnly(True)
        self.preview.setFont(mono_font())
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.preview.setMinimumHeight(60)
        cl.addWidget(self.preview, 1)
        self.preview_info = QLabel(self)
        self.preview_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_info.setStyleSheet("color: palette(placeholder-text);")
        cl.addWidget(self.preview_info)
        crow = QHBoxLayout()
        self.copy_btn = QPushButton("Copy", self)
        self.copy_btn.setToolTip("Copy the command (cd, variables and deepspeed) to paste into "
                                 "a terminal")
        self.copy_cli_btn = QPushButton("Copy as dpgui launch", self)
        self.copy_cli_btn.setToolTip("The same run as a headless `dpgui launch` command (e.g. "
                                     "over SSH)")
        crow.addWidget(self.copy_btn)
        crow.addWidget(self.copy_cli_btn)
        crow.addStretch(1)
        cl.addLayout(crow)

    def show_error(self, message: str) -> None:
        """No command can be built: say why, and nothing to copy."""
        self.preview.setPlainText(f"# cannot build the command: {message}")
        self.preview_info.setText("")
        self.copy_btn.setEnabled(False)

    def show_command(self, text: str, where: str, details: str) -> None:
        """``where``: one line under the box; ``details``: the tooltip of both."""
        self.copy_btn.setEnabled(True)
        self.preview.setPlainText(text)
        self.preview_info.setText(where)        # one line; the variables are in the command
        self.preview_info.setToolTip(details)
        self.preview.setToolTip(details)
