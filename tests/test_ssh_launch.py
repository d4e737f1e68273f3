"""``dpgui launch --host`` and ``dpgui hosts`` against a real sshd (issue #15): sync of a
generated dataset, training followed step by step, the local config byte-identical, a second
launch sending 0 dataset bytes, and a run that survives its ``dpgui launch`` being killed."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, write_images

from dpgui_qt.cli import main

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def setup(tmp_path, ssh_client, monkeypatch):
    """A host profile 'box' for the fixture server, and a local config with a dataset."""
    ctl = tempfile.mkdtemp(prefix="dps-", dir="/tmp")
    os.chmod(ctl, 0o700)
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path / "settings"))
    monkeypatch.setenv("DPGUI_SSH_CONTROL_DIR", ctl)
    monkeypatch.setenv("DPGUI_STATE_DIR", str(tmp_path / "state"))
    remote = tmp_path / "remote"
    co, _, _ = make_checkout(remote)
    rc = main(["hosts", "add", "box", ssh_client.alias, "--checkout", str(co), "--workdir",
               str(remote / "work"), "--python", sys.executable, "--deepspeed", str(FAKE_DEEPSPEED),
               "--ssh-config", str(ssh_client.config)])
    assert rc == 0
    local = tmp_path / "local"
    data = local / "data"
    write_images(data, 5)
    (local / "dataset.toml").write_text(f"# captions by hand\nresolutions = [512]\n[[directory]]\n"
                                        f"path = '{data}'\nnum_repeats = 1\n")
    cfg = local / "train.toml"
    cfg.write_text(f"# my LoRA\noutput_dir = '{local / 'out'}'\ndataset = 'dataset.toml'\n"
                   "epochs = 1\nmicro_batch_size_per_gpu = 1\npipeline_stages = 1\n"
                   f"gradient_accumulation_steps = 1\n[model]\ntype = 'flux'\ndiffusers_path = '{co}'\n")
    yield {"cfg": cfg, "co": co, "remote": remote, "local": local, "tmp": tmp_path}
    for sock in Path(ctl).iterdir():
        subprocess.run(["ssh", "-o", f"ControlPath={sock}", "-O", "exit", "x"], capture_output=True)
    shutil.rmtree(ctl, ignore_errors=True)


def _snapshot(folder: Path) -> dict:
    return {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_hosts_list_add_remove_check(setup, capsys):
    assert main(["hosts", "list"]) == 0
    assert "box" in capsys.readouterr().out
    assert main(["hosts", "check", "box"]) == 0
    out = capsys.readouterr().out
    assert "train.py found" in out and f"deepspeed: {FAKE_DEEPSPEED}" in out
    assert main(["hosts", "add", "--checkout", "/x", "--", "bad", "-oProxyCommand=x"]) == 2
    assert "cannot start with '-'" in capsys.readouterr().err
    assert main(["hosts", "remove", "box"]) == 0
    assert main(["hosts", "remove", "box"]) == 2


def test_dry_run_shows_the_upload_plan_and_changes_nothing(setup, capsys):
    before = _snapshot(setup["local"])
    rc = main(["launch", str(setup["cfg"]), "--host", "box", "--dry-run"])
    o = capsys.readouterr()
    assert rc == 0, o.err
    assert "10 of 10 files to send" in o.out and "command: " in o.out
    assert "--config" in o.out and str(setup["remote"] / "work" / "configs") in o.out
    assert _snapshot(setup["local"]) == before
    assert not (setup["remote"] / "work" / "datasets").exists()      # nothing was sent


def test_launch_trains_on_the_host_and_a_second_launch_sends_nothing(setup, capsys):
    before = _snapshot(setup["local"])
    rc = main(["launch", str(setup["cfg"]), "--host", "box", "--env", "FAKE_DS_STEPS=4",
               "--env", "FAKE_DS_DELAY=0.01"])
    o = capsys.readouterr()
    assert rc == 0, o.err
    assert re.findall(r"\[dpgui\] step (\d+)", o.out) == ["1", "2", "3", "4"]
    assert "uploaded 10 dataset files" in o.err and "training finished" in o.err
    assert _snapshot(setup["local"]) == before                # the user's files untouched
    ds = list((setup["remote"] / "work" / "datasets").iterdir())
    assert len(ds) == 1 and len(list(ds[0].iterdir())) == 10
    rc = main(["launch", str(setup["cfg"]), "--host", "box", "--env", "FAKE_DS_STEPS=2",
               "--env", "FAKE_DS_DELAY=0.01"])
    o = capsys.readouterr()
    assert rc == 0, o.err
    assert "uploaded 0 dataset files (0 bytes)" in o.err


def test_preflight_error_stops_the_launch(setup, capsys):
    cfg = setup["cfg"]
    cfg.write_text(cfg.read_text().replace(f"diffusers_path = '{setup['co']}'",
                                           "diffusers_path = '/nowhere/flux'"))
    rc = main(["launch", str(cfg), "--host", "box"])
    o = capsys.readouterr()
    assert rc == 2
    assert "model.diffusers_path: /nowhere/flux does not exist" in o.err and "nothing was started" in o.err


def test_killed_launch_leaves_the_run_going_and_attach_finds_it(setup, capsys):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "dpgui_qt", "launch", str(setup["cfg"]), "--host",
                          "box", "--env", "FAKE_DS_STEPS=25", "--env", "FAKE_DS_DELAY=0.1"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, start_new_session=True)
    seen = b""
    while b"[dpgui] step 2 " not in seen:
        line = p.stdout.readline()
        assert line, "dpgui launch ended before step 2"
        seen += line
    os.killpg(p.pid, signal.SIGKILL)           # dpgui (and its ssh children) die mid-run
    p.wait()
    p.stdout.close()
    rc = main(["launch", "--host", "box", "--attach", "latest"])
    o = capsys.readouterr()
    assert rc == 0, o.err
    assert re.findall(r"\[dpgui\] step (\d+)", o.out) == [str(i) for i in range(1, 26)]
    # the local pointer folder attaches too, without --host
    ptr = next((setup["tmp"] / "state").iterdir())
    assert main(["launch", "--attach", str(ptr)]) == 0
    assert "training finished" in capsys.readouterr().err


def test_ctrl_c_saves_and_stops_the_run_on_the_host(setup):
    env = dict(os.environ, PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1")
    p = subprocess.Popen([sys.executable, "-m", "dpgui_qt", "launch", str(setup["cfg"]), "--host",
                          "box", "--env", "FAKE_DS_STEPS=100000", "--env", "FAKE_DS_DELAY=0.05"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seen = b""
    while b"[dpgui] step 2 " not in seen:
        line = p.stdout.readline()
        assert line, "dpgui launch ended before step 2"
        seen += line
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 3, err.decode()
    assert b"save_quit" in err and b"run stopped before completion (exit code 0)" in err
    assert b"Manually quitting" in out
