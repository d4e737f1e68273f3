"""The one place dialogs for errors and questions come from.

Everything that tells the user about a problem goes through :func:`error`,
:func:`warning`, :func:`info` or :func:`ask`; unexpected exceptions reach
:func:`install_excepthook`'s dialog. Tests call :func:`set_handler` to record
messages (and choose answers) instead of opening modal dialogs.
"""
from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import Callable

from PySide6.QtWidgets import QApplication, QMessageBox, QWidget


@dataclass
class Message:
    kind: str  # "error" | "warning" | "info" | "question" | "exception"
    title: str
    text: str
    informative: str = ""
    details: str = ""
    buttons: list[str] = field(default_factory=list)


# handler(message) -> the chosen button name (for questions) or None
Handler = Callable[[Message], "str | None"]
_handler: Handler | None = None


def set_handler(handler: Handler | None) -> None:
    """Route messages to ``handler`` instead of dialogs (None restores dialogs)."""
    global _handler
    _handler = handler


_BUTTONS = {
    "ok": QMessageBox.StandardButton.Ok,
    "cancel": QMessageBox.StandardButton.Cancel,
    "save": QMessageBox.StandardButton.Save,
    "discard": QMessageBox.StandardButton.Discard,
    "yes": QMessageBox.StandardButton.Yes,
    "no": QMessageBox.StandardButton.No,
}
_ICONS = {
    "error": QMessageBox.Icon.Critical,
    "exception": QMessageBox.Icon.Critical,
    "warning": QMessageBox.Icon.Warning,
    "info": QMessageBox.Icon.Information,
    "question": QMessageBox.Icon.Question,
}


def _show(parent: QWidget | None, msg: Message, default: str | None = None) -> str | None:
    if _handler is not None:
        return _handler(msg)
    box = QMessageBox(parent)
    box.setIcon(_ICONS.get(msg.kind, QMessageBox.Icon.NoIcon))
    box.setWindowTitle(msg.title)
    box.setText(msg.text)
    if msg.informative:
        box.setInformativeText(msg.informative)
    if msg.details:
        box.setDetailedText(msg.details)
    names = msg.buttons or ["ok"]
    for name in names:
        if name in _BUTTONS:
            box.addButton(_BUTTONS[name])
        else:
            box.addButton(name, QMessageBox.ButtonRole.AcceptRole)
    if default in _BUTTONS:
        box.setDefaultButton(_BUTTONS[default])
    box.exec()
    clicked = box.clickedButton()
    if clicked is None:
        return "cancel" if "cancel" in names else None
    std = box.standardButton(clicked)
    for name, b in _BUTTONS.items():
        if b == std and std != QMessageBox.StandardButton.NoButton:
            return name
    return clicked.text()


def error(parent, title: str, text: str, informative: str = "", details: str = "") -> None:
    _show(parent, Message("error", title, text, informative, details))


def warning(parent, title: str, text: str, informative: str = "") -> None:
    _show(parent, Message("warning", title, text, informative))


def info(parent, title: str, text: str, informative: str = "") -> None:
    _show(parent, Message("info", title, text, informative))


def ask(parent, title: str, text: str, informative: str = "",
        buttons: tuple[str, ...] = ("yes", "no"), default: str | None = None,
        details: str = "") -> str:
    """Ask a question; returns the chosen button's name ("cancel" when closed)."""
    answer = _show(parent, Message("question", title, text, informative, details,
                                   buttons=list(buttons)), default)
    return answer or "cancel"


_in_hook = False


def _excepthook(exc_type, exc, tb) -> None:
    global _in_hook
    text = "".join(traceback.format_exception(exc_type, exc, tb))
    sys.stderr.write(text)
    if _in_hook or QApplication.instance() is None:
        return
    _in_hook = True
    try:
        _show(QApplication.activeWindow(), Message(
            "exception", "dpgui: unexpected error",
            f"Something went wrong inside dpgui: {exc_type.__name__}: {exc}",
            "Your config was not changed by this error. If you have unsaved edits, save them "
            "to a new file to be safe. Please report this with the details below.",
            text))
    finally:
        _in_hook = False


def install_excepthook() -> None:
    sys.excepthook = _excepthook
