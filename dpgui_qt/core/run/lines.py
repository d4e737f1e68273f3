"""Turn raw console bytes into lines: UTF-8, newlines, carriage returns, ANSI.

``LineAssembler`` sits between a pipe (QProcess, subprocess, a tailed file)
and everything that consumes text. Bytes arrive in arbitrary chunks; the
assembler emits :class:`Line` objects whose boundaries depend only on the
content, never on where the chunks were cut, so a log parsed from a file and
the same log read live give the same lines.

Line kinds (what a console widget should do with them):

``LineKind.LINE``
    The row is finished (it ended with ``\\n``, ``\\r\\n``, or it was the
    unterminated tail returned by :meth:`LineAssembler.flush`). If the console
    is showing an open row, replace it with this text; otherwise append. The
    next Line starts a new row.
``LineKind.CR``
    The row was ended by a bare ``\\r``: a tqdm-style in-place update. Replace
    the open row (or append one) and keep it open; the next Line of any kind
    replaces it.
``LineKind.PARTIAL``
    Only when ``emit_partial=True``: a snapshot of text that has no line end
    yet, taken at the end of a :meth:`~LineAssembler.feed` call. It is also an
    open row that the next Line replaces. PARTIAL lines depend on chunking,
    so a parser must skip them (``line.kind is LineKind.PARTIAL``); CR and LINE
    lines are what parsers consume.

Rule for ``\\r``: a line ``"a\\rb\\rc\\n"`` is reported as CR ``a``, CR ``b``,
LINE ``c``; a ``\\r`` is a whole-row replacement (tqdm pads its bars, so the
terminal's "overwrite only the first len(b) characters" never matters).
Empty ``\\r`` segments (the leading ``\\r`` tqdm writes) are dropped; empty
``\\n`` lines are kept.
"""
from __future__ import annotations

import codecs
import enum
import re
from itertools import repeat as _repeat
from typing import NamedTuple

__all__ = [
    "LineKind",
    "Line",
    "LineAssembler",
    "strip_ansi",
    "StyledRun",
    "split_ansi",
    "ANSI_COLOR_HEX",
]


MAX_LINE = 1 << 20   # characters; see LineAssembler.max_line


class LineKind(str, enum.Enum):
    LINE = "line"
    CR = "cr"
    PARTIAL = "partial"


_LINE = LineKind.LINE
_CR = LineKind.CR
_PARTIAL = LineKind.PARTIAL


class Line(NamedTuple):
    """One console row. ``text`` has no line terminator (ANSI codes are kept)."""

    text: str
    kind: LineKind = LineKind.LINE

    @property
    def is_partial(self) -> bool:
        return self.kind is _PARTIAL


_new_line = tuple.__new__  # tuple.__new__(Line, (text, kind)): no Python-level __new__
_make_line = Line._make    # classmethod(tuple.__new__): builds Lines at C speed in map()


class LineAssembler:
    """Incremental bytes -> lines splitter.

    >>> a = LineAssembler()
    >>> a.feed(b"caf\xc3")            # the UTF-8 sequence is cut: nothing yet
    []
    >>> [tuple(l) for l in a.feed(b"\xa9 1%\r2%\r\n")]
    [('café 1%', <LineKind.CR: 'cr'>), ('2%', <LineKind.LINE: 'line'>)]

    Invalid UTF-8 becomes U+FFFD (``errors="replace"``), it never raises.

    Two ways to read it: :meth:`feed` returns :class:`Line` objects;
    :meth:`feed_raw` returns ``(texts, kinds)`` without building one object per
    line (``kinds`` is None when every text is a LINE) -- the flood path: hand
    ``texts`` to ``LogParser.feed_many`` and ``(texts, kinds)`` to the console.
    With ``feed_raw`` the open row is :attr:`pending` (no PARTIAL lines).
    """

    __slots__ = ("_decode", "_pending", "emit_partial", "_last_partial", "max_line")

    def __init__(self, *, encoding: str = "utf-8", emit_partial: bool = False,
                 max_line: int = MAX_LINE) -> None:
        self._decode = codecs.getincrementaldecoder(encoding)(errors="replace").decode
        # Text after the last settled line end: the open row's newest segment,
        # possibly followed by CRs whose meaning (update, or CRLF) is not known yet.
        self._pending = ""
        self.emit_partial = emit_partial
        self._last_partial: str | None = None
        # A row that grows past this many characters without a line end is cut
        # into LINEs of this length, so memory stays bounded whatever the input
        # (a binary file, /dev/zero, a progress bar that never ends its row).
        self.max_line = max_line

    # -- input -----------------------------------------------------------------
    def feed(self, data: bytes) -> list[Line]:
        """Add a chunk; return the lines it completed (possibly none)."""
        texts, kinds = self._split(self._decode(data), False)
        return self._lines(texts, kinds)

    def feed_text(self, text: str) -> list[Line]:
        """Same as :meth:`feed` for already-decoded text."""
        texts, kinds = self._split(text, False)
        return self._lines(texts, kinds)

    def feed_raw(self, data: bytes) -> tuple[list[str], list[LineKind] | None]:
        """Like :meth:`feed` but returns ``(texts, kinds)``; kinds is None when all are LINE."""
        return self._split(self._decode(data), False)

    def flush(self) -> list[Line]:
        """End of stream: return the unterminated last row, if any, as a LINE."""
        texts, kinds = self.flush_raw()
        return self._lines(texts, kinds)

    def flush_raw(self) -> tuple[list[str], list[LineKind] | None]:
        texts, kinds = self._split(self._decode(b"", True), True)
        self._last_partial = None
        return texts, kinds

    @property
    def pending(self) -> str:
        """The open row as a console should show it right now ("" if none)."""
        p = self._pending.rstrip("\r")
        i = p.rfind("\r")
        return p[i + 1:] if i >= 0 else p

    def reset(self) -> None:
        self._decode.__self__.reset()  # type: ignore[attr-defined]
        self._pending = ""
        self._last_partial = None

    # -- splitting -----------------------------------------------------------
    def _lines(self, texts: list[str], kinds: list[LineKind] | None) -> list[Line]:
        if kinds is None:
            out = list(map(_make_line, zip(texts, _repeat(_LINE))))
        else:
            out = list(map(_make_line, zip(texts, kinds)))
        if self.emit_partial:
            shown = self.pending
            if shown and shown != self._last_partial:
                out.append(_new_line(Line, (shown, _PARTIAL)))
                self._last_partial = shown
            elif not shown:
                self._last_partial = None
        return out

    def _split(self, text: str, final: bool) -> tuple[list[str], list[LineKind] | None]:
        n = self.max_line
        big = len(self._pending) + len(text) > n
        texts, kinds = self._split_rows(text, final)
        if not big:
            return texts, kinds
        if max(map(len, texts), default=0) > n:   # rows are cut at multiples of n from their start
            cut_texts: list[str] = []
            cut_kinds: list[LineKind] = []
            for i, t in enumerate(texts):
                k = kinds[i] if kinds is not None else _LINE
                while len(t) > n:
                    cut_texts.append(t[:n])
                    cut_kinds.append(_LINE)
                    t = t[n:]
                cut_texts.append(t)
                cut_kinds.append(k)
            texts = cut_texts
            kinds = None if kinds is None else cut_kinds
        p = self._pending
        cr = "\r" if p.endswith("\r") else ""      # a CR that may be half of a CRLF stays
        body = p[:-1] if cr else p
        if len(body) > n:
            cut = len(body) - (len(body) % n or n)   # leave 1..n characters open
            pieces = [body[i:i + n] for i in range(0, cut, n)]
            self._pending = body[cut:] + cr
            texts += pieces
            if kinds is not None:
                kinds += _repeat(_LINE, len(pieces))
        return texts, kinds

    def _split_rows(self, text: str, final: bool) -> tuple[list[str], list[LineKind] | None]:
        if self._pending:
            text = self._pending + text
        if "\r" not in text:
            rows = text.split("\n")
            tail = rows.pop()
            if final and tail:
                rows.append(tail)
                tail = ""
            self._pending = tail
            return rows, None
        # Plain rows are split in bulk; the loop only visits rows holding a CR
        # (tqdm bars), found with str.find.
        texts: list[str] = []
        kinds: list[LineKind] = []
        find = text.find
        pos = 0
        while True:
            r = find("\r", pos)
            if r < 0:
                break
            ls = text.rfind("\n", pos, r) + 1  # start of the row holding this CR
            if ls > pos:
                plain = text[pos:ls - 1].split("\n")
                texts += plain
                kinds += _repeat(_LINE, len(plain))
            else:
                ls = pos
            le = find("\n", r)
            row = text[ls:] if le < 0 else text[ls:le]
            segs = [x for x in row.split("\r") if x]
            if le < 0 and not final:
                # open row: the newest segment (and a trailing CR, which may be
                # half of a CRLF) stays pending, so chunk cuts change nothing
                keep = segs.pop() if segs else ""
                texts += segs
                kinds += _repeat(_CR, len(segs))
                self._pending = keep + "\r" if row[-1] == "\r" else keep
                return texts, kinds
            if segs:
                last = segs.pop()
                texts += segs
                kinds += _repeat(_CR, len(segs))
                texts.append(last)
                kinds.append(_LINE)
            elif le >= 0:
                texts.append("")  # "\r\n": an empty row
                kinds.append(_LINE)
            if le < 0:
                self._pending = ""
                return texts, kinds
            pos = le + 1
        plain = text[pos:].split("\n")
        tail = plain.pop()
        if final and tail:
            plain.append(tail)
            tail = ""
        texts += plain
        kinds += _repeat(_LINE, len(plain))
        self._pending = tail
        return texts, kinds


# ---------------------------------------------------------------------------
# ANSI escape sequences
# ---------------------------------------------------------------------------
# CSI (ESC [ params intermediates final), OSC (ESC ] ... BEL|ST), other 2-byte
# escapes (ESC followed by one of @-Z \ ] ^ _), and the 8-bit CSI (U+009B).
_ANSI_RX = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"
    r"|\x1b[@-Z\\-_]"
    r"|\x9b[0-?]*[ -/]*[@-~]"
)
_SGR_RX = re.compile(r"\x1b\[([0-9;:]*)m")


def strip_ansi(text: str) -> str:
    """Remove ANSI escape sequences (colours, cursor moves, OSC titles)."""
    if "\x1b" not in text and "\x9b" not in text:
        return text
    return _ANSI_RX.sub("", text)


# xterm defaults for the 16 basic colours (names are what StyledRun.fg holds).
ANSI_COLOR_HEX: dict[str, str] = {
    "black": "#000000", "red": "#cd0000", "green": "#00cd00", "yellow": "#cdcd00",
    "blue": "#0000ee", "magenta": "#cd00cd", "cyan": "#00cdcd", "white": "#e5e5e5",
    "bright_black": "#7f7f7f", "bright_red": "#ff0000", "bright_green": "#00ff00",
    "bright_yellow": "#ffff00", "bright_blue": "#5c5cff", "bright_magenta": "#ff00ff",
    "bright_cyan": "#00ffff", "bright_white": "#ffffff",
}
_BASIC = ["black", "red", "green", "yellow", "blue", "magenta", "cyan", "white"]


class StyledRun(NamedTuple):
    """A piece of text with one style. ``fg`` is None (default colour), one of
    the 16 names in :data:`ANSI_COLOR_HEX` (``"red"``, ``"bright_red"``...), or
    ``"#rrggbb"`` for 256-colour and true-colour codes."""

    text: str
    fg: str | None = None
    bold: bool = False


def _xterm256(n: int) -> str | None:
    if n < 0 or n > 255:
        return None
    if n < 8:
        return _BASIC[n]
    if n < 16:
        return "bright_" + _BASIC[n - 8]
    if n < 232:
        n -= 16
        steps = (0, 95, 135, 175, 215, 255)
        r, g, b = steps[n // 36], steps[(n // 6) % 6], steps[n % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + (n - 232) * 10
    return f"#{v:02x}{v:02x}{v:02x}"


def _apply_sgr(params: str, fg: str | None, bold: bool) -> tuple[str | None, bool]:
    codes = [int(c) if c.isdigit() else 0 for c in re.split(r"[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            fg, bold = None, False
        elif c == 1:
            bold = True
        elif c in (21, 22):
            bold = False
        elif 30 <= c <= 37:
            fg = _BASIC[c - 30]
        elif 90 <= c <= 97:
            fg = "bright_" + _BASIC[c - 90]
        elif c == 39:
            fg = None
        elif c in (38, 48):
            col = None
            if i + 2 < len(codes) and codes[i + 1] == 5:
                col = _xterm256(codes[i + 2])
                i += 2
            elif i + 1 < len(codes) and codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = (max(0, min(255, v)) for v in codes[i + 2:i + 5])
                col = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            if c == 38 and col is not None:
                fg = col
        i += 1
    return fg, bold


def split_ansi(text: str, fg: str | None = None, bold: bool = False) -> list[StyledRun]:
    """Split ``text`` into styled runs, interpreting SGR colour/bold codes and
    dropping every other escape sequence. ``fg``/``bold`` give the style at the
    start (pass the last run's style to continue across lines). Empty runs are
    omitted; text without escapes gives one run."""
    if "\x1b" not in text and "\x9b" not in text:
        return [StyledRun(text, fg, bold)] if text else []
    runs: list[StyledRun] = []
    pos = 0
    for m in _ANSI_RX.finditer(text):
        if m.start() > pos:
            runs.append(StyledRun(text[pos:m.start()], fg, bold))
        sgr = _SGR_RX.fullmatch(m.group())
        if sgr is not None:
            fg, bold = _apply_sgr(sgr.group(1), fg, bold)
        pos = m.end()
    if pos < len(text):
        runs.append(StyledRun(text[pos:], fg, bold))
    # merge neighbours with the same style (e.g. "\x1b[1m\x1b[31m")
    merged: list[StyledRun] = []
    for r in runs:
        if merged and merged[-1].fg == r.fg and merged[-1].bold == r.bold:
            merged[-1] = StyledRun(merged[-1].text + r.text, r.fg, r.bold)
        else:
            merged.append(r)
    return merged
