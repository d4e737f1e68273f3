"""The detached supervisor with the fake deepspeed: survival, re-attach, control, cleanup."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for

from dpgui_qt.core.run import control
from dpgui_qt.core.run.runs import LogFollower, attach
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.run.supervisor import pid_alive, read_state, start_run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path):
    co, cfg, out = make_checkout(tmp_path)
    started: list[dict] = []

    def start(gpus=2, orphan_grace_s=5.0, **fake):
        spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=gpus,
                       extra_env={f"FAKE_DS_{k.upper()}": str(v) for k, v in fake.items()})
        cmd = spec.command()
        st = start_run(cmd.argv, tmp_path / "state", env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                       output_dir=str(out), orphan_grace_s=orphan_grace_s)
        started.append(st)
        return st

    yield start, out, tmp_path
    for st in started:                       # never leave processes behind
        if st.get("pgid"):
            control.kill(st)


def log_text(st) -> str:
    return Path(st["log_path"]).read_text(errors="replace")


def test_run_completes_and_state_is_recorded(env):
    start, out, tmp = env
    st = start(steps=3, delay=0.02)
    assert st["status"] == "running" and st["pid"] == st["pgid"]
    assert st["env"]["NCCL_P2P_DISABLE"] == "1"
    assert Path(st["log_path"]).parent == out / ".dpgui-logs"
    final = attach(st["state_dir"]).wait(timeout=60)
    assert final["status"] == "exited" and final["exit_code"] == 0
    assert final["run_dir"] and Path(final["run_dir"]).parent == out
    assert Path(final["run_dir"], "latest").read_text() == "global_step3"
    assert "TRAINING COMPLETE!" in log_text(st)
    assert (Path(final["run_dir"]) / Path(st["log_path"]).name).resolve() == Path(st["log_path"])
    assert not live_group_psutil(st["pgid"])


def test_run_outlives_the_gui_and_a_new_follower_reads_everything(env):
    start, out, tmp = env
    co, cfg, _ = make_checkout(tmp)
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, gpus=2,
                   extra_env={"FAKE_DS_STEPS": "20", "FAKE_DS_DELAY": "0.05"})
    cmd = spec.command()
    gui = (f"import sys, time; sys.path.insert(0, {str(REPO)!r})\n"
           f"from dpgui_qt.core.run.supervisor import start_run\n"
           f"st = start_run({cmd.argv!r}, {str(tmp / 'state')!r}, env={cmd.env!r}, cwd={cmd.cwd!r},"
           f" output_dir={str(out)!r})\n"
           f"print(st['state_dir'], flush=True)\ntime.sleep(60)\n")
    p = subprocess.Popen([sys.executable, "-c", gui], stdout=subprocess.PIPE, text=True)
    try:
        state_dir = p.stdout.readline().strip()
    finally:
        p.kill()                                   # the "GUI" crashes
        p.wait(5)
    st = read_state(state_dir)
    assert st["status"] == "running"
    time.sleep(0.3)
    assert pid_alive(st["pid"], st["pid_start_ticks"]), "trainer died with its starter"
    handle = attach(state_dir)                     # a new GUI re-attaches
    assert handle.is_active()
    final = handle.wait(timeout=60)
    assert final["exit_code"] == 0
    data = handle.follower().read_available()
    assert data == Path(final["log_path"]).read_bytes()
    assert b"steps: 20 loss:" in data and b"TRAINING COMPLETE!" in data
    assert not live_group_psutil(st["pgid"])


def test_follower_delivers_exactly_the_log(env):
    start, out, tmp = env
    st = start(steps=30, delay=0.005, flood=20000)
    f = LogFollower(st["log_path"], chunk_size=8192)
    chunks = []
    h = attach(st["state_dir"])
    while h.is_active():
        chunks.append(f.read())
        time.sleep(0.005)
    chunks.append(f.read_available())
    assert b"".join(chunks) == Path(st["log_path"]).read_bytes()


def test_follower_reads_incrementally(tmp_path):
    """Each read returns only what was appended since the last one, at most a chunk at a
    time (checked on a file the test appends to itself, so no scheduling decides it)."""
    log = tmp_path / "train.log"
    log.write_bytes(b"a" * 10000)
    f = LogFollower(str(log), chunk_size=4096)
    assert [len(f.read()) for _ in range(4)] == [4096, 4096, 1808, 0]
    with open(log, "ab") as out:
        out.write(b"steps: 1 loss: 0.5\n")
    assert f.read() == b"steps: 1 loss: 0.5\n" and f.read() == b""


@pytest.mark.parametrize("launcher_ignores_term", [False, True])
def test_stop_leaves_no_process(env, launcher_ignores_term):
    start, out, tmp = env
    st = start(steps=100000, delay=0.05, launcher_ignore_term=int(launcher_ignores_term))
    wait_for(lambda: "steps: 2 loss" in log_text(st), what="training")
    # rank 1 is started after rank 0, so rank 0's steps do not prove it exists yet
    wait_for(lambda: len(live_group_psutil(st["pgid"])) == 3, what="launcher + 2 ranks")
    res = control.stop(st, grace_s=0.5)
    assert res.clean and res.signalled
    assert res.killed, "the ranks ignore SIGTERM, so Stop must have escalated"
    assert not live_group_psutil(st["pgid"])
    final = attach(st["state_dir"]).wait(timeout=60)
    assert final["status"] == "exited" and final["stop_request"] == "stop"
    assert final["exit_code"] != 0


def test_kill_leaves_no_process(env):
    start, out, tmp = env
    st = start(steps=100000, delay=0.05)
    wait_for(lambda: "steps: 1 loss" in log_text(st), what="training")
    res = control.kill(st)
    assert res.clean and set(res.killed) >= {st["pid"]}
    assert not live_group_psutil(st["pgid"])
    final = attach(st["state_dir"]).wait(timeout=60)
    assert final["exit_code"] == -signal.SIGKILL and final["stop_request"] == "kill"
    assert control.stop(st).signalled == []            # nothing left to stop


def test_save_and_save_quit(env):
    start, out, tmp = env
    st = start(steps=100000, delay=0.03)
    h = attach(st["state_dir"])
    st = wait_for(lambda: (s := h.state())["run_dir"] and "steps: 1 loss" in log_text(s) and s,
                  what="run folder")
    run_dir = Path(st["run_dir"])
    control.save_now(h)
    wait_for(lambda: (run_dir / "latest").is_file(), what="checkpoint")
    wait_for(lambda: not (run_dir / "save").exists(), what="save file consumed")
    assert "Saving model to directory step" in log_text(st)
    control.save_and_stop(h)
    final = h.wait(timeout=60)
    assert final["exit_code"] == 0 and final["stop_request"] == "save_quit"
    text = log_text(st)
    assert "Manually quitting" in text and "TRAINING COMPLETE!" not in text
    assert not (run_dir / "save_quit").exists()
    assert not live_group_psutil(st["pgid"])


def test_orphaned_ranks_are_reaped_by_the_supervisor(env):
    start, out, tmp = env
    st = start(steps=100000, delay=0.05, orphan_grace_s=0.3)
    wait_for(lambda: "steps: 1 loss" in log_text(st), what="training")
    # both ranks must exist before the launcher goes, or there would be fewer orphans
    wait_for(lambda: len(live_group_psutil(st["pgid"])) == 3, what="launcher + 2 ranks")
    os.kill(st["pid"], signal.SIGTERM)                 # only the launcher; ranks stay behind
    final = attach(st["state_dir"]).wait(timeout=60)
    assert final["status"] == "exited" and len(final["orphans_killed"]) == 2
    assert not live_group_psutil(st["pgid"])


def test_failed_start_is_recorded(tmp_path):
    st = start_run([str(tmp_path / "no-such-deepspeed"), "--num_gpus=1"], tmp_path / "state",
                   cwd=str(tmp_path))
    assert st["status"] == "failed_to_start" and "could not start" in st["error"]
    assert "could not start" in Path(st["log_path"]).read_text()
    assert attach(st["state_dir"]).effective_status() == "failed_to_start"


def test_orphan_reaping_returns_only_once_the_killed_ranks_are_gone(monkeypatch):
    """SIGKILL is not instant: a killed process stays listed until the kernel has run
    its exit.  The supervisor records "exited" right after reaping, so reaping must
    wait until the group is really empty (checked with a group that empties only on
    the fourth look after the SIGKILL, so no scheduling decides it)."""
    from dpgui_qt.core.run import supervisor as sup
    looks_after_kill = {"n": None}
    sent = []

    def members(pgid, ticks=None):
        n = looks_after_kill["n"]
        if n is None:
            return [11, 12]                  # the ranks ignore everything but SIGKILL
        looks_after_kill["n"] = n + 1
        return [11, 12] if n < 3 else []

    def send(pgid, sig, ticks=None):
        sent.append(sig)
        if looks_after_kill["n"] is None:
            looks_after_kill["n"] = 0
        return members(pgid, ticks) if looks_after_kill["n"] < 3 else []

    monkeypatch.setattr(sup, "group_members", members)
    monkeypatch.setattr(sup, "signal_group", send)
    killed = sup._Supervisor._reap_orphans(10, None, grace=0.0)
    assert killed == [11, 12]
    assert set(sent) == {signal.SIGKILL}
    assert looks_after_kill["n"] >= 4, "returned while the killed ranks were still listed"
