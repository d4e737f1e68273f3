"""Read-only TOML preview (the file exactly as it will be saved) and its unified
diff against the file on disk, both with syntax colours taken from the palette."""
from __future__ import annotations

import difflib
import re

from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import (QColor, QFont, QFontDatabase, QGuiApplication, QPainter, QPalette,
                           QSyntaxHighlighter, QTextCharFormat, QTextCursor)
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from dpgui_qt.core.secrets import mask_toml_text


def is_dark(palette: QPalette | None = None) -> bool:
    pal = palette or QGuiApplication.palette()
    return pal.color(QPalette.ColorRole.Base).lightness() < 128


def _fmt(color: str, bold: bool = False, italic: bool = False) -> QTextCharFormat:
    f = QTextCharFormat()
    f.setForeground(QColor(color))
    if bold:
        f.setFontWeight(QFont.Weight.Bold)
    if italic:
        f.setFontItalic(True)
    return f


def _scheme() -> dict[str, QTextCharFormat]:
    if is_dark():
        c = {"comment": "#7f8c98", "table": "#79b8ff", "key": "#e1e4e8", "string": "#9ecb7e",
             "number": "#f0a45d", "bool": "#d2a8ff", "punct": "#8b949e"}
    else:
        c = {"comment": "#6a737d", "table": "#005cc5", "key": "#24292e", "string": "#22863a",
             "number": "#b35900", "bool": "#6f42c1", "punct": "#586069"}
    return {
        "comment": _fmt(c["comment"], italic=True),
        "table": _fmt(c["table"], bold=True),
        "key": _fmt(c["key"], bold=False),
        "string": _fmt(c["string"]),
        "number": _fmt(c["number"]),
        "bool": _fmt(c["bool"]),
        "punct": _fmt(c["punct"]),
    }


_TABLE = re.compile(r"^\s*\[\[?[^\]]*\]\]?")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-.\"' ]+?)\s*(?==)")
_STRING = re.compile(r"'''.*?'''|\"\"\".*?\"\"\"|'[^'\n]*'|\"(?:\\.|[^\"\\\n])*\"")
_NUMBER = re.compile(r"(?<![\w.])[+-]?(?:0x[0-9a-fA-F_]+|\d[\d_]*(?:\.\d[\d_]*)?(?:[eE][+-]?\d+)?|inf|nan)(?![\w.])")
_BOOL = re.compile(r"\b(?:true|false)\b")


class TomlHighlighter(QSyntaxHighlighter):
    """Line-based TOML colouring: tables, keys, strings, numbers, booleans, comments."""

    def __init__(self, document):
        super().__init__(document)
        self.formats = _scheme()

    def refresh_scheme(self) -> None:
        self.formats = _scheme()
        self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        f = self.formats
        strings: list[tuple[int, int]] = []
        for m in _STRING.finditer(text):
            strings.append((m.start(), m.end()))
            self.setFormat(m.start(), m.end() - m.start(), f["string"])

        def in_string(pos: int) -> bool:
            return any(a <= pos < b for a, b in strings)

        hash_pos = next((i for i, ch in enumerate(text) if ch == "#" and not in_string(i)), -1)
        code_end = hash_pos if hash_pos >= 0 else len(text)
        table = _TABLE.match(text)
        if table and table.end() <= code_end:
            self.setFormat(table.start(), table.end() - table.start(), f["table"])
        else:
            km = _KEY.match(text)
            if km and km.end() <= code_end:
                self.setFormat(km.start(1), km.end(1) - km.start(1), f["key"])
        for rx, name in ((_NUMBER, "number"), (_BOOL, "bool")):
            for m in rx.finditer(text, 0, code_end):
                if not in_string(m.start()):
                    self.setFormat(m.start(), m.end() - m.start(), f[name])
        if hash_pos >= 0:
            self.setFormat(hash_pos, len(text) - hash_pos, f["comment"])


class DiffHighlighter(QSyntaxHighlighter):
    def __init__(self, document):
        super().__init__(document)
        self.refresh_scheme(rehighlight=False)

    def refresh_scheme(self, rehighlight: bool = True) -> None:
        dark = is_dark()
        self.add = QTextCharFormat()
        self.add.setBackground(QColor("#1f3d2a" if dark else "#e6ffec"))
        self.add.setForeground(QColor("#7ee787" if dark else "#116329"))
        self.rem = QTextCharFormat()
        self.rem.setBackground(QColor("#4a1f24" if dark else "#ffebe9"))
        self.rem.setForeground(QColor("#ffa198" if dark else "#82071e"))
        self.hunk = _fmt("#79b8ff" if dark else "#0550ae", bold=True)
        self.head = _fmt("#8b949e" if dark else "#57606a", bold=True)
        if rehighlight:
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if text.startswith(("+++", "---")):
            self.setFormat(0, len(text), self.head)
        elif text.startswith("@@"):
            self.setFormat(0, len(text), self.hunk)
        elif text.startswith("+"):
            self.setFormat(0, len(text), self.add)
        elif text.startswith("-"):
            self.setFormat(0, len(text), self.rem)


class _LineNumbers(QWidget):
    def __init__(self, editor: "CodeView"):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_gutter(self, event)


class CodeView(QPlainTextEdit):
    """Read-only monospace text with a line-number gutter."""

    def __init__(self, parent=None, numbers: bool = True):
        super().__init__(parent)
        self.setReadOnly(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.setFont(font)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self._numbers = _LineNumbers(self) if numbers else None
        if numbers:
            self.blockCountChanged.connect(lambda _n: self._update_margins())
            self.updateRequest.connect(self._update_gutter)
            self._update_margins()

    def gutter_width(self) -> int:
        if self._numbers is None:
            return 0
        digits = max(3, len(str(self.blockCount())))
        return 10 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self) -> None:
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _update_gutter(self, rect, dy) -> None:
        if self._numbers is None:
            return
        if dy:
            self._numbers.scroll(0, dy)
        else:
            self._numbers.update(0, rect.y(), self._numbers.width(), rect.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._numbers is not None:
            cr = self.contentsRect()
            self._numbers.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, widget: QWidget, event) -> None:
        p = QPainter(widget)
        pal = self.palette()
        p.fillRect(event.rect(), pal.color(QPalette.ColorRole.AlternateBase))
        p.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
        block = self.firstVisibleBlock()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        h = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible():
                p.drawText(0, top, widget.width() - 5, h, Qt.AlignmentFlag.AlignRight,
                           str(block.blockNumber() + 1))
            top += round(self.blockBoundingRect(block).height())
            block = block.next()

    def set_text_keep_scroll(self, text: str) -> None:
        if text == self.toPlainText():
            return
        v = self.verticalScrollBar().value()
        self.setPlainText(text)
        self.verticalScrollBar().setValue(v)

    def go_to_line(self, line: int) -> None:
        block = self.document().findBlockByNumber(max(0, line - 1))
        cur = QTextCursor(block)
        self.setTextCursor(cur)
        self.centerCursor()


class TomlPreview(CodeView):
    """The document text exactly as Save will write it (refreshed when visible)."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.highlighter = TomlHighlighter(self.document())
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(60)
        self._timer.timeout.connect(self._do_refresh)

    def refresh(self) -> None:
        self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._do_refresh()

    def _do_refresh(self) -> None:
        if self.isVisible():
            # secrets (wandb_api_key, ...) are shown masked; Save writes the document's
            # own text, never this
            self.set_text_keep_scroll(mask_toml_text(self.session.doc.text))

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.highlighter.refresh_scheme()


def unified_diff(old: str, new: str, name: str, old_label: str = "on disk",
                 new_label: str = "edited") -> str:
    """A unified diff of two TOML texts (mask them first where they may hold secrets)."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 f"{name} ({old_label})", f"{name} ({new_label})", n=3)
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


class TomlDiffView(QWidget):
    """Unified diff of the edited text against the file on disk."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.summary = QLabel(self)
        self.summary.setContentsMargins(6, 4, 6, 4)
        self.view = CodeView(self, numbers=False)
        self.highlighter = DiffHighlighter(self.view.document())
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(self.summary)
        lay.addWidget(self.view, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(80)
        self._timer.timeout.connect(self._do_refresh)

    def refresh(self) -> None:
        self._timer.start()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._do_refresh()

    def diff_text(self) -> str:
        doc = self.session.doc
        name = doc.path.name if doc.path else "Untitled"
        return unified_diff(mask_toml_text(doc.saved_text), mask_toml_text(doc.text), name)

    def _do_refresh(self) -> None:
        if not self.isVisible():
            return
        text = self.diff_text()
        if not text:
            self.summary.setText("No changes: the file on disk matches the editor.")
        else:
            plus = sum(1 for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
            minus = sum(1 for ln in text.splitlines() if ln.startswith("-") and not ln.startswith("---"))
            where = "the file on disk" if self.session.doc.path else "an empty file"
            self.summary.setText(f"Unsaved changes against {where}: "
                                 f"<span style='color:#2da44e'>+{plus}</span> "
                                 f"<span style='color:#cf222e'>−{minus}</span> lines")
        self.view.set_text_keep_scroll(text)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() == event.Type.PaletteChange:
            self.highlighter.refresh_scheme()
