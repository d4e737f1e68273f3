"""Real interpreters for the doctor tests: venvs (made once per session) with
stand-in ``torch``, ``deepspeed`` and ``flash_attn`` packages whose reported
versions, CUDA builds, architectures and GPUs are set per case, and a fake
``nvidia-smi`` printing what a given driver would print."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

GIB = 1024 ** 3
ORIG_PATH = os.environ.get("PATH", "")

TORCH_INIT = '''
import json as _json, os as _os
_CFG = _json.load(open(_os.path.join(_os.path.dirname(__file__), "fake.json")))
__version__ = _CFG["version"]
from . import version, cuda
'''
TORCH_VERSION = '''
import json as _json, os as _os
cuda = _json.load(open(_os.path.join(_os.path.dirname(__file__), "fake.json")))["cuda"]
'''
TORCH_CUDA = '''
import json as _json, os as _os
_CFG = _json.load(open(_os.path.join(_os.path.dirname(__file__), "fake.json")))
def is_available():
    if _CFG.get("available_raises"):
        raise RuntimeError(_CFG["available_raises"])
    return _CFG["available"]
def get_arch_list():
    return list(_CFG["arch_list"]) if _CFG["available"] else []
def device_count():
    return len(_CFG["devices"])
def get_device_name(i):
    return _CFG["devices"][i]["name"]
def get_device_capability(i):
    return tuple(_CFG["devices"][i]["capability"])
def mem_get_info(i):
    d = _CFG["devices"][i]
    return d["free"], d["total"]
'''


def site_packages(env: Path) -> Path:
    return next((env / "lib").glob("python*/site-packages"))


def make_venv(path: Path) -> Path:
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(path)
    return path / "bin" / "python"


def add_torch(env: Path, version="2.9.0+cu128", cuda="12.8", available=True,
              arch_list=("sm_75", "sm_80", "sm_86", "sm_90", "sm_100", "sm_120"),
              devices=None, available_raises=None) -> None:
    pkg = site_packages(env) / "torch"
    pkg.mkdir()
    cfg = {"version": version, "cuda": cuda, "available": available, "arch_list": list(arch_list),
           "devices": devices if devices is not None else [gpu()],
           "available_raises": available_raises}
    (pkg / "fake.json").write_text(json.dumps(cfg))
    (pkg / "__init__.py").write_text(TORCH_INIT)
    (pkg / "version.py").write_text(TORCH_VERSION)
    (pkg / "cuda.py").write_text(TORCH_CUDA)


def gpu(name="NVIDIA GeForce RTX 4090", capability=(8, 9), total_gb=24, free_gb=23.5) -> dict:
    return {"name": name, "capability": list(capability), "total": int(total_gb * GIB),
            "free": int(free_gb * GIB)}


def add_module(env: Path, name: str, version: str | None = "0.18.4", raises: str | None = None,
               dist: bool = True) -> None:
    sp = site_packages(env)
    pkg = sp / name
    pkg.mkdir()
    body = f"raise ImportError({raises!r})\n" if raises else f"__version__ = {version!r}\n"
    (pkg / "__init__.py").write_text("print('noise from an import on stdout')\n" + body)
    if dist and version:
        d = sp / f"{name}-{version}.dist-info"
        d.mkdir()
        (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def add_dist(env: Path, name: str, version: str) -> None:
    d = site_packages(env) / f"{name}-{version}.dist-info"
    d.mkdir()
    (d / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")


def fake_smi(folder: Path, gpus: list[tuple[str, str, int, int, str]] | None, fail: str | None = None) -> Path:
    """An ``nvidia-smi`` answering the doctor's query: (name, driver, total MiB, free MiB, cap)."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "nvidia-smi"
    if fail:
        body = f"import sys\nprint({fail!r})\nsys.exit(9)\n"
    else:
        rows = [f"{i}, {n}, {d}, {t}, {f}, {c}" for i, (n, d, t, f, c) in enumerate(gpus or [])]
        body = "print(" + repr("\n".join(rows)) + ")\n"
    exe.write_text(f"#!{sys.executable}\n" + body)
    exe.chmod(0o755)
    return folder


def git(*args, cwd) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t.invalid",
               GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t.invalid", GIT_CONFIG_NOSYSTEM="1", PATH=ORIG_PATH)
    return subprocess.run(["git", "-c", "protocol.file.allow=always", "-c", "init.defaultBranch=main",
                           *args], cwd=cwd, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


TRAIN_PY = textwrap.dedent('''
    # a stand-in for diffusion-pipe's train.py at a later commit (never run)
    import toml

    if __name__ == '__main__':
        config = toml.load('config.toml')
        model_type = config['model']['type']
        if model_type == 'wan':
            from models import wan
            model = wan.WanPipeline(config)
        elif model_type == 'flux':
            from models import flux
            model = flux.FluxPipeline(config)
        elif model_type == 'zeta_video':
            from models import zeta
            model = zeta.ZetaPipeline(config)
        else:
            raise NotImplementedError(model_type)
''')
