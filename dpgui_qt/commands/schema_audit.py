"""``dpgui schema-audit DIFFUSION_PIPE_DIR``: does diffusion-pipe still match schemas/?

Exit status: 0 no drift, 1 drift, 2 not a diffusion-pipe checkout (or unusable schemas).
"""
from __future__ import annotations

import argparse
import json
import sys

from dpgui_qt.core.audit import AuditError, NotACheckout, audit, locate_checkout


def add_parser(subparsers, name: str = "schema-audit") -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name,
        help="compare a diffusion-pipe checkout with dpgui's schemas",
        description="Read a diffusion-pipe checkout statically (its code is never imported) and "
        "report model types without a schema, config keys the code reads that no schema "
        "describes, and schema keys the code no longer reads. Exit 1 on drift, 0 when clean, "
        "2 when the folder is not a diffusion-pipe checkout.",
    )
    p.add_argument("checkout", metavar="DIFFUSION_PIPE_DIR", nargs="?", default=None,
                   help="diffusion-pipe checkout (has train.py); default: $DPGUI_DIFFUSION_PIPE, "
                   "then ref/diffusion-pipe")
    p.add_argument("--schemas", metavar="DIR", default=None,
                   help="schema folder to audit (default: the schemas/ shipped with dpgui)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def run(args) -> int:
    checkout = args.checkout if args.checkout is not None else locate_checkout()
    if checkout is None:
        print("dpgui schema-audit: no diffusion-pipe checkout given, none in $DPGUI_DIFFUSION_PIPE "
              "or ref/diffusion-pipe (see ref/README.md)", file=sys.stderr)
        return 2
    try:
        report = audit(checkout, args.schemas)
    except NotACheckout as exc:
        print(f"dpgui schema-audit: {exc}", file=sys.stderr)
        return 2
    except AuditError as exc:
        print(f"dpgui schema-audit: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format_text())
    return 1 if report.drift else 0
