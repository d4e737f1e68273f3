"""Secrets in the environment (issue #12): ``--env WANDB_API_KEY=...`` was printed by
``dpgui: command:``, and the GUI's extra variables appeared in the command preview.
Secrets are now masked wherever a command or environment is shown or logged."""
from __future__ import annotations

import json
import stat
import subprocess


from dpgui_qt.core.run.hosts import HostSpec
from dpgui_qt.core.run.spec import RunSpec
from dpgui_qt.core.secrets import MASK, is_secret_name, mask

from tests.reliability._run_support import FAKE_DEEPSPEED, cli_env, launch_cmd, make_checkout

KEY = "wandb-0123456789abcdef0123456789abcdef"
SECRET_ENV = {"WANDB_API_KEY": KEY, "HF_TOKEN": "hf_supersecret_value_1234"}


def test_secret_names_and_mask():
    for n in ("WANDB_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "wandb_api_key", "DB_PASSWORD",
              "GITHUB_TOKEN", "OPENAI_API_KEY"):
        assert is_secret_name(n), n
    for n in ("PATH", "HF_HOME", "NCCL_P2P_DISABLE", "MONKEY", "KEYBOARD", "PWD",
              "PYTORCH_CUDA_ALLOC_CONF"):
        assert not is_secret_name(n), n
    assert mask(KEY) == MASK + "cdef" and mask("short") == MASK and mask("") == ""


def test_preview_masks_secrets_but_reveals_on_request(tmp_path):
    co, cfg, _ = make_checkout(tmp_path)
    spec = RunSpec(cfg, co, deepspeed=FAKE_DEEPSPEED, extra_env=dict(SECRET_ENV, HF_HOME="/x"))
    assert KEY not in spec.preview() and "WANDB_API_KEY='" + MASK + "cdef'" in spec.preview()
    assert "HF_HOME=/x" in spec.preview() and "hf_supersecret" not in spec.preview()
    assert KEY in spec.preview(reveal_secrets=True)
    assert spec.command().env["WANDB_API_KEY"] == KEY          # the trainer still gets it
    win = RunSpec(cfg, co, deepspeed="/env", extra_env=SECRET_ENV,
                  host=HostSpec.of("wsl", distro="Ubuntu"))
    wc = win.command()
    assert KEY not in win.preview() and wc.env["WANDB_API_KEY"] == KEY
    assert KEY in " ".join(wc.host.wrap(wc.argv, wc.env, wc.cwd))


def test_dpgui_launch_never_prints_or_stores_the_key(tmp_path):
    co, cfg, out = make_checkout(tmp_path, valid=True)
    env = cli_env(tmp_path, FAKE_DS_STEPS="1", FAKE_DS_DELAY="0.01")
    args = [a for k, v in SECRET_ENV.items() for a in ("--env", f"{k}={v}")]
    record = tmp_path / "record.json"
    env["FAKE_DS_RECORD"] = str(record)
    p = subprocess.run(launch_cmd(cfg, co, *args), env=env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "dpgui: command:" in p.stderr and "WANDB_API_KEY='" + MASK + "cdef'" in p.stderr
    for text in (p.stdout, p.stderr):
        assert KEY not in text and "hf_supersecret" not in text      # was: in the command line
    assert json.loads(record.read_text())["env"]["WANDB_API_KEY"] == KEY    # but the run has it
    state_dir = next((tmp_path / "state").iterdir())
    assert KEY not in (state_dir / "state.json").read_text()
    req = state_dir / "request.json"                        # the supervisor's private copy
    assert stat.S_IMODE(req.stat().st_mode) == 0o600
    for d in ("--dry-run", "--json"):
        q = subprocess.run(launch_cmd(cfg, co, *args, "--dry-run", *([d] if d == "--json" else [])),
                           env=env, capture_output=True, text=True, timeout=60)
        assert q.returncode == 0 and KEY not in q.stdout + q.stderr
        shown = json.loads(q.stdout)["env"]["WANDB_API_KEY"] if d == "--json" else q.stdout
        assert MASK + "cdef" in shown
