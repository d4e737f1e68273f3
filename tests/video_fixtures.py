"""Tiny real videos written with PyAV, for the video tests and benchmarks.

Each clip is 32x32 (or the size given), a plain colour per frame, so writing one takes
a few milliseconds. ``CLIPS`` lists the test set: containers and codecs PyAV's wheels
encode, frame rates 24/25/30/60 and lengths around the frame buckets
``FRAME_BUCKETS = [1, 17, 33]`` at 16 and at 24 fps.
"""
from __future__ import annotations

from fractions import Fraction
from pathlib import Path

FRAME_BUCKETS = [1, 17, 33]

# name, container format, codec, fps, frames
CLIPS = [
    ("v24_33.mp4", "mp4", "libx264", 24, 33),
    ("v24_32.mp4", "mp4", "mpeg4", 24, 32),
    ("v25_26.webm", "webm", "libvpx-vp9", 25, 26),
    ("v30_32.mkv", "matroska", "libx264", 30, 32),
    ("v60_66.mov", "mov", "mpeg4", 60, 66),
    ("v60_130.mp4", "mp4", "libx264", 60, 130),
    ("v30_16.mp4", "mp4", "mpeg4", 30, 16),
    ("v24_1.mp4", "mp4", "libx264", 24, 1),
    ("v25_50.avi", "avi", "mpeg4", 25, 50),
]


def write_video(path: str | Path, fmt: str, codec: str, fps: int, frames: int,
                width: int = 32, height: int = 32) -> None:
    import av
    import numpy as np

    with av.open(str(path), "w", format=fmt) as c:
        s = c.add_stream(codec, rate=Fraction(fps))
        s.width, s.height = width, height
        s.pix_fmt = "yuv420p"
        for i in range(frames):
            arr = np.full((height, width, 3), (i * 7) % 255, np.uint8)
            arr[: height // 2, :, 0] = 200  # a little structure for the thumbnail
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)


def write_png(path: str | Path, width: int, height: int) -> None:
    from PIL import Image
    Image.new("RGB", (width, height), (40, 120, 200)).save(str(path))


def make_dataset(folder: Path) -> Path:
    """The test set in ``folder``: every clip captioned, plus corrupt.mp4 (captioned,
    not a video), img1.png (captioned) and nocap.png (no caption)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, fmt, codec, fps, n in CLIPS:
        write_video(folder / name, fmt, codec, fps, n)
        (folder / (name.rsplit(".", 1)[0] + ".txt")).write_text(f"a clip {name}")
    (folder / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x17" * 300)
    (folder / "corrupt.txt").write_text("broken")
    write_png(folder / "img1.png", 48, 32)
    (folder / "img1.txt").write_text("an image")
    write_png(folder / "nocap.png", 32, 32)
    return folder
