"""The launch gate: ``dpgui launch`` refuses every config diffusion-pipe would reject,
before the trainer starts, and ``--force`` overrides it.

Every failing-config case of ``tests/test_rules.py`` (main and dataset rules) goes
through ``dpgui launch`` with the fake deepspeed: exit 2, the key named on stderr,
and no trainer started; with ``--force`` the launch goes ahead.  The in-process
cases record the start instead of spawning it; a few run the real fake deepspeed
end to end.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "fake_deepspeed"))
from fake_ds_support import FAKE_DEEPSPEED, make_checkout, write_images

from dpgui_qt.cli import main
from dpgui_qt.core.run.gate import run_gate
from dpgui_qt.core.run.spec import RunSpec
from tests.helpers import BASE_DATASET, BASE_MAIN
from tests.test_rules import DATASET_CASES, MAIN_CASES, model

REPO = Path(__file__).resolve().parent.parent


class Setup:
    """A checkout with the fake deepspeed, a model folder and a captioned image folder."""

    def __init__(self, tmp: Path):
        self.tmp = tmp
        self.co, _, self.out = make_checkout(tmp)
        self.models = tmp / "models" / "flux-dev"
        self.models.mkdir(parents=True)
        self.images = tmp / "data" / "images"
        write_images(self.images, 4)

    def write(self, main_text: str, dataset_text: str = BASE_DATASET) -> Path:
        ds = self.co / "examples" / "dataset.toml"
        ds.write_text(dataset_text.replace("'/data/images'", f"'{self.images}'"))
        cfg = self.co / "examples" / "case.toml"
        cfg.write_text(main_text.replace("'/tmp/dpgui-test-runs'", f"'{self.out}'")
                       .replace("'/models/flux-dev'", f"'{self.models}'")
                       .replace("dataset = 'dataset.toml'", f"dataset = '{ds}'"))
        return cfg

    def args(self, cfg: Path, gpus: int | None) -> list[str]:
        return ["launch", str(cfg), "--checkout", str(self.co), "--deepspeed", str(FAKE_DEEPSPEED),
                "--gpus", str(gpus or 1), "--state-dir", str(self.tmp / "state")]


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.delenv("DPGUI_DIFFUSION_PIPE", raising=False)
    return Setup(tmp_path)


@pytest.fixture
def starts(monkeypatch):
    """Record trainer starts instead of spawning them (the follow loop is skipped)."""
    from dpgui_qt.commands import launch as launch_cmd
    from dpgui_qt.core.run import supervisor
    calls = []

    def fake_start(argv, state_root, **kw):
        calls.append(argv)
        raise RuntimeError("recorded start")        # launch reports it and exits 1

    monkeypatch.setattr(supervisor, "start_run", fake_start)
    monkeypatch.setattr(launch_cmd, "_follow", lambda *a, **k: 0)
    return calls


def test_base_configs_pass_the_gate(setup, starts, capsys):
    cfg = setup.write(BASE_MAIN)
    assert main(setup.args(cfg, 1) + ["--check"]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "No problems found in 2 file(s)" in out and f"checked: {cfg}" in out
    assert main(setup.args(cfg, 1)) == 1 and len(starts) == 1   # reached the (recorded) start


def _run_case(setup, starts, capsys, main_text, dataset_text, gpus, key):
    cfg = setup.write(main_text, dataset_text)
    rc = main(setup.args(cfg, gpus))
    err = capsys.readouterr().err
    assert rc == 2, err
    assert starts == [], "the trainer was started despite errors"
    assert key in err and "the trainer was not started" in err and "Traceback" not in err
    rc = main(setup.args(cfg, gpus) + ["--force"])
    err = capsys.readouterr().err
    assert len(starts) == 1 and "--force: launching despite" in err
    return cfg


@pytest.mark.parametrize("rule, key, text, gpus", MAIN_CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in MAIN_CASES])
def test_main_rule_blocks_launch(setup, starts, capsys, rule, key, text, gpus):
    cfg = _run_case(setup, starts, capsys, text, BASE_DATASET, gpus, key)
    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED),
                   gpus=gpus or 1)
    rep = run_gate(spec, scan_media=False)
    assert any(f.code == f"config:{rule}" and f.key == key for f in rep.errors), rep.lines()


@pytest.mark.parametrize("rule, key, text, model_type", DATASET_CASES,
                         ids=[f"{c[0]}:{c[1]}" for c in DATASET_CASES])
def test_dataset_rule_blocks_launch(setup, starts, capsys, rule, key, text, model_type):
    main_text = model(BASE_MAIN, model_type) if model_type else BASE_MAIN
    cfg = _run_case(setup, starts, capsys, main_text, text, None, key)
    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED))
    rep = run_gate(spec, scan_media=False)
    ds = str(setup.co / "examples" / "dataset.toml")
    assert any(f.code == f"config:{rule}" and f.key == key and f.file == ds
               for f in rep.errors), rep.lines()


def _real_launch(setup, cfg, *extra):
    record = setup.tmp / "record.json"
    env = dict(os.environ, PYTHONPATH=str(REPO), FAKE_DS_RECORD=str(record),
               FAKE_DS_DELAY="0.01", FAKE_DS_STEPS="2")
    p = subprocess.run([sys.executable, "-m", "dpgui_qt", *setup.args(cfg, 1), *extra],
                       env=env, capture_output=True, text=True, timeout=60)
    return p, record


@pytest.mark.parametrize("which", ["main", "dataset"])
def test_real_fake_deepspeed_never_starts_unless_forced(setup, which):
    if which == "main":
        cfg = setup.write(BASE_MAIN.replace("[adapter]\n", "[adapter]\nalpha = 16\n"))
        key = "adapter.alpha"
    else:
        cfg = setup.write(BASE_MAIN, BASE_DATASET.replace("[512]", "[256, 512, 768, 1024]"))
        key = "resolutions"
    p, record = _real_launch(setup, cfg)
    assert p.returncode == 2 and key in p.stderr, p.stderr
    assert not record.exists(), "fake deepspeed ran"
    p, record = _real_launch(setup, cfg, "--force")
    assert p.returncode == 0, p.stderr
    assert record.exists() and json.loads(record.read_text())["cwd"] == str(setup.co)


def test_check_prints_findings_and_exit_codes(setup, capsys):
    cfg = setup.write(BASE_MAIN.replace("[adapter]\n", "[adapter]\nalpha = 16\n"))
    assert main(setup.args(cfg, 1) + ["--check"]) == 1
    out = capsys.readouterr().out
    assert "error: adapter.alpha:" in out and "1 error" in out
    assert main(setup.args(cfg, 1) + ["--check", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["errors"] == 1 and data["findings"][0]["key"] == "adapter.alpha"


def test_relative_dataset_path_next_to_config_is_an_error_with_a_fix(setup, capsys):
    """dataset = 'dataset.toml' next to a config outside the checkout: diffusion-pipe
    opens it from the checkout, where it does not exist."""
    elsewhere = setup.tmp / "configs"
    elsewhere.mkdir()
    (elsewhere / "dataset.toml").write_text(BASE_DATASET.replace("'/data/images'", f"'{setup.images}'"))
    cfg = elsewhere / "main.toml"
    cfg.write_text(setup.write(BASE_MAIN).read_text().replace(
        f"dataset = '{setup.co / 'examples' / 'dataset.toml'}'", "dataset = 'dataset.toml'"))
    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED))
    rep = run_gate(spec)
    f = next(f for f in rep.errors if f.key == "dataset")
    assert f.code == "config:path_relative_to_checkout"
    assert f.action == ("make_absolute", str(cfg), ("dataset",), str(elsewhere / "dataset.toml"))
    assert str(setup.co) in f.message


def test_placeholder_and_skipped_media_are_reported(setup):
    write_images(setup.images, 4, captions=2)          # two images lose their captions
    for p in list(setup.images.glob("img00[23].txt")):
        p.unlink()
    cfg = setup.write(model(BASE_MAIN, "wan"))
    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED))
    rep = run_gate(spec)
    ph = [f for f in rep.errors if f.code == "config:template_placeholder"]
    assert ph and ph[0].key == "model.ckpt_path"
    assert ph[0].message.startswith("set model.ckpt_path: still the template's placeholder")
    miss = [f for f in rep.warnings if f.code == "dataset:missing_captions"]
    assert miss and "img002.png" in miss[0].message and "2 files" in miss[0].message


def test_bucket_smaller_than_batch_is_a_warning(setup):
    cfg = setup.write(BASE_MAIN.replace("micro_batch_size_per_gpu = 1",
                                        "micro_batch_size_per_gpu = 3"))
    from PIL import Image
    Image.new("RGB", (128, 32)).save(setup.images / "wide.png")
    (setup.images / "wide.txt").write_text("a wide picture\n")
    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED))
    rep = run_gate(spec)
    assert not rep.errors, rep.lines()
    small = [f for f in rep.warnings if f.code == "dataset:bucket_smaller_than_batch"]
    assert small and "1 < 3" in small[0].message, rep.lines()


def test_dataset_check_contributors(setup):
    from dpgui_qt.core.run import gate
    from dpgui_qt.core.run.preflight import PreflightIssue
    cfg = setup.write(BASE_MAIN)
    seen = []

    def extra(ctx):
        seen.append((ctx.role, len(ctx.scan().directories)))
        yield PreflightIssue("warning", "dataset:test", f"{ctx.role}: from a contributor")

    spec = RunSpec(config=str(cfg), checkout=str(setup.co), deepspeed=str(FAKE_DEEPSPEED))
    rep = run_gate(spec, dataset_checks=[*gate.DATASET_CHECKS, extra])
    assert seen == [("dataset", 1)]
    assert [f.message for f in rep.warnings] == ["dataset: from a contributor"]
