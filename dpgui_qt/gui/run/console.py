"""A console view for training output that stays fast under millions of lines.

:class:`ConsoleView` is a ``QAbstractScrollArea`` over a Python list of rows (a
ring buffer: when it holds more than ``max_rows`` the oldest are dropped in one
slice) and paints only the rows in view.  Nothing is laid out per line, so
appending 50,000 rows costs one ``list.extend`` and one repaint later.

* Rows arrive in batches from a :class:`~dpgui_qt.core.run.lines.LineAssembler`
  (:meth:`append_batch`); ``\\r`` updates (tqdm bars) replace the *open row*,
  the assembler's ``pending`` text, instead of adding rows.
* Repaints and scroll-range updates are coalesced: at most one every
  ``repaint_ms`` however many batches arrive.
* ANSI colours are rendered (``split_ansi``) for the rows in view only; search
  and copy use the text without escapes.
* It follows the tail unless the user scrolls up; scrolling back to the bottom
  resumes following.
* Selection is by whole rows (click, drag, shift-click, Ctrl+A); Ctrl+C copies.
"""
from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (QColor, QFont, QFontDatabase, QFontMetrics, QGuiApplication,
                           QKeySequence, QPainter, QPalette)
from PySide6.QtWidgets import (QAbstractScrollArea, QCheckBox, QHBoxLayout, QLabel, QLineEdit,
                               QMenu, QToolButton, QWidget)

from dpgui_qt.core.run.lines import ANSI_COLOR_HEX, LineKind, split_ansi, strip_ansi

_LINE = LineKind.LINE
DEFAULT_MAX_ROWS = 200_000
MAX_PAINT_CHARS = 4000          # a single row is never drawn wider than this


class ConsoleView(QAbstractScrollArea):
    followChanged = Signal(bool)
    rowsChanged = Signal(int)            # rows currently held (after trimming)
    searchResult = Signal(int, int)      # current match number (1-based, 0 = none), total rows matched

    def __init__(self, parent=None, max_rows: int = DEFAULT_MAX_ROWS, repaint_ms: int = 40):
        super().__init__(parent)
        self.setObjectName("RunConsole")
        self._rows: list[str] = []
        self._base = 0                   # absolute number of rows dropped from the top
        self._open = ""                  # the open row (tqdm bar, unterminated text)
        self.max_rows = max(1000, int(max_rows))
        self._follow = True
        self._programmatic = False
        self._max_len = 0
        self._sel: tuple[int, int] | None = None   # absolute row range (anchor, cursor)
        self._drag = False
        self._query = ""
        self._case = False
        self._match: int | None = None   # absolute row of the current match
        self._dirty = False
        self.total_rows = 0              # rows ever appended (the open row excluded)

        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setStyleHint(QFont.StyleHint.Monospace)
        self.setFont(font)
        self._metrics()
        self.viewport().setCursor(Qt.CursorShape.IBeamCursor)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        self.horizontalScrollBar().valueChanged.connect(lambda _v: self.viewport().update())
        pal = self.viewport().palette()
        self._bg = QColor("#1e1f22")
        self._fg = QColor("#d7dae0")
        self._dim = QColor("#7f848e")
        pal.setColor(QPalette.ColorRole.Base, self._bg)
        self.viewport().setPalette(pal)
        self.viewport().setAutoFillBackground(True)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._idle_ms, self._busy_ms = repaint_ms, max(repaint_ms, 120)
        self._timer.setInterval(repaint_ms)
        self._timer.timeout.connect(self._sync)
        self._colors: dict[str, QColor] = {}

    # ------------------------------------------------------------- metrics
    def _metrics(self) -> None:
        fm = QFontMetrics(self.font())
        self._lh = max(1, fm.lineSpacing())
        self._cw = max(1, fm.horizontalAdvance("M"))
        self._ascent = fm.ascent()

    def changeEvent(self, ev) -> None:
        super().changeEvent(ev)
        if ev.type() == ev.Type.FontChange:
            self._metrics()
            self._sync()

    # --------------------------------------------------------------- data
    def append_batch(self, texts: list[str], kinds: list | None, pending: str = "") -> None:
        """Add a batch from ``LineAssembler.feed_raw``: LINE texts become rows, CR
        texts are transient (the next line replaces them), ``pending`` is the open row."""
        if kinds is None:
            rows = texts
        else:
            rows = [t for t, k in zip(texts, kinds) if k is _LINE]
        if rows:
            self._rows.extend(rows)
            self.total_rows += len(rows)
            m = max(map(len, rows))
            if m > self._max_len:
                self._max_len = min(m, MAX_PAINT_CHARS)
            over = len(self._rows) - self.max_rows
            if over > self.max_rows // 10:          # trim in slices, not per row
                del self._rows[:over]
                self._base += over
        self._open = pending
        self._schedule()

    def clear(self) -> None:
        self._rows.clear()
        self._base = 0
        self._open = ""
        self._max_len = 0
        self._sel = None
        self._match = None
        self.total_rows = 0
        self._follow = True
        self._sync()

    def row_count(self) -> int:
        """Rows shown (held rows plus the open row)."""
        return len(self._rows) + (1 if self._open else 0)

    @property
    def dropped(self) -> int:
        return self._base

    def rows(self) -> list[str]:
        return self._rows + ([self._open] if self._open else [])

    def text(self) -> str:
        """Everything held, rows joined with \\n (ANSI escapes kept)."""
        return "\n".join(self.rows())

    def plain_text(self) -> str:
        return strip_ansi(self.text())

    def _row(self, i: int) -> str:
        """Row ``i`` counted from the first held row (the open row is the last)."""
        if i < len(self._rows):
            return self._rows[i]
        return self._open

    # ----------------------------------------------------------- following
    @property
    def following(self) -> bool:
        return self._follow

    def set_following(self, on: bool) -> None:
        if on != self._follow:
            self._follow = on
            self.followChanged.emit(on)
        if on:
            self._sync()

    def _scrolled(self, value: int) -> None:
        self.viewport().update()
        if self._programmatic:
            return
        at_end = value >= self.verticalScrollBar().maximum()
        if at_end != self._follow:
            self._follow = at_end
            self.followChanged.emit(at_end)

    # ---------------------------------------------------------- repainting
    def _schedule(self) -> None:
        self._dirty = True
        if not self._timer.isActive():
            self._timer.start()

    def set_busy(self, busy: bool) -> None:
        """While a backlog is being read (a flood, a re-attach), repaint less often:
        nobody reads 100,000 lines a second, and each repaint costs a few ms."""
        self._timer.setInterval(self._busy_ms if busy else self._idle_ms)

    def flush(self) -> None:
        """Apply pending updates now (tests, screenshots)."""
        self._timer.stop()
        self._sync()

    def _visible_rows(self) -> int:
        return max(1, self.viewport().height() // self._lh)

    def _sync(self) -> None:
        self._dirty = False
        n = self.row_count()
        vis = self._visible_rows()
        vb = self.verticalScrollBar()
        self._programmatic = True
        try:
            vb.setRange(0, max(0, n - vis))
            vb.setPageStep(vis)
            vb.setSingleStep(1)
            hb = self.horizontalScrollBar()
            width_chars = max(self._max_len, len(self._open))
            hb.setRange(0, max(0, min(width_chars, MAX_PAINT_CHARS) + 2
                               - self.viewport().width() // self._cw))
            hb.setPageStep(max(1, self.viewport().width() // self._cw))
            if self._follow:
                vb.setValue(vb.maximum())
        finally:
            self._programmatic = False
        self.viewport().update()
        self.rowsChanged.emit(n)

    def resizeEvent(self, ev) -> None:
        super().resizeEvent(ev)
        self._sync()

    def _color(self, name: str | None) -> QColor:
        if name is None:
            return self._fg
        c = self._colors.get(name)
        if c is None:
            c = QColor(ANSI_COLOR_HEX.get(name, name))
            if name in ("black", "blue"):       # unreadable on a dark background
                c = c.lighter(180)
            self._colors[name] = c
        return c

    def paintEvent(self, ev) -> None:
        p = QPainter(self.viewport())
        p.fillRect(ev.rect(), self._bg)
        p.setFont(self.font())
        first = self.verticalScrollBar().value()
        vis = self._visible_rows() + 1
        n = self.row_count()
        hoff = self.horizontalScrollBar().value()
        cols = self.viewport().width() // self._cw + 2
        lh, cw, asc = self._lh, self._cw, self._ascent
        sel = None
        if self._sel is not None:
            a, b = sorted(self._sel)
            sel = (a - self._base, b - self._base)
        q = self._query
        ql = q.lower() if q and not self._case else q
        hl = QColor(255, 213, 79, 90)
        cur = QColor(255, 160, 0, 170)
        selc = QColor(70, 110, 180, 140)
        x0 = 4
        for i in range(first, min(n, first + vis)):
            y = (i - first) * lh
            row = self._row(i)
            if sel is not None and sel[0] <= i <= sel[1]:
                p.fillRect(QRect(0, y, self.viewport().width(), lh), selc)
            has_esc = "\x1b" in row or "\x9b" in row
            plain = strip_ansi(row) if has_esc else row
            if q:
                hay = plain if self._case else plain.lower()
                pos = hay.find(ql)
                is_cur = self._match is not None and self._match - self._base == i
                while pos >= 0:
                    x = x0 + (pos - hoff) * cw
                    p.fillRect(QRect(x, y, len(q) * cw, lh), cur if is_cur else hl)
                    pos = hay.find(ql, pos + max(1, len(ql)))
            if i == len(self._rows) and self._open:
                p.fillRect(QRect(0, y, 3, lh), QColor("#4a9eff"))   # the live (\r) row
            if not has_esc:
                if hoff < len(row):
                    p.setPen(self._fg)
                    p.drawText(x0, y + asc, row[hoff:hoff + cols])
                continue
            col = 0
            for run in split_ansi(row):
                t = run.text
                end = col + len(t)
                if end > hoff and col < hoff + cols:
                    s = t[max(0, hoff - col):max(0, hoff + cols - col)]
                    f = p.font()
                    if f.bold() != run.bold:
                        f.setBold(run.bold)
                        p.setFont(f)
                    p.setPen(self._color(run.fg))
                    p.drawText(x0 + (max(col, hoff) - hoff) * cw, y + asc, s)
                col = end
            if p.font().bold():
                p.setFont(self.font())
        if n == 0:
            p.setPen(self._dim)
            p.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                       int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop),
                       "The trainer's output appears here.")
        p.end()

    # ------------------------------------------------------------ selection
    def _row_at(self, pos: QPoint) -> int:
        """Absolute row under a viewport position."""
        i = self.verticalScrollBar().value() + pos.y() // self._lh
        return self._base + max(0, min(i, self.row_count() - 1))

    def mousePressEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton and self.row_count():
            r = self._row_at(ev.position().toPoint())
            if ev.modifiers() & Qt.KeyboardModifier.ShiftModifier and self._sel is not None:
                self._sel = (self._sel[0], r)
            else:
                self._sel = (r, r)
            self._drag = True
            self.viewport().update()
        super().mousePressEvent(ev)

    def mouseMoveEvent(self, ev) -> None:
        if self._drag and self._sel is not None:
            pos = ev.position().toPoint()
            vb = self.verticalScrollBar()
            if pos.y() < 0:
                vb.setValue(vb.value() - 1)
            elif pos.y() > self.viewport().height():
                vb.setValue(vb.value() + 1)
            self._sel = (self._sel[0], self._row_at(pos))
            self.viewport().update()

    def mouseReleaseEvent(self, ev) -> None:
        self._drag = False
        super().mouseReleaseEvent(ev)

    def select_all(self) -> None:
        if self.row_count():
            self._sel = (self._base, self._base + self.row_count() - 1)
            self.viewport().update()

    def selected_text(self) -> str:
        if self._sel is None:
            return ""
        a, b = sorted(self._sel)
        a, b = max(a - self._base, 0), min(b - self._base, self.row_count() - 1)
        rows = [self._row(i) for i in range(a, b + 1)]
        return strip_ansi("\n".join(rows))

    def copy(self) -> bool:
        text = self.selected_text()
        if text:
            QGuiApplication.clipboard().setText(text)
        return bool(text)

    def copy_all(self) -> None:
        QGuiApplication.clipboard().setText(self.plain_text())

    def keyPressEvent(self, ev) -> None:
        if ev.matches(QKeySequence.StandardKey.Copy):
            self.copy()
            return
        if ev.matches(QKeySequence.StandardKey.SelectAll):
            self.select_all()
            return
        if ev.key() == Qt.Key.Key_End and ev.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.set_following(True)
            return
        super().keyPressEvent(ev)

    def contextMenuEvent(self, ev) -> None:
        m = QMenu(self)
        a = m.addAction("Copy", self.copy)
        a.setEnabled(self._sel is not None)
        a.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        m.addAction("Copy All", self.copy_all)
        m.addAction("Select All", self.select_all)
        m.addSeparator()
        f = m.addAction("Follow Output", lambda: self.set_following(not self._follow))
        f.setCheckable(True)
        f.setChecked(self._follow)
        m.exec(ev.globalPos())

    # --------------------------------------------------------------- search
    def set_query(self, text: str, case: bool = False) -> None:
        self._query = text
        self._case = case
        self._match = None
        self.viewport().update()

    # the console's search; QWidget.find(WId) is a static lookup nobody calls on a console
    def find(self, text: str | None = None, backward: bool = False,  # type: ignore[override]
             case: bool | None = None) -> bool:
        """Select the next (or previous) row containing ``text`` and scroll to it;
        wraps around.  Returns False when nothing matches."""
        if text is not None and (text != self._query or (case is not None and case != self._case)):
            self.set_query(text, self._case if case is None else case)
        q = self._query
        if not q:
            self.searchResult.emit(0, 0)
            return False
        n = self.row_count()
        if not n:
            self.searchResult.emit(0, 0)
            return False
        ql = q if self._case else q.lower()
        if self._match is not None and self._base <= self._match < self._base + n:
            start = self._match - self._base + (-1 if backward else 1)
        else:
            start = (self.verticalScrollBar().value() + self._visible_rows() - 1) if backward \
                else self.verticalScrollBar().value()
        order = (list(range(start, -1, -1)) + list(range(n - 1, start, -1))) if backward \
            else (list(range(start, n)) + list(range(0, min(start, n))))
        case = self._case
        for i in order:
            if not 0 <= i < n:
                continue
            row = self._row(i)
            if "\x1b" in row:
                row = strip_ansi(row)
            if (row if case else row.lower()).find(ql) >= 0:
                self._match = self._base + i
                self._sel = (self._match, self._match)
                self.scroll_to_row(i)
                self.viewport().update()
                self.searchResult.emit(i + 1, n)
                return True
        self._match = None
        self.viewport().update()
        self.searchResult.emit(0, n)
        return False

    def count_matches(self) -> int:
        q = self._query
        if not q:
            return 0
        if self._case:
            return sum(1 for r in self.rows() if q in r)
        ql = q.lower()
        return sum(1 for r in self.rows() if ql in r.lower())

    def scroll_to_row(self, i: int) -> None:
        vb = self.verticalScrollBar()
        vis = self._visible_rows()
        if not vb.value() <= i < vb.value() + vis:
            self._sync()
            vb.setValue(max(0, i - vis // 2))      # the user's scroll: stops following


class ConsoleSearchBar(QWidget):
    """Find field with previous/next, case switch and a result label."""

    def __init__(self, console: ConsoleView, parent=None):
        super().__init__(parent)
        self.console = console
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText("Find in output (Enter: next, Shift+Enter: previous)")
        self.edit.setClearButtonEnabled(True)
        self.edit.returnPressed.connect(self.next)
        self.edit.textChanged.connect(self._changed)
        self.prev_btn = QToolButton(self)
        self.prev_btn.setText("▲")
        self.prev_btn.setToolTip("Previous match (Shift+F3)")
        self.prev_btn.clicked.connect(self.prev)
        self.next_btn = QToolButton(self)
        self.next_btn.setText("▼")
        self.next_btn.setToolTip("Next match (F3)")
        self.next_btn.clicked.connect(self.next)
        self.case = QCheckBox("Aa", self)
        self.case.setToolTip("Match case")
        self.case.toggled.connect(lambda _c: self._changed(self.edit.text()))
        self.result = QLabel("", self)
        self.result.setMinimumWidth(90)
        lay.addWidget(self.edit, 1)
        lay.addWidget(self.prev_btn)
        lay.addWidget(self.next_btn)
        lay.addWidget(self.case)
        lay.addWidget(self.result)
        console.searchResult.connect(self._show)
        self.edit.installEventFilter(self)

    def eventFilter(self, obj, ev) -> bool:
        if obj is self.edit and ev.type() == ev.Type.KeyPress:
            if ev.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                    ev.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.prev()
                return True
            if ev.key() == Qt.Key.Key_Escape:
                self.edit.clear()
                self.console.setFocus()
                return True
        return super().eventFilter(obj, ev)

    def _changed(self, text: str) -> None:
        self.console.set_query(text, self.case.isChecked())
        if text:
            n = self.console.count_matches()
            self.result.setText(f"{n:,} row{'s' if n != 1 else ''}" if n else "no match")
        else:
            self.result.setText("")

    def next(self) -> bool:
        return self.console.find(self.edit.text(), False, self.case.isChecked())

    def prev(self) -> bool:
        return self.console.find(self.edit.text(), True, self.case.isChecked())

    def _show(self, cur: int, total: int) -> None:
        if not self.edit.text():
            self.result.setText("")
        elif cur == 0:
            self.result.setText("no match")
        else:
            self.result.setText(f"row {cur:,} of {total:,}")

    def focus(self) -> None:
        self.edit.setFocus()
        self.edit.selectAll()
