"""Small text helpers for messages and template comments (Qt-free)."""
from __future__ import annotations

import math
import re
import textwrap

_ABBREVIATIONS = ("e.g.", "i.e.", "etc.", "vs.", "cf.", "approx.", "incl.", "no.", "a.k.a.")
_END = re.compile(r"[.!?](?=\s|$)")


def first_sentence(text: str, *, period: bool = True) -> str:
    """The first whole sentence of ``text``: never cut after an abbreviation such as
    "e.g." or inside parentheses.  ``period=False`` drops the final full stop."""
    text = " ".join((text or "").split())
    for m in _END.finditer(text):
        head = text[: m.end()]
        low = head.lower()
        if any(low.endswith(a) and (len(low) == len(a) or not low[-len(a) - 1].isalnum())
               for a in _ABBREVIATIONS):
            continue
        if head.count("(") > head.count(")"):
            continue
        text = head
        break
    if not period and text.endswith("."):
        text = text[:-1]
    return text


def comment_lines(text: str, width: int = 88, prefix: str = "# ") -> list[str]:
    """``text`` as TOML comment lines of at most ``width`` columns (words never cut)."""
    return [prefix + line for line in textwrap.wrap(text, width - len(prefix),
                                                    break_long_words=False,
                                                    break_on_hyphens=False)]


def format_duration(s: float | None) -> str:
    """A span of seconds the way the Run and Monitor tabs both show it: the two largest
    units, e.g. ``45s``, ``3m 07s``, ``1h 02m``, ``2d 5h``; "—" when unknown."""
    if s is None or not math.isfinite(s):
        return "—"
    s = max(0, int(round(s)))      # a clock that stepped back reads as just started
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    if m:
        return f"{m}m {sec:02d}s"
    return f"{sec}s"


def one_line(text: str, limit: int = 160) -> str:
    """``text`` on one line (runs of whitespace become one space), cut to ``limit``
    characters with a trailing ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(word: str, options: list[str]) -> str:
    """``"; did you mean 'x'?"`` for the option closest to ``word`` (or the same word in
    another case), or ``""`` when none is close."""
    import difflib  # only messages about a mistyped name need it; keeps it off the start path

    close = difflib.get_close_matches(word, options, n=1, cutoff=0.7)
    if not close:
        lowered = {o.lower(): o for o in options}
        if word.lower() in lowered:
            close = [lowered[word.lower()]]
    return f"; did you mean '{close[0]}'?" if close else ""
