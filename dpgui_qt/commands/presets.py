"""``dpgui presets`` (list the presets) and ``dpgui new`` (write a config from the
plain template or a preset)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def add_parser(subparsers, name: str = "presets") -> argparse.ArgumentParser:
    if name == "new":
        p = subparsers.add_parser(
            "new", help="write a new main config from a template or a preset",
            description="Write a commented main config for a model type: the plain template, or a "
            "preset for a GPU memory tier (see 'dpgui presets'). Paths in it are placeholders. "
            "Upstream presets (upstream:NAME) are diffusion-pipe's example files, copied byte for "
            "byte from the checkout.")
        p.add_argument("model_type", metavar="TYPE", help="model type, e.g. flux, wan, qwen_image")
        p.add_argument("--adapter", choices=("lora", "lokr", "none"), default=None,
                       help="what to train (default: lora, or the preset's)")
        p.add_argument("--preset", metavar="NAME", help="a preset name from 'dpgui presets --model TYPE'")
        p.add_argument("-o", "--output", metavar="FILE", required=True, help="the file to write")
        p.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
        p.add_argument("--checkout", metavar="DIR", help="diffusion-pipe checkout (for upstream presets)")
        return p
    p = subparsers.add_parser(
        "presets", help="list the presets (model type, GPU memory tier, adapter, source)",
        description="List the starting points dpgui offers per model type, GPU memory tier and "
        "adapter, each with where its memory figure comes from (a diffusion-pipe example or doc "
        "line, or an estimate with its formula).")
    p.add_argument("--model", metavar="TYPE", help="only this model type")
    p.add_argument("--json", action="store_true", help="print JSON")
    return p


def _checkout(given: str | None) -> str | None:
    if given:
        return given
    from dpgui_qt.core.doctor.target import saved_environment
    from dpgui_qt.core.run import preflight as envmod

    try:
        return str(envmod.find_checkout(saved_environment().get("checkout") or None))
    except envmod.SetupError:
        return None


def run(args) -> int:
    from dpgui_qt.core.config import presets as P
    from dpgui_qt.core.config.schema import default_registry

    reg = default_registry()
    mt = getattr(args, "model_type", None) or getattr(args, "model", None)
    if mt is not None and reg.model(mt) is None:
        from dpgui_qt.core.text import did_you_mean

        print(f"dpgui {args.command}: unknown model type {mt!r}"
              f"{did_you_mean(mt, reg.model_types())}; known: {', '.join(reg.model_types())}",
              file=sys.stderr)
        return 2
    if args.command == "presets":
        items = P.load(mt)
        if args.json:
            json.dump([p.to_json() for p in items], sys.stdout, indent=2)
            sys.stdout.write("\n")
            return 0
        for p in items:
            print(f"{p.model_type:17} {p.name:26} {p.tier:>3} GB  {p.adapter_label():15} {p.source_text()[:90]}")
        return 0
    return _new(args, reg, P)


def _new(args, reg, P) -> int:
    from dpgui_qt.core.config.document import SaveError, atomic_write
    from dpgui_qt.core.config.templates import build_template

    out = Path(args.output)
    if out.exists() and not args.force:
        print(f"dpgui new: {out} exists; use --force to overwrite it", file=sys.stderr)
        return 2
    adapter = None if args.adapter == "none" else args.adapter
    caps = reg.capabilities(args.model_type)
    try:
        if args.preset:
            preset = P.find(args.model_type, args.preset)
            if args.adapter is not None and adapter != preset.adapter:
                print(f"dpgui new: preset {preset.name} trains {preset.adapter_label()}, not "
                      f"{args.adapter}; leave --adapter out or pick another preset", file=sys.stderr)
                return 2
            text = P.build_text(reg, preset, checkout=_checkout(args.checkout))
        else:
            if args.adapter is None:
                adapter = "lora"
            if adapter is None and not caps.get("full_finetune"):
                print(f"dpgui new: {args.model_type} cannot be fully fine-tuned "
                      f"({caps.get('full_finetune_note') or 'no full fine-tune support'}); use "
                      "--adapter lora", file=sys.stderr)
                return 2
            if adapter == "lokr" and not caps.get("lokr"):
                print(f"dpgui new: {args.model_type} does not support LoKr"
                      + (f" ({caps['lokr_note']})" if caps.get("lokr_note") else "") + "; use --adapter lora",
                      file=sys.stderr)
                return 2
            text = build_template(reg, args.model_type, adapter)
    except P.PresetError as exc:
        print(f"dpgui new: {exc}", file=sys.stderr)
        return 2
    try:
        atomic_write(out, text.encode("utf-8"))
    except (SaveError, OSError) as exc:
        print(f"dpgui new: cannot write {out}: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out}" + (f" (preset {args.preset})" if args.preset else ""))
    return 0
