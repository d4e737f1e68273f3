"""ConsoleView: CR rows in place, bounded memory, ANSI, search, selection/copy, tail following."""
from __future__ import annotations

from PySide6.QtGui import QGuiApplication

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.gui.run.console import ConsoleSearchBar, ConsoleView


def feed(console, asm, data: bytes):
    texts, kinds = asm.feed_raw(data)
    console.append_batch(texts, kinds, asm.pending)


def make(qtbot, **kw):
    c = ConsoleView(**kw)
    qtbot.addWidget(c)
    c.resize(600, 300)
    c.show()
    return c


def test_carriage_returns_update_one_row_in_place(qtbot):
    c, asm = make(qtbot), LineAssembler()
    feed(c, asm, b"start\n\r 10%|#   | 1/10")
    assert c.rows() == ["start", " 10%|#   | 1/10"]
    feed(c, asm, b"\r 50%|##  | 5/10\r 90%|### | 9")
    assert c.rows() == ["start", " 90%|### | 9"]          # still one row, newest text
    feed(c, asm, b"/10\r100%|####| 10/10\nnext\n")
    assert c.rows() == ["start", "100%|####| 10/10", "next"]
    feed(c, asm, b"crlf\r\n")
    assert c.rows()[-1] == "crlf" and c.row_count() == 4


def test_bounded_memory_drops_oldest_rows_in_slices(qtbot):
    c = make(qtbot, max_rows=1000)
    for k in range(50):
        c.append_batch([f"line {k * 100 + i}" for i in range(100)], None, "")
    assert c.total_rows == 5000
    assert len(c.rows()) <= 1100
    assert c.rows()[-1] == "line 4999"
    assert c.dropped + len(c.rows()) == 5000


def test_ansi_colours_are_rendered_and_stripped_for_copy(qtbot):
    c = make(qtbot)
    c.append_batch(["\x1b[31mred\x1b[0m plain \x1b[1;92mbold green\x1b[0m"], None, "")
    c.flush()
    img = c.viewport().grab().toImage()        # paints the styled runs
    assert not img.isNull()
    reds = sum(1 for x in range(0, 60) for y in range(0, 20)
               if (col := img.pixelColor(x, y)).red() > 150 and col.green() < 80)
    assert reds > 0, "the red run is drawn in red"
    c.select_all()
    assert c.selected_text() == "red plain bold green"
    assert c.copy()
    assert QGuiApplication.clipboard().text() == "red plain bold green"


def test_search_next_previous_wraps_and_counts(qtbot):
    c = make(qtbot)
    c.append_batch([f"row {i}" + (" ERROR here" if i in (10, 500, 900) else "") for i in range(1000)],
                   None, "")
    c.flush()
    bar = ConsoleSearchBar(c)
    qtbot.addWidget(bar)
    bar.edit.setText("error")
    assert c.count_matches() == 3
    found = []
    for _ in range(4):
        assert bar.next()
        found.append(c._match)
    assert found == [10, 500, 900, 10]                   # wraps around
    assert bar.prev() and c._match == 900
    assert "row" in bar.result.text()
    assert not c.following                               # jumping to a match pauses the tail
    bar.case.setChecked(True)
    assert not bar.next()                                # case-sensitive: "error" is absent
    assert bar.result.text() == "no match"


def test_follows_tail_until_scrolled_up_and_resumes_at_bottom(qtbot):
    c = make(qtbot)
    c.append_batch([f"r{i}" for i in range(500)], None, "")
    c.flush()
    vb = c.verticalScrollBar()
    assert c.following and vb.value() == vb.maximum()
    vb.setValue(10)                                      # the user scrolls up
    assert not c.following
    c.append_batch([f"s{i}" for i in range(100)], None, "")
    c.flush()
    assert vb.value() == 10                              # stays where the user is
    vb.setValue(vb.maximum())                            # back at the bottom
    assert c.following
    c.append_batch(["t"], None, "")
    c.flush()
    assert vb.value() == vb.maximum()


def test_batches_coalesce_into_one_repaint(qtbot):
    c = make(qtbot, repaint_ms=40)
    syncs = []
    c.rowsChanged.connect(syncs.append)
    for i in range(200):
        c.append_batch([f"x{i}"], None, "")
    assert syncs == []                                   # nothing until the timer fires
    qtbot.waitUntil(lambda: bool(syncs), timeout=30_000)
    assert set(syncs) == {200}                            # never an update per line


def test_row_selection_by_mouse_and_copy(qtbot):
    from PySide6.QtCore import QPoint, Qt
    c = make(qtbot)
    c.append_batch([f"line {i}" for i in range(5)], None, "")
    c.flush()
    c.verticalScrollBar().setValue(0)
    lh = c._lh
    qtbot.mousePress(c.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(10, lh // 2))
    qtbot.mouseMove(c.viewport(), QPoint(10, lh * 2 + lh // 2))
    qtbot.mouseRelease(c.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(10, lh * 2 + lh // 2))
    assert c.selected_text() == "line 0\nline 1\nline 2"
