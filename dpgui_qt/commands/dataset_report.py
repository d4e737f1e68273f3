"""``dpgui dataset-report``: what diffusion-pipe will train from a dataset, file by file.

Exit status: 0 nothing will be skipped, 1 something will be skipped (or the dataset has
errors), 2 a config could not be read or the arguments are incomplete.
"""
from __future__ import annotations

from typing import Any

import argparse
import json
import os
import sys
from pathlib import Path


def add_parser(sub, name: str) -> argparse.ArgumentParser:
    p = sub.add_parser(
        name, help="per-file report of a dataset: frames, frame buckets, what is skipped",
        description="Scan a dataset config the way diffusion-pipe will read it for one model "
        "type: video headers (frame count, frame rate), frames after resampling to the "
        "model's frame rate, the frame and size bucket of every file, what is skipped and "
        "why, and items and steps per epoch. Exit 0 when nothing is skipped, 1 when "
        "something will be skipped, 2 when a config cannot be read.")
    p.add_argument("dataset", nargs="?", metavar="DATASET.toml",
                   help="the dataset config (default: the one --config names)")
    p.add_argument("--model", metavar="TYPE",
                   help="model type (default: model.type of --config)")
    p.add_argument("--config", metavar="MAIN.toml",
                   help="main config: gives the model type, its checkpoint (Wan's frame rate), "
                        "video_clip_mode and the batch settings")
    p.add_argument("--gpus", type=int, default=1, metavar="N",
                   help="GPUs for the steps-per-epoch estimate (default 1)")
    p.add_argument("--checkout", metavar="DIR",
                   help="folder relative paths are resolved against, as diffusion-pipe does "
                        "from its checkout (default: $DPGUI_DIFFUSION_PIPE, else the dataset "
                        "file's folder)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--skipped-only", action="store_true",
                   help="list only the files that will be skipped")
    return p


def _err(msg: str) -> int:
    print(f"dpgui dataset-report: {msg}", file=sys.stderr)
    return 2


def _load(path: str):
    from dpgui_qt.core.config.document import ConfigDocument, DocumentError, TomlSyntaxError

    try:
        return ConfigDocument.load(path).values(), None
    except TomlSyntaxError as exc:
        return None, f"{path}:{exc.line}:{exc.col}: {exc.message}"
    except (DocumentError, OSError) as exc:
        return None, f"{path}: {exc}"


def run(args) -> int:
    main_values: dict[str, Any] = {}
    main_dir = None
    if args.config:
        main_values, err = _load(args.config)
        if err:
            return _err(err)
        main_dir = str(Path(args.config).resolve().parent)
    model_type = args.model
    if model_type is None:
        m = main_values.get("model")
        model_type = m.get("type") if isinstance(m, dict) else None
    if not model_type:
        return _err("give --model TYPE or --config MAIN.toml (with model.type)")
    from dpgui_qt.core.config.schema import default_registry

    if default_registry().model(model_type) is None:
        return _err(f"unknown model type {model_type!r}")
    checkout = args.checkout or os.environ.get("DPGUI_DIFFUSION_PIPE")
    dataset = args.dataset
    if dataset is None:
        ds = main_values.get("dataset")
        if not isinstance(ds, str) or not ds:
            return _err("give DATASET.toml or a --config that names its dataset")
        cand = [Path(checkout) / ds] if checkout and not os.path.isabs(ds) else []
        cand += [Path(main_dir or ".") / ds, Path(ds)]
        found = next((c for c in cand if c.is_file()), None)
        if found is None:
            return _err(f"dataset file {ds} (named by {args.config}) not found; pass it as "
                        "DATASET.toml or use --checkout")
        dataset = str(found)
    values, err = _load(dataset)
    if err:
        return _err(err)
    base = checkout or str(Path(dataset).resolve().parent)

    from dpgui_qt.core.dataset.report import dataset_report

    rep = dataset_report(values, model_type, main_values=main_values, num_gpus=args.gpus,
                         base_dir=base)
    errors = [p for p in rep.all_problems() if p.severity == "error"]
    bad = bool(rep.skipped()) or bool(errors)
    if args.json:
        d = rep.to_dict()
        d["dataset"] = dataset
        d["exit_status"] = 1 if bad else 0
        print(json.dumps(d, indent=2))
    else:
        _print_text(rep, dataset, args.skipped_only)
    return 1 if bad else 0


def _fmt_fps(x) -> str:
    from dpgui_qt.core.dataset.video import fps_text
    return fps_text(x) if x else "?"


def _print_text(rep, dataset: str, skipped_only: bool) -> None:
    out = sys.stdout.write
    fr = rep.framerate
    rate = (f"{_fmt_fps(fr.fps)} fps" if fr.fps else "no frame rate (image model)")
    out(f"{dataset}: model {rep.model_type}, {rate}"
        + (f" [{fr.source}]" if fr.source else "")
        + f", video_clip_mode {rep.clip_mode}\n")
    if fr.note and (fr.assumed or fr.fps is None):
        out(f"  note: {fr.note}\n")
    for d in rep.directories:
        s = d.scan
        skipped = d.skipped
        out(f"\n[[directory]] {d.path}\n")
        if not s.exists:
            out("  folder missing\n")
        out(f"  {len(s.images)} images, {len(s.videos)} videos, {len(skipped)} skipped\n")
        plans = d.buckets.video_plans if d.buckets is not None else {}
        rows = []
        for n in sorted(s.media, key=str.lower):
            if skipped_only and n not in skipped:
                continue
            p = plans.get(n)
            size = s.sizes.get(n)
            size_s = f"{size[0]}x{size[1]}" if size else "?"
            if p is not None and p.header.ok:
                h = p.header
                fps = f"{_fmt_fps(h.fps)}→{_fmt_fps(p.model_fps)}" if p.model_fps \
                    else _fmt_fps(h.fps)
                frames = f"{h.frames}→{p.frames}" if p.frames is not None else str(h.frames)
                if h.frames_from == "packets":
                    frames += "*"
                where = skipped.get(n) or (f"{p.frame_bucket}f {p.bucket_label or ''}".strip()
                                           + (f" frames {p.clip[0]}-{p.clip[1] - 1}" if p.clip
                                              and p.frame_bucket and p.frame_bucket > 1 else ""))
            else:
                fps, frames = "-", "1" if n in s.images else "?"
                where = skipped.get(n) or "image"
            rows.append((n, size_s, fps, frames, where))
        if rows:
            w = [max(len(r[i]) for r in rows + [("file", "size", "fps", "frames", "")])
                 for i in range(4)]
            out("  " + "  ".join(h.ljust(w[i]) for i, h in
                                 enumerate(("file", "size", "fps", "frames"))) + "  bucket\n")
            for r in rows:
                out("  " + "  ".join(r[i].ljust(w[i]) for i in range(4)) + "  " + r[4] + "\n")
            if any(r[3].endswith("*") for r in rows):
                out("  * no frame count in the container: counted by demuxing packets\n")
        if d.buckets is not None:
            fh = d.buckets.frame_histogram()
            if fh:
                out("  files per frame bucket: " + ", ".join(
                    f"{f}f: {n}" if f > 1 else f"images: {n}" for f, n in fh.items()) + "\n")
        for p in s.problems + (d.buckets.problems if d.buckets is not None else []):
            if p.kind in ("missing_captions", "orphan_captions") and skipped_only:
                continue
            out(f"  {p.severity}: {p.message}\n")
    for p in rep.problems + (rep.estimate.problems if rep.estimate else []):
        out(f"{p.severity}: {p.message}\n")
    t = rep.totals()
    gb = t["global_batch"]
    out(f"\ntotal: {t['images']} images, {t['videos']} videos ({t['videos_trained']} trained), "
        f"{t['skipped']} skipped; {t['items_per_epoch']} items and {t['steps_per_epoch']} "
        f"steps per epoch" + (f" at a global batch of {gb}" if gb else "")
        + (f", {t['dropped_items']} items dropped by batching" if t["dropped_items"] else "")
        + "\n")
