"""Frozen builds: sizes, and time from process start to the main window's first paint (with
diffusion-pipe's main_example.toml loaded) as a ratio to the source install, all measured in
this run.

    python3 bench/bench_frozen.py [--runs 5] [--binary dist/dpgui] [--onedir dist/dpgui-dir/dpgui]
                                  [--deb dist/dpgui_*.deb]

Build first (``packaging/build.sh``; ``--deb`` for the package); missing artifacts are
skipped. Variants:

* source        ``python -m dpgui_qt`` from this checkout (.pyc files warm);
* single, first the Linux single file's first start after install: an empty unpack cache
                (``DPGUI_CACHE_DIR``) for every sample, so it checks and unpacks its payload;
* single, later the single file's later starts: the cache holds the unpacked copy;
* one-folder    the PyInstaller one-folder build.

Each sample is a fresh process started from an empty folder with a clean environment (PATH,
HOME, offscreen Qt); ``DPGUI_BENCH_FIRST_PAINT=1`` makes dpgui print the wall-clock time of
its first paint and quit. Runs alternate between the variants so machine noise hits all
alike; one untimed warm-up of each comes first (page cache), and the single file's --self-test
is run once to check it works.
"""
from __future__ import annotations

import argparse
import glob
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG = REPO.parent / "shared" / "corpus" / "configs" / \
    "tdrussell__diffusion-pipe__examples__main_example.toml"
SIZE_BUDGET_MB = 90


def clean_env(home: str, extra: dict | None = None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "QT_QPA_PLATFORM": "offscreen",
           "LC_ALL": "C.UTF-8", "DPGUI_BENCH_FIRST_PAINT": "1",
           "DPGUI_CONFIG_DIR": os.path.join(home, "config")}
    if sys.platform.startswith("win"):
        env.update({k: os.environ[k] for k in ("SystemRoot", "TEMP", "TMP") if k in os.environ})
    env.update(extra or {})
    return env


def first_paint(cmd: list[str], env: dict, cwd: str) -> float:
    t0 = time.time()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    for line in proc.stdout.splitlines():
        if line.startswith("DPGUI_FIRST_PAINT "):
            return float(line.split()[1]) - t0
    raise RuntimeError(f"{cmd} printed no first paint ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


COMPONENTS = [  # (label, path prefixes under _internal/) -- what each dependency brings
    ("Qt libraries", ("PySide6/Qt/lib/",)), ("Qt plugins", ("PySide6/Qt/plugins/",)),
    ("PySide6 bindings", ("PySide6/", "shiboken6/", "libpyside6", "libshiboken6")),
    ("PyAV + FFmpeg", ("av/", "av.libs/")), ("numpy + OpenBLAS", ("numpy/", "numpy.libs/")),
    ("Pillow", ("PIL/", "pillow.libs/")), ("pyqtgraph", ("pyqtgraph/",)),
    ("Python runtime", ("libpython", "python3", "base_library.zip", "lib-dynload/")),
    ("ICU, X11/xcb, glib and other system libraries", ("lib",)),
]


def component_sizes(folder: Path) -> list[tuple[str, int]]:
    """Bytes per dependency group of a one-folder build (the rest as 'other')."""
    root = folder / "_internal"
    sizes: dict[str, int] = {}
    for p in root.rglob("*"):
        if not p.is_file() or p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        label = next((lab for lab, prefixes in COMPONENTS if rel.startswith(prefixes)), "other")
        sizes[label] = sizes.get(label, 0) + p.stat().st_size
    return sorted(sizes.items(), key=lambda kv: -kv[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    ap.add_argument("--binary", default=str(REPO / "dist" / "dpgui"),
                    help="single-file build (default dist/dpgui)")
    ap.add_argument("--onedir", default=str(REPO / "dist" / "dpgui-dir" / "dpgui"),
                    help="one-folder build's executable (default dist/dpgui-dir/dpgui)")
    ap.add_argument("--deb", default=None, help="the .deb (default: newest dist/dpgui_*.deb)")
    args = ap.parse_args()
    exe_suffix = ".exe" if sys.platform.startswith("win") else ""
    single = Path(args.binary + ("" if args.binary.endswith(exe_suffix) else exe_suffix))
    onedir = Path(args.onedir + ("" if args.onedir.endswith(exe_suffix) else exe_suffix))
    config = str(Path(args.config).resolve())
    if not Path(config).is_file():
        print(f"{config} not found (../shared absent?): pass --config", file=sys.stderr)
        return 2

    print("sizes:")
    if single.is_file():
        size = single.stat().st_size
        verdict = "within" if size <= SIZE_BUDGET_MB * 1e6 else "OVER"
        print(f"  single file {single}: {size / 1e6:.1f} MB, {verdict} the {SIZE_BUDGET_MB} MB budget")
    if onedir.is_file():
        print(f"  one-folder  {onedir.parent}: {folder_size(onedir.parent) / 1e6:.1f} MB on disk")
        print("  what the one folder holds (MB, largest first):")
        for name, size in component_sizes(onedir.parent)[:10]:
            print(f"    {size / 1e6:7.1f}  {name}")
    debs = [args.deb] if args.deb else sorted(glob.glob(str(REPO / "dist" / "dpgui_*.deb")))
    if debs and Path(debs[-1]).is_file():
        print(f"  .deb        {debs[-1]}: {Path(debs[-1]).stat().st_size / 1e6:.1f} MB")

    home = tempfile.mkdtemp(prefix="dpgui-bench-frozen-")
    try:
        cache = os.path.join(home, "cache")
        variants: dict[str, tuple[list[str], dict]] = {
            "source": ([sys.executable, "-m", "dpgui_qt", config],
                       clean_env(home, {"PYTHONPATH": str(REPO)})),
        }
        sfx = single.is_file() and single.read_bytes()[:2] == b"#!"
        if single.is_file():
            key = "single, later" if sfx else "single file"
            variants[key] = ([str(single), config], clean_env(home, {"DPGUI_CACHE_DIR": cache}))
            check = subprocess.run([str(single), "--self-test"], capture_output=True, text=True,
                                   env=clean_env(home, {"DPGUI_CACHE_DIR": cache}), cwd=home, timeout=300)
            print(f"  single file --self-test: {check.stdout.strip() or check.stderr.strip()}")
        if sfx:
            variants["single, first"] = ([str(single), config], clean_env(home))
        if onedir.is_file():
            variants["one-folder"] = ([str(onedir), config], clean_env(home))

        def run(name: str) -> float:
            cmd, env = variants[name]
            if name == "single, first":  # a fresh cache: the first start after install
                env = dict(env, DPGUI_CACHE_DIR=tempfile.mkdtemp(dir=home, prefix="first-"))
                try:
                    return first_paint(cmd, env, home)
                finally:
                    shutil.rmtree(env["DPGUI_CACHE_DIR"], ignore_errors=True)
            return first_paint(cmd, env, home)

        for name in variants:  # warm-up, untimed
            run(name)
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(args.runs):
            for name in variants:
                times[name].append(run(name))
    finally:
        shutil.rmtree(home, ignore_errors=True)

    base = statistics.median(times["source"])
    print(f"\nfirst paint with {Path(config).name} loaded, median of {args.runs} runs each "
          f"(fresh process, clean env, offscreen):")
    for name, ts in times.items():
        med = statistics.median(ts)
        ratio = "" if name == "source" else f"  ratio to source: {med / base:.2f}x"
        goal = "  (goal <= 1.5x)" if name in ("single, later", "one-folder") else ""
        print(f"  {name:14s} {med * 1000:7.0f} ms  (range {min(ts) * 1000:.0f}-{max(ts) * 1000:.0f}){ratio}{goal}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
