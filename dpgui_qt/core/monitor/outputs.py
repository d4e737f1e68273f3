"""What a training run left on disk, and freeing that disk safely (Qt-free).

An ``output_dir`` holds one folder per run (named by its UTC start time).  In a
run folder diffusion-pipe writes (facts from its train.py and utils/saver.py):

* ``epochN`` / ``stepN`` -- saved models: ``adapter_model.safetensors`` and
  ``adapter_config.json`` for a LoRA (``model.safetensors`` or diffusers
  folders for a full fine-tune), plus a copy of the main config;
* ``global_stepN`` -- DeepSpeed checkpoints (optimizer state; never deleted by
  diffusion-pipe) and ``latest``, a text file naming the checkpoint a resume
  loads;
* copies of the main config, the dataset config and eval dataset configs
  (fresh runs only), and TensorBoard event files.

Beside each dataset folder it caches metadata, latents and text embeddings
under ``<directory path>/cache/<model name>/`` (``utils/dataset.py``).  A cache
is stale for a config when diffusion-pipe would not reuse it: the folder is
for another model (the folder name is the model's ``name``, which for some
types depends on the checkpoint, e.g. wan's variants), its aspect-ratio /
frame buckets are not the config's (``ar_frames_<ar>_<frames>`` folders; with
``size_buckets``: ``cache_<w>x<h>x<frames>``), or the media and captions
changed after it was written (diffusion-pipe's cache fingerprint hashes the
enumerated file list, captions and the mapping function, so any change there
regenerates it).

Pruning builds a :class:`PrunePlan` (a preview: each item with its size and
why it goes) and :func:`apply_plan` carries it out, to the system trash by
default.  Saved epochs/steps are never part of a checkpoint prune.
"""
from __future__ import annotations

from typing import Any

import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from dpgui_qt.core.run.supervisor import LOG_SUBDIR, RUN_DIR_RE, parse_run_dir_name

__all__ = ["FileInfo", "SavedOutput", "Checkpoint", "RunOutputs", "CacheInfo", "OutputsReport",
           "scan_run", "scan_outputs", "scan_caches", "PruneItem", "PrunePlan",
           "plan_keep_checkpoints", "plan_delete_run", "plan_stale_caches", "apply_plan",
           "model_cache_names", "human_size", "weights_file"]

SKIP_SUFFIXES = (".txt", ".npz", ".json", ".parquet", ".bak", ".db")   # not media (dataset.py)
CAPTIONS_JSON = "captions.json"


def human_size(n: int | None) -> str:
    if n is None:
        return "—"
    v = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if v < 1024 or unit == "TB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return str(n)


def _tree_size(path: str | os.PathLike[str]) -> int:
    """Bytes in a file or folder; links are counted as links, hard links once."""
    try:
        st = os.lstat(path)
    except OSError:
        return 0
    if not os.path.isdir(path) or os.path.islink(path):
        return st.st_size
    seen: set[tuple[int, int]] = set()
    total = 0
    for root, dirs, files in os.walk(path):
        for f in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            try:
                s = os.lstat(os.path.join(root, f))
            except OSError:
                continue
            if s.st_nlink > 1:
                if (s.st_dev, s.st_ino) in seen:
                    continue
                seen.add((s.st_dev, s.st_ino))
            total += s.st_size
    return total


# --------------------------------------------------------------------------- runs
@dataclass
class FileInfo:
    name: str
    size: int


@dataclass
class SavedOutput:
    name: str            # epoch5 / step500
    kind: str            # epoch | step
    number: int
    path: Path
    size: int
    files: list[FileInfo] = field(default_factory=list)

    @property
    def weights(self) -> Path | None:
        return weights_file(self.path)


@dataclass
class Checkpoint:
    name: str            # global_step1200
    step: int
    path: Path
    size: int
    is_latest: bool


@dataclass
class RunOutputs:
    name: str
    path: Path
    started: datetime | None
    model_type: str | None
    config_copy: Path | None
    other_configs: list[Path]
    dataset_copy: Path | None
    saves: list[SavedOutput]           # oldest first
    checkpoints: list[Checkpoint]      # oldest first
    latest_tag: str | None
    size: int
    has_samples: bool = False

    @property
    def saves_size(self) -> int:
        return sum(s.size for s in self.saves)

    @property
    def checkpoints_size(self) -> int:
        return sum(c.size for c in self.checkpoints)

    @property
    def other_size(self) -> int:
        return self.size - self.saves_size - self.checkpoints_size

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "path": str(self.path),
            "started": self.started.isoformat() if self.started else None,
            "model_type": self.model_type,
            "config_copy": str(self.config_copy) if self.config_copy else None,
            "dataset_copy": str(self.dataset_copy) if self.dataset_copy else None,
            "other_configs": [str(p) for p in self.other_configs],
            "latest": self.latest_tag,
            "saves": [{"name": s.name, "kind": s.kind, "number": s.number, "path": str(s.path),
                       "size": s.size, "weights": str(s.weights) if s.weights else None,
                       "files": [{"name": f.name, "size": f.size} for f in s.files]}
                      for s in self.saves],
            "checkpoints": [{"name": c.name, "step": c.step, "path": str(c.path), "size": c.size,
                             "latest": c.is_latest} for c in self.checkpoints],
            "size": self.size, "saves_size": self.saves_size,
            "checkpoints_size": self.checkpoints_size, "other_size": self.other_size,
        }


def weights_file(save_dir: Path) -> Path | None:
    """The weights of a saved epoch/step: the adapter, else model.safetensors, else the
    only ``.safetensors`` file."""
    for name in ("adapter_model.safetensors", "model.safetensors"):
        p = save_dir / name
        if p.is_file():
            return p
    try:
        st = sorted(p for p in save_dir.glob("*.safetensors") if p.is_file())
    except OSError:
        return None
    return st[0] if len(st) == 1 else None


def _regular(path: Path) -> bool:
    """A regular file (following links): never open a FIFO or a device, which would block."""
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def load_toml(path: Path) -> dict[str, Any] | None:
    """The values of a TOML file; ``None`` when it is not a readable regular file of valid TOML."""
    if not _regular(path):
        return None
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return None


def scan_run(path: str | os.PathLike[str]) -> RunOutputs:
    path = Path(path)
    latest = None
    try:
        latest = (path / "latest").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        pass
    saves, ckpts, tomls = [], [], []
    total = 0
    try:
        entries = sorted(os.scandir(path), key=lambda e: e.name)
    except OSError:
        entries = []
    for e in entries:
        n = e.name
        p = Path(e.path)
        is_dir = e.is_dir(follow_symlinks=False)
        save_kind = next((k for k in ("epoch", "step") if n.startswith(k) and n[len(k):].isdigit()),
                         None) if is_dir else None
        if save_kind is not None:
            # one pass: the save's size is the sum of its entries
            files = []
            try:
                for f in sorted(os.scandir(p), key=lambda f: f.name):
                    if f.is_dir(follow_symlinks=False):
                        files.append(FileInfo(f.name, _tree_size(f.path)))
                    else:
                        files.append(FileInfo(f.name, f.stat(follow_symlinks=False).st_size))
            except OSError:
                pass
            size = sum(f.size for f in files)
            total += size
            saves.append(SavedOutput(n, save_kind, int(n[len(save_kind):]), p, size, files))
            continue
        size = _tree_size(e.path) if is_dir else e.stat(follow_symlinks=False).st_size
        total += size
        if not is_dir:
            if n.endswith(".toml"):
                tomls.append(p)
            continue
        if n.startswith("global_step") and n[11:].isdigit():
            ckpts.append(Checkpoint(n, int(n[11:]), p, size, n == latest))
    saves.sort(key=lambda s: (s.kind != "epoch", s.number))
    ckpts.sort(key=lambda c: c.step)
    cfg, cfg_data, model_type, dataset_copy, others = None, {}, None, None, []
    parsed = {}
    for t in tomls:
        data = parsed[t] = load_toml(t)
        if cfg is None and isinstance(data, dict) and isinstance(data.get("model"), dict):
            cfg, cfg_data, mt = t, data, data["model"].get("type")
            model_type = str(mt) if mt is not None else None
        else:
            others.append(t)
    if cfg is not None:
        ds = cfg_data.get("dataset")
        if isinstance(ds, str):
            cand = path / Path(ds.replace("\\", "/")).name
            if cand in others:
                dataset_copy = cand
    if dataset_copy is None:
        for t in others:
            data = parsed.get(t)
            if isinstance(data, dict) and "directory" in data:
                dataset_copy = t
                break
    return RunOutputs(path.name, path, parse_run_dir_name(path.name), model_type, cfg, others,
                      dataset_copy, saves, ckpts, latest or None, total,
                      (path / "dpgui-samples").is_dir())


# --------------------------------------------------------------------------- caches
# model.type -> the names its cache folder can have (models/*.py `name`, some set per checkpoint)
_MODEL_NAMES = {
    "hunyuan_video_15": {"hunyuan_video_1.5"},
    "wan": {"wan", "skyreels_v2", "wan2.2_i2v", "skyreels_v2_i2v", "wan_i2v", "wan_flf2v", "wan2.2_5b"},
    "cosmos_predict2": {"cosmos_predict2", "anima"},
    "anima": {"cosmos_predict2", "anima"},
    "flux2": {"flux2", "flux2_klein_4b", "flux2_klein_9b"},
}


def model_cache_names(config: dict[str, Any]) -> set[str]:
    """Cache folder names the config's model may use (``cache/<name>``)."""
    model = _model if isinstance(_model := config.get("model"), dict) else {}
    mt = model.get("type")
    if not isinstance(mt, str):
        return set()
    names = set(_MODEL_NAMES.get(mt, {mt}))
    if mt == "ltx-video" and isinstance(model.get("single_file_path"), str):
        names.add(Path(model["single_file_path"]).stem)   # ltx-video names itself after the file
    return names


@dataclass
class CacheInfo:
    directory: Path          # the dataset folder ([[directory]] path)
    path: Path               # <directory>/cache/<model name>
    model_name: str
    size: int
    stale: bool | None       # None: no config to judge against
    reasons: list[str] = field(default_factory=list)
    written: float | None = None
    unused_buckets: list[Path] = field(default_factory=list)   # bucket folders this config never reads
    unused_size: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"directory": str(self.directory), "path": str(self.path),
                "model_name": self.model_name, "size": self.size, "stale": self.stale,
                "reasons": self.reasons, "written": self.written,
                "unused_buckets": [str(p) for p in self.unused_buckets],
                "unused_size": self.unused_size}


def _cache_written(cache: Path) -> float | None:
    """When the cache's file list was last computed (its metadata folder)."""
    times = []
    meta = cache / "metadata"
    for p in [meta / "metadata_intermediate", meta / "metadata.arrow", meta]:
        try:
            times.append(os.stat(p).st_mtime)
        except OSError:
            pass
    if not times:
        try:
            times.append(os.stat(cache).st_mtime)
        except OSError:
            return None
    return max(times)


def _media_changes(directory: Path, since: float) -> list[str]:
    reasons = []
    try:
        if os.stat(directory).st_mtime > since + 1:
            reasons.append("files were added, removed or renamed in the dataset folder after "
                           "the cache was written")
    except OSError:
        return [f"the dataset folder {directory} is missing"]
    newer = 0
    try:
        for e in os.scandir(directory):
            if not e.is_file():
                continue
            suffix = os.path.splitext(e.name)[1]
            if suffix in SKIP_SUFFIXES and suffix != ".txt" and e.name != CAPTIONS_JSON:
                continue
            try:
                if e.stat().st_mtime > since + 1:
                    newer += 1
            except OSError:
                pass
    except OSError:
        pass
    if newer:
        reasons.append(f"{newer} media or caption file{'s' if newer != 1 else ''} changed after "
                       "the cache was written")
    return reasons


def _ar_key(x: float) -> str:
    return f"{round(x, 3):.3f}"


def _expected_buckets(dir_cfg: dict[str, Any], ds_cfg: dict[str, Any]) -> tuple[set[str] | None, set[str] | None]:
    """(ar_frames folder names, size-bucket cache folder names); None where unknown."""
    def get(k: str, default: Any = None) -> Any:
        return dir_cfg.get(k, ds_cfg.get(k, default))
    frames = get("frame_buckets", [1])
    if not isinstance(frames, list):
        return None, None
    frames = sorted(set([int(f) for f in frames if isinstance(f, (int, float))] + [1]))
    sb = get("size_buckets")
    if sb is not None:
        if not isinstance(sb, list):
            return None, None
        names = set()
        for b in sb:
            if isinstance(b, list) and len(b) == 3:
                names.add(f"cache_{b[0]}x{b[1]}x{b[2]}")
        return None, names
    if not get("enable_ar_bucket", False):
        ars = [1.0]
    elif get("ar_buckets"):
        ars = []
        for a in get("ar_buckets"):
            if isinstance(a, list) and len(a) == 2 and a[1]:
                ars.append(a[0] / a[1])
            elif isinstance(a, (int, float)):
                ars.append(float(a))
    else:
        lo, hi, n = get("min_ar"), get("max_ar"), get("num_ar_buckets")
        if not all(isinstance(v, (int, float)) for v in (lo, hi, n)) or lo <= 0 or hi <= 0 or n < 1:
            return None, None
        n = int(n)
        ars = [lo] if n == 1 else [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / (n - 1))
                                   for i in range(n)]
    return {f"ar_frames_{_ar_key(a)}_{f}" for a in ars for f in frames}, None


def _resolutions(dir_cfg: dict[str, Any], ds_cfg: dict[str, Any]) -> list[float] | None:
    res = dir_cfg.get("resolutions", ds_cfg.get("resolutions"))
    if not isinstance(res, list):
        return None
    out = []
    for r in res:
        if isinstance(r, list) and len(r) == 2:
            out.append(math.sqrt(r[0] * r[1]))
        elif isinstance(r, (int, float)):
            out.append(float(r))
    return out


def _unused_bucket_dirs(cache: Path, dir_cfg: dict[str, Any], ds_cfg: dict[str, Any], round_to: int = 64) -> list[Path]:
    ar_names, size_names = _expected_buckets(dir_cfg, ds_cfg)
    res = _resolutions(dir_cfg, ds_cfg)
    out = []
    try:
        children = sorted(p for p in cache.iterdir() if p.is_dir() and not p.is_symlink())
    except OSError:
        return []
    for p in children:
        n = p.name
        if n.startswith("ar_frames_") and ar_names is not None and n not in ar_names:
            out.append(p)
        elif n.startswith("cache_"):
            parts = n[6:].split("x")
            if len(parts) == 3 and size_names is not None and n not in size_names:
                out.append(p)
            elif len(parts) == 4 and ar_names is not None:
                try:
                    ar, w, h, fr = float(parts[0]), int(parts[1]), int(parts[2]), int(parts[3])
                except ValueError:
                    continue
                if f"ar_frames_{_ar_key(ar)}_{fr}" not in ar_names:
                    out.append(p)
                elif res:
                    side = math.sqrt(w * h)
                    # width and height are each rounded to the model's multiple (<= 64)
                    if min(abs(side - r) for r in res) > round_to:
                        out.append(p)
    return out


def _dataset_dirs(dataset_cfg_path: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    data = load_toml(dataset_cfg_path) or {}
    dirs = [d for d in data.get("directory", []) if isinstance(d, dict) and isinstance(d.get("path"), str)]
    return data, dirs


def _default_bases() -> list[Path]:
    """Where diffusion-pipe would read relative paths: its checkout (train.py runs there)."""
    try:
        from dpgui_qt.core.run.preflight import SetupError, find_checkout
        try:
            return [Path(find_checkout(None))]
        except SetupError:
            return []
    except ImportError:  # pragma: no cover
        return []


def _resolve(raw: str, bases: list[Path]) -> Path:
    """A path from a config: absolute as is; relative against the first base where it
    exists (else the first base)."""
    p = Path(os.path.expanduser(raw))
    if p.is_absolute() or not bases:
        return p
    for b in bases:
        if (b / p).exists():
            return b / p
    return bases[0] / p


def scan_caches(dataset_configs: list[Path], config: dict[str, Any] | None = None,
                base: Path | None = None) -> list[CacheInfo]:
    """The cache folders beside every ``[[directory]]`` of the dataset configs.
    ``config`` (the main config's values) decides staleness; without it
    ``stale`` is None.  Relative directory paths are read from ``base``."""
    names = model_cache_names(config) if config else set()
    out: list[CacheInfo] = []
    seen: set[Path] = set()
    bases = [base] if base is not None else _default_bases()
    for dc in dataset_configs:
        ds, dirs = _dataset_dirs(dc)
        for d in dirs:
            directory = _resolve(d["path"], bases)
            root = directory / "cache"
            try:
                subs = sorted(p for p in root.iterdir() if p.is_dir() and not p.is_symlink())
            except OSError:
                continue
            for cache in subs:
                if cache in seen:
                    continue
                seen.add(cache)
                info = CacheInfo(directory, cache, cache.name, _tree_size(cache), None,
                                 written=_cache_written(cache))
                if config:
                    reasons = []
                    if names and cache.name not in names:
                        reasons.append(f"made for model '{cache.name}'; this config trains "
                                       f"'{config['model']['type']}'")
                    elif info.written is not None:
                        reasons += _media_changes(directory, info.written)
                    info.stale = bool(reasons)
                    info.reasons = reasons
                    if not reasons:
                        info.unused_buckets = _unused_bucket_dirs(cache, d, ds)
                        info.unused_size = sum(_tree_size(p) for p in info.unused_buckets)
                out.append(info)
    return out


# --------------------------------------------------------------------------- report
@dataclass
class OutputsReport:
    output_dir: Path
    runs: list[RunOutputs]                # newest first
    caches: list[CacheInfo]
    config_path: Path | None = None       # the config staleness was judged against
    logs_size: int = 0

    @property
    def runs_size(self) -> int:
        return sum(r.size for r in self.runs)

    @property
    def checkpoints_size(self) -> int:
        return sum(r.checkpoints_size for r in self.runs)

    @property
    def saves_size(self) -> int:
        return sum(r.saves_size for r in self.runs)

    @property
    def caches_size(self) -> int:
        return sum(c.size for c in self.caches)

    @property
    def stale_caches_size(self) -> int:
        return sum(c.size if c.stale else c.unused_size for c in self.caches)

    def to_json(self) -> dict[str, Any]:
        return {"output_dir": str(self.output_dir),
                "config": str(self.config_path) if self.config_path else None,
                "runs": [r.to_json() for r in self.runs],
                "caches": [c.to_json() for c in self.caches],
                "totals": {"runs": self.runs_size, "saves": self.saves_size,
                           "checkpoints": self.checkpoints_size, "caches": self.caches_size,
                           "stale_caches": self.stale_caches_size, "logs": self.logs_size}}


def scan_outputs(output_dir: str | os.PathLike[str], config_path: str | os.PathLike[str] | None = None,
                 base: str | os.PathLike[str] | None = None) -> OutputsReport:
    """Every run folder in ``output_dir`` (newest first) and the dataset caches.

    ``config_path``: the main config to judge the caches against (default: the
    newest run's config copy).  ``base``: where relative dataset paths are read
    from (diffusion-pipe's working directory, the checkout; default: the
    config's folder)."""
    out = Path(output_dir)
    try:
        names = sorted((n for n in os.listdir(out) if RUN_DIR_RE.match(n)
                        and os.path.isdir(out / n) and not os.path.islink(out / n)), reverse=True)
    except OSError:
        names = []
    runs = [scan_run(out / n) for n in names]
    cfg_path = Path(config_path) if config_path else next(
        (r.config_copy for r in runs if r.config_copy), None)
    config = load_toml(cfg_path) if cfg_path else None
    dataset_cfgs: list[Path] = []
    bases = [Path(base)] if base else None
    if config_path and config and cfg_path is not None:
        cands = bases or ([cfg_path.parent] + _default_bases())
        for key in [config.get("dataset")] + [e.get("config") for e in config.get("eval_datasets", [])
                                              if isinstance(e, dict)]:
            if isinstance(key, str):
                dataset_cfgs.append(_resolve(key, cands))
    else:
        src = next((r for r in runs if r.config_copy == cfg_path), None)
        if src and src.dataset_copy:
            dataset_cfgs.append(src.dataset_copy)
    caches = scan_caches(dataset_cfgs, config, Path(base) if base else None)
    return OutputsReport(out, runs, caches, cfg_path, _tree_size(out / LOG_SUBDIR))


# --------------------------------------------------------------------------- pruning
@dataclass
class PruneItem:
    path: Path
    size: int
    kind: str        # checkpoint | run | cache | bucket
    why: str


@dataclass
class PrunePlan:
    items: list[PruneItem] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)     # what was considered and kept, with why

    @property
    def freed(self) -> int:
        return sum(i.size for i in self.items)

    def to_json(self) -> dict[str, Any]:
        return {"items": [{"path": str(i.path), "size": i.size, "kind": i.kind, "why": i.why}
                          for i in self.items],
                "kept": self.kept, "freed": self.freed}


def plan_keep_checkpoints(runs: list[RunOutputs], keep: int,
                          include_latest: bool = False) -> PrunePlan:
    """Keep the newest ``keep`` DeepSpeed checkpoints of each run.  The one ``latest``
    names is kept (and not counted) unless ``include_latest``.  Only
    ``global_stepN`` folders are ever listed: saved epochs/steps stay."""
    if keep < 0:
        raise ValueError("keep must be 0 or more")
    plan = PrunePlan()
    for run in runs:
        ckpts = sorted(run.checkpoints, key=lambda c: c.step, reverse=True)
        kept = 0
        for c in ckpts:
            if c.is_latest and not include_latest:
                plan.kept.append(f"{run.name}/{c.name}: named by 'latest' (a resume loads it)")
                continue
            if kept < keep:
                kept += 1
                plan.kept.append(f"{run.name}/{c.name}: one of the newest {keep}")
                continue
            plan.items.append(PruneItem(c.path, c.size, "checkpoint",
                                        f"{run.name}: older than the newest {keep} checkpoint"
                                        f"{'s' if keep != 1 else ''}"
                                        + (" (named by 'latest')" if c.is_latest else "")))
    return plan


def plan_delete_run(run: RunOutputs) -> PrunePlan:
    why = f"run {run.name}: {len(run.saves)} saved model(s), {len(run.checkpoints)} checkpoint(s)"
    return PrunePlan([PruneItem(run.path, run.size, "run", why)])


def plan_stale_caches(caches: list[CacheInfo], include_unused_buckets: bool = True) -> PrunePlan:
    plan = PrunePlan()
    for c in caches:
        if c.stale:
            plan.items.append(PruneItem(c.path, c.size, "cache", "; ".join(c.reasons)))
        elif c.stale is False and include_unused_buckets:
            for b in c.unused_buckets:
                plan.items.append(PruneItem(b, _tree_size(b), "bucket",
                                            "bucket folder this config's bucketing never reads"))
        elif c.stale is None:
            plan.kept.append(f"{c.path}: no config to judge it against")
    return plan


@dataclass
class PruneResult:
    removed: list[PruneItem] = field(default_factory=list)
    failed: list[tuple[PruneItem, str]] = field(default_factory=list)
    trashed: bool = True

    @property
    def freed(self) -> int:
        return sum(i.size for i in self.removed)


def _is_saved_model(path: Path) -> bool:
    n = path.name
    for kind in ("epoch", "step"):
        if n.startswith(kind) and n[len(kind):].isdigit() and RUN_DIR_RE.match(path.parent.name):
            return True
    return False


def apply_plan(plan: PrunePlan, permanently: bool = False) -> PruneResult:
    """Carry out a plan: each item to the system trash (or deleted with
    ``permanently``).  Items that vanished or fail are reported, the rest go on.
    A checkpoint or cache item that is a saved epoch/step is refused."""
    from dpgui_qt.core import trash

    res = PruneResult(trashed=not permanently)
    for item in plan.items:
        if item.kind != "run" and _is_saved_model(item.path):
            res.failed.append((item, "refused: saved models are never pruned"))
            continue
        if not os.path.lexists(item.path):
            res.failed.append((item, "already gone"))
            continue
        try:
            (trash.delete_permanently if permanently else trash.move_to_trash)(item.path)
        except trash.TrashError as e:
            res.failed.append((item, str(e)))
            continue
        res.removed.append(item)
    return res
