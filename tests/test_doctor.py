"""dpgui doctor: real probes in real interpreters (a bare venv, this test
environment, venvs with stand-in torch/deepspeed/flash_attn), real git checkouts
(uninitialised submodules; a later commit with a model type the schemas lack),
and the WSL command forms."""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from dpgui_qt import cli
from dpgui_qt.core import doctor
from dpgui_qt.core.doctor import checks as an
from dpgui_qt.core.doctor.probe import MARKER, PROBE_SOURCE
from dpgui_qt.core.doctor.target import Target, TargetError, probe_steps, python_of_env, saved_environment
from dpgui_qt.core.run.hosts import HostSpec
from dpgui_qt.core.run.hosts.local import LocalHost
from tests import doctor_envs as E

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _venv(factory, name, setup=None) -> Path:
    root = factory.mktemp(name)
    E.make_venv(root / "env")
    if setup:
        setup(root / "env")
    return root / "env"


@pytest.fixture(scope="session")
def envs(tmp_path_factory):
    """Every environment the tests probe, built once per session (--without-pip venvs)."""
    f = tmp_path_factory
    out = {"bare": _venv(f, "bare")}

    def full(env, **torch_kw):
        E.add_torch(env, **torch_kw)
        E.add_module(env, "deepspeed", "0.18.4")
        E.add_module(env, "flash_attn", "2.8.3")

    out["good"] = _venv(f, "good", lambda e: full(e))
    # a Blackwell card (sm_120) with a torch built before sm_120 existed
    out["blackwell_old_torch"] = _venv(f, "bw", lambda e: full(
        e, version="2.5.1+cu124", cuda="12.4", arch_list=("sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"),
        devices=[E.gpu("NVIDIA GeForce RTX 5090", (12, 0), 32, 31)]))
    out["ptx_only"] = _venv(f, "ptx", lambda e: full(
        e, arch_list=("sm_80", "compute_90"), devices=[E.gpu("NVIDIA H100", (9, 0), 80, 79)]))
    out["cpu_torch"] = _venv(f, "cpu", lambda e: full(e, version="2.9.0+cpu", cuda=None, available=False,
                                                       devices=[]))
    out["no_cuda"] = _venv(f, "nocuda", lambda e: full(e, available=False, devices=[]))
    out["busy_gpu"] = _venv(f, "busy", lambda e: full(e, devices=[E.gpu(free_gb=3.0), E.gpu(free_gb=23)]))

    def broken(env):
        E.add_torch(env)
        E.add_module(env, "flash_attn", raises="flash_attn_2_cuda.so: undefined symbol: _ZN3c10")
    out["broken_flash"] = _venv(f, "brokenflash", broken)
    return out


def smi_path(tmp_path, gpus=None, fail=None) -> Path:
    return E.fake_smi(tmp_path / "smi", gpus, fail)


@pytest.fixture
def no_smi(monkeypatch, tmp_path):
    """PATH without any nvidia-smi (git and the interpreters stay reachable)."""
    folder = tmp_path / "onlygit"
    folder.mkdir()
    if shutil.which("git"):
        (folder / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(folder))
    return folder


def with_smi(monkeypatch, tmp_path, gpus=None, fail=None):
    folder = smi_path(tmp_path, gpus, fail)
    if shutil.which("git"):
        (folder / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(folder))


def examine(python, checkout="", **kw) -> doctor.Report:
    t = Target(python=str(python), checkout=str(checkout), checkout_host=str(checkout),
               platform="linux")
    return doctor.examine(t, **kw)


def py(env: Path) -> Path:
    return env / "bin" / "python"


RTX4090 = [("NVIDIA GeForce RTX 4090", "580.82.09", 24564, 24000, "8.9")]


# --------------------------------------------------------------------------- interpreters
def test_bare_venv_reports_torch_missing_with_the_install_command(envs, no_smi):
    r = examine(py(envs["bare"]))
    f = r.find("torch.missing")
    assert f is not None and f.is_error
    assert f"{py(envs['bare'])} -m pip install torch torchvision --index-url" in f.fix
    assert r.find("deepspeed.missing").is_error
    assert r.find("flash_attn.missing").severity == an.INFO
    assert r.find("gpu.none").severity == an.WARNING       # no nvidia-smi on PATH
    assert r.find("python.ok") is not None
    assert r.facts["python"]["prefix"] == str(envs["bare"])


def test_the_test_environment_itself(no_smi):
    r = examine(sys.executable)
    v = ".".join(map(str, sys.version_info[:3]))
    assert r.find("python.ok").title.startswith(f"Python {v}")
    assert r.facts["python"]["executable"]
    import importlib.util
    assert (r.find("torch.ok") is not None) == (importlib.util.find_spec("torch") is not None)
    assert not r.facts["errors"]


def test_good_environment_has_no_errors(envs, monkeypatch, tmp_path):
    with_smi(monkeypatch, tmp_path, RTX4090)
    r = examine(py(envs["good"]))
    assert not r.errors, r.format_text()
    assert {"torch.ok", "driver.ok", "deepspeed.ok", "flash_attn.ok", "vram.0"} <= r.codes()
    assert r.find("deepspeed.ok").title == "deepspeed 0.18.4"
    assert r.vram_gb() == pytest.approx(24.0, abs=0.1)


def test_import_noise_on_stdout_does_not_break_the_result(envs, no_smi):
    # the stand-in deepspeed prints on import (as real packages do)
    step = probe_steps(Target(python=str(py(envs["good"])), platform="linux"))[0]
    rc, out, err = doctor.run_step(step)
    assert rc == 0
    assert b"noise from an import" not in out and b"noise from an import" in err
    assert an.parse_probe(out)["deepspeed"]["version"] == "0.18.4"


def test_blackwell_card_with_a_torch_that_lacks_sm_120(envs, monkeypatch, tmp_path):
    with_smi(monkeypatch, tmp_path, [("NVIDIA GeForce RTX 5090", "575.64", 32607, 32000, "12.0")])
    r = examine(py(envs["blackwell_old_torch"]))
    f = r.find("torch.arch")
    assert f and f.is_error
    assert "sm_120" in f.title and "RTX 5090" in f.title
    assert "whl/cu128" in f.fix
    assert "no kernel image" in f.why


def test_ptx_only_architecture_is_a_warning(envs, monkeypatch, tmp_path):
    with_smi(monkeypatch, tmp_path, [("NVIDIA H100", "580.82.09", 81559, 80000, "9.0")])
    r = examine(py(envs["ptx_only"]))
    assert r.find("torch.arch_ptx").severity == an.WARNING
    assert r.find("torch.arch") is None


def test_cpu_only_torch(envs, no_smi):
    r = examine(py(envs["cpu_torch"]))
    assert r.find("torch.cpu_build").is_error
    assert "--force-reinstall torch" in r.find("torch.cpu_build").fix


def test_cuda_not_available(envs, monkeypatch, tmp_path):
    with_smi(monkeypatch, tmp_path, fail="NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.")
    r = examine(py(envs["no_cuda"]))
    assert r.find("cuda.unavailable").is_error
    assert r.find("gpu.smi_error").is_error
    assert "couldn't communicate" in r.find("gpu.smi_error").title


@pytest.mark.parametrize("driver,code,severity", [
    ("470.256.02", "driver.old", an.ERROR),        # below CUDA 12's minimum
    ("535.230.02", "driver.minor_compat", an.WARNING),   # CUDA 12.8 through minor-version compat
    ("580.82.09", "driver.ok", an.OK),
])
def test_driver_against_the_torch_build(envs, monkeypatch, tmp_path, driver, code, severity):
    with_smi(monkeypatch, tmp_path, [("NVIDIA GeForce RTX 4090", driver, 24564, 24000, "8.9")])
    r = examine(py(envs["good"]))
    assert r.find(code).severity == severity, r.format_text()


def test_free_vram_per_gpu(envs, monkeypatch, tmp_path):
    with_smi(monkeypatch, tmp_path, RTX4090 * 2)
    r = examine(py(envs["busy_gpu"]))
    busy = r.find("vram.busy.0")
    assert busy.severity == an.WARNING and "3.0 of 24.0 GiB free" in busy.title
    assert r.find("vram.1").severity == an.OK


def test_flash_attn_broken_and_required_by_the_model(envs, no_smi):
    r = examine(py(envs["broken_flash"]))
    assert r.find("flash_attn.broken").severity == an.WARNING
    assert "undefined symbol" in r.find("flash_attn.broken").detail
    r = examine(py(envs["broken_flash"]), model_type="hunyuan_image")
    f = r.find("flash_attn.required")
    assert f.is_error and "hunyuan_image" in f.title and "hunyuan_image_modeling.py" in f.why
    r = examine(py(envs["bare"]), model_type="wan")
    assert "wan uses it when present" in r.find("flash_attn.missing").title


def test_python_that_does_not_run(tmp_path):
    r = examine(tmp_path / "nope" / "python")
    f = r.find("python.unusable")
    assert f.is_error and "not found" in f.title


# --------------------------------------------------------------------------- checkouts
@pytest.fixture(scope="session")
def checkout_without_submodules(tmp_path_factory):
    """A real clone whose .gitmodules names a submodule that was never initialised."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path_factory.mktemp("subs")
    sub = root / "HunyuanVideo"
    sub.mkdir()
    E.git("init", "-q", cwd=sub)
    (sub / "hyvideo.py").write_text("x = 1\n")
    E.git("add", ".", cwd=sub)
    E.git("commit", "-qm", "sub", cwd=sub)
    up = root / "upstream"
    up.mkdir()
    E.git("init", "-q", cwd=up)
    (up / "train.py").write_text(E.TRAIN_PY)
    (up / "requirements.txt").write_text("deepspeed==0.18.4\ntoml\n# comment\nflash_attn>=2.9\n")
    E.git("submodule", "add", "-q", str(sub), "submodules/HunyuanVideo", cwd=up)
    E.git("add", ".", cwd=up)
    E.git("commit", "-qm", "upstream", cwd=up)
    clone = root / "clone"
    E.git("clone", "-q", str(up), str(clone), cwd=root)      # no --recurse-submodules
    return clone


@needs_git
def test_checkout_with_uninitialised_submodules(envs, no_smi, checkout_without_submodules):
    co = checkout_without_submodules
    assert (co / ".gitmodules").is_file() and not any((co / "submodules" / "HunyuanVideo").iterdir())
    r = examine(py(envs["good"]), co)
    f = r.find("checkout.submodules")
    assert f.is_error and "submodules/HunyuanVideo" in f.title
    assert f.fix == f"git -C {co} submodule update --init --recursive"
    # run the fix for real: the finding goes away
    E.git("-C", str(co), "submodule", "update", "--init", "--recursive", cwd=co)
    try:
        r2 = examine(py(envs["good"]), co)
        assert r2.find("checkout.submodules") is None
        assert r2.find("checkout.submodules_ok") is not None
    finally:
        E.git("-C", str(co), "submodule", "deinit", "-q", "--all", "-f", cwd=co)


@needs_git
def test_requirements_of_the_checkout(envs, no_smi, checkout_without_submodules):
    r = examine(py(envs["good"]), checkout_without_submodules)
    f = r.find("requirements.missing")
    assert f.is_error
    assert "missing toml" in f.title
    assert "flash_attn 2.8.3 (wants >=2.9)" in f.title
    assert "deepspeed" not in f.title.split("different")[0].replace("missing toml", "")
    assert f.fix == f"cd {checkout_without_submodules} && {py(envs['good'])} -m pip install -r requirements.txt"


@needs_git
def test_checkout_at_another_commit_with_an_unknown_model_type(envs, no_smi, tmp_path):
    co = tmp_path / "dp"
    co.mkdir()
    E.git("init", "-q", cwd=co)
    (co / "train.py").write_text(E.TRAIN_PY)
    E.git("add", ".", cwd=co)
    E.git("commit", "-qm", "later commit", cwd=co)
    head = E.git("rev-parse", "HEAD", cwd=co)
    r = examine(py(envs["good"]), co)
    drift = r.find("schemas.drift")
    assert drift.title == "this checkout has model types dpgui does not know: zeta_video"
    commit = r.find("checkout.commit")
    assert head[:10] in commit.title and an.REF_COMMIT[:7] in commit.title


def test_not_a_checkout_and_not_git(envs, no_smi, tmp_path):
    r = examine(py(envs["good"]), tmp_path / "missing")
    assert r.find("checkout.missing").is_error
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "train.py").write_text("")
    r = examine(py(envs["good"]), plain)
    assert r.find("checkout.not_git").severity == an.WARNING


# --------------------------------------------------------------------------- disk, RAM, WSL
def test_disk_space_and_block_swap_ram(envs, no_smi, tmp_path):
    rc, out, err = doctor.run_step(probe_steps(Target(python=str(py(envs["good"])), checkout=str(tmp_path),
                                                      outputs=[str(tmp_path / "runs" / "x")], platform="linux"))[0])
    facts = an.parse_probe(out, err, rc)
    labels = {d["label"] for d in facts["disk"]}
    assert {"checkout", "output", "huggingface cache"} <= labels
    out_entry = next(d for d in facts["disk"] if d["label"] == "output")
    assert out_entry["checked"] == str(tmp_path)          # nearest existing folder
    r = an.analyse(facts, min_free_gb=1e9)
    assert r.find("disk.low.output").severity == an.WARNING
    facts["memory"]["MemTotal"] = 16 * an.GIB
    facts["memory"]["wsl"] = True
    from dpgui_qt.core.config.memory import swapped_gb
    cfg = {"blocks_to_swap": 32, "model": {"type": "wan", "ckpt_path": "/m/Wan2.1-T2V-14B",
                                           "transformer_dtype": "float8"}}
    need = swapped_gb(cfg)
    assert need == pytest.approx(14e9 * 32 / 40 / an.GIB, rel=1e-6)
    r = an.analyse(facts, blocks_to_swap=32, swap_gb=need)
    f = r.find("ram.block_swap")
    assert f.severity == an.WARNING and ".wslconfig" in f.fix and "visible to WSL" in f.title
    facts["memory"]["MemTotal"] = 64 * an.GIB
    assert an.analyse(facts, blocks_to_swap=32, swap_gb=need).find("ram.block_swap") is None


def test_wsl_command_forms():
    t = Target(host=HostSpec.of("wsl", distro="Ubuntu-24.04"), python="/home/u/venv/bin/python",
               checkout="/home/u/diffusion-pipe", platform="win32")
    steps = probe_steps(t)
    argv = steps[0].argv
    assert argv[:6] == ["wsl.exe", "-d", "Ubuntu-24.04", "--cd", "/home/u/diffusion-pipe", "--"]
    assert argv[6:8] == ["/home/u/venv/bin/python", "-"]
    assert json.loads(argv[8].strip("'")) == {"checkout": "/home/u/diffusion-pipe", "outputs": []}
    assert steps[0].stdin == PROBE_SOURCE.encode()
    assert steps[1].argv == ["wsl.exe", "--list", "--verbose"]
    with pytest.raises(TargetError, match="on Linux"):
        probe_steps(Target(host="wsl", platform="linux"))
    # Windows paths from the settings become Linux paths for the probe
    t = doctor.default_target(checkout=r"C:\dp", python="python3", host="wsl", platform="win32", saved={},
                              environ={})
    assert t.checkout == "/mnt/c/dp" and t.checkout_host == "C:\\dp"
    assert t.python == "python3"
    for setting, want in (("/home/u/venv", "/home/u/venv/bin/python"),
                          ("/home/u/venv/bin/deepspeed", "/home/u/venv/bin/python"),
                          ("/opt/conda/envs/dp/bin/python3.12", "/opt/conda/envs/dp/bin/python3.12")):
        t = doctor.default_target(host="wsl", platform="win32", saved={"deepspeed": setting}, environ={})
        assert t.python == want, setting


def test_unknown_host_is_a_clear_message(capsys):
    rc = cli.main(["doctor", "--host", "gpu-box-7"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "unknown host 'gpu-box-7'" in err and "'local'" in err and "'wsl'" in err
    assert "'local' (this machine)" in err
    rc = cli.main(["doctor", "--host", "wsl", "--host-field", "distro"])
    assert rc == 2 and "NAME=VALUE" in capsys.readouterr().err


def test_host_fields_from_options_and_settings():
    saved = {"wsl_distro": "Saved-Distro"}
    t = doctor.default_target(host="wsl", platform="win32", saved=saved, environ={})
    assert t.host == HostSpec.of("wsl", distro="Saved-Distro")
    t = doctor.default_target(host="wsl", host_fields={"distro": "Other"}, platform="win32",
                              saved=saved, environ={})
    assert t.host_of().describe() == "WSL (Other)"
    # a complete spec (the GUI's: where a launch with the settings runs) is taken as is
    t = doctor.default_target(host=HostSpec.of("wsl", distro="X", python="python3.12"),
                              platform="win32", saved=saved, environ={})
    assert t.host == HostSpec.of("wsl", distro="X", python="python3.12")
    assert doctor.parse_host_fields(["distro=Ubuntu 24", " a = b "]) == {"distro": "Ubuntu 24", "a": "b"}
    with pytest.raises(TargetError, match="unknown host 'nope'"):
        Target(host="nope")


def test_old_python_finding():
    r = an.analyse({"python": {"version": "3.8.10", "executable": "/usr/bin/python3.8"}})
    assert r.find("python.old").is_error and "python=3.12" in r.find("python.old").fix


def test_parse_probe_errors():
    with pytest.raises(an.ProbeError, match="no result"):
        an.parse_probe(b"", b"Traceback\nSyntaxError: bad", 1)
    with pytest.raises(an.ProbeError, match="not valid JSON"):
        an.parse_probe(MARKER + "{oops")


# --------------------------------------------------------------------------- settings, CLI
def test_python_from_the_environment_setting(tmp_path, envs):
    assert python_of_env(str(envs["good"]))[0] == str(py(envs["good"]))
    launcher = tmp_path / "deepspeed"
    launcher.write_text(f"#!{py(envs['good'])}\nimport deepspeed\n")
    assert python_of_env(str(launcher))[0] == str(py(envs["good"]))
    launcher.write_text("#!/usr/bin/env python3.12\n")
    assert python_of_env(str(launcher))[0] == "python3.12"


def test_saved_settings_are_read_without_qt(tmp_path, monkeypatch, envs):
    ini = tmp_path / "dpgui.ini"
    ini.write_text(f"[run]\ncheckout=/srv/dp\ndeepspeed={envs['good']}\ngpu_count=2\n")
    assert saved_environment(ini) == {"checkout": "/srv/dp", "deepspeed": str(envs["good"])}
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    t = doctor.default_target(environ={})
    assert t.python == str(py(envs["good"])) and t.checkout == "/srv/dp"


def test_cli_json_and_exit_status(envs, no_smi, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    rc = cli.main(["doctor", "--python", str(py(envs["bare"])), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    assert data["errors"] >= 2
    codes = {f["code"] for f in data["findings"]}
    assert {"torch.missing", "deepspeed.missing"} <= codes
    f = next(f for f in data["findings"] if f["code"] == "torch.missing")
    assert set(f) >= {"severity", "title", "why", "fix"}


def test_cli_text_clean_environment_exits_0(envs, monkeypatch, tmp_path, capsys):
    with_smi(monkeypatch, tmp_path, RTX4090)
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    rc = cli.main(["doctor", "--python", str(py(envs["good"]))])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "0 errors" in out and "torch 2.9.0+cu128, built for CUDA 12.8" in out


def test_native_windows_python_is_an_error():
    # this machine's host says what to do about it (the doctor itself does not know WSL)
    r = an.analyse({"python": {"version": "3.12.3", "platform": "win32"}}, host=LocalHost())
    assert r.find("windows.native").is_error and "--host wsl" in r.find("windows.native").fix
    assert r.findings[0].code == "windows.native"          # the root cause comes first
    assert an.analyse({"python": {"version": "3.12.3", "platform": "win32"}}).find("windows.native") is None
    assert an.analyse({"python": {"version": "3.12.3", "platform": "linux"}},
                      host=LocalHost()).find("windows.native") is None


def test_cli_config_brings_model_and_block_swap(envs, no_smi, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    cfg = tmp_path / "c.toml"
    (tmp_path / "imgs").mkdir()
    (tmp_path / "ds.toml").write_text("resolutions = [1024]\n[[directory]]\npath = '%s'\n" % (tmp_path / "imgs"))
    cfg.write_text("output_dir = '%s'\ndataset = 'ds.toml'\nblocks_to_swap = 30\n[model]\ntype = 'hunyuan_image'\n"
                   % (tmp_path / "out"))
    rc = cli.main(["doctor", "--python", str(py(envs["bare"])), "--config", str(cfg), "--json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 1
    codes = {f["code"] for f in data["findings"]}
    assert "flash_attn.required" in codes
    assert any(d["label"] == "output" for d in data["facts"]["disk"])
    cache = next(d for d in data["facts"]["disk"] if d["label"] == "dataset cache 1")
    assert cache["path"] == str(tmp_path / "imgs")
    assert cli.main(["doctor", "--config", str(tmp_path / "missing.toml")]) == 2


def test_fifo_dataset_and_requirements_never_block(envs, no_smi, tmp_path):
    os.mkfifo(tmp_path / "ds.toml")
    assert doctor.cache_places({"dataset": "ds.toml"}, tmp_path / "c.toml") == []
    co = tmp_path / "co"
    co.mkdir()
    (co / "train.py").write_text("")
    os.mkfifo(co / "requirements.txt")
    os.mkfifo(co / ".gitmodules")
    r = examine(py(envs["good"]), co)                 # returns (the probe skips FIFOs)
    assert r.find("requirements.ok") is None and r.find("checkout.not_git") is not None
