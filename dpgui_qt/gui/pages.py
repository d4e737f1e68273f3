"""The page API of the main window, and the empty states pages show until built.

A page is declared once, as a :class:`PageSpec`, and handed to
``window.add_page(spec)``; the window does all the wiring::

    def run_page_spec(window) -> PageSpec:
        return PageSpec(
            "run", "Run", factory=lambda w: RunPage(w),
            actions=[PageAction("run.kill", "&Kill Training", kill, tip="...")],
            handles={"run.start": start},            # a window action the page answers
            close_guard=lambda page: page.confirm_close(),
            takes={"monitor": connect_monitor},      # (page, feed) once both exist
            on_ready=reattach)

* ``factory(window) -> QWidget`` runs the first time the page is shown (so heavy
  imports such as pyqtgraph stay off start-up); until then, or without a factory, the
  tab shows ``empty`` (an :class:`EmptyState` with the next useful action).
* ``actions`` become named QActions in ``window.actions`` and in the named menu;
  ``handles`` re-route window actions that exist without the page (Run ▸ Start).
* ``close_guard(page)`` is asked before the window closes, once the page exists; False
  keeps the window open. ``shutdown(page_or_None)`` stops the page's background work.
* ``offers`` are feeds (objects) other pages take; ``takes[name](page, feed)`` is called
  once this page exists and the feed is offered, in whichever order they come.
* ``on_ready()`` runs once the window is built (start-up work such as re-attaching).

Nothing outside :mod:`~dpgui_qt.gui.mainwindow` sets attributes on the window.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QLabel, QPushButton, QStackedLayout, QVBoxLayout, QWidget

PageFactory = Callable[[Any], QWidget]


@dataclass
class PageAction:
    """A menu entry a page adds: ``window.actions[name]``, placed in ``menu`` (before the
    action named ``before``, else at the end; ``separator`` draws a line above it)."""

    name: str
    text: str
    slot: Callable[[], Any]
    tip: str = ""
    shortcut: str | None = None
    enabled: bool = True
    menu: str = "run"
    before: str | None = None
    separator: bool = False


@dataclass
class PageSpec:
    """Everything the main window needs to know about one page (see the module doc)."""

    name: str
    title: str
    factory: PageFactory | None = None
    empty: QWidget | None = None
    icon: Any = None
    actions: list[PageAction] = field(default_factory=list)
    handles: dict[str, Callable[[], Any]] = field(default_factory=dict)
    # the hooks get the page the factory built (typed Any: each page has its own class)
    close_guard: Callable[[Any], bool] | None = None
    shutdown: Callable[[Any], None] | None = None
    offers: dict[str, Any] = field(default_factory=dict)
    takes: dict[str, Callable[[Any, Any], None]] = field(default_factory=dict)
    on_ready: Callable[[], None] | None = None


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

    def __init__(self, name: str, empty: QWidget, parent=None, spec: PageSpec | None = None,
                 on_created: Callable[[PageSlot], None] | None = None):
        super().__init__(parent)
        self.name = name
        self.spec = spec
        self._on_created = on_created
        self.factory: PageFactory | None = spec.factory if spec is not None else None
        self.page: QWidget | None = None
        self.empty = empty
        self._stack = QStackedLayout(self)
        self._stack.addWidget(empty)

    def ensure_page(self, window) -> QWidget | None:
        """Create the page if it has a factory (first show only); ``on_created`` runs
        once with this slot after that."""
        if self.page is None and self.factory is not None:
            self.page = self.factory(window)
            self._stack.addWidget(self.page)
            self._stack.setCurrentWidget(self.page)
            if self._on_created is not None:
                self._on_created(self)
        return self.page
