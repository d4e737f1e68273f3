"""What diffusion-pipe's TOML parser (uiri ``toml`` 0.10.2) accepts.

train.py reads configs with ``toml.load``, which is stricter than TOML 1.0 in one
way that bites real users: every array must be homogeneous. ``[0.9, 1]`` (an int
among floats), ``[1.0, [512, 512]]`` and ``['a', 1]`` are rejected with "Not a
homogeneous array". Arrays of arrays may differ in their inner types. After
parsing, train.py round-trips the config through JSON, so TOML dates and times
fail too. This module finds such values and normalises values dpgui writes.
"""
from __future__ import annotations

import datetime as _dt
import math
from typing import Any, Iterator

_DATES = (_dt.datetime, _dt.date, _dt.time)


def kind_of(value: Any) -> str:
    """TOML kind of a plain value: boolean, integer, float, string, array, table, date."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "float"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "table"
    if isinstance(value, _DATES):
        return "date"
    return type(value).__name__


def find_incompatibilities(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], str]]:
    """Yield ``(key_path, message)`` for each value toml 0.10.2 + JSON cannot take."""
    if isinstance(value, dict):
        for key, sub in value.items():
            yield from find_incompatibilities(sub, path + (key,))
    elif isinstance(value, (list, tuple)):
        kinds = {kind_of(v) for v in value}
        if len(kinds) > 1:
            if kinds == {"integer", "float"}:
                ints = [v for v in value if kind_of(v) == "integer"]
                floats = [v for v in value if kind_of(v) == "float"]
                if all(float(f).is_integer() for f in floats):
                    fix = (f"write whole numbers without a decimal point "
                           f"({int(floats[0])} rather than {floats[0]!r}), or all with one")
                else:
                    fix = f"write every number with a decimal point, e.g. {_as_float_text(ints[0])}"
                yield path, (
                    "this array mixes integers and floats, which diffusion-pipe's TOML "
                    f"parser rejects ('Not a homogeneous array'); {fix}"
                )
            else:
                yield path, (
                    "this array mixes " + " and ".join(sorted(kinds)) + " values, which "
                    "diffusion-pipe's TOML parser rejects ('Not a homogeneous array'); "
                    "make every element the same kind"
                )
        for i, sub in enumerate(value):
            yield from find_incompatibilities(sub, path + (i,))
    elif isinstance(value, _DATES):
        yield path, (
            "TOML dates and times cannot be used: diffusion-pipe converts the config "
            "to JSON and fails on them; write the value as a quoted string"
        )
    elif isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        yield path, "nan and inf are not valid settings here; write a finite number"


def _as_float_text(value: int) -> str:
    return f"{value}.0"


def normalize(value: Any, integer_items: bool = False) -> Any:
    """Make ``value`` homogeneous the way diffusion-pipe needs it.

    An array that mixes integers and floats becomes all floats, unless
    ``integer_items`` is set (the schema says the items are integers) and every
    float is integral, in which case it becomes all integers. Nested arrays are
    normalised one level at a time, each on its own.
    """
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        items = [normalize(v, integer_items) for v in value]
        kinds = {kind_of(v) for v in items}
        if kinds == {"integer", "float"}:
            if integer_items and all(float(v).is_integer() for v in items):
                return [int(v) for v in items]
            return [float(v) for v in items]
        return items
    if isinstance(value, dict):
        return {k: normalize(v, integer_items) for k, v in value.items()}
    if isinstance(value, _DATES):
        raise ValueError(
            "TOML dates and times cannot be used in a diffusion-pipe config; use a string"
        )
    return value


def split_top_level(text: str, sep: str = ",", *, stop_at_comment: bool = False) -> list[str] | None:
    """Split TOML value text on ``sep`` where it is outside brackets, braces and quotes:
    ``"1e-4, [0.9, 0.99], 'a,b'"`` -> ``['1e-4', ' [0.9, 0.99]', " 'a,b'"]`` (pieces are not
    stripped). With ``stop_at_comment`` a ``#`` outside quotes gives None (the caller cannot
    tell where the values end)."""
    out, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append(cur)
            cur = ""
            continue
        elif ch == "#" and stop_at_comment:
            return None
        cur += ch
    out.append(cur)
    return out
