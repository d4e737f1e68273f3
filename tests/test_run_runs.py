"""LogFollower, run discovery/listing on synthetic output dirs, sessions and the phase machine."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timezone

import pytest

from dpgui_qt.core.run import control
from dpgui_qt.core.run.phase import Phase, RunStatus, advance, allowed_actions, on_exit
from dpgui_qt.core.run.runs import LogFollower, attach, list_runs, list_sessions, resume_candidates
from dpgui_qt.core.run.supervisor import (
    RunDirBinder, pid_alive, tfevents_pids, proc_stat, read_json, write_json_atomic,
)


# ---------------------------------------------------------------- LogFollower
def test_follower_incremental(tmp_path):
    p = tmp_path / "x.log"
    f = LogFollower(p)
    assert f.read() == b""                       # not created yet
    p.write_bytes(b"abc")
    assert f.read() == b"abc" and f.read() == b""
    with open(p, "ab") as fh:
        fh.write(b"def\r\nghi")
    assert f.read() == b"def\r\nghi" and f.offset == 11


def test_follower_truncation_and_replacement(tmp_path):
    p = tmp_path / "x.log"
    p.write_bytes(b"0123456789")
    f = LogFollower(p)
    assert f.read() == b"0123456789"
    p.write_bytes(b"new")                        # truncated in place
    assert f.read() == b"new" and f.resets == 1
    q = tmp_path / "y.log"
    q.write_bytes(b"other")
    os.replace(q, p)                             # replaced (new inode, longer)
    assert f.read() == b"other" and f.resets == 2


def test_follower_chunks_and_offset(tmp_path):
    p = tmp_path / "x.log"
    data = os.urandom(100_000)
    p.write_bytes(data)
    f = LogFollower(p, chunk_size=4096)
    assert f.read() == data[:4096]
    assert f.read_available() == data[4096:]
    g = LogFollower(p, offset=99_990)
    assert g.read() == data[99_990:]


# ---------------------------------------------------------------- run folders
def make_run(out, name, *, latest=None, steps=(), saves=(), model=None):
    d = out / name
    d.mkdir(parents=True)
    if latest:
        (d / "latest").write_text(latest)
    for s in steps:
        (d / f"global_step{s}").mkdir()
        (d / f"global_step{s}" / "mp_rank_00_model_states.pt").write_bytes(b"x" * 10)
    for i, s in enumerate(saves):
        (d / s).mkdir()
        (d / s / "adapter_model.safetensors").write_bytes(b"y" * 100)
        t = time.time() - 100 + i
        os.utime(d / s, (t, t))
    if model:
        (d / "main.toml").write_text(f"output_dir = '/o'\n[model]\ntype = '{model}'\n")
        (d / "dataset.toml").write_text("[[directory]]\npath = '/d'\n")
    return d


@pytest.fixture
def out(tmp_path):
    o = tmp_path / "out"
    make_run(o, "20250101_10-00-00", latest="global_step20", steps=(10, 20), saves=("epoch1", "epoch2"),
             model="wan")
    make_run(o, "20250102_10-00-00")                                  # failed fresh run
    make_run(o, "20250103_09-00-00", latest="global_step5", steps=(5,), saves=("step5",), model="flux")
    (o / "notes").mkdir()
    (o / ".dpgui-logs").mkdir()
    (o / "dpgui-20250101_10-00-00.log").write_text("")
    (o / "20250104_00-00-00").write_text("a file, not a run")
    return o


def test_list_runs(out):
    runs = list_runs(out)
    assert [r.name for r in runs] == ["20250103_09-00-00", "20250102_10-00-00", "20250101_10-00-00"]
    r = runs[2]
    assert r.started == datetime(2025, 1, 1, 10, tzinfo=timezone.utc)
    assert r.latest_tag == "global_step20" and r.resumable and r.has_checkpoint
    assert r.checkpoints == ["global_step20", "global_step10"]
    assert [s.name for s in r.saves] == ["epoch2", "epoch1"]
    assert r.saves[0].kind == "epoch" and r.saves[0].number == 2 and r.saves[0].size_bytes == 100
    assert r.config_copy.name == "main.toml" and r.model_type == "wan"
    assert r.size_bytes == sum(p.stat().st_size for p in r.path.rglob("*") if p.is_file())
    assert not runs[1].resumable and not runs[1].has_checkpoint and runs[1].model_type is None
    assert list_runs(out.parent / "missing") == []


def test_resume_candidates(out):
    assert [r.name for r in resume_candidates(out)] == ["20250103_09-00-00", "20250101_10-00-00"]


def test_run_dir_candidates_and_binding_evidence(tmp_path):
    o = tmp_path / "o"
    o.mkdir()
    since = datetime(2025, 1, 2, 10, 0, 0, tzinfo=timezone.utc).timestamp()

    def binder(exclude=()):
        return RunDirBinder({"output_dir": str(o), "requested_at_epoch": since,
                             "preexisting_run_dirs": list(exclude)})

    (o / "20250101_10-00-00").mkdir()            # older
    assert binder().candidates() == []
    (o / "20250102_10-00-01").mkdir()
    (o / "20250102_10-00-05").mkdir()
    (o / "20250102_10-00-09").write_text("")     # a file
    (o / "zzz").mkdir()
    assert binder().candidates() == [str(o / "20250102_10-00-05"), str(o / "20250102_10-00-01")]
    assert binder({"20250102_10-00-05"}).candidates() == [str(o / "20250102_10-00-01")]
    (o / "20250102_09-59-59").mkdir()            # within the slack of a clock-second boundary
    assert binder({"20250102_10-00-05", "20250102_10-00-01"}).candidates() \
        == [str(o / "20250102_09-59-59")]
    # a new folder alone is no evidence; an event file written by one of our pids is
    b = binder()
    assert b.find() is None
    (o / "20250102_10-00-01" / "events.out.tfevents.1735812001.gpu-box.local.4242.0").write_text("")
    assert b.find() is None                      # pid 4242 is not known to be ours
    b.pids.add(4242)
    assert b.find() == str(o / "20250102_10-00-01")
    assert tfevents_pids(o / "20250102_10-00-01") == {4242}
    assert RunDirBinder({"output_dir": str(tmp_path / "missing")}).find() is None
    assert RunDirBinder({"output_dir": None}).find() is None



# ---------------------------------------------------------------- state files
def test_atomic_json(tmp_path):
    p = tmp_path / "s.json"
    write_json_atomic(p, {"a": 1})
    write_json_atomic(p, {"a": 2})
    assert read_json(p) == {"a": 2}
    assert [x.name for x in tmp_path.iterdir()] == ["s.json"]
    p.write_text("{broken")
    assert read_json(p) is None


def test_pid_alive_guards_reuse():
    ticks = proc_stat(os.getpid())[4]
    assert pid_alive(os.getpid()) and pid_alive(os.getpid(), ticks)
    assert not pid_alive(os.getpid(), ticks + 1)
    assert not pid_alive(None) and not pid_alive(0)


def test_sessions_and_lost_runs(tmp_path):
    root = tmp_path / "state"
    dead = root / "20250101_00-00-00-aaaaaa"
    live = root / "20250102_00-00-00-bbbbbb"
    done = root / "20250103_00-00-00-cccccc"
    for d in (dead, live, done):
        d.mkdir(parents=True)
    base = {"log_path": str(tmp_path / "x.log"), "pgid": None}
    write_json_atomic(dead / "state.json", dict(base, status="running", pid=2 ** 22 + 1,
                                                supervisor_pid=2 ** 22 + 2))
    write_json_atomic(live / "state.json", dict(base, status="running", pid=os.getpid(),
                                                pid_start_ticks=proc_stat(os.getpid())[4]))
    write_json_atomic(done / "state.json", dict(base, status="exited", exit_code=0))
    (root / "junk").mkdir()
    all_ = list_sessions(root)
    assert [h.run_id for h in all_] == [done.name, live.name, dead.name]
    assert [h.effective_status() for h in all_] == ["exited", "running", "lost"]
    assert [h.run_id for h in list_sessions(root, active_only=True)] == [live.name]
    with pytest.raises(FileNotFoundError):
        attach(root / "junk")
    assert attach(done).wait(timeout=1)["exit_code"] == 0


def test_signal_files_need_a_run_folder(tmp_path):
    sd = tmp_path / "s"
    sd.mkdir()
    write_json_atomic(sd / "state.json", {"status": "running", "run_dir": None, "state_dir": str(sd)})
    with pytest.raises(control.ControlError, match="run folder"):
        control.save_now(sd)
    run = tmp_path / "run"
    run.mkdir()
    write_json_atomic(sd / "state.json", {"status": "running", "run_dir": str(run), "state_dir": str(sd)})
    assert control.save_now(sd) == run / "save" and (run / "save").is_file()
    assert control.save_and_stop(sd) == run / "save_quit"
    assert json.loads((sd / "control.json").read_text())["action"] == "save_quit"
    write_json_atomic(sd / "state.json", {"status": "exited", "run_dir": str(run), "state_dir": str(sd)})
    with pytest.raises(control.ControlError, match="ended"):
        control.save_now(sd)


# ---------------------------------------------------------------- phase machine
def run_events(events, exit_code, **kw):
    s = RunStatus(**kw)
    for e in events:
        s = advance(s, *e) if isinstance(e, tuple) else advance(s, e)
    return s, on_exit(s, exit_code)


def test_phases_normal_run():
    s = RunStatus()
    assert s.phase == Phase.STARTING and allowed_actions(s) == {"stop", "kill"}
    s = advance(s, "caching")
    assert s.phase == Phase.CACHING and allowed_actions(s, run_dir_known=False) == {"stop", "kill"}
    s = advance(s, "engine")
    assert s.phase == Phase.STARTING
    s = advance(s, "step", 1)
    assert s.phase == Phase.TRAINING and s.last_step == 1
    assert allowed_actions(s) == {"save", "save_quit", "stop", "kill"}
    assert allowed_actions(s, run_dir_known=False) == {"stop", "kill"}
    s = advance(s, "saving")
    assert s.phase == Phase.SAVING and allowed_actions(s) == {"save_quit", "stop", "kill"}
    s = advance(s, "new_epoch")
    assert s.phase == Phase.TRAINING
    s = advance(advance(s, "step", 7), "complete")
    end = on_exit(s, 0)
    assert end.phase == Phase.FINISHED and end.exit_code == 0 and allowed_actions(end) == frozenset()
    assert advance(end, "step", 9) is end            # terminal phases are final


@pytest.mark.parametrize("events,code,kw,phase", [
    (["caching", ("step", 1), "complete"], 0, {}, Phase.FINISHED),
    (["caching", ("step", 1), "complete"], 1, {}, Phase.FAILED),          # died after the marker
    (["caching", ("step", 1)], 0, {}, Phase.FAILED),                      # exit 0 without the marker
    ([("step", 1), "manual_quit"], 0, {}, Phase.STOPPED),
    ([("step", 1), ("stop_requested", "save_quit")], 0, {}, Phase.STOPPED),
    ([("step", 1), ("stop_requested", "save_quit")], 1, {}, Phase.FAILED),
    ([("step", 1), ("stop_requested", "stop")], -15, {}, Phase.STOPPED),
    ([("stop_requested", "kill")], -9, {}, Phase.STOPPED),
    ([("step", 1), "error"], 1, {}, Phase.FAILED),
    (["caching"], 0, {"exits_early_ok": True}, Phase.FINISHED),           # --cache_only
    (["caching", "error"], 0, {"exits_early_ok": True}, Phase.FAILED),
    ([], None, {}, Phase.FAILED),
])
def test_exit_classification(events, code, kw, phase):
    assert run_events(events, code, **kw)[1].phase == phase
