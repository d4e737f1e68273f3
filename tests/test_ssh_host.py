"""The SSH host (issue #15) against a real OpenSSH server on loopback (tests/sshfix.py), with
the fake deepspeed as the host's deepspeed.  Every wait is on a condition."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for, write_images

from dpgui_qt.core.run.hosts import HostSpec, make
from dpgui_qt.core.run.hosts.base import HostError
from dpgui_qt.core.run.hosts.ssh import SshHost
from dpgui_qt.core.run.hosts.sshtransport import SshError, SshTransport, parse_destination


@pytest.fixture
def control_dir():
    d = tempfile.mkdtemp(prefix="dps-", dir="/tmp")      # control socket paths must be short
    os.chmod(d, 0o700)
    yield d
    for sock in Path(d).iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True)
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def remote(tmp_path, ssh_client, control_dir):
    """(host, remote root): an SshHost for the fixture server; its 'remote' folders are on
    this machine (the server is local), under tmp_path/remote."""
    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    host = make(HostSpec.of("ssh", destination=ssh_client.alias, ssh_config=str(ssh_client.config),
                            control_dir=control_dir, checkout=str(co), workdir=str(root / "work"),
                            deepspeed=str(FAKE_DEEPSPEED), python=sys.executable))
    yield host, root
    host.transport.close()


def test_destinations_parse_and_refuse_options():
    assert parse_destination("me@box:2222") == parse_destination("ssh://me@box:2222")
    d = parse_destination("me@box:2222")
    assert (d.user, d.host, d.port) == ("me", "box", 2222)
    assert parse_destination("gpu-alias") .host == "gpu-alias"
    assert parse_destination("[::1]:22").host == "::1"
    for bad in ("-oProxyCommand=x", "", "a b", "me@box:0", "me@box:x", "@box"):
        with pytest.raises(SshError):
            parse_destination(bad)


def test_argv_verifies_host_keys_and_never_uses_passwords(tmp_path):
    cfg = tmp_path / "cfg"
    cfg.write_text("Host lax\n  StrictHostKeyChecking no\n")
    t = SshTransport("lax", config_file=cfg, multiplex=False)
    argv = t.argv(["echo", "a b"])
    joined = " ".join(argv)
    assert "BatchMode=yes" in joined and "PasswordAuthentication=no" in joined
    assert "StrictHostKeyChecking=accept-new" in joined           # turned back on
    assert "StrictHostKeyChecking=no" not in joined
    assert argv[-2:] == ["lax", "echo 'a b'"]


def test_connect_run_and_refused_host_key(remote, ssh_client, tmp_path):
    host, root = remote
    assert host.shell("echo hi").stdout == b"hi\n"
    assert host.home().startswith("/")
    assert host.run(["printf", "%s", "x y"]).stdout == b"x y"
    # a host whose key does not match is refused, with a sentence
    bad = tmp_path / "kh"
    bad.write_text(ssh_client.known_hosts.read_text().replace("ssh-ed25519 AAAA", "ssh-ed25519 AAAB"))
    cfg = tmp_path / "cfg2"
    cfg.write_text(ssh_client.config.read_text().replace(str(ssh_client.known_hosts), str(bad)))
    other = SshHost(HostSpec.of("ssh", destination=ssh_client.alias, ssh_config=str(cfg)),
                    transport=SshTransport(ssh_client.alias, config_file=cfg, multiplex=False))
    with pytest.raises(HostError, match="host key"):
        other.shell("echo never")


def _run_config(root: Path, steps_env: dict) -> tuple[Path, Path]:
    """A local config + dataset (the user's side)."""
    local = root.parent / "local"
    data = local / "data" / "imgs"
    write_images(data, 6)
    ds = local / "dataset.toml"
    ds.write_text(f"# my dataset\nresolutions = [512]\n\n[[directory]]\npath = '{data}'  # imgs\nnum_repeats = 1\n")
    cfg = local / "train.toml"
    cfg.write_text(f"# my run\noutput_dir = '{local / 'out'}'\ndataset = 'dataset.toml'\nepochs = 1\n"
                   "micro_batch_size_per_gpu = 1\npipeline_stages = 1\ngradient_accumulation_steps = 1\n"
                   f"[model]\ntype = 'flux'\ndiffusers_path = '{root}'\n")
    return cfg, data


def test_sync_maps_paths_keeps_comments_and_sends_nothing_twice(remote):
    from dpgui_qt.core.run.hosts import sync

    host, root = remote
    host.connect()
    cfg, data = _run_config(root, {})
    before = {p: p.read_bytes() for p in cfg.parent.rglob("*") if p.is_file()}
    plan = sync.make_plan(cfg, host)
    assert not [f for f in plan.findings if f.level == "error"]
    diff = sync.plan_uploads(plan, host)
    assert diff.file_count == 12 and diff.bytes > 0
    assert any("12 of 12 files to send" in line for line in diff.lines())
    seen = []
    stats = sync.upload(plan, diff, host, progress=lambda *a: seen.append(a))
    assert stats.bytes_sent == diff.bytes and stats.files_sent == 12
    assert seen and seen[-1][0] == diff.bytes
    remote_cfg = Path(plan.remote_config).read_text()
    assert "# my run" in remote_cfg and str(cfg.parent) not in remote_cfg
    remote_ds = Path(plan.files[1].remote).read_text()
    assert "# imgs" in remote_ds and plan.dirs[0].remote in remote_ds
    assert sorted(p.name for p in Path(plan.dirs[0].remote).iterdir()) == sorted(p.name for p in data.iterdir())
    # unchanged: nothing to send; one file touched: only it; one removed: deleted there
    again = sync.plan_uploads(sync.make_plan(cfg, host), host)
    assert again.bytes == 0 and again.file_count == 0
    assert sync.upload(plan, again, host).bytes_sent == 0
    (data / "img000.txt").write_text("a longer caption than before\n")
    (data / "img005.txt").unlink()
    third = sync.plan_uploads(plan, host)
    assert [r for r, _ in third.dirs[0].send] == ["img000.txt"] and third.dirs[0].delete == ["img005.txt"]
    st = sync.upload(plan, third, host, method="tar")
    assert st.files_sent == 1 and st.deleted == 1
    assert Path(plan.dirs[0].remote, "img000.txt").read_text() == "a longer caption than before\n"
    assert sync.plan_uploads(plan, host).file_count == 0
    after = {p: p.read_bytes() for p in cfg.parent.rglob("*") if p.is_file() and p.name != "img005.txt"}
    assert all(before[p] == after[p] for p in after if p.name != "img000.txt")


def test_model_path_only_local_is_a_preflight_error(remote, tmp_path):
    from dpgui_qt.core.run import ssh_preflight
    from dpgui_qt.core.run.hosts import sync

    host, root = remote
    cfg, _ = _run_config(root, {})
    local_only = tmp_path / "localmodel"
    local_only.mkdir()
    cfg.write_text(cfg.read_text().replace(f"diffusers_path = '{root}'", f"diffusers_path = '/nonexistent/{local_only.name}'\ntransformer_path = '{local_only}'"))
    plan = sync.make_plan(cfg, host)
    # the "host" shares this machine's disk: hide the folder while the host is asked, so it
    # exists here only (what a model path on a laptop is)
    real_probe = host.probe

    def probe(**kw):
        local_only.rename(tmp_path / "hidden")
        try:
            return real_probe(**kw)
        finally:
            (tmp_path / "hidden").rename(local_only)

    host.probe = probe
    found = ssh_preflight.check(host, plan, gpus=1)
    msgs = [f.message for f in found if f.level == "error"]
    assert any("model.transformer_path" in m and "only on this machine" in m for m in msgs)
    assert any("model.diffusers_path" in m for m in msgs)
    assert any(f.code == "checkout" and f.level == "warning" for f in found)   # not a git checkout
    assert any(f.code == "gpus" for f in found)                                # no nvidia-smi here


def test_unreachable_host_is_one_clear_error(ssh_client, control_dir, tmp_path):
    from dpgui_qt.core.run import ssh_preflight
    from tests.sshfix import _free_port

    port = _free_port()
    host = make(HostSpec.of("ssh", destination=f"nobody@127.0.0.1:{port}", control_dir=control_dir,
                            ssh_config=str(ssh_client.config), checkout="/x", workdir="/tmp/x"))
    found = ssh_preflight.check(host)
    assert len(found) == 1 and found[0].code == "host" and "refused" in found[0].message


# ---------------------------------------------------------------------------------------
# runs on the host
def _start(host, root, steps=5, delay=0.02, extra=None):
    from dpgui_qt.core.run.spec import RunSpec

    co = Path(host.checkout)
    out = root / "work" / "output" / "o"
    cfg = co / "examples" / "fake.toml"
    cfg.write_text(cfg.read_text().replace(str(root / "training_runs"), str(out)))
    spec = RunSpec(config=str(cfg), checkout=str(co), deepspeed=host.deepspeed(),
                   extra_env={"FAKE_DS_STEPS": str(steps), "FAKE_DS_DELAY": str(delay), **(extra or {})})
    cmd = spec.command()
    return host.start_supervisor(cmd.argv, None, env=cmd.env, cwd=cmd.cwd, config=str(cfg),
                                 output_dir=str(out))


def _collect(host, state_dir, offset=0, holder=None, until=None):
    data = bytearray()
    ended = False
    for item in host.follow(state_dir, offset, proc_holder=holder):
        if item[0] == "log":
            assert item[1] == offset + len(data)
            data += item[2]
            if until is not None and until(bytes(data)):
                return bytes(data), False
        elif item[0] == "end":
            ended = True
    return bytes(data), ended


def test_run_followed_to_the_end_step_by_step(remote):
    host, root = remote
    st = _start(host, root, steps=6)
    assert st["status"] in ("running", "exited") and st["host"]["kind"] == "ssh"
    data, ended = _collect(host, st["state_dir"])
    assert ended
    from dpgui_qt.core.run.parse import StepEvent, parse_bytes

    steps = [e.step for e in parse_bytes(data) if isinstance(e, StepEvent)]
    assert steps == [1, 2, 3, 4, 5, 6]
    assert data == Path(st["log_path"]).read_bytes()
    final = host.read_state(st["state_dir"])
    assert final["status"] == "exited" and final["exit_code"] == 0


def test_dropped_connection_loses_no_byte(remote):
    host, root = remote
    st = _start(host, root, steps=30, delay=0.05)
    holder: list = []
    first, ended = _collect(host, st["state_dir"], holder=holder, until=lambda d: b"steps: 3 " in d)
    assert not ended
    holder[0].kill()                      # the ssh client dies mid-run
    holder[0].wait()
    assert host.run_info(st["state_dir"])["trainer_alive"]     # the run goes on there
    rest, ended = _collect(host, st["state_dir"], offset=len(first))
    assert ended
    assert first + rest == Path(st["log_path"]).read_bytes()
    assert (first + rest).count(b"TRAINING COMPLETE!") == 1


def test_stop_leaves_no_process_on_the_host(remote):
    host, root = remote
    st = _start(host, root, steps=100000, delay=0.05)
    wait_for(lambda: b"steps: 2 " in Path(st["log_path"]).read_bytes(), 60, what="step 2")
    pgid = st["pgid"]
    assert live_group_psutil(pgid)
    res = host.control(st["state_dir"], "stop", grace_s=1.0)
    assert res["remaining"] == [] and res["signalled"]
    assert res["killed"]                         # the fake ranks ignore SIGTERM: escalated
    assert live_group_psutil(pgid) == []
    wait_for(lambda: host.read_state(st["state_dir"])["status"] == "exited", 60, what="exit recorded")
    assert host.group_members(pgid) == [] and not host.pid_alive(st["pid"], st["pid_start_ticks"])


def test_save_list_and_download_without_checkpoints(remote, tmp_path):
    host, root = remote
    st = _start(host, root, steps=4, extra={"FAKE_DS_SAVE_EVERY": "2"})
    _collect(host, st["state_dir"])
    final = host.read_state(st["state_dir"])
    runs = host.list_saves(final["output_dir"])
    assert runs and runs[0]["path"] == final["run_dir"]
    saves = {s["name"]: s for s in runs[0]["saves"]}
    assert {"step2", "step4"} <= set(saves) and all(s["size"] > 0 for s in saves.values())
    seen = []
    got = host.download([runs[0]["path"]], tmp_path / "home", progress=lambda *a: seen.append(a))
    assert got and seen and seen[-1][0] == seen[-1][1] and seen[-1][2] == seen[-1][3] == len(got)
    local_run = tmp_path / "home" / runs[0]["name"]
    assert (local_run / "step2").is_dir()
    assert not any(p.name.startswith("global_step") for p in local_run.iterdir())
    for name, size in saves["step2"]["files"].items():
        assert (local_run / "step2" / name).stat().st_size == size


@pytest.mark.parametrize("method", ["rsync", "tar"])
def test_cancelled_upload_stops_and_the_next_one_completes(remote, method):
    from dpgui_qt.core.run.hosts import sync

    host, root = remote
    cfg, data = _run_config(root, {})
    plan = sync.make_plan(cfg, host)
    diff = sync.plan_uploads(plan, host)
    cancel = threading.Event()

    def progress(b, tb, f, tf):
        cancel.set()                       # cancel as soon as anything moved

    cancel_at_start = threading.Event()
    cancel_at_start.set()
    with pytest.raises(sync.SyncError, match="cancelled"):
        sync.upload(plan, diff, host, cancel=cancel_at_start, method=method)
    try:
        sync.upload(plan, diff, host, progress=progress, cancel=cancel, method=method)
    except sync.SyncError as e:
        assert "cancelled" in str(e)
    again = sync.plan_uploads(plan, host)
    stats = sync.upload(plan, again, host, method=method)
    assert sync.plan_uploads(plan, host).file_count == 0
    assert stats.files_sent == again.file_count
    assert sorted(p.name for p in Path(plan.dirs[0].remote).iterdir()) == sorted(p.name for p in data.iterdir())


def test_start_within_follow_and_its_failure_as_a_sentence(remote):
    host, root = remote
    host.connect()
    items = list(host.follow(None, start=host.start_args([sys.executable, "-c", "print('hello from the host')"]),
                             files={str(root / "work" / "x.toml"): b"a = 1\n"}))
    assert items[0][0] == "started" and items[-1] == ("end",)
    assert b"".join(i[2] for i in items if i[0] == "log").strip() == b"hello from the host"
    assert (root / "work" / "x.toml").read_bytes() == b"a = 1\n"
    shutil.rmtree(host.remote_state_root)
    Path(host.remote_state_root).write_text("a file where the runs folder goes")
    with pytest.raises(HostError, match="could not be started"):
        list(host.follow(None, start=host.start_args(["true"])))


def test_gpus_over_the_connection_through_the_activated_environment(tmp_path, ssh_client, control_dir):
    """The profile's environment goes first on PATH on the host: its nvidia-smi answers."""
    from dpgui_qt.core.run import ssh_preflight

    root = tmp_path / "remote"
    co, _, _ = make_checkout(root)
    env = root / "env"
    (env / "bin").mkdir(parents=True)
    smi = env / "bin" / "nvidia-smi"
    smi.write_text("#!/bin/sh\nprintf '0, NVIDIA H100 80GB HBM3, 81559, 1024, 3, GPU-aaa\\n"
                   "1, NVIDIA H100 80GB HBM3, 81559, 0, [N/A], GPU-bbb\\n'\n")
    smi.chmod(0o755)
    host = make(HostSpec.of("ssh", destination=ssh_client.alias, ssh_config=str(ssh_client.config),
                            control_dir=control_dir, checkout=str(co), workdir=str(root / "work"),
                            env=str(env), deepspeed=str(FAKE_DEEPSPEED), python=sys.executable))
    gpus = host.query_gpus()
    assert [(g.index, g.name, g.memory_total_mib, g.utilization) for g in gpus] == [
        (0, "NVIDIA H100 80GB HBM3", 81559, 3.0), (1, "NVIDIA H100 80GB HBM3", 81559, None)]
    found = ssh_preflight.check(host, None, gpus=4)
    assert any(f.code == "gpus" and f.level == "error" and "has 2" in f.message for f in found)
    assert not any(f.code == "gpus" for f in ssh_preflight.check(host, None, gpus=2))
