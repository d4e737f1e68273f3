"""Header-only media probing: format sniffing, pixel sizes, animation, EXIF rotation.

Nothing here decodes pixels. The common formats (PNG, JPEG, GIF, BMP, WebP) are
read from the first bytes of the file by a small hand-written parser; anything
else falls back to Pillow's lazy ``Image.open(...).size``, which also stops at the
header. No Qt.

Which file names diffusion-pipe treats as what (facts from its source):

* every regular file in the folder is a media candidate unless its suffix is one
  of ``.txt .npz .json .parquet .bak .db`` (compared case-sensitively),
  utils/dataset.py:650;
* a suffix in imageio's video extension list (each spelled exactly lower case or
  exactly upper case) is a video, utils/common.py:22-25 and utils/dataset.py:784;
  everything else is handed to ``PIL.Image.open``, which sniffs the content, and a
  file Pillow cannot open is skipped with a warning, utils/dataset.py:798-803;
* a ``.webp`` is first opened with imageio and more than one frame raises
  NotImplementedError outside the skip-on-error ``try``, so an animated WebP
  crashes the run, utils/dataset.py:777-782.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from functools import lru_cache

# utils/dataset.py:650 -- suffixes diffusion-pipe never treats as media.
DP_NON_MEDIA_SUFFIXES = frozenset({".txt", ".npz", ".json", ".parquet", ".bak", ".db"})

# imageio 2.x ``imageio.config.video_extensions`` (what utils/common.py:22 iterates),
# lower case. Note that it contains a few still-image suffixes (.j2k, .mpo, .rgb):
# diffusion-pipe treats files with those suffixes as videos.
_IMAGEIO_VIDEO_EXTENSIONS = frozenset("""
.264 .265 .3g2 .3gp .a64 .adp .amr .amv .asf .avc .avi .avr .avs .avs2 .avs3 .bmv
.cavs .cdg .cdxl .cgi .chk .cif .cpk .dat .dav .dif .dnxhd .dnxhr .drc .dv .dvd
.f4v .flm .flv .gsm .gxf .h261 .h263 .h264 .h265 .h26l .hevc .idf .ifv .imx .ipu
.ism .isma .ismv .ivf .ivr .j2k .kux .lvf .m1v .m2t .m2ts .m2v .m4a .m4b .m4v .mj2
.mjpeg .mjpg .mk3d .mka .mks .mkv .mods .moflex .mov .mp4 .mpc .mpd .mpeg .mpg
.mpo .mts .mvi .mxf .mxg .nut .obu .ogg .ogv .psp .qcif .rcv .rgb .rm .roq .sdr2
.ser .sga .svag .svs .ts .ty .ty+ .v .v210 .vb .vc1 .vc2 .viv .vob .webm .wmv .wtv
.xl .xmv .y4m .yop .yuv .yuv10
""".split())

# Formats a sniffed header can be; "video" formats are containers Pillow cannot open.
IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "bmp", "webp", "tiff", "avif", "heif",
                           "ico", "psd", "jpeg2000", "qoi", "ppm"})
VIDEO_FORMATS = frozenset({"mp4", "mov", "matroska", "avi", "mpeg-ts", "mpeg-ps", "ogg",
                           "flv", "asf"})

# Which sniffed formats a suffix normally holds; used only to report mismatches.
_SUFFIX_FORMATS = {
    ".png": {"png"}, ".apng": {"png"},
    ".jpg": {"jpeg"}, ".jpeg": {"jpeg"}, ".jpe": {"jpeg"}, ".jfif": {"jpeg"},
    ".gif": {"gif"}, ".bmp": {"bmp"}, ".dib": {"bmp"}, ".webp": {"webp"},
    ".tif": {"tiff"}, ".tiff": {"tiff"}, ".avif": {"avif"}, ".heic": {"heif"},
    ".heif": {"heif"}, ".ico": {"ico"}, ".psd": {"psd"}, ".jp2": {"jpeg2000"},
    ".j2k": {"jpeg2000"}, ".qoi": {"qoi"}, ".ppm": {"ppm"}, ".pgm": {"ppm"},
    ".pbm": {"ppm"}, ".pnm": {"ppm"},
    ".mp4": {"mp4", "mov"}, ".m4v": {"mp4", "mov"}, ".mov": {"mov", "mp4"},
    ".mkv": {"matroska"}, ".webm": {"matroska"}, ".avi": {"avi"},
}

HEAD_BYTES = 64  # enough for every size this module reads from the start of a file


def is_dp_video_suffix(suffix: str) -> bool:
    """True where diffusion-pipe treats ``suffix`` (with its dot) as a video.

    imageio lists lower-case suffixes and diffusion-pipe adds the upper-case
    spelling (utils/common.py:24-25), so ``.MP4`` is a video but ``.Mp4`` is not.
    """
    low = suffix.lower()
    return low in _IMAGEIO_VIDEO_EXTENSIONS and (suffix == low or suffix == suffix.upper())


def is_video_suffix_any_case(suffix: str) -> bool:
    return suffix.lower() in _IMAGEIO_VIDEO_EXTENSIONS


@lru_cache(maxsize=1)
def pillow_image_suffixes() -> frozenset[str]:
    """Lower-case suffixes Pillow registers (imports Pillow's plugins once)."""
    try:
        from PIL import Image
        Image.init()
        return frozenset(ext.lower() for ext in Image.registered_extensions())
    except Exception:  # noqa: BLE001 - Pillow missing or broken: the usual suspects
        return frozenset({".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"})


def expected_formats(suffix: str) -> set[str] | None:
    return _SUFFIX_FORMATS.get(suffix.lower())


@dataclass
class HeaderInfo:
    """What the first bytes of a file say. ``format`` is None when unrecognised."""

    format: str | None
    width: int | None = None
    height: int | None = None
    animated: bool = False
    exif_orientation: int | None = None  # JPEG only; 1 = upright, 5..8 = rotated 90 degrees

    @property
    def size(self) -> tuple[int, int] | None:
        if self.width and self.height:
            return (self.width, self.height)
        return None


def sniff(head: bytes) -> str | None:
    """Container/image format from magic bytes, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head.startswith(b"RIFF") and len(head) >= 12:
        kind = head[8:12]
        if kind == b"WEBP":
            return "webp"
        if kind == b"AVI ":
            return "avi"
        return None
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in (b"avif", b"avis"):
            return "avif"
        if brand in (b"heic", b"heix", b"mif1", b"msf1", b"hevc"):
            return "heif"
        return "mov" if brand == b"qt  " else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head.startswith(b"\x00\x00\x00\x0cjP  \r\n\x87\n") or head.startswith(b"\xff\x4f\xff\x51"):
        return "jpeg2000"
    if head.startswith(b"8BPS"):
        return "psd"
    if head.startswith(b"qoif"):
        return "qoi"
    if head[:4] == b"\x00\x00\x01\x00":
        return "ico"
    if head[:2] in (b"P1", b"P2", b"P3", b"P4", b"P5", b"P6"):
        return "ppm"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"FLV"):
        return "flv"
    if head.startswith(b"\x00\x00\x01\xba"):
        return "mpeg-ps"
    if head[:1] == b"\x47" and len(head) > 188 and head[188:189] == b"\x47":
        return "mpeg-ts"
    if head.startswith(b"\x30\x26\xb2\x75\x8e\x66\xcf\x11"):
        return "asf"
    return None


def _webp(head: bytes, info: HeaderInfo) -> None:
    # RIFF layout: "RIFF" size "WEBP", then the first chunk's fourcc at 12 and its
    # payload at 20. See the WebP container spec (RFC 9649).
    chunk = head[12:16]
    if chunk == b"VP8X" and len(head) >= 30:
        flags = head[20]
        info.animated = bool(flags & 0x02)
        info.width = 1 + int.from_bytes(head[24:27], "little")
        info.height = 1 + int.from_bytes(head[27:30], "little")
        # An ANIM chunk right after VP8X is the other tell of an animation.
        if head[30:34] == b"ANIM":
            info.animated = True
    elif chunk == b"VP8 " and len(head) >= 30 and head[23:26] == b"\x9d\x01\x2a":
        info.width = struct.unpack_from("<H", head, 26)[0] & 0x3FFF
        info.height = struct.unpack_from("<H", head, 28)[0] & 0x3FFF
    elif chunk == b"VP8L" and len(head) >= 25 and head[20] == 0x2F:
        bits = int.from_bytes(head[21:25], "little")
        info.width = (bits & 0x3FFF) + 1
        info.height = ((bits >> 14) & 0x3FFF) + 1


def _from_head(fmt: str, head: bytes, info: HeaderInfo) -> None:
    if fmt == "png" and len(head) >= 24 and head[12:16] == b"IHDR":
        info.width, info.height = struct.unpack_from(">II", head, 16)
        # An acTL chunk before IDAT marks an APNG; it usually directly follows IHDR.
        if head[37:41] == b"acTL":
            info.animated = True
    elif fmt == "gif" and len(head) >= 10:
        info.width, info.height = struct.unpack_from("<HH", head, 6)
    elif fmt == "bmp":
        dib = struct.unpack_from("<I", head, 14)[0]
        if dib == 12:
            info.width, info.height = struct.unpack_from("<HH", head, 18)
        elif len(head) >= 26:
            w, h = struct.unpack_from("<ii", head, 18)
            info.width, info.height = abs(w), abs(h)
    elif fmt == "webp":
        _webp(head, info)


_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB,
                          0xCD, 0xCE, 0xCF})


def _exif_orientation(seg: bytes) -> int | None:
    """Orientation tag (0x0112) of an APP1 payload that starts with ``Exif\\0\\0``."""
    if not seg.startswith(b"Exif\x00\x00") or len(seg) < 14:
        return None
    tiff = seg[6:]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return None
    try:
        (ifd,) = struct.unpack_from(order + "I", tiff, 4)
        (count,) = struct.unpack_from(order + "H", tiff, ifd)
        for i in range(count):
            tag, typ, _n = struct.unpack_from(order + "HHI", tiff, ifd + 2 + 12 * i)
            if tag == 0x0112 and typ == 3:
                return int(struct.unpack_from(order + "H", tiff, ifd + 2 + 12 * i + 8)[0])
    except struct.error:
        return None
    return None


class _Reader:
    """Random access over a file descriptor, serving the already-read head from memory."""

    __slots__ = ("fd", "head")

    def __init__(self, fd: int, head: bytes):
        self.fd = fd
        self.head = head

    def at(self, offset: int, n: int) -> bytes:
        if offset + n <= len(self.head):
            return self.head[offset:offset + n]
        return os.pread(self.fd, n, offset)


def _jpeg(rd: _Reader, info: HeaderInfo, want_orientation: bool = True) -> None:
    """Walk JPEG marker segments up to the first SOF (frame header)."""
    pos = 2
    for _ in range(1000):  # a sane bound on segments before SOF
        buf = rd.at(pos, 4)
        # skip fill bytes (0xFF padding) before a marker
        while len(buf) >= 2 and buf[0] == 0xFF and buf[1] == 0xFF:
            pos += 1
            buf = rd.at(pos, 4)
        if len(buf) < 2 or buf[0] != 0xFF:
            return
        marker = buf[1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            pos += 2  # stand-alone markers
            continue
        if marker in (0xD9, 0xDA) or len(buf) < 4:
            return  # end of image / start of scan before any SOF
        (length,) = struct.unpack_from(">H", buf, 2)
        if length < 2:
            return
        if marker in _SOF_MARKERS:
            seg = rd.at(pos + 4, 5)
            if len(seg) == 5:
                info.height, info.width = struct.unpack_from(">HH", seg, 1)
            return
        if marker == 0xE1 and want_orientation and info.exif_orientation is None:
            info.exif_orientation = _exif_orientation(rd.at(pos + 4, min(length - 2, 4096)))
        pos += 2 + length


def _pillow_size(path: str) -> tuple[str | None, int | None, int | None, bool]:
    try:
        from PIL import Image
        with Image.open(path) as im:  # lazy: reads the header, decodes nothing
            return ((im.format or "").lower() or None, im.size[0], im.size[1],
                    bool(getattr(im, "is_animated", False)))
    except Exception:  # noqa: BLE001 - any file Pillow cannot read is "unknown", not an error
        return (None, None, None, False)


def probe_head(head: bytes) -> HeaderInfo:
    """Format, and for PNG/GIF/BMP/WebP the size, from the first bytes alone."""
    fmt = sniff(head)
    info = HeaderInfo(fmt)
    if fmt is not None:
        _from_head(fmt, head, info)
    return info


def probe_fd(fd: int, *, sizes: bool = True) -> HeaderInfo:
    """Probe an open file descriptor (read with pread, position untouched).

    Without ``sizes`` only the first HEAD_BYTES are looked at (PNG/GIF/BMP/WebP
    sizes come with them anyway); with it, JPEG segments are walked to the frame
    header. No Pillow fallback here: see :func:`probe_file`.
    """
    head = os.pread(fd, HEAD_BYTES, 0)
    info = probe_head(head)
    if sizes and info.format == "jpeg":
        _jpeg(_Reader(fd, head), info)
    return info


def probe_file(path: str, *, sizes: bool = True) -> HeaderInfo:
    """Probe one file. With ``sizes`` false only the magic bytes are read.

    Never decodes pixels: JPEG sizes come from walking marker segments up to the
    frame header; formats this module does not parse go to Pillow's lazy open.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        info = probe_fd(fd, sizes=sizes)
    finally:
        os.close(fd)
    if sizes:
        pillow_fallback(path, info)
    return info


def pillow_fallback(path: str, info: HeaderInfo) -> None:
    """Fill the size (and format) from Pillow's lazy open where the header readers
    gave none; videos are left alone."""
    if info.size is not None or info.format in VIDEO_FORMATS:
        return
    fmt, w, h, animated = _pillow_size(path)
    if w:
        info.width, info.height = w, h
        info.animated = info.animated or animated
        if info.format is None:
            info.format = "jpeg" if fmt == "mpo" else fmt


def image_size(path: str) -> tuple[int, int] | None:
    """(width, height) of an image from its header, or None if unreadable."""
    try:
        return probe_file(path, sizes=True).size
    except OSError:
        return None
