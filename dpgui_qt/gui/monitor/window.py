"""The ``dpgui monitor`` window: the monitor page on its own."""
from __future__ import annotations

from PySide6.QtWidgets import QMainWindow

from dpgui_qt.gui import icons

from .page import MonitorPage

__all__ = ["MonitorWindow"]


class MonitorWindow(QMainWindow):
    def __init__(self, sampler=None, parent=None):
        super().__init__(parent)
        self.setObjectName("MonitorWindow")
        self.setWindowTitle("dpgui monitor")
        self.setWindowIcon(icons.app_icon())
        self.page = MonitorPage(window=self, sampler=sampler)
        self.model = self.page.model
        self.view = self.page.view
        self.setCentralWidget(self.page)
        self.model.sourceChanged.connect(self._title)
        self.resize(1400, 900)

    def _title(self) -> None:
        src = self.model.describe_source()
        self.setWindowTitle(f"{src} — dpgui monitor" if src else "dpgui monitor")

    def closeEvent(self, event) -> None:
        self.page.shutdown()
        super().closeEvent(event)
