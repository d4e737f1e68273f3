"""``dpgui launch``: dry run, clear setup errors, and headless runs with the fake deepspeed."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, live_group_psutil, make_checkout, wait_for

from dpgui_qt.cli import main

REPO = Path(__file__).resolve().parent.parent
MAIN_EXAMPLE = "tdrussell__diffusion-pipe__examples__main_example.toml"
README_FORM = re.compile(r"NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1 PYTHONUNBUFFERED=1 deepspeed "
                         r"--num_gpus=1 train\.py --deepspeed --config \S+$")


def test_dry_run_on_corpus_config_matches_readme(corpus_configs, tmp_path, capsys, monkeypatch):
    cfg = corpus_configs / MAIN_EXAMPLE
    if not cfg.exists():
        pytest.skip(f"{cfg} is not available")
    co, _, _ = make_checkout(tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))               # no deepspeed anywhere
    monkeypatch.delenv("DPGUI_DEEPSPEED", raising=False)
    rc = main(["launch", str(cfg), "--dry-run", "--checkout", str(co)])
    o = capsys.readouterr()
    assert rc == 0
    cmd = next(ln for ln in o.out.splitlines() if ln.startswith("command: "))
    assert cmd.startswith(f"command: cd {co} && ")
    assert README_FORM.search(cmd) and cmd.endswith(f"--config {cfg}")
    assert f"cwd: {co}" in o.out and "env: NCCL_P2P_DISABLE=1" in o.out
    assert "argv:\n  deepspeed\n  --num_gpus=1\n  train.py\n  --deepspeed\n  --config\n" in o.out
    assert "deepspeed not found" in o.err                     # a note, not a failure


def test_dry_run_json_with_every_option(tmp_path, capsys):
    co, cfg, out = make_checkout(tmp_path)
    rc = main(["launch", str(cfg), "--dry-run", "--json", "--checkout", str(co),
               "--deepspeed", str(FAKE_DEEPSPEED), "--include", "0,2", "--master-port", "29555",
               "--resume", "20250101_00-00-00", "--reset-dataloader", "--reset_optimizer",
               "--reset-optimizer-params", "--regenerate-cache", "--cache-only", "--trust-cache",
               "--i-know-what-i-am-doing", "--dump-dataset", str(tmp_path / "dump"),
               "--no-nccl-workaround", "--expandable-segments", "--env", "HF_HOME=/x"])
    o = capsys.readouterr()
    assert rc == 0
    d = json.loads(o.out)
    assert d["argv"] == [str(FAKE_DEEPSPEED), "--include", "localhost:0,2", "--master_port=29555",
                         "train.py", "--deepspeed", "--config", "examples/fake.toml",
                         "--resume_from_checkpoint", "20250101_00-00-00", "--reset_dataloader",
                         "--reset_optimizer", "--reset_optimizer_params", "--regenerate_cache",
                         "--cache_only", "--trust_cache", "--i_know_what_i_am_doing",
                         "--dump_dataset", str(tmp_path / "dump"), "--master_port", "29555"]
    assert d["env"] == {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True", "HF_HOME": "/x",
                        "PYTHONUNBUFFERED": "1"}
    assert d["cwd"] == str(co)
    assert any(f["code"] == "resume" for f in d["findings"])   # that run folder does not exist


@pytest.mark.parametrize("case", ["config", "checkout", "deepspeed", "include", "preflight"])
def test_setup_errors_are_messages_not_tracebacks(tmp_path, capsys, monkeypatch, case):
    co, cfg, out = make_checkout(tmp_path, stages=2)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("DPGUI_DEEPSPEED", raising=False)
    monkeypatch.delenv("DPGUI_DIFFUSION_PIPE", raising=False)
    args = {
        "config": [str(tmp_path / "missing.toml"), "--checkout", str(co)],
        "checkout": [str(cfg), "--checkout", str(tmp_path / "nowhere")],
        "deepspeed": [str(cfg), "--checkout", str(co)],
        "include": [str(cfg), "--checkout", str(co), "--deepspeed", str(FAKE_DEEPSPEED), "--include", "a,b"],
        "preflight": [str(cfg), "--checkout", str(co), "--deepspeed", str(FAKE_DEEPSPEED), "--gpus", "3",
                      "--state-dir", str(tmp_path / "st")],
    }[case]
    rc = main(["launch", *args])
    o = capsys.readouterr()
    assert rc == 2
    assert "Traceback" not in o.err and "dpgui launch: error:" in o.err
    expect = {"config": "config file not found", "checkout": "checkout not found",
              "deepspeed": "deepspeed not found", "include": "GPU ids",
              "preflight": "not a multiple of pipeline_stages"}[case]
    assert expect in o.err
    assert not (tmp_path / "st").exists()


def _launch(tmp_path, *extra, fake=None, timeout=30):
    co, cfg, out = make_checkout(tmp_path, valid=True)
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_STATE_DIR=str(tmp_path / "state"),
               FAKE_DS_DELAY="0.02", FAKE_DS_STEPS="4")
    env.update(fake or {})
    cmd = [sys.executable, "-m", "dpgui_qt", "launch", str(cfg), "--checkout", str(co),
           "--deepspeed", str(FAKE_DEEPSPEED), *extra]
    return cmd, env, out


def test_headless_run_to_completion(tmp_path):
    cmd, env, out = _launch(tmp_path, "--gpus", "2")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "[dpgui] step 4 | loss 0.1429 | lr 8e-07 |" in p.stdout
    assert "steps: 4 loss" not in p.stdout                   # replaced by the compact line
    assert "TRAINING COMPLETE!" in p.stdout and "Setting ds_accelerator" in p.stdout
    assert "training finished" in p.stderr and "Traceback" not in p.stderr
    state_dir = re.search(r"--attach (\S+)", p.stderr).group(1)
    # re-attaching to the finished run replays it and gives the same verdict
    q = subprocess.run([sys.executable, "-m", "dpgui_qt", "launch", "--attach", state_dir], env=env,
                       capture_output=True, text=True, timeout=30)
    assert q.returncode == 0 and q.stdout == p.stdout


@pytest.mark.parametrize("fake,code", [({"FAKE_DS_FAIL_AT": "2"}, 1), ({"FAKE_DS_EXIT_CODE": "5"}, 1)])
def test_headless_run_failure_is_nonzero(tmp_path, fake, code):
    cmd, env, out = _launch(tmp_path, fake=fake)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == code
    assert "run failed" in p.stderr
    if "FAKE_DS_FAIL_AT" in fake:
        assert "CUDA out of memory" in p.stdout and "exits with return code = 1" in p.stdout


def test_headless_cache_only_counts_as_finished(tmp_path):
    cmd, env, out = _launch(tmp_path, "--cache-only")
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and "TRAINING COMPLETE!" not in p.stdout


def test_headless_resume_latest(tmp_path):
    cmd, env, out = _launch(tmp_path)
    assert subprocess.run(cmd, env=env, capture_output=True, timeout=30).returncode == 0
    first = sorted(x.name for x in out.iterdir() if not x.name.startswith("."))
    p = subprocess.run(cmd + ["--resume", "latest"], env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert f"--resume_from_checkpoint {first[-1]}" in p.stderr
    assert "Resuming training from checkpoint. Resuming at epoch: 1, step: 5" in p.stdout
    assert sorted(x.name for x in out.iterdir() if not x.name.startswith(".")) == first


def _reader(p, sink):
    for line in p.stdout:
        sink.append(line)


@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_saves_and_stops_then_escalates(tmp_path, presses):
    fake = {"FAKE_DS_STEPS": "100000", "FAKE_DS_DELAY": "0.05"}
    if presses == 2:
        fake["FAKE_DS_DELAY"] = "3600"     # stuck in a step: save_quit is never seen
    cmd, env, out = _launch(tmp_path, "--stop-grace", "0.5", fake=fake)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    threading.Thread(target=_reader, args=(p, lines), daemon=True).start()
    try:
        marker = "[dpgui] step 1 " if presses == 1 else "DeepSpeed Final Optimizer"
        wait_for(lambda: any(marker in ln for ln in lines), timeout=15, what=marker)
        if presses == 2:
            wait_for(lambda: any(d.is_dir() for d in out.glob("2*")), what="run folder")
        p.send_signal(signal.SIGINT)
        wait_for(lambda: any("save_quit" in ln for ln in lines), what="save_quit message")
        if presses == 2:
            p.send_signal(signal.SIGINT)
        rc = p.wait(timeout=15)
    finally:
        if p.poll() is None:
            p.kill()
    text = "".join(lines)
    assert rc == 3, text
    assert "Traceback" not in text and "stopped before completion" in text
    if presses == 1:
        assert "Manually quitting" in text
    else:
        assert "stopping (SIGTERM" in text
    state = json.loads(next((tmp_path / "state").glob("*/state.json")).read_text())
    assert state["stop_request"] == ("save_quit" if presses == 1 else "stop")
    assert not live_group_psutil(state["pgid"])
