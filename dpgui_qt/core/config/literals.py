"""TOML literals of single values: the text a value is written as, parsing typed text back
into a value, and comparing two values as TOML would (used wherever a value is shown or
edited; no Qt, cheap to import)."""
from __future__ import annotations

import math
import re
from typing import Any

import tomlkit

from dpgui_qt.core.config.document import RawValue


def toml_literal(value: Any) -> str:
    """TOML source text of a value or RawValue (used to compare and to build arrays)."""
    if isinstance(value, RawValue):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(tomlkit.item(value).as_string())


def parse_literal(text: str) -> tuple[bool, Any]:
    """(ok, python value) for one TOML value written as text."""
    try:
        doc = tomlkit.parse(f"v = {text}\n")
    except Exception:  # noqa: BLE001 - any parse failure means "not a value"
        return False, None
    if list(doc.keys()) != ["v"]:
        return False, None
    return True, doc.unwrap()["v"]


_FLOAT_FIX = [(re.compile(r"^([+-]?)\.(\d)"), r"\g<1>0.\2"), (re.compile(r"^([+-]?\d+)\.(?=$|[eE])"), r"\1.0")]


def float_text(text: str) -> str | None:
    """Normalise user text for a float field to a TOML number literal, keeping the
    user's spelling (``2e-5`` stays ``2e-5``); None if it is not a number."""
    t = text.strip()
    if not t:
        return None
    for pat, rep in _FLOAT_FIX:
        t = pat.sub(rep, t)
    ok, val = parse_literal(t)
    if ok and isinstance(val, (int, float)) and not isinstance(val, bool):
        return t
    try:
        f = float(t)
    except ValueError:
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return repr(f)


def same_value(a: Any, b: Any) -> bool:
    """Whether two values (python or RawValue) denote the same TOML value."""
    def norm(v: Any) -> Any:
        if isinstance(v, RawValue):
            ok, parsed = parse_literal(v.text)
            return parsed if ok else v.text
        return v
    va, vb = norm(a), norm(b)
    return type(va) is type(vb) and va == vb


