"""``dpgui parse-log LOG [--json]``: what a diffusion-pipe console log says.

Prints the training steps (loss, learning rate, throughput), epochs, saves,
checkpoints, errors and how the run ended. Exit status 0 whenever the file was
read and parsed -- also when the run in it failed -- and 2 when it cannot be read.

The log is streamed: output (also ``--json``) is written as it is read, and
memory stays bounded by the summary, not by the size of the log. Devices
(``/dev/zero``), folders and sockets are refused; pipes are read to their end.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import stat
import sys
from collections import deque
from typing import Any, Iterator, cast

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import (
    CachingEvent,
    CacheEvent,
    Event,
    LogParser,
    LrEvent,
    ProgressEvent,
    StepEvent,
    event_to_dict,
    jsonable,
)
from dpgui_qt.core.run.summary import SummaryBuilder

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


class InputError(Exception):
    """The log cannot be read (message is user-facing)."""


def _open_input(path: str):
    """A binary stream for ``path`` ('-' = standard input). Regular files, pipes
    and FIFOs are read; devices (``/dev/zero`` would never end), folders and
    sockets are refused with a message."""
    if path == "-":
        stream = sys.stdin.buffer
        try:
            st = os.fstat(stream.fileno())
        except (OSError, ValueError):
            return stream, False
        if stat.S_ISCHR(st.st_mode) and not os.isatty(stream.fileno()) or stat.S_ISBLK(st.st_mode):
            raise InputError("standard input is a device, not a log (it may never end)")
        return stream, False
    try:
        st = os.stat(path)
    except OSError as e:
        raise InputError(e.strerror or str(e)) from None
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        raise InputError("it is a folder (give the dpgui-*.log file in it, or use dpgui monitor)")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        raise InputError("it is a device, not a log file (it may never end)")
    if stat.S_ISSOCK(mode):
        raise InputError("it is a socket, not a log file")
    try:
        return open(path, "rb"), True
    except OSError as e:
        raise InputError(e.strerror or str(e)) from None


def iter_event_batches(stream) -> Iterator[list[Event]]:
    """Parse a stream chunk by chunk; memory is bounded by the chunk size and the
    longest line the assembler keeps (``LineAssembler.max_line``)."""
    asm = LineAssembler()
    parser = LogParser()
    # read1: what is there now (up to a chunk), so a pipe is parsed as it is written
    read = getattr(stream, "read1", stream.read)
    while chunk := read(_CHUNK):
        evs = parser.feed_many(asm.feed_raw(chunk)[0])
        if evs:
            yield evs
    evs = parser.feed_many(asm.flush_raw()[0]) + parser.finish()
    if evs:
        yield evs


def _read_events(path: str) -> list[Event]:
    """Every event of a log (for callers that want them all; the command streams)."""
    stream, owned = _open_input(path)
    try:
        return [e for batch in iter_event_batches(stream) for e in batch]
    finally:
        if owned:
            stream.close()


def run(args: argparse.Namespace) -> int:
    try:
        stream, owned = _open_input(args.log)
    except InputError as e:
        print(f"dpgui parse-log: cannot read {args.log}: {e}", file=sys.stderr)
        return 2
    try:
        try:
            if args.json:
                _stream_json(stream, args)
            else:
                _stream_human(stream, args)
        except OSError as e:
            if isinstance(e, BrokenPipeError):
                raise
            print(f"\ndpgui parse-log: cannot read {args.log}: {e.strerror or e}", file=sys.stderr)
            return 2
    finally:
        if owned:
            stream.close()
    return 0


def _stream_json(stream, args) -> None:
    """``{"events": [...], "summary": {...}, "outcome": {...}}`` written as the log
    is read: one event per line, the summary at the end."""
    out = sys.stdout.write
    dumps = json.dumps
    summary = SummaryBuilder()
    out('{"events": [')
    sep = "\n"
    for batch in iter_event_batches(stream):
        summary.add(batch)
        out(sep + ",\n".join(dumps(event_to_dict(e), ensure_ascii=False) for e in batch))
        sep = ",\n"
        sys.stdout.flush()
    s = summary.result(exit_code=args.exit_code, user_stopped=args.stopped)
    outcome = s.pop("outcome")
    out('\n],\n"summary": ' + dumps(jsonable(s), indent=1, ensure_ascii=False))
    out(',\n"outcome": ' + dumps(outcome, indent=1, ensure_ascii=False) + "}\n")


_LOOKAHEAD = 256   # events held back so an lr report printed after its step still joins it


def _stream_human(stream, args) -> None:
    out = sys.stdout.write
    summary = SummaryBuilder()
    lr_by_step: dict[int, list[float]] = {}
    held: deque[Any] = deque()
    header = [False]

    def render(e: Any) -> None:  # an Event, dispatched on its exact type
        t = type(e)
        if t is StepEvent:
            if not header[0]:
                out(f"{'step':>8}  {'loss':>10}  {'lr':>12}  {'iter s':>9}  {'samples/s':>9}\n")
                header[0] = True
            extra = "".join(f"  {k}={_fmt(v)}" for k, v in e.losses.items())
            out(f"{e.step:>8}  {_fmt(e.loss):>10}  {_fmt_lrs(lr_by_step.get(e.step)):>12}  "
                f"{_fmt(e.iter_time, '.3f'):>9}  {_fmt(e.samples_per_sec, '.3f'):>9}{extra}\n")
            return
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

    for batch in iter_event_batches(stream):
        summary.add(batch)
        for e in batch:
            t = type(e)
            if t is LrEvent:
                lr = cast(LrEvent, e)
                lr_by_step[lr.step] = lr.lrs
                if len(lr_by_step) > 4 * _LOOKAHEAD:      # only recent steps can still need it
                    for k in list(lr_by_step)[:len(lr_by_step) - 2 * _LOOKAHEAD]:
                        del lr_by_step[k]
                continue
            if t in (ProgressEvent, CachingEvent, CacheEvent) and not args.progress:
                continue
            held.append(e)
            if len(held) > _LOOKAHEAD:
                render(held.popleft())
    while held:
        render(held.popleft())
    s = summary.result(exit_code=args.exit_code, user_stopped=args.stopped)
    outcome = s.pop("outcome")
    _print_summary(s, outcome)


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


def _print_summary(summary: dict[str, Any], outcome: dict[str, Any]) -> None:
    out = sys.stdout.write
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
