"""kill -9 (or a plain kill) of the run supervisor: the run goes on and completes;
dpgui must then read the end from the log instead of reporting a failure and
leaving state.json at "running" for good (issue #12)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt.core.run import control
from dpgui_qt.core.run.runs import attach
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.run.supervisor import group_members, pid_alive, read_state, start_run

from tests.reliability._run_support import FAKE_DEEPSPEED, cli_env, make_checkout, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def _start(tmp_path, **fake):
    co, cfg, out = make_checkout(tmp_path)
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=2,
                   extra_env={f"FAKE_DS_{k.upper()}": str(v) for k, v in fake.items()})
    cmd = spec.command()
    return start_run(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                     output_dir=str(out), orphan_grace_s=2.0)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_run_that_outlived_its_supervisor_is_reported_finished(tmp_path, sig):
    st = _start(tmp_path, steps=30, delay=0.05)
    try:
        os.kill(st["supervisor_pid"], sig)
        wait_for(lambda: not pid_alive(st["supervisor_pid"]), what="supervisor gone")
        wait_for(lambda: not group_members(st["pgid"], st["pid_start_ticks"]), timeout=30,
                 what="trainer done")
        assert "TRAINING COMPLETE!" in Path(st["log_path"]).read_text()
        assert read_state(st["state_dir"])["status"] == "running"     # nobody recorded the end
        p = subprocess.run([sys.executable, "-m", "dpgui_qt", "launch", "--attach", st["state_dir"]],
                           env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr                            # was: 1, "run failed"
        assert "training finished" in p.stderr and "supervisor was gone" in p.stderr
        final = json.loads((Path(st["state_dir"]) / "state.json").read_text())
        assert final["status"] == "exited" and final["exit_code"] == 0 and final["exit_inferred"]
        assert final["run_dir"] and Path(final["run_dir"], "latest").is_file()
        assert attach(st["state_dir"]).effective_status() == "exited"
    finally:
        control.kill(st)


def test_failed_run_without_supervisor_keeps_its_failure(tmp_path):
    st = _start(tmp_path, steps=30, delay=0.02, fail_at=3)
    try:
        os.kill(st["supervisor_pid"], signal.SIGKILL)
        wait_for(lambda: not group_members(st["pgid"], st["pid_start_ticks"]), timeout=30,
                 what="trainer done")
        h = attach(st["state_dir"])
        assert h.effective_status() == "exited"
        final = h.state()
        assert final["exit_code"] == 1 and final["exit_inferred"]
    finally:
        control.kill(st)
