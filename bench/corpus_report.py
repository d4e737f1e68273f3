"""Validate every config in ../shared/corpus/configs and summarise the findings.

Prints: files (parsed / unparseable / with errors / clean), errors by rule, warnings by rule,
and the fork-only model types seen (types diffusion-pipe 8f83dbf does not know).
Usage: python3 bench/corpus_report.py [CORPUS_DIR] [--json]
"""
from __future__ import annotations

import collections
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpgui_qt.core.config.document import ConfigDocument, DocumentError
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator, detect_kind

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "configs"


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    corpus = Path(args[0]) if args else DEFAULT
    files = sorted(corpus.glob("*.toml"))
    if not files:
        print(f"no .toml files in {corpus}")
        return 2
    reg = default_registry()
    validator = Validator(reg)
    options = Options(check_paths=False, follow_datasets=False)
    errors = collections.Counter()
    warnings = collections.Counter()
    kinds = collections.Counter()
    fork_types = collections.Counter()
    unparseable, with_errors, clean = [], [], 0
    t0 = time.perf_counter()
    for path in files:
        try:
            doc = ConfigDocument.load(path)
        except DocumentError as exc:
            unparseable.append(f"{path.name}: {exc}")
            continue
        kind = detect_kind(doc.values()) or "main"
        kinds[kind] += 1
        model = doc.values().get("model")
        if kind == "main" and isinstance(model, dict) and isinstance(model.get("type"), str):
            if reg.model(model["type"]) is None:
                fork_types[model["type"]] += 1
        findings = validator.validate(doc, kind, options)
        errs = [f for f in findings if f.is_error]
        for f in findings:
            (errors if f.is_error else warnings)[f.rule] += 1
        if errs:
            with_errors.append(path.name)
        elif not findings:
            clean += 1
    elapsed = time.perf_counter() - t0
    report = {
        "files": len(files), "parsed": len(files) - len(unparseable),
        "unparseable": unparseable, "kinds": dict(kinds), "files_with_errors": len(with_errors),
        "files_without_findings": clean, "errors_by_rule": dict(errors.most_common()),
        "warnings_by_rule": dict(warnings.most_common()), "fork_only_model_types": dict(fork_types),
        "seconds": round(elapsed, 3),
    }
    if "--json" in sys.argv:
        print(json.dumps(report, indent=2))
        return 0
    print(f"corpus: {corpus}")
    print(f"files: {len(files)}  parsed: {report['parsed']}  unparseable: {len(unparseable)}  "
          f"({kinds['main']} main, {kinds['dataset']} dataset)")
    print(f"files with errors: {len(with_errors)}  files with no findings at all: {clean}  "
          f"(validated in {elapsed:.2f} s)")
    print("\n| errors by rule | count |\n|---|---|")
    for rule, n in errors.most_common():
        print(f"| {rule} | {n} |")
    print("\n| warnings by rule | count |\n|---|---|")
    for rule, n in warnings.most_common():
        print(f"| {rule} | {n} |")
    print("\n| fork-only model type | configs |\n|---|---|")
    for t, n in fork_types.most_common():
        print(f"| {t} | {n} |")
    if unparseable:
        print("\nunparseable:")
        for line in unparseable:
            print("  " + line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
