"""Reading and writing config files the way a careful editor does.

Every read of a config goes through :func:`read_regular`, every write through
:func:`write_file`. What they guarantee, and why:

* Only regular files are read or replaced. A FIFO, a device node, a socket or a folder is
  refused with a message that says what it is (reading ``/dev/zero`` never ends, opening a
  FIFO blocks until a writer comes, and replacing a device node with a file breaks the
  system). Files are opened with ``O_NONBLOCK`` after a ``stat``, and the kind is checked
  again on the open descriptor, so a FIFO swapped in between cannot hang the read.
* Reads are bounded: a config larger than :data:`MAX_CONFIG_BYTES` is refused.
* A symlink is written through: its target gets the new content and the link stays a link.
* The owner, group, mode, extended attributes and ACLs (which are extended attributes on
  Linux) of the file are kept. The new content goes to a temporary file in the same folder
  that gets the old file's metadata, is synced, and is renamed over the old one, so a crash
  or a full disk leaves either the old or the new file, never half of one.
* When the metadata cannot be reproduced on a new file (the file has other hard links, or
  belongs to a user or group this process cannot give a file to, or an attribute cannot be
  copied), the file is rewritten in place instead, which keeps the inode and with it every
  hard link, owner and attribute. Space is reserved first (``posix_fallocate``), so a full
  disk fails before a byte changes; on a failure in the middle the old bytes are written
  back. This is what vim (``backupcopy=auto``) and Emacs (``backup-by-copying-when-linked``)
  do for the same reasons.
* A read-only file (no write permission bit, or not writable by this user) is not replaced
  unless the caller says so (``allow_readonly``): the CLI refuses, the GUI asks.
* Concurrent writers are serialised with an exclusive ``flock`` on the folder that holds
  the file (no lock file is left behind). A caller that passes ``expected`` (the bytes it
  read) gets :class:`ConflictError` when the file on disk no longer holds them, checked
  while the lock is held, so another program's edit is never overwritten silently.
* Temporary names always fit the file system's NAME_MAX, and no process-wide state (the
  umask) is changed: a new file is created with mode 0666 and the kernel applies the umask
  and the folder's default ACL itself.
"""
from __future__ import annotations

import contextlib
import errno
import os
import stat
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from dpgui_qt.core.errors import ConflictError, ReadError, ReadOnlyError, SaveError

MAX_CONFIG_BYTES = 32 * 1024 * 1024
"""The largest file read as a config (diffusion-pipe configs are a few kilobytes)."""

LOCK_TIMEOUT_S = 30.0


class _Unchecked:
    def __repr__(self) -> str:
        return "UNCHECKED"


UNCHECKED: Any = _Unchecked()
"""``expected`` value meaning: do not compare the file on disk with anything."""


def describe_kind(mode: int) -> str:
    """What a non-regular file is, for messages."""
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    return "not a regular file"


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _not_regular_reason(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "this is a folder, not a config file"
    return (f"this is {describe_kind(mode)}, not a regular file; dpgui reads configs only "
            "from regular files")


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read_regular(path: str | os.PathLike[str], limit: int = MAX_CONFIG_BYTES) -> bytes:
    """The bytes of the regular file at ``path`` (symlinks followed), at most ``limit``.

    Raises :class:`ReadError` for a missing file, a non-regular file or one over the limit.
    Never blocks on a FIFO and never reads a device."""
    p = str(path)
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise ReadError(p, "no such file") from None
    except OSError as exc:
        raise ReadError(p, _strerror(exc)) from None
    if not stat.S_ISREG(st.st_mode):
        raise ReadError(p, _not_regular_reason(st.st_mode))
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) \
        | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(p, flags)
    except FileNotFoundError:
        raise ReadError(p, "no such file") from None
    except OSError as exc:
        raise ReadError(p, _strerror(exc)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):  # swapped between stat and open
            raise ReadError(p, _not_regular_reason(st.st_mode))
        if st.st_size > limit:
            raise ReadError(p, _too_large(st.st_size, limit))
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # the file grew while being read
                raise ReadError(p, _too_large(total, limit))
        return b"".join(chunks)
    except OSError as exc:
        raise ReadError(p, _strerror(exc)) from None
    finally:
        os.close(fd)


def _too_large(size: int, limit: int) -> str:
    return (f"the file is {_human(size)}, more than the {_human(limit)} a config may have; "
            "is this the right file?")


def regular_file_problem(path: str | os.PathLike[str]) -> str | None:
    """None when ``path`` is a regular file (or absent); otherwise what it is."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return None
    return describe_kind(st.st_mode)


# ------------------------------------------------------------------------ locking
_held: dict[str, list[Any]] = {}  # folder -> [fd, depth, RLock]
_held_guard = threading.Lock()


def real_target(path: str | os.PathLike[str]) -> Path:
    """The file a write to ``path`` lands in: symlinks (chains included) resolved."""
    p = Path(path)
    if os.path.islink(p):
        return Path(os.path.realpath(p))
    return p


def _folder_of(path: Path) -> Path:
    return path.parent if str(path.parent) else Path(".")


@contextlib.contextmanager
def locked_folder(folder: str | os.PathLike[str], timeout: float | None = LOCK_TIMEOUT_S,
                  on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``folder`` (reentrant within this process).

    Every dpgui write takes it, so two ``dpgui set`` processes (or the GUI and the CLI)
    never interleave their read-modify-write cycles on files in one folder.

    ``timeout`` None waits as long as it takes (the command line: after a second,
    ``on_wait()`` is called once so the user learns why, then a blocking wait that the
    kernel ends the moment the lock is free, so no waiter starves); a number gives up
    after that many seconds with a :class:`SaveError` (the GUI)."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; writes are still atomic and conflict-checked
        yield
        return
    key = os.path.realpath(folder)
    with _held_guard:
        entry = _held.get(key)
        if entry is None:
            entry = _held[key] = [None, 0, threading.RLock()]
    rlock = entry[2]
    rlock.acquire()
    try:
        if entry[1] == 0:
            try:
                fd = os.open(key, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            except OSError:
                fd = None  # a folder we may not list: writes still atomic and checked
            start = time.monotonic()
            delay = 0.001
            while fd is not None:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - start
                    if timeout is None and waited > 1.0:
                        if on_wait is not None:
                            on_wait()
                        fcntl.flock(fd, fcntl.LOCK_EX)
                        break
                    if timeout is not None and waited > timeout:
                        os.close(fd)
                        raise SaveError(str(folder), f"another dpgui has been writing in this "
                                        f"folder for over {timeout:.0f} s; try again") from None
                    time.sleep(delay)
                    delay = min(delay * 2, 0.02)
                except OSError:  # a file system without flock: carry on unlocked
                    break
            entry[0] = fd
        entry[1] += 1
        try:
            yield
        finally:
            entry[1] -= 1
            if entry[1] == 0 and entry[0] is not None:
                os.close(entry[0])  # closing releases the flock
                entry[0] = None
    finally:
        rlock.release()


@contextlib.contextmanager
def locked_files(*paths: str | os.PathLike[str], timeout: float | None = LOCK_TIMEOUT_S,
                 on_wait: Callable[[], object] | None = None) -> Iterator[None]:
    """Lock the folders that writes to ``paths`` land in (in a fixed order)."""
    folders = sorted({os.path.realpath(_folder_of(real_target(p))) for p in paths})
    with contextlib.ExitStack() as stack:
        for f in folders:
            if os.path.isdir(f):
                stack.enter_context(locked_folder(f, timeout, on_wait))
        yield


# ------------------------------------------------------------------------ writing
def _name_max(folder: Path) -> int:
    try:
        return int(os.pathconf(folder, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return 255


def temp_name(folder: Path, name: str) -> str:
    """A hidden temporary name next to ``name`` that fits NAME_MAX."""
    suffix = f".{os.urandom(4).hex()}.tmp"  # (not secrets: it imports hashlib/OpenSSL at start-up)
    room = _name_max(folder) - len(("." + suffix).encode("utf-8"))
    base = name.encode("utf-8")[:max(1, room)].decode("utf-8", "ignore")
    return f".{base}{suffix}"


def _can_give(st: os.stat_result) -> bool:
    """Whether a new file made by this process can get ``st``'s owner and group."""
    if not hasattr(os, "geteuid"):
        return True
    euid = os.geteuid()
    if euid == 0:
        return True
    return st.st_uid == euid and (st.st_gid == os.getegid() or st.st_gid in os.getgroups())


def _is_readonly(path: Path, st: os.stat_result) -> bool:
    if not st.st_mode & 0o222:
        return True
    return not os.access(path, os.W_OK)


def _copy_xattrs(src: Path, dst_fd: int) -> bool:
    """Copy every extended attribute (ACLs included); False if one could not be copied."""
    if not hasattr(os, "listxattr"):
        return True
    try:
        names = os.listxattr(src)
    except OSError as exc:
        return exc.errno in (errno.ENOTSUP, getattr(errno, "EOPNOTSUPP", errno.ENOTSUP))
    for name in names:
        try:
            os.setxattr(dst_fd, name, os.getxattr(src, name))
        except OSError:
            return False
    return True


def _fsync_folder(folder: Path) -> None:
    try:
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _write_all(fd: int, data: bytes, offset: int = 0) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset) if hasattr(os, "pwrite") else os.write(fd, view)
        view = view[n:]
        offset += n


def _write_in_place(target: Path, data: bytes, original: bytes) -> None:
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
    try:
        if len(data) > len(original) and hasattr(os, "posix_fallocate"):
            try:
                os.posix_fallocate(fd, 0, len(data))
            except OSError as exc:
                if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                    raise
        try:
            _write_all(fd, data)
            os.ftruncate(fd, len(data))
            os.fsync(fd)
        except OSError:
            try:  # put the old bytes back rather than leave half a file
                _write_all(fd, original)
                os.ftruncate(fd, len(original))
                os.fsync(fd)
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def _write_replacing(target: Path, folder: Path, data: bytes,
                     st: os.stat_result | None) -> bool:
    """Temp file + rename. Returns False (nothing changed) if ``st``'s attributes could
    not be reproduced on the temp file, so the caller writes in place instead."""
    tmp = folder / temp_name(folder, target.name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0) \
        | getattr(os, "O_BINARY", 0)
    # a new file: 0666 less the umask (and the folder's default ACL), applied by the kernel
    fd = os.open(tmp, flags, 0o600 if st is not None else 0o666)
    done = False
    try:
        _write_all(fd, data)
        os.fsync(fd)
        if st is not None:
            if hasattr(os, "fchown") and (st.st_uid, st.st_gid) != _fstat_owner(fd):
                try:
                    os.fchown(fd, st.st_uid, st.st_gid)
                except OSError:
                    return False
            if not _copy_xattrs(target, fd):
                return False
            if hasattr(os, "fchmod"):
                os.fchmod(fd, stat.S_IMODE(st.st_mode))
            else:
                os.chmod(tmp, stat.S_IMODE(st.st_mode))
        os.close(fd)
        fd = -1
        os.replace(tmp, target)
        done = True
        _fsync_folder(folder)
        return True
    finally:
        if fd >= 0:
            os.close(fd)
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _fstat_owner(fd: int) -> tuple[int, int]:
    s = os.fstat(fd)
    return s.st_uid, s.st_gid


def write_file(path: str | os.PathLike[str], data: bytes, *, expected: Any = UNCHECKED,
               allow_readonly: bool = False) -> Path:
    """Write ``data`` to ``path`` safely (see the module docstring). Returns the file
    actually written (the symlink's target when ``path`` is a symlink).

    ``expected``: the bytes the caller last read from ``path`` (None: it did not exist);
    when the file now holds anything else, :class:`ConflictError` is raised and nothing is
    written."""
    shown = str(path)
    target = real_target(path)
    folder = _folder_of(target)
    if not folder.is_dir():
        raise SaveError(shown, f"the folder {folder} does not exist")
    try:
        with locked_folder(folder):
            try:
                st = os.stat(target)
            except FileNotFoundError:
                st = None
            if st is not None and not stat.S_ISREG(st.st_mode):
                raise SaveError(shown, f"{target} is {describe_kind(st.st_mode)}, not a regular "
                                "file; dpgui replaces only regular files (write to another file)")
            current = None
            if st is not None and (expected is not UNCHECKED or st.st_nlink > 1
                                   or not _can_give(st)):
                try:
                    current = read_regular(target)
                except ReadError as exc:
                    raise SaveError(shown, exc.reason) from None
            if expected is not UNCHECKED and current != expected:
                raise ConflictError(shown, current)
            if st is not None and not allow_readonly and _is_readonly(target, st):
                raise ReadOnlyError(shown)
            if st is None or (st.st_nlink == 1 and _can_give(st)):
                try:
                    if _write_replacing(target, folder, data, st):
                        return target
                except PermissionError:
                    if st is None:
                        raise
                    # the folder takes no new files but the file itself is writable: write
                    # it in place, as editors do
            if current is None:
                current = read_regular(target)
            try:
                _write_in_place(target, data, current)
            except PermissionError:
                if not allow_readonly:
                    raise
                # a read-only file the user chose to overwrite and may not open for writing:
                # replace it (its mode is kept by the temp file)
                if not _write_replacing(target, folder, data, st):
                    raise
            return target
    except ReadError as exc:
        raise SaveError(shown, exc.reason) from None
    except OSError as exc:
        raise SaveError(shown, _strerror(exc)) from None
