"""Aspect-ratio / size buckets computed the way diffusion-pipe computes them.

Re-implemented from the behaviour of utils/dataset.py (no code copied):

* resolutions: an int N is a side (area N*N); a [w, h] pair becomes sqrt(w*h)
  (dataset.py:882-889); values are rounded to 3 decimals, de-duplicated and
  sorted (dataset.py:74-78, 470);
* aspect ratios (width / height): size_buckets' own ratios when size_buckets is
  set; [1.0] when enable_ar_bucket is off; ``ar_buckets`` (ratios or [w, h]
  pairs, dataset.py:873-880) when it is non-empty; otherwise
  ``numpy.geomspace(min_ar, max_ar, num_ar_buckets)``; then rounded/deduped/sorted
  the same way (dataset.py:495-506);
* frame buckets: the configured list plus 1, sorted (dataset.py:508-512);
* an item goes to the AR with the smallest |log(w/h) - log(ar)|, first on ties
  (dataset.py:838-852), and to the largest frame bucket <= its frame count;
  a video never goes to the 1-frame bucket;
* per resolution r the bucket is w = sqrt(r*r*ar), h = r*r / w, each rounded to
  the nearest multiple of the model's ``pixels_round_to_multiple`` (Python
  round-half-even, utils/common.py:106-107; dataset.py:419-425). The bucket's
  identity keeps the AR: (ar, w, h, frames) (dataset.py:427), so two ARs that round
  to the same w x h remain two buckets;
* size_buckets: sorted by frames, longest first (dataset.py:464); candidates are
  taken in order of AR distance, and the first whose frames the item can fill
  (and that is not the image bucket for a video) wins (dataset.py:854-871).
  diffusion-pipe indexes the size_buckets list with positions in the *sorted,
  de-duplicated* AR list, so unless size_buckets is written in ascending AR with
  distinct ratios the pairing is off; :func:`size_bucket_order_problem` reports it
  and :class:`BucketConfig` reproduces the pairing exactly.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dpgui_qt.core.dataset.scan import (ERROR, INFO, WARNING, DatasetScan, DirectoryScan,
                                        Problem, _problem, directory_settings)

ROUND_DECIMALS = 3  # utils/dataset.py:36

# models/base.py:218 (default 16), models/ltx_video.py:27, models/hunyuan_image.py:47.
# Wan2.2 5B ti2v uses 32 (models/wan/wan.py:167) but that is only known from the checkpoint.
_ROUND_TO = {"ltx-video": 32, "hunyuan_image": 32}
DEFAULT_ROUND_TO = 16


def round_to_multiple_for(model_type: str | None) -> int:
    return _ROUND_TO.get(model_type or "", DEFAULT_ROUND_TO)


def _round_nearest_multiple(x: float, m: int) -> int:
    # round() of a float is half-to-even, as in utils/common.py:107
    return int(round(x / m) * m)


def _dedup_sort(values) -> list:
    """Round to 3 decimals, de-duplicate, sort (utils/dataset.py:74-78).

    Python's ``round(x, 3)`` dispatches on the element type: Python floats are
    rounded exactly, numpy floats by scaling; both are kept as they come so the
    result matches diffusion-pipe bit for bit.
    """
    return sorted(set(round(v, ROUND_DECIMALS) for v in values))


def _side(res: Any) -> float:
    if isinstance(res, (list, tuple)):
        return math.sqrt(res[0] * res[1])
    return res


def _ratio(ar: Any) -> float:
    if isinstance(ar, (list, tuple)):
        return ar[0] / ar[1]
    return ar


@dataclass(frozen=True)
class SizeBucket:
    width: int
    height: int
    frames: int = 1
    ar: float | None = None  # AR bucket it came from; None for size_buckets
    resolution: float | None = None  # side of the resolution it came from

    @property
    def key(self) -> tuple:
        """diffusion-pipe's identity of the bucket: buckets with the same key are
        concatenated across directories (utils/dataset.py:960-966)."""
        if self.ar is None:
            return (self.width, self.height, self.frames)
        return (self.ar, self.width, self.height, self.frames)

    @property
    def label(self) -> str:
        s = f"{self.width}x{self.height}"
        if self.frames != 1:
            s += f"x{self.frames}f"
        if self.ar is not None:
            s += f" (ar {self.ar:.3f})"
        return s


@dataclass
class BucketConfig:
    """The buckets of one directory."""

    ars: list[float]
    resolutions: list[float]  # sides; empty with size_buckets
    frame_buckets: list[int]
    round_to: int
    size_buckets: list[tuple[int, int, int]] | None = None  # sorted longest first
    enable_ar_bucket: bool = False
    problems: list[Problem] = field(default_factory=list)

    @property
    def log_ars(self) -> np.ndarray:
        return np.log(np.asarray(self.ars, dtype=float))

    def bucket(self, ar: float, resolution: float, frames: int = 1) -> SizeBucket:
        area = resolution ** 2
        w = math.sqrt(area * ar)
        h = area / w
        return SizeBucket(_round_nearest_multiple(w, self.round_to),
                          _round_nearest_multiple(h, self.round_to), int(frames),
                          float(ar), float(resolution))

    def all_buckets(self) -> list[SizeBucket]:
        if self.size_buckets is not None:
            return [SizeBucket(int(w), int(h), int(f), None, math.sqrt(w * h))
                    for w, h, f in self.size_buckets]
        return [self.bucket(ar, r, f) for ar in self.ars for r in self.resolutions
                for f in self.frame_buckets]

    def ar_index(self, width: int, height: int) -> int:
        return int(np.argmin(np.abs(np.log(width / height) - self.log_ars)))

    def assign(self, width: int, height: int, frames: int = 1) -> list[SizeBucket]:
        """The size buckets (one per resolution) an item lands in; [] if skipped
        (a video too short for every frame bucket)."""
        is_video = frames > 1
        log_ar = np.log(width / height)
        diffs = np.abs(log_ar - self.log_ars)
        if self.size_buckets is not None:
            order = np.argsort(diffs, kind="stable")
            for idx in order:  # positions in the sorted AR list, used on size_buckets
                w, h, f = self.size_buckets[idx]
                if is_video and f == 1:
                    continue
                if frames >= f:
                    return [SizeBucket(int(w), int(h), int(f), None, math.sqrt(w * h))]
            return []
        i = int(np.argmin(diffs))
        fitting = [f for f in self.frame_buckets if f <= frames]
        if not fitting:
            return []
        f = fitting[-1]
        if is_video and f == 1:
            return []
        return [self.bucket(self.ars[i], r, f) for r in self.resolutions]

    def assign_many(self, sizes: list[tuple[int, int]]) -> Counter:
        """Images (frames = 1) -> Counter of SizeBucket; vectorised for big folders."""
        out: Counter = Counter()
        if not sizes:
            return out
        if self.size_buckets is not None:
            for w, h in sizes:
                for b in self.assign(w, h, 1):
                    out[b] += 1
            return out
        arr = np.asarray(sizes, dtype=float)
        logs = np.log(arr[:, 0] / arr[:, 1])
        idx = np.argmin(np.abs(logs[:, None] - self.log_ars[None, :]), axis=1)
        per_ar = np.bincount(idx, minlength=len(self.ars))
        for i, n in enumerate(per_ar):
            if n:
                for r in self.resolutions:
                    out[self.bucket(self.ars[i], r, 1)] += int(n)
        return out


def size_bucket_order_problem(size_buckets: list) -> Problem | None:
    """Warn when diffusion-pipe's positional pairing of size_buckets with the sorted
    AR list does not line up (utils/dataset.py:464, 496, 506, 857)."""
    ordered = sorted((list(b) for b in size_buckets), key=lambda t: t[-1], reverse=True)
    ars = [round(w / h, ROUND_DECIMALS) for w, h, _ in ordered]
    if ars == sorted(set(ars)):
        return None
    return _problem(
        "size_buckets_order", WARNING,
        "diffusion-pipe matches images to size_buckets by position in the sorted list of "
        "distinct aspect ratios, so with this size_buckets list some media land in the "
        "wrong bucket or are dropped (e.g. images when an image and a video bucket share a "
        "ratio). List size_buckets by ascending aspect ratio with one entry per ratio.",
        source="utils/dataset.py:464,496,506,857")


def bucket_config(dir_config: dict, dataset_config: dict | None = None, *,
                  model_type: str | None = None,
                  round_to: int | None = None) -> BucketConfig:
    """Resolve one directory's buckets (directory values override dataset values)."""
    s = directory_settings(dir_config, dataset_config)
    rt = round_to or round_to_multiple_for(model_type)
    problems: list[Problem] = []
    frames = list(s.get("frame_buckets") or [1])
    if 1 not in frames:
        frames.append(1)  # utils/dataset.py:509-511
    frames = sorted(int(f) for f in frames)
    sb = s.get("size_buckets")
    if sb:
        ordered = sorted((tuple(int(x) for x in b) for b in sb), key=lambda t: t[-1],
                         reverse=True)
        ars = _dedup_sort(np.array([w / h for w, h, _ in ordered]))
        p = size_bucket_order_problem(sb)
        if p:
            problems.append(p)
        return BucketConfig([float(a) for a in ars], [], frames, rt, ordered,
                            bool(s.get("enable_ar_bucket")), problems)
    res = s.get("resolutions")
    if not res:
        problems.append(_problem(
            "resolutions_missing", ERROR,
            "No resolutions are set for this directory; set resolutions = [512] (or "
            "similar) in the dataset config.", source="utils/dataset.py:469"))
        res = []
    resolutions = _dedup_sort([_side(r) for r in res])
    enable = bool(s.get("enable_ar_bucket"))
    if not enable:
        ars = _dedup_sort(np.array([1.0]))
    elif s.get("ar_buckets"):
        ars = _dedup_sort([_ratio(a) for a in s["ar_buckets"]])
    else:
        missing = [k for k in ("min_ar", "max_ar", "num_ar_buckets") if k not in s]
        if missing:
            problems.append(_problem(
                "ar_settings_missing", ERROR,
                "enable_ar_bucket is on without ar_buckets, so min_ar, max_ar and "
                f"num_ar_buckets are needed; missing: {', '.join(missing)}.",
                source="utils/dataset.py:502-505"))
            ars = [1.0]
        else:
            ars = _dedup_sort(np.geomspace(s["min_ar"], s["max_ar"],
                                           num=int(s["num_ar_buckets"])))
    return BucketConfig([float(a) for a in ars], [float(r) for r in resolutions], frames,
                        rt, None, enable, problems)


@dataclass
class DirectoryBuckets:
    """Where a directory's media land. ``counts`` are files (not repeats/captions)."""

    path: str
    config: BucketConfig
    settings: dict = field(default_factory=dict)  # the directory's effective settings
    files: int = 0  # media placed in buckets
    counts: Counter = field(default_factory=Counter)  # SizeBucket -> files
    items: Counter = field(default_factory=Counter)  # SizeBucket -> caption items
    unsized: list[str] = field(default_factory=list)  # trainable images without a size
    videos_unknown_frames: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # not trainable per the scan
    upscaled: int = 0  # images smaller than their bucket in both dimensions
    problems: list[Problem] = field(default_factory=list)

    def histogram(self) -> dict[float, dict[tuple[int, int], int]]:
        """{resolution side: {(w, h): files}}, frames summed."""
        out: dict[float, dict[tuple[int, int], int]] = {}
        for b, n in sorted(self.counts.items(), key=lambda kv: (kv[0].resolution or 0,
                                                                kv[0].width, kv[0].height)):
            res = b.resolution or 0.0
            res = int(res) if float(res).is_integer() else res
            d = out.setdefault(res, {})
            d[(b.width, b.height)] = d.get((b.width, b.height), 0) + n
        return out

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "ars": self.config.ars, "resolutions": self.config.resolutions,
            "frame_buckets": self.config.frame_buckets, "round_to": self.config.round_to,
            "size_buckets": self.config.size_buckets,
            "histogram": {str(r): {f"{w}x{h}": n for (w, h), n in d.items()}
                          for r, d in self.histogram().items()},
            "buckets": [{"width": b.width, "height": b.height, "frames": b.frames,
                         "ar": b.ar, "resolution": b.resolution, "files": n,
                         "items": self.items.get(b, 0)}
                        for b, n in sorted(self.counts.items(),
                                           key=lambda kv: (kv[0].resolution or 0,
                                                           kv[0].ar or 0, kv[0].frames))],
            "unsized": len(self.unsized),
            "videos_unknown_frames": len(self.videos_unknown_frames),
            "skipped": len(self.skipped), "upscaled": self.upscaled,
            "problems": [p.to_dict() for p in self.problems],
        }


def directory_buckets(scan: DirectoryScan, dataset_config: dict | None = None, *,
                      model_type: str | None = None, round_to: int | None = None,
                      frames: dict[str, int] | None = None,
                      unsized_as_square: bool = False) -> DirectoryBuckets:
    """Assign the scanned, trainable media of one directory to buckets.

    Needs a scan with ``sizes=True`` for images. Videos need ``frames`` (name ->
    frame count at the model's frame rate) and a size in ``scan.sizes``; without
    them they are listed in ``videos_unknown_frames`` and left out.
    ``unsized_as_square`` places images without a known size in the bucket of a
    square image (for a rough estimate from a scan without sizes); they stay listed
    in ``unsized``.
    """
    cfg = bucket_config(scan.settings, dataset_config, model_type=model_type,
                        round_to=round_to)
    out = DirectoryBuckets(scan.path, cfg, dict(scan.settings), problems=list(cfg.problems))
    for p in out.problems:
        p.directory = scan.path
    keep = scan.trainable()
    keep_set = set(keep)
    out.skipped = [n for n in scan.media if n not in keep_set]
    videos = set(scan.videos)
    image_sizes = []
    image_names = []
    for n in keep:
        size = scan.sizes.get(n)
        if n in videos:
            nf = (frames or {}).get(n)
            if size is None or nf is None:
                out.videos_unknown_frames.append(n)
                continue
            bs = cfg.assign(size[0], size[1], nf)
            out.files += 1 if bs else 0
            for b in bs:
                out.counts[b] += 1
                out.items[b] += scan.captions_per_item(n)
            continue
        if size is None:
            out.unsized.append(n)
            if not unsized_as_square:
                continue
            size = (1, 1)
        image_sizes.append(size)
        image_names.append(n)
    out.files += len(image_sizes)
    uniform = len({scan.captions_per_item(n) for n in image_names}) <= 1
    if uniform:
        per = scan.captions_per_item(image_names[0]) if image_names else 1
        counts = cfg.assign_many(image_sizes)
        for b, n in counts.items():
            out.counts[b] += n
            out.items[b] += n * per
    else:
        for n, (w, h) in zip(image_names, image_sizes):
            for b in cfg.assign(w, h, 1):
                out.counts[b] += 1
                out.items[b] += scan.captions_per_item(n)
    # images smaller than the bucket they are trained at get upscaled (models/base.py:53)
    if image_sizes and cfg.resolutions:
        biggest = max(cfg.resolutions) ** 2
        out.upscaled = sum(1 for n, (w, h) in zip(image_names, image_sizes)
                           if w * h < biggest and n in scan.sizes)
    if out.unsized and scan.sizes_read:
        out.problems.append(_problem(
            "size_unknown", INFO, "The pixel size of these files could not be read from "
            "their headers; they are not in the bucket preview.", out.unsized,
            directory=scan.path))
    if out.videos_unknown_frames:
        out.problems.append(_problem(
            "video_frames_unknown", INFO,
            "Frame counts of videos are not read by the scan; these videos are not in the "
            "bucket preview or the step estimate.", out.videos_unknown_frames,
            directory=scan.path))
    return out


def dataset_buckets(scan: DatasetScan, dataset_values: dict, *,
                    model_type: str | None = None, round_to: int | None = None,
                    unsized_as_square: bool = False) -> list[DirectoryBuckets]:
    return [directory_buckets(d, dataset_values, model_type=model_type, round_to=round_to,
                              unsized_as_square=unsized_as_square)
            for d in scan.directories]
