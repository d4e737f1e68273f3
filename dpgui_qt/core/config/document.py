"""ConfigDocument: a diffusion-pipe TOML file that can be edited without losing anything.

Built on tomlkit, which keeps comments, order, quoting and whitespace. On top of
that this module adds what an editor needs:

* key-path access (``directory[1].path``, ``model.text_encoders[0].type``),
  where *unset* (the key is not written) is distinct from any value;
* edits that touch only the line of the value they change (string quote style and
  trailing comments kept, new keys placed after the table's last key rather than
  after a commented-out block);
* byte-identical output when nothing was edited (CRLF, BOM, missing final
  newline included), and edits that keep a CRLF file CRLF;
* values written the way diffusion-pipe's ``toml`` 0.10.2 parser accepts them;
* atomic saves and typed errors with file, line and column.

No Qt here: the GUI wraps :class:`Change` objects in undo commands.
"""
from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Callable, Iterator

import tomlkit
from tomlkit import items as tk_items
from tomlkit.container import Container, OutOfOrderTableProxy
from tomlkit.exceptions import TOMLKitError

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core.config import locate as _locate
from dpgui_qt.core.config import tomlcompat
from dpgui_qt.core import safeio
# re-exported (``X as X``): callers take the document's errors from here too
from dpgui_qt.core.errors import ConflictError as ConflictError
from dpgui_qt.core.errors import DocumentError as DocumentError
from dpgui_qt.core.errors import EditError as EditError
from dpgui_qt.core.errors import ReadError as ReadError
from dpgui_qt.core.errors import ReadOnlyError as ReadOnlyError
from dpgui_qt.core.errors import SaveError as SaveError
from dpgui_qt.core.errors import TomlSyntaxError as TomlSyntaxError
from dpgui_qt.core.safeio import UNCHECKED


class _Missing:
    _inst: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._inst is None:
            cls._inst = super().__new__(cls)
        return cls._inst

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()
"""Returned by :meth:`ConfigDocument.get` for keys that are not written in the file."""


class DocKind(StrEnum):
    """Which of diffusion-pipe's two TOML files a document is (the one definition; a
    ``str``, so it compares equal to ``"main"``/``"dataset"`` and prints as such)."""

    MAIN = "main"  # the training config: train.py --config
    DATASET = "dataset"  # the dataset config a main config names


@dataclass(frozen=True)
class RawValue:
    """A value given as TOML source text (``2e-5``, ``[[512, 4], [1024, 1]]``).

    Setting a RawValue keeps the user's spelling, e.g. scientific notation.
    """

    text: str


@dataclass(frozen=True)
class Change:
    """One applied edit, enough to undo and redo it exactly."""

    kind: str  # "set", "delete", "insert", "remove", "move", "restore"
    path: tuple[Any, ...]
    before: str
    after: str


_TK_MESSAGES = [
    (re.compile(r"Unexpected character: '(.)'"),
     "unexpected character {0!r} (text values need quotes, arrays need a closing ']', "
     "and each line holds one 'key = value')"),
    (re.compile(r"Invalid value"), "this is not a valid TOML value (strings need quotes)"),
    (re.compile(r"Key \"?(.+?)\"? already exists|Redefinition of table|already exists"),
     "this key or table is defined twice"),
    (re.compile(r"Unclosed array"), "an array is not closed with ']'"),
    (re.compile(r"Unexpected end of file"), "the file ends in the middle of a value"),
    (re.compile(r"Empty key"), "a key is missing before '='"),
    (re.compile(r"Invalid number"), "this number is not valid TOML"),
    (re.compile(r"Unbalanced quotes|Unclosed string|Unterminated string"),
     "a string is not closed with its quote"),
]


def _friendly_syntax_message(raw: str) -> str:
    raw = re.sub(r"\s+at line \d+ col \d+\s*$", "", raw).strip()
    for pattern, template in _TK_MESSAGES:
        m = pattern.search(raw)
        if m:
            return template.format(*m.groups())
    return raw


def _open_arrays_before(text: str, line: int) -> tuple[int, str] | None:
    """If an array opened before ``line`` is still open there, return its line and key."""
    scanner = _locate.ValueScanner()
    opened: tuple[int, str] | None = None
    for lineno, src in enumerate(text.splitlines()[: max(0, line - 1)], start=1):
        was_open = scanner.open
        if was_open:
            scanner.scan(src, 0)
        else:
            stripped = src.lstrip()
            if not stripped or stripped[0] in "#[":
                continue
            eq = stripped.find("=")
            if eq <= 0:
                continue
            scanner.scan(stripped, eq + 1)
            if scanner.depth > 0:
                opened = (lineno, stripped[:eq].strip())
        if not scanner.open:
            opened = None
    return opened if scanner.depth > 0 else None


def parse_text(text: str, path: str | None = None) -> tomlkit.TOMLDocument:
    try:
        return tomlkit.parse(text)
    except TOMLKitError as exc:
        line = int(getattr(exc, "line", 1) or 1)
        col = int(getattr(exc, "col", 0) or 0) + 1
        message = _friendly_syntax_message(str(exc))
        opened = _open_arrays_before(text, line)
        if opened:
            message += (f"; the array '{opened[1]} = [' opened on line {opened[0]} is never "
                        "closed (a commented-out closing ']'?)")
        raise TomlSyntaxError(path, line, col, message) from None
    except (ValueError, IndexError, KeyError, TypeError, RecursionError) as exc:
        # tomlkit raises a few plain exceptions on pathological input
        raise TomlSyntaxError(path, 1, 1, f"this is not valid TOML ({exc})") from None


def _dominant_newline(text: str) -> str:
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


class ConfigDocument:
    """A TOML config file, editable by key path without losing formatting."""

    def __init__(self, text: str = "", path: str | os.PathLike[str] | None = None, *,
                 bom: bool = False):
        self.path: Path | None = Path(path) if path is not None else None
        self._bom = bom
        self._listeners: list[Callable[[Change], None]] = []
        self._set_text(text)
        self.saved_text = text
        # the file's bytes this text is based on (None: the file did not exist), compared
        # with the disk at save so another program's edit is never overwritten silently
        self.disk_bytes: Any = UNCHECKED
        self._batch_depth = 0

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> "ConfigDocument":
        """Read a config (a regular file of at most :data:`safeio.MAX_CONFIG_BYTES`)."""
        p = Path(path)
        data = safeio.read_regular(p)  # raises ReadError: missing, FIFO, device, too large
        raw = data
        bom = data.startswith(b"\xef\xbb\xbf")
        if bom:
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[: exc.start].count(b"\n") + 1
            col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
            raise TomlSyntaxError(str(p), line, col,
                                  "the file is not UTF-8 text (TOML files must be UTF-8)") from None
        doc = cls(text, p, bom=bom)
        doc.disk_bytes = raw
        return doc

    @classmethod
    def from_text(cls, text: str, path: str | os.PathLike[str] | None = None) -> "ConfigDocument":
        return cls(text, path)

    def _set_text(self, text: str) -> None:
        self._doc = parse_text(text, str(self.path) if self.path else None)
        self._text = text
        self._parsed_text = text
        # tomlkit gathers the entries of an array of tables written apart ([[directory]],
        # [optimizer], [[directory]]) into one place when it renders the document; edits
        # put the sections back in the order they were written (a no-op for files whose
        # arrays of tables are written in one piece)
        self._reorders = "[[" in text
        self._newline = _dominant_newline(text)
        self._values: dict[str, Any] | None = None
        self._locations: dict[tuple[Any, ...], tuple[int, int]] | None = None

    # ------------------------------------------------------------------ reading
    @property
    def text(self) -> str:
        return self._text

    @property
    def modified(self) -> bool:
        return self._text != self.saved_text

    @property
    def tomlkit_document(self) -> tomlkit.TOMLDocument:
        return self._doc

    def values(self) -> dict[str, Any]:
        """Plain Python values (dicts, lists, str, int, float, bool)."""
        if self._values is None:
            self._values = self._doc.unwrap()
        return self._values

    def get(self, path: kp.PathArg, default: Any = MISSING) -> Any:
        node: Any = self.values()
        for part in kp.parse(path):
            try:
                if isinstance(part, int):
                    if not isinstance(node, list):
                        return default
                    node = node[part]
                else:
                    if not isinstance(node, dict) or part not in node:
                        return default
                    node = node[part]
            except IndexError:
                return default
        return node

    def has(self, path: kp.PathArg) -> bool:
        return self.get(path) is not MISSING

    def literal(self, path: kp.PathArg) -> str | None:
        """The value as written in the file (``2e-5`` stays ``2e-5``), or None if unset."""
        item = self._item(kp.parse(path))
        if item is None:
            return None
        if isinstance(item, (tk_items.Table, tk_items.AoT)):
            return None
        if not hasattr(item, "as_string"):  # tomlkit hands out booleans as plain bool
            item = tomlkit.item(item)
        text = item.as_string()
        return str(text).strip()

    def locate(self, path: kp.PathArg) -> tuple[int, int]:
        """1-based (line, column) of ``path`` or of its nearest written ancestor."""
        if self._locations is None:
            self._locations = _locate.locate_all(self._text)
        return _locate.locate(self._locations, kp.parse(path))

    def is_located(self, path: kp.PathArg) -> bool:
        if self._locations is None:
            self._locations = _locate.locate_all(self._text)
        return kp.parse(path) in self._locations

    def _item(self, parts: tuple[Any, ...]) -> Any:
        node: Any = self._doc
        for part in parts:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return None
        return node

    # ---------------------------------------------------------------- listeners
    def add_listener(self, fn: Callable[[Change], None]) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: Callable[[Change], None]) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    def _commit(self, kind: str, path: tuple[Any, ...], before: str) -> Change:
        after = self._doc.as_string()
        if self._newline == "\r\n":
            after = re.sub(r"(?<!\r)\n", "\r\n", after)
        if self._reorders:
            after = _keep_section_order(self._text, after)
        if self._batch_depth:
            # inside batch(): keep the edited tree; batch() checks the final text once
            self._text = after
            self._values = None
            self._locations = None
        else:
            # re-parse so the tomlkit tree always matches the text exactly
            self._set_text(after)
        change = Change(kind, path, before, after)
        for fn in list(self._listeners):
            fn(change)
        return change

    @contextlib.contextmanager
    def batch(self) -> Iterator[ConfigDocument]:
        """Apply several edits without re-parsing the whole text after each one (a large
        file costs a full tomlkit parse per edit otherwise). On leaving, the final text is
        parsed once with the standard library's fast ``tomllib``; the values it reads must
        be the edited tree's values, otherwise the text is re-parsed with tomlkit so the
        tree matches the text exactly, as after a single edit."""
        self._batch_depth += 1
        try:
            yield self
        finally:
            self._batch_depth -= 1
        if self._batch_depth == 0 and self._text is not self._parsed_text:
            try:
                import tomllib

                plain = tomllib.loads(self._text)
            except (ImportError, ValueError):
                plain = None
            if plain is not None and plain == self._doc.unwrap():
                self._values = plain
                self._parsed_text = self._text
            else:
                self._set_text(self._text)

    # ------------------------------------------------------------------ editing
    def set(self, path: kp.PathArg, value: Any, *, replace_table: bool = False) -> Change:
        """Set ``path`` to ``value`` (a Python value or a :class:`RawValue`).

        A table (or array of tables) is not replaced by a value that is not a table unless
        ``replace_table`` is set: ``model = 'flux'`` would silently drop every key of
        ``[model]``."""
        parts = kp.parse(path)
        before = self._text
        old = self._item(parts)
        item = self._make_item(value, old)
        if not replace_table and _is_table(old) and not _is_table(item):
            if isinstance(old, tk_items.AoT):
                what, inside = f"an array of {len(old)} tables", kp.format(parts + (0,)) + ".key"
            else:
                first = next(iter(old.keys()), "key")
                what, inside = f"a table of {len(old)} keys", kp.format(parts + (first,))
            raise EditError(f"{kp.format(parts)} is {what}; setting it to a {_kind_word(item)} "
                            f"would remove them all. Set a key inside it instead (for example "
                            f"{inside})")
        parent = self._container_for(parts[:-1], create=True)
        last = parts[-1]
        if isinstance(last, int):
            if not isinstance(parent, (tk_items.Array, tk_items.AoT)):
                raise EditError(f"{kp.format(parts[:-1])} is not an array")
            if not -len(parent) <= last < len(parent):
                raise EditError(f"{kp.format(parts)}: index out of range")
            parent[last] = item
        else:
            if not hasattr(parent, "__setitem__") or isinstance(parent, (tk_items.Array, tk_items.AoT)):
                raise EditError(f"{kp.format(parts[:-1])} is not a table")
            if last in parent:
                parent[last] = item
            else:
                self._add_key(parent, last, item)
        return self._commit("set", parts, before)

    def delete(self, path: kp.PathArg) -> Change:
        """Remove ``path`` from the file (the value becomes unset)."""
        parts = kp.parse(path)
        before = self._text
        parent = self._item(parts[:-1]) if len(parts) > 1 else self._doc
        last = parts[-1]
        try:
            del parent[last]
        except (KeyError, IndexError, TypeError):
            raise EditError(f"{kp.format(parts)} is not set") from None
        return self._commit("delete", parts, before)

    def insert(self, array_path: kp.PathArg, index: int, value: Any) -> Change:
        """Insert ``value`` into the array (or array of tables) at ``array_path``."""
        parts = kp.parse(array_path)
        before = self._text
        arr = self._item(parts)
        if isinstance(arr, tk_items.AoT):
            if not isinstance(value, dict):
                raise EditError(f"{kp.format(parts)} holds tables; insert a table")
            table = tomlkit.table()
            for k, v in value.items():
                table[k] = self._make_item(v, None)
            split = self._is_split_aot(parts)
            if split:
                slots = _detach_slot_trailing(arr)
            else:
                leads = _aot_leads(arr)
                spacing = _aot_spacing(arr)
            index = max(0, min(index, len(arr)))
            if index >= len(arr):
                arr.append(table)
            else:
                arr.insert(index, table)
            if split:
                _attach_slot_trailing(arr, slots)
            else:
                leads.insert(index, [])
                _apply_aot_spacing(arr, spacing, leads)
        elif isinstance(arr, tk_items.Array):
            index = max(0, min(index, len(arr)))
            if isinstance(value, dict):
                # a table inside an inline array must be written inline too
                item = tomlkit.inline_table()
                for k, v in value.items():
                    item[k] = self._make_item(v, None)
            else:
                item = self._make_item(value, None)
            arr.insert(index, item)
        elif arr is None:
            if isinstance(value, dict):
                aot = tomlkit.aot()
                table = tomlkit.table()
                for k, v in value.items():
                    table[k] = self._make_item(v, None)
                aot.append(table)
                parent = self._container_for(parts[:-1], create=True)
                parent[parts[-1]] = aot
            else:
                self.set(parts, [value])
                return Change("insert", parts, before, self._text)
        else:
            raise EditError(f"{kp.format(parts)} is not an array")
        return self._commit("insert", parts, before)

    def remove(self, array_path: kp.PathArg, index: int) -> Change:
        parts = kp.parse(array_path)
        arr = self._item(parts)
        if isinstance(arr, tk_items.AoT):
            if not -len(arr) <= index < len(arr):
                raise EditError(f"{kp.format(parts + (index,))} does not exist")
            before = self._text
            if self._is_split_aot(parts):
                slots = _detach_slot_trailing(arr)
                del arr[index]
                _attach_slot_trailing(arr, slots)
            else:
                leads = _aot_leads(arr)
                spacing = _aot_spacing(arr)
                del arr[index]
                del leads[index]
                _apply_aot_spacing(arr, spacing, leads)
            return self._commit("remove", parts, before)
        return self.delete(parts + (index,))

    def move(self, array_path: kp.PathArg, src: int, dst: int) -> Change:
        """Move one element of an array (or array of tables), keeping its comments."""
        parts = kp.parse(array_path)
        arr = self._item(parts)
        if not isinstance(arr, (tk_items.AoT, tk_items.Array)):
            raise EditError(f"{kp.format(parts)} is not an array")
        n = len(arr)
        if not (0 <= src < n and 0 <= dst < n):
            raise EditError(f"{kp.format(parts)}: index out of range")
        before = self._text
        if src == dst:
            return Change("move", parts, before, before)
        if isinstance(arr, tk_items.AoT):
            if self._is_split_aot(parts):
                slots = _detach_slot_trailing(arr)
                element = arr[src]
                del arr[src]
                arr.insert(dst, element)
                _attach_slot_trailing(arr, slots)
            else:
                leads = _aot_leads(arr)
                spacing = _aot_spacing(arr)
                element = arr[src]
                del arr[src]
                arr.insert(dst, element)
                leads.insert(dst, leads.pop(src))
                _apply_aot_spacing(arr, spacing, leads)
        else:
            values = [arr[i] for i in range(n)]
            element = values.pop(src)
            values.insert(dst, element)
            for i, v in enumerate(values):
                arr[i] = v
        return self._commit("move", parts, before)

    def restore(self, text: str) -> Change:
        """Replace the whole content (undo/redo and reload use this)."""
        before = self._text
        self._set_text(text)
        change = Change("restore", (), before, text)
        for fn in list(self._listeners):
            fn(change)
        return change

    # ----------------------------------------------------------------- helpers
    def _is_split_aot(self, parts: tuple[Any, ...]) -> bool:
        """Whether the array of tables at ``parts`` is written in pieces, with other tables
        between its entries. Its entries then move between fixed places in the text
        (:func:`_keep_section_order`), and the comments and blank lines at the end of each
        place lead into the table that follows it, so they stay with the place."""
        if not self._reorders or not all(isinstance(p, str) for p in parts):
            return False
        headers = [k[0] for k, _t in _sections(self._text) if k is not None]
        mine = [i for i, h in enumerate(headers) if h == (True, tuple(parts))]
        return bool(mine) and any(h[1][:len(parts)] != tuple(parts)
                                  for h in headers[mine[0]:mine[-1] + 1])

    def _container_for(self, parts: tuple[Any, ...], create: bool) -> Any:
        node: Any = self._doc
        for i, part in enumerate(parts):
            try:
                node = node[part]
                continue
            except (KeyError, IndexError, TypeError):
                pass
            if not create or isinstance(part, int):
                raise EditError(f"{kp.format(parts[: i + 1])} does not exist")
            table = tomlkit.table()
            if node is self._doc:
                self._doc.add(part, table)
            else:
                node[part] = table
            node = node[part]
        return node

    def _add_key(self, parent: Any, key: str, item: Any) -> None:
        """Add a new key after the table's last key (not after trailing comments)."""
        container = None
        if isinstance(parent, Container):
            container = parent
        elif isinstance(parent, tk_items.Table):
            container = parent.value
        if container is None or isinstance(parent, (OutOfOrderTableProxy, tk_items.InlineTable)):
            parent[key] = item
            return
        body = container.body
        last_kv = None
        first_table = None
        for idx, (k, v) in enumerate(body):
            if k is None:
                continue
            if isinstance(v, (tk_items.Table, tk_items.AoT)):
                if first_table is None:
                    first_table = idx
                continue
            if first_table is None:
                last_kv = idx
        if last_kv is None or last_kv == len(body) - 1:
            if last_kv is not None:
                prev = body[last_kv][1]
                if hasattr(prev, "trivia") and hasattr(item, "trivia"):
                    item.trivia.indent = prev.trivia.indent
            parent[key] = item
            return
        prev = body[last_kv][1]
        if hasattr(prev, "trivia") and hasattr(item, "trivia"):
            item.trivia.indent = prev.trivia.indent
        container._insert_at(last_kv + 1, key, item)

    def _make_item(self, value: Any, old: Any) -> Any:
        if isinstance(value, RawValue):
            try:
                parsed = tomlkit.parse(f"v = {value.text}\n")
            except TOMLKitError as exc:
                raise EditError(f"{value.text!r} is not a TOML value: "
                                f"{_friendly_syntax_message(str(exc))}") from None
            if list(parsed.keys()) != ["v"]:
                raise EditError(f"{value.text!r} is not a single TOML value")
            item = parsed["v"]
            plain = parsed.unwrap()["v"]
            try:
                fixed = tomlcompat.normalize(plain)
            except ValueError as exc:
                raise EditError(str(exc)) from None
            if any(True for _ in tomlcompat.find_incompatibilities(plain)):
                item = tomlkit.item(fixed)
            return item
        try:
            value = tomlcompat.normalize(value)
        except ValueError as exc:
            raise EditError(str(exc)) from None
        if isinstance(value, str) and isinstance(old, tk_items.String):
            literal = old.type in (tk_items.StringType.SLL, tk_items.StringType.MLL)
            if literal and "'" not in value and "\n" not in value and "\r" not in value:
                return tomlkit.string(value, literal=True)
        try:
            return tomlkit.item(value)
        except (TypeError, ValueError) as exc:
            raise EditError(f"cannot write {value!r} to TOML: {exc}") from None

    # ------------------------------------------------------------------- saving
    def encoded(self) -> bytes:
        data = self._text.encode("utf-8")
        return (b"\xef\xbb\xbf" + data) if self._bom else data

    def save(self, path: str | os.PathLike[str] | None = None, *, check: bool = True,
             allow_readonly: bool = False) -> Path:
        """Write safely (see :mod:`dpgui_qt.core.safeio`): atomically where the file's
        owner, group, mode, xattrs and hard links allow, through symlinks, never over a
        FIFO or device, and never over another program's edit: when saving to the file
        this document was read from and ``check`` is set, a file that no longer holds
        :attr:`disk_bytes` raises :class:`ConflictError` and nothing is written."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise SaveError("<unnamed>", "no file name given")
        same = self.path is not None and (path is None or Path(path) == self.path)
        expected = self.disk_bytes if (check and same) else UNCHECKED
        data = self.encoded()
        safeio.write_file(target, data, expected=expected, allow_readonly=allow_readonly)
        if path is None or self.path is None or Path(path) == self.path:
            self.path = target
            self.saved_text = self._text
            self.disk_bytes = data
        return target


def _sections(text: str) -> list[tuple[Any, str]]:
    """Split TOML text at its table headers: ``[(key, text)]`` where key is None for what
    precedes the first header and ``(header, n)`` for the n-th header spelled that way."""
    out: list[tuple[Any, str]] = []
    seen: dict[tuple[Any, ...], int] = {}
    scanner = _locate.ValueScanner()
    key: Any = None
    start = 0
    pos = 0
    for line in text.splitlines(keepends=True):
        here = pos
        pos += len(line)
        if scanner.open:
            scanner.scan(line, 0)
            continue
        stripped = line.lstrip(" \t\ufeff")
        if stripped.startswith("["):
            double = stripped.startswith("[[")
            parsed = _locate.parse_key(stripped, 2 if double else 1)
            if parsed:
                header = (double, tuple(parsed[0]))
                n = seen.get(header, 0)
                seen[header] = n + 1
                out.append((key, text[start:here]))
                key, start = (header, n), here
                continue
        eq = stripped.find("=")
        if eq > 0 and not stripped.startswith("#"):
            rest = stripped[eq + 1:]
            # only arrays, inline tables and triple-quoted strings can span lines
            if "[" in rest or "{" in rest or '"""' in rest or "'''" in rest:
                scanner.scan(stripped, eq + 1)
    out.append((key, text[start:]))
    return out


def _keep_section_order(old: str, new: str) -> str:
    """``new`` with its sections in the order ``old`` had them (sections new in ``new``
    follow the section they follow there; sections gone from ``new`` are dropped)."""
    new_sections = _sections(new)
    by_key = dict(new_sections)
    if len(by_key) != len(new_sections):
        return new  # not a shape this can reason about: keep tomlkit's rendering
    order = [k for k, _t in _sections(old) if k in by_key]
    placed = set(order)
    for i, (k, _t) in enumerate(new_sections):
        if k in placed:
            continue
        prev = new_sections[i - 1][0] if i else None
        at = order.index(prev) + 1 if prev in order else len(order)
        order.insert(at, k)
        placed.add(k)
    return "".join(by_key[k] for k in order)


def _is_table(item: Any) -> bool:
    return isinstance(item, (tk_items.Table, tk_items.InlineTable, tk_items.AoT,
                             OutOfOrderTableProxy, dict))


def _kind_word(item: Any) -> str:
    plain = item.unwrap() if hasattr(item, "unwrap") else item
    return tomlcompat.kind_of(plain)


def _trailing_ws(table: Any) -> str:
    out = ""
    for key, item in reversed(table.value.body):
        if key is None and isinstance(item, tk_items.Whitespace):
            out = item.s + out
        else:
            break
    return out


def _aot_leads(arr: Any) -> list[list[Any]]:
    """Detach the comment lines written directly above each ``[[entry]]`` header after
    the first (tomlkit keeps them at the end of the previous entry), so they travel with
    their own entry on insert/move/remove. The first entry's leading comment lives in
    the enclosing table and stays where it is."""
    tables = list(arr.body)
    leads: list[list[Any]] = [[] for _ in tables]
    for i, table in enumerate(tables[:-1]):
        body = table.value.body
        lead: list[Any] = []
        while body and body[-1][0] is None and isinstance(body[-1][1], tk_items.Comment):
            lead.insert(0, body.pop())
        leads[i + 1] = lead
    return leads


def _aot_spacing(arr: Any) -> tuple[str, list[Any]]:
    """Detach what trails the last ``[[entry]]`` (blank lines and comments that lead
    into the next table) and find the separator used between entries."""
    tables = list(arr.body)
    if not tables:
        return "\n", []
    inner = [_trailing_ws(t) for t in tables[:-1]]
    body = tables[-1].value.body
    tail: list[Any] = []
    while body and body[-1][0] is None and isinstance(
            body[-1][1], (tk_items.Whitespace, tk_items.Comment)):
        tail.insert(0, body.pop())
    sep = max(set(inner), key=inner.count) if inner else "\n"
    if not inner and tail and isinstance(tail[0][1], tk_items.Whitespace):
        sep = tail[0][1].s
    return sep, tail


def _detach_slot_trailing(arr: Any) -> list[list[Any]]:
    """Take the trailing comments and blank lines off every entry (one list per place)."""
    out = []
    for table in arr.body:
        body = table.value.body
        tail: list[Any] = []
        while body and body[-1][0] is None and isinstance(
                body[-1][1], (tk_items.Whitespace, tk_items.Comment)):
            tail.insert(0, body.pop())
        out.append(tail)
    return out


def _attach_slot_trailing(arr: Any, slots: list[list[Any]]) -> None:
    """Give each place its trailing lines back after entries were inserted, removed or
    moved. Places are fixed in the text; entries move through them. A new place comes
    after the old last one, so it takes over the last place's trailing lines (they lead
    into what follows the array) and the old last place gets a blank line. When places
    go away (a removal), their comments are kept at the end of the last remaining place,
    so no comment is lost."""
    tables = list(arr.body)
    if not tables or not slots:
        return
    n_old, n_new = len(slots), len(tables)
    blank = [(None, tk_items.Whitespace("\n"))]
    if n_new >= n_old:
        for k, table in enumerate(tables[:-1]):
            table.value.body.extend(slots[k] if k < n_old - 1 else blank)
        tables[-1].value.body.extend(slots[-1])
        return
    for k, table in enumerate(tables):
        table.value.body.extend(slots[k])
    gone = [item for tail in slots[n_new:] for item in tail
            if isinstance(item[1], tk_items.Comment)]
    if gone:
        tables[-1].value.body.extend(gone)


def _apply_aot_spacing(arr: Any, spacing: tuple[str, list[Any]], leads: list[Any] | None = None) -> None:
    sep, tail = spacing
    tables = list(arr.body)
    leads = leads or [[] for _ in tables]
    for i, table in enumerate(tables):
        body = table.value.body
        while body and body[-1][0] is None and isinstance(body[-1][1], tk_items.Whitespace):
            body.pop()
        if i < len(tables) - 1:
            body.append((None, tk_items.Whitespace(sep)))
            body.extend(leads[i + 1] if i + 1 < len(leads) else [])
        else:
            body.extend(tail)
    if tables and leads and leads[0]:
        # an entry that moved to the front keeps its comment just inside its header
        first = tables[0].value.body
        first[0:0] = leads[0]


def atomic_write(target: Path, data: bytes, *, expected: Any = UNCHECKED,
                 allow_readonly: bool = False) -> None:
    """Write ``data`` to ``target`` with every guarantee of :func:`safeio.write_file`."""
    safeio.write_file(target, data, expected=expected, allow_readonly=allow_readonly)
