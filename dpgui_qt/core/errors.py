"""Errors a user can act on, shared by the document and file layers; ``str()`` is the
message to show."""
from __future__ import annotations


class DocumentError(Exception):
    """Base for errors a user can act on; ``str()`` is the message to show."""


class TomlSyntaxError(DocumentError):
    def __init__(self, path: str | None, line: int, col: int, message: str):
        self.path = path
        self.line = line
        self.col = col
        self.message = message
        where = f"{path or '<text>'}:{line}:{col}"
        super().__init__(f"{where}: {message}")


class ReadError(DocumentError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class SaveError(DocumentError):
    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"could not save {path}: {reason}; the file on disk was left as it was")


class ConflictError(SaveError):
    """The file on disk is no longer what was read: another program changed it.

    ``current`` holds its bytes now (None: it was deleted)."""

    def __init__(self, path: str, current: bytes | None):
        self.current = current
        what = "deleted" if current is None else "changed"
        super().__init__(path, f"another program {what} it after dpgui read it, and saving would "
                         "overwrite that edit")


class ReadOnlyError(SaveError):
    """The file is read-only; the caller may ask and retry with ``allow_readonly``."""

    def __init__(self, path: str):
        super().__init__(path, "the file is read-only (no write permission); make it writable "
                         "first (chmod u+w) or save to another file")


class EditError(DocumentError):
    """An edit that cannot be applied (wrong path shape, bad literal, ...)."""
