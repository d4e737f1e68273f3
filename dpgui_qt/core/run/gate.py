"""The launch gate: the one check every training start goes through.

``dpgui launch`` and the GUI's Start Training both call :func:`run_gate` right
before a trainer process would start (``dpgui launch --check`` and the pre-flight
dialog's Check button call it alone).  It reads every document the run will read
from disk -- the main config, the dataset config and each eval dataset config,
byte for byte as diffusion-pipe will -- and validates them with the GPU count and
the checkout known, resolving relative paths against the checkout (the trainer's
working directory) exactly as the launch will.  On top come the environment
checks of :mod:`.env` (checkout, deepspeed, GPUs, output_dir, disk, resume) and
the dataset checks (media that will be skipped, buckets smaller than the global
batch, ...).

Errors block the start; ``--force`` / "Launch anyway" override them.  Warnings are
listed.

Dataset checks are pluggable: a function ``check(ctx: DatasetContext) ->
Iterable[PreflightIssue]`` added with :func:`dataset_check` runs for every dataset file
of the run (``ctx.scan()`` gives the media scan, made once and shared).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, cast

from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.preflight import PreflightIssue
from dpgui_qt.core.run.spec import RunSpec, SpecError

if TYPE_CHECKING:
    from dpgui_qt.core.config.findings import Finding as ValidationFinding
    from dpgui_qt.core.config.schema import SchemaRegistry
    from dpgui_qt.core.dataset.scan import DatasetScan

# rules whose warnings stop a run on the training machine itself
_PATH_RULES = ("paths_exist", "path_relative_to_checkout", "template_placeholder")


@dataclass
class DatasetContext:
    """One dataset file of the run, as the gate's dataset checks see it."""
    role: str                 # "dataset" or "eval dataset 'name'"
    file: Path
    values: dict[str, Any]              # the dataset config as read from disk
    main_values: dict[str, Any]
    model_type: str | None
    num_gpus: int | None
    base_dir: str | None      # where relative [[directory]] paths are read from (host path)
    _scan: object = field(default=None, repr=False)

    def scan(self) -> DatasetScan:
        """The media scan of this dataset's folders (with pixel sizes), made once."""
        if self._scan is None:
            from dpgui_qt.core.dataset.scan import scan_dataset
            self._scan = scan_dataset(self.values, model_type=self.model_type, sizes=True,
                                      base_dir=self.base_dir)
        return cast("DatasetScan", self._scan)


DatasetCheck = Callable[[DatasetContext], Iterable[PreflightIssue]]
DATASET_CHECKS: list[DatasetCheck] = []


def dataset_check(fn: DatasetCheck) -> DatasetCheck:
    """Register a dataset-level gate check (decorator)."""
    if fn not in DATASET_CHECKS:
        DATASET_CHECKS.append(fn)
    return fn


@dataclass
class GateReport:
    findings: list[PreflightIssue]          # errors first
    files: list[str] = field(default_factory=list)   # the documents that were read

    @property
    def errors(self) -> list[PreflightIssue]:
        return [f for f in self.findings if f.is_error]

    @property
    def warnings(self) -> list[PreflightIssue]:
        return [f for f in self.findings if not f.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        e, w = len(self.errors), len(self.warnings)
        if not e and not w:
            return (f"No problems found in {len(self.files)} file(s): diffusion-pipe should "
                    "start with this config.")
        return (f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''} "
                f"in {len(self.files)} file(s).")

    def lines(self) -> list[str]:
        out = []
        for f in self.findings:
            where = f"{f.file}:{f.line}: " if f.file and f.line else (f"{f.file}: " if f.file else "")
            key = f"{f.key}: " if f.key else ""
            out.append(f"{where}{f.level}: {key}{f.message}" + (f" ({f.fix})" if f.fix else ""))
        return out


def _level_at_gate(vf: ValidationFinding, local: bool) -> str:
    """A validator finding's level at the gate: paths the trainer opens on this
    machine must exist, and placeholders must be replaced."""
    if vf.is_error:
        return "error"
    if vf.rule == "template_placeholder":
        return "error"
    if local and vf.rule in _PATH_RULES and vf.path[:1] != ("output_dir",):
        return "error"
    return "warning"


def _from_validator(vf: ValidationFinding, local: bool) -> PreflightIssue | None:
    if vf.rule in _PATH_RULES and vf.path[:1] == ("output_dir",) and vf.rule == "paths_exist":
        return None          # the trainer creates it; env.check_output_dir checks the disk
    level = _level_at_gate(vf, local)
    msg = vf.message
    fix = ""
    action = None
    if vf.rule == "template_placeholder":
        msg = f"set {vf.key}: {vf.message}"
    elif vf.rule == "path_relative_to_checkout":
        action = ("make_absolute", vf.file or "", tuple(vf.path), vf.extra.get("absolute", ""))
        fix = "Make the path absolute."
    return PreflightIssue(level, f"config:{vf.rule}", msg, fix, key=vf.key if vf.path else "",
                          file=vf.file or "", line=vf.line if vf.path else 0, action=action)


def host_trainer_cwd(spec: RunSpec) -> Path | None:
    """The checkout (diffusion-pipe's working directory) as this machine sees it."""
    if spec.checkout in (None, ""):
        return None
    if spec.target().is_this_machine:
        return Path(os.fspath(spec.checkout))
    try:
        return envmod.PreflightContext(spec, {}).host_path(spec.trainer_cwd())
    except SpecError:
        return None


def run_gate(spec: RunSpec, *, registry: SchemaRegistry | None = None, min_free_gb: float = envmod.DEFAULT_MIN_FREE_GB,
             scan_media: bool = True, dataset_checks: Iterable[DatasetCheck] | None = None,
             env_checks: Iterable[envmod.Check] | None = None) -> GateReport:
    """Check everything the run of ``spec`` will read.  Never raises for bad input."""
    from dpgui_qt.core.config.document import ConfigDocument, DocumentError, TomlSyntaxError
    from dpgui_qt.core.config.schema import default_registry
    from dpgui_qt.core.config.document import DocKind
    from dpgui_qt.core.config.validate import Options, Validator

    registry = registry or default_registry()
    findings: list[PreflightIssue] = []
    files: list[str] = []
    local = spec.target().is_this_machine
    cfg_host = Path(os.fspath(spec.config))
    values: dict[str, Any] = {}
    doc = None
    try:
        doc = ConfigDocument.load(cfg_host)
        values = doc.values()
        files.append(str(cfg_host))
    except TomlSyntaxError as exc:
        findings.append(PreflightIssue("error", "config", f"not valid TOML: {exc.message}",
                                       "Fix that line; diffusion-pipe cannot read the file.",
                                       file=str(cfg_host), line=exc.line))
    except DocumentError as exc:
        findings.append(PreflightIssue("error", "config", f"cannot read the config: {exc}",
                                       "Check the config path.", file=str(cfg_host)))
    try:
        n_gpus = spec.gpu_count
    except (TypeError, ValueError):
        n_gpus = None
    cwd = host_trainer_cwd(spec)
    validator = Validator(registry)
    if doc is not None:
        opts = Options(num_gpus=n_gpus, check_paths=True, follow_datasets=True,
                       trainer_cwd=cwd)
        try:
            report = validator.validate_tree(doc, DocKind.MAIN, opts)
            files.extend(f for f in report.files[1:] if f not in files)
            for vf in report.findings:
                f = _from_validator(vf, local)
                if f is not None:
                    findings.append(f)
        except Exception as exc:  # noqa: BLE001 - a validator bug must not hide the gate
            findings.append(PreflightIssue("error", "internal", f"validation failed inside dpgui: {exc}"))
        checks = list(DATASET_CHECKS if dataset_checks is None else dataset_checks)
        if scan_media and checks:
            model = _model if isinstance(_model := values.get("model"), dict) else {}
            mtype = model.get("type") if isinstance(model.get("type"), str) else None
            for ref_path, target in validator.dataset_references(doc, opts):
                if target is None:
                    continue
                try:
                    dvals = ConfigDocument.load(target).values()
                except DocumentError:
                    continue                      # reported by the validation above
                role = "dataset" if ref_path == ("dataset",) else (
                    f"eval dataset {values['eval_datasets'][ref_path[1]].get('name', '')!r}")
                ctx = DatasetContext(role, Path(target), dvals, values, mtype, n_gpus,
                                     str(cwd) if cwd is not None else None)
                for check in checks:
                    try:
                        findings.extend(check(ctx))
                    except Exception as exc:  # noqa: BLE001 - a check's bug is reported, the gate goes on
                        findings.append(PreflightIssue("warning", "internal",
                                                       f"{role}: a dataset check failed inside dpgui: {exc}",
                                                       file=str(target)))
    base = [c for c in (envmod.DEFAULT_CHECKS if env_checks is None else env_checks)
            if not (doc is not None and c is envmod.check_dataset)]  # the validator covers it
    findings.extend(envmod.preflight(spec, values, checks=base, min_free_gb=min_free_gb))
    return GateReport(_dedup(findings), files)


def _dedup(findings: list[PreflightIssue]) -> list[PreflightIssue]:
    seen, out = set(), []
    for f in findings:
        k = (f.level, f.code, f.key, f.file, f.message)
        if k not in seen:
            seen.add(k)
            out.append(f)
    return sorted(out, key=lambda f: 0 if f.is_error else 1)


# ------------------------------------------------------------ dataset checks
def _files_note(files: list[str], count: int) -> str:
    shown = ", ".join(files[:5])
    more = f" and {count - 5} more" if count > 5 else ""
    return f" ({count} file{'s' if count != 1 else ''}: {shown}{more})" if count else ""


@dataset_check
def media_problems(ctx: DatasetContext) -> Iterable[PreflightIssue]:
    """What the dataset scan found: errors stop the run, files that will be skipped
    or trained wrongly are warnings."""
    scan = ctx.scan()
    for d in [None, *scan.directories]:
        problems = scan.problems if d is None else d.problems
        for p in problems:
            if p.severity not in ("error", "warning"):
                continue
            where = f"{ctx.role}, folder {d.path}: " if d is not None else f"{ctx.role}: "
            yield PreflightIssue(p.severity, f"dataset:{p.kind}",
                                 where + p.message + _files_note(p.files, p.count),
                                 file=str(ctx.file))


@dataset_check
def bucket_batches(ctx: DatasetContext) -> Iterable[PreflightIssue]:
    """Buckets smaller than the global batch (dropped every epoch), and a dataset
    that is empty after batching."""
    from dpgui_qt.core.dataset.estimate import estimate_scan
    scan = ctx.scan()
    if not any(d.trainable() for d in scan.directories):
        return
    est = estimate_scan(scan, ctx.values, ctx.main_values, ctx.num_gpus,
                        model_type=ctx.model_type)
    for p in est.problems:
        if p.severity in ("error", "warning"):
            yield PreflightIssue(p.severity, f"dataset:{p.kind}", f"{ctx.role}: {p.message}",
                                 file=str(ctx.file))


VIDEO_CHECK_BUDGET_S = 10.0


@dataset_check
def skipped_videos(ctx: DatasetContext) -> Iterable[PreflightIssue]:
    """Videos diffusion-pipe will skip at the model's frame rate (too short for every frame
    bucket, unreadable, no frame rate), from the dataset core's simulation of its video
    path (core/dataset/report.py), within a time budget so a huge dataset cannot hold the
    start for long."""
    import time

    from dpgui_qt.core.dataset.report import skipped_video_findings

    deadline = time.monotonic() + VIDEO_CHECK_BUDGET_S
    for prob in skipped_video_findings(ctx.file, ctx.model_type, main_values=ctx.main_values,
                                       base_dir=ctx.base_dir,
                                       cancel=lambda: time.monotonic() > deadline):
        yield PreflightIssue("warning", "dataset:videos", f"{ctx.role}: {prob.message}",
                             "Too short: add a shorter frame bucket (frame_buckets) or use longer "
                             "clips. Unreadable: re-encode or remove them. The Dataset tab's "
                             "'Skipped' filter shows them.", file=str(ctx.file))
