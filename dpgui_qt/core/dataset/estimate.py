"""Epoch estimate: items, global batch and optimizer steps per epoch.

Mirrors diffusion-pipe's arithmetic (no code copied):

* each (directory, size bucket) yields int(files x captions per file x num_repeats)
  items; fractional repeats are truncated there, per bucket (utils/dataset.py:337);
* buckets with the same identity are concatenated across directories
  (utils/dataset.py:960-966);
* the global batch is micro batch x gradient accumulation x data-parallel size;
  with the list form of ``micro_batch_size_per_gpu`` the entry whose size is
  closest to sqrt(w*h) of the bucket counts, and 1-frame buckets use
  ``image_micro_batch_size_per_gpu`` when it is set (train.py:396-418;
  utils/dataset.py:363-376);
* each bucket is cut down to a multiple of its global batch, a bucket smaller
  than that is dropped (utils/dataset.py:378, 392-396); steps per epoch are the
  sum of whole batches, then ``subsample_ratio`` truncates (utils/dataset.py:985-987);
  zero steps is the 'Processed dataset was empty' error (utils/dataset.py:1304-1309).
"""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from dpgui_qt.core.config import rules
from dpgui_qt.core.dataset.buckets import DirectoryBuckets, SizeBucket
from dpgui_qt.core.dataset.scan import (ERROR, INFO, WARNING, DatasetScan, Problem,
                                        new_problem)


def _batch_table(value: Any) -> dict[Any, Any] | None:
    """int -> {None: int}; [[size, bs], ...] -> {size: bs} (train.py:396-400)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return {None: value}
    if isinstance(value, list) and value and all(
            isinstance(x, list) and len(x) == 2 for x in value):
        return {x[0]: x[1] for x in value}
    return None


def data_parallel(main_values: dict[str, Any], num_gpus: int | None) -> int:
    stages = main_values.get("pipeline_stages", 1) or 1
    if not num_gpus or num_gpus % stages:
        return 1
    return num_gpus // stages


def bucket_global_batch(bucket: SizeBucket, main_values: dict[str, Any], num_gpus: int | None) -> int | None:
    """Global batch for one bucket (utils/dataset.py:363-376)."""
    per_device = _batch_table(main_values.get("micro_batch_size_per_gpu", 1))
    if per_device is None:
        return None
    if bucket.frames == 1 and "image_micro_batch_size_per_gpu" in main_values:
        per_device = _batch_table(main_values["image_micro_batch_size_per_gpu"]) or per_device
    gas = main_values.get("gradient_accumulation_steps", 1)
    if not isinstance(gas, int) or gas < 1:
        return None
    if None in per_device:
        bs = per_device[None]
    else:
        side = math.sqrt(bucket.width * bucket.height)
        bs, best = None, math.inf
        for size, b in per_device.items():
            if abs(size - side) < best:
                best, bs = abs(size - side), b
    if not isinstance(bs, int) or bs < 1:
        return None
    return bs * gas * data_parallel(main_values, num_gpus)


@dataclass
class BucketEstimate:
    label: str
    width: int
    height: int
    frames: int
    ar: float | None
    items: int  # after repeats, all directories
    global_batch: int
    batches: int  # steps this bucket contributes
    dropped: int  # items cut by rounding down
    directories: list[str] = field(default_factory=list)


@dataclass
class DirectoryEstimate:
    path: str
    files: int  # trainable media with a known bucket
    num_repeats: float
    resolutions: int
    items_per_epoch: int  # sum over its buckets of int(files x captions x repeats)


@dataclass
class Estimate:
    global_batch: int | None  # the plain (non per-size) global batch, rules.global_batch
    num_gpus: int
    data_parallel: int
    directories: list[DirectoryEstimate] = field(default_factory=list)
    buckets: list[BucketEstimate] = field(default_factory=list)
    items_per_epoch: int = 0
    steps_before_subsample: int = 0
    steps_per_epoch: int = 0
    dropped_items: int = 0
    approximate: bool = False  # True where sizes/frames were unknown for some media
    problems: list[Problem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def estimate(dataset_values: dict[str, Any], main_values: dict[str, Any], num_gpus: int | None,
             buckets: list[DirectoryBuckets]) -> Estimate:
    """Steps per epoch for ``buckets`` (from :func:`buckets.dataset_buckets`)."""
    gpus = num_gpus or 1
    est = Estimate(rules.global_batch(main_values, gpus), gpus,
                   data_parallel(main_values, gpus))
    stages = main_values.get("pipeline_stages", 1) or 1
    if num_gpus and isinstance(stages, int) and num_gpus % stages:
        est.problems.append(new_problem(
            "gpus_not_divisible_by_stages", ERROR,
            f"{num_gpus} GPUs cannot be split into pipeline_stages = {stages}; use a GPU "
            "count that is a multiple of pipeline_stages."))
    merged: dict[tuple[Any, ...], list[Any]] = {}
    dir_items: dict[str, int] = defaultdict(int)
    for db in buckets:
        repeats = db.settings.get("num_repeats", 1)
        for b, n_items in db.items.items():
            n = int(n_items * repeats)  # utils/dataset.py:337
            entry = merged.setdefault(b.key, [b, 0, []])
            entry[1] += n
            entry[2].append(db.path)
            dir_items[db.path] += n
        if db.unsized or db.videos_unknown_frames:
            est.approximate = True
        est.directories.append(DirectoryEstimate(
            db.path, db.files, repeats,
            len(db.config.resolutions) if db.config.size_buckets is None else 1,
            dir_items[db.path]))
    for b, items, dirs in merged.values():
        gb = bucket_global_batch(b, main_values, gpus)
        if gb is None:
            est.problems.append(new_problem(
                "batch_size_invalid", ERROR,
                "micro_batch_size_per_gpu or gradient_accumulation_steps is not a positive "
                "integer (or list of [size, batch] pairs); fix it in the main config."))
            return est
        batches = items // gb
        be = BucketEstimate(b.label, b.width, b.height, b.frames, b.ar, items, gb, batches,
                            items - batches * gb, sorted(set(dirs)))
        est.buckets.append(be)
        est.items_per_epoch += items
        est.steps_before_subsample += batches
        est.dropped_items += be.dropped
    est.buckets.sort(key=lambda e: (-e.items, e.label))
    ratio = dataset_values.get("subsample_ratio")
    est.steps_per_epoch = est.steps_before_subsample
    if isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and ratio:
        est.steps_per_epoch = int(est.steps_before_subsample * ratio)

    dropped = [e for e in est.buckets if e.items and e.batches == 0]
    if dropped:
        est.problems.append(new_problem(
            "bucket_smaller_than_batch", WARNING,
            "These buckets hold fewer items than the global batch and are dropped entirely "
            "each epoch: " + ", ".join(f"{e.label}: {e.items} < {e.global_batch}"
                                       for e in dropped[:10])
            + ". Raise num_repeats, lower the batch size, or use fewer AR buckets.",
            source="utils/dataset.py:392-396"))
    partial = [e for e in est.buckets if e.batches and e.dropped]
    if partial:
        est.problems.append(new_problem(
            "bucket_remainder_dropped", INFO,
            f"{sum(e.dropped for e in partial)} items are left out each epoch because "
            "their buckets are not a multiple of the global batch.",
            source="utils/dataset.py:392-394"))
    for de in est.directories:
        if est.global_batch and 0 < de.items_per_epoch < est.global_batch:
            est.problems.append(new_problem(
                "directory_smaller_than_batch", WARNING,
                f"This directory yields {de.items_per_epoch} items per epoch, fewer than the "
                f"global batch of {est.global_batch}; unless other directories fill the same "
                "buckets its media are never trained. Raise its num_repeats.",
                directory=de.path, source="utils/dataset.py:392-396"))
    if est.items_per_epoch and est.steps_per_epoch == 0:
        # (no items at all is reported by the scan: empty folder / nothing trainable)
        est.problems.append(new_problem(
            "dataset_not_empty_after_batching", ERROR,
            "Every bucket is smaller than the global batch "
            f"({est.global_batch}), so diffusion-pipe stops with 'Processed dataset was "
            "empty'. Lower micro_batch_size_per_gpu / gradient_accumulation_steps, use fewer "
            "GPUs, raise num_repeats, or use fewer resolutions/AR buckets.",
            source="utils/dataset.py:1304-1309"))
    return est


def estimate_scan(scan: DatasetScan, dataset_values: dict[str, Any], main_values: dict[str, Any],
                  num_gpus: int | None, *, model_type: str | None = None) -> Estimate:
    """Convenience: bucket a scan and estimate. Without ``sizes=True`` in the scan,
    images are assumed square and the result is marked approximate."""
    from dpgui_qt.core.dataset.buckets import dataset_buckets
    return estimate(dataset_values, main_values, num_gpus,
                    dataset_buckets(scan, dataset_values, model_type=model_type,
                                    unsized_as_square=True))
