"""Run history (Qt-free): what each run folder in ``output_dir`` says about itself.

Builds on :func:`dpgui_qt.core.run.runs.list_runs` (folder, start time, model
type from the copied config, saves with sizes, checkpoints) and adds the last
step and loss and a status, read from dpgui's console log for the run when
there is one (``<run>/dpgui-*.log``, the link the supervisor leaves, or the
matching ``output_dir/.dpgui-logs/dpgui-<UTC stamp>.log``), else from the
TensorBoard event files. For the list, only the log's tail is parsed
(:data:`TAIL_BYTES`); :func:`load_run_metrics` reads everything.
"""
from __future__ import annotations

from typing import Any

import difflib
import os
import time
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from dpgui_qt.core.monitor.metrics import RunMetrics
from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.outcome import classify
from dpgui_qt.core.run.parse import LogParser, StepEvent
from dpgui_qt.core.run.runs import LOG_SUBDIR, RunFolder, read_run_folder
from dpgui_qt.core.run.supervisor import (
    RUN_DIR_FORMAT, RUN_DIR_RE, parse_run_dir_name, read_state, registered_runs,
)
from dpgui_qt.core.monitor.tbevents import EventDirReader, ScalarRow

__all__ = ["RunSummary", "find_run_log", "summarize_run", "load_run_metrics", "config_diff",
           "read_plan", "find_config_copy", "parse_log_file", "TAIL_BYTES", "RUNNING_WINDOW_S"]

TAIL_BYTES = 512 << 10
RUNNING_WINDOW_S = 180.0   # a log or event file written this recently: the run is probably live
_CHUNK = 1 << 20


@dataclass
class RunSummary:
    folder: RunFolder
    log_path: Path | None = None
    has_events: bool = False
    last_step: int | None = None
    last_loss: float | None = None
    status: str = "unknown"        # finished / failed / stopped / running / unknown
    status_title: str = ""
    last_write: float | None = None
    epochs_done: list[int] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.folder.name

    @property
    def path(self) -> Path:
        return self.folder.path


def find_run_log(run_dir: str | os.PathLike[str], output_dir: str | os.PathLike[str] | None = None) -> Path | None:
    """dpgui's console log of a run folder, or None."""
    run_dir = Path(run_dir)
    try:
        logs = sorted(run_dir.glob("dpgui-*.log"))
    except OSError:
        logs = []
    logs = [p for p in logs if p.exists()]   # a dangling link names a deleted log
    if logs:
        return logs[-1]
    out = Path(output_dir) if output_dir else run_dir.parent
    # runs dpgui started register themselves; their state names the folder bound to them
    claimed = set()
    for entry in registered_runs(out):
        st = read_state(entry["state_dir"]) or {}
        log = entry.get("log_path")
        if not log:
            continue
        claimed.add(os.path.abspath(log))
        if st.get("run_dir") and os.path.abspath(st["run_dir"]) == os.path.abspath(run_dir) \
                and os.path.exists(log):
            return Path(log)
    started = parse_run_dir_name(run_dir.name)
    if started is not None:
        # logs of older dpgui versions (no registry): the newest log started before the folder
        best = None
        for p in (out / LOG_SUBDIR).glob("dpgui-*.log"):
            if os.path.abspath(p) in claimed:
                continue
            stamp = p.stem[len("dpgui-"):len("dpgui-") + 17]
            try:
                t = datetime.strptime(stamp, RUN_DIR_FORMAT).replace(tzinfo=timezone.utc)
            except ValueError:
                continue
            # the log is created when dpgui starts the run, the folder a little later
            if t <= started and (started - t).total_seconds() < 6 * 3600:
                if best is None or t > best[0]:
                    best = (t, p)
        if best:
            return best[1]
    others = sorted(run_dir.glob("*.log"))
    return others[-1] if others else None


def find_config_copy(run_dir: str | os.PathLike[str]) -> Path | None:
    """The main config diffusion-pipe copied into the run folder (has a [model] table)."""
    return read_run_folder(run_dir, with_sizes=False).config_copy


def read_plan(config_path: str | os.PathLike[str] | None) -> dict[str, Any]:
    """``epochs``, ``max_steps``, ``x_axis_examples`` and ``output_dir`` of a main config."""
    if not config_path:
        return {}
    try:
        with open(config_path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}
    return {k: data.get(k) for k in ("epochs", "max_steps", "x_axis_examples", "output_dir")
            if k in data}


def _read_tail(path: Path, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        end = f.tell()
        f.seek(max(0, end - size))
        data = f.read()
    if end > size:
        nl = data.find(b"\n")
        data = data[nl + 1:] if nl >= 0 else b""
    return data


def _parse_bytes(data: bytes, parser: LogParser, asm: LineAssembler) -> list[Any]:
    return parser.feed_many(asm.feed_raw(data)[0])


def parse_log_file(path: str | os.PathLike[str]) -> list[Any]:
    asm, parser, events = LineAssembler(), LogParser(), []
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            events += _parse_bytes(chunk, parser, asm)
    events += parser.feed_many(asm.flush_raw()[0])
    events += parser.finish()
    return events


def _last_write(run: RunFolder, log: Path | None) -> float | None:
    times = []
    for p in ([log] if log else []) + list(run.path.glob("events.out.tfevents.*")):
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            pass
    return max(times) if times else None


def summarize_run(run: RunFolder | str | os.PathLike[str], now: float | None = None,
                  with_sizes: bool = True) -> RunSummary:
    folder = run if isinstance(run, RunFolder) else read_run_folder(run, with_sizes)
    log = find_run_log(folder.path)
    s = RunSummary(folder, log)
    s.has_events = any(folder.path.glob("events.out.tfevents.*"))
    s.last_write = _last_write(folder, log)
    now = time.time() if now is None else now
    recent = s.last_write is not None and now - s.last_write < RUNNING_WINDOW_S
    if log is not None:
        try:
            data = _read_tail(log, TAIL_BYTES)
        except OSError:
            data = b""
        asm, parser = LineAssembler(), LogParser()
        events = _parse_bytes(data, parser, asm)
        events += parser.feed_many(asm.flush_raw()[0]) + parser.finish()
        steps = [e for e in events if type(e) is StepEvent]
        if steps:
            s.last_step, s.last_loss = steps[-1].step, steps[-1].loss
        out = classify(events)
        s.status, s.status_title = out.status, out.title
    if s.last_step is None and s.has_events:
        rows = [r for r in _all_scalars(folder.path) if r.tag == "train/loss"]
        if rows:
            s.last_step, s.last_loss = rows[-1].step, rows[-1].value
    if s.status == "unknown" and recent:
        s.status, s.status_title = "running", "Training (files written in the last minutes)"
    elif s.status == "unknown" and not s.status_title:
        s.status_title = "No console log from dpgui; status unknown"
    return s


def _all_scalars(run_dir: Path) -> list[ScalarRow]:
    r = EventDirReader(run_dir, verify_data=False)
    out: list[ScalarRow] = []
    while rows := r.poll():
        out += rows
    return out


def load_run_metrics(run_dir: str | os.PathLike[str], log_path: str | os.PathLike[str] | None = None,
                     smoothing: float = 0.9) -> RunMetrics:
    """All curves of a finished (or running) run: its log if any, plus its events."""
    run_dir = Path(run_dir)
    m = RunMetrics(smoothing=smoothing)
    plan = read_plan(find_config_copy(run_dir)) if run_dir.is_dir() else {}
    m.set_plan(plan.get("epochs"), plan.get("max_steps"), plan.get("x_axis_examples"))
    log = Path(log_path) if log_path else (find_run_log(run_dir) if run_dir.is_dir() else None)
    if log is not None and log.is_file():
        m.feed(parse_log_file(log))
    if run_dir.is_dir():
        m.feed_scalars(_all_scalars(run_dir))
    return m


def config_diff(a: str | os.PathLike[str], b: str | os.PathLike[str], context: int = 3) -> list[tuple[str, str]]:
    """Unified diff of two config files as ``(kind, line)``; kind is ``"+"``, ``"-"``,
    ``" "``, ``"@"`` (hunk header) or ``"h"`` (file header). Empty when equal."""
    from dpgui_qt.core.safeio import read_regular
    from dpgui_qt.core.secrets import mask_toml_text

    # bounded reads of regular files only; credentials are shown masked
    ta = mask_toml_text(read_regular(a).decode("utf-8", errors="replace")).splitlines()
    tb = mask_toml_text(read_regular(b).decode("utf-8", errors="replace")).splitlines()
    out = []
    for line in difflib.unified_diff(ta, tb, str(a), str(b), lineterm="", n=context):
        if line.startswith(("---", "+++")):
            out.append(("h", line))
        elif line.startswith("@@"):
            out.append(("@", line))
        else:
            out.append((line[:1] or " ", line))
    return out


def is_run_dir(path: str | os.PathLike[str]) -> bool:
    return bool(RUN_DIR_RE.match(Path(path).name)) and Path(path).is_dir()
