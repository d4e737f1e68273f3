"""Moving files to the system trash (Qt-free), so a prune can be undone.

On Linux and other freedesktop systems this module implements the
freedesktop.org Trash specification (version 1.0) itself:

* a file on the same device as ``$XDG_DATA_HOME`` (default ``~/.local/share``)
  goes to the "home trash" ``$XDG_DATA_HOME/Trash``;
* a file on another mount goes to that mount's ``$topdir/.Trash/$uid`` when
  that folder exists, is not a symbolic link and has the sticky bit, else to
  ``$topdir/.Trash-$uid`` (created with mode 0700);
* for each trashed item, ``info/NAME.trashinfo`` is written first (created
  with O_EXCL, which also reserves the name), then the item is renamed into
  ``files/NAME``.  The info file holds ``Path`` (absolute for the home trash,
  relative to ``$topdir`` for a mount's trash; percent-encoded) and
  ``DeletionDate`` (local time, ``YYYY-MM-DDThh:mm:ss``);
* the home trash's ``directorysizes`` cache is not written (it is optional).

Moving is a ``rename``, so nothing is copied and a trashed 40 GB checkpoint
costs no time; a folder that cannot be renamed into any trash on its own
device is reported, never copied across devices.

On Windows and macOS the ``send2trash`` package is used (a dependency there);
without it :func:`trash_available` is False and callers must ask the user for
a permanent deletion.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TrashError", "TrashResult", "trash_available", "move_to_trash", "delete_permanently",
           "home_trash", "trash_dir_for"]


class TrashError(OSError):
    """The item could not be moved to a trash (message is user-facing)."""


@dataclass
class TrashResult:
    path: Path                 # what was removed
    trashed_to: Path | None    # where it is now (None for a permanent delete / send2trash)
    info_file: Path | None


def _freedesktop() -> bool:
    return os.name == "posix" and sys.platform != "darwin"


def trash_available() -> bool:
    if _freedesktop():
        return True
    try:
        import send2trash  # noqa: F401 - only whether it imports
        return True
    except ImportError:
        return False


def home_trash() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(base) / "Trash"


def _mount_point(path: Path) -> Path:
    p = path.resolve()
    dev = os.lstat(p).st_dev
    while p.parent != p:
        try:
            if os.lstat(p.parent).st_dev != dev:
                return p
        except OSError:
            return p
        p = p.parent
    return p


def _usable_dir(d: Path) -> bool:
    try:
        st = os.lstat(d)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode)


def trash_dir_for(path: str | os.PathLike[str]) -> tuple[Path, Path | None]:
    """(trash dir, topdir) for ``path``; topdir is None for the home trash, whose
    info files carry absolute paths."""
    path = Path(os.path.abspath(path))
    home = home_trash()
    dev = os.lstat(path).st_dev
    home_probe = home
    while not home_probe.exists() and home_probe.parent != home_probe:
        home_probe = home_probe.parent
    if os.stat(home_probe).st_dev == dev:
        return home, None
    top = _mount_point(path)
    uid = os.getuid()
    shared = top / ".Trash"
    try:
        st = os.lstat(shared)
        if stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode) and st.st_mode & stat.S_ISVTX:
            mine = shared / str(uid)
            if not mine.exists():
                mine.mkdir(mode=0o700)
            if _usable_dir(mine):
                return mine, top
    except OSError:
        pass
    return top / f".Trash-{uid}", top


def _ensure(trash: Path) -> None:
    for d in (trash, trash / "files", trash / "info"):
        if not d.exists():
            d.mkdir(mode=0o700, parents=(d == trash))
        elif not _usable_dir(d):
            raise TrashError(f"{d} is not a usable trash folder")


def _reserve(trash: Path, name: str, info_text: str) -> tuple[Path, Path]:
    stem, dot, ext = name.partition(".")
    for n in range(10000):
        cand = name if n == 0 else (f"{stem}.{n + 1}{dot}{ext}" if dot else f"{name}.{n + 1}")
        info = trash / "info" / f"{cand}.trashinfo"
        try:
            fd = os.open(info, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            continue
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(info_text)
        target = trash / "files" / cand
        if os.path.lexists(target):     # stale entry without info: keep looking
            os.unlink(info)
            continue
        return info, target
    raise TrashError(f"no free name for {name} in {trash}")


def move_to_trash(path: str | os.PathLike[str]) -> TrashResult:
    """Move ``path`` (file, folder or link) to the trash; raises TrashError."""
    p = Path(os.path.abspath(path))
    if not os.path.lexists(p):
        raise TrashError(f"{p} does not exist")
    if not _freedesktop():
        try:
            from send2trash import send2trash
        except ImportError:
            raise TrashError("no system trash is available (install send2trash)") from None
        try:
            send2trash(str(p))
        except OSError as e:
            raise TrashError(f"could not move {p} to the trash: {e}") from e
        return TrashResult(p, None, None)
    try:
        trash, top = trash_dir_for(p)
        _ensure(trash)
    except OSError as e:
        raise TrashError(f"no trash folder for {p}: {e}") from e
    rel = os.path.relpath(p, top) if top is not None else str(p)
    info_text = ("[Trash Info]\n"
                 f"Path={urllib.parse.quote(rel, safe='/')}\n"
                 f"DeletionDate={time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    info, target = _reserve(trash, p.name, info_text)
    try:
        os.rename(p, target)
    except OSError as e:
        try:
            os.unlink(info)
        except OSError:
            pass
        raise TrashError(f"could not move {p} to {trash}: {e.strerror or e}") from e
    return TrashResult(p, target, info)


def delete_permanently(path: str | os.PathLike[str]) -> TrashResult:
    p = Path(os.path.abspath(path))
    try:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
        else:
            os.unlink(p)
    except OSError as e:
        raise TrashError(f"could not delete {p}: {e.strerror or e}") from e
    return TrashResult(p, None, None)
