"""The property tree from the keyboard, as in any Qt item view: F2 and Enter edit the
selected row's value, typing starts the editor with what was typed, Tab / Shift+Tab
move to the next / previous value, Esc cancels; a value that cannot be written keeps
the editor open with the reason."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractItemView, QApplication

from dpgui_qt.gui.config.property_model import COL_KEY, COL_VALUE
from tests.gui.test_gui_editors import BASE


@pytest.fixture
def tree(window, tmp_path, qtbot):
    p = tmp_path / "c.toml"
    p.write_text(BASE)
    assert window.open_file(p)
    window.show()
    qtbot.waitExposed(window)
    return window


def select(window, path):
    ed = window.editor
    idx = ed.proxy.mapFromSource(ed.model.index_for_path(path, COL_KEY))
    assert idx.isValid()
    ed.tree.setCurrentIndex(idx)
    ed.tree.setFocus()
    return ed.tree


def editing(tree) -> bool:
    return tree.state() == QAbstractItemView.State.EditingState


def test_f2_enter_and_escape(tree, qtbot):
    t = select(tree, "epochs")
    qtbot.keyClick(t, Qt.Key.Key_F2)
    assert editing(t) and t.currentIndex().column() == COL_VALUE
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not editing(t) and "epochs = 10\n" in tree.session.doc.text
    t = select(tree, "epochs")
    qtbot.keyClick(t, Qt.Key.Key_Return)
    assert editing(t)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)


def test_typing_starts_editing_and_tab_moves_on(tree, qtbot):
    t = select(tree, "epochs")
    qtbot.keyClicks(t, "7")
    assert editing(t)
    w = QApplication.focusWidget()
    assert w.text() == "7"
    qtbot.keyClick(w, Qt.Key.Key_Tab)
    assert "epochs = 7\n" in tree.session.doc.text
    assert editing(t), "Tab goes on to edit the next value"
    nxt = t.currentIndex()
    assert nxt.column() == COL_VALUE and nxt.row() != -1
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Backtab)
    assert editing(t)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Escape)
    assert not editing(t)


def test_invalid_value_keeps_the_editor_open(tree, qtbot):
    t = select(tree, "epochs")
    qtbot.keyClicks(t, "-")
    w = QApplication.focusWidget()
    qtbot.keyClicks(w, "5")
    qtbot.keyClick(w, Qt.Key.Key_Return)
    assert editing(t), "the editor stays open"
    assert w.text() == "-5" and "epochs = 10\n" in tree.session.doc.text
    editor = t.indexWidget(t.currentIndex())
    assert editor is not None and editor._reason.text() == "must be at least 1"
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not editing(t) and "epochs = 10\n" in tree.session.doc.text
