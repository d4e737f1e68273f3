"""Render resources/icons/dpgui.svg into the PNG sizes of the freedesktop hicolor theme
and a multi-size Windows .ico, with Qt (QSvgRenderer), no other image tool needed.

    python3 packaging/make_icons.py            # writes the files below
    python3 packaging/make_icons.py --check    # exit 1 if a committed icon is missing

The outputs are committed, so a build needs no display and no extra tool; rerun this
after changing the SVG.
"""
from __future__ import annotations

import argparse
import os
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SVG = ROOT / "resources" / "icons" / "dpgui.svg"
HICOLOR = HERE / "linux" / "icons" / "hicolor"  # <n>x<n>/apps/dpgui.png, scalable/apps/dpgui.svg
ICO = HERE / "windows" / "dpgui.ico"
PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)  # hicolor/<n>x<n>/apps/dpgui.png
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)


def png_path(n: int) -> Path:
    return HICOLOR / f"{n}x{n}" / "apps" / "dpgui.png"


def expected() -> list[Path]:
    return [png_path(n) for n in PNG_SIZES] + [HICOLOR / "scalable" / "apps" / "dpgui.svg", ICO]


def render(size: int) -> bytes:
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtSvg import QSvgRenderer

    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        raise SystemExit(f"make_icons: {SVG} is not a valid SVG")
    img = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(Qt.GlobalColor.transparent)
    p = QPainter(img)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(p)
    p.end()
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    img.save(buf, "PNG")
    buf.close()
    return bytes(data)


def ico(pngs: dict[int, bytes]) -> bytes:
    """An ICO holding PNG-compressed images (Windows Vista and later read these)."""
    sizes = sorted(pngs)
    header = struct.pack("<HHH", 0, 1, len(sizes))
    offset = 6 + 16 * len(sizes)
    entries, blobs = b"", b""
    for n in sizes:
        blob = pngs[n]
        dim = 0 if n >= 256 else n  # 0 means 256 in an ICONDIRENTRY
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only check that the icons exist")
    args = ap.parse_args(argv)
    if args.check:
        missing = [str(p) for p in expected() if not p.is_file()]
        for m in missing:
            print(f"make_icons: missing {m}", file=sys.stderr)
        return 1 if missing else 0
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 - held: the application must exist while drawing
    pngs = {n: render(n) for n in sorted(set(PNG_SIZES) | set(ICO_SIZES))}
    for n in PNG_SIZES:
        png_path(n).parent.mkdir(parents=True, exist_ok=True)
        png_path(n).write_bytes(pngs[n])
    scalable = HICOLOR / "scalable" / "apps" / "dpgui.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    scalable.write_bytes(SVG.read_bytes())
    ICO.parent.mkdir(parents=True, exist_ok=True)
    ICO.write_bytes(ico({n: pngs[n] for n in ICO_SIZES}))
    print(f"make_icons: wrote {len(PNG_SIZES)} PNGs and the SVG under {HICOLOR.relative_to(ROOT)}, "
          f"and {ICO.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
