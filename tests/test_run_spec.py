"""RunSpec -> argv/env/cwd/preview, the WSL form, detection and pre-flight."""
from __future__ import annotations

import re
import shlex
import stat
from pathlib import Path

import pytest

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.hosts import HostSpec
from dpgui_qt.core.run.spec import RunSpec, SpecError

README = re.compile(r"(^| )deepspeed --num_gpus=1 train\.py --deepspeed --config \S+")


@pytest.fixture
def co(tmp_path):
    d = tmp_path / "diffusion-pipe"
    (d / "examples").mkdir(parents=True)
    (d / "train.py").write_text("")
    (d / "examples" / "x.toml").write_text("")
    (d / "examples" / "dataset.toml").write_text("")
    return d


def test_default_is_readme_form(co):
    s = RunSpec(co / "examples" / "x.toml", co)
    assert s.argv == ["deepspeed", "--num_gpus=1", "train.py", "--deepspeed", "--config", "examples/x.toml"]
    assert s.cwd == str(co)
    assert s.env == {"NCCL_P2P_DISABLE": "1", "NCCL_IB_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
    assert s.preview() == (f"cd {co} && NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1 PYTHONUNBUFFERED=1 "
                           "deepspeed --num_gpus=1 train.py --deepspeed --config examples/x.toml")
    assert README.search(s.preview())


def test_config_outside_checkout_is_absolute(co, tmp_path):
    cfg = tmp_path / "cfgs" / "a.toml"
    s = RunSpec(cfg, co)
    assert s.argv[-1] == str(cfg)


def test_relative_config_resolved_against_caller_cwd(co, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert RunSpec("a.toml", co).argv[-1] == str(tmp_path / "a.toml")


@pytest.mark.parametrize("gpus,expected", [
    (1, ["--num_gpus=1"]), (4, ["--num_gpus=4"]), ([0, 2], ["--include", "localhost:0,2"]),
    ((3,), ["--include", "localhost:3"]), (None, []),
])
def test_gpus(co, gpus, expected):
    argv = RunSpec(co / "x.toml", co, gpus=gpus).argv
    assert argv[1:argv.index("train.py")] == expected


@pytest.mark.parametrize("gpus", [0, -1, [], [1, 1], [-2]])
def test_bad_gpus(co, gpus):
    with pytest.raises(SpecError):
        RunSpec(co / "x.toml", co, gpus=gpus).command()


def test_master_port_goes_to_launcher_and_train_py(co):
    argv = RunSpec(co / "x.toml", co, master_port=29611).argv
    i = argv.index("train.py")
    assert "--master_port=29611" in argv[:i]
    assert argv[i:][-2:] == ["--master_port", "29611"]
    with pytest.raises(SpecError):
        RunSpec(co / "x.toml", co, master_port=70000).command()


def test_every_train_flag(co, tmp_path):
    s = RunSpec(co / "x.toml", co, resume_from_checkpoint="20250101_10-00-00", switches=dict(
                reset_dataloader=True, reset_optimizer=True, reset_optimizer_params=True,
                regenerate_cache=True, cache_only=True, trust_cache=True,
                i_know_what_i_am_doing=True, dump_dataset=tmp_path / "dump"))
    tail = s.argv[s.argv.index("train.py"):]
    assert tail == ["train.py", "--deepspeed", "--config", "x.toml",
                    "--resume_from_checkpoint", "20250101_10-00-00", "--reset_dataloader",
                    "--reset_optimizer", "--reset_optimizer_params", "--regenerate_cache",
                    "--cache_only", "--trust_cache", "--i_know_what_i_am_doing",
                    "--dump_dataset", str(tmp_path / "dump")]
    assert not any(a.startswith("--deepspeed_config") for a in s.argv)
    assert s.exits_early_ok and s.switch("trust_cache") is True


@pytest.mark.parametrize("switches,message", [({"no_such_switch": True}, "unknown train.py switch"),
                                              ({"cache_only": "yes"}, "on or off"),
                                              ({"dump_dataset": 3}, "takes a folder")])
def test_bad_switch_values_are_spec_errors(co, switches, message):
    with pytest.raises(SpecError, match=message):
        RunSpec(co / "x.toml", co, switches=switches).command()


def test_unset_switches_pass_nothing(co):
    s = RunSpec(co / "x.toml", co, switches={"cache_only": False, "dump_dataset": ""})
    assert s.argv[s.argv.index("train.py"):] == ["train.py", "--deepspeed", "--config", "x.toml"]
    assert not s.exits_early_ok and s.switch("dump_dataset") == ""
    assert RunSpec(co / "x.toml", co).switch("regenerate_cache") is False


@pytest.mark.parametrize("value,name", [("20250101_10-00-00", "20250101_10-00-00"),
                                        ("/out/20250101_10-00-00/", "20250101_10-00-00"),
                                        (r"C:\out\20250101_10-00-00", "20250101_10-00-00")])
def test_resume_is_always_an_explicit_folder_name(co, value, name):
    argv = RunSpec(co / "x.toml", co, resume_from_checkpoint=value).argv
    assert argv[argv.index("--resume_from_checkpoint") + 1] == name


def test_env_switches_and_extra(co):
    s = RunSpec(co / "x.toml", co, nccl_p2p_disable=False, nccl_ib_disable=False,
                expandable_segments=True, extra_env={"HF_HOME": "/data/hf", "A_B": "x y"})
    assert s.env == {"PYTORCH_CUDA_ALLOC_CONF": "expandable_segments:True", "HF_HOME": "/data/hf",
                     "A_B": "x y", "PYTHONUNBUFFERED": "1"}
    assert "A_B='x y'" in s.preview()
    merged = s.command().process_env({"PATH": "/bin"})
    assert merged["PATH"] == "/bin" and merged["HF_HOME"] == "/data/hf"
    with pytest.raises(SpecError):
        RunSpec(co / "x.toml", co, extra_env={"BAD NAME": "1"}).command()


def test_deepspeed_forms(co, tmp_path):
    assert RunSpec(co / "x.toml", co, deepspeed=tmp_path / "venv").argv[0] == str(tmp_path / "venv/bin/deepspeed")
    assert RunSpec(co / "x.toml", co, deepspeed="/opt/x/bin/deepspeed").argv[0] == "/opt/x/bin/deepspeed"
    assert RunSpec(co / "x.toml", co, deepspeed="deepspeed").argv[0] == "deepspeed"


def test_preview_round_trips_through_a_shell(co, tmp_path):
    cfg = tmp_path / "my configs" / "it's.toml"
    s = RunSpec(cfg, co, extra_env={"X": "a b"})
    pre = s.preview()
    assert pre.startswith(f"cd {shlex.quote(str(co))} && ")
    words = shlex.split(pre.split(" && ", 1)[1])
    assert words[:4] == ["NCCL_P2P_DISABLE=1", "NCCL_IB_DISABLE=1", "X=a b", "PYTHONUNBUFFERED=1"]
    assert words[4:] == s.argv


def test_no_checkout(co):
    with pytest.raises(SpecError, match="checkout"):
        RunSpec(co / "x.toml").command()


# ---------------------------------------------------------------- WSL
# (the path functions and the host's command forms: tests/test_hosts.py)
WSL = HostSpec("wsl")


def test_wsl_spec_becomes_wsl_command():
    s = RunSpec(r"C:\data\cfg.toml", r"\\wsl$\Ubuntu\home\u\diffusion-pipe",
                deepspeed=r"\\wsl.localhost\Ubuntu\home\u\venv", gpus=[0, 1], master_port=29700,
                switches={"dump_dataset": r"D:\dump"}, host=WSL)
    cmd = s.command()
    # what the supervisor runs inside the distribution
    assert cmd.argv == ["/home/u/venv/bin/deepspeed", "--include", "localhost:0,1",
                        "--master_port=29700", "train.py", "--deepspeed", "--config",
                        "/mnt/c/data/cfg.toml", "--dump_dataset", "/mnt/d/dump",
                        "--master_port", "29700"]
    assert cmd.cwd == cmd.trainer_cwd == "/home/u/diffusion-pipe"
    assert cmd.host.describe() == "WSL (Ubuntu)"       # the distribution named by the checkout
    # the same command as run from Windows
    assert cmd.host.wrap(cmd.argv, cmd.env, cmd.cwd) == [
        "wsl.exe", "-d", "Ubuntu", "--cd", "/home/u/diffusion-pipe", "--", "env",
        "NCCL_P2P_DISABLE=1", "NCCL_IB_DISABLE=1", "PYTHONUNBUFFERED=1", *cmd.argv]
    assert cmd.process_env({"PATH": "x"})["NCCL_P2P_DISABLE"] == "1"
    assert cmd.preview().startswith("wsl.exe -d Ubuntu --cd /home/u/diffusion-pipe -- env ")


def test_wsl_spec_quotes_for_the_wsl_shell():
    s = RunSpec(r"C:\my data\cfg.toml", r"C:\dp", host=HostSpec.of("wsl", distro="Debian"),
                extra_env={"A": "x y"})
    cmd = s.command()
    argv = cmd.host.wrap(cmd.argv, cmd.env, cmd.cwd)
    assert argv[:6] == ["wsl.exe", "-d", "Debian", "--cd", "/mnt/c/dp", "--"]
    assert "'A=x y'" in argv and argv[-1] == "'/mnt/c/my data/cfg.toml'"
    assert cmd.argv[-1] == "/mnt/c/my data/cfg.toml"         # unquoted for the supervisor


def test_wsl_config_inside_checkout_is_relative():
    s = RunSpec(r"\\wsl$\Ubuntu\home\u\dp\examples\x.toml", r"\\wsl$\Ubuntu\home\u\dp", host=WSL)
    assert s.argv[-1] == "examples/x.toml" and s.argv[0] == "deepspeed"


def test_default_host_follows_the_platform():
    assert hosts.default_spec("win32", distro="U") == HostSpec.of("wsl", distro="U")
    assert hosts.default_spec("linux", distro="U") == HostSpec("local")


# ---------------------------------------------------------------- detection
def test_find_checkout_precedence(co, tmp_path):
    assert envmod.find_checkout(co, environ={}) == co.resolve()
    assert envmod.find_checkout(None, environ={"DPGUI_DIFFUSION_PIPE": str(co)}) == co.resolve()
    repo = tmp_path / "repo"
    (repo / "ref" / "diffusion-pipe").mkdir(parents=True)
    (repo / "ref" / "diffusion-pipe" / "train.py").write_text("")
    assert envmod.find_checkout(None, environ={}, repo_root=repo) == (repo / "ref" / "diffusion-pipe").resolve()
    with pytest.raises(envmod.SetupError, match="no train.py"):
        envmod.find_checkout(tmp_path, environ={})
    with pytest.raises(envmod.SetupError, match="does not exist"):
        envmod.find_checkout(tmp_path / "nope", environ={})


def _exe(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_find_deepspeed(tmp_path):
    exe = _exe(tmp_path / "venv" / "bin" / "deepspeed")
    assert envmod.find_deepspeed(tmp_path / "venv", environ={}) == str(exe)
    assert envmod.find_deepspeed(exe, environ={}) == str(exe)
    assert envmod.find_deepspeed(None, environ={"DPGUI_DEEPSPEED": str(tmp_path / "venv")}) == str(exe)
    assert envmod.find_deepspeed(None, environ={"PATH": str(exe.parent)}) == str(exe)
    win = _exe(tmp_path / "wenv" / "Scripts" / "deepspeed.exe")
    assert envmod.find_deepspeed(tmp_path / "wenv", environ={}, platform="win32") == str(win)
    with pytest.raises(envmod.SetupError, match="not found on PATH"):
        envmod.find_deepspeed(None, environ={"PATH": str(tmp_path)})
    with pytest.raises(envmod.SetupError, match="no bin/deepspeed"):
        envmod.find_deepspeed(tmp_path, environ={})


# ---------------------------------------------------------------- pre-flight
@pytest.fixture
def pf(co, tmp_path):
    ds = _exe(tmp_path / "venv" / "bin" / "deepspeed")
    cfg = co / "examples" / "x.toml"
    values = {"output_dir": str(tmp_path / "out"), "dataset": "examples/dataset.toml", "pipeline_stages": 1}
    return co, ds, cfg, values


def codes(findings, level=None):
    return {f.code for f in findings if level is None or f.level == level}


def test_preflight_clean(pf):
    co, ds, cfg, values = pf
    found = envmod.preflight(RunSpec(cfg, co, deepspeed=ds), values, min_free_gb=0)
    assert found == []


def test_preflight_problems(pf, tmp_path):
    co, ds, cfg, values = pf
    values = dict(values, pipeline_stages=2, dataset="nope.toml",
                  eval_datasets=[{"name": "e", "config": "gone.toml"}])
    (tmp_path / "out" / "20250101_00-00-00").mkdir(parents=True)
    spec = RunSpec(cfg, co, deepspeed=tmp_path / "nowhere" / "deepspeed", gpus=3,
                   resume_from_checkpoint="20250101_00-00-00")
    found = envmod.preflight(spec, values, min_free_gb=1e9)
    assert codes(found, "error") == {"deepspeed", "gpus", "dataset", "resume"}
    assert codes(found, "warning") == {"disk"}
    assert found[0].is_error and all(f.fix for f in found)
    assert envmod.has_errors(found)
    msg = next(f.message for f in found if f.code == "resume")
    assert "latest" in msg


def test_preflight_resume_ok_and_missing_folder(pf, tmp_path):
    co, ds, cfg, values = pf
    run = tmp_path / "out" / "20250101_00-00-00"
    run.mkdir(parents=True)
    (run / "latest").write_text("global_step10")
    assert envmod.preflight(RunSpec(cfg, co, deepspeed=ds, resume_from_checkpoint=run.name), values,
                            min_free_gb=0) == []
    f = envmod.preflight(RunSpec(cfg, co, deepspeed=ds, resume_from_checkpoint="20990101_00-00-00"),
                         values, min_free_gb=0)
    assert codes(f) == {"resume"}


def test_preflight_output_dir_and_config(pf, tmp_path):
    co, ds, cfg, values = pf
    (tmp_path / "file").write_text("")
    f = envmod.preflight(RunSpec(tmp_path / "missing.toml", co, deepspeed=ds),
                         dict(values, output_dir=str(tmp_path / "file" / "sub")), min_free_gb=0)
    assert codes(f, "error") == {"config", "output_dir"}
    f = envmod.preflight(RunSpec(tmp_path / "missing.toml", co, deepspeed=ds), None, min_free_gb=0)
    assert "config" in codes(f, "error")


def test_preflight_is_composable(pf):
    co, ds, cfg, values = pf
    def extra(ctx):
        return [envmod.PreflightIssue("error", "validation", "lr must be > 0", "fix lr")]

    f = envmod.preflight(RunSpec(cfg, co, deepspeed=ds), values, extra_checks=[extra], min_free_gb=0)
    assert [x.code for x in f] == ["validation"]
    f = envmod.preflight(RunSpec(cfg, co, deepspeed=ds, gpus=3), dict(values, pipeline_stages=2),
                         checks=[envmod.check_gpus])
    assert codes(f) == {"gpus"}


def test_preflight_windows_checks_through_unc(tmp_path, monkeypatch):
    # On Windows the config's Linux paths are checked through \\wsl.localhost\...; here
    # we only check that the mapping is applied and nothing crashes on Linux.
    spec = RunSpec(r"C:\cfg.toml", r"\\wsl$\Ubuntu\home\u\dp", host=WSL)
    ctx = envmod.PreflightContext(spec, {"output_dir": "/home/u/out", "dataset": "examples/d.toml"})
    assert str(ctx.host_path("examples/d.toml")) == r"\\wsl.localhost\Ubuntu\home\u\dp\examples\d.toml"
    assert str(ctx.output_dir()) == r"\\wsl.localhost\Ubuntu\home\u\out"
    assert envmod.has_errors(envmod.preflight(spec, ctx.values))
