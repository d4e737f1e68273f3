"""Value editors for the property tree, chosen from a registry keyed by
``(schema type, widget hint)`` -- the pyqtgraph-parametertree approach, not an
``isinstance`` ladder over values.

Every editor is a :class:`ValueEditor`: ``set_value(value, literal)`` loads the
document's value (``literal`` is the text as written, so ``2e-5`` stays ``2e-5``),
``value()`` returns a Python value or a :class:`RawValue` (or :data:`INVALID`),
and ``edited`` fires when the user has produced a value worth committing.
Editors that hold free text commit when editing finishes (a document edit
re-parses the file, ~10-50 ms), the others on every change.

Register a new editor kind with::

    @EDITORS.register("string", "regex")
    class RegexEditor(ValueEditor): ...
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QHBoxLayout, QLabel,
                               QLineEdit, QSpinBox, QStackedWidget, QToolButton, QWidget)

from dpgui_qt.core.config.document import RawValue
from dpgui_qt.core.config.literals import float_text, parse_literal, same_value, toml_literal
from dpgui_qt.core.config.schema import deref
from dpgui_qt.core.config.tomlcompat import split_top_level


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID: Any = _Invalid()
"""``ValueEditor.value()`` when the widget holds nothing that can be written."""

INT_MIN, INT_MAX = -(2 ** 31), 2 ** 31 - 1


@dataclass
class EditorContext:
    """What an editor may need besides its schema."""

    schema: dict[str, Any] | None
    root: dict[str, Any] | None = None  # schema that $refs resolve against
    base_dir: str | None = None  # folder the browse dialogs start in
    choices: list[Any] | None = None  # (label, value) pairs for discriminator combos
    editable_choice: bool = False  # combo also takes free text (optimizer class names)

    def sub(self, schema: dict | None) -> "EditorContext":
        return EditorContext(deref(self.root or {}, schema) if schema else None,
                             self.root, self.base_dir)


def _range(schema: dict[str, Any]) -> tuple[float | None, float | None]:
    lo = schema.get("minimum")
    if lo is None and isinstance(schema.get("exclusiveMinimum"), (int, float)):
        lo = schema["exclusiveMinimum"]
    hi = schema.get("maximum")
    if hi is None and isinstance(schema.get("exclusiveMaximum"), (int, float)):
        hi = schema["exclusiveMaximum"]
    return lo, hi


# ------------------------------------------------------------------ base
class ValueEditor(QWidget):
    edited = Signal()  # commit this value
    live = False  # True: commits on every change (no free text)

    def __init__(self, ctx: EditorContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.schema = ctx.schema or {}
        self.setAutoFillBackground(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        lay = self.row = QHBoxLayout(self)  # the row every editor lays its widgets out in
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)

    # every registered editor overrides these two (the registry only holds subclasses)
    def set_value(self, value: Any, literal: str | None = None) -> None:
        raise TypeError(f"{type(self).__name__} does not define set_value()")

    def value(self) -> Any:
        raise TypeError(f"{type(self).__name__} does not define value()")

    def main_widget(self) -> QWidget:
        return self

    def problem(self) -> str | None:
        """Why the text in the editor cannot be written (None: it can)."""
        return None

    def show_problem(self, text: str | None = None) -> None:
        """Show ``text`` (default: :meth:`problem`) beside the value, or hide it."""
        text = self.problem() if text is None else text
        label = getattr(self, "_reason", None)
        if label is None:
            if not text:
                return
            from PySide6.QtWidgets import QLabel
            label = self._reason = QLabel(self)
            label.setObjectName("EditorReason")
            label.setStyleSheet("color: #c62828; padding: 0 4px;")
            self.row.addWidget(label)
        label.setText(text or "")
        label.setToolTip(text or "")
        label.setVisible(bool(text))

    def _mark(self, widget: QWidget, ok: bool) -> None:
        widget.setProperty("invalid", not ok)
        widget.setStyleSheet("" if ok else "border: 1px solid #d64545;")
        if ok:
            self.show_problem("")


def _line_edit(editor: ValueEditor, placeholder: str = "") -> QLineEdit:
    le = QLineEdit(editor)
    le.setFrame(False)
    if placeholder:
        le.setPlaceholderText(placeholder)
    le.editingFinished.connect(editor.edited)
    editor.row.addWidget(le, 1)
    editor.setFocusProxy(le)
    return le


# -------------------------------------------------------------- registry
class EditorRegistry:
    """(schema type, widget hint) -> editor class."""

    def __init__(self) -> None:
        self._factories: dict[tuple[str, str | None], Callable[..., ValueEditor]] = {}

    def register(self, type_key: str, widget: str | None = None):
        def wrap(factory):
            self._factories[(type_key, widget)] = factory
            return factory
        return wrap

    def keys(self) -> list[tuple[str, str | None]]:
        return list(self._factories)

    @staticmethod
    def key_for(schema: dict[str, Any] | None, root: dict[str, Any] | None = None) -> tuple[str, str | None]:
        """The registry key for a property schema (which editor edits it)."""
        if not isinstance(schema, dict) or not schema:
            return ("raw", None)
        schema = deref(root or {}, schema) or schema
        widget = schema.get("x-dpgui-widget")
        if schema.get("x-dpgui-secret"):
            widget = "secret"
        if widget == "raw":
            return ("raw", None)
        if "anyOf" in schema or "oneOf" in schema:
            return ("union", widget)
        t = schema.get("type")
        if isinstance(t, list):
            return ("union", widget)
        if "enum" in schema or "const" in schema:
            return (t if isinstance(t, str) else "string", widget or "enum")
        if t == "string":
            fmt = schema.get("format")
            if widget is None and fmt in ("file-path", "dir-path", "path"):
                widget = {"file-path": "path-file", "dir-path": "path-dir", "path": "path"}[fmt]
            return ("string", widget)
        if t == "array":
            fixed = (isinstance(schema.get("minItems"), int)
                     and schema.get("minItems") == schema.get("maxItems")
                     and isinstance(schema.get("items"), dict)
                     and schema["items"].get("type") in ("integer", "number"))
            if widget is None and (isinstance(schema.get("prefixItems"), list) or fixed):
                widget = "tuple"
            return ("array", widget)
        if isinstance(t, str):
            return (t, widget)
        return ("raw", None)

    def factory_for(self, schema: dict[str, Any] | None, root: dict[str, Any] | None = None):
        t, w = self.key_for(schema, root)
        return (self._factories.get((t, w)) or self._factories.get((t, None))
                or self._factories[("raw", None)])

    def create(self, ctx: EditorContext, parent: QWidget | None = None) -> ValueEditor:
        if ctx.schema is not None and ctx.root is not None:
            ctx.schema = deref(ctx.root, ctx.schema)
        return self.factory_for(ctx.schema, ctx.root)(ctx, parent)


EDITORS = EditorRegistry()


# ---------------------------------------------------------------- editors
@EDITORS.register("boolean")
class BoolEditor(ValueEditor):
    live = True

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.box = QCheckBox(self)
        self.box.toggled.connect(self._toggled)
        self.row.addSpacing(4)
        self.row.addWidget(self.box, 1)
        self.setFocusProxy(self.box)

    def _toggled(self, on: bool) -> None:
        self.box.setText("true" if on else "false")
        self.edited.emit()

    def set_value(self, value, literal=None):
        with QSignalBlocker(self.box):
            self.box.setChecked(bool(value) if isinstance(value, bool) else False)
        self.box.setText("true" if self.box.isChecked() else "false")

    def value(self):
        return self.box.isChecked()


@EDITORS.register("integer")
class IntEditor(ValueEditor):
    """A spin box that takes any whole number as typed: a value outside the schema's
    range stays in the editor with the reason beside it and is not written (the spin
    box never turns -5 into 5 or clamps it)."""
    live = True

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.spin = QSpinBox(self)
        self.spin.setFrame(False)
        self.spin.setKeyboardTracking(False)  # typed digits commit on Enter / focus out
        lo, hi = _range(self.schema)
        if isinstance(self.schema.get("exclusiveMinimum"), (int, float)):
            lo = int(self.schema["exclusiveMinimum"]) + 1
        if isinstance(self.schema.get("exclusiveMaximum"), (int, float)):
            hi = int(self.schema["exclusiveMaximum"]) - 1
        self.lo = int(lo) if lo is not None else None
        self.hi = int(hi) if hi is not None else None
        self.spin.setRange(INT_MIN, INT_MAX)      # the range is checked, not enforced
        self.spin.setAccelerated(True)
        self.spin.valueChanged.connect(self._changed)
        self.row.addWidget(self.spin, 1)
        self.setFocusProxy(self.spin)

    def minimum(self) -> int:
        return self.lo if self.lo is not None else INT_MIN

    def _changed(self, _v: int) -> None:
        self._mark(self.spin, self.problem() is None)
        if self.problem():
            self.show_problem()
        self.edited.emit()

    def problem(self) -> str | None:
        v = self.spin.value()
        if self.lo is not None and v < self.lo:
            return f"must be at least {self.lo}"
        if self.hi is not None and v > self.hi:
            return f"must be at most {self.hi}"
        return None

    def set_value(self, value, literal=None):
        with QSignalBlocker(self.spin):
            if isinstance(value, int) and not isinstance(value, bool):
                self.spin.setValue(max(INT_MIN, min(INT_MAX, value)))
            else:
                default = self.schema.get("default")
                lo = self.minimum()
                self.spin.setValue(default if isinstance(default, int)
                                   else max(lo, min(1, self.hi if self.hi is not None else 1)))
        self._mark(self.spin, self.problem() is None)

    def value(self):
        return INVALID if self.problem() else self.spin.value()


@EDITORS.register("number")
@EDITORS.register("number", "float-text")
class FloatEditor(ValueEditor):
    """Keeps the user's spelling: ``2e-5`` is written as ``2e-5`` (through RawValue)."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        lo, hi = _range(self.schema)
        hint = "number, e.g. 2e-5" if self.schema.get("x-dpgui-widget") == "float-text" else "number"
        if lo is not None or hi is not None:
            hint += f" ({'' if lo is None else lo}…{'' if hi is None else hi})"
        self.lo, self.hi = lo, hi
        self.edit = _line_edit(self, hint)
        self.edit.textEdited.connect(lambda _t: self._mark(self.edit, self.problem() is None))

    def problem(self) -> str | None:
        raw = self.edit.text().strip()
        text = float_text(raw)
        if text is None:
            return f"{raw!r} is not a number (write e.g. 2e-5 or 0.001)" if raw else "enter a number"
        try:
            v = float(text)
        except ValueError:
            return None
        lo, hi = self.lo, self.hi
        if lo is not None and (v <= lo if self.schema.get("exclusiveMinimum") == lo else v < lo):
            return f"must be {'above' if self.schema.get('exclusiveMinimum') == lo else 'at least'} {lo:g}"
        if hi is not None and (v >= hi if self.schema.get("exclusiveMaximum") == hi else v > hi):
            return f"must be {'below' if self.schema.get('exclusiveMaximum') == hi else 'at most'} {hi:g}"
        return None

    def set_value(self, value, literal=None):
        if literal is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
            self.edit.setText(literal)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            self.edit.setText(repr(value))
        else:
            self.edit.setText("")
        self._mark(self.edit, True)

    def value(self):
        if self.problem():
            return INVALID
        return RawValue(float_text(self.edit.text()))


@EDITORS.register("string")
class StringEditor(ValueEditor):
    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.edit = _line_edit(self, "text")

    def set_value(self, value, literal=None):
        self.edit.setText(value if isinstance(value, str) else "")

    def value(self):
        return self.edit.text()


@EDITORS.register("string", "secret")
class SecretEditor(StringEditor):
    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText("secret (stored in the config file as plain text)")
        self.reveal = QToolButton(self)
        self.reveal.setText("Show")
        self.reveal.setCheckable(True)
        self.reveal.setAutoRaise(True)
        self.reveal.toggled.connect(lambda on: self.edit.setEchoMode(
            QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password))
        self.row.addWidget(self.reveal)


@EDITORS.register("string", "path")
@EDITORS.register("string", "path-file")
@EDITORS.register("string", "path-dir")
class PathEditor(StringEditor):
    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        fmt = self.schema.get("format")
        hint = self.schema.get("x-dpgui-widget")
        self.folder = fmt == "dir-path" or hint == "path-dir"
        self.either = fmt == "path" and hint not in ("path-file", "path-dir")
        self.edit.setPlaceholderText("folder" if self.folder else "file")
        self.browse = QToolButton(self)
        self.browse.setText("…")
        self.browse.setToolTip("Choose a folder" if self.folder else "Choose a file")
        self.browse.setAutoRaise(True)
        self.browse.clicked.connect(lambda: self._browse(None))
        self.row.addWidget(self.browse)
        if self.either:
            act = QAction("Choose a folder…", self.browse)
            act.triggered.connect(lambda: self._browse(folder=True))
            self.browse.addAction(act)
            self.browse.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)

    def _start_dir(self) -> str:
        current = os.path.expanduser(self.edit.text().strip())
        if current:
            if not os.path.isabs(current) and self.ctx.base_dir:
                current = os.path.join(self.ctx.base_dir, current)
            probe = current if self.folder and os.path.isdir(current) else os.path.dirname(current)
            if probe and os.path.isdir(probe):
                return probe
        return self.ctx.base_dir or os.path.expanduser("~")

    def _browse(self, folder: bool | None = None) -> None:
        folder = self.folder if folder is None else folder
        if folder:
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", self._start_dir())
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", self._start_dir())
        if chosen:
            self.edit.setText(chosen)
            self.edited.emit()


class _ChoiceEditor(ValueEditor):
    """A combo over fixed values; a value outside the list is kept as an extra item
    (never replaced silently)."""

    live = True

    def __init__(self, ctx, parent=None, choices: list[tuple[str, Any]] | None = None,
                 editable: bool = False):
        super().__init__(ctx, parent)
        self.combo = QComboBox(self)
        self.combo.setFrame(False)
        self.combo.setEditable(editable)
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self._values: list[Any] = []
        for label, value in choices or []:
            self._add(label, value)
        self._fixed = len(self._values)
        self.combo.currentIndexChanged.connect(lambda _i: self.edited.emit())
        if editable:
            line_edit = self.combo.lineEdit()
            assert line_edit is not None  # the combo is editable
            line_edit.editingFinished.connect(self.edited)
        self.row.addWidget(self.combo, 1)
        self.setFocusProxy(self.combo)

    def _add(self, label: str, value: Any) -> None:
        self._values.append(value)
        self.combo.addItem(label)

    def set_value(self, value, literal=None):
        with QSignalBlocker(self.combo):
            while len(self._values) > self._fixed:
                self._values.pop()
                self.combo.removeItem(self.combo.count() - 1)
            for i, v in enumerate(self._values):
                if same_value(v, value):
                    self.combo.setCurrentIndex(i)
                    return
            if value is None or value is INVALID:
                self.combo.setCurrentIndex(-1)
                return
            if self.combo.isEditable() and isinstance(value, str):
                self.combo.setEditText(value)
                return
            self._add(f"{toml_literal(value)} (not an allowed value)", value)
            self.combo.setCurrentIndex(len(self._values) - 1)

    def value(self):
        if self.combo.isEditable():
            text = self.combo.currentText().strip()
            i = self.combo.currentIndex()
            if 0 <= i < len(self._values) and self.combo.itemText(i) == self.combo.currentText():
                return self._values[i]
            return text or INVALID
        i = self.combo.currentIndex()
        return self._values[i] if 0 <= i < len(self._values) else INVALID


def _choice_label(value: Any) -> str:
    if isinstance(value, str):
        return value
    return toml_literal(value)


@EDITORS.register("string", "enum")
@EDITORS.register("integer", "enum")
@EDITORS.register("number", "enum")
@EDITORS.register("boolean", "enum")
class EnumEditor(_ChoiceEditor):
    def __init__(self, ctx, parent=None):
        schema = ctx.schema or {}
        values = list(schema.get("enum") or ([schema["const"]] if "const" in schema else []))
        super().__init__(ctx, parent, [(_choice_label(v), v) for v in values])


@EDITORS.register("string", "discriminator")
class DiscriminatorEditor(_ChoiceEditor):
    """model.type / adapter.type / optimizer.type: choosing recomposes the tree."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent, list(ctx.choices or []), editable=ctx.editable_choice)


@EDITORS.register("raw")
@EDITORS.register("object")
class RawEditor(ValueEditor):
    """Any TOML value written as source text (keys no schema knows)."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        self.edit = _line_edit(self, "TOML value: 'text', 12, 1e-4, true, [1, 2]")
        self.edit.textEdited.connect(lambda t: self._mark(self.edit, parse_literal(t)[0]))

    def set_value(self, value, literal=None):
        if literal is not None:
            self.edit.setText(" ".join(literal.split()) if "\n" in literal else literal)
        elif value is not None and value is not INVALID:
            self.edit.setText(toml_literal(value))
        else:
            self.edit.setText("")
        self._mark(self.edit, True)

    def value(self):
        text = self.edit.text().strip()
        ok, _ = parse_literal(text)
        return RawValue(text) if ok else INVALID


# ---------------------------------------------------------------- arrays
def _item_literal(editor: ValueEditor) -> str | None:
    v = editor.value()
    if v is INVALID:
        return None
    return toml_literal(v)


@EDITORS.register("array", "tuple")
class TupleEditor(ValueEditor):
    """Fixed-length array (``betas = [0.9, 0.99]``, one ``[512, 4]`` pair)."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        prefix = self.schema.get("prefixItems") or []
        if not prefix and isinstance(self.schema.get("items"), dict):
            prefix = [self.schema["items"]] * int(self.schema.get("minItems") or 2)
        pairs = all((ctx.sub(p).schema or {}).get("type") == "integer" for p in prefix)
        self.parts: list[ValueEditor] = []
        lay = self.row
        for i, sub in enumerate(prefix):
            if i:
                sep = QLabel("×" if pairs and len(prefix) == 2 else ",", self)
                lay.addWidget(sep)
            ed = EDITORS.create(ctx.sub(sub), self)
            ed.edited.connect(self.edited)
            self.parts.append(ed)
            lay.addWidget(ed, 1)
        if self.parts:
            self.setFocusProxy(self.parts[0])

    def set_value(self, value, literal=None):
        value = value if isinstance(value, list) else []
        items = _split_array_literal(literal) if literal else None
        for i, ed in enumerate(self.parts):
            v = value[i] if i < len(value) else None
            ed.set_value(v, items[i] if items and i < len(items) else None)

    def value(self):
        lits = [_item_literal(p) for p in self.parts]
        if any(lit is None for lit in lits):
            return INVALID
        return RawValue("[" + ", ".join(lits) + "]")


def _split_array_literal(literal: str) -> list[str] | None:
    """Top-level item texts of an array literal (``[0.9, 0.99]`` -> ['0.9', '0.99'])."""
    text = literal.strip()
    if not (text.startswith("[") and text.endswith("]")):
        return None
    parts = split_top_level(text[1:-1], stop_at_comment=True)  # comments inside: use values
    if parts is None:
        return None
    items = [p.strip() for p in parts]
    return items[:-1] if items and not items[-1] else items


@EDITORS.register("array")
@EDITORS.register("array", "list")
@EDITORS.register("array", "pairs")
class ListEditor(ValueEditor):
    """Inline list: one small editor per item (from the registry) plus add/remove."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        items = self.schema.get("items")
        self.item_schema = items if isinstance(items, dict) else {}
        self.min_items = int(self.schema.get("minItems", 0) or 0)
        self.max_items = self.schema.get("maxItems")
        self.rows: list[tuple[QWidget, ValueEditor]] = []
        self.holder = QHBoxLayout()
        self.holder.setSpacing(6)
        self.row.addLayout(self.holder)
        self.row.addStretch(1)
        self.add_btn = QToolButton(self)
        self.add_btn.setText("+")
        self.add_btn.setToolTip("Add an item")
        self.add_btn.setAutoRaise(True)
        self.add_btn.clicked.connect(self._add_clicked)
        self.row.addWidget(self.add_btn)

    def _make_row(self) -> ValueEditor:
        box = QWidget(self)
        lay = QHBoxLayout(box)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        ed = EDITORS.create(self.ctx.sub(self.item_schema), box)
        ed.setMinimumWidth(54 if not isinstance(ed, TupleEditor) else 110)
        ed.edited.connect(self.edited)
        rm = QToolButton(box)
        rm.setText("×")
        rm.setToolTip("Remove this item")
        rm.setAutoRaise(True)
        rm.clicked.connect(lambda: self._remove(box))
        lay.addWidget(ed, 1)
        lay.addWidget(rm)
        self.holder.addWidget(box)
        self.rows.append((box, ed))
        self._update_buttons()
        return ed

    def _update_buttons(self) -> None:
        full = self.max_items is not None and len(self.rows) >= int(self.max_items)
        self.add_btn.setEnabled(not full)

    def _add_clicked(self) -> None:
        ed = self._make_row()
        default = self._new_item_default()
        ed.set_value(default, None)
        ed.setFocus()
        self.edited.emit()

    def _new_item_default(self) -> Any:
        if self.rows and len(self.rows) > 1:
            prev = self.rows[-2][1].value()
            if prev is not INVALID:
                return parse_literal(toml_literal(prev))[1]
        sch = self.ctx.sub(self.item_schema).schema or {}
        if sch.get("type") == "array":
            return [512, 1] if len(sch.get("prefixItems") or []) == 2 else []
        kind: Any = sch.get("type")
        return {"integer": 512, "number": 0.0, "string": ""}.get(kind, "")

    def _remove(self, box: QWidget) -> None:
        for i, (b, _ed) in enumerate(self.rows):
            if b is box:
                self.rows.pop(i)
                box.deleteLater()
                break
        self._update_buttons()
        self.edited.emit()

    def set_value(self, value, literal=None):
        value = value if isinstance(value, list) else []
        lits = _split_array_literal(literal) if literal else None
        while len(self.rows) > len(value):
            box, _ = self.rows.pop()
            box.deleteLater()
        while len(self.rows) < len(value):
            self._make_row()
        for i, (_b, ed) in enumerate(self.rows):
            ed.set_value(value[i], lits[i] if lits and i < len(lits) else None)
        self._update_buttons()

    def value(self):
        lits = [_item_literal(ed) for _b, ed in self.rows]
        if any(lit is None for lit in lits):
            return INVALID
        return RawValue("[" + ", ".join(lits) + "]")


# ---------------------------------------------------------------- unions
def _branch_label(schema: dict, root: dict | None) -> str:
    s = deref(root or {}, schema) or {}
    if s.get("title"):
        return s["title"]
    t: Any = s.get("type")
    if t == "array":
        items = deref(root or {}, s.get("items")) or {}
        if items.get("type") == "array":
            return "pairs"
        return "list"
    if "enum" in s or "const" in s:
        return "choice"
    return {"integer": "number", "number": "number", "string": "text",
            "boolean": "on/off"}.get(t, str(t or "value"))


def _matches(schema: dict, value: Any, root: dict | None) -> bool:
    s = deref(root or {}, schema) or {}
    if "const" in s:
        return same_value(s["const"], value)
    if "enum" in s:
        return any(same_value(e, value) for e in s["enum"])
    t: Any = s.get("type")
    checks = {
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "string": lambda v: isinstance(v, str),
        "array": lambda v: isinstance(v, list),
        "object": lambda v: isinstance(v, dict),
    }
    return checks.get(t, lambda v: False)(value)


@EDITORS.register("union")
class UnionEditor(ValueEditor):
    """``anyOf``: if every branch is a fixed value (``activation_checkpointing``:
    false / true / 'unsloth') it is one combo; otherwise a form selector plus the
    branch's own editor (``micro_batch_size_per_gpu``: number or per-resolution pairs)."""

    def __init__(self, ctx, parent=None):
        super().__init__(ctx, parent)
        root = ctx.root
        branches = [(deref(root or {}, b) or {}) for b in
                    (self.schema.get("anyOf") or self.schema.get("oneOf") or [])]
        if isinstance(self.schema.get("type"), list):
            branches = [{"type": t} for t in self.schema["type"]]
        self.branches = branches
        fixed: list[Any] = []
        all_fixed = bool(branches)
        for b in branches:
            if b.get("type") == "boolean" and "const" not in b and "enum" not in b:
                fixed += [False, True]
            elif "const" in b:
                fixed.append(b["const"])
            elif "enum" in b and b.get("type") != "string" or ("enum" in b and len(branches) == 1):
                fixed += list(b["enum"])
            else:
                all_fixed = False
        self.choice: _ChoiceEditor | None = None
        self.editors: list[ValueEditor] = []
        if all_fixed:
            self.choice = _ChoiceEditor(ctx, self, [(_choice_label(v), v) for v in fixed])
            self.choice.edited.connect(self.edited)
            self.row.addWidget(self.choice, 1)
            self.setFocusProxy(self.choice)
            return
        self.form = QComboBox(self)
        self.form.setFrame(False)
        self.stack = QStackedWidget(self)
        for b in branches:
            self.form.addItem(_branch_label(b, root))
            sub = EditorContext(b, root, ctx.base_dir)
            ed = EDITORS.create(sub, self.stack)
            ed.edited.connect(self.edited)
            self.editors.append(ed)
            self.stack.addWidget(ed)
        self.form.currentIndexChanged.connect(self._form_changed)
        self.row.addWidget(self.form)
        self.row.addWidget(self.stack, 1)
        self.setFocusProxy(self.stack)

    def _form_changed(self, i: int) -> None:
        self.stack.setCurrentIndex(i)
        ed = self.editors[i]
        if ed.value() is INVALID or isinstance(ed, ListEditor) and not ed.rows:
            ed.set_value(self._default_for(self.branches[i]), None)
        self.edited.emit()

    def _default_for(self, branch: dict[str, Any]) -> Any:
        t: Any = branch.get("type")
        if t == "array":
            items = deref(self.ctx.root or {}, branch.get("items")) or {}
            if items.get("type") == "array":
                return [[512, 1]]
            return [""] if items.get("type") == "string" else []
        return {"integer": 1, "number": 0.0, "boolean": False, "string": ""}.get(t)

    def set_value(self, value, literal=None):
        if self.choice is not None:
            self.choice.set_value(value, literal)
            return
        idx = next((i for i, b in enumerate(self.branches)
                    if _matches(b, value, self.ctx.root)), 0)
        with QSignalBlocker(self.form):
            self.form.setCurrentIndex(idx)
        self.stack.setCurrentIndex(idx)
        self.editors[idx].set_value(value if _matches(self.branches[idx], value, self.ctx.root)
                                    else self._default_for(self.branches[idx]), literal)

    def value(self):
        if self.choice is not None:
            return self.choice.value()
        return self.editors[self.stack.currentIndex()].value()
