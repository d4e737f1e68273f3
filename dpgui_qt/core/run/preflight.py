"""Environment settings and detection: where diffusion-pipe and deepspeed are,
and pre-flight checks before a launch.

``preflight`` is a list of small check functions over a ``PreflightContext``;
callers add their own (e.g. the config validator's findings) through
``extra_checks`` or by concatenating finding lists.
"""
from __future__ import annotations

import os
import shutil
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from dpgui_qt.core.run.spec import RunSpec, SpecError

ENV_CHECKOUT = "DPGUI_DIFFUSION_PIPE"
ENV_DEEPSPEED = "DPGUI_DEEPSPEED"
REPO_ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MIN_FREE_GB = 20.0
MIN_FREE_ERROR_BYTES = 1 << 30   # below this an output_dir's disk counts as full


def free_bytes(path: str | os.PathLike[str]) -> int | None:
    """Free space at ``path`` for this user (a seam the tests replace)."""
    from dpgui_qt.core.run.supervisor import free_bytes as _free
    return _free(path)


def _size(n: int) -> str:
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n} bytes"


class SetupError(RuntimeError):
    """Something the user must fix before launching (message is user-facing)."""


# --------------------------------------------------------------------------
# detection
def _is_checkout(path: Path) -> bool:
    return (path / "train.py").is_file()


def find_checkout(setting: str | os.PathLike[str] | None = None,
                  environ: Mapping[str, str] | None = None,
                  repo_root: str | os.PathLike[str] | None = None) -> Path:
    """The diffusion-pipe checkout: the explicit setting, else $DPGUI_DIFFUSION_PIPE,
    else ``<repo>/ref/diffusion-pipe``.  It must contain train.py."""
    environ = os.environ if environ is None else environ
    tried: list[tuple[str, Path]] = []
    if setting not in (None, ""):
        tried.append(("the checkout setting", Path(setting).expanduser()))
    elif environ.get(ENV_CHECKOUT):
        tried.append((f"${ENV_CHECKOUT}", Path(environ[ENV_CHECKOUT]).expanduser()))
    else:
        tried.append(("the default location", Path(repo_root or REPO_ROOT) / "ref" / "diffusion-pipe"))
    source, path = tried[0]
    if _is_checkout(path):
        return path.resolve()
    if not path.exists():
        why = "does not exist"
    elif not path.is_dir():
        why = "is not a folder"
    else:
        why = "has no train.py, so it is not a diffusion-pipe checkout"
    raise SetupError(
        f"diffusion-pipe checkout not found: {path} ({source}) {why}. "
        f"Clone https://github.com/tdrussell/diffusion-pipe (with --recurse-submodules) and "
        f"point dpgui at it with --checkout DIR, the setting, or ${ENV_CHECKOUT}.")


def deepspeed_in_env(env_dir: str | os.PathLike[str], platform: str | None = None) -> Path | None:
    """``<env>/bin/deepspeed`` (``<env>\\Scripts\\deepspeed.exe`` for a native Windows env)."""
    from dpgui_qt.core.run.hosts.local import env_executable
    return env_executable(env_dir, "deepspeed", platform)


def find_deepspeed(setting: str | os.PathLike[str] | None = None,
                   environ: Mapping[str, str] | None = None,
                   platform: str | None = None) -> str:
    """The deepspeed launcher: a venv/conda env dir or an executable given as
    setting (or $DPGUI_DEEPSPEED), else ``deepspeed`` on PATH."""
    environ = os.environ if environ is None else environ
    value = setting if setting not in (None, "") else environ.get(ENV_DEEPSPEED) or None
    if value is not None:
        p = Path(value).expanduser()
        if p.is_dir():
            exe = deepspeed_in_env(p, platform)
            if exe is None:
                raise SetupError(
                    f"deepspeed not found: {p} has no bin/deepspeed. Install the training "
                    f"requirements into that environment (pip install -r requirements.txt in the "
                    f"diffusion-pipe checkout) or choose the right environment.")
            return str(exe)
        if p.is_file():
            if not os.access(p, os.X_OK):
                raise SetupError(f"deepspeed at {p} is not executable (chmod +x it).")
            return str(p)
        raise SetupError(f"deepspeed not found: {p} does not exist.")
    found = shutil.which("deepspeed", path=environ.get("PATH"))
    if not found:
        raise SetupError(
            "deepspeed not found on PATH. Activate the Python environment that has "
            "diffusion-pipe's requirements, or pass its folder with --deepspeed ENV_DIR "
            f"(or set ${ENV_DEEPSPEED}).")
    return found


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a main config (read-only) with clear errors."""
    p = Path(path)
    if not p.is_file():
        raise SetupError(f"config file not found: {p}")
    try:
        with open(p, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SetupError(f"{p} is not valid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SetupError(f"cannot read {p}: {e}") from None


# --------------------------------------------------------------------------
# pre-flight
@dataclass(frozen=True)
class PreflightIssue:
    """One thing a pre-flight check (a :data:`Check`) or the launch gate found
    before a launch.  (Not the config validator's ``core.config.findings.Finding``
    nor the drift audit's.)"""
    level: str          # "error" | "warning"
    code: str           # stable id, e.g. "checkout", "gpus", "disk"
    message: str
    fix: str = ""
    key: str = ""       # the config key concerned ("model.ckpt_path"), when there is one
    file: str = ""      # the document it is in, when it comes from a document
    line: int = 0
    # a one-click fix: ("make_absolute", file, key path, absolute path)
    action: tuple[Any, ...] | None = None

    @property
    def is_error(self) -> bool:
        return self.level == "error"


def has_errors(findings: Iterable[PreflightIssue]) -> bool:
    return any(f.is_error for f in findings)


@dataclass
class PreflightContext:
    spec: RunSpec
    values: dict[str, Any]                      # the parsed main config
    min_free_gb: float = DEFAULT_MIN_FREE_GB
    notes: dict[str, Any] = field(default_factory=dict)

    def host_path(self, value: str | os.PathLike[str]) -> Path | None:
        """A config path (relative ones are relative to the checkout, which is
        the trainer's cwd) as this machine sees it; None where it cannot."""
        host = self.spec.target()
        try:
            cwd = self.spec.trainer_cwd()
        except SpecError:
            cwd = None
        resolved = host.resolve(os.fspath(value), cwd)
        local = host.to_local_path(resolved) if resolved is not None else None
        return Path(local) if local is not None else None

    def output_dir(self) -> Path | None:
        od = self.values.get("output_dir")
        return self.host_path(od) if isinstance(od, str) and od else None


Check = Callable[[PreflightContext], Iterable[PreflightIssue]]


def check_checkout(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    co = ctx.spec.checkout
    if co in (None, ""):
        yield PreflightIssue("error", "checkout", "No diffusion-pipe checkout is set.",
                             f"Choose the folder that contains train.py (--checkout or ${ENV_CHECKOUT}).")
        return
    local = ctx.spec.target().to_local_path(ctx.spec.trainer_cwd())
    if local is not None and not (Path(local) / "train.py").is_file():
        yield PreflightIssue("error", "checkout", f"{co} is not a diffusion-pipe checkout (no train.py).",
                             "Choose the folder you cloned tdrussell/diffusion-pipe into.")


def check_deepspeed(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    exe = ctx.spec.deepspeed_executable()
    host = ctx.spec.target()
    if not host.is_this_machine:
        where = host.describe()
        if "/" in exe:
            p = ctx.host_path(exe)
            if p is not None and not p.is_file():
                yield PreflightIssue(
                    "error", "deepspeed", f"deepspeed not found at {exe} in {where}.",
                    f"Choose the Linux environment (in {where}) that has deepspeed installed.")
        else:
            yield PreflightIssue("warning", "deepspeed", f"deepspeed on the PATH of {where} cannot be "
                                 "checked from this machine.",
                                 "Set the environment folder to be sure the right one is used.")
        return
    if "/" in exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            yield PreflightIssue("error", "deepspeed", f"deepspeed not found or not executable: {exe}",
                                 "Choose the venv/conda environment that has diffusion-pipe's requirements.")
    elif not shutil.which(exe):
        yield PreflightIssue("error", "deepspeed", "deepspeed is not on PATH.",
                             "Choose the venv/conda environment that has diffusion-pipe's requirements.")


def check_config(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    p = ctx.spec.config
    hp = Path(os.fspath(p))          # the config is a file on this machine
    if not hp.is_file():
        yield PreflightIssue("error", "config", f"Config file not found: {p}", "Save the config first.")
    if not isinstance(ctx.values.get("output_dir"), str) or not ctx.values.get("output_dir"):
        yield PreflightIssue("error", "config", "The config has no output_dir.",
                             "Set output_dir in the main config.")


def _gpu_count(ctx: PreflightContext) -> int | None:
    try:
        return ctx.spec.gpu_count
    except (TypeError, ValueError):
        return None


def check_gpus(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    n = _gpu_count(ctx)
    stages = ctx.values.get("pipeline_stages", 1)
    if not isinstance(stages, int) or stages < 1:
        return
    if n is None:
        if stages > 1:
            yield PreflightIssue("warning", "gpus",
                                 f"pipeline_stages = {stages}, and the GPU count is left to "
                                 "DeepSpeed (all visible GPUs).",
                                 f"Choose a GPU count that is a multiple of {stages}.")
        return
    if n % stages:
        yield PreflightIssue("error", "gpus",
                             f"{n} GPU(s) is not a multiple of pipeline_stages = {stages}.",
                             f"Use {stages * max(1, n // stages)} or {stages * (n // stages + 1)} GPUs, "
                             "or change pipeline_stages.")


def _nearest_existing(p: Path) -> Path | None:
    for q in (p, *p.parents):
        if q.exists():
            return q
    return None


def check_output_dir(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    od = ctx.output_dir()
    if od is None:
        return
    if od.exists() and not od.is_dir():
        yield PreflightIssue("error", "output_dir", f"output_dir {od} exists and is not a folder.",
                             "Choose another output_dir.")
        return
    base = _nearest_existing(od)
    if base is None or not os.access(base, os.W_OK | os.X_OK):
        yield PreflightIssue("error", "output_dir",
                             f"output_dir {od} {'is not writable' if od.exists() else 'cannot be created'}.",
                             "Choose a folder you can write to.")
        return
    free = free_bytes(base)
    if free is None:
        return
    ctx.notes["free_bytes"] = free
    if free < MIN_FREE_ERROR_BYTES:
        yield PreflightIssue("error", "disk",
                             f"The disk of output_dir is full: {_size(free)} free at {base}. The run "
                             f"would fail without even a console log to say why.",
                             "Free some space or point output_dir at a disk with room "
                             "(checkpoints and saved models can need tens of GB).")
    elif free < ctx.min_free_gb * 1e9:
        yield PreflightIssue("warning", "disk",
                             f"Only {free / 1e9:.1f} GB free at {base}; checkpoints and saved models "
                             f"can need tens of GB.",
                             "Free some space or point output_dir at a larger disk.")


def check_dataset(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    ds = ctx.values.get("dataset")
    if not isinstance(ds, str) or not ds:
        yield PreflightIssue("error", "dataset", "The config has no dataset file.",
                             "Set dataset = 'path/to/dataset.toml' in the main config.")
        return
    p = ctx.host_path(ds)
    if p is not None and not p.is_file():
        yield PreflightIssue("error", "dataset", f"Dataset config not found: {ds}"
                             + ("" if Path(ds).is_absolute() else f" (relative paths are relative to the "
                         f"diffusion-pipe checkout: {p})"),
                             "Fix the dataset path (an absolute path is safest).")
    for ev in ctx.values.get("eval_datasets") or []:
        cfg = ev.get("config") if isinstance(ev, dict) else None
        if isinstance(cfg, str) and (hp := ctx.host_path(cfg)) is not None and not hp.is_file():
            yield PreflightIssue("error", "dataset", f"Eval dataset config not found: {cfg}",
                                 "Fix the eval_datasets path.")


def check_resume(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    name = ctx.spec.resume_name
    if name is None:
        return
    od = ctx.output_dir()
    if od is None:
        return
    run = od / name
    if not run.is_dir():
        yield PreflightIssue("error", "resume", f"Run folder to resume not found: {run}",
                             "Pick a run folder from the list of runs with checkpoints.")
    elif not (run / "latest").is_file():
        yield PreflightIssue("error", "resume",
                             f"{run} has no 'latest' file, so it holds no checkpoint to resume from.",
                             "Pick a run that saved a checkpoint (checkpoint_every_n_* or Save now), "
                             "or start fresh.")


def check_active_runs(ctx: PreflightContext) -> Iterable[PreflightIssue]:
    """Another run that dpgui started on the same output_dir is still going."""
    from dpgui_qt.core.run.runs import active_runs
    od = ctx.output_dir()
    if od is None or not ctx.spec.target().is_this_machine:
        return                # the registry's pids are the host's; checked where it runs
    for st in active_runs(od):
        what = f"run {st.get('run_id')}"
        if st.get("run_dir"):
            what += f" (folder {Path(st['run_dir']).name})"
        elif st.get("resume_from"):
            what += f" (resuming {st['resume_from']})"
        same = ctx.spec.resume_name is not None and ctx.spec.resume_name in (
            st.get("resume_from"), Path(st.get("run_dir") or "").name)
        yield PreflightIssue(
            "error" if same else "warning", "active_run",
            f"Another training run is still active on this output_dir: {what}, config "
            f"{st.get('config') or '?'}, started {st.get('started_at') or '?'}."
            + (" It trains in the run folder you want to resume: both would write the same "
               "checkpoints." if same else
               " Both write into the same folder; two runs started within the same second "
               "even share one run folder."),
            "Wait for it to end or stop it, or give this run its own output_dir."
            + ("" if same else " (You can launch anyway.)"))


DEFAULT_CHECKS: tuple[Check, ...] = (check_checkout, check_deepspeed, check_config, check_gpus,
                                     check_output_dir, check_dataset, check_resume,
                                     check_active_runs)


def preflight(spec: RunSpec, main_config_values: dict[str, Any] | None = None, *,
              checks: Iterable[Check] = DEFAULT_CHECKS, extra_checks: Iterable[Check] = (),
              min_free_gb: float = DEFAULT_MIN_FREE_GB) -> list[PreflightIssue]:
    """Structured findings (errors first).  ``main_config_values`` is the parsed
    main config; if None it is read from ``spec.config``."""
    findings: list[PreflightIssue] = []
    values = main_config_values
    if values is None:
        try:
            values = load_config(spec.config)
        except SetupError as e:
            findings.append(PreflightIssue("error", "config", str(e), "Check the config path."))
            values = {}
    ctx = PreflightContext(spec, values, min_free_gb)
    for check in (*checks, *extra_checks):
        try:
            findings.extend(check(ctx))
        except SpecError as e:
            findings.append(PreflightIssue("error", "spec", str(e)))
    try:
        spec.command()
    except SpecError as e:
        findings.append(PreflightIssue("error", "spec", str(e)))
    seen, out = set(), []
    for f in findings:
        if (f.code, f.message) not in seen:
            seen.add((f.code, f.message))
            out.append(f)
    return sorted(out, key=lambda f: 0 if f.is_error else 1)


def output_dir_on_host(spec: RunSpec, values: dict[str, Any]) -> str | None:
    """The config's output_dir as a host path (for the supervisor and run lists)."""
    p = PreflightContext(spec, values).output_dir()
    return str(p) if p is not None else None
