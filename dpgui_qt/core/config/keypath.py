"""Key paths: ``directory[1].path``, ``model.text_encoders[0].type``, ``a."dotted.key"``.

A parsed path is a tuple of ``str`` (table keys) and ``int`` (array indexes).
"""
from __future__ import annotations

import re
from typing import Any, Union

Path = tuple  # type: ignore[type-arg]  # tuple[str | int, ...]; the name stays usable at run time
# what the functions taking a key path accept: dotted text or the parts
PathArg = Union[str, tuple[Any, ...], list[Any]]

_BARE = re.compile(r"[A-Za-z0-9_-]+")


class KeyPathError(ValueError):
    pass


def parse(path: PathArg) -> tuple[Any, ...]:
    """Parse a dotted key path. Tuples and lists pass through (validated)."""
    if isinstance(path, (tuple, list)):
        for part in path:
            if not isinstance(part, (str, int)) or isinstance(part, bool):
                raise KeyPathError(f"bad key path element {part!r}")
        return tuple(path)
    text = path.strip()
    if not text:
        raise KeyPathError("empty key path")
    parts: list[str | int] = []
    i, n = 0, len(text)
    expect_key = True
    while i < n:
        ch = text[i]
        if expect_key:
            if ch in "\"'":
                end = text.find(ch, i + 1)
                if end < 0:
                    raise KeyPathError(f"unterminated quote in key path {path!r}")
                parts.append(text[i + 1:end])
                i = end + 1
            else:
                m = _BARE.match(text, i)
                if not m:
                    raise KeyPathError(f"unexpected {ch!r} at position {i} in key path {path!r}")
                parts.append(m.group())
                i = m.end()
            expect_key = False
        elif ch == ".":
            expect_key = True
            i += 1
        elif ch == "[":
            end = text.find("]", i)
            if end < 0:
                raise KeyPathError(f"missing ']' in key path {path!r}")
            idx = text[i + 1:end].strip()
            if not re.fullmatch(r"-?\d+", idx):
                raise KeyPathError(f"array index must be a number in key path {path!r}")
            parts.append(int(idx))
            i = end + 1
        else:
            raise KeyPathError(f"unexpected {ch!r} at position {i} in key path {path!r}")
    if expect_key:
        raise KeyPathError(f"key path {path!r} ends with '.'")
    return tuple(parts)


def format(path: tuple[Any, ...] | list[Any] | str) -> str:  # noqa: A001 - mirrors parse()
    """The canonical text form of a key path."""
    if isinstance(path, str):
        return path
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            key = part if _BARE.fullmatch(part) else '"' + part.replace('"', '\\"') + '"'
            out += ("." if out else "") + key
    return out
