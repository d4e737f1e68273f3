"""Ctrl-C twice (save_quit, then stop) left a stale ``save_quit`` in the run folder, so
the next resume quit after one step; and "checkpoint in <run_dir>" was printed when
no checkpoint existed (issue #12)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from dpgui_qt.core.run import control
from dpgui_qt.core.run.runs import attach
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.run.supervisor import read_state, start_run

from tests.reliability._run_support import (
    FAKE_DEEPSPEED, cli_env, launch_cmd, live_group_psutil, make_checkout, wait_for,
)

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _ctrl_c_twice(tmp_path):
    """dpgui launch on a trainer stuck in its first step; Ctrl-C, Ctrl-C."""
    co, cfg, out = make_checkout(tmp_path, valid=True)
    env = cli_env(tmp_path, FAKE_DS_STEPS="100000", FAKE_DS_DELAY="3600")
    p = subprocess.Popen(launch_cmd(cfg, co, "--stop-grace", "0.5"), env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(p.stdout), daemon=True).start()
    try:
        wait_for(lambda: any("DeepSpeed Final Optimizer" in ln for ln in lines), timeout=20,
                 what="engine up")
        state_file = wait_for(lambda: next((tmp_path / "state").glob("*/state.json"), None))
        wait_for(lambda: json.loads(state_file.read_text()).get("run_dir"), what="run folder bound")
        p.send_signal(signal.SIGINT)
        wait_for(lambda: any("save_quit" in ln for ln in lines), what="save_quit message")
        p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
    state = json.loads(state_file.read_text())
    return rc, "".join(lines), state, (co, cfg, out)


def test_ctrl_c_twice_leaves_no_save_quit_behind(tmp_path):
    rc, text, state, _ = _ctrl_c_twice(tmp_path)
    assert rc == 3, text
    run_dir = Path(state["run_dir"])
    assert not (run_dir / "save_quit").exists()                # was: left behind
    assert state["signal_files_cleared"] == ["save_quit"]
    assert not live_group_psutil(state["pgid"])


def test_no_checkpoint_is_not_reported_as_one(tmp_path):
    rc, text, state, _ = _ctrl_c_twice(tmp_path)
    assert rc == 3
    assert "checkpoint in" not in text                         # was: "; checkpoint in <run_dir>"
    assert "no checkpoint was saved" in text


def test_stop_then_resume_runs_on(tmp_path):
    """A save_quit written by hand/an older dpgui into the folder being resumed is
    removed (and said so in the log) instead of stopping the resumed run at once."""
    co, cfg, out = make_checkout(tmp_path)
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=1,
                   extra_env={"FAKE_DS_STEPS": "3", "FAKE_DS_DELAY": "0.01"})
    cmd = spec.command()
    st = start_run(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                   output_dir=str(out))
    first = attach(st["state_dir"]).wait(timeout=30)
    run_dir = Path(first["run_dir"])
    (run_dir / "save_quit").touch()                            # stale, not consumed
    spec.resume_from_checkpoint = run_dir.name
    cmd = spec.command()
    st2 = start_run(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                    output_dir=str(out), resume_from=run_dir.name)
    try:
        final = attach(st2["state_dir"]).wait(timeout=30)
    finally:
        control.kill(st2)
    log = Path(st2["log_path"]).read_text()
    assert "Manually quitting" not in log and "TRAINING COMPLETE!" in log
    assert "removed save_quit" in log
    assert final["exit_code"] == 0 and read_state(st2["state_dir"])["run_dir"] == str(run_dir)
