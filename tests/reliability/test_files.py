"""Hostile-user cases for reading and writing config files (issue #12).

Each test first reproduced the defect on the code before the fix (noted per test)."""
from __future__ import annotations

import os
import resource
import stat
import struct
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import pytest

from dpgui_qt.cli import main
from dpgui_qt.core.config.document import ConfigDocument, DocumentError
from tests.helpers import BASE_DATASET, BASE_MAIN

from .conftest import NOBODY, mknod_char, need_root, run_as

REPO = Path(__file__).resolve().parents[2]
USERS_GID = 100  # a group nobody is not in by default


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out = capsys.readouterr()
    return rc, out.out, out.err


def dpgui(*argv, timeout=60, preexec=None):
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "dpgui_qt", *map(str, argv)], env=env,
                          capture_output=True, text=True, timeout=timeout, preexec_fn=preexec)


@pytest.fixture
def cfg(tmp_path):
    (tmp_path / "dataset.toml").write_text(BASE_DATASET)
    p = tmp_path / "main.toml"
    p.write_text(BASE_MAIN)
    return p


# ------------------------------------------------------------- non-regular files
@need_root
def test_set_refuses_to_replace_a_device_node(tmp_path, capsys):
    # before: the node was read as an empty config and replaced by a regular file
    node = mknod_char(str(tmp_path / "node.toml"), 1, 3)  # private node, never /dev/null
    rc, _out, err = cli(capsys, "set", node, "epochs=1")
    assert rc == 2 and "character device" in err
    assert stat.S_ISCHR(os.lstat(node).st_mode)


def test_set_refuses_a_fifo_config_and_does_not_hang(tmp_path):
    # before: read whatever a writer sent, then replaced the FIFO with a regular file
    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)
    stop = threading.Event()

    def writer():  # feeds a config to whoever opens the FIFO, without ever blocking
        while not stop.is_set():
            try:
                fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:
                time.sleep(0.05)
                continue
            try:
                os.write(fd, BASE_MAIN.encode())
            except OSError:
                pass
            os.close(fd)
            time.sleep(0.05)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        res = dpgui("set", fifo, "epochs=1", timeout=60)
    finally:
        stop.set()
        t.join(5)
    assert res.returncode == 2 and "FIFO" in res.stderr, res.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_set_output_to_a_fifo_is_refused(cfg, tmp_path, capsys):
    # before: `-o FIFO` replaced the FIFO with a regular file
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    rc, _out, err = cli(capsys, "set", cfg, "epochs=3", "-o", fifo)
    assert rc == 2 and "FIFO" in err
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


@need_root
@pytest.mark.parametrize("minor,name", [(5, "zero"), (9, "urandom")])
def test_endless_device_as_config_is_refused_without_traceback(tmp_path, minor, name):
    # before: read until memory ran out, then a MemoryError traceback
    node = mknod_char(str(tmp_path / f"{name}.toml"), 1, minor)
    limit = 1536 * 1024 * 1024

    def cap_memory():
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    for argv in (("validate", node), ("get", node, "epochs")):
        res = dpgui(*argv, timeout=120, preexec=cap_memory)
        assert res.returncode == 2, res.stdout + res.stderr
        assert "Traceback" not in res.stderr and "MemoryError" not in res.stderr
        assert "character device" in res.stdout + res.stderr


def test_fifo_as_config_does_not_hang_validate(tmp_path):
    # before: `dpgui validate FIFO` blocked forever (the screenshot's side:
    # tests/gui/reliability/test_start_files.py)
    fifo = tmp_path / "cfg.toml"
    os.mkfifo(fifo)
    res = dpgui("validate", fifo, timeout=60)
    assert res.returncode == 2 and "FIFO" in res.stdout
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_oversized_config_is_refused_with_a_clear_message(tmp_path):
    # before: read (and tried to parse) any size
    big = tmp_path / "big.toml"
    with open(big, "wb") as fh:
        fh.truncate(40 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(DocumentError) as info:
        ConfigDocument.load(big)
    assert "more than" in str(info.value) and "MiB" in str(info.value)


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_dataset_naming_a_fifo_or_device_fails_validation(cfg, tmp_path, capsys, kind):
    # before: dataset = 'a FIFO' or a /dev/zero-like node passed `dpgui validate`
    special = tmp_path / "special.toml"
    if kind == "fifo":
        os.mkfifo(special)
    else:
        if os.geteuid() != 0:
            pytest.skip("mknod needs root")
        mknod_char(str(special), 1, 5)
    cfg.write_text(cfg.read_text().replace("dataset = 'dataset.toml'", "dataset = 'special.toml'"))
    rc, out, _err = cli(capsys, "validate", cfg)
    assert rc == 1, out
    assert "dataset" in out and ("FIFO" in out or "character device" in out)


# ------------------------------------------------------------- links and metadata
def test_set_writes_through_a_symlink(cfg, tmp_path, capsys):
    # before: the link became a regular file and its target was not updated
    link = tmp_path / "link.toml"
    link.symlink_to(cfg.name)
    rc, out, err = cli(capsys, "set", link, "epochs=42")
    assert rc == 0, out + err
    assert link.is_symlink() and os.readlink(link) == cfg.name
    assert tomllib.loads(cfg.read_text())["epochs"] == 42


@need_root
def test_root_save_keeps_owner_and_group(cfg, capsys):
    # before: a save by root made the user's file root's
    os.chown(cfg, NOBODY, USERS_GID)
    rc, out, err = cli(capsys, "set", cfg, "epochs=5")
    assert rc == 0, out + err
    st = os.stat(cfg)
    assert (st.st_uid, st.st_gid) == (NOBODY, USERS_GID)


@need_root
def test_user_save_keeps_the_files_group(shared_dir):
    # before: the user's save gave the file the user's primary group
    p = Path(shared_dir) / "cfg.toml"
    p.write_text(BASE_MAIN)
    os.chown(p, NOBODY, USERS_GID)
    os.chmod(p, 0o664)

    def save():
        doc = ConfigDocument.load(p)
        doc.set("epochs", 7)
        doc.save()

    err = run_as(NOBODY, NOBODY, [USERS_GID], save)
    assert err == ""
    st = os.stat(p)
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (NOBODY, USERS_GID, 0o664)
    assert tomllib.loads(p.read_text())["epochs"] == 7


@need_root
def test_group_member_save_keeps_the_owner(shared_dir):
    # before: a group member's save made the file the member's own
    p = Path(shared_dir) / "cfg.toml"
    p.write_text(BASE_MAIN)
    os.chown(p, 0, USERS_GID)
    os.chmod(p, 0o664)

    def save():
        doc = ConfigDocument.load(p)
        doc.set("epochs", 8)
        doc.save()

    assert run_as(NOBODY, NOBODY, [USERS_GID], save) == ""
    st = os.stat(p)
    assert (st.st_uid, st.st_gid) == (0, USERS_GID)
    assert tomllib.loads(p.read_text())["epochs"] == 8


def _acl(entries):
    """A Linux system.posix_acl_access value: version 2, then (tag, perm, id) entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)


def test_save_keeps_xattrs_and_acls(cfg):
    # before: extended attributes and ACLs were dropped by the replace
    try:
        os.setxattr(cfg, "user.dpgui-test", b"keep me")
    except OSError as exc:
        pytest.skip(f"no user xattrs here: {exc}")
    acl = _acl([(0x01, 6, 0xFFFFFFFF), (0x02, 4, NOBODY), (0x04, 4, 0xFFFFFFFF),
                (0x10, 4, 0xFFFFFFFF), (0x20, 4, 0xFFFFFFFF)])
    try:
        os.setxattr(cfg, "system.posix_acl_access", acl)
        has_acl = True
    except OSError:
        has_acl = False
    before = {n: os.getxattr(cfg, n) for n in os.listxattr(cfg)}
    doc = ConfigDocument.load(cfg)
    doc.set("epochs", 9)
    doc.save()
    after = {n: os.getxattr(cfg, n) for n in os.listxattr(cfg)}
    assert after == before
    assert after["user.dpgui-test"] == b"keep me"
    if has_acl:
        assert "system.posix_acl_access" in after


def test_hard_link_is_kept_not_split(cfg, tmp_path):
    # before: the save replaced one name; the other kept the old content silently
    other = tmp_path / "other-name.toml"
    os.link(cfg, other)
    doc = ConfigDocument.load(cfg)
    doc.set("epochs", 11)
    doc.save()
    assert os.stat(cfg).st_ino == os.stat(other).st_ino and os.stat(cfg).st_nlink == 2
    assert tomllib.loads(other.read_text())["epochs"] == 11


def test_read_only_file_is_not_rewritten_without_a_word(cfg, capsys):
    # before: a 0444 file was replaced silently
    os.chmod(cfg, 0o444)
    before = cfg.read_bytes()
    rc, _out, err = cli(capsys, "set", cfg, "epochs=12")
    assert rc == 2 and "read-only" in err and "--force" in err
    assert cfg.read_bytes() == before
    rc, out, err = cli(capsys, "set", cfg, "epochs=12", "--force")
    assert rc == 0, out + err
    assert tomllib.loads(cfg.read_text())["epochs"] == 12
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o444


@need_root
def test_read_only_file_refused_for_an_unprivileged_owner(shared_dir):
    # before: the owner's save replaced their own 0444 file (the folder was writable)
    p = Path(shared_dir) / "cfg.toml"
    p.write_text(BASE_MAIN)
    os.chown(p, NOBODY, NOBODY)
    os.chmod(p, 0o444)

    def save():
        doc = ConfigDocument.load(p)
        doc.set("epochs", 13)
        doc.save()

    err = run_as(NOBODY, NOBODY, [], save)
    assert "SaveError" in err or "ReadOnlyError" in err, err
    assert "read-only" in err
    assert p.read_text() == BASE_MAIN


# ------------------------------------------------------------- names, umask
def test_config_name_near_name_max_can_be_saved(tmp_path):
    # before: the temp name added 14 characters and the save failed (ENAMETOOLONG)
    p = tmp_path / ("c" * 245 + ".toml")
    p.write_text(BASE_MAIN)
    doc = ConfigDocument.load(p)
    doc.set("epochs", 14)
    doc.save()
    assert tomllib.loads(p.read_text())["epochs"] == 14
    assert sorted(os.listdir(tmp_path)) == [p.name]  # no temp file left


def test_save_does_not_change_the_process_umask(tmp_path, monkeypatch):
    # before: every save of a new file set the process-wide umask to 0 and back
    old = os.umask(0o027)
    try:
        def no_umask(_mask):
            raise AssertionError("os.umask called while saving")

        monkeypatch.setattr(os, "umask", no_umask)
        doc = ConfigDocument.from_text(BASE_MAIN)
        doc.save(tmp_path / "new.toml")
        monkeypatch.undo()
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.toml").st_mode) == 0o640


# ------------------------------------------------------------- edits
def test_set_does_not_replace_a_table_with_a_string(cfg, capsys):
    # before: model=flux --string replaced [model] with a string, wrote it, then exited 1
    before = cfg.read_bytes()
    rc, _out, err = cli(capsys, "set", cfg, "model=flux", "--string")
    assert rc == 2 and "model is a table" in err and "--replace-table" in err
    assert cfg.read_bytes() == before


def test_set_validates_before_writing(cfg, capsys):
    # before: the file was written, then validation reported the error
    before = cfg.read_bytes()
    rc, out, err = cli(capsys, "set", cfg, "model.dtype='bf16'")
    assert rc == 1 and "model.dtype" in out and "not written" in err
    assert cfg.read_bytes() == before


def test_unrelated_edit_keeps_split_array_of_tables_in_place():
    # before: [[directory]] entries written apart were gathered together and the comments
    # between them moved to other tables
    text = ("epochs = 1\n\n# first folder\n[[directory]]\npath = 'a'\nresolutions = [\n"
            "  [512, 512],\n]\n\n# the optimizer\n[optimizer]\ntype = 'adamw'\n\n"
            "# second folder\n[[directory]]\npath = 'b'\n\n[model]\ntype = 'flux'\n")
    doc = ConfigDocument.from_text(text)
    doc.set("epochs", 2)
    assert doc.text == text.replace("epochs = 1", "epochs = 2")
    doc.set("directory[1].num_repeats", 3)
    assert doc.text == text.replace("epochs = 1", "epochs = 2").replace(
        "path = 'b'\n", "path = 'b'\nnum_repeats = 3\n")
    assert [d["path"] for d in doc.values()["directory"]] == ["a", "b"]


@need_root
def test_writable_file_in_a_folder_that_takes_no_new_files_is_written_in_place(shared_dir):
    # a file the user may write in a folder they may not create files in (as editors handle)
    folder = Path(shared_dir) / "locked"
    folder.mkdir()
    p = folder / "cfg.toml"
    p.write_text(BASE_MAIN)
    os.chown(p, NOBODY, NOBODY)
    os.chmod(folder, 0o755)  # root's folder: nobody cannot create the temp file

    def save():
        doc = ConfigDocument.load(p)
        doc.set("epochs", 15)
        doc.save()

    assert run_as(NOBODY, NOBODY, [], save) == ""
    assert tomllib.loads(p.read_text())["epochs"] == 15
    assert os.listdir(folder) == ["cfg.toml"]


def test_insert_move_remove_in_a_split_array_of_tables_lose_no_comment():
    text = ("epochs = 1\n\n# first folder\n[[directory]]\npath = 'a'\n\n# the optimizer\n"
            "[optimizer]\ntype = 'adamw'\n\n# second folder\n[[directory]]\npath = 'b'\n\n"
            "# the model\n[model]\ntype = 'flux'\n")
    comments = [ln for ln in text.splitlines() if ln.startswith("#")]
    doc = ConfigDocument.from_text(text)
    doc.insert("directory", 2, {"path": "c"})
    assert [d["path"] for d in doc.values()["directory"]] == ["a", "b", "c"]
    # the new entry follows the last one; the optimizer stays between the first two
    assert doc.text.index("[optimizer]") < doc.text.index("path = 'b'") < doc.text.index('"c"')
    assert doc.text.index("# the optimizer\n[optimizer]") > 0
    assert doc.text.index("# the model\n[model]") > 0
    doc.move("directory", 2, 0)
    assert [d["path"] for d in doc.values()["directory"]] == ["c", "a", "b"]
    doc.remove("directory", 0)
    doc.remove("directory", 0)
    assert [d["path"] for d in doc.values()["directory"]] == ["b"]
    assert all(c in doc.text for c in comments)
