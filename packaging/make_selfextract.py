"""Make the Linux single-file dpgui from the one-folder build.

    python3 packaging/make_selfextract.py dist/dpgui-dir dist/dpgui

The result is packaging/linux/selfextract.sh.in (a POSIX shell launcher) with the version,
the payload's SHA-256, its offset and a manifest (file count and bytes) filled in, followed
by a gzip'd tar of the folder. The launcher unpacks the payload once per version into the
user's cache and execs dpgui from there on every later start; see the template's header.

The tar is reproducible: entries sorted, owner root, mtime fixed, so the same folder gives
the same bytes (and the same cache folder name).
"""
from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import re
import stat
import sys
import tarfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "linux" / "selfextract.sh.in"
MTIME = 1_700_000_000


def folder_manifest(folder: Path) -> tuple[int, int]:
    """(regular files, their total bytes) -- what the launcher's ``find -type f`` sees."""
    files = total = 0
    for root, _dirs, names in os.walk(folder):
        for name in names:
            st = os.lstat(os.path.join(root, name))
            if stat.S_ISREG(st.st_mode):
                files += 1
                total += st.st_size
    return files, total


def make_payload(folder: Path) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=6, mtime=MTIME) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            paths = [folder]
            for root, dirs, names in os.walk(folder):
                dirs.sort()
                paths += [Path(root) / d for d in dirs] + [Path(root) / n for n in sorted(names)]
            for path in sorted(paths[1:], key=lambda p: p.relative_to(folder).as_posix()):
                info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = "root"
                info.mtime = MTIME
                if info.isreg():
                    with open(path, "rb") as fh:
                        tar.addfile(info, fh)
                else:
                    tar.addfile(info)
    return buf.getvalue()


def version_of(folder: Path) -> str:
    init = HERE.parent / "dpgui_qt" / "__init__.py"
    found = re.search(r'^__version__\s*=\s*["\']([^"\']+)["\']', init.read_text("utf-8"), re.M)
    if not found:
        raise SystemExit(f"no __version__ in {init}")
    return found.group(1)


def build(folder: Path, out: Path, version: str) -> dict:
    if not (folder / "dpgui").is_file():
        raise SystemExit(f"{folder} is not a one-folder build (no {folder / 'dpgui'})")
    files, total = folder_manifest(folder)
    payload = make_payload(folder)
    sha = hashlib.sha256(payload).hexdigest()
    text = (TEMPLATE.read_text("utf-8")
            .replace("@VERSION@", version).replace("@SHA256@", sha)
            .replace("@SHORTSHA@", sha[:12])
            .replace("@FILES@", str(files)).replace("@BYTES@", str(total)))
    # the offset is the header's own length: write it in a fixed-width field
    head = text.replace("@OFFSET@", "0" + " " * 11)
    offset = len(head.encode("utf-8"))
    head = text.replace("@OFFSET@", str(offset).ljust(12))
    assert len(head.encode("utf-8")) == offset
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    with open(tmp, "wb") as fh:
        fh.write(head.encode("utf-8"))
        fh.write(payload)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return {"files": files, "bytes": total, "payload": len(payload), "sha256": sha,
            "size": out.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="one-folder build (dist/dpgui-dir)")
    ap.add_argument("out", type=Path, help="single file to write (dist/dpgui)")
    args = ap.parse_args(argv)
    info = build(args.folder, args.out, version_of(args.folder))
    print(f"{args.out}: {info['size'] / 1e6:.1f} MB, unpacks {info['files']} files "
          f"({info['bytes'] / 1e6:.1f} MB) once per version; payload sha256 {info['sha256'][:12]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
