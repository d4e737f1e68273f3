"""A 5 MB config through `dpgui get`, `validate` and `set`, against bare tomlkit.

Each measurement runs in a fresh process (so peak memory is its own) with imports done
before the clock starts. Floors, measured in the same run on the same file:
* ``set``  vs a bare ``tomlkit.dumps(tomlkit.parse(text))`` (the issue's acceptance: <= 3x);
* ``get`` and ``validate`` vs a bare ``tomlkit.parse(text)``.

The file is a dataset config of ~30,000 commented ``[[directory]]`` tables (5 MB), the
shape a large real config takes. Pass a path to use another file instead.

Usage: python3 bench/bench_bigconfig.py [CONFIG] [--size BYTES] [--modes floor-dump,set,...]
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[1])
mode, path = sys.argv[2], sys.argv[3]
import tomlkit
from dpgui_qt.cli import main
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config import validate, rules  # noqa: F401 - loaded before timing
import jsonschema  # noqa: F401 - loaded before timing
default_registry()
text = open(path, encoding="utf-8").read()
t0 = time.perf_counter()
if mode == "floor-dump":
    tomlkit.dumps(tomlkit.parse(text))
    rc = 0
elif mode == "floor-parse":
    tomlkit.parse(text)
    rc = 0
elif mode == "set":
    rc = main(["set", path, "directory[3].num_repeats=9"])
elif mode == "get":
    rc = main(["get", path, "directory[3].path"])
elif mode == "validate":
    rc = main(["validate", "--no-path-check", "-q", path])
secs = time.perf_counter() - t0
print(json.dumps({"mode": mode, "rc": rc, "s": secs,
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}),
      file=sys.stderr)
"""


def make_config(size: int) -> str:
    out = ["# a very large dataset config\n", "resolutions = [512]\n", "enable_ar_bucket = true\n",
           "min_ar = 0.5\n", "max_ar = 2.0\n", "num_ar_buckets = 7\n", "frame_buckets = [1, 33]\n\n"]
    total = sum(map(len, out))
    i = 0
    while total < size:
        block = (f"# folder {i}: captions checked by hand\n[[directory]]\n"
                 f"path = '/data/images/set_{i:06d}'\n"
                 f"num_repeats = {1 + i % 5}\n"
                 f"resolutions = [[512, 512], [768, 512]]  # wide and square\n\n")
        out.append(block)
        total += len(block)
        i += 1
    return "".join(out)


def measure(mode: str, path: Path) -> dict:
    res = subprocess.run([sys.executable, "-c", CHILD, str(REPO), mode, str(path)],
                         capture_output=True, text=True)
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("{")]
    if not line:
        raise SystemExit(f"{mode} failed:\n{res.stderr}")
    return json.loads(line[-1])


def main() -> int:
    args = sys.argv[1:]
    size = 5_000_000
    if "--size" in args:
        i = args.index("--size")
        size = int(args[i + 1])
        del args[i:i + 2]
    modes = ["floor-parse", "floor-dump", "get", "validate", "set"]
    if "--modes" in args:
        i = args.index("--modes")
        modes = args[i + 1].split(",")
        del args[i:i + 2]
    tmp = Path(tempfile.mkdtemp(prefix="dpgui-bench-"))
    try:
        src = Path(args[0]) if args else None
        path = tmp / (src.name if src else "big_dataset.toml")
        if src:
            shutil.copyfile(src, path)
        else:
            path.write_text(make_config(size), encoding="utf-8")
        pristine = path.read_bytes()
        print(f"file: {path.name}, {len(pristine) / 1e6:.1f} MB")
        results = {}
        for mode in modes:
            path.write_bytes(pristine)
            results[mode] = r = measure(mode, path)
            print(f"  {mode:<12} {r['s']:7.2f} s   peak {r['peak_mib']:6.0f} MiB   rc {r['rc']}",
                  flush=True)
        for mode, floor, label in (("set", "floor-dump", "(tomlkit parse + dump)"),
                                   ("get", "floor-parse", "tomlkit parse"),
                                   ("validate", "floor-parse", "tomlkit parse")):
            if mode in results and floor in results:
                ratio = results[mode]["s"] / results[floor]["s"]
                aim = " (aim <= 3x)" if mode == "set" else ""
                print(f"{mode:<8} / {label}: {ratio:.2f}x{aim}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
