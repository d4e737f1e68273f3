"""Dataset scan: find what will go wrong with the data before a GPU is touched.

One ``os.scandir`` pass per folder classifies every name the way diffusion-pipe
will (see :mod:`.media` for the rules and their source lines) and pairs media
with captions, masks and control images by stem. Two optional passes read file
headers (a few bytes per file, never pixels):

* ``read_headers`` (default on): magic bytes (a PNG named ``.jpg``, an animated
  WebP, a file that is not an image at all), byte totals, empty caption files,
  ``captions.json`` entries;
* ``sizes`` (default off): pixel sizes from the headers, needed for bucket
  previews and the mask-size check; for videos the container header is read with
  PyAV (size, frame rate, frame count; see :mod:`.video`), never a frame decoded.

``cancel()`` is polled every few hundred files; a cancelled scan returns what it
has with ``cancelled=True``. ``progress(done, total_estimate)`` is called at the
same cadence; the total is an estimate that can grow while a folder is listed.
No Qt here: the GUI runs this in a worker thread.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable

from dpgui_qt.core.dataset import media

ERROR = "error"
WARNING = "warning"
INFO = "info"

FILES_CAP = 50  # file names kept per problem; ``count`` has the full number
_POLL = 256  # files between cancel/progress checks
CAPTIONS_JSON = "captions.json"  # utils/dataset.py:35
_BLANK_MAX = 8  # captions up to this many bytes are read to spot whitespace-only ones
_SNIFFABLE = frozenset({".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".gif", ".bmp", ".webp",
                        ".tif", ".tiff"})

ProgressFn = Callable[[int, int], None]
AddProblem = Callable[..., None]  # (kind, severity, message, files=(), source="")
CancelFn = Callable[[], bool]


@dataclass
class Problem:
    """One thing to fix. ``message`` says what to do; ``files`` is capped at FILES_CAP."""

    kind: str
    severity: str  # "error" (the run fails), "warning" (it runs, not as you think), "info"
    message: str
    files: list[str] = field(default_factory=list)
    count: int = 0  # number of files concerned (len(files) may be smaller)
    source: str = ""  # diffusion-pipe file:line whose behaviour this reports
    directory: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def new_problem(kind: str, severity: str, message: str, files: Iterable[str] = (),
                source: str = "", directory: str | None = None) -> Problem:
    """A :class:`Problem` naming at most ``FILES_CAP`` of its files (sorted) and their count."""
    files = sorted(files)
    return Problem(kind, severity, message, files[:FILES_CAP], len(files), source, directory)


# ----------------------------------------------------------------- settings
# Keys a [[directory]] table inherits from the dataset level (utils/dataset.py:458-515,
# 731-736). mask_path, control_path and default_mask_file are per directory only.
_INHERITED = ("enable_ar_bucket", "resolutions", "min_ar", "max_ar", "num_ar_buckets",
              "ar_buckets", "frame_buckets", "size_buckets", "num_repeats",
              "shuffle_metadata", "caption_prefix", "cache_shuffle_num",
              "cache_shuffle_delimiter", "shuffle_tags", "skip_empty_caption",
              "online_captions")
_DEFAULTS = {"enable_ar_bucket": False, "num_repeats": 1, "skip_empty_caption": True,
             "online_captions": False, "cache_shuffle_num": 0, "shuffle_tags": False,
             "frame_buckets": [1], "caption_prefix": "", "shuffle_metadata": True}


def directory_settings(dir_config: dict[str, Any], dataset_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """The effective settings of one directory: its own value, else the dataset's, else
    diffusion-pipe's default. Unset keys without a default are absent."""
    dataset_config = dataset_config or {}
    out = {k: v for k, v in dir_config.items()}
    for key in _INHERITED:
        if key in dir_config:
            continue
        if key in dataset_config:
            out[key] = dataset_config[key]
        elif key in _DEFAULTS:
            out[key] = _DEFAULTS[key]
    return out


def _resolve(path: Any, base_dir: str | None) -> str | None:
    if not isinstance(path, str) or not path:
        return None
    resolved = os.path.expanduser(path)
    if base_dir and not os.path.isabs(resolved):
        resolved = os.path.join(base_dir, resolved)
    return resolved


def _split(name: str) -> tuple[str, str]:
    """(stem, suffix) as pathlib spells them: '.hidden' has no suffix, 'a.' neither."""
    i = name.rfind(".")
    if i <= 0 or i == len(name) - 1:
        return name, ""
    return name[:i], name[i:]


# ----------------------------------------------------------------- results
@dataclass
class DirectoryScan:
    path: str
    settings: dict[str, Any] = field(default_factory=dict)
    exists: bool = True
    images: list[str] = field(default_factory=list)  # names diffusion-pipe opens with Pillow
    videos: list[str] = field(default_factory=list)  # names with a video suffix
    captions: list[str] = field(default_factory=list)  # .txt files
    missing_captions: list[str] = field(default_factory=list)  # media without a caption
    orphan_captions: list[str] = field(default_factory=list)  # .txt without media
    empty_captions: list[str] = field(default_factory=list)  # .txt that is empty/whitespace
    masks: dict[str, str] = field(default_factory=dict)  # media name -> mask file name
    missing_masks: list[str] = field(default_factory=list)
    mask_size_mismatch: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # name -> (img, mask)
    controls: dict[str, str] = field(default_factory=dict)  # media name -> control name
    missing_controls: list[str] = field(default_factory=list)
    unsupported: dict[str, str] = field(default_factory=dict)  # name -> reason
    mismatched: dict[str, str] = field(default_factory=dict)  # name -> format found
    exif_rotated: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)  # suffixes dp never loads
    archives: list[str] = field(default_factory=list)  # .tar: dp reads members
    subdirs: list[str] = field(default_factory=list)
    total_bytes: int | None = None  # media + captions; None unless headers were read
    has_captions_json: bool = False
    captions_json_entries: dict[str, int] | None = None  # name -> number of captions
    sizes: dict[str, tuple[int, int]] = field(default_factory=dict)
    # video name -> video.VideoHeader (read with ``sizes``)
    video_headers: dict[str, Any] = field(default_factory=dict)
    headers_read: bool = False
    sizes_read: bool = False
    cancelled: bool = False
    elapsed_s: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def media(self) -> list[str]:
        return self.images + self.videos

    def counts(self) -> dict[str, int]:
        return {
            "images": len(self.images), "videos": len(self.videos),
            "captions": len(self.captions), "missing_captions": len(self.missing_captions),
            "orphan_captions": len(self.orphan_captions),
            "empty_captions": len(self.empty_captions), "masks": len(self.masks),
            "missing_masks": len(self.missing_masks),
            "mask_size_mismatch": len(self.mask_size_mismatch),
            "controls": len(self.controls), "missing_controls": len(self.missing_controls),
            "unsupported": len(self.unsupported), "mismatched": len(self.mismatched),
            "exif_rotated": len(self.exif_rotated), "ignored_files": len(self.ignored_files),
            "subdirs": len(self.subdirs),
        }

    def trainable(self) -> list[str]:
        """Media diffusion-pipe will keep: readable, and captioned unless
        ``skip_empty_caption`` is off (utils/dataset.py:746-758)."""
        skip = set(self.unsupported)
        if self.settings.get("skip_empty_caption", True):
            if self.captions_json_entries is not None:
                skip.update(n for n in self.media if n not in self.captions_json_entries)
            elif not self.has_captions_json:
                skip.update(self.missing_captions)
        return [n for n in self.media if n not in skip]

    def captions_per_item(self, name: str) -> int:
        """Caption variants diffusion-pipe iterates per file (utils/dataset.py:48-57,761-763)."""
        n = self.settings.get("cache_shuffle_num", 0) or 0
        if n == 0 and self.settings.get("shuffle_tags"):
            n = 1
        base = 1
        if self.captions_json_entries is not None:
            base = self.captions_json_entries.get(name, 1) or 1
        return base * max(n, 1)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["counts"] = self.counts()
        d["sizes"] = {k: list(v) for k, v in self.sizes.items()}
        d["video_headers"] = {k: v.to_dict() for k, v in self.video_headers.items()}
        d["mask_size_mismatch"] = {k: [list(a), list(b)] for k, (a, b) in
                                   self.mask_size_mismatch.items()}
        return d

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)


@dataclass
class DatasetScan:
    directories: list[DirectoryScan] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # dataset-level ones
    cancelled: bool = False
    elapsed_s: float = 0.0

    def all_problems(self) -> list[Problem]:
        out = list(self.problems)
        for d in self.directories:
            out.extend(d.problems)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"directories": [d.to_dict() for d in self.directories],
                "problems": [p.to_dict() for p in self.problems],
                "cancelled": self.cancelled, "elapsed_s": self.elapsed_s}

    def to_json(self, **kw: Any) -> str:
        return json.dumps(self.to_dict(), **kw)


class _Cancelled(Exception):
    pass


class _Ticker:
    """Rate-limited progress/cancel polling shared by every pass of a scan."""

    def __init__(self, progress: ProgressFn | None, cancel: CancelFn | None,
                 offset: int = 0, total: int = 0):
        self.progress = progress
        self.cancel = cancel
        self.done = offset
        self.total = total
        self._next = offset + _POLL

    def add_total(self, n: int) -> None:
        self.total += n

    def tick(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self._next:
            self._next = self.done + _POLL
            self.poll()

    def poll(self) -> None:
        if self.cancel is not None and self.cancel():
            raise _Cancelled
        if self.progress is not None:
            self.progress(self.done, max(self.total, self.done))


# ----------------------------------------------------------------- capabilities
def model_supports_video(model_type: str | None) -> bool | None:
    """``x-dpgui-capabilities.video`` of the model schema; None if unknown."""
    caps = _capabilities(model_type)
    return caps.get("video") if caps else None


def model_supports_control(model_type: str | None) -> bool | None:
    caps = _capabilities(model_type)
    return caps.get("edit_dataset") if caps else None


def _capabilities(model_type: str | None) -> dict[str, Any]:
    if not model_type:
        return {}
    try:
        from dpgui_qt.core.config.schema import default_registry
        return default_registry().capabilities(model_type) or {}
    except Exception:  # noqa: BLE001 - no schemas or an unknown model: no capabilities known
        return {}


# ----------------------------------------------------------------- scanning
def _stem_map(path: str, ticker: _Ticker) -> dict[str, str]:
    """stem -> file name of the regular files in ``path`` (utils/dataset.py:633-634:
    any suffix, last one listed wins)."""
    out: dict[str, str] = {}
    with os.scandir(path) as it:
        for e in it:
            if e.is_file():
                out[_split(e.name)[0]] = e.name
                ticker.tick()
    return out


def scan_directory(dir_config: dict[str, Any], dataset_config: dict[str, Any] | None = None, *,
                   model_type: str | None = None, progress: ProgressFn | None = None,
                   cancel: CancelFn | None = None, read_headers: bool = True,
                   sizes: bool = False, base_dir: str | None = None,
                   _ticker: _Ticker | None = None) -> DirectoryScan:
    """Scan one ``[[directory]]``. ``base_dir`` resolves relative paths (diffusion-pipe
    resolves them against its working directory). ``sizes`` implies ``read_headers``."""
    t0 = time.perf_counter()
    settings = directory_settings(dir_config, dataset_config)
    path = _resolve(settings.get("path"), base_dir) or ""
    scan = DirectoryScan(path=path, settings=settings)
    ticker = _ticker or _Ticker(progress, cancel)
    read_headers = read_headers or sizes
    try:
        _scan_into(scan, settings, ticker, model_type, read_headers, sizes, base_dir)
    except _Cancelled:
        scan.cancelled = True
    scan.elapsed_s = time.perf_counter() - t0
    return scan


def _scan_into(scan: DirectoryScan, settings: dict[str, Any], ticker: _Ticker, model_type: str | None,
               read_headers: bool, sizes: bool, base_dir: str | None) -> None:
    path = scan.path
    P = scan.problems

    def add(kind: str, severity: str, message: str, files: Iterable[str] = (), source: str = "") -> None:
        P.append(new_problem(kind, severity, message, files, source, path))

    if not path or not os.path.isdir(path):
        scan.exists = False
        add("directory_missing", ERROR,
            f"The folder {path or '(no path set)'} does not exist or is not a folder; "
            "set [[directory]] path to the folder that holds your images.",
            source="utils/dataset.py:486-487")
        return

    # ---- pass 1: one scandir, names only ------------------------------------
    images, videos, unknown = scan.images, scan.videos, []
    captions: dict[str, str] = {}
    media_stems: dict[str, list[str]] = {}
    stems: dict[str, str] = {}  # media name -> stem
    bad_video_case = []
    pil_suffixes = media.pillow_image_suffixes()
    non_media = media.DP_NON_MEDIA_SUFFIXES
    known_suffix: dict[str, int] = {}  # suffix -> 0 image, 1 video, 2 unknown (memo)
    tick = ticker.tick
    listed_from = ticker.done
    with os.scandir(path) as it:
        for e in it:
            tick()
            name = e.name
            if not e.is_file():
                if e.is_dir() and name != "cache":  # cache/ is diffusion-pipe's own
                    scan.subdirs.append(name)
                continue
            i = name.rfind(".")  # pathlib's stem/suffix (see _split), inlined for speed
            if i <= 0 or i == len(name) - 1:
                stem, suffix = name, ""
            else:
                stem, suffix = name[:i], name[i:]
            if suffix == ".txt":
                captions[stem] = name
                continue
            if suffix in non_media:
                if name == CAPTIONS_JSON:
                    scan.has_captions_json = True
                else:
                    scan.ignored_files.append(name)
                continue
            if suffix == ".tar":
                scan.archives.append(name)
                continue
            kind = known_suffix.get(suffix)
            if kind is None:
                if media.is_dp_video_suffix(suffix):
                    kind = 1
                elif suffix.lower() in pil_suffixes:
                    kind = 0
                else:
                    kind = 2
                known_suffix[suffix] = kind
            if kind == 0:
                images.append(name)
            elif kind == 1:
                videos.append(name)
            else:
                unknown.append(name)
                if media.is_video_suffix_any_case(suffix):
                    bad_video_case.append(name)
            stems[name] = stem
            lst = media_stems.get(stem)
            if lst is None:
                media_stems[stem] = [name]
            else:
                lst.append(name)
    images.sort()
    videos.sort()
    unknown.sort()
    scan.captions = sorted(captions.values())
    ticker.add_total(ticker.done - listed_from)

    # ---- pairing by stem -----------------------------------------------------
    all_media = images + videos + unknown
    scan.orphan_captions = sorted(c for s, c in captions.items() if s not in media_stems)

    mask_dir = _resolve(settings.get("mask_path"), base_dir)
    mask_map: dict[str, str] | None = None
    if settings.get("mask_path") is not None:
        if mask_dir and os.path.isdir(mask_dir):
            mask_map = _stem_map(mask_dir, ticker)
        else:
            add("mask_path_missing", ERROR,
                f"mask_path {mask_dir} is not a folder; fix the path or remove mask_path.",
                source="utils/dataset.py:488-489")
    default_mask = _resolve(settings.get("default_mask_file"), base_dir)
    if settings.get("default_mask_file") is not None and not (
            default_mask and os.path.isfile(default_mask)):
        add("default_mask_file_missing", ERROR,
            f"default_mask_file {default_mask} is not a file; fix the path or remove it.",
            source="utils/dataset.py:492-493")
    control_dir = _resolve(settings.get("control_path"), base_dir)
    control_map: dict[str, str] | None = None
    if settings.get("control_path") is not None:
        if control_dir and os.path.isdir(control_dir):
            control_map = _stem_map(control_dir, ticker)
        else:
            add("control_path_missing", ERROR,
                f"control_path {control_dir} is not a folder; fix the path or remove "
                "control_path.", source="utils/dataset.py:490-491")
    for n in all_media:
        # every candidate needs a control image, even files Pillow will later refuse
        # (utils/dataset.py:668-671 runs before any file is opened)
        stem = stems[n]
        if mask_map is not None:
            m = mask_map.get(stem)
            if m is not None:
                scan.masks[n] = m
        if control_map is not None:
            c = control_map.get(stem)
            if c is None:
                scan.missing_controls.append(n)
            else:
                scan.controls[n] = c

    # ---- pass 2: headers ---------------------------------------------------
    if read_headers:
        ticker.add_total(len(all_media) + len(captions))
        _read_headers(scan, images, videos, unknown, captions, stems, mask_dir, sizes, ticker)
        if scan.has_captions_json:
            _read_captions_json(scan, add)
    else:
        # without headers, unknown suffixes stay unknown: diffusion-pipe will try
        # Pillow on them and skip what it cannot open.
        for n in unknown:
            scan.unsupported[n] = "unrecognised suffix; diffusion-pipe tries to open it " \
                                  "as an image and skips it if that fails"
    scan.headers_read = read_headers
    scan.sizes_read = sizes
    # captions and masks are reported for real media only (not for files that
    # diffusion-pipe will fail to open anyway)
    real = [n for n in scan.media if n not in scan.unsupported or
            scan.unsupported[n].startswith("animated WebP")]
    scan.missing_captions = [n for n in real if stems[n] not in captions]
    if mask_map is not None:
        scan.missing_masks = [n for n in real if n not in scan.masks]

    _problems(scan, add, settings, model_type, bad_video_case, media_stems,
              mask_map is not None, bool(settings.get("default_mask_file")))


def _read_headers(scan: DirectoryScan, images: list[str], videos: list[str],
                  unknown: list[str], captions: dict[str, str], stems: dict[str, str],
                  mask_dir: str | None,
                  sizes: bool, ticker: _Ticker) -> None:
    path = scan.path
    total = 0
    reclassified_images: list[str] = []
    bad_images: list[str] = []
    tick = ticker.tick

    prefix = path.rstrip(os.sep) + os.sep
    flags = os.O_RDONLY | getattr(os, "O_BINARY", 0)
    o_open, o_close, o_fstat, probe_fd = os.open, os.close, os.fstat, media.probe_fd

    def probe(name: str) -> tuple[media.HeaderInfo | None, int]:
        full = prefix + name
        try:
            fd = o_open(full, flags)
            try:
                nbytes = o_fstat(fd).st_size
                info = probe_fd(fd, sizes=sizes)
            finally:
                o_close(fd)
        except OSError:
            return None, 0
        if sizes:
            # formats without a hand-written reader (TIFF, AVIF, ...) or an
            # unrecognised file: Pillow's lazy open settles both
            media.pillow_fallback(full, info)
        return info, nbytes

    for name in images:
        info, nbytes = probe(name)
        tick()
        total += nbytes
        suffix = name[len(stems[name]):]
        if info is None:
            scan.unsupported[name] = "could not be read"
            bad_images.append(name)
            continue
        fmt = info.format
        if nbytes == 0:
            scan.unsupported[name] = "empty file (0 bytes); diffusion-pipe skips it"
            bad_images.append(name)
            continue
        if fmt in media.VIDEO_FORMATS:
            scan.unsupported[name] = (f"a {fmt} video with an image suffix; diffusion-pipe "
                                      "opens it with Pillow, fails and skips it")
            bad_images.append(name)
            continue
        if fmt is None:
            # Not a sniffed format. With sizes, Pillow has already tried (probe sets the
            # format when it succeeds); without, only suffixes whose magic we know are
            # judged, the rest (e.g. .pcx) is given the benefit of the doubt.
            if sizes or suffix.lower() in _SNIFFABLE:
                scan.unsupported[name] = ("not a valid image (unrecognised header); "
                                          "diffusion-pipe tries Pillow and skips it")
                bad_images.append(name)
                continue
        expected = media.expected_formats(suffix)
        if fmt and expected is not None and fmt not in expected:
            scan.mismatched[name] = fmt
        if info.animated and fmt == "webp" and suffix == ".webp":
            # utils/dataset.py:777 compares the suffix exactly; under any other suffix
            # Pillow opens the first frame and the file trains as a still image
            scan.unsupported[name] = ("animated WebP: diffusion-pipe raises "
                                      "NotImplementedError and the run stops")
        if info.exif_orientation and info.exif_orientation in (5, 6, 7, 8):
            scan.exif_rotated.append(name)
        if info.size and sizes:  # the first bytes give most sizes for free, but a
            scan.sizes[name] = info.size  # partial table would mislead the preview
    for name in videos:
        info, nbytes = probe(name)
        tick()
        total += nbytes
        if info is None or nbytes == 0:
            scan.unsupported[name] = "empty or unreadable video; diffusion-pipe skips it"
            continue
        if info.format in media.IMAGE_FORMATS:
            scan.mismatched[name] = info.format
            scan.unsupported[name] = (f"a {info.format} image with a video suffix; "
                                      "diffusion-pipe decodes it as a video, fails and skips it")
            continue
        if sizes:
            # the container header (PyAV): size, frame rate, frame count; packets are
            # counted where the container has no count, frames are never decoded
            from dpgui_qt.core.dataset import video as _video
            try:
                vh = _video.read_header(prefix + name, ticker.cancel)
            except _video.VideoCancelled:
                raise _Cancelled from None
            scan.video_headers[name] = vh
            if vh.ok:
                assert vh.width is not None and vh.height is not None  # vh.ok says so
                scan.sizes[name] = (vh.width, vh.height)
            else:
                why = vh.error or "no usable video stream"
                scan.unsupported[name] = (f"cannot be read as a video ({why}); "
                                          "diffusion-pipe skips it")
    for name in unknown:
        info, nbytes = probe(name)
        tick()
        total += nbytes
        if info is not None and (info.format in media.IMAGE_FORMATS or info.size):
            # Pillow sniffs content, so diffusion-pipe trains this file as an image
            reclassified_images.append(name)
            scan.mismatched[name] = info.format or "image"
            if info.size and sizes:
                scan.sizes[name] = info.size
        else:
            scan.unsupported[name] = ("not an image Pillow can open; diffusion-pipe "
                                      "tries and skips it")
    if reclassified_images:
        images.extend(reclassified_images)
        images.sort()
    o_stat, o_read = os.stat, os.read
    for cname in captions.values():
        full = prefix + cname
        tick()
        try:
            size = o_stat(full).st_size
        except OSError:
            continue
        total += size
        if size == 0:
            scan.empty_captions.append(cname)
        elif size <= _BLANK_MAX:
            # a few bytes may be only whitespace, which utils/dataset.py:753 strips away
            try:
                fd = o_open(full, flags)
                try:
                    if not o_read(fd, size).strip():
                        scan.empty_captions.append(cname)
                finally:
                    o_close(fd)
            except OSError:
                pass
    scan.empty_captions.sort()
    scan.total_bytes = total

    if sizes and scan.masks and mask_dir:
        for name, mname in scan.masks.items():
            tick()
            img = scan.sizes.get(name)
            if img is None:
                continue
            msize = media.image_size(os.path.join(mask_dir, mname))
            if msize is not None and msize != img:
                scan.mask_size_mismatch[name] = (img, msize)


def _read_captions_json(scan: DirectoryScan, add: AddProblem) -> None:
    try:
        with open(os.path.join(scan.path, CAPTIONS_JSON), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        add("captions_json_invalid", ERROR,
            f"{CAPTIONS_JSON} could not be read as JSON ({exc}); fix or remove it.",
            [CAPTIONS_JSON], "utils/dataset.py:680-682")
        return
    if not isinstance(data, dict):
        add("captions_json_invalid", ERROR,
            f"{CAPTIONS_JSON} must map file names to lists of captions.",
            [CAPTIONS_JSON], "utils/dataset.py:688-692")
        return
    entries: dict[str, int] = {}
    not_lists = []
    for k, v in data.items():
        if isinstance(v, list):
            entries[k] = len(v)
        else:
            not_lists.append(k)
    if not_lists:
        add("captions_json_invalid", ERROR,
            f"In {CAPTIONS_JSON} every value must be a list of captions; wrap these in [ ].",
            not_lists, "utils/dataset.py:692")
    scan.captions_json_entries = entries


def _problems(scan: DirectoryScan, add: AddProblem, settings: dict[str, Any], model_type: str | None,
              bad_video_case: list[str], media_stems: dict[str, list[str]],
              have_masks: bool, default_mask: bool) -> None:
    media_names = scan.media
    skip_empty = settings.get("skip_empty_caption", True)
    online = settings.get("online_captions", False)

    if not media_names and not scan.archives:
        add("directory_empty", ERROR,
            "No images or videos in this folder; diffusion-pipe stops with 'had no "
            "images/videos'. Point path at the folder that holds the media files.",
            source="utils/dataset.py:673")
    elif scan.media and not scan.trainable() and not scan.cancelled:
        add("directory_nothing_trainable", ERROR,
            "Every file in this folder will be skipped (no captions or unreadable); add "
            "captions or set skip_empty_caption = false.", source="utils/dataset.py:754")

    if online and not scan.has_captions_json:
        add("online_captions_file", ERROR,
            f"online_captions is on but {CAPTIONS_JSON} is missing from the folder; add it "
            "or turn online_captions off.", source="utils/dataset.py:518")
    if scan.has_captions_json:
        if scan.captions:
            add("captions_json_overrides_txt", WARNING,
                f"{CAPTIONS_JSON} is present, so diffusion-pipe ignores every .txt caption "
                f"here (even with online_captions off); remove {CAPTIONS_JSON} to use the "
                ".txt files.", [CAPTIONS_JSON], "utils/dataset.py:655")
        if scan.captions_json_entries is not None:
            absent = [n for n in media_names if n not in scan.captions_json_entries]
            if absent:
                add("captions_json_missing_entries", WARNING,
                    f"These files have no entry in {CAPTIONS_JSON}; they will be "
                    + ("skipped" if skip_empty else "trained with an empty caption")
                    + ". Add entries keyed by file name.", absent, "utils/dataset.py:688-691")
    elif scan.missing_captions:
        if skip_empty:
            add("missing_captions", WARNING,
                "These files have no .txt caption and will be skipped (skip_empty_caption "
                "is on). Write a same-named .txt beside each, or set skip_empty_caption = "
                "false to train them with an empty prompt.", scan.missing_captions,
                "utils/dataset.py:754-756")
        else:
            add("missing_captions", WARNING,
                "These files have no .txt caption and will be trained with an empty prompt "
                "(skip_empty_caption is off). Write a same-named .txt beside each if that is "
                "not what you want.", scan.missing_captions, "utils/dataset.py:757-759")
    if scan.empty_captions and not scan.has_captions_json:
        add("empty_captions", WARNING,
            "These caption files are empty; diffusion-pipe trains their images with an empty "
            "prompt even when skip_empty_caption is on (it only skips missing files). Write "
            "the captions or delete the files.", scan.empty_captions, "utils/dataset.py:753")
    if scan.orphan_captions:
        add("orphan_captions", INFO,
            "These captions have no image or video of the same name (renamed or deleted "
            "media?); they are not used.", scan.orphan_captions, "utils/dataset.py:654")

    if have_masks and scan.missing_masks:
        if default_mask:
            add("missing_masks", INFO,
                "These files have no mask in mask_path; default_mask_file is used for them.",
                scan.missing_masks, "utils/dataset.py:660-663")
        else:
            add("missing_masks", WARNING,
                "These files have no same-named mask in mask_path and are trained without a "
                "mask; add masks (any image type, same file name stem).", scan.missing_masks,
                "utils/dataset.py:664-666")
    if scan.mask_size_mismatch:
        add("mask_size", ERROR,
            "The mask of each of these images has a different pixel size than the image; "
            "caching fails with 'Mask shape ... was not the same as image shape'. Resize the "
            "masks to their images' exact sizes.", list(scan.mask_size_mismatch),
            "models/base.py:180-185")
    if scan.missing_controls:
        add("control_files_complete", ERROR,
            "These files have no same-named control image in control_path; diffusion-pipe "
            "stops with 'No control file exists'. Add the control images or remove the "
            "files.", scan.missing_controls, "utils/dataset.py:670-671")
    if settings.get("control_path") is not None and model_supports_control(model_type) is False:
        add("control_path_unsupported", ERROR,
            f"control_path is set but {model_type} does not train edit datasets; remove "
            "control_path or pick flux (Kontext), flux2 or qwen_image.",
            source="models/base.py")

    webp = [n for n, why in scan.unsupported.items() if why.startswith("animated WebP")]
    if webp:
        add("webp_video", ERROR,
            "Animated WebP files: diffusion-pipe cannot load them and the run crashes "
            "(it does not skip them). Convert them to .mp4 or remove them.", webp,
            "utils/dataset.py:777-782")
    other_bad = [n for n, why in scan.unsupported.items() if not why.startswith("animated WebP")]
    if other_bad:
        add("unsupported_files", WARNING,
            "diffusion-pipe cannot open these files and skips them (see the reason per "
            "file in 'unsupported'); convert or remove them.", other_bad,
            "utils/dataset.py:798-803")
    if bad_video_case:
        add("video_suffix_case", WARNING,
            "These videos have a mixed-case suffix (e.g. .Mp4); diffusion-pipe only "
            "recognises all-lower or all-upper video suffixes, so it opens them as images "
            "and skips them. Rename the suffix.", bad_video_case, "utils/common.py:22-25")
    if scan.mismatched:
        add("format_mismatch", INFO,
            "The suffix of these files does not match their content (e.g. a PNG named .jpg). "
            "Pillow reads them anyway, but other tools may not; rename them.",
            list(scan.mismatched), "utils/dataset.py:798")
    if scan.exif_rotated:
        add("exif_rotation_ignored", WARNING,
            "These photos carry an EXIF rotation that diffusion-pipe ignores: they are "
            "bucketed and trained sideways. Rotate the pixels (e.g. 'exiftran -ai' or "
            "'mogrify -auto-orient') before training.", scan.exif_rotated,
            "utils/dataset.py:798; models/base.py:41-53")
    if scan.videos:
        video_ok = model_supports_video(model_type)
        if video_ok is False:
            add("videos_for_image_models", ERROR,
                f"{model_type} is an image model but this folder holds videos; it has no "
                "frame rate, so diffusion-pipe fails to load each video and skips it. Move "
                "the videos out or pick a video model.", scan.videos,
                "models/base.py:217; utils/dataset.py:795,801-803")
    dup = [n for names in media_stems.values() if len(names) > 1 for n in names]
    if dup:
        add("same_stem_media", INFO,
            "Several media files share a name stem (e.g. a.jpg and a.png); they share one "
            "caption, mask and control image.", dup, "utils/dataset.py:654")
    if scan.archives:
        add("tar_archives", INFO,
            "diffusion-pipe reads the members of .tar archives as media; their contents are "
            "not checked here.", scan.archives, "utils/dataset.py:637-640")
    if scan.subdirs:
        add("subfolders_ignored", INFO,
            "diffusion-pipe does not look into subfolders; media in them is not trained. "
            "Add each subfolder as its own [[directory]] if it should be.", scan.subdirs,
            "utils/dataset.py:628,650")


def scan_dataset(dataset_values: dict[str, Any], *, model_type: str | None = None,
                 progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                 read_headers: bool = True, sizes: bool = False,
                 base_dir: str | None = None) -> DatasetScan:
    """Scan every ``[[directory]]`` of a dataset config (plain values, e.g.
    ``ConfigDocument.values()``). Progress counts files across all directories."""
    t0 = time.perf_counter()
    result = DatasetScan()
    dirs = dataset_values.get("directory") or []
    if not isinstance(dirs, list) or not dirs:
        result.problems.append(new_problem(
            "no_directories", ERROR,
            "The dataset config has no [[directory]] table; add one with the path of your "
            "images.", source="utils/dataset.py:942"))
    ticker = _Ticker(progress, cancel)
    seen: dict[str, int] = {}
    for i, d in enumerate(dirs):
        if not isinstance(d, dict):
            continue
        scan = scan_directory(d, dataset_values, model_type=model_type,
                              read_headers=read_headers, sizes=sizes, base_dir=base_dir,
                              _ticker=ticker)
        result.directories.append(scan)
        key = os.path.realpath(scan.path) if scan.path else ""
        if key and key in seen:
            result.problems.append(new_problem(
                "duplicate_directory", INFO,
                f"[[directory]] {i + 1} uses the same folder as [[directory]] "
                f"{seen[key] + 1}; its files are trained twice per epoch (use num_repeats "
                "instead).", source="utils/dataset.py:942"))
        seen.setdefault(key, i)
        if scan.cancelled:
            result.cancelled = True
            break
    if progress is not None and not result.cancelled:
        progress(ticker.done, ticker.done)
    result.elapsed_s = time.perf_counter() - t0
    return result
