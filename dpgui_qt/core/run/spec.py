"""What a diffusion-pipe training run is: ``RunSpec`` -> argv, environment, cwd.

The command has the form diffusion-pipe's README documents, run from the
checkout root (train.py opens paths such as ``configs/...`` relative to it)::

    NCCL_P2P_DISABLE=1 NCCL_IB_DISABLE=1 deepspeed --num_gpus=1 train.py --deepspeed --config examples/x.toml

``--deepspeed_config`` is never passed: train.py hands DeepSpeed a config dict
and DeepSpeed refuses both at once.
"""
from __future__ import annotations

import os
import posixpath
import shlex
import subprocess
from dataclasses import dataclass, field
from typing import Sequence

from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run import wsl
from dpgui_qt.core.secrets import is_secret_name, mask

DEFAULT_MASTER_PORT = 29500


class SpecError(ValueError):
    """The spec cannot be turned into a command (message is user-facing)."""


@dataclass(frozen=True)
class LaunchCommand:
    """A fully resolved command.

    ``argv`` is what to execute (never a shell string).  ``env`` holds only the
    variables dpgui adds; merge them over ``os.environ`` (``process_env()``).
    On Windows the variables are already inside argv (``wsl.exe ... env K=V``)
    and ``process_env()`` adds nothing.  ``cwd`` is the directory the process
    is started in (on Windows: ``None``, wsl.exe gets ``--cd``).
    """
    argv: list[str]
    env: dict[str, str]
    cwd: str | None
    trainer_cwd: str          # the checkout as the trainer sees it (Linux path)
    windows: bool = False

    def process_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        merged = dict(os.environ if base is None else base)
        if not self.windows:
            merged.update(self.env)
        return merged

    def preview(self, reveal_secrets: bool = False) -> str:
        """A copyable one-line command: ``cd <checkout> && VAR=... deepspeed ...``.

        Values of secret variables (``WANDB_API_KEY``, ``HF_TOKEN``, ...; see
        :mod:`dpgui_qt.core.secrets`) are masked unless ``reveal_secrets``."""
        if self.windows:
            return subprocess.list2cmdline(
                self.argv if reveal_secrets else [_masked_assignment(a) for a in self.argv])
        env = self.env if reveal_secrets else masked_env(self.env)
        parts = [f"{k}={shlex.quote(v)}" for k, v in env.items()]
        parts += [shlex.quote(a) for a in self.argv]
        return f"cd {shlex.quote(self.trainer_cwd)} && " + " ".join(parts)


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the values of secret variables masked (for display and logs)."""
    return {k: (mask(v) if is_secret_name(k) else v) for k, v in env.items()}


def _masked_assignment(arg: str) -> str:
    k, sep, v = arg.partition("=")
    return f"{k}={mask(v)}" if sep and k and is_secret_name(k) else arg


@dataclass
class RunSpec:
    """Everything needed to start one training run.

    ``deepspeed``: a venv/conda environment directory (its ``bin/deepspeed`` is
    used), a path to the ``deepspeed`` executable itself, or None for
    ``deepspeed`` on PATH.  ``gpus``: an int -> ``--num_gpus=N``; a list of GPU
    ids -> ``--include localhost:0,2``; None -> let DeepSpeed use every GPU.
    ``resume_from_checkpoint``: a run-folder name inside output_dir (a path is
    reduced to its last component); always explicit, because the bare flag
    picks ``sorted(glob(output_dir/*))[-1]``, which may be a failed run.
    ``switches``: train.py switches by name (the rows of
    :data:`~dpgui_qt.core.run.switches.TRAIN_SWITCHES`), e.g.
    ``{"cache_only": True, "dump_dataset": "/data/dump"}``.
    ``platform``: ``sys.platform``-style override so the Windows/WSL form is
    testable on Linux.
    """
    config: str | os.PathLike
    checkout: str | os.PathLike | None = None
    deepspeed: str | os.PathLike | None = None
    gpus: int | Sequence[int] | None = 1
    master_port: int | None = None
    resume_from_checkpoint: str | None = None
    switches: dict[str, bool | str | os.PathLike | None] = field(default_factory=dict)
    nccl_p2p_disable: bool = True
    nccl_ib_disable: bool = True
    expandable_segments: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    platform: str | None = None
    wsl_distro: str | None = None

    # -- derived values -------------------------------------------------
    @property
    def windows(self) -> bool:
        return wsl.is_windows(self.platform)

    @property
    def gpu_count(self) -> int | None:
        """Number of processes the launcher will start (None = all GPUs)."""
        if self.gpus is None:
            return None
        if isinstance(self.gpus, int):
            return self.gpus
        return len(list(self.gpus))

    def switch(self, name: str) -> bool | str | os.PathLike | None:
        """The value of the train.py switch ``name`` (its default when not set)."""
        return self.switches.get(name, sw.switch(name).default)

    @property
    def exits_early_ok(self) -> bool:
        """A switch makes the trainer stop before training on purpose (--cache_only,
        --dump_dataset): a clean exit then counts as finished."""
        return sw.ends_early(self.switches)

    @property
    def resume_name(self) -> str | None:
        if self.resume_from_checkpoint in (None, ""):
            return None
        name = str(self.resume_from_checkpoint).replace("\\", "/").rstrip("/")
        return posixpath.basename(name)

    def _host_path(self, p: str | os.PathLike) -> str:
        s = os.fspath(p)
        if self.windows:
            return s
        return os.path.abspath(os.path.expanduser(s))

    def _trainer_path(self, p: str | os.PathLike) -> str:
        """A path as the trainer sees it (Linux; translated on Windows)."""
        s = self._host_path(p)
        return wsl.to_linux_path(s) if self.windows else s

    def deepspeed_executable(self) -> str:
        """The launcher as the trainer side sees it."""
        if self.deepspeed in (None, ""):
            return "deepspeed"
        s = os.fspath(self.deepspeed)
        base = s.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1].lower()
        if base in ("deepspeed", "deepspeed.exe"):
            exe = s
        elif self.windows:
            exe = s.rstrip("\\/") + "/bin/deepspeed"      # a Linux env inside WSL
        else:
            exe = os.path.join(s, "bin", "deepspeed")
        return self._trainer_path(exe) if ("/" in exe or "\\" in exe) else exe

    def trainer_env(self) -> dict[str, str]:
        env: dict[str, str] = {}
        if self.nccl_p2p_disable:
            env["NCCL_P2P_DISABLE"] = "1"
        if self.nccl_ib_disable:
            env["NCCL_IB_DISABLE"] = "1"
        if self.expandable_segments:
            env["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"
        for k, v in self.extra_env.items():
            if not k or "=" in k or not k.replace("_", "a").isalnum():
                raise SpecError(f"invalid environment variable name: {k!r}")
            env[str(k)] = str(v)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def launcher_args(self) -> list[str]:
        args: list[str] = []
        if self.gpus is not None:
            if isinstance(self.gpus, int):
                if self.gpus < 1:
                    raise SpecError("the GPU count must be at least 1")
                args.append(f"--num_gpus={self.gpus}")
            else:
                ids = [int(g) for g in self.gpus]
                if not ids:
                    raise SpecError("the GPU list is empty")
                if len(set(ids)) != len(ids) or min(ids) < 0:
                    raise SpecError(f"invalid GPU list: {ids}")
                args += ["--include", "localhost:" + ",".join(str(g) for g in ids)]
        if self.master_port is not None:
            args.append(f"--master_port={self._port()}")
        return args

    def _port(self) -> int:
        port = int(self.master_port)  # type: ignore[arg-type]
        if not 1 <= port <= 65535:
            raise SpecError(f"invalid master port: {port}")
        return port

    def config_arg(self) -> str:
        cfg = self._trainer_path(self.config)
        cwd = self.trainer_cwd()
        if cfg.startswith(cwd.rstrip("/") + "/"):
            return cfg[len(cwd.rstrip("/")) + 1:]     # README form: examples/x.toml
        return cfg

    def trainer_cwd(self) -> str:
        if self.checkout in (None, ""):
            raise SpecError("no diffusion-pipe checkout is set")
        return self._trainer_path(self.checkout).rstrip("/") or "/"

    def train_args(self) -> list[str]:
        args = ["train.py", "--deepspeed", "--config", self.config_arg()]
        if self.resume_name is not None:
            if self.resume_name in ("", ".", ".."):
                raise SpecError(f"invalid run folder to resume: {self.resume_from_checkpoint!r}")
            args += ["--resume_from_checkpoint", self.resume_name]
        problems = sw.check_values(self.switches)
        if problems:
            raise SpecError(problems[0])
        args += sw.train_args(self.switches, self._trainer_path)
        if self.master_port is not None:
            args += ["--master_port", str(self._port())]
        return args

    # -- the command ----------------------------------------------------
    def command(self) -> LaunchCommand:
        inner = [self.deepspeed_executable(), *self.launcher_args(), *self.train_args()]
        env = self.trainer_env()
        cwd = self.trainer_cwd()
        if self.windows:
            distro = self.wsl_distro or wsl.distro_from_path(os.fspath(self.checkout))
            return LaunchCommand(wsl.wrap_argv(inner, env, cwd, distro), env, None, cwd, True)
        return LaunchCommand(inner, env, cwd, cwd, False)

    @property
    def argv(self) -> list[str]:
        return self.command().argv

    @property
    def env(self) -> dict[str, str]:
        return self.command().env

    @property
    def cwd(self) -> str | None:
        return self.command().cwd

    def preview(self, reveal_secrets: bool = False) -> str:
        return self.command().preview(reveal_secrets)
