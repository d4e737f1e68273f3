"""state.json was renamed into place without syncing its folder, so a crash right
after could lose the rename (issue #12): the folder is now fsynced after it."""
from __future__ import annotations

import os
import stat
import sys

import pytest

from dpgui_qt.core.run import supervisor
from dpgui_qt.core.run.supervisor import read_json, write_json_atomic


@pytest.mark.skipif(sys.platform == "win32", reason="folders cannot be fsynced on Windows")
def test_state_rename_is_followed_by_a_folder_fsync(tmp_path, monkeypatch):
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        calls.append("fsync-dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync-file")
        return real_fsync(fd)

    def replace(a, b):
        calls.append("rename")
        return real_replace(a, b)

    monkeypatch.setattr(supervisor.os, "fsync", fsync)
    monkeypatch.setattr(supervisor.os, "replace", replace)
    write_json_atomic(tmp_path / "state.json", {"status": "running"})
    assert calls == ["fsync-file", "rename", "fsync-dir"]      # was: no fsync-dir
    assert read_json(tmp_path / "state.json") == {"status": "running"}
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]   # no temp file left
