"""What the Run page launches: environment settings (persisted), per-run options,
and the one function that turns them into a :class:`~dpgui_qt.core.run.spec.RunSpec`.

The spec is built by the core's :func:`~dpgui_qt.core.run.launch.build_spec`, the
same constructor ``dpgui launch`` uses, from the resolved checkout and launcher;
the train.py switches come from the one table in
:mod:`~dpgui_qt.core.run.switches`.  :func:`launch_args` writes the same settings
as ``dpgui launch`` arguments (the "copy headless command" text); the preview test
checks that both give the same command.  Only the GUI sets the host (where the
trainer runs, see ``core/run/hosts``) and separate NCCL switches.
"""
from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import asdict, dataclass, field, fields
from typing import Any, cast
from pathlib import Path

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.launch import build_spec as build_run_spec
from dpgui_qt.core.run.launch import default_state_dir
from dpgui_qt.core.run.spec import RunSpec

SETTINGS_GROUP = "run"

@dataclass
class EnvSettings:
    """Machine-level settings, persisted in the app's settings file."""
    checkout: str = ""              # "" = auto ($DPGUI_DIFFUSION_PIPE, then ref/diffusion-pipe)
    deepspeed: str = ""             # venv/conda dir or executable; "" = deepspeed on PATH
    gpu_mode: str = "count"         # "count" | "list" | "all"
    gpu_count: int = 1
    gpu_list: str = "0"
    master_port: int = 0            # 0 = DeepSpeed's default (29500)
    nccl_p2p_disable: bool = True
    nccl_ib_disable: bool = True
    expandable_segments: bool = False
    extra_env: dict[str, str] = field(default_factory=dict)
    wsl_distro: str = ""
    stop_grace_s: float = 20.0
    console_max_lines: int = 200_000

    # -- derived --------------------------------------------------------
    def gpus(self) -> int | list[int] | None:
        if self.gpu_mode == "all":
            return None
        if self.gpu_mode == "list":
            return parse_gpu_list(self.gpu_list)
        return int(self.gpu_count)

    def gpu_count_or_none(self) -> int | None:
        g = self.gpus()
        return None if g is None else (g if isinstance(g, int) else len(g))

    # -- persistence ----------------------------------------------------
    @classmethod
    def load(cls, qsettings=None) -> "EnvSettings":
        if qsettings is None:
            from dpgui_qt.gui import settings as st
            qsettings = st.settings()
        out = cls()
        for f in fields(cls):
            key = f"{SETTINGS_GROUP}/{f.name}"
            if not qsettings.contains(key):
                continue
            raw = qsettings.value(key)
            default = getattr(out, f.name)
            val: Any
            try:
                if isinstance(default, bool):
                    val = raw if isinstance(raw, bool) else str(raw).lower() in ("1", "true", "yes")
                elif isinstance(default, int):
                    val = int(raw)
                elif isinstance(default, float):
                    val = float(raw)
                elif isinstance(default, dict):
                    val = json.loads(raw) if isinstance(raw, str) and raw else {}
                    val = {str(k): str(v) for k, v in dict(val).items()}
                else:
                    val = "" if raw is None else str(raw)
            except (TypeError, ValueError):
                continue
            setattr(out, f.name, val)
        if out.gpu_mode not in ("count", "list", "all"):
            out.gpu_mode = "count"
        stored = _secret_store(qsettings).get(f"{SETTINGS_GROUP}/extra_env", {})
        if isinstance(stored, dict):
            out.extra_env.update({str(k): str(v) for k, v in stored.items()})
        return out

    def save(self, qsettings=None) -> None:
        if qsettings is None:
            from dpgui_qt.gui import settings as st
            qsettings = st.settings()
        from dpgui_qt.core.secrets import is_secret_name

        # credentials (WANDB_API_KEY, HF_TOKEN, ...) never go into the settings file, which
        # is readable by every user; they live in a 0600 file next to it
        secret = {k: v for k, v in self.extra_env.items() if is_secret_name(k)}
        _secret_store(qsettings).put(f"{SETTINGS_GROUP}/extra_env", secret)
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name == "extra_env":
                v = {k: val for k, val in v.items() if k not in secret}
            qsettings.setValue(f"{SETTINGS_GROUP}/{f.name}", json.dumps(v) if isinstance(v, dict) else v)
        qsettings.sync()


def _secret_store(qsettings):
    """The private (0600) store beside the settings file ``qsettings`` writes."""
    from dpgui_qt.core.secrets import SecretStore

    name = qsettings.fileName() if hasattr(qsettings, "fileName") else ""
    if name and os.path.isabs(name):
        folder = Path(name).parent
    else:
        from dpgui_qt.gui import settings as st
        folder = st.config_dir()
    return SecretStore(folder / "dpgui-secrets.json")


@dataclass
class RunOptions:
    """Per-run train.py options (chosen on the Run page, not persisted)."""
    resume: str = ""                # run-folder name inside output_dir; "" = fresh run
    # train.py switches by name (core.run.switches.TRAIN_SWITCHES); unset = default
    switches: dict[str, bool | str] = field(default_factory=dict)

    def switch(self, name: str) -> bool | str:
        """The value of switch ``name``: its default when unset ("" for a path)."""
        value = self.switches.get(name)
        if value is None:
            return False if sw.switch(name).kind == "bool" else ""
        return value


def parse_gpu_list(text: str) -> list[int]:
    """"0,2" / "localhost:0,2" / "0 2" -> [0, 2] (ValueError with a readable message)."""
    t = str(text).strip()
    if t.startswith("localhost:"):
        t = t[len("localhost:"):]
    parts = [p for p in t.replace(" ", ",").split(",") if p.strip()]
    try:
        ids = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"GPU ids are numbers separated by commas (e.g. 0,2), not {text!r}") from None
    if not ids:
        raise ValueError("the GPU list is empty")
    return ids


# --------------------------------------------------------------------------
# detection shown in the settings dialog and used for the spec
@dataclass
class Detected:
    checkout: str | None            # resolved checkout (None when not found)
    checkout_error: str | None
    deepspeed: str | None           # resolved launcher (None when not found)
    deepspeed_error: str | None


def detect(env: EnvSettings, environ=None) -> Detected:
    try:
        co, co_err = str(envmod.find_checkout(env.checkout or None, environ)), None
    except envmod.SetupError as e:
        co, co_err = None, str(e)
    try:
        ds, ds_err = envmod.find_deepspeed(env.deepspeed or None, environ), None
    except envmod.SetupError as e:
        ds, ds_err = None, str(e)
    return Detected(co, co_err, ds, ds_err)


# --------------------------------------------------------------------------
# settings -> dpgui launch arguments -> RunSpec
def launch_args(config: str | os.PathLike, env: EnvSettings, opts: RunOptions,
                checkout: str | None = None, deepspeed: str | None = None) -> list[str]:
    """The ``dpgui launch`` arguments (without ``launch`` itself) for these settings.
    ``checkout``/``deepspeed`` default to the settings' raw values."""
    args: list[str] = [os.fspath(config)]
    co = checkout if checkout is not None else env.checkout
    ds = deepspeed if deepspeed is not None else env.deepspeed
    if co:
        args += ["--checkout", os.fspath(co)]
    if ds:
        args += ["--deepspeed", os.fspath(ds)]
    if env.gpu_mode == "all":
        args.append("--all-gpus")
    elif env.gpu_mode == "list":
        args += ["--include", ",".join(str(g) for g in parse_gpu_list(env.gpu_list))]
    else:
        args += ["--gpus", str(int(env.gpu_count))]
    if env.master_port:
        args += ["--master-port", str(int(env.master_port))]
    if opts.resume:
        args += ["--resume", opts.resume]
    for switch in sw.TRAIN_SWITCHES:
        value = opts.switch(switch.name)
        if switch.is_set(value):
            args.append(switch.cli_flags[0])
            if switch.kind == "path":
                args.append(os.fspath(cast("str | os.PathLike[str]", value)))
    extra = dict(env.extra_env)
    if not env.nccl_p2p_disable or not env.nccl_ib_disable:
        args.append("--no-nccl-workaround")
        # the CLI has one switch for both; a single one is passed as a variable
        # (RunSpec puts NCCL_* first, then extra variables, so the result is the same)
        nccl = {}
        if env.nccl_p2p_disable:
            nccl["NCCL_P2P_DISABLE"] = "1"
        if env.nccl_ib_disable:
            nccl["NCCL_IB_DISABLE"] = "1"
        extra = {**nccl, **{k: v for k, v in extra.items() if k not in nccl}}
    if env.expandable_segments:
        args.append("--expandable-segments")
    for k, v in extra.items():
        args += ["--env", f"{k}={v}"]
    return args


def build_spec(config: str | os.PathLike, env: EnvSettings, opts: RunOptions,
               platform: str | None = None, environ=None) -> tuple[RunSpec, Detected]:
    """The RunSpec ``dpgui launch`` builds for the same settings, plus what was
    detected.  Raises SpecError / ValueError with user-facing text."""
    det = detect(env, environ)
    # like `dpgui launch`: the resolved checkout/launcher; an unresolvable setting is
    # kept as typed so the preview still shows it (pre-flight reports it)
    checkout = det.checkout or (env.checkout or None)
    deepspeed = det.deepspeed
    host = host_spec(env, platform)
    if deepspeed is None and env.deepspeed and not hosts.make(host).is_this_machine:
        # an environment on the host cannot be resolved from this machine; pass it
        # through (the host translates it, pre-flight checks what it can see)
        deepspeed = env.deepspeed
    spec = build_run_spec(
        config, checkout=checkout, deepspeed=deepspeed, gpus=env.gpus(),
        master_port=int(env.master_port) if env.master_port else None, resume=opts.resume,
        switches={s.name: opts.switch(s.name) for s in sw.TRAIN_SWITCHES},
        nccl_p2p_disable=env.nccl_p2p_disable, nccl_ib_disable=env.nccl_ib_disable,
        expandable_segments=env.expandable_segments, extra_env=env.extra_env, host=host)
    return spec, det


def host_spec(env: EnvSettings, platform: str | None = None):
    """Where the trainer runs for these settings: this machine's default host
    (WSL on Windows), with the distribution the settings name."""
    return hosts.default_spec(platform, distro=env.wsl_distro or None)


def headless_command(config: str | os.PathLike, env: EnvSettings, opts: RunOptions) -> str:
    """The equivalent ``dpgui launch`` command line (for running the same thing over SSH)."""
    return " ".join(shlex.quote(a) for a in ["dpgui", "launch", *launch_args(config, env, opts)])


def state_root() -> Path:
    """Where run state lives: the same folder ``dpgui launch`` uses, so the GUI and the
    CLI see each other's runs."""
    return default_state_dir()


def current_platform() -> str:
    return sys.platform


__all__ = ["EnvSettings", "RunOptions", "Detected", "detect", "launch_args",
           "build_spec", "headless_command", "state_root", "parse_gpu_list", "asdict"]
