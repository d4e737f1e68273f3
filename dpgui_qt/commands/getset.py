"""``dpgui get FILE KEY`` and ``dpgui set FILE KEY=VALUE... [-o OUT]`` for scripted edits."""
from __future__ import annotations

import argparse
import json
import sys

from dpgui_qt.core import keypath as kp
from dpgui_qt.core.document import MISSING, ConfigDocument, DocumentError, RawValue


def add_parser(sub, name: str) -> argparse.ArgumentParser:
    if name == "get":
        p = sub.add_parser(name, help="print one value of a config",
                           description="Print the value at KEY (e.g. optimizer.lr, "
                           "directory[0].path) as TOML. Exit 1 if it is not set.")
        p.add_argument("file")
        p.add_argument("key")
        p.add_argument("--json", action="store_true", help="print the value as JSON")
        return p
    p = sub.add_parser(name, help="change values in a config, keeping everything else",
                       description="Set KEY=VALUE pairs; VALUE is a TOML value (quote strings: "
                       "output_dir='\"/runs/x\"' or use --string). Only the edited lines change. "
                       "The file is written atomically, then validated: exit 1 if the result "
                       "has errors.")
    p.add_argument("file")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of in place")
    p.add_argument("--string", action="store_true",
                   help="treat every VALUE as a plain string (no TOML quoting needed)")
    p.add_argument("--unset", action="store_true",
                   help="remove the keys instead (give KEY without =VALUE)")
    return p


def _toml_text(value) -> str:
    import tomlkit

    if isinstance(value, dict):
        return tomlkit.dumps(value).rstrip("\n")
    return tomlkit.item(value).as_string()


def run(args) -> int:
    try:
        doc = ConfigDocument.load(args.file)
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.command == "get":
        try:
            path = kp.parse(args.key)
        except kp.KeyPathError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        value = doc.get(path)
        if value is MISSING:
            print(f"{args.file}: {args.key} is not set", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps(value))
        else:
            literal = doc.literal(path)
            print(literal if literal is not None else _toml_text(value))
        return 0

    for assignment in args.assignments:
        try:
            if args.unset:
                key = assignment.split("=", 1)[0]
                doc.delete(kp.parse(key))
                continue
            if "=" not in assignment:
                print(f"error: {assignment!r} is not KEY=VALUE", file=sys.stderr)
                return 2
            key, raw = assignment.split("=", 1)
            path = kp.parse(key.strip())
            value = raw if args.string else RawValue(raw.strip())
            doc.set(path, value)
        except (DocumentError, kp.KeyPathError) as exc:
            print(f"error: {assignment}: {exc}", file=sys.stderr)
            return 2
    out = args.output or args.file
    try:
        target = doc.save(out)
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    from dpgui_qt.core.schema import default_registry
    from dpgui_qt.core.validate import Options, Validator

    saved = ConfigDocument.load(target)
    report = Validator(default_registry()).validate_tree(saved, None, Options(check_paths=False))
    for f in report.findings:
        if f.is_error:
            print(f.format())
    return 1 if report.errors else 0
