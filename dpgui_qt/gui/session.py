"""DocumentSession: the open config, its undo stack, its file on disk and its findings.

One session per main window. Everything that edits the document goes through
:meth:`DocumentSession.edit` (or the helpers built on it), so every edit is
undoable: each :class:`EditCommand` holds the document text before and after,
undo/redo restore it exactly, and consecutive commits from one editor merge.

Other pages reach it as ``main_window.session``: ``session.doc`` (the
:class:`ConfigDocument`), ``session.registry`` (the :class:`SchemaRegistry`),
``session.findings`` and the signals below.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core import safeio
from dpgui_qt.core.config.document import (Change, ConfigDocument, DocKind, DocumentError, EditError,
                                           RawValue, ReadError)
from dpgui_qt.core.config.schema import SchemaRegistry, default_registry

if TYPE_CHECKING:  # imported when the first validation runs (start-up)
    from dpgui_qt.core.config.validate import Validator

VALIDATE_DELAY_MS = 150

_TRAINER_CWD: tuple[float, tuple[Any, ...], Path | None] = (-1e9, (), None)


def trainer_cwd() -> Path | None:
    """The folder diffusion-pipe is started in: the checkout the Run page launches
    from (its setting, else $DPGUI_DIFFUSION_PIPE, else the default location), or None
    when there is none.  Relative paths in a config are read from there, so the
    editor, the dataset tab and the launch gate all resolve them against it.
    The file-system check is redone at most every 5 s, and at once when the setting
    changes (:func:`forget_trainer_cwd` forces it)."""
    global _TRAINER_CWD
    import os

    try:
        from dpgui_qt.gui import settings as st

        setting = st.settings().value("run/checkout")
    except Exception:  # noqa: BLE001 - unreadable settings: no saved checkout
        setting = None
    key = (str(setting) if setting else "", os.environ.get("DPGUI_DIFFUSION_PIPE", ""),
           os.environ.get("DPGUI_CONFIG_DIR", ""))
    now = time.monotonic()
    if now - _TRAINER_CWD[0] < 5.0 and _TRAINER_CWD[1] == key:
        return _TRAINER_CWD[2]
    found = None
    try:
        from dpgui_qt.core.run.preflight import find_checkout

        found = find_checkout(key[0] or None)
    except Exception:  # noqa: BLE001 - no checkout is a normal state here
        found = None
    _TRAINER_CWD = (now, key, found)
    return found


def forget_trainer_cwd() -> None:
    global _TRAINER_CWD
    _TRAINER_CWD = (-1e9, (), None)


def validation_options(**kw):
    """Validator options with diffusion-pipe's path semantics (see :func:`trainer_cwd`)."""
    from dpgui_qt.core.config.validate import Options

    cwd = trainer_cwd()
    return Options(search_dirs=[cwd] if cwd is not None else [], trainer_cwd=cwd, **kw)


class EditCommand(QUndoCommand):
    """An applied edit: undo/redo swap whole document texts (exact, cheap to reason about)."""

    MERGE_ID = 0x4450

    def __init__(self, session: "DocumentSession", label: str, before: str, after: str,
                 path: tuple[Any, ...] | None = None, token: Any = None):
        super().__init__(label)
        self.session = session
        self.before = before
        self.after = after
        self.path = path
        self.token = token
        self._applied = True  # the edit was already made when the command was pushed

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.session._restore(self.after)

    def undo(self) -> None:
        self.session._restore(self.before)

    def id(self) -> int:
        return self.MERGE_ID if self.token is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        if not isinstance(other, EditCommand) or other.token is None:
            return False
        if other.token != self.token or other.path != self.path:
            return False
        self.after = other.after
        if self.after == self.before:
            self.setObsolete(True)
        return True


class DocumentSession(QObject):
    documentReplaced = Signal()  # a different file (new/open); the model must reset
    changed = Signal(object)  # core.document.Change, after every edit/undo/redo/reload
    modifiedChanged = Signal(bool)
    pathChanged = Signal(object)  # Path | None
    findingsChanged = Signal(list)
    validated = Signal(float)  # milliseconds the last validation took
    externalChange = Signal(str)  # "modified" | "deleted": the file changed on disk
    editFailed = Signal(str)

    def __init__(self, registry: SchemaRegistry | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.registry = registry or default_registry()
        self.undo_stack = QUndoStack(self)
        self.doc = ConfigDocument("")
        self.doc.add_listener(self._on_change)
        self.findings: list[Any] = []
        self.last_validation_ms: float | None = None
        self._validator: Validator | None = None
        self._modified = False
        self._disk_bytes: bytes | None = None
        self._warmup: threading.Thread | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(VALIDATE_DELAY_MS)
        self._timer.timeout.connect(self._validate_when_ready)
        self.watcher = QFileSystemWatcher(self)
        self.watcher.fileChanged.connect(self._disk_event)
        self.watcher.directoryChanged.connect(self._disk_event)
        self._disk_timer = QTimer(self)
        self._disk_timer.setSingleShot(True)
        self._disk_timer.setInterval(250)  # editors write in several steps; settle first
        self._disk_timer.timeout.connect(self._check_disk)

    # ------------------------------------------------------------- properties
    @property
    def path(self) -> Path | None:
        return self.doc.path

    @property
    def kind(self) -> DocKind:
        from dpgui_qt.core.config.validate import detect_kind

        # asked on every paint of the dataset tables: decided once per document state
        # (values() returns the same dict until the text changes)
        values = self.doc.values()
        memo = getattr(self, "_kind_memo", None)
        if memo is not None and memo[0] is values:
            return memo[1]
        kind = detect_kind(values) or DocKind.MAIN
        self._kind_memo = (values, kind)
        return kind

    @property
    def modified(self) -> bool:
        return self.doc.modified

    def display_name(self) -> str:
        return self.doc.path.name if self.doc.path else "Untitled"

    # ------------------------------------------------------------- documents
    def replace_document(self, doc: ConfigDocument) -> None:
        self.doc.remove_listener(self._on_change)
        self.doc = doc
        doc.add_listener(self._on_change)
        self.undo_stack.clear()
        self.findings = []
        self._disk_bytes = doc.encoded() if doc.path and not doc.modified else None
        if doc.path is not None and self._disk_bytes is None:
            self._disk_bytes = _read_disk(doc.path)
        self._watch()
        self.documentReplaced.emit()
        self.pathChanged.emit(doc.path)
        self._emit_modified(force=True)
        self.schedule_validation()

    def open(self, path: str | Path) -> None:
        """Load ``path`` (raises DocumentError with a user-facing message)."""
        doc = ConfigDocument.load(path)
        self.replace_document(doc)

    def new_from_text(self, text: str) -> None:
        doc = ConfigDocument.from_text(text)
        doc.saved_text = ""  # untitled: unsaved until saved somewhere
        self.replace_document(doc)

    def save(self, path: str | Path | None = None, *, overwrite: bool = False,
             allow_readonly: bool = False) -> Path:
        """Write the document. Saving over the file it was read from first checks, under
        the write lock, that the file still holds what was read (or last saved): if
        another program changed it, :class:`ConflictError` is raised and nothing is
        written, unless ``overwrite`` (the user saw the difference and chose to).
        A read-only file raises :class:`ReadOnlyError` unless ``allow_readonly``."""
        target = Path(path) if path is not None else self.doc.path
        if target is None:
            raise EditError("no file name")
        old = self.doc.path
        self._unwatch()
        try:
            check = not overwrite and old is not None and target == old
            if old is None or target != old:
                self.doc.path = target  # Save As: the document now lives there
            written = self.doc.save(check=check, allow_readonly=allow_readonly)
        except DocumentError:
            self.doc.path = old
            self._watch()
            raise
        self._disk_bytes = self.doc.encoded()
        self._watch()
        if written != old:
            self.pathChanged.emit(written)
        self._emit_modified(force=True)
        self.schedule_validation()  # relative paths now resolve against the new folder
        return written

    def revert(self) -> None:
        """Back to the text last saved (undoable)."""
        if self.doc.text != self.doc.saved_text:
            self._push_restore("Revert to saved", self.doc.saved_text)

    def reload_from_disk(self) -> None:
        """Take the file's current content (undoable; undo brings your version back)."""
        if self.doc.path is None:
            return
        fresh = ConfigDocument.load(self.doc.path)  # raises DocumentError
        self._disk_bytes = fresh.encoded()
        self.doc.saved_text = fresh.text
        self.doc.disk_bytes = fresh.disk_bytes
        if fresh.text != self.doc.text:
            self._push_restore("Reload from disk", fresh.text)
        self._emit_modified(force=True)

    def keep_local_version(self) -> None:
        """The file changed on disk but the user keeps this version: it is now unsaved."""
        if self.doc.path is None:
            return
        data = _read_disk(self.doc.path)
        self._disk_bytes = data
        # the user saw the banner and chose their version: the next Save overwrites
        self.doc.disk_bytes = data
        if data is not None:
            try:
                text = data.decode("utf-8-sig")
            except UnicodeDecodeError:
                text = None
            if text is not None:
                self.doc.saved_text = text
        else:
            self.doc.saved_text = ""
        self._emit_modified(force=True)

    # ----------------------------------------------------------------- edits
    def edit(self, label: str, fn: Callable[[ConfigDocument], Change], path: tuple[Any, ...] | None = None,
             token: Any = None) -> bool:
        """Apply ``fn(doc)`` and record it on the undo stack. Returns False (and emits
        editFailed) if the edit is refused."""
        try:
            change = fn(self.doc)
        except (EditError, kp.KeyPathError) as exc:
            self.editFailed.emit(str(exc))
            return False
        if change is None or change.before == change.after:
            return True
        self.undo_stack.push(EditCommand(self, label, change.before, change.after, path, token))
        return True

    def set_value(self, path, value: Any, token: Any = None) -> bool:
        parts = kp.parse(path)
        shown = value.text if isinstance(value, RawValue) else value
        if isinstance(shown, str) and len(shown) > 24:
            shown = shown[:21] + "…"
        if isinstance(shown, bool):
            shown = "true" if shown else "false"
        return self.edit(f"Set {kp.format(parts)} = {shown}", lambda d: d.set(parts, value),
                         parts, token)

    def reset(self, path) -> bool:
        parts = kp.parse(path)
        if not self.doc.has(parts):
            return True
        return self.edit(f"Reset {kp.format(parts)}", lambda d: d.delete(parts), parts)

    def insert_item(self, array_path, index: int, value: Any) -> bool:
        parts = kp.parse(array_path)
        return self.edit(f"Add item to {kp.format(parts)}", lambda d: d.insert(parts, index, value),
                         parts)

    def remove_item(self, array_path, index: int) -> bool:
        parts = kp.parse(array_path)
        return self.edit(f"Remove {kp.format(parts + (index,))}",
                         lambda d: d.remove(parts, index), parts)

    def _push_restore(self, label: str, text: str) -> None:
        before = self.doc.text
        self.doc.restore(text)
        self.undo_stack.push(EditCommand(self, label, before, text))

    def _restore(self, text: str) -> None:
        self.doc.restore(text)

    def _on_change(self, change: Change) -> None:
        self.changed.emit(change)
        self._emit_modified()
        self.schedule_validation()

    def _emit_modified(self, force: bool = False) -> None:
        mod = self.doc.modified
        if force or mod != self._modified:
            self._modified = mod
            self.modifiedChanged.emit(mod)

    # ------------------------------------------------------------- validation
    def start_warmup(self) -> None:
        """Import jsonschema off the UI thread (it costs ~0.25 s) so the first
        validation after start-up does not freeze the window."""
        if self._warmup is not None:
            return

        def work():
            try:
                import jsonschema  # noqa: F401 - imported ahead (warm-up)
                import dpgui_qt.core.config.rules  # noqa: F401 - imported ahead (warm-up)
            except Exception:  # noqa: BLE001 - validate_now reports real failures
                pass

        self._warmup = threading.Thread(target=work, name="dpgui-warmup", daemon=True)
        self._warmup.start()

    def schedule_validation(self) -> None:
        self._timer.start()

    def _validate_when_ready(self) -> None:
        """Timer-driven validation never imports jsonschema on the UI thread: if the
        background import has not started yet (the first paint has not happened), start it
        and try again shortly."""
        if self._warmup is None:
            self.start_warmup()
            self._timer.start(30)
            return
        self.validate_now()

    def validate_now(self) -> list[Any]:
        self._timer.stop()
        if self._warmup is not None and self._warmup.is_alive():
            self._timer.start(30)  # still importing: try again shortly, never block
            return self.findings
        from dpgui_qt.core.config.validate import Validator

        if self._validator is None:
            self._validator = Validator(self.registry)
        t0 = time.perf_counter()
        try:
            findings = self._validator.validate(self.doc, self.kind, validation_options())
        except Exception as exc:  # noqa: BLE001 - a validator bug must not kill editing
            from dpgui_qt.core.config.findings import ERROR, Finding

            findings = [Finding(ERROR, (), f"validation failed inside dpgui: {exc}",
                                "internal", file=str(self.doc.path or "<text>"))]
        self.last_validation_ms = (time.perf_counter() - t0) * 1000
        self.findings = findings
        self.findingsChanged.emit(findings)
        self.validated.emit(self.last_validation_ms)
        return findings

    # ------------------------------------------------------------ file watch
    def _watch(self) -> None:
        self._unwatch()
        p = self.doc.path
        if p is None:
            return
        paths = [str(p.parent if str(p.parent) else Path("."))]
        if p.exists():
            paths.append(str(p))
        self.watcher.addPaths(paths)

    def _unwatch(self) -> None:
        for group in (self.watcher.files(), self.watcher.directories()):
            if group:
                self.watcher.removePaths(group)

    def _disk_event(self, _path: str) -> None:
        self._disk_timer.start()

    def _check_disk(self) -> None:
        p = self.doc.path
        if p is None:
            return
        if str(p) not in self.watcher.files() and p.exists():
            self.watcher.addPath(str(p))  # atomic replace dropped the old inode's watch
        try:
            data = safeio.read_regular(p)  # never blocks on a FIFO swapped in
        except ReadError as exc:
            if exc.reason == "no such file" and self._disk_bytes is not None:
                self._disk_bytes = None
                self.externalChange.emit("deleted")
            return
        if data == self._disk_bytes:
            return
        self._disk_bytes = data
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = None
        if text is not None and text in (self.doc.saved_text, self.doc.text):
            # rewritten with what we already have (an atomic save by another editor
            # or a delete-and-recreate): nothing to decide
            self.doc.saved_text = text
            self._emit_modified()
            return
        self.externalChange.emit("modified")


def _read_disk(path: Path) -> bytes | None:
    """The file's bytes, or None if it cannot be read (missing, not a regular file, ...)."""
    try:
        return safeio.read_regular(path)
    except ReadError:
        return None
