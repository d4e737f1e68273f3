"""The Run page's right side: which run to show, the console with its search and
follow controls, links to the log and run folder, and a footer line."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from dpgui_qt.gui.run.console import ConsoleSearchBar, ConsoleView


class ConsolePane(QWidget):
    """The console and its bar; the page fills the run list and connects the buttons."""

    def __init__(self, max_rows: int, parent=None):
        super().__init__(parent)
        rl = QVBoxLayout(self)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.setSpacing(4)
        bar = QHBoxLayout()
        self.session_combo = QComboBox(self)
        self.session_combo.setToolTip("Runs started from this machine (newest first); pick one "
                                      "to see its output")
        self.session_combo.setMinimumContentsLength(28)
        bar.addWidget(QLabel("Run:", self))
        bar.addWidget(self.session_combo)
        self.console = ConsoleView(self, max_rows=max_rows)
        self.search = ConsoleSearchBar(self.console, self)
        bar.addWidget(self.search, 1)
        self._build_buttons(bar)
        rl.addLayout(bar)
        rl.addWidget(self.console, 1)
        self.footer = QLabel("", self)
        self.footer.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.footer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.footer.setStyleSheet("color: palette(placeholder-text);")
        rl.addWidget(self.footer)

    def _build_buttons(self, bar: QHBoxLayout) -> None:
        self.follow_btn = QToolButton(self)
        self.follow_btn.setText("⤓ Follow")
        self.follow_btn.setCheckable(True)
        self.follow_btn.setChecked(True)
        self.follow_btn.setToolTip("Keep the newest output in view (scroll up to pause)")
        self.follow_btn.toggled.connect(self.console.set_following)
        self.console.followChanged.connect(self.follow_btn.setChecked)
        bar.addWidget(self.follow_btn)
        self.log_btn = QToolButton(self)
        self.log_btn.setText("Log File")
        self.log_btn.setToolTip("Open the full console log")
        self.folder_btn = QToolButton(self)
        self.folder_btn.setText("Run Folder")
        self.folder_btn.setToolTip("Open the run folder (checkpoints, saved models)")
        bar.addWidget(self.log_btn)
        bar.addWidget(self.folder_btn)
