"""An output_dir on a full disk was only a warning; the run then failed with an empty
log and no reason anywhere (issue #12). Now it is a pre-flight error, and a log
that cannot be written is reported (state.json, supervisor.err, dpgui launch)."""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.spec import RunSpec

from tests.reliability._run_support import FAKE_DEEPSPEED, cli_env, launch_cmd, make_checkout, wait_for


def test_full_disk_is_a_preflight_error(tmp_path, monkeypatch):
    co, cfg, out = make_checkout(tmp_path)
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=1)
    monkeypatch.setattr(envmod, "free_bytes", lambda p: 12_000)
    disk = [f for f in envmod.preflight(spec) if f.code == "disk"]
    assert [f.level for f in disk] == ["error"]                # was: "warning"
    assert "full" in disk[0].message and "12000 bytes" in disk[0].message
    monkeypatch.setattr(envmod, "free_bytes", lambda p: 5 * 10**9)
    assert [f.level for f in envmod.preflight(spec) if f.code == "disk"] == ["warning"]
    monkeypatch.setattr(envmod, "free_bytes", lambda p: 500 * 10**9)
    assert not [f for f in envmod.preflight(spec) if f.code == "disk"]


@pytest.fixture
def tiny_disk(tmp_path):
    """A 512 KiB tmpfs (root only); skipped where it cannot be mounted."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def _fill(mnt: Path, name: str = "filler") -> None:
    with open(mnt / name, "wb", buffering=0) as f:
        try:
            while True:
                f.write(b"\0" * 4096)
        except OSError:
            pass


def _config_on(tmp_path, mnt):
    co, cfg, _ = make_checkout(tmp_path, valid=True)
    out = mnt / "runs"
    cfg.write_text(cfg.read_text().replace(str(tmp_path / "training_runs"), str(out)))
    return co, cfg, out


def test_launch_on_a_full_disk_is_refused_and_forced_says_why(tmp_path, tiny_disk):
    co, cfg, out = _config_on(tmp_path, tiny_disk)
    out.mkdir()
    _fill(tiny_disk)
    env = cli_env(tmp_path)
    p = subprocess.run(launch_cmd(cfg, co), env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "disk of output_dir is full" in p.stderr, p.stderr
    assert not (tmp_path / "state").exists()
    p = subprocess.run(launch_cmd(cfg, co, "--force"), env=env, capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "no space left on the disk of the console log" in p.stderr, p.stderr
    state = json.loads(next((tmp_path / "state").glob("*/state.json")).read_text())
    assert state["status"] == "failed_to_start" and "no space left" in state["error"]
    assert "no space left" in next((tmp_path / "state").glob("*/supervisor.err")).read_text()


def test_a_disk_that_fills_during_the_run_is_named_as_the_reason(tmp_path, tiny_disk):
    co, cfg, out = _config_on(tmp_path, tiny_disk)
    env = cli_env(tmp_path, FAKE_DS_STEPS="400", FAKE_DS_DELAY="0.02")
    p = subprocess.Popen(launch_cmd(cfg, co, "--force"), env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: list(out.glob(".dpgui-logs/*.log")) and
                 list(out.glob(".dpgui-logs/*.log"))[0].stat().st_size > 0, timeout=20, what="log")
        time.sleep(0.3)
        _fill(tiny_disk)
        o, e = p.communicate(timeout=60)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, e
    assert "no space left on the disk of the console log" in e
    state = json.loads(next((tmp_path / "state").glob("*/state.json")).read_text())
    assert state["status"] == "exited" and state["exit_code"] != 0 and "no space left" in state["error"]
