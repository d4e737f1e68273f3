"""The Linux single file (packaging/make_selfextract.py + packaging/linux/selfextract.sh.in):
built here over a stand-in one-folder build (a shell script called ``dpgui`` and some data
files), then started the way a user starts it. PyInstaller is not needed: the launcher only
unpacks a folder and execs the ``dpgui`` inside it."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "packaging"))
import make_selfextract  # noqa: E402 - after the sys.path entry

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux launcher")

FAKE_DPGUI = """#!/bin/sh
# stands in for the PyInstaller executable: prints where it runs from and its arguments
echo "ran $0 $*"
if [ -n "${HOLD_FILE:-}" ]; then : > "$HOLD_FILE.started"; while [ -e "$HOLD_FILE" ]; do sleep 0.05; done; fi
"""


def fake_onedir(tmp: Path, tag: str = "v1", nfiles: int = 5) -> Path:
    folder = tmp / f"onedir-{tag}"
    (folder / "_internal" / "sub").mkdir(parents=True)
    exe = folder / "dpgui"
    exe.write_text(FAKE_DPGUI)
    exe.chmod(0o755)
    for i in range(nfiles):
        (folder / "_internal" / "sub" / f"lib{i}.so").write_bytes(os.urandom(1000 + i) + tag.encode())
    (folder / "_internal" / "link.so").symlink_to("sub/lib0.so")
    return folder


def build(tmp: Path, tag: str = "v1", version: str = "9.9.9", name: str = "dpgui") -> Path:
    out = tmp / "dist" / tag / name
    make_selfextract.build(fake_onedir(tmp, tag), out, version)
    return out


def run(exe: Path, cache: Path, *args, check=True, **kw) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cache.parent), "DPGUI_CACHE_DIR": str(cache),
           **kw.pop("env", {})}
    proc = subprocess.run([str(exe), *args], capture_output=True, text=True, env=env,
                          timeout=60, **kw)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def cached(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_first_start_unpacks_later_starts_reuse(tmp_path):
    exe, cache = build(tmp_path), tmp_path / "cache"
    first = run(exe, cache, "--version", "a b")
    assert cached(cache) and cached(cache)[0].startswith("9.9.9-")
    folder = cache / cached(cache)[0]
    assert first.stdout.strip() == f"ran {folder}/dpgui --version a b"
    assert (folder / "_internal" / "link.so").is_symlink()
    stamp = (folder / "_internal" / "sub" / "lib0.so").stat().st_mtime_ns
    second = run(exe, cache, "x")
    assert second.stdout.strip() == f"ran {folder}/dpgui x"
    assert (folder / "_internal" / "sub" / "lib0.so").stat().st_mtime_ns == stamp  # not re-unpacked
    info = run(exe, cache, env={"DPGUI_SFX_INFO": "1"}).stdout
    assert "present and intact" in info and str(folder) in info


def test_reproducible_payload(tmp_path):
    folder = fake_onedir(tmp_path)
    a = make_selfextract.build(folder, tmp_path / "a" / "dpgui", "1.0")
    os.utime(folder / "dpgui", (1, 1))
    b = make_selfextract.build(folder, tmp_path / "b" / "dpgui", "1.0")
    assert a["sha256"] == b["sha256"]
    assert (tmp_path / "a" / "dpgui").read_bytes() == (tmp_path / "b" / "dpgui").read_bytes()


def test_damaged_copy_in_cache_is_unpacked_again(tmp_path):
    exe, cache = build(tmp_path), tmp_path / "cache"
    run(exe, cache)
    folder = cache / cached(cache)[0]
    (folder / "_internal" / "sub" / "lib3.so").unlink()           # a file lost
    assert run(exe, cache, "ok").stdout.startswith(f"ran {folder}/dpgui ok")
    assert (folder / "_internal" / "sub" / "lib3.so").is_file()
    with open(folder / "_internal" / "sub" / "lib2.so", "ab") as fh:  # a file grown
        fh.write(b"x")
    run(exe, cache)
    assert (folder / "_internal" / "sub" / "lib2.so").stat().st_size == 1002 + len(b"v1")
    assert cached(cache) == [folder.name]                            # the damaged copy is gone


def test_damaged_single_file_is_refused_with_a_clear_message(tmp_path):
    exe, cache = build(tmp_path), tmp_path / "cache"
    data = bytearray(exe.read_bytes())
    data[-100] ^= 0xFF
    exe.write_bytes(bytes(data))
    proc = run(exe, cache, check=False)
    assert proc.returncode == 1
    assert "is damaged" in proc.stderr and "download it again" in proc.stderr
    assert cached(cache) == []                                        # nothing half-unpacked


def test_new_version_removes_old_ones_but_not_one_in_use(tmp_path):
    cache = tmp_path / "cache"
    v1 = build(tmp_path, "v1", "1.0")
    run(v1, cache)
    old = cache / cached(cache)[0]
    hold = tmp_path / "hold"
    hold.touch()
    # a "detached supervisor" of version 1 still runs from its cache folder
    runner = subprocess.Popen([str(v1)], env={"PATH": "/usr/bin:/bin", "DPGUI_CACHE_DIR": str(cache),
                                               "HOLD_FILE": str(hold)},
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(400):
            if Path(str(hold) + ".started").exists():
                break
            time.sleep(0.05)
        v2 = build(tmp_path, "v2", "2.0")
        run(v2, cache)
        assert len(cached(cache)) == 2 and old.is_dir()               # in use: kept
    finally:
        hold.unlink()
        runner.wait(timeout=30)
    v3 = build(tmp_path, "v3", "3.0")
    run(v3, cache)
    assert cached(cache) == [n for n in cached(cache) if n.startswith("3.0-")] and len(cached(cache)) == 1


def test_two_first_starts_at_once(tmp_path):
    exe, cache = build(tmp_path), tmp_path / "cache"
    env = {"PATH": "/usr/bin:/bin", "DPGUI_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([str(exe), str(i)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for i in range(4)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, outs
    folder = cache / cached(cache)[0]
    assert cached(cache) == [folder.name]
    assert sorted(o.strip() for o, _ in outs) == [f"ran {folder}/dpgui {i}" for i in range(4)]
    assert not any(p.name.startswith(".unpack-") for p in cache.iterdir())


def test_unwritable_cache_says_what_to_do(tmp_path):
    exe = build(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    proc = run(exe, blocker / "cache", check=False)
    assert proc.returncode == 1 and "DPGUI_CACHE_DIR" in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("mount"), reason="needs root for a tmpfs")
def test_full_disk_says_how_much_is_needed(tmp_path):
    exe = build(tmp_path)
    small = tmp_path / "small"
    small.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8k", "tmpfs", str(small)],
                          capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr!r}")
    try:
        proc = run(exe, small / "cache", check=False)
        assert proc.returncode == 1
        assert "free some space" in proc.stderr or "incomplete copy" in proc.stderr
        assert not [p for p in (small / "cache").iterdir() if not p.name.endswith(".err")]
    finally:
        subprocess.run(["umount", str(small)], check=False)
