"""A closed window leaves no work behind (a flaky-test hunt found closed windows still
validating and writing the recent-files list into whichever settings folder was current
later on)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QTimer

from dpgui_qt.gui import settings as st


def test_close_writes_the_recent_file_now_and_stops_every_timer(window, main_example):
    assert window.open_file(main_example)
    window.session.set_value("epochs", 3)                 # a validation is now pending
    assert any(t.isActive() for t in window.findChildren(QTimer))
    window.session.doc.saved_text = window.session.doc.text
    assert window.close()
    # a file opened just before quitting is remembered, not lost with the pending write
    assert st.recent_files() == [str(Path(main_example).resolve())]
    assert [t.objectName() or repr(t) for t in window.findChildren(QTimer) if t.isActive()] == []


def test_close_stops_the_dataset_scans(window, tmp_path, qtbot):
    ds = tmp_path / "dataset.toml"
    ds.write_text(f'[[directory]]\npath = "{tmp_path / "images"}"\n')
    (tmp_path / "images").mkdir()
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'dataset = "{ds}"\n')
    assert window.open_file(cfg)
    window.show_page("dataset")
    page = window.page("dataset")
    assert page is not None and page.editors
    window.session.doc.saved_text = window.session.doc.text
    assert window.close()
    for ed in page.editors:
        assert ed.scans.wait_idle(60)                     # cancelled scans end on their own
        assert not [t for t in ed.findChildren(QTimer) if t.isActive()]


def test_teardown_deletes_and_names_a_window_left_alive(qapp):
    """The check every GUI test ends with (gui_env): what the test still holds is named."""
    import threading

    from PySide6.QtWidgets import QWidget
    from shiboken6 import isValid

    from tests.gui.conftest import _release, _window_keys

    before, threads = _window_keys(), set(threading.enumerate())
    kept = QWidget()                                      # not handed to qtbot
    kept.show()
    closed = QWidget()
    closed.show()
    closed.close()
    closed.deleteLater()                                  # what pytest-qt does
    assert _release(before, threads) == ["window QWidget (visible) is still alive"]
    assert not isValid(kept) and not isValid(closed)      # both gone now
