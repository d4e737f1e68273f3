"""Video headers and diffusion-pipe's video path, simulated without decoding a frame.

Facts from diffusion-pipe (utils/dataset.py, models/base.py, models/*.py; no code
copied), which this module reproduces:

* a video's source frame count is the container's own count (PyAV
  ``stream.frames``) when it has one; ``.mkv`` files are decoded in full to count
  their frames (utils/dataset.py:786-789), and any other container without a count
  (WebM, for one) is decoded frame by frame by ComfyUI's reader. Here such files are
  counted by *demuxing* the video packets: one packet per frame, nothing decoded;
* the source frame rate is the stream's average rate (ComfyUI's reader);
* frames after resampling are ``int(source_frames * model_fps / source_fps)``
  (utils/dataset.py:796, models/base.py:87-92) -- truncated, never rounded;
* more than one frame is a video (utils/dataset.py:808); its frame bucket is the
  largest configured bucket <= its frames, and a video whose only fit is the
  1-frame (image) bucket, or that fits no bucket, is skipped as "too short"
  (utils/dataset.py:818-821, 838-852); with ``size_buckets`` the candidates are
  tried by aspect-ratio distance and the first one it can fill wins
  (utils/dataset.py:854-871);
* a bucket of F frames trains ``round_down(F - 1, round_frames) + 1`` frames
  (models/base.py:83-84, 172), round_frames 4 (8 for ltx2, models/ltx2.py:280);
* ``video_clip_mode`` picks one clip of that length: from the first frame
  (``single_beginning``, the default) or centred (``single_middle``, start
  ``int((frames - target) / 2)``), models/base.py:59, 111-125. Either way a video is
  one item per caption variant and repeat, like an image.

PyAV is imported on first use only (not at import time of this module).
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

CancelFn = Callable[[], bool]

CLIP_MODES = ("single_beginning", "single_middle")
DEFAULT_CLIP_MODE = "single_beginning"  # models/base.py:59
NEAR_MISS_FRAMES = 4  # "a few frames short": at most this many frames below a bucket ...
NEAR_MISS_FRACTION = 0.1  # ... or this fraction of the bucket, whichever is larger
_ROUND_FRAMES = {"ltx2": 8}  # models/ltx2.py:280; 4 elsewhere (models/base.py:57)
_PACKET_POLL = 512  # packets between cancel checks while counting


class VideoCancelled(Exception):
    """Raised by :func:`read_header` when ``cancel()`` turned true mid-count."""


@dataclass
class VideoHeader:
    """What a container says about its first video stream. ``error`` is set (and the
    rest may be None) when the file could not be read as a video."""

    width: int | None = None
    height: int | None = None
    frames: int | None = None  # source frame count
    fps: float | None = None  # average frame rate
    fps_text: str | None = None  # the rate as the container spells it ("30000/1001")
    duration_s: float | None = None
    codec: str | None = None
    container: str | None = None
    frames_from: str | None = None  # "header" or "packets" (counted by demuxing)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and bool(self.width) and bool(self.height) \
            and self.frames is not None and bool(self.fps)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _av() -> Any:
    import av  # heavy: imported on first use only
    return av


def read_header(path: str, cancel: CancelFn | None = None) -> VideoHeader:
    """Read one video's header with PyAV. Never decodes a frame: where the container
    has no frame count the video packets are counted instead. Unreadable files give a
    header with ``error`` set, never an exception (except :class:`VideoCancelled`)."""
    try:
        av = _av()
    except ImportError:
        return VideoHeader(error="PyAV (the 'av' package) is not installed; "
                                 "pip install av to read video headers")
    h = VideoHeader()
    try:
        container = av.open(path, mode="r")
    except Exception as exc:  # noqa: BLE001 - any failure is a finding
        h.error = _clean(exc)
        return h
    try:
        h.container = (container.format.name or "").split(",")[0] or None
        streams = container.streams.video
        if not streams:
            h.error = "no video stream in the file"
            return h
        st = streams[0]
        cc = st.codec_context
        h.width = int(getattr(st, "width", 0) or (cc.width if cc else 0) or 0) or None
        h.height = int(getattr(st, "height", 0) or (cc.height if cc else 0) or 0) or None
        h.codec = (cc.name if cc is not None else None) or None
        rate = st.average_rate
        if rate:
            h.fps = float(rate)
            h.fps_text = str(rate)
        if st.duration is not None and st.time_base is not None:
            h.duration_s = float(st.duration * st.time_base)
        elif container.duration is not None:
            h.duration_s = container.duration / 1_000_000
        if st.frames and st.frames > 0:
            h.frames, h.frames_from = int(st.frames), "header"
        else:
            h.frames, h.frames_from = _count_packets(container, st, cancel), "packets"
        if not h.fps and h.frames and container.duration:
            # no average rate: frames over the container's duration, as ComfyUI's
            # reader falls back to
            h.fps = h.frames / (container.duration / 1_000_000)
            h.fps_text = f"{h.fps:.3f} (frames / duration)"
        if not h.fps:
            h.error = "the video stream has no frame rate"
        elif not h.width or not h.height:
            h.error = "the video stream has no pixel size"
        elif h.frames == 0:
            h.error = "the video stream has no frames"
    except VideoCancelled:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure becomes the header's error
        h.error = _clean(exc)
    finally:
        try:
            container.close()
        except Exception:  # noqa: BLE001 - closing a broken container: the error is already kept
            pass
    return h


def _count_packets(container: Any, stream: Any, cancel: CancelFn | None) -> int:
    n = 0
    for i, pkt in enumerate(container.demux(stream)):
        if pkt.size:  # the demuxer ends with an empty flush packet
            n += 1
        if cancel is not None and i % _PACKET_POLL == _PACKET_POLL - 1 and cancel():
            raise VideoCancelled
    return n


def _clean(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    # PyAV's messages repeat the path ("[Errno 1094995529] Invalid data ...: '/x.mp4'")
    i = text.find(": '")
    if text.startswith("[Errno") and i > 0:
        text = text[:i]
        text = text.split("] ", 1)[-1]
    return text


# ----------------------------------------------------------------- frame rates
@dataclass
class FrameRate:
    """The frame rate diffusion-pipe resamples videos to for one model."""

    fps: float | None  # None: an image model (no frame rate at all)
    source: str  # diffusion-pipe file:line
    assumed: bool = False  # True when the rate depends on something dpgui cannot see
    note: str | None = None  # how it was decided (or what was assumed and why)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _caps(model_type: str | None) -> dict[str, Any]:
    if not model_type:
        return {}
    try:
        from dpgui_qt.core.config.schema import default_registry
        return default_registry().capabilities(model_type) or {}
    except Exception:  # noqa: BLE001 - no schemas or an unknown model: no capabilities known
        return {}


def _host_path(value: Any, base_dir: str | None) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    p = os.path.expanduser(value)
    if base_dir and not os.path.isabs(p):
        p = os.path.join(base_dir, p)
    return p


def model_framerate(model_type: str | None, model_values: dict[str, Any] | None = None,
                    base_dir: str | None = None) -> FrameRate:
    """The model's frame rate from its schema's capabilities; for Wan, the checkpoint
    decides (SkyReels and Wan2.2 5B run at 24 fps), read from ``ckpt_path`` where that
    folder is on this machine."""
    caps = _caps(model_type)
    fps = caps.get("framerate")
    src = caps.get("framerate_source") or ""
    if not caps:
        return FrameRate(None, "", True, f"unknown model type {model_type!r}")
    if fps is None:
        return FrameRate(None, src, False, caps.get("framerate_note"))
    if model_type != "wan":
        return FrameRate(float(fps), src, False, None)
    mv = model_values or {}
    ckpt = _host_path(mv.get("ckpt_path"), base_dir)
    if ckpt is None:
        return FrameRate(float(fps), src, True,
                         "model.ckpt_path is not set, so the checkpoint is unknown; assumed "
                         "Wan's 16 fps (SkyReels checkpoints and the Wan2.2 5B model train at "
                         "24 fps)")
    name = os.path.basename(os.path.normpath(ckpt)).lower()
    if "skyreels" in name:
        return FrameRate(24.0, "models/wan/wan.py:105-108", False,
                         "24 fps: the checkpoint folder name contains 'skyreels'")
    tpath = _host_path(mv.get("transformer_path"), base_dir)
    candidates = []
    if tpath and os.path.isdir(tpath):
        candidates.append(os.path.join(tpath, "config.json"))
    candidates += [os.path.join(ckpt, "config.json"),
                   os.path.join(ckpt, "low_noise_model", "config.json")]
    for cfg in candidates:
        try:
            with open(cfg, encoding="utf-8") as fh:
                mtype = json.load(fh).get("model_type")
        except (OSError, ValueError, AttributeError):
            continue
        if mtype == "ti2v":
            return FrameRate(24.0, "models/wan/wan.py:164-166", False,
                             f"24 fps: {cfg} says model_type = 'ti2v' (Wan2.2 5B)")
        return FrameRate(float(fps), src, False,
                         f"16 fps: {cfg} says model_type = {mtype!r}")
    return FrameRate(float(fps), src, True,
                     f"the checkpoint's config.json is not readable here ({ckpt}); assumed "
                     "Wan's 16 fps. If it is the Wan2.2 5B (ti2v) model, diffusion-pipe "
                     "trains at 24 fps and the frame counts here are too low")


def round_frames_for(model_type: str | None) -> int:
    return _ROUND_FRAMES.get(model_type or "", 4)


# ----------------------------------------------------------------- the video path
def resampled_frames(source_frames: int, source_fps: float, model_fps: float) -> int:
    """utils/dataset.py:796 with the same operand order (so the same float result)."""
    return int(source_frames * model_fps / float(source_fps))


def trained_frames(bucket_frames: int, round_frames: int = 4) -> int:
    """models/base.py:83-84: round (F - 1) down to a multiple, plus one."""
    return ((bucket_frames - 1) // round_frames) * round_frames + 1


@dataclass
class VideoPlan:
    """What diffusion-pipe will do with one video."""

    name: str
    header: VideoHeader
    model_fps: float | None
    frames: int | None = None  # after resampling to model_fps
    status: str = "ok"  # ok | too_short | single_frame | unreadable | no_framerate
    frame_bucket: int | None = None
    bucket_label: str | None = None  # e.g. "512x288x33f" (first resolution) or None
    buckets: list[Any] = field(default_factory=list)  # SizeBucket per resolution
    shortest_bucket: int | None = None  # the shortest video bucket (frames > 1)
    next_bucket: int | None = None  # the next frame bucket above ``frames``
    short_by: int | None = None  # frames missing to reach the shortest / next bucket
    trained: int | None = None  # frames the model sees (bucket rounded, models/base.py)
    clip: tuple[int, int] | None = None  # [start, end) of the resampled frames trained
    reason: str | None = None  # why it is skipped, in words

    @property
    def skipped(self) -> bool:
        return self.status in ("too_short", "unreadable", "no_framerate")

    @property
    def near_miss(self) -> bool:
        """A few frames short of a (longer) bucket."""
        if self.short_by is None or self.frames is None or self.short_by <= 0:
            return False
        target = self.shortest_bucket if self.status == "too_short" else self.next_bucket
        if not target:
            return False
        return self.short_by <= max(NEAR_MISS_FRAMES, int(target * NEAR_MISS_FRACTION))

    def summary(self) -> str:
        h = self.header
        if self.status == "unreadable":
            return f"skipped: {self.reason}"
        parts = []
        if h.fps and self.model_fps:
            parts.append(f"{fps_text(h.fps)} → {fps_text(self.model_fps)} fps")
        if h.frames is not None and self.frames is not None:
            parts.append(f"{h.frames} → {self.frames} frames")
        if self.status == "too_short":
            parts.append(f"skipped: too short (needs {self.shortest_bucket})")
        elif self.status == "no_framerate":
            parts.append(f"skipped: {self.reason}")
        elif self.frame_bucket is not None:
            parts.append(f"bucket {self.frame_bucket}f" + (f" ({self.bucket_label})"
                                                            if self.bucket_label else ""))
        return " · ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in asdict(self).items() if k != "buckets"}
        d["header"] = self.header.to_dict()
        d["skipped"] = self.skipped
        d["near_miss"] = self.near_miss
        d["buckets"] = [{"width": b.width, "height": b.height, "frames": b.frames,
                         "ar": b.ar, "resolution": b.resolution} for b in self.buckets]
        d["clip"] = list(self.clip) if self.clip else None
        return d


def fps_text(x: float | None) -> str:
    """A frame rate as people write it: ``24``, ``23.976``; "?" when unknown."""
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:.3f}".rstrip("0").rstrip(".")


def plan_video(name: str, header: VideoHeader, cfg: Any, rate: FrameRate | None, *,
               clip_mode: str = DEFAULT_CLIP_MODE, round_frames: int = 4) -> VideoPlan:
    """Follow one video through diffusion-pipe's metadata pass and clip extraction.
    ``cfg`` is the directory's :class:`buckets.BucketConfig`."""
    model_fps = rate.fps if rate is not None else None
    plan = VideoPlan(name, header, model_fps)
    if cfg.size_buckets is not None:
        video_frames = sorted({int(f) for _w, _h, f in cfg.size_buckets if int(f) > 1})
    else:
        video_frames = [int(f) for f in cfg.frame_buckets if int(f) > 1]
    plan.shortest_bucket = video_frames[0] if video_frames else None
    if not header.ok:
        plan.status = "unreadable"
        plan.reason = (f"cannot be read as a video ({header.error or 'incomplete header'}); "
                       "diffusion-pipe skips it")
        return plan
    if not model_fps:
        plan.status = "no_framerate"
        plan.reason = ("the model has no frame rate (an image model); diffusion-pipe fails to "
                       "load the video and skips it")
        return plan
    assert header.frames is not None and header.fps  # header.ok says so
    n = resampled_frames(header.frames, header.fps, model_fps)
    plan.frames = n
    buckets = cfg.assign(header.width, header.height, n)
    above = [f for f in video_frames if f > n]
    plan.next_bucket = above[0] if above else None
    if not buckets:
        plan.status = "too_short"
        need = plan.shortest_bucket
        if need is None:
            plan.reason = ("no frame bucket longer than 1 frame is configured "
                           "(frame_buckets), so every video is skipped")
        else:
            plan.short_by = need - n
            plan.reason = (f"too short: {n} frames at {fps_text(model_fps)} fps, the shortest "
                           f"frame bucket is {need}")
        return plan
    b0 = buckets[0]
    plan.buckets = buckets
    plan.frame_bucket = b0.frames
    plan.bucket_label = f"{b0.width}x{b0.height}x{b0.frames}f" if b0.frames > 1 else \
        f"{b0.width}x{b0.height}"
    if n <= 1:
        plan.status = "single_frame"
        plan.reason = ("resampled to a single frame: diffusion-pipe puts it in the image "
                       "bucket and trains it as a still")
        plan.trained, plan.clip = 1, (0, 1)
        return plan
    if plan.next_bucket is not None:
        plan.short_by = plan.next_bucket - n
    target = trained_frames(b0.frames, round_frames)
    plan.trained = target
    start = int((n - target) / 2) if clip_mode == "single_middle" else 0
    plan.clip = (start, start + target)
    return plan
