"""The SSH host (issue #15) against a real OpenSSH server on loopback (tests/sshfix.py), with
the fake deepspeed as the host's deepspeed.  Every wait is on a condition."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for, write_images  # noqa: E402

from dpgui_qt.core.run.hosts import HostSpec, make  # noqa: E402
from dpgui_qt.core.run.hosts.base import HostError  # noqa: E402
from dpgui_qt.core.run.hosts.ssh import SshHost  # noqa: E402
from dpgui_qt.core.run.hosts.sshtransport import SshError, SshTransport, parse_destination  # noqa: E402


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
    from dpgui_qt.core.run.hosts import ssh_preflight, sync

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
    from dpgui_qt.core.run.hosts import ssh_preflight
    from tests.sshfix import _free_port

    port = _free_port()
    host = make(HostSpec.of("ssh", destination=f"nobody@127.0.0.1:{port}", control_dir=control_dir,
                            ssh_config=str(ssh_client.config), checkout="/x", workdir="/tmp/x"))
    found = ssh_preflight.check(host)
    assert len(found) == 1 and found[0].code == "host" and "refused" in found[0].message
