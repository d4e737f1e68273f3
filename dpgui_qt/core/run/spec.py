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
from dataclasses import dataclass, field
from typing import Sequence

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.hosts import Host, HostSpec
from dpgui_qt.core.secrets import is_secret_name, mask

DEFAULT_MASTER_PORT = 29500


class SpecError(ValueError):
    """The spec cannot be turned into a command (message is user-facing)."""


@dataclass(frozen=True)
class LaunchCommand:
    """A fully resolved command, as the host runs it.

    ``argv`` is what the run supervisor executes on the host (never a shell
    string; host paths).  ``env`` holds only the variables dpgui adds; the
    supervisor merges them over its environment (``process_env()`` does the same
    here).  ``cwd`` is the trainer's working directory on the host (the checkout).
    ``host`` is where it runs; ``host.wrap(argv, env, cwd)`` is the command that
    runs it there from this machine.
    """
    argv: list[str]
    env: dict[str, str]
    cwd: str
    trainer_cwd: str          # the checkout as the trainer sees it (== cwd)
    host: Host = field(default_factory=lambda: hosts.make(HostSpec("local")))

    def process_env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        merged = dict(os.environ if base is None else base)
        merged.update(self.env)
        return merged

    def preview(self, reveal_secrets: bool = False) -> str:
        """A copyable one-line command (``cd <checkout> && VAR=... deepspeed ...`` on
        this machine; the host's own form elsewhere).

        Values of secret variables (``WANDB_API_KEY``, ``HF_TOKEN``, ...; see
        :mod:`dpgui_qt.core.secrets`) are masked unless ``reveal_secrets``."""
        env = self.env if reveal_secrets else masked_env(self.env)
        return self.host.preview(self.argv, env, self.trainer_cwd)


def masked_env(env: dict[str, str]) -> dict[str, str]:
    """``env`` with the values of secret variables masked (for display and logs)."""
    return {k: (mask(v) if is_secret_name(k) else v) for k, v in env.items()}


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
    ``host``: where the trainer runs (see :mod:`dpgui_qt.core.run.hosts`); None
    is this machine's default (:func:`hosts.default_spec`).  Paths given here are
    local paths; the host translates them.
    """
    config: str | os.PathLike[str]
    checkout: str | os.PathLike[str] | None = None
    deepspeed: str | os.PathLike[str] | None = None
    gpus: int | Sequence[int] | None = 1
    master_port: int | None = None
    resume_from_checkpoint: str | None = None
    switches: dict[str, bool | str | os.PathLike[str] | None] = field(default_factory=dict)
    nccl_p2p_disable: bool = True
    nccl_ib_disable: bool = True
    expandable_segments: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    host: HostSpec | None = None

    # -- derived values -------------------------------------------------
    def target(self) -> Host:
        """The host that runs the trainer, completed from the checkout's path."""
        return hosts.make(self.host or hosts.default_spec()).for_paths(self.checkout)

    @property
    def gpu_count(self) -> int | None:
        """Number of processes the launcher will start (None = all GPUs)."""
        if self.gpus is None:
            return None
        if isinstance(self.gpus, int):
            return self.gpus
        return len(list(self.gpus))

    def switch(self, name: str) -> bool | str | os.PathLike[str] | None:
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

    def _trainer_path(self, p: str | os.PathLike[str]) -> str:
        """A path as the trainer sees it (the host translates it)."""
        return self.target().to_host_path(p)

    def deepspeed_executable(self) -> str:
        """The launcher as the trainer side sees it."""
        return self.target().executable(self.deepspeed, "deepspeed")

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
        cwd = self.trainer_cwd()
        return LaunchCommand(inner, self.trainer_env(), cwd, cwd, self.target())

    @property
    def argv(self) -> list[str]:
        return self.command().argv

    @property
    def env(self) -> dict[str, str]:
        return self.command().env

    @property
    def cwd(self) -> str:
        return self.command().cwd

    def preview(self, reveal_secrets: bool = False) -> str:
        return self.command().preview(reveal_secrets)
