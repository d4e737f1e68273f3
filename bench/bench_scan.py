"""Benchmark the dataset scan against a bare os.scandir walk.

Generates N files (default 10,000: images with small valid PNG / JPEG / WebP
headers under a mix of suffixes, each with a caption) in a temp dir, then times,
best of --repeat runs each:

* floor: ``os.scandir`` over the folder, ``is_file()`` per entry;
* scan, names only (``read_headers=False``);
* io floor: the bare syscalls a header pass needs (open/pread/close per image,
  stat per caption), for comparison with the two header scans;
* scan with headers (magic bytes, byte totals, empty captions), no sizes;
* scan with header sizes (``sizes=True``);

and prints each time and its ratio to the floor. No assertions on time.

    PYTHONPATH=. python bench/bench_scan.py [--files 10000] [--repeat 5] [--dir PATH]
"""
from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from dpgui_qt.core.dataset.scan import scan_directory


def png_bytes(w: int, h: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(
            ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    raw = b"".join(b"\x00" + b"\x00" * (3 * w) for _ in range(min(h, 2)))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def jpeg_bytes(w: int, h: int) -> bytes:
    # SOI, APP0 (JFIF), SOF0 with the size, EOI: a header-only JPEG
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, h, w, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8" + app0 + sof + b"\xff\xd9"


def webp_bytes(w: int, h: int) -> bytes:
    bits = (w - 1) | ((h - 1) << 14)
    payload = b"\x2f" + bits.to_bytes(4, "little") + b"\x00" * 8
    body = b"WEBP" + b"VP8L" + struct.pack("<I", len(payload)) + payload
    return b"RIFF" + struct.pack("<I", len(body)) + body


def generate(folder: str, n: int) -> None:
    """n files in all: n/2 images (png/jpg/jpeg/webp, varied sizes) + n/2 captions."""
    makers = [(".png", png_bytes), (".jpg", jpeg_bytes), (".jpeg", jpeg_bytes),
              (".webp", webp_bytes)]
    sizes = [(512, 512), (768, 512), (512, 768), (1024, 576), (640, 480)]
    cache: dict = {}
    for i in range(n // 2):
        suffix, make = makers[i % len(makers)]
        size = sizes[i % len(sizes)]
        key = (suffix, size)
        if key not in cache:
            cache[key] = make(*size)
        with open(os.path.join(folder, f"img_{i:06d}{suffix}"), "wb") as fh:
            fh.write(cache[key])
        with open(os.path.join(folder, f"img_{i:06d}.txt"), "w") as fh:
            fh.write("a photo of something")


def floor_walk(folder: str) -> int:
    n = 0
    with os.scandir(folder) as it:
        for e in it:
            if e.is_file():
                n += 1
    return n


def io_floor(folder: str) -> int:
    """The syscalls a header scan cannot avoid: open/pread/close per image, stat per caption."""
    n = 0
    prefix = folder + os.sep
    with os.scandir(folder) as it:
        names = [e.name for e in it if e.is_file()]
    for name in names:
        if name.endswith(".txt"):
            n += os.stat(prefix + name).st_size
        else:
            fd = os.open(prefix + name, os.O_RDONLY)
            try:
                n += len(os.pread(fd, 64, 0))
            finally:
                os.close(fd)
    return n


def best_of(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dir", help="use (and keep) this folder instead of a temp dir")
    args = ap.parse_args(argv)

    folder = args.dir or tempfile.mkdtemp(prefix="dpgui-bench-scan-")
    os.makedirs(folder, exist_ok=True)
    try:
        t = time.perf_counter()
        if not os.listdir(folder):
            generate(folder, args.files)
        print(f"folder: {folder} ({len(os.listdir(folder))} files, "
              f"generated in {time.perf_counter() - t:.2f} s)")
        cfg = {"path": folder}
        # warm the page cache and Pillow's plugin table once
        scan_directory(cfg, {}, sizes=True)
        rows = [
            ("floor: os.scandir walk", lambda: floor_walk(folder)),
            ("scan, names only", lambda: scan_directory(cfg, {}, read_headers=False)),
            ("io floor: open/pread + stat", lambda: io_floor(folder)),
            ("scan + headers, no sizes", lambda: scan_directory(cfg, {})),
            ("scan + header sizes", lambda: scan_directory(cfg, {}, sizes=True)),
        ]
        results = [(label, best_of(fn, args.repeat)) for label, fn in rows]
        floor = results[0][1]
        print(f"{'':28s} {'best of ' + str(args.repeat):>12s} {'x floor':>9s}")
        for label, secs in results:
            print(f"{label:28s} {secs * 1000:10.1f} ms {secs / floor:8.1f}x")
        s = scan_directory(cfg, {}, sizes=True)
        print(f"check: {len(s.images)} images, {len(s.captions)} captions, "
              f"{len(s.sizes)} sizes, {len(s.problems)} problems")
    finally:
        if not args.dir:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
