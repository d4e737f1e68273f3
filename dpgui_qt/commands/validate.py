"""``dpgui validate FILE...``: check diffusion-pipe configs before a GPU is touched."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from dpgui_qt.core.config.document import ConfigDocument, DocKind, DocumentError, TomlSyntaxError


def add_parser(sub, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help="validate main and dataset configs",
                       description="Validate diffusion-pipe configs. Main configs also get the "
                       "dataset and eval-dataset files they name checked (when found). Exit "
                       "status: 0 no errors, 1 errors, 2 a file could not be read.")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--kind", choices=("auto", *DocKind), default="auto",
                   help="treat the files as this kind instead of guessing from their keys")
    p.add_argument("--json", action="store_true", help="print the findings as JSON")
    p.add_argument("--gpus", type=int, metavar="N",
                   help="the number of GPUs you will train on (enables batch/pipeline checks)")
    p.add_argument("--no-path-check", action="store_true",
                   help="do not warn about paths missing on this machine")
    p.add_argument("--no-follow", action="store_true",
                   help="do not validate the dataset files a main config names")
    p.add_argument("--checkout", metavar="DIR",
                   help="diffusion-pipe checkout for resolving relative paths "
                        "(default: $DPGUI_DIFFUSION_PIPE); diffusion-pipe runs there, so "
                        "relative paths are then read from it, not from the config's folder")
    p.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    return p


def build_options(args):
    from dpgui_qt.core.config.validate import Options

    search = []
    checkout = args.checkout or os.environ.get("DPGUI_DIFFUSION_PIPE")
    if checkout:
        search.append(Path(checkout))
    # with a checkout known, relative paths are read from it only, as diffusion-pipe
    # (started there) will read them
    return Options(num_gpus=args.gpus, check_paths=not args.no_path_check,
                   follow_datasets=not args.no_follow, search_dirs=search,
                   trainer_cwd=search[0] if search else None)


def run(args) -> int:
    from dpgui_qt.core.config.schema import default_registry
    from dpgui_qt.core.config.validate import Validator

    validator = Validator(default_registry())
    options = build_options(args)
    kind = None if args.kind == "auto" else DocKind(args.kind)
    results = []
    worst = 0
    for name in args.files:
        entry = {"file": name, "kind": None, "findings": [], "error": None}
        try:
            doc = ConfigDocument.load(name)
        except TomlSyntaxError as exc:
            entry["error"] = {"line": exc.line, "col": exc.col, "message": exc.message}
            results.append(entry)
            worst = 2
            if not args.json:
                print(f"{name}:{exc.line}:{exc.col}: error: TOML syntax: {exc.message}")
            continue
        except DocumentError as exc:
            entry["error"] = {"line": 0, "col": 0, "message": str(exc)}
            results.append(entry)
            worst = 2
            if not args.json:
                print(f"{name}: error: {exc.reason if hasattr(exc, 'reason') else exc}")
            continue
        from dpgui_qt.core.config.validate import detect_kind

        entry["kind"] = kind or detect_kind(doc.values()) or DocKind.MAIN
        report = validator.validate_tree(doc, entry["kind"], options)
        entry["findings"] = [f.to_json() for f in report.findings]
        entry["checked_files"] = report.files
        results.append(entry)
        if report.errors:
            worst = max(worst, 1)
        if not args.json:
            for f in report.findings:
                if args.quiet and not f.is_error:
                    continue
                print(f.format())
    if args.json:
        json.dump({"files": results, "exit": worst}, sys.stdout, indent=2)
        print()
    else:
        errors = sum(1 for r in results for f in r["findings"] if f["severity"] == "error")
        warnings = sum(1 for r in results for f in r["findings"] if f["severity"] == "warning")
        unreadable = sum(1 for r in results if r["error"])
        summary = f"{len(results)} file(s): {errors} error(s), {warnings} warning(s)"
        if unreadable:
            summary += f", {unreadable} unreadable"
        print(summary, file=sys.stderr)
    return worst
