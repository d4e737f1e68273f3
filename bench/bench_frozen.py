"""Frozen build: binary size, and ``--self-test`` wall time of the PyInstaller build as a
ratio to the same command run from source (``python -m dpgui_qt --self-test``), both
measured in this run.

    python3 bench/bench_frozen.py [--runs 5] [--binary dist/dpgui] [--onedir dist/dpgui-dir/dpgui]

Build first (``packaging/build.sh``, ``packaging/build.sh --onedir``); missing artifacts are
skipped. Each sample is a fresh process started from an empty folder with a clean
environment (``env -i``-like: PATH, HOME, offscreen Qt); runs alternate between source and
frozen so machine noise hits both alike. One untimed warm-up run of each comes first, so
the figures are warm-cache (page cache holds the binary and the Python files; a
single-file build still unpacks itself into a fresh temp folder every run -- that cost
is in its figure).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SIZE_BUDGET_MB = 90


def clean_env(home: str, extra: dict | None = None) -> dict:
    env = {"PATH": "/usr/bin:/bin", "HOME": home, "QT_QPA_PLATFORM": "offscreen",
           "LC_ALL": "C.UTF-8"}
    if sys.platform.startswith("win"):
        env.update({k: os.environ[k] for k in ("SystemRoot", "TEMP", "TMP") if k in os.environ})
    env.update(extra or {})
    return env


def sample(cmd: list[str], env: dict, cwd: str) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)
    secs = time.perf_counter() - t0
    if proc.returncode != 0 or "self-test: OK" not in proc.stdout:
        raise RuntimeError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return secs


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--binary", default=str(REPO / "dist" / "dpgui"),
                    help="single-file build (default dist/dpgui)")
    ap.add_argument("--onedir", default=str(REPO / "dist" / "dpgui-dir" / "dpgui"),
                    help="one-folder build's executable (default dist/dpgui-dir/dpgui)")
    args = ap.parse_args()
    if sys.platform.startswith("win"):
        args.binary += ".exe" if not args.binary.endswith(".exe") else ""
        args.onedir += ".exe" if not args.onedir.endswith(".exe") else ""

    variants: dict[str, list[str]] = {
        "source": [sys.executable, "-m", "dpgui_qt", "--self-test"],
    }
    single, onedir = Path(args.binary), Path(args.onedir)
    if single.is_file():
        variants["single-file"] = [str(single), "--self-test"]
        size = single.stat().st_size
        verdict = "within" if size <= SIZE_BUDGET_MB * 1e6 else "OVER"
        print(f"single-file {single}: {size / 1e6:.1f} MB ({size / 2**20:.1f} MiB), "
              f"{verdict} the {SIZE_BUDGET_MB} MB budget")
    else:
        print(f"single-file build {single} not found (packaging/build.sh): skipped")
    if onedir.is_file():
        variants["one-folder"] = [str(onedir), "--self-test"]
        print(f"one-folder {onedir.parent}: {folder_size(onedir.parent) / 1e6:.1f} MB on disk")
    else:
        print(f"one-folder build {onedir} not found (packaging/build.sh --onedir): skipped")
    if len(variants) == 1:
        print("nothing frozen to compare", file=sys.stderr)
        return 2

    times: dict[str, list[float]] = {k: [] for k in variants}
    with tempfile.TemporaryDirectory() as home:
        envs = {k: clean_env(home, {"PYTHONPATH": str(REPO)} if k == "source" else None)
                for k in variants}
        for name, cmd in variants.items():  # warm-up, untimed
            sample(cmd, envs[name], home)
        for _ in range(args.runs):
            for name, cmd in variants.items():
                times[name].append(sample(cmd, envs[name], home))

    base = statistics.median(times["source"])
    print(f"\n--self-test wall time, median of {args.runs} warm runs each "
          f"(fresh process, clean env, offscreen):")
    for name, ts in times.items():
        med = statistics.median(ts)
        spread = f"{min(ts):.2f}-{max(ts):.2f}"
        ratio = "" if name == "source" else f"  ratio to source: {med / base:.2f}x"
        print(f"  {name:12s} {med:6.2f} s  (range {spread} s){ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
