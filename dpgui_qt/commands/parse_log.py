"""``dpgui parse-log LOG [--json]``: what a diffusion-pipe console log says.

Prints the training steps (loss, learning rate, throughput), epochs, saves,
checkpoints, errors and how the run ended. Exit status 0 whenever the file was
read and parsed -- also when the run in it failed -- and 2 when it cannot be read.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import (
    CachingEvent,
    CacheEvent,
    Event,
    LogParser,
    LrEvent,
    ProgressEvent,
    StepEvent,
    _jsonable,
    event_to_dict,
    summarize,
)

_CHUNK = 1 << 20


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name,
        help="show the steps, losses, saves and outcome found in a diffusion-pipe console log",
        description=__doc__.split("\n\n")[0].replace("``", ""),
    )
    p.add_argument("log", metavar="LOG", help="console log file ('-' reads standard input)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object {events, summary, outcome}")
    p.add_argument("--exit-code", type=int, default=None, metavar="N",
                   help="the launcher's exit status, if known (helps classify the outcome)")
    p.add_argument("--stopped", action="store_true",
                   help="the run was stopped on purpose (classify as stopped, not failed)")
    p.add_argument("--progress", action="store_true",
                   help="also list every tqdm progress update and caching line (human output)")
    return p


def _read_events(path: str) -> list[Event]:
    asm = LineAssembler()
    parser = LogParser()
    events: list[Event] = []
    if path == "-":
        stream = sys.stdin.buffer
        while chunk := stream.read(_CHUNK):
            events += parser.feed_many(asm.feed_raw(chunk)[0])
    else:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                events += parser.feed_many(asm.feed_raw(chunk)[0])
    events += parser.feed_many(asm.flush_raw()[0])
    events += parser.finish()
    return events


def run(args: argparse.Namespace) -> int:
    try:
        events = _read_events(args.log)
    except OSError as e:
        reason = e.strerror or str(e)
        print(f"dpgui parse-log: cannot read {args.log}: {reason}", file=sys.stderr)
        return 2
    summary = summarize(events, exit_code=args.exit_code, user_stopped=args.stopped)
    outcome = summary.pop("outcome")
    if args.json:
        doc = {
            "events": [event_to_dict(e) for e in events],
            "summary": _jsonable(summary),
            "outcome": outcome,
        }
        json.dump(doc, sys.stdout, indent=1, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    _print_human(events, summary, outcome, args.progress)
    return 0


def _fmt(v: float | None, spec: str = ".4f") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)
    return format(v, spec)


def _fmt_lrs(lrs: list[float] | None) -> str:
    if not lrs:
        return "-"
    return ", ".join(f"{x:.3g}" for x in lrs)


def _print_human(events: list[Event], summary: dict, outcome: dict, progress: bool) -> None:
    out = sys.stdout.write
    lr_by_step: dict[int, list[float]] = {e.step: e.lrs for e in events if type(e) is LrEvent}
    header_done = False
    for e in events:
        t = type(e)
        if t is StepEvent:
            if not header_done:
                out(f"{'step':>8}  {'loss':>10}  {'lr':>12}  {'iter s':>9}  {'samples/s':>9}\n")
                header_done = True
            extra = "".join(f"  {k}={_fmt(v)}" for k, v in e.losses.items())
            out(f"{e.step:>8}  {_fmt(e.loss):>10}  {_fmt_lrs(lr_by_step.get(e.step)):>12}  "
                f"{_fmt(e.iter_time, '.3f'):>9}  {_fmt(e.samples_per_sec, '.3f'):>9}{extra}\n")
        elif t is LrEvent:
            continue  # shown in the step rows
        elif t in (ProgressEvent, CachingEvent, CacheEvent) and not progress:
            continue
        else:
            d = event_to_dict(e)
            kind = d.pop("type")
            lines = d.pop("lines", None)
            if kind == "error":
                d.pop("line", None)
                d["message"] = d["message"][:160] + ("..." if len(d["message"]) > 160 else "")
            fields = ", ".join(f"{k}={v}" for k, v in d.items() if v not in (None, "", [], {}))
            out(f"-- {kind}{': ' + fields if fields else ''}\n")
            if lines and kind == "traceback":
                for ln in lines[-6:]:
                    out(f"     | {ln}\n")

    s = summary
    out("\nsummary\n")
    if s["steps_logged"]:
        out(f"  steps logged     {s['steps_logged']} (step {s['first_step']} .. {s['last_step']})\n")
        out(f"  loss             first {_fmt(s['first_loss'])}, last {_fmt(s['last_loss'])}, "
            f"min {_fmt(s['min_loss'])}\n")
        if s["nonfinite_loss_steps"]:
            out(f"  non-finite loss  {s['nonfinite_loss_steps']} step(s), first at step "
                f"{s['first_nonfinite_step']}\n")
        out(f"  last lr          {_fmt_lrs(s['last_lr'])}\n")
        out(f"  last iter time   {_fmt(s['last_iter_time'], '.3f')} s, "
            f"{_fmt(s['last_samples_per_sec'], '.3f')} samples/s\n")
    else:
        out("  steps logged     0\n")
    for key, label in (("epoch", "epoch"), ("global_batch_size", "global batch"),
                       ("deepspeed_version", "deepspeed"), ("resumed", "resumed at")):
        if s.get(key) is not None:
            out(f"  {label:<16} {s[key]}\n")
    if s["saves"]:
        out(f"  saves            {', '.join(s['saves'])}\n")
    if s["checkpoints"]:
        out(f"  checkpoints      {', '.join(s['checkpoints'])}\n")
    if s["errors"]:
        out(f"  errors           {', '.join(s['errors'])}\n")

    o = outcome
    out(f"\noutcome: {o['status']} ({o['kind']}) - {o['title']}\n")
    if o["explanation"]:
        out(f"  {o['explanation']}\n")
    if o["fix"]:
        out(f"  fix: {o['fix']}\n")
    for ev in o["evidence"]:
        out(f"  evidence: {ev[:300]}\n")
    for n in o["notices"]:
        out(f"  note: {n['title']} - {n['fix']}\n")
