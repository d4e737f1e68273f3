"""``dpgui get FILE KEY`` and ``dpgui set FILE KEY=VALUE... [-o OUT]`` for scripted edits."""
from __future__ import annotations

from typing import Any

import argparse
import json
import os
import sys

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core import safeio
from dpgui_qt.core.config.document import (MISSING, ConflictError, ConfigDocument, DocumentError,
                                     RawValue, ReadOnlyError)


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
                       "The result is validated before anything is written: when the edits add "
                       "errors the file is left as it was. The write is atomic, goes through a "
                       "symlink to its target, keeps owner, group, mode, extended attributes "
                       "and hard links, and never replaces a FIFO or device. Concurrent "
                       "'dpgui set' runs on one file wait for each other. Exit status: 0 written "
                       "without errors; 1 the result has errors (not written if the edits "
                       "caused them); 2 bad arguments or a file that cannot be read or written; "
                       "3 another program changed the file while this ran (nothing written).")
    p.add_argument("file")
    p.add_argument("assignments", nargs="+", metavar="KEY=VALUE")
    p.add_argument("-o", "--output", metavar="OUT", help="write to OUT instead of in place")
    p.add_argument("--string", action="store_true",
                   help="treat every VALUE as a plain string (no TOML quoting needed)")
    p.add_argument("--unset", action="store_true",
                   help="remove the keys instead (give KEY without =VALUE)")
    p.add_argument("--replace-table", action="store_true",
                   help="allow replacing a whole table (e.g. [model]) with a plain value")
    p.add_argument("--force", action="store_true",
                   help="also overwrite a read-only file (its mode is kept)")
    return p


def _toml_text(value) -> str:
    import tomlkit

    if isinstance(value, dict):
        return tomlkit.dumps(value).rstrip("\n")
    return tomlkit.item(value).as_string()


def run(args) -> int:
    if args.command == "get":
        return _get(args)
    out = args.output or args.file
    try:
        # one 'dpgui set' at a time per folder: read, edit, validate and write as one step
        with safeio.locked_files(args.file, out, timeout=None, on_wait=lambda: print(
                f"dpgui set: waiting for another dpgui writing next to {out} ...",
                file=sys.stderr)):
            return _set(args, out)
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _get(args) -> int:
    try:
        doc = ConfigDocument.load(args.file)
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
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


def _errors(doc: ConfigDocument) -> list[Any]:
    from dpgui_qt.core.config.schema import default_registry
    from dpgui_qt.core.config.validate import Options, Validator

    validator = Validator(default_registry())
    return [f for f in validator.validate(doc, None, Options(check_paths=False)) if f.is_error]


def _set(args, out: str) -> int:
    try:
        doc = ConfigDocument.load(args.file)
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    original = doc.text
    with doc.batch():
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
                doc.set(path, value, replace_table=args.replace_table)
            except (DocumentError, kp.KeyPathError) as exc:
                hint = " (or pass --replace-table)" if "would remove them all" in str(exc) else ""
                print(f"error: {assignment}: {exc}{hint}; nothing was written", file=sys.stderr)
                return 2

    # validate the result in memory first: edits that add errors are not written
    errors = _errors(doc)
    if errors:
        before = ConfigDocument.from_text(original, doc.path)
        known = {(f.path, f.message) for f in _errors(before)}
        added = [f for f in errors if (f.path, f.message) not in known]
        if added:
            for f in added:
                print(f.format())
            print(f"error: these edits would add {len(added)} error"
                  f"{'s' if len(added) != 1 else ''}; {out} was not written", file=sys.stderr)
            return 1
    try:
        if args.output and not _same_file(args.output, args.file):
            doc.save(out, allow_readonly=args.force)
        else:
            doc.save(allow_readonly=args.force)  # checks the file still holds what was read
    except ConflictError as exc:
        print(f"error: {exc}. Nothing was written; run the command again to apply your "
              "edits to the new version.", file=sys.stderr)
        return 3
    except ReadOnlyError as exc:
        print(f"error: {exc} (or pass --force to overwrite it anyway)", file=sys.stderr)
        return 2
    except DocumentError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for f in errors:  # errors the file already had: written, but reported
        print(f.format())
    return 1 if errors else 0


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
