"""Fixtures for the hostile-user reliability suite (issue #12).

Ownership cases run the save as an unprivileged user: a forked child of the test process
drops to ``nobody`` with :func:`run_as` (the interpreter is already loaded, so it needs no
access to the Python installation). Device nodes are private ones made with ``mknod`` in
a temporary folder; no test opens a system device.
"""
from __future__ import annotations

import os
import shutil
import stat
import tempfile
import traceback

import pytest

NOBODY = 65534


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


need_root = pytest.mark.skipif(not is_root(), reason="needs root: mknod and switching to an "
                               "unprivileged user (run the suite as root, e.g. in CI's container)")


@pytest.fixture
def shared_dir():
    """A folder every user may reach (pytest's tmp_path lies under a 0700 folder)."""
    d = tempfile.mkdtemp(prefix="dpgui-rel-", dir="/tmp")
    os.chmod(d, 0o777)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def run_as(uid: int, gid: int, groups: list[int], fn, timeout: float = 60.0) -> str:
    """Run ``fn()`` in a forked child as ``uid``/``gid``; '' on success, else the error."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(r)
        code = 0
        msg = b""
        try:
            os.setgroups(groups)
            os.setgid(gid)
            os.setuid(uid)
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported to the parent
            code = 1
            msg = (f"{type(exc).__name__}: {exc}\n" + traceback.format_exc()).encode()
        os.write(w, msg or b"")
        os.close(w)
        os._exit(code)
    os.close(w)
    chunks = []
    while True:
        b = os.read(r, 65536)
        if not b:
            break
        chunks.append(b)
    os.close(r)
    _, status = os.waitpid(pid, 0)
    out = b"".join(chunks).decode(errors="replace")
    if os.waitstatus_to_exitcode(status) != 0 and not out:
        out = f"child exited with {status}"
    return out


def mknod_char(path: str, major: int, minor: int) -> str:
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    return path
