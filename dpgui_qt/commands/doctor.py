"""``dpgui doctor``: examine the environment diffusion-pipe will run in.

Exit status: 0 no errors (warnings allowed), 1 at least one error, 2 bad options.
"""
from __future__ import annotations

from typing import Any

import argparse
import json
import sys


def add_parser(subparsers, name: str = "doctor") -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help="check the training environment (torch, CUDA, driver, deepspeed, checkout)",
        description="Run short probes in the Python that will train (on this machine or on its "
        "training host, e.g. inside WSL) and "
        "report what would stop diffusion-pipe: torch and its CUDA/GPU architectures, the NVIDIA "
        "driver, free VRAM, deepspeed, flash-attn, the checkout's requirements, commit and "
        "submodules, and free disk. Each finding says why it matters and the exact fix. "
        "Without options the environment in dpgui's settings is examined.")
    p.add_argument("--checkout", metavar="DIR", help="diffusion-pipe checkout (default: the setting, "
                   "$DPGUI_DIFFUSION_PIPE, then ref/diffusion-pipe)")
    p.add_argument("--python", metavar="PYTHON", help="the training environment's interpreter "
                   "(default: from the Python environment setting / $DPGUI_DEEPSPEED, else python3)")
    p.add_argument("--host", metavar="KIND", default="local",
                   help="where training runs: a host kind dpgui knows (local, the default; wsl "
                   "on Windows; an unknown name lists them)")
    p.add_argument("--host-field", metavar="NAME=VALUE", action="append", default=None,
                   help="a field of the host (repeatable), e.g. distro=Ubuntu for wsl; "
                   "default: the saved settings'")
    p.add_argument("--distro", metavar="NAME", default=None,
                   help="the host's distribution: short for --host-field distro=NAME (wsl)")
    p.add_argument("--config", metavar="CONFIG", help="a main config: check what its model needs "
                   "(flash-attn, RAM for blocks_to_swap) and the disk of its output_dir")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    return p


def _config_needs(path: str) -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    from dpgui_qt.core.run.preflight import SetupError, load_config

    try:
        cfg = load_config(path)
    except SetupError as exc:
        raise SystemExit(f"dpgui doctor: {exc}") from None
    model = _model if isinstance(_model := cfg.get("model"), dict) else {}
    outs = [cfg["output_dir"]] if isinstance(cfg.get("output_dir"), str) else []
    from dpgui_qt.core.config.memory import swapped_gb

    needs = {"model_type": model.get("type") if isinstance(model.get("type"), str) else None,
             "blocks_to_swap": cfg.get("blocks_to_swap") if isinstance(cfg.get("blocks_to_swap"), int) else None,
             "swap_gb": swapped_gb(cfg)}
    from dpgui_qt.core.doctor import cache_places

    return needs, outs, cache_places(cfg, path)


def run(args) -> int:
    from dpgui_qt.core import doctor

    needs: dict[str, Any] = {}
    outs: list[str] = []
    places: list[tuple[str, str]] = []
    if args.config:
        try:
            needs, outs, places = _config_needs(args.config)
        except SystemExit as exc:
            print(exc, file=sys.stderr)
            return 2
    try:
        fields = None
        if args.host_field is not None or args.distro is not None:
            fields = doctor.parse_host_fields(args.host_field)
            if args.distro is not None:
                fields["distro"] = args.distro
        target = doctor.default_target(checkout=args.checkout, python=args.python, host=args.host,
                                       host_fields=fields, outputs=outs)
        target.places = places
        report = doctor.examine(target, **needs)
    except doctor.TargetError as exc:
        print(f"dpgui doctor: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(report.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report.format_text())
    return 1 if report.errors else 0
