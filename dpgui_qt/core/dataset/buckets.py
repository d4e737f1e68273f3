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
from typing import TYPE_CHECKING, Any, Iterable, cast

import numpy as np

from dpgui_qt.core.dataset.scan import (ERROR, INFO, WARNING, DatasetScan, DirectoryScan,
                                        Problem, new_problem, directory_settings)

if TYPE_CHECKING:
    from dpgui_qt.core.dataset.video import FrameRate, VideoPlan

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


def _dedup_sort(values: Iterable[Any]) -> list[Any]:
    """Round to 3 decimals, de-duplicate, sort (utils/dataset.py:74-78).

    Python's ``round(x, 3)`` dispatches on the element type: Python floats are
    rounded exactly, numpy floats by scaling; both are kept as they come so the
    result matches diffusion-pipe bit for bit.
    """
    return sorted(set(round(v, ROUND_DECIMALS) for v in values))


def _side(res: Any) -> float:
    if isinstance(res, (list, tuple)):
        return math.sqrt(res[0] * res[1])
    return cast(float, res)  # a number, numpy's or Python's: kept as it comes (see _dedup_sort)


def _ratio(ar: Any) -> float:
    if isinstance(ar, (list, tuple)):
        return cast(float, ar[0] / ar[1])
    return cast(float, ar)


@dataclass(frozen=True)
class SizeBucket:
    width: int
    height: int
    frames: int = 1
    ar: float | None = None  # AR bucket it came from; None for size_buckets
    resolution: float | None = None  # side of the resolution it came from

    @property
    def key(self) -> tuple[Any, ...]:
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
    # memo of bucket() and of the AR index per pixel size (videos of a folder mostly
    # share a few sizes); not part of the config's identity
    _memo: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def log_ars(self) -> np.ndarray:
        la = self._memo.get("log_ars")
        if la is None:
            la = self._memo["log_ars"] = np.log(np.asarray(self.ars, dtype=float))
        return cast(np.ndarray, la)

    def bucket(self, ar: float, resolution: float, frames: int = 1) -> SizeBucket:
        key = ("b", ar, resolution, frames)
        b = self._memo.get(key)
        if b is None:
            area = resolution ** 2
            w = math.sqrt(area * ar)
            h = area / w
            b = self._memo[key] = SizeBucket(
                _round_nearest_multiple(w, self.round_to),
                _round_nearest_multiple(h, self.round_to), int(frames), float(ar),
                float(resolution))
        return b

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
        if self.size_buckets is not None:
            diffs = np.abs(np.log(width / height) - self.log_ars)
            order = np.argsort(diffs, kind="stable")
            for idx in order:  # positions in the sorted AR list, used on size_buckets
                w, h, f = self.size_buckets[idx]
                if is_video and f == 1:
                    continue
                if frames >= f:
                    return [SizeBucket(int(w), int(h), int(f), None, math.sqrt(w * h))]
            return []
        key = ("ar", width, height)
        i = self._memo.get(key)
        if i is None:
            i = self._memo[key] = int(np.argmin(np.abs(np.log(width / height)
                                                       - self.log_ars)))
        fitting = [f for f in self.frame_buckets if f <= frames]
        if not fitting:
            return []
        f = fitting[-1]
        if is_video and f == 1:
            return []
        return [self.bucket(self.ars[i], r, f) for r in self.resolutions]

    def assign_many(self, sizes: list[tuple[int, int]]) -> Counter[SizeBucket]:
        """Images (frames = 1) -> Counter of SizeBucket; vectorised for big folders."""
        out: Counter[SizeBucket] = Counter()
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


def size_bucket_order_problem(size_buckets: list[Any]) -> Problem | None:
    """Warn when diffusion-pipe's positional pairing of size_buckets with the sorted
    AR list does not line up (utils/dataset.py:464, 496, 506, 857)."""
    ordered = sorted((list(b) for b in size_buckets), key=lambda t: t[-1], reverse=True)
    ars = [round(w / h, ROUND_DECIMALS) for w, h, _ in ordered]
    if ars == sorted(set(ars)):
        return None
    return new_problem(
        "size_buckets_order", WARNING,
        "diffusion-pipe matches images to size_buckets by position in the sorted list of "
        "distinct aspect ratios, so with this size_buckets list some media land in the "
        "wrong bucket or are dropped (e.g. images when an image and a video bucket share a "
        "ratio). List size_buckets by ascending aspect ratio with one entry per ratio.",
        source="utils/dataset.py:464,496,506,857")


def bucket_config(dir_config: dict[str, Any], dataset_config: dict[str, Any] | None = None, *,
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
        ordered = cast("list[tuple[int, int, int]]",  # [width, height, frames] entries
                       sorted((tuple(int(x) for x in b) for b in sb), key=lambda t: t[-1],
                              reverse=True))
        ars = _dedup_sort(np.array([w / h for w, h, _ in ordered]))
        p = size_bucket_order_problem(sb)
        if p:
            problems.append(p)
        return BucketConfig([float(a) for a in ars], [], frames, rt, ordered,
                            bool(s.get("enable_ar_bucket")), problems)
    res = s.get("resolutions")
    if not res:
        problems.append(new_problem(
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
            problems.append(new_problem(
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
    settings: dict[str, Any] = field(default_factory=dict)  # the directory's effective settings
    files: int = 0  # media placed in buckets
    counts: Counter[SizeBucket] = field(default_factory=Counter)  # SizeBucket -> files
    items: Counter[SizeBucket] = field(default_factory=Counter)  # SizeBucket -> caption items
    unsized: list[str] = field(default_factory=list)  # trainable images without a size
    videos_unknown_frames: list[str] = field(default_factory=list)
    video_plans: dict[str, Any] = field(default_factory=dict)  # video name -> video.VideoPlan
    framerate: Any = None  # video.FrameRate used for the plans
    clip_mode: str | None = None
    skipped: list[str] = field(default_factory=list)  # not trainable per the scan
    upscaled: int = 0  # images smaller than their bucket in both dimensions
    problems: list[Problem] = field(default_factory=list)

    def videos_skipped(self) -> list[str]:
        """Videos the scan keeps (captioned, readable) that diffusion-pipe drops in
        its metadata pass (too short, no frame rate)."""
        return sorted(n for n, p in self.video_plans.items()
                      if p.skipped and n not in self.skipped)

    def frame_histogram(self) -> dict[int, int]:
        """{frame bucket: files}, 1 being the images."""
        out: dict[int, int] = {}
        seen = set()
        for b, n in self.counts.items():
            # an AR bucket repeats once per resolution: count its files once
            if b.ar is not None:
                if (b.ar, b.frames) in seen:
                    continue
                seen.add((b.ar, b.frames))
            out[b.frames] = out.get(b.frames, 0) + n
        return dict(sorted(out.items()))

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

    def to_dict(self) -> dict[str, Any]:
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
            "videos": {n: p.to_dict() for n, p in sorted(self.video_plans.items())},
            "videos_skipped": len(self.videos_skipped()),
            "skipped": len(self.skipped), "upscaled": self.upscaled,
            "problems": [p.to_dict() for p in self.problems],
        }


def directory_buckets(scan: DirectoryScan, dataset_config: dict[str, Any] | None = None, *,
                      model_type: str | None = None, round_to: int | None = None,
                      frames: dict[str, int] | None = None,
                      unsized_as_square: bool = False, framerate: FrameRate | None = None,
                      clip_mode: str | None = None,
                      dir_config: dict[str, Any] | None = None) -> DirectoryBuckets:
    """Assign the scanned, trainable media of one directory to buckets.

    Needs a scan with ``sizes=True`` for images. Videos are followed through
    diffusion-pipe's video path (:func:`video.plan_video`) from the headers the scan
    read, at ``framerate`` (a :class:`video.FrameRate`; by default the model type's
    rate from its schema). ``frames`` (name -> frame count at the model's rate)
    overrides the headers. Videos with neither are listed in
    ``videos_unknown_frames`` and left out.
    ``unsized_as_square`` places images without a known size in the bucket of a
    square image (for a rough estimate from a scan without sizes); they stay listed
    in ``unsized``.

    ``dir_config`` is the directory's current ``[[directory]]`` table: bucket settings
    (resolutions, frame_buckets, num_repeats, ...) edited since the scan then count
    (the scan's own settings are those it ran with).
    """
    settings = scan.settings if dir_config is None else \
        directory_settings(dir_config, dataset_config)
    cfg = bucket_config(settings, dataset_config, model_type=model_type,
                        round_to=round_to)
    out = DirectoryBuckets(scan.path, cfg, dict(settings), problems=list(cfg.problems))
    for p in out.problems:
        p.directory = scan.path
    keep = scan.trainable()
    keep_set = set(keep)
    out.skipped = [n for n in scan.media if n not in keep_set]
    videos = set(scan.videos)
    if scan.video_headers and frames is None:
        from dpgui_qt.core.dataset import video as _video
        rate = framerate if framerate is not None else _video.model_framerate(model_type)
        mode = clip_mode if clip_mode in _video.CLIP_MODES else _video.DEFAULT_CLIP_MODE
        out.framerate, out.clip_mode = rate, mode
        rf = _video.round_frames_for(model_type)
        for n in scan.videos:
            vh = scan.video_headers.get(n)
            if vh is not None:
                out.video_plans[n] = _video.plan_video(n, vh, cfg, rate, clip_mode=mode,
                                                       round_frames=rf)
    image_sizes = []
    image_names = []
    for n in keep:
        size = scan.sizes.get(n)
        if n in videos:
            plan = out.video_plans.get(n)
            if plan is not None:
                if not plan.skipped:
                    out.files += 1
                    for b in plan.buckets:
                        out.counts[b] += 1
                        out.items[b] += scan.captions_per_item(n)
                continue
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
        for b, count in counts.items():
            out.counts[b] += count
            out.items[b] += count * per
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
        out.problems.append(new_problem(
            "size_unknown", INFO, "The pixel size of these files could not be read from "
            "their headers; they are not in the bucket preview.", out.unsized,
            directory=scan.path))
    if out.videos_unknown_frames:
        out.problems.append(new_problem(
            "video_frames_unknown", INFO,
            "Frame counts of videos are not read by the scan; these videos are not in the "
            "bucket preview or the step estimate.", out.videos_unknown_frames,
            directory=scan.path))
    if out.video_plans:
        _video_problems(out, scan, keep_set)
    return out


def _video_problems(out: DirectoryBuckets, scan: DirectoryScan, keep: set[Any]) -> None:
    from dpgui_qt.core.dataset import video as _video

    def add(kind: str, severity: str, message: str, files: Iterable[str] = (), source: str = "") -> None:
        out.problems.append(new_problem(kind, severity, message, files, source, scan.path))

    plans = {n: p for n, p in out.video_plans.items() if n in keep}
    rate = out.framerate
    fps = rate.fps if rate is not None else None
    short = [p for p in plans.values() if p.status == "too_short"]
    if short:
        need = short[0].shortest_bucket
        if need is None:
            add("video_no_frame_bucket", ERROR,
                "No frame bucket above 1 is configured, so diffusion-pipe skips every video "
                "here as too short. Set frame_buckets (e.g. [1, 33]) in the dataset config.",
                [p.name for p in short], "utils/dataset.py:508-512,838-850")
        else:
            add("video_too_short", WARNING,
                f"These videos will be skipped: resampled to {_video.fps_text(fps)} fps they have "
                f"fewer frames than the shortest frame bucket ({need}). Add a shorter frame "
                "bucket or use longer clips. "
                + "; ".join(f"{p.name}: {p.frames} frames" for p in short[:8]),
                [p.name for p in short], "utils/dataset.py:796,818-821,838-850")
    single = [p.name for p in plans.values() if p.status == "single_frame"]
    if single:
        add("video_single_frame", WARNING,
            "These videos resample to a single frame and are trained as still images in the "
            "image bucket.", single, "utils/dataset.py:796,808")
    near = [p for p in plans.values() if p.near_miss]
    if near:
        add("video_near_bucket", INFO,
            "These videos are only a few frames short of a longer frame bucket: "
            + "; ".join(f"{p.name}: {p.frames} frames, {p.short_by} short of "
                        f"{p.shortest_bucket if p.status == 'too_short' else p.next_bucket}"
                        for p in near[:8])
            + ". A slightly longer clip (or a shorter bucket) would train more of them.",
            [p.name for p in near], "utils/dataset.py:838-850")
    ok = [p for p in plans.values() if not p.skipped]
    if ok:
        if out.config.size_buckets is not None:
            wanted = sorted({int(f) for _w, _h, f in out.config.size_buckets if int(f) > 1})
        else:
            wanted = [int(f) for f in out.config.frame_buckets if int(f) > 1]
        reached = {p.frame_bucket for p in ok}
        empty = [f for f in wanted if f not in reached]
        if empty:
            add("frame_bucket_empty", WARNING,
                "No video here reaches frame bucket" + ("s " if len(empty) > 1 else " ")
                + ", ".join(str(f) for f in empty) + f" (at {_video.fps_text(fps)} fps); "
                "longest video: " + str(max(p.frames or 0 for p in ok)) + " frames. Those "
                "buckets stay empty; remove them or add longer videos.",
                source="utils/dataset.py:838-850")
    resampled = [p for p in plans.values() if p.header.fps and fps and p.frames is not None
                 and abs(p.header.fps - fps) > 1e-6]
    if resampled:
        rates = sorted({_video.fps_text(p.header.fps) for p in resampled})
        add("video_resampled", INFO,
            f"These videos are resampled from {', '.join(rates)} fps to the model's "
            f"{_video.fps_text(fps)} fps (frames are dropped or repeated; the frame counts and "
            "buckets shown are after resampling).", [p.name for p in resampled],
            "utils/dataset.py:796; models/base.py:87-92")
    packets = [n for n, p in out.video_plans.items() if p.header.frames_from == "packets"]
    mkv = [n for n in packets if n.lower().endswith(".mkv")]
    other = [n for n in packets if n not in mkv]
    if mkv:
        add("video_frames_not_in_header", INFO,
            "These .mkv files store no frame count; dpgui counted their packets, while "
            "diffusion-pipe decodes each of them in full to count frames, which makes its "
            "caching pass slow. Remuxing to .mp4 avoids that.", mkv,
            "utils/dataset.py:786-789")
    if other:
        add("video_frame_count_unreliable", WARNING,
            "These containers (e.g. .webm) store no frame count either, but diffusion-pipe "
            "decodes only .mkv files to count frames; for these it asks ComfyUI's reader, "
            "which its own comment says reports 0 frames for such files, and a 0-frame "
            "video is skipped as too short. dpgui counted their packets and shows what "
            "they would train as; remux them to .mp4 to be sure they train.", other,
            "utils/dataset.py:786-792")
    if rate is not None and rate.assumed and plans:
        add("video_framerate_assumed", INFO,
            f"Frame rate {_video.fps_text(fps)} fps is assumed: {rate.note}.",
            source=rate.source)
    odd = sorted({p.frame_bucket for p in ok if p.trained is not None and p.frame_bucket
                  and p.trained != p.frame_bucket})
    if odd:
        add("frame_bucket_rounded", INFO,
            "Frame bucket" + ("s " if len(odd) > 1 else " ") + ", ".join(
                f"{f} trains {_round_of(ok, f)} frames"
                for f in odd)
            + " (the model wants 4k + 1 frames); use 4k + 1 lengths such as 33 or 49.",
            source="models/base.py:83-84,172")


def _round_of(plans: Iterable[VideoPlan], f: int) -> int:
    for p in plans:
        if p.frame_bucket == f and p.trained is not None:
            return int(p.trained)
    return f


def dataset_buckets(scan: DatasetScan, dataset_values: dict[str, Any], *,
                    model_type: str | None = None, round_to: int | None = None,
                    unsized_as_square: bool = False) -> list[DirectoryBuckets]:
    return [directory_buckets(d, dataset_values, model_type=model_type, round_to=round_to,
                              unsized_as_square=unsized_as_square)
            for d in scan.directories]
