"""Map key paths to the line and column where they are written in TOML text.

tomlkit keeps formatting but not positions, and validation messages must point at
``FILE:LINE:COL``. This scanner walks the text once, tracking table headers,
arrays of tables, dotted keys, multi-line arrays and multi-line strings, and
records where each key (and each inline-table item of a multi-line array) starts.
"""
from __future__ import annotations

from typing import Any, Callable

import re

_BARE = re.compile(r"[A-Za-z0-9_-]+")


def parse_key(text: str, i: int) -> tuple[list[str], int] | None:
    """Parse a (possibly dotted, possibly quoted) key starting at ``i``."""
    parts: list[str] = []
    n = len(text)
    while True:
        while i < n and text[i] in " \t":
            i += 1
        if i >= n:
            return None
        ch = text[i]
        if ch in "\"'":
            end = i + 1
            while end < n and text[end] != ch:
                if ch == '"' and text[end] == "\\":
                    end += 1
                end += 1
            if end >= n:
                return None
            parts.append(text[i + 1:end])
            i = end + 1
        else:
            m = _BARE.match(text, i)
            if not m:
                return None
            parts.append(m.group())
            i = m.end()
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] == ".":
            i += 1
            continue
        return parts, i


class ValueScanner:
    """Tracks bracket depth and multi-line strings across lines of one value."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_ml: str | None = None  # '"""' or "'''"
        self.item_counts: list[int] = []

    @property
    def open(self) -> bool:
        return self.depth > 0 or self.in_ml is not None

    def scan(self, text: str, start: int, on_item: Callable[[int], None] | None = None) -> None:
        i, n = start, len(text)
        while i < n:
            if self.in_ml:
                end = text.find(self.in_ml, i)
                if end < 0:
                    return
                i = end + 3
                self.in_ml = None
                continue
            ch = text[i]
            if ch == "#":
                return
            if text.startswith('"""', i) or text.startswith("'''", i):
                self.in_ml = text[i:i + 3]
                i += 3
                continue
            if ch in "\"'":
                end = i + 1
                while end < n and text[end] != ch:
                    if ch == '"' and text[end] == "\\":
                        end += 1
                    end += 1
                i = end + 1
                continue
            if ch in "[{":
                if ch == "{" and self.depth == 1 and on_item is not None:
                    on_item(i)
                self.depth += 1
            elif ch in "]}":
                self.depth = max(0, self.depth - 1)
            i += 1


def locate_all(text: str) -> dict[tuple[Any, ...], tuple[int, int]]:
    """Return ``{key_path: (line, column)}`` (both 1-based) for every key found."""
    locations: dict[tuple[Any, ...], tuple[int, int]] = {}
    current: tuple[Any, ...] = ()
    aot_counts: dict[tuple[Any, ...], int] = {}
    scanner = ValueScanner()
    value_key: tuple[Any, ...] = ()
    item_index = [0]
    lines = text.splitlines()
    for lineno, line in enumerate(lines, start=1):
        if scanner.open:
            def on_item(col: int, _lineno: int = lineno, _key: tuple[Any, ...] = value_key) -> None:
                locations.setdefault(_key + (item_index[0],), (_lineno, col + 1))
                item_index[0] += 1
            scanner.scan(line, 0, on_item)
            continue
        stripped = line.lstrip(" \t\ufeff")
        indent = len(line) - len(stripped)
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.startswith("[["):
            parsed = parse_key(stripped, 2)
            if parsed:
                path = tuple(parsed[0])
                idx = aot_counts.get(path, 0)
                aot_counts[path] = idx + 1
                # a new [[parent]] entry restarts the counts of nested arrays of tables
                for key in [k for k in aot_counts if len(k) > len(path) and k[:len(path)] == path]:
                    del aot_counts[key]
                current = path + (idx,)
                locations.setdefault(path, (lineno, indent + 1))
                locations[current] = (lineno, indent + 1)
            continue
        if stripped.startswith("["):
            parsed = parse_key(stripped, 1)
            if parsed:
                current = _resolve_table(tuple(parsed[0]), aot_counts)
                locations.setdefault(current, (lineno, indent + 1))
            continue
        parsed = parse_key(stripped, 0)
        if not parsed:
            continue
        parts, pos = parsed
        if pos >= len(stripped) or stripped[pos] != "=":
            continue
        full = current + tuple(parts)
        for k in range(len(current) + 1, len(full)):
            locations.setdefault(full[:k], (lineno, indent + 1))
        locations.setdefault(full, (lineno, indent + 1))
        value_key = full
        item_index[0] = 0

        def on_value_item(col: int, _lineno: int = lineno, _key: tuple[Any, ...] = value_key,
                          _indent: int = indent) -> None:
            locations.setdefault(_key + (item_index[0],), (_lineno, _indent + col + 1))
            item_index[0] += 1

        scanner.scan(stripped, pos + 1, on_value_item)
    return locations


def _resolve_table(path: tuple[Any, ...], aot_counts: dict[tuple[Any, ...], int]) -> tuple[Any, ...]:
    """``[directory.sub]`` inside the last ``[[directory]]`` entry gets its index."""
    out: tuple[Any, ...] = ()
    for part in path:
        out = out + (part,)
        if out in aot_counts:
            out = out + (aot_counts[out] - 1,)
    return out


def locate(locations: dict[tuple[Any, ...], tuple[int, int]], path: tuple[Any, ...]) -> tuple[int, int]:
    """Position of ``path`` or of its nearest written ancestor; (1, 1) if none."""
    path = tuple(path)
    while path:
        if path in locations:
            return locations[path]
        path = path[:-1]
    return (1, 1)
