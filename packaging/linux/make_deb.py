"""Make a Debian package of dpgui from the one-folder build.

    python3 packaging/linux/make_deb.py dist/dpgui-dir dist [--version X.Y.Z]

Layout of the package (``dpkg -L dpgui``):

    /usr/lib/dpgui/dpgui, /usr/lib/dpgui/_internal/...   the one-folder build
    /usr/bin/dpgui -> ../lib/dpgui/dpgui                  the command
    /usr/share/applications/dpgui.desktop                 the desktop entry
    /usr/share/icons/hicolor/<size>/apps/dpgui.png|svg    the icons
    /usr/share/doc/dpgui/copyright

No maintainer scripts: dpkg's file triggers of desktop-file-utils and hicolor-icon-theme
refresh the menu and icon caches. ``Depends`` names the C library the build machine has (the
bundled libraries need no newer one) and the libraries the Qt xcb platform plugin needs but a
minimal system lacks; the bundle carries copies of the xcb ones, the package still declares
them so that a system's own, patched copies are there too.
Built with ``dpkg-deb --root-owner-group`` (files owned by root whoever builds it).
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

DEPENDS = [
    "libegl1", "libgl1", "libfontconfig1", "libdbus-1-3", "libxkbcommon-x11-0",
    "libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libxcb-image0",
    "libxcb-render-util0", "libxcb-randr0", "libxcb-shape0", "libxcb-xkb1",
]
DESCRIPTION = """Desktop editor, validator and launcher for diffusion-pipe
 dpgui edits diffusion-pipe's main and dataset TOML configs in a property editor
 generated from JSON Schemas, keeping every comment and key; validates them with
 diffusion-pipe's own rules before a run starts; launches training through
 DeepSpeed under a supervisor that outlives the window; and shows loss, learning
 rate, speed and GPU state while it trains.
"""


def deb_arch() -> str:
    if shutil.which("dpkg"):
        return subprocess.run(["dpkg", "--print-architecture"], capture_output=True,
                              text=True, check=True).stdout.strip()
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def glibc_version() -> str:
    found = re.match(r"(\d+\.\d+)", platform.libc_ver()[1] or "")
    return found.group(1) if found else "2.31"


def stage(folder: Path, root: Path, version: str, arch: str) -> None:
    lib = root / "usr" / "lib" / "dpgui"
    shutil.copytree(folder, lib, symlinks=True)
    (root / "usr" / "bin").mkdir(parents=True)
    os.symlink("../lib/dpgui/dpgui", root / "usr" / "bin" / "dpgui")
    apps = root / "usr" / "share" / "applications"
    apps.mkdir(parents=True)
    shutil.copy2(HERE / "dpgui.desktop", apps / "dpgui.desktop")
    shutil.copytree(HERE / "icons" / "hicolor", root / "usr" / "share" / "icons" / "hicolor")
    doc = root / "usr" / "share" / "doc" / "dpgui"
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        "Upstream-Name: dpgui\n\nFiles: *\nLicense: MIT\n"
        " The bundled Qt (LGPLv3), PySide6 (LGPLv3), Python (PSF) and other libraries\n"
        " keep their own licences; see /usr/lib/dpgui/_internal.\n", encoding="utf-8")
    for path in [root, *root.rglob("*")]:  # normal modes whatever the build umask was
        if path.is_symlink():
            continue
        mode = path.stat().st_mode
        path.chmod(0o755 if path.is_dir() or mode & 0o111 else 0o644)
    size_kib = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    control = root / "DEBIAN" / "control"
    control.parent.mkdir()
    depends = ", ".join([f"libc6 (>= {glibc_version()})", *DEPENDS])
    control.write_text(
        f"Package: dpgui\nVersion: {version}\nArchitecture: {arch}\n"
        "Maintainer: dpgui developers <dpgui@users.noreply.github.com>\n"
        f"Installed-Size: {size_kib}\nDepends: {depends}\nSection: graphics\nPriority: optional\n"
        "Homepage: https://github.com/tdrussell/diffusion-pipe\n"
        f"Description: {DESCRIPTION}", encoding="utf-8")


def build(folder: Path, outdir: Path, version: str) -> Path:
    if not (folder / "dpgui").is_file():
        raise SystemExit(f"{folder} is not a one-folder build (no dpgui in it)")
    if not shutil.which("dpkg-deb"):
        raise SystemExit("dpkg-deb is missing: apt-get install dpkg (Debian/Ubuntu build machines have it)")
    arch = deb_arch()
    out = outdir / f"dpgui_{version}_{arch}.deb"
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "root"
        stage(folder, root, version, arch)
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root), str(out)],
                       check=True, stdout=subprocess.DEVNULL)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("outdir", type=Path)
    ap.add_argument("--version", default=None)
    args = ap.parse_args(argv)
    version = args.version
    if version is None:
        text = (REPO / "dpgui_qt" / "__init__.py").read_text(encoding="utf-8")
        version = re.search(r'^__version__\s*=\s*["\']([^"\']+)', text, re.M).group(1)
    out = build(args.folder, args.outdir, version)
    print(f"{out}: {out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
