"""The run queue: a detached runner starts queued runs one after another with the fake
deepspeed; a failed run continues or pauses the queue as chosen; reorder, pause, cancel."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, wait_for

from dpgui_qt.core.run.runqueue import RunQueue, queue_dir_for, runner_alive

REPO = Path(__file__).resolve().parent.parent


def three_configs(tmp_path):
    co, cfg, out = make_checkout(tmp_path, valid=True)
    cfgs = []
    for i in range(3):
        c = co / "examples" / f"run{i}.toml"
        c.write_text(cfg.read_text().replace(str(out), str(tmp_path / f"runs{i}")))
        cfgs.append(c)
    return co, cfgs


def cli(tmp_path, *args, env_extra=None, check=True):
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_STATE_DIR=str(tmp_path / "state"),
               FAKE_DS_DELAY="0.02", FAKE_DS_STEPS="4")
    env.update(env_extra or {})
    p = subprocess.run([sys.executable, "-m", "dpgui_qt", "queue", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    if check:
        assert p.returncode == 0, p.stderr
    return p


def queue(tmp_path) -> RunQueue:
    return RunQueue(queue_dir_for(tmp_path / "state"))


def wait_queue_idle(tmp_path, timeout=90):
    q = queue(tmp_path)
    wait_for(lambda: not runner_alive(q.dir) and all(i["status"] != "running" for i in q.items()),
             timeout, 0.1, "the queue runner to finish")
    return q.load()


def add_three(tmp_path, co, cfgs):
    for i, c in enumerate(cfgs):
        extra = ["--env", "FAKE_DS_FAIL_AT=2"] if i == 1 else []
        cli(tmp_path, "add", str(c), "--checkout", str(co), "--deepspeed", str(FAKE_DEEPSPEED), *extra)


@pytest.mark.parametrize("continue_on_failure", [True, False])
def test_three_runs_second_fails(tmp_path, continue_on_failure):
    co, cfgs = three_configs(tmp_path)
    cli(tmp_path, "pause")                         # queue all three before anything starts
    cli(tmp_path, "on-failure", "continue" if continue_on_failure else "pause")
    add_three(tmp_path, co, cfgs)
    assert [i["status"] for i in queue(tmp_path).items()] == ["pending"] * 3
    cli(tmp_path, "resume")
    data = wait_queue_idle(tmp_path)
    st = [i["status"] for i in data["items"]]
    if continue_on_failure:
        assert st == ["finished", "failed", "finished"]
        assert not data["paused"]
    else:
        assert st == ["finished", "failed", "pending"]
        assert data["paused"] and "failed run" in data["pause_reason"]
    failed = data["items"][1]
    assert "out of gpu memory" in failed["message"].lower() and failed["exit_code"] == 1
    for it in data["items"][:2]:
        assert it["run_dir"] and Path(it["run_dir"]).is_dir()
        assert Path(it["state_dir"]).is_dir()
    # one after another: each started after the previous one ended
    ran = [i for i in data["items"] if i["started_at"]]
    for a, b in zip(ran, ran[1:]):
        assert b["started_at"] >= a["ended_at"]
    listing = cli(tmp_path, "list").stdout
    assert "finished" in listing and "failed" in listing and "Out of GPU memory" in listing
    if not continue_on_failure:
        cli(tmp_path, "resume")
        data = wait_queue_idle(tmp_path)
        assert [i["status"] for i in data["items"]] == ["finished", "failed", "finished"]


def test_runs_train_on_the_snapshot_and_sweep_gets_own_output_dirs(tmp_path):
    co, cfgs = three_configs(tmp_path)
    cli(tmp_path, "pause")
    cli(tmp_path, "add", str(cfgs[0]), "--checkout", str(co), "--deepspeed", str(FAKE_DEEPSPEED),
        "--sweep", "gradient_accumulation_steps=1,2")
    items = queue(tmp_path).items()
    assert [i["label"] for i in items] == ["run0 gradient_accumulation_steps=1",
                                           "run0 gradient_accumulation_steps=2"]
    outs = [i["output_dir"] for i in items]
    assert outs == [str(tmp_path / "runs0" / "run0-gradient_accumulation_steps-1"),
                    str(tmp_path / "runs0" / "run0-gradient_accumulation_steps-2")]
    snap = Path(items[1]["config"]).read_text()
    assert "gradient_accumulation_steps = 2" in snap and "[model]" in snap
    cfgs[0].write_text("garbage that is not toml [[[")       # edited after queueing
    cli(tmp_path, "resume")
    data = wait_queue_idle(tmp_path)
    assert [i["status"] for i in data["items"]] == ["finished", "finished"]
    for it in data["items"]:
        assert Path(it["run_dir"]).parent == Path(it["output_dir"])


def test_reorder_remove_cancel(tmp_path):
    co, cfgs = three_configs(tmp_path)
    cli(tmp_path, "pause")
    add_three(tmp_path, co, cfgs)
    q = queue(tmp_path)
    ids = [i["id"] for i in q.items()]
    cli(tmp_path, "move", ids[2], "top")
    assert [i["id"] for i in q.items()] == [ids[2], ids[0], ids[1]]
    cli(tmp_path, "move", "1", "down")
    assert [i["id"] for i in q.items()] == [ids[0], ids[2], ids[1]]
    cli(tmp_path, "remove", ids[1])
    cli(tmp_path, "cancel", ids[2])
    assert [(i["id"], i["status"]) for i in q.items()] == [(ids[0], "pending"), (ids[2], "cancelled")]
    p = cli(tmp_path, "remove", "nope", check=False)
    assert p.returncode == 2 and "no queued run" in p.stderr
    # cancelling the running one stops it (the fake ranks ignore SIGTERM: SIGKILL after the grace)
    with q.edit() as data:
        data["stop_grace_s"] = 1.0
    cli(tmp_path, "resume", env_extra={"FAKE_DS_STEPS": "100000", "FAKE_DS_DELAY": "0.05"})
    wait_for(lambda: q.items()[0]["status"] == "running" and q.items()[0]["state_dir"], 30, 0.05,
             "the run to start")
    p = cli(tmp_path, "remove", ids[0], check=False)
    assert p.returncode == 2 and "cancel it instead" in p.stderr
    cli(tmp_path, "cancel", ids[0])
    data = wait_queue_idle(tmp_path, 60)
    assert data["items"][0]["status"] == "cancelled"
    cli(tmp_path, "clear")
    assert queue(tmp_path).items() == []


def test_list_json_and_bad_input(tmp_path):
    p = cli(tmp_path, "list", "--json")
    d = json.loads(p.stdout)
    assert d["items"] == [] and d["runner_alive"] is False
    co, cfgs = three_configs(tmp_path)
    p = cli(tmp_path, "add", str(tmp_path / "missing.toml"), "--checkout", str(co), check=False)
    assert p.returncode == 2 and "config file not found" in p.stderr
    p = cli(tmp_path, "add", str(cfgs[0]), "--checkout", str(co), "--deepspeed", str(FAKE_DEEPSPEED),
            "--sweep", "lr", check=False)
    assert p.returncode == 2 and "KEY=V1" in p.stderr
    assert queue(tmp_path).items() == []
