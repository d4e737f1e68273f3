"""Validation and load/save speed of the config core.

Reports, in one run:
* median time to validate an already-loaded examples/main_example.toml (validator built once),
  next to the floor of a bare jsonschema pass over the same values with the same composed schema;
* ConfigDocument load + save as a ratio to a bare tomlkit parse + dump of the same file.

Usage: python3 bench/bench_validate.py [CONFIG]
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import tomlkit

from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator

DEFAULT = (Path(__file__).resolve().parents[2] / "shared" / "corpus" / "configs"
           / "tdrussell__diffusion-pipe__examples__main_example.toml")


def timeit(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main() -> int:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        print(f"{path} not found; pass a main config")
        return 2
    text = path.read_text(encoding="utf-8")
    doc = ConfigDocument.load(path)
    reg = default_registry()
    validator = Validator(reg)
    options = Options(check_paths=False, follow_datasets=False)
    validator.validate(doc, "main", options)  # warm caches (schema composition, validators)
    values = doc.values()
    schema = reg.compose_for(values)
    js = reg.validator(schema)

    floor = statistics.median(timeit(lambda: list(js.iter_errors(values)), 300))
    full = statistics.median(timeit(lambda: validator.validate(doc, "main", options), 300))
    with_paths = statistics.median(
        timeit(lambda: validator.validate(doc, "main", Options(follow_datasets=False)), 100))

    bare = statistics.median(timeit(lambda: tomlkit.dumps(tomlkit.parse(text)), 100))
    ours = statistics.median(timeit(lambda: ConfigDocument.from_text(text).encoded(), 100))

    print(f"file: {path.name}")
    print(f"validate (loaded doc, no path checks): median {full * 1e3:.2f} ms "
          f"(aim <= 2 ms); bare jsonschema pass: {floor * 1e3:.2f} ms; ratio {full / floor:.2f}x")
    print(f"validate with path existence checks:   median {with_paths * 1e3:.2f} ms")
    print(f"load + save: {ours * 1e3:.2f} ms vs bare tomlkit parse+dump {bare * 1e3:.2f} ms "
          f"-> ratio {ours / bare:.2f}x (aim <= 1.3x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
