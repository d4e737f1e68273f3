"""Timers and cross-object connections die with the object whose code they run."""
from __future__ import annotations

import ast
import pathlib

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject, Signal
from PySide6.QtWidgets import QWidget

from dpgui_qt.gui.bind import bind

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "dpgui_qt"


class Sender(QObject):
    sig = Signal(int)


def _delete(obj) -> None:
    obj.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def test_bind_drops_the_connection_with_its_owner(qapp):
    sender, owner, calls = Sender(), QWidget(), []
    bind(sender.sig, owner, lambda v: calls.append((v, owner.objectName())))
    sender.sig.emit(1)
    _delete(owner)
    sender.sig.emit(2)  # unbound, this would raise "Internal C++ object already deleted"
    assert calls == [(1, "")]


def test_bind_survives_the_sender_going_first(qapp):
    sender, owner, calls = Sender(), QWidget(), []
    bind(sender.sig, owner, calls.append)
    _delete(sender)
    _delete(owner)  # dropping a connection whose sender is gone is quietly nothing
    assert calls == []


def _single_shots_without_context():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "singleShot" and len(node.args) < 3):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    return found


def test_every_single_shot_names_its_owner():
    """``QTimer.singleShot(ms, fn)`` outlives the object fn works on; the three-argument
    form ``singleShot(ms, owner, fn)`` is cancelled when the owner is deleted."""
    assert _single_shots_without_context() == []


def test_reattach_timer_dies_with_its_window(qtbot, monkeypatch):
    """The cause of the old order-dependent failure: a window deleted within the
    re-attach delay must not have its timer fire into it."""
    from dpgui_qt.gui import run as runpkg
    from dpgui_qt.gui.mainwindow import MainWindow

    fired = []
    monkeypatch.setattr(runpkg, "reattach_active", lambda w: fired.append(w) or False)
    gone = MainWindow()
    gone.session.doc.saved_text = gone.session.doc.text
    _delete(gone)
    kept = MainWindow()
    qtbot.addWidget(kept)
    kept.session.doc.saved_text = kept.session.doc.text
    qtbot.waitUntil(lambda: bool(fired), timeout=30_000)
    qtbot.wait(runpkg.REATTACH_DELAY_MS)  # not a timing verdict: only gives a stray timer its turn
    assert fired == [kept]


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
