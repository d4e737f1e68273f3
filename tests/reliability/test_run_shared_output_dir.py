"""Two runs on one output_dir must never be confused (issue #12, high): each run is
bound to its own run folder on evidence, logs never collide, and pre-flight warns
before a second active run on the same output_dir."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from dpgui_qt.core.run import control
from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.runs import attach
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.run.supervisor import read_state, start_run

from tests.reliability._run_support import FAKE_DEEPSPEED, make_checkout, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


@pytest.fixture
def runs(tmp_path):
    co, cfg, out = make_checkout(tmp_path)
    started: list[dict] = []

    def start(**fake):
        spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=1,
                       extra_env={f"FAKE_DS_{k.upper()}": str(v) for k, v in fake.items()})
        cmd = spec.command()
        st = start_run(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                       output_dir=str(out), orphan_grace_s=2.0)
        started.append(st)
        return st

    yield start, (co, cfg, out)
    for st in started:
        if st.get("pgid"):
            control.kill(st)


def test_a_caching_run_does_not_adopt_the_folder_of_a_later_run(runs):
    start, (_co, _cfg, out) = runs
    a = start(cache_delay=2.5, steps=3, delay=0.02)          # still caching ...
    b = start(steps=200, delay=0.02)                         # ... when B makes its folder
    b_dir = wait_for(lambda: read_state(b["state_dir"]).get("run_dir"), timeout=20, what="B's folder")
    time.sleep(0.6)                                          # A's supervisor has scanned since
    assert read_state(a["state_dir"])["run_dir"] is None    # (was: A adopted B's folder)
    # A's controls refuse instead of acting on B
    with pytest.raises(control.ControlError):
        control.save_and_stop(a["state_dir"])
    assert not (Path(b_dir) / "save_quit").exists()
    a_final = attach(a["state_dir"]).wait(timeout=30)
    assert a_final["exit_code"] == 0
    assert a_final["run_dir"] and a_final["run_dir"] != b_dir
    assert Path(a_final["run_dir"]).parent == out
    # each run folder links to its own log
    assert (Path(a_final["run_dir"]) / Path(a["log_path"]).name).resolve() == Path(a["log_path"])
    assert not (Path(b_dir) / Path(a["log_path"]).name).exists()
    # B keeps running, untouched; save now on B reaches B's folder only
    assert control.save_now(b["state_dir"]) == Path(b_dir) / "save"
    control.kill(b["state_dir"])


def test_a_folder_is_bound_only_once_the_trainer_leaves_evidence(runs):
    start, _ = runs
    st = start(tb_delay=1.5, steps=3, delay=0.02)
    # the run folder exists (config copied) but rank 0 has not opened its event file yet
    wait_for(lambda: any(p.is_dir() for p in Path(st["output_dir"]).glob("2*")), what="folder")
    time.sleep(0.6)                                          # the supervisor has scanned since
    assert read_state(st["state_dir"])["run_dir"] is None
    final = attach(st["state_dir"]).wait(timeout=30)
    assert final["run_dir"] and final["exit_code"] == 0


def test_two_launches_in_the_same_second_get_their_own_log(runs, tmp_path):
    start, (_co, _cfg, out) = runs
    a = start(steps=1, delay=0.01)
    b = start(steps=1, delay=0.01)
    assert a["log_path"] != b["log_path"]
    assert Path(a["log_path"]).parent == Path(b["log_path"]).parent == out / ".dpgui-logs"
    for st in (a, b):
        attach(st["state_dir"]).wait(timeout=30)
    la, lb = Path(a["log_path"]).read_text(), Path(b["log_path"]).read_text()
    assert la.count("TRAINING COMPLETE!") == 1 and lb.count("TRAINING COMPLETE!") == 1


def test_preflight_warns_about_a_second_active_run_on_the_output_dir(runs):
    start, (co, cfg, out) = runs
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=1)
    assert not [f for f in envmod.preflight(spec) if f.code == "active_run"]
    from dpgui_qt.core.run.runs import active_runs
    a = start(steps=100000, delay=0.05)
    assert [s["run_id"] for s in active_runs(out)] == [a["run_id"]]
    found = [f for f in envmod.preflight(spec) if f.code == "active_run"]
    assert len(found) == 1 and found[0].level == "warning"
    assert a["run_id"] in found[0].message and "same output_dir" not in found[0].fix
    # resuming the very folder that run trains in is an error, not a warning
    run_dir = wait_for(lambda: read_state(a["state_dir"]).get("run_dir"), what="run folder")
    spec.resume_from_checkpoint = os.path.basename(run_dir)
    assert [f.level for f in envmod.preflight(spec) if f.code == "active_run"] == ["error"]
    control.kill(a["state_dir"])
    attach(a["state_dir"]).wait(timeout=30)
    spec.resume_from_checkpoint = None
    assert not [f for f in envmod.preflight(spec) if f.code == "active_run"]
