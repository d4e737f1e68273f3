"""What will train, file by file: the dataset scan + buckets + estimate in one call.

:func:`dataset_report` scans every ``[[directory]]`` with sizes (video headers read
with PyAV), follows each video through diffusion-pipe's video path for a model type
(:mod:`.video`), buckets images and videos together and estimates items and steps per
epoch. ``dpgui dataset-report`` prints it; :func:`skipped_video_findings` is the
small entry point the pre-flight check uses. No Qt.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpgui_qt.core.dataset import video as _video
from dpgui_qt.core.dataset.buckets import DirectoryBuckets, directory_buckets
from dpgui_qt.core.dataset.estimate import Estimate, estimate
from dpgui_qt.core.dataset.scan import (ERROR, WARNING, CancelFn, DatasetScan, Problem,
                                        ProgressFn, new_problem, scan_dataset)


@dataclass
class DirectoryReport:
    path: str
    scan: Any  # DirectoryScan
    buckets: DirectoryBuckets | None

    @property
    def skipped(self) -> dict[str, str]:
        """Every medium diffusion-pipe will not train, with the reason."""
        s = self.scan
        out: dict[str, str] = {}
        for n, why in s.unsupported.items():
            out[n] = why
        keep = set(s.trainable())
        for n in s.media:
            if n not in keep and n not in out:
                out[n] = "no caption (skip_empty_caption is on)"
        if self.buckets is not None:
            for n, p in self.buckets.video_plans.items():
                if p.skipped and n not in out:
                    out[n] = p.reason or p.status
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        s = self.scan
        db = self.buckets
        files = []
        plans = db.video_plans if db is not None else {}
        skipped = self.skipped
        for n in s.media:
            entry: dict[str, Any] = {"name": n, "kind": "video" if n in plans or
                                     n in s.videos else "image"}
            size = s.sizes.get(n)
            entry["size"] = list(size) if size else None
            if n in plans:
                entry["video"] = plans[n].to_dict()
            entry["skipped"] = n in skipped
            entry["reason"] = skipped.get(n)
            files.append(entry)
        return {
            "path": self.path, "exists": s.exists,
            "images": len(s.images), "videos": len(s.videos),
            "skipped": len(skipped),
            "frame_histogram": {str(k): v for k, v in db.frame_histogram().items()}
            if db is not None else {},
            "buckets": db.to_dict()["buckets"] if db is not None else [],
            "files": files,
            "problems": [p.to_dict() for p in s.problems]
            + ([p.to_dict() for p in db.problems] if db is not None else []),
        }


@dataclass
class DatasetReport:
    model_type: str | None
    framerate: _video.FrameRate
    clip_mode: str
    directories: list[DirectoryReport] = field(default_factory=list)
    estimate: Estimate | None = None
    problems: list[Problem] = field(default_factory=list)  # dataset-level
    cancelled: bool = False

    def skipped(self) -> list[tuple[str, str, str]]:
        """(directory, file, reason) for everything that will not train."""
        return [(d.path, n, why) for d in self.directories for n, why in d.skipped.items()]

    def all_problems(self) -> list[Problem]:
        out = list(self.problems)
        for d in self.directories:
            out += d.scan.problems
            if d.buckets is not None:
                out += d.buckets.problems
        if self.estimate is not None:
            out += self.estimate.problems
        return out

    def totals(self) -> dict[str, Any]:
        imgs = sum(len(d.scan.images) for d in self.directories)
        vids = sum(len(d.scan.videos) for d in self.directories)
        plans = [p for d in self.directories if d.buckets is not None
                 for p in d.buckets.video_plans.values()]
        e = self.estimate
        return {
            "images": imgs, "videos": vids,
            "videos_trained": sum(1 for p in plans if not p.skipped),
            "skipped": len(self.skipped()),
            "items_per_epoch": e.items_per_epoch if e else 0,
            "steps_per_epoch": e.steps_per_epoch if e else 0,
            "global_batch": e.global_batch if e else None,
            "dropped_items": e.dropped_items if e else 0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_type": self.model_type, "framerate": self.framerate.to_dict(),
            "video_clip_mode": self.clip_mode,
            "directories": [d.to_dict() for d in self.directories],
            "totals": self.totals(),
            "estimate": self.estimate.to_dict() if self.estimate else None,
            "problems": [p.to_dict() for p in self.problems]
            + ([p.to_dict() for p in self.estimate.problems] if self.estimate else []),
            "cancelled": self.cancelled,
        }

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)


def clip_mode_of(main_values: dict[str, Any] | None) -> str:
    mode = (main_values or {}).get("video_clip_mode", _video.DEFAULT_CLIP_MODE)
    return mode if mode in _video.CLIP_MODES else _video.DEFAULT_CLIP_MODE


def dataset_report(dataset_values: dict[str, Any], model_type: str | None, *,
                   main_values: dict[str, Any] | None = None, num_gpus: int | None = 1,
                   base_dir: str | None = None, cancel: CancelFn | None = None,
                   progress: ProgressFn | None = None) -> DatasetReport:
    """Scan, plan and estimate one dataset config (plain values) for ``model_type``.
    ``main_values`` (the main config) supplies the model table (Wan's checkpoint
    decides its frame rate), ``video_clip_mode`` and the batch settings."""
    main_values = main_values or {}
    model_values = main_values.get("model") if isinstance(main_values.get("model"), dict) \
        else {}
    rate = _video.model_framerate(model_type, model_values, base_dir)
    mode = clip_mode_of(main_values)
    rep = DatasetReport(model_type, rate, mode)
    scan: DatasetScan = scan_dataset(dataset_values, model_type=model_type, sizes=True,
                                     base_dir=base_dir, cancel=cancel, progress=progress)
    rep.cancelled = scan.cancelled
    rep.problems = list(scan.problems)
    dbs = []
    for d in scan.directories:
        db = None
        if d.exists:
            try:
                db = directory_buckets(d, dataset_values, model_type=model_type,
                                       framerate=rate, clip_mode=mode)
                dbs.append(db)
            except Exception as exc:  # noqa: BLE001 - a broken value is a finding
                rep.problems.append(new_problem(
                    "buckets_failed", ERROR, f"The buckets of {d.path} could not be worked "
                    f"out: {exc}", directory=d.path))
        rep.directories.append(DirectoryReport(d.path, d, db))
    if dbs:
        rep.estimate = estimate(dataset_values, main_values, num_gpus, dbs)
    return rep


def skipped_video_findings(dataset_path: str | os.PathLike[str], model_type: str | None, *,
                           main_values: dict[str, Any] | None = None,
                           base_dir: str | None = None,
                           cancel: CancelFn | None = None) -> list[Problem]:
    """The videos of a dataset config that diffusion-pipe will skip (too short at the
    model's frame rate, unreadable, or no frame rate), as one finding per directory.
    Reads the dataset TOML itself; a file that cannot be read gives no findings (the
    pre-flight reports missing or broken dataset files elsewhere)."""
    try:
        from dpgui_qt.core.config.document import ConfigDocument
        doc = ConfigDocument.load(str(dataset_path))
        values = doc.values()
    except Exception:  # noqa: BLE001 - an unreadable dataset file is reported by the scan
        return []
    base = base_dir or str(Path(dataset_path).resolve().parent)
    rep = dataset_report(values, model_type, main_values=main_values, base_dir=base,
                         cancel=cancel)
    out: list[Problem] = []
    if rep.cancelled:
        out.append(new_problem(
            "videos_check_incomplete", WARNING,
            f"The video check of {dataset_path} stopped before the end (time limit); the "
            "videos listed here may not be all that will be skipped. Run 'dpgui "
            "dataset-report' for the whole dataset.", source="utils/dataset.py:796"))
    for d in rep.directories:
        if d.buckets is None:
            continue
        reasons = {}
        for n, p in d.buckets.video_plans.items():
            if p.skipped:
                reasons[n] = p.reason or p.status
        if reasons:
            names = sorted(reasons)
            detail = "; ".join(f"{n}: {reasons[n]}" for n in names[:5])
            more = f" (and {len(names) - 5} more)" if len(names) > 5 else ""
            rate = (f"at {_video.fps_text(rep.framerate.fps)} fps" if rep.framerate.fps
                    else f"({model_type} has no frame rate)")
            out.append(new_problem(
                "videos_skipped", WARNING,
                f"{len(names)} video{'s' if len(names) != 1 else ''} in {d.path} will be "
                f"skipped by diffusion-pipe {rate}: "
                f"{detail}{more}. Run 'dpgui dataset-report' for every file.",
                names, "utils/dataset.py:796,801-803,818-821", d.path))
    return out
