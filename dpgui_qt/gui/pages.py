"""Page slots of the main window and the empty states they show until another
module fills them.

Other parts of dpgui add their page with::

    window.add_page("run", "Run", lambda window: RunConsole(window.session), icon)

The factory runs the first time the page is shown (so heavy imports such as
pyqtgraph stay off start-up); it receives the MainWindow and returns a QWidget.
Until a factory is registered the slot shows an :class:`EmptyState` with the
next useful action.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QLabel, QPushButton, QStackedLayout, QVBoxLayout, QWidget

PageFactory = Callable[[object], QWidget]


class EmptyState(QWidget):
    """A centred title, an explanation and buttons bound to real actions."""

    def __init__(self, title: str, text: str, actions: list[QAction] | None = None, parent=None):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.addStretch(2)
        self.title = QLabel(title, self)
        f = QFont(self.title.font())
        f.setPointSizeF(f.pointSizeF() * 1.5)
        f.setBold(True)
        self.title.setFont(f)
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel(text, self)
        self.text.setWordWrap(True)
        self.text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.title)
        lay.addSpacing(6)
        lay.addWidget(self.text, 0, Qt.AlignmentFlag.AlignHCenter)
        lay.addSpacing(12)
        self.buttons: list[QPushButton] = []
        for act in actions or []:
            b = QPushButton(act.icon(), act.text().replace("&", "").replace("…", "…"), self)
            b.setEnabled(act.isEnabled())
            act.changed.connect(lambda b=b, a=act: b.setEnabled(a.isEnabled()))
            b.clicked.connect(act.trigger)
            b.setMinimumWidth(220)
            lay.addWidget(b, 0, Qt.AlignmentFlag.AlignHCenter)
            self.buttons.append(b)
        lay.addStretch(3)

    def set_text(self, text: str) -> None:
        self.text.setText(text)
        self._fit()

    def _fit(self) -> None:
        """A fixed text width, so the wrapped explanation gets all the lines it needs
        (a centred label otherwise keeps the height of its first, narrow layout)."""
        w = max(200, min(560, self.width() - 40))
        self.text.setFixedWidth(w)
        self.text.setMinimumHeight(self.text.heightForWidth(w))

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()


class PageSlot(QWidget):
    """Holds a page's empty state and, once created, the page itself."""

    def __init__(self, name: str, empty: QWidget, parent=None):
        super().__init__(parent)
        self.name = name
        self.factory: PageFactory | None = None
        self.page: QWidget | None = None
        self.empty = empty
        self._stack = QStackedLayout(self)
        self._stack.addWidget(empty)

    def set_factory(self, factory: PageFactory | None) -> None:
        self.factory = factory

    def ensure_page(self, window) -> QWidget | None:
        """Create the page if a factory is registered (first show only)."""
        if self.page is None and self.factory is not None:
            self.page = self.factory(window)
            self._stack.addWidget(self.page)
            self._stack.setCurrentWidget(self.page)
        return self.page
