"""The train.py switch table (core/run/switches.py) is the only place a switch is
declared: the CLI's options and the spec's argv are generated from it."""
from __future__ import annotations

import json

import pytest

from dpgui_qt.cli import main
from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.launch import build_spec
from dpgui_qt.core.run.spec import RunSpec, SpecError

EXTRA = (sw.Switch("invented_flag", "Invented flag", "A switch only this test knows."),
         sw.Switch("invented_dir", "Invented folder", "A folder only this test knows.",
                   kind="path", metavar="WHERE", ends_early=True))


@pytest.fixture
def extra_switches(monkeypatch):
    monkeypatch.setattr(sw, "TRAIN_SWITCHES", sw.TRAIN_SWITCHES + EXTRA)


def _help(capsys) -> str:
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["launch", "--help"])
    return " ".join(capsys.readouterr().out.split())     # argparse wraps lines


def test_table_rows_are_well_formed():
    names = [s.name for s in sw.TRAIN_SWITCHES]
    assert len(names) == len(set(names))
    for s in sw.TRAIN_SWITCHES:
        assert s.kind in ("bool", "path") and s.label and s.help.endswith(".")
        assert s.train_flag == "--" + s.name and s.train_flag in s.cli_flags
    assert {s.name for s in sw.TRAIN_SWITCHES if s.ends_early} == {"cache_only", "dump_dataset"}


def test_cli_help_lists_every_switch_from_the_table(capsys):
    text = _help(capsys)
    for s in sw.TRAIN_SWITCHES:
        for flag in s.cli_flags:
            assert flag in text
        assert s.help.split(" (")[0][:30] in text


def test_a_switch_added_to_the_table_reaches_cli_help_and_argv(extra_switches, capsys, tmp_path):
    text = _help(capsys)
    assert "--invented-flag, --invented_flag" in text and "A switch only this test knows." in text
    assert "--invented-dir WHERE, --invented_dir WHERE" in text
    co = tmp_path / "co"
    co.mkdir()
    (co / "train.py").write_text("")
    cfg = co / "x.toml"
    cfg.write_text("")
    rc = main(["launch", str(cfg), "--checkout", str(co), "--deepspeed", "deepspeed", "--dry-run",
               "--json", "--invented-flag", "--invented_dir", str(tmp_path / "d")])
    assert rc == 0
    argv = json.loads(capsys.readouterr().out)["argv"]
    assert argv[argv.index("--config") + 2:] == ["--invented_flag", "--invented_dir",
                                                 str(tmp_path / "d")]
    spec = RunSpec(cfg, co, switches={"invented_flag": True, "cache_only": True})
    assert spec.argv[-2:] == ["--cache_only", "--invented_flag"]       # table order
    assert build_spec(cfg, checkout=co, switches={"invented_dir": "/x"}).exits_early_ok


def test_unknown_or_mistyped_switches_are_messages(tmp_path):
    with pytest.raises(SpecError, match="unknown train.py switch: 'nope'"):
        build_spec(tmp_path / "x.toml", switches={"nope": True})
    with pytest.raises(SpecError, match="on or off"):
        build_spec(tmp_path / "x.toml", switches={"trust_cache": "1"})


def test_build_spec_drops_unset_switches_and_keeps_set_ones(tmp_path):
    spec = build_spec(tmp_path / "x.toml", checkout=tmp_path, gpus=(0, 2), resume="",
                      switches={"trust_cache": True, "cache_only": False, "dump_dataset": ""})
    assert spec.switches == {"trust_cache": True} and spec.gpus == [0, 2]
    assert spec.resume_from_checkpoint is None and not spec.exits_early_ok


@pytest.mark.parametrize("argv,early", [
    (["deepspeed", "train.py", "--cache_only"], True),
    (["deepspeed", "train.py", "--dump_dataset", "/d"], True),
    (["wsl.exe", "--", "bash", "-c", "'--cache_only'"], True),
    (["deepspeed", "train.py", "--trust_cache"], False),
    ([], False),
])
def test_argv_ends_early(argv, early):
    assert sw.argv_ends_early(argv) is early
