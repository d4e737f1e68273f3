"""Incremental parser for diffusion-pipe / DeepSpeed console output.

Feed it one line at a time (already split, e.g. by
:class:`~dpgui_qt.core.run.lines.LineAssembler`); it returns typed events.
Formats are documented in ``shared/corpus/logs/FORMATS.md``; the parser
matches message text only and never the ``[file.py:LINE:func]`` location of
DeepSpeed logger lines (line numbers move between releases).

Prefixes that real logs put in front of a record are removed first:
``[rankN]: `` (torch.distributed stderr), ``> `` (markdown quotes), one stray
quote character before ``[``, ANSI colour codes, leading whitespace. GitHub
auto-links in the logger location (``[[launch.py:319](http://...):func]``)
need no special case because the location is skipped, not parsed.

Degraded pastes (what this module does about them):

* **Collapsed newlines** (several records on one physical line): a line that
  is long (> 300 characters), or that starts like a step line but does not
  match it, is cut in front of every recognisable record start (a DeepSpeed
  timestamp ``[YYYY-MM-DD hh:mm:ss,mmm]``, ``[rankN]:``, ``steps: N loss:``,
  ``Global batch size =``, ``Traceback (most recent call last):`` and the
  other diffusion-pipe prints), and each piece is parsed on its own. This is
  how several ``steps: N loss:`` occurrences in one line all become events.
  Traceback frames whose indentation was collapsed are still recognised: the
  line after a ``File "...", line N`` frame is taken as its source line unless
  it looks like an exception (``Name: message``).
* **Flattened carriage returns** (several tqdm bars glued together, or a print
  glued to the end of a bar): bars are matched one after another and the text
  after the last bar's closing ``]`` is parsed as a line of its own. A bracket
  bucket glued to another print (``caching latents: (704, 704, 81)WARNING:...``)
  is cut after the closing bracket.
* **A logger record split over two lines** (``WARNING]`` / ``[engine.py:...]
  Unable to find latest file ...``): lines that are not recognised are still
  scanned for the known error phrases, so the resume failure is found.
* **Cut-off text**: a truncated last line matches nothing and is ignored; an
  unfinished traceback is reported by :meth:`LogParser.finish` with
  ``exception=None``.

Speed: most lines match nothing. Dispatch is on the first characters of the
line (a dict lookup) and cheap substring tests; regexes only run on lines
that already look like the record they parse.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Iterable, Iterator, Mapping

from .lines import Line, LineAssembler, LineKind, strip_ansi

__all__ = [
    "Event", "StepEvent", "LrEvent", "EpochEvent", "SaveEvent", "CheckpointEvent",
    "EvalEvent", "CachingEvent", "CacheEvent", "ProgressEvent", "GlobalBatchEvent",
    "ResumeEvent", "ComputedEvent", "ManualQuitEvent", "CompleteEvent",
    "ExitCodeEvent", "SubprocessKilledEvent", "InterruptEvent",
    "DeepSpeedVersionEvent", "TracebackEvent", "ErrorEvent",
    "ERROR_KINDS", "WARNING_KINDS",
    "LogParser", "parse_lines", "parse_text", "parse_bytes", "jsonable",
    "event_to_dict",
]


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------
class Event:
    """Base class. ``TYPE`` is the short name used in JSON output."""

    __slots__ = ()
    TYPE: ClassVar[str] = "event"


@dataclass(slots=True)
class StepEvent(Event):
    """``steps: N loss: X [name: Y ...] iter time (s): T samples/sec: S``.
    ``loss`` may be nan or inf. ``losses`` holds the optional extra losses."""

    TYPE: ClassVar[str] = "step"
    step: int
    loss: float
    losses: Mapping[str, float]
    iter_time: float | None
    samples_per_sec: float | None


@dataclass(slots=True)
class LrEvent(Event):
    """DeepSpeed ``[Rank R] step=N, skipped=K, lr=[...], mom=[...]``: the only place
    the learning rate reaches the console. ``lrs`` has one value per param group."""

    TYPE: ClassVar[str] = "lr"
    step: int
    skipped: int
    lrs: list[float]
    rank: int
    mom: str = ""


@dataclass(slots=True)
class EpochEvent(Event):
    """``Started new epoch: N`` (epoch 1 never gets one)."""

    TYPE: ClassVar[str] = "epoch"
    epoch: int


@dataclass(slots=True)
class SaveEvent(Event):
    """``Saving model to directory epoch5`` / ``step500``."""

    TYPE: ClassVar[str] = "save"
    name: str


@dataclass(slots=True)
class CheckpointEvent(Event):
    """DeepSpeed ``[Torch] Checkpoint global_step500 is about to be saved!``."""

    TYPE: ClassVar[str] = "checkpoint"
    tag: str


@dataclass(slots=True)
class EvalEvent(Event):
    """``Running eval`` (eval losses only go to TensorBoard / W&B)."""

    TYPE: ClassVar[str] = "eval"


@dataclass(slots=True)
class CachingEvent(Event):
    """``caching latents: <which>`` / ``caching text embeddings: <which>`` /
    old-style ``caching metadata`` (what="metadata", which="")."""

    TYPE: ClassVar[str] = "caching"
    what: str
    which: str


@dataclass(slots=True)
class CacheEvent(Event):
    """The newer sqlite cache's ``[CACHE] <message>`` lines."""

    TYPE: ClassVar[str] = "cache"
    message: str


@dataclass(slots=True)
class ProgressEvent(Event):
    """A tqdm bar state (``Map (num_proc=3): 40%|███ | 2/5 [...]``, eval and
    cache bars without a description, ``Loading checkpoint shards``)."""

    TYPE: ClassVar[str] = "progress"
    desc: str
    n: int
    total: int | None
    percent: int
    rate: str = ""


@dataclass(slots=True)
class GlobalBatchEvent(Event):
    """``Global batch size = N`` (printed once per GPU)."""

    TYPE: ClassVar[str] = "global_batch"
    n: int


@dataclass(slots=True)
class ResumeEvent(Event):
    """``Resuming training from checkpoint. Resuming at epoch: E, step: S``."""

    TYPE: ClassVar[str] = "resume"
    epoch: int
    step: int


@dataclass(slots=True)
class ComputedEvent(Event):
    """``Computed save_every_n_steps = 50`` and friends (value as int/float when numeric)."""

    TYPE: ClassVar[str] = "computed"
    name: str
    value: int | float | str


@dataclass(slots=True)
class ManualQuitEvent(Event):
    """``Manually quitting`` (the run folder had a ``save_quit`` file)."""

    TYPE: ClassVar[str] = "manual_quit"


@dataclass(slots=True)
class CompleteEvent(Event):
    """``TRAINING COMPLETE!``: the only proof that a run finished."""

    TYPE: ClassVar[str] = "complete"


@dataclass(slots=True)
class ExitCodeEvent(Event):
    """Launcher ``[...] exits with return code = N`` (rc != 0) or
    ``Process <pid> exits successfully.`` (rc = 0). ``rank`` is the
    ``--local_rank`` found in the argv list, when present."""

    TYPE: ClassVar[str] = "exit_code"
    rc: int
    rank: int | None = None
    pid: int | None = None


@dataclass(slots=True)
class SubprocessKilledEvent(Event):
    """Launcher ``Killing subprocess <pid>``: another rank failed, the launcher
    is tearing the job down."""

    TYPE: ClassVar[str] = "subprocess_killed"
    pid: int


@dataclass(slots=True)
class InterruptEvent(Event):
    """Launcher ``Main process received SIGINT, exiting`` (or another signal)."""

    TYPE: ClassVar[str] = "interrupt"
    signal: str


@dataclass(slots=True)
class DeepSpeedVersionEvent(Event):
    """``[Rank 0] DeepSpeed info: version=0.17.0, git-hash=..., git-branch=...``."""

    TYPE: ClassVar[str] = "deepspeed_version"
    version: str


@dataclass(slots=True)
class TracebackEvent(Event):
    """A Python traceback. ``file``/``line``/``function`` describe the last frame
    (the innermost call); ``exception`` is the final ``Type: message`` line, or
    None when the log ends (or the paste was cut) before it. ``rank`` is the
    ``[rankN]:`` prefix the lines carried, None for plain stderr."""

    TYPE: ClassVar[str] = "traceback"
    rank: int | None
    exception: str | None
    exc_type: str | None
    message: str | None
    file: str | None
    line: int | None
    function: str | None
    frames: int
    lines: list[str] = field(default_factory=list)


@dataclass(slots=True)
class ErrorEvent(Event):
    """A recognised error (or warning) phrase. ``kind`` is one of
    :data:`ERROR_KINDS`; ``message`` is the matched text, ``line`` the whole
    (prefix-stripped) line it came from."""

    TYPE: ClassVar[str] = "error"
    kind: str
    message: str
    line: str
    severity: str = "error"
    rank: int | None = None


#: ErrorEvent kinds, most specific first (the classifier uses this order).
ERROR_KINDS = (
    "cuda_arch",            # no kernel image / sm_XX not compatible
    "flash_attn",           # flash-attn missing or broken
    "shape_mismatch",       # size mismatch / shape '[..]' is invalid
    "state_dict_mismatch",  # missing / unexpected keys when loading weights
    "resume_no_latest",     # --resume_from_checkpoint without a 'latest' file
    "empty_dataset",        # Processed dataset was empty
    "too_many_resolutions", # refusal, then exit status 0
    "cuda_oom",             # CUDA out of memory
    "disk_full",            # No space left on device
    "nccl",                 # NCCL error / watchdog timeout
    "cuda_error",           # other CUDA error (illegal memory access ...)
    "segfault",
    "container_lost",       # docker: error waiting for container
    "video_too_short",      # warning only
)
WARNING_KINDS = frozenset({"video_too_short"})


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def event_to_dict(ev: Event) -> dict[str, Any]:
    """JSON-ready dict: ``{"type": ..., <fields>}``; nan/inf become strings."""
    t = type(ev)
    names = _FIELD_NAMES.get(t)
    if names is None:
        names = _FIELD_NAMES[t] = tuple(f.name for f in fields(ev))  # type: ignore[arg-type]
    d: dict[str, Any] = {"type": ev.TYPE}
    for name in names:
        v = getattr(ev, name)
        tv = type(v)
        if tv is float:
            d[name] = v if v - v == 0.0 else str(v)     # nan/inf -> "nan", "inf", "-inf"
        elif tv is int or tv is str or v is None:
            d[name] = v
        else:
            d[name] = jsonable(v)
    return d


def jsonable(v: Any) -> Any:
    """``v`` as JSON can hold it: non-finite floats become "nan"/"inf"/"-inf" strings,
    mappings and lists are converted item by item."""
    if isinstance(v, float) and not math.isfinite(v):
        return str(v)  # "nan", "inf", "-inf"
    if isinstance(v, Mapping):
        return {k: jsonable(x) for k, x in v.items()}
    if isinstance(v, list):
        return [jsonable(x) for x in v]
    return v


# ---------------------------------------------------------------------------
# Regexes (facts from FORMATS.md; no line numbers anywhere)
# ---------------------------------------------------------------------------
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf"
_STEP_RX = re.compile(
    r"steps:\s+(\d+)\s+loss:\s+(" + _NUM + r")\s+"
    r"((?:[A-Za-z_][\w./-]*:\s+\S+\s+)*?)"
    r"iter time \(s\):\s+(\d+(?:\.\d*)?|nan|inf)\s+samples/sec:\s+(\d+(?:\.\d*)?|nan|inf)\s*$"
)
# lenient variant for the tail piece of a degraded line (no end anchor)
_STEP_LOOSE_RX = re.compile(
    r"steps:\s+(\d+)\s+loss:\s+(" + _NUM + r")\s+"
    r"((?:[A-Za-z_][\w./-]*:\s+\S+\s+)*?)"
    r"iter time \(s\):\s+(\d+(?:\.\d+)?|nan|inf)\s+samples/sec:\s+(\d+(?:\.\d+)?|nan|inf)"
)
_EXTRA_RX = re.compile(r"([A-Za-z_][\w./-]*):\s+(\S+)")
# DeepSpeed log_dist step report; lr is a list, or a scalar with gradient_release
_LR_RX = re.compile(
    r"\[Rank (-?\d+)\] step=(\d+), skipped=(\d+), lr=(\[[^\]]*\]|[^,\[]+), mom=(.*)"
)
_VERSION_RX = re.compile(r"DeepSpeed info: version=([^,\s]+)")
_CKPT_RX = re.compile(r"Checkpoint (\S+) is about to be saved!")
_EXIT_RX = re.compile(r"exits with return code = (-?\d+)")
_LOCAL_RANK_RX = re.compile(r"--local_rank=(\d+)")
_PROC_OK_RX = re.compile(r"^Process (\d+) exits successfully")
_KILLING_RX = re.compile(r"^Killing subprocess (\d+)")
_SIGNAL_RX = re.compile(r"^Main process received (SIG\w+)")
_GLOBAL_BATCH_RX = re.compile(r"^Global batch size = (\d+)")
_COMPUTED_RX = re.compile(r"^Computed (\w+) = (\S+)")
_RESUME_RX = re.compile(r"^Resuming training from checkpoint\. Resuming at epoch: (\d+), step: (\d+)")
_SAVE_RX = re.compile(r"^Saving model to directory ((?:epoch|step)\d+)")
_EPOCH_RX = re.compile(r"^Started new epoch: (\d+)")
_CACHING_RX = re.compile(r"^caching (latents|text embeddings): (.*)$")
_BAR_RX = re.compile(
    r"\s*(?P<desc>[^:|\[\]]*?):?\s*(?P<pct>\d+)%\|(?P<bar>[^|]*)\|\s*(?P<n>\d+)/(?P<total>\d+|\?)"
    r" \[(?P<elapsed>[\d:]+)<(?P<eta>[\d:?]+),\s*(?P<rate>[^\]]*)\]"
)
# first character of the INFO messages the parser reads: "[Rank N] ...",
# "Killing subprocess", "Process N exits successfully", "Main process received"
_INFO_HEADS = frozenset("[KPM")
# a whole DeepSpeed lr-report record (the location part is skipped, not parsed)
_LR_LINE_RX = re.compile(
    r"\[\d{4}-[^\]]*\] \[INFO\] \[[^\]]*\] \[Rank (-?\d+)\] step=(\d+), skipped=(\d+), "
    r"lr=(\[[^\]]*\]|[^,\[]+), mom=(.*)")
# a whole tqdm bar without description: " 50%|█████     | 3/6 [00:03<00:03,  1.00it/s]"
_BAR0_RX = re.compile(r" *(\d+)%\|[^|]*\| *(\d+)/(\d+|\?) \[[\d:]+<[\d:?]+, *([^\]]*?) *\]")
_GLOG_RX = re.compile(r"^\[([IWEF])\d{3,4} [\d:.]+ (?:\d+ )?[\w.]+:\d+\] (.*)$")
_FRAME_RX = re.compile(r'^\s*File "([^"]*)", line (\d+)(?:, in ?(.*))?')
_EXC_RX = re.compile(r"^([A-Za-z_][\w.]*)(?::(?:\s(.*))?)?$")
# record starts inside a collapsed line (see module docstring)
_RECORD_START_RX = re.compile(
    r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\] "
    r"|\[rank\d+\]:"
    r"|steps: \d+ loss: "
    r"|Global batch size = \d"
    r"|Traceback \(most recent call last\):"
    r"|Saving model to directory "
    r"|Started new epoch: \d"
    r"|TRAINING COMPLETE!"
    r"|Manually quitting"
    r"|Running eval"
    r"|Resuming training from checkpoint"
    r"|caching (?:latents|text embeddings): "
    r"|\[CACHE\] "
)
_LONG = 300
_LEVELS = frozenset({"[DEBUG", "[INFO", "[WARNING", "[ERROR", "[CRITICAL"})

# (substring, kind, severity, extra-condition). Order matters: first hit wins
# per line. Only run on lines that no specific handler claimed.
_SCAN: tuple[tuple[str, str], ...] = (
    ("no kernel image is available", "cuda_arch"),
    ("is not compatible with the current PyTorch installation", "cuda_arch"),
    ("CUDA error: invalid device function", "cuda_arch"),
    ("No module named 'flash_attn", "flash_attn"),
    ("FLASH_ATTN_2_AVAILABLE", "flash_attn"),
    ("FlashAttention only supports", "flash_attn"),
    ("size mismatch for", "shape_mismatch"),
    ("is invalid for input of size", "shape_mismatch"),
    ("The size of tensor a", "shape_mismatch"),
    ("Missing key(s) in state_dict", "state_dict_mismatch"),
    ("Unexpected key(s) in state_dict", "state_dict_mismatch"),
    ("Error(s) in loading state_dict", "state_dict_mismatch"),
    ("Unable to find latest file", "resume_no_latest"),
    ("Processed dataset was empty", "empty_dataset"),
    ("ConcatenatedBatchedDataset is empty", "empty_dataset"),
    ("You have set a lot of resolutions", "too_many_resolutions"),
    ("supports a limited set of resolutions", "too_many_resolutions"),
    ("CUDA out of memory", "cuda_oom"),
    ("OutOfMemoryError", "cuda_oom"),
    ("CUDA error: out of memory", "cuda_oom"),
    ("No space left on device", "disk_full"),
    ("Watchdog caught collective operation timeout", "nccl"),
    ("watchdog thread terminated with exception", "nccl"),
    ("NCCL error", "nccl"),
    ("DistBackendError", "nccl"),
    ("ncclInternalError", "nccl"),
    ("ncclSystemError", "nccl"),
    ("ncclUnhandledCudaError", "nccl"),
    ("ncclRemoteError", "nccl"),
    ("CUDA error:", "cuda_error"),
    ("Segmentation fault", "segfault"),
    ("error waiting for container", "container_lost"),
    ("is being skipped because it is too short", "video_too_short"),
)
# quick gate: every _SCAN phrase contains one of these (keeps the scan cheap)
_SCAN_GATE = ("rror", "kernel image", "compatible", "flash", "FLASH", "mismatch", "invalid",
              "size of tensor", "key(s)", "latest file", "empty", "resolutions",
              "memory", "No space", "atchdog", "nccl", "NCCL", "Segmentation", "too short")
_NCCL_HARMLESS = "process group has NOT been destroyed"

# first characters -> handler name for diffusion-pipe's plain prints
_HEADS: dict[str, str] = {
    "Globa": "global_batch",
    "Compu": "computed",
    "Resum": "resume",
    "Runni": "eval",
    "Savin": "save",
    "Start": "epoch",
    "Manua": "manual_quit",
    "TRAIN": "complete",
    "cachi": "caching",
    "Trace": "traceback",
    'File ': "frame",
    "steps": "step",
}

# StepEvent.losses when the line has no extra losses (the normal case): one
# shared read-only mapping instead of a new dict per step
_NO_LOSSES: Mapping[str, float] = MappingProxyType({})


def _to_float(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.nan


def _parse_lrs(raw: str) -> list[float]:
    raw = raw.strip()
    if raw.startswith("["):
        raw = raw[1:-1] if raw.endswith("]") else raw[1:]
    out = []
    for x in raw.split(","):
        x = x.strip()
        if x:
            try:
                out.append(float(x))
            except ValueError:
                pass
    return out


def _extra_losses(extra: str) -> dict[str, float]:
    return {k: _to_float(v) for k, v in _EXTRA_RX.findall(extra)}


def _number(v: str) -> int | float | str:
    try:
        return int(v)
    except ValueError:
        try:
            return float(v)
        except ValueError:
            return v


class _TB:
    __slots__ = ("rank", "lines", "frames", "file", "line", "function", "after_frame")

    def __init__(self, rank: int | None) -> None:
        self.rank = rank
        self.lines: list[str] = []
        self.frames = 0
        self.file: str | None = None
        self.line: int | None = None
        self.function: str | None = None
        self.after_frame = False


class LogParser:
    """Incremental line -> events parser.

    ``feed(text)`` for one line, ``feed_many(texts)`` / ``feed_lines(lines)``
    for batches (faster: one call per chunk instead of per line). Call
    ``finish()`` at the end of the stream to get tracebacks that never reached
    their exception line. Parser state is small: open tracebacks per rank.
    """

    __slots__ = ("_tb", "lines_seen", "lines_failed", "last_failure")

    def __init__(self) -> None:
        self._tb: dict[int | None, _TB] = {}
        self.lines_seen = 0
        # Lines whose parsing raised (a parser bug): they are skipped, counted and
        # the last one described, so one odd line can never stop a follower.
        self.lines_failed = 0
        self.last_failure: str | None = None

    def _failed(self, text: object, exc: BaseException) -> None:
        self.lines_failed += 1
        self._tb.clear()  # an open traceback may be half-updated; start clean
        self.last_failure = f"{type(exc).__name__}: {exc} in line {str(text)[:200]!r}"

    # -- public API ------------------------------------------------------------
    def feed(self, text: str | Line) -> list[Event]:
        """Parse one line (a ``str`` without terminator, or a :class:`Line`;
        PARTIAL lines are ignored) and return the events it completes."""
        if type(text) is not str:
            if text[1] is LineKind.PARTIAL:
                return []
            text = text[0]
        out: list[Event] = []
        self.lines_seen += 1
        try:
            self._one(text, out, None)
        except Exception as e:  # noqa: BLE001 - see _failed
            self._failed(text, e)
        return out

    def feed_many(self, texts: Iterable[str]) -> list[Event]:
        """Parse several lines; same result as calling :meth:`feed` on each.

        The loop inlines the three line shapes that make up almost all of a
        training log -- the ``steps:`` line, the DeepSpeed lr report and tqdm
        bars without description -- and skips DeepSpeed INFO records whose
        message no handler reads. Every other line, every line the inlined
        checks are unsure about, and every line while a traceback is open goes
        through the general per-line path. Tests check both give the same events.

        A line whose parsing raises is skipped (see ``lines_failed``); the
        lines after it are parsed as usual.
        """
        out: list[Event] = []
        it = iter(texts)
        while not self._feed_iter(it, out):
            pass  # a line failed: go on with the rest of the iterator
        return out

    def _feed_iter(self, texts: Iterator[str], out: list[Event]) -> bool:
        """The loop of :meth:`feed_many`; False when a line raised (it is skipped)."""
        append = out.append
        one = self._one
        lr_full = _LR_LINE_RX.match
        bar_full = _BAR0_RX.fullmatch
        no_losses = _NO_LOSSES
        info_heads = _INFO_HEADS
        long_ = _LONG
        tb_open = bool(self._tb)
        n = self.lines_seen
        s = ""
        try:
            for s in texts:
                n += 1
                if tb_open or not s:
                    if s:
                        one(s, out, None)
                        tb_open = bool(self._tb)
                    continue
                c = s[0]
                if c == "s":
                    p = s.split()
                    if len(p) == 10 and p[0] == "steps:" and p[2] == "loss:" and p[8] == "samples/sec:":
                        try:
                            append(StepEvent(int(p[1]), float(p[3]), no_losses, float(p[7]), float(p[9])))
                            continue
                        except ValueError:
                            pass
                elif c == "[":
                    if "] step=" in s:
                        m = lr_full(s)
                        if m is not None:
                            rank, st, sk, lr, mom = m.groups()
                            try:  # the common single-group "[1e-06]"
                                lrs = [float(lr[1:-1])]
                            except ValueError:
                                lrs = _parse_lrs(lr)
                            append(LrEvent(int(st), 0 if sk == "0" else int(sk), lrs,
                                           0 if rank == "0" else int(rank), mom))
                            continue
                    # "[YYYY-MM-DD hh:mm:ss,mmm] [INFO] [file:line:func] message"
                    elif s[27:32] == "INFO]" and s[1:3] == "20" and len(s) <= long_:
                        i = s.find("] ", 33)
                        if i > 0:
                            c2 = s[i + 2:i + 3]
                            if c2 not in info_heads:
                                continue  # INFO noise: config dump, launcher env ...
                            if c2 == "[" and "version=" not in s and "about to be saved" not in s:
                                continue  # other "[Rank 0] ..." / "[Torch] ..." INFO messages
                elif c == " " or c == "1":
                    m = bar_full(s)
                    if m is not None:
                        pct, done, total, rate = m.groups()
                        append(ProgressEvent("", int(done), None if total == "?" else int(total),
                                             int(pct), rate))
                        continue
                one(s, out, None)
                tb_open = bool(self._tb)
        except Exception as e:  # noqa: BLE001 - one bad line must not stop a follower
            self.lines_seen = n
            self._failed(s, e)
            return False
        self.lines_seen = n
        return True

    def feed_lines(self, lines: Iterable[Line]) -> list[Event]:
        """Parse :class:`Line` objects from a LineAssembler; PARTIAL lines are skipped."""
        partial = LineKind.PARTIAL
        return self.feed_many([t for t, k in lines if k is not partial])

    def finish(self) -> list[Event]:
        """End of stream: report tracebacks that are still open."""
        out: list[Event] = []
        for rank in list(self._tb):
            self._close_tb(rank, None, out)
        return out

    # -- dispatch ----------------------------------------------------------------
    def _one(self, s: str, out: list[Event], rank: int | None, depth: int = 0) -> None:
        if "\x1b" in s or "\x9b" in s:
            s = strip_ansi(s)
        if not s:
            return  # blank, or a line that held only escape codes ("\x1b[0m")
        c = s[0]
        # prefixes ---------------------------------------------------------------
        if c == "[" and s.startswith("[rank"):
            j = s.find("]:", 5)
            if j > 5 and s[5:j].isdigit():
                rank = int(s[5:j])
                s = s[j + 2:]
                if s[:1] == " ":
                    s = s[1:]
                if not s:
                    return
                c = s[0]
        elif c == ">":
            s = s.lstrip("> ")
            if not s:
                return
            c = s[0]
        elif c in "'\"`" and s[1:2] == "[":
            s = s[1:]
            c = "["
        # open traceback for this rank? -------------------------------------------
        if self._tb and rank in self._tb:
            if self._tb_line(s, out, rank):
                return
        elif rank is not None and not s.startswith("[") and not s.startswith("Traceback"):
            # rank-prefixed stderr outside a traceback: frames start an
            # implicit traceback (paste began mid-traceback)
            if _FRAME_RX.match(s):
                self._tb[rank] = _TB(rank)
                self._tb_line(s, out, rank)
                return
        if len(s) > _LONG and depth == 0:
            if self._split_degraded(s, out, rank) or self._weight_names(s, out, rank):
                return
        if c in " \t":
            s = s.lstrip()
            if not s:
                return
            c = s[0]
        if c == "[":
            self._bracket(s, out, rank, depth)
            return
        head = _HEADS.get(s[:5])
        if head is not None and self._head(head, s, out, rank, depth):
            return
        if "%|" in s:
            self._bars(s, out, rank, depth)
            return
        self._scan(s, out, rank)

    def _bracket(self, s: str, out: list[Event], rank: int | None, depth: int) -> None:
        c1 = s[1:2]
        if c1.isdigit():
            parts = s.split("] ", 3)
            if len(parts) == 4 and len(parts[0]) == 24 and parts[1] in _LEVELS:
                self._logger(parts[1][1:], parts[3], s, out, rank)
                return
        elif c1 == "C" and s.startswith("[CACHE] "):
            out.append(CacheEvent(s[8:].strip()))
            return
        elif c1 in "IWEF" and s[2:3].isdigit():
            m = _GLOG_RX.match(s)
            if m is not None:
                sev, msg = m.groups()
                if _NCCL_HARMLESS in msg:
                    return
                if sev in "EF" or "atchdog" in msg:
                    if not self._scan(msg, out, rank, line=s) and "NCCL" in s:
                        out.append(ErrorEvent("nccl", msg.strip(), s, "error", rank))
                return
        elif c1 == "R" and "] step=" in s:
            m = _LR_RX.match(s)
            if m is not None:
                self._lr(m, out)
                return
        self._scan(s, out, rank)

    def _logger(self, level: str, msg: str, line: str, out: list[Event], rank: int | None) -> None:
        c = msg[:1]
        if c == "[":
            if msg.startswith("[Rank "):
                if "] step=" in msg:
                    m = _LR_RX.match(msg)
                    if m is not None:
                        self._lr(m, out)
                        return
                elif "DeepSpeed info: version=" in msg:
                    m = _VERSION_RX.search(msg)
                    if m is not None:
                        out.append(DeepSpeedVersionEvent(m.group(1)))
                        return
                elif "is about to be saved!" in msg:
                    m = _CKPT_RX.search(msg)
                    if m is not None:
                        out.append(CheckpointEvent(m.group(1)))
                        return
        if level == "INFO":
            if c == "K":
                m = _KILLING_RX.match(msg)
                if m is not None:
                    out.append(SubprocessKilledEvent(int(m.group(1))))
            elif c == "P":
                m = _PROC_OK_RX.match(msg)
                if m is not None:
                    out.append(ExitCodeEvent(0, None, int(m.group(1))))
            elif c == "M":
                m = _SIGNAL_RX.match(msg)
                if m is not None:
                    out.append(InterruptEvent(m.group(1)))
            return
        if "exits with return code" in msg:
            m = _EXIT_RX.search(msg)
            if m is not None:
                lr = _LOCAL_RANK_RX.search(msg)
                out.append(ExitCodeEvent(int(m.group(1)), int(lr.group(1)) if lr else None))
                return
        self._scan(msg, out, rank, line=line)

    def _lr(self, m: re.Match[str], out: list[Event]) -> None:
        rank, st, sk, lr, mom = m.groups()
        out.append(LrEvent(int(st), int(sk), _parse_lrs(lr), int(rank), mom))

    def _head(self, head: str, s: str, out: list[Event], rank: int | None, depth: int) -> bool:
        if head == "step":
            m = _STEP_RX.match(s)
            if m is not None:
                out.append(self._step(m))
                return True
            if depth == 0 and self._split_degraded(s, out, rank, force=True):
                return True
            m = _STEP_LOOSE_RX.match(s)
            if m is not None:
                out.append(self._step(m))
                return True
            return False
        if head == "caching":
            m = _CACHING_RX.match(s)
            if m is not None:
                what, which = m.groups()
                rest = ""
                if which[:1] and which[0] in "([":
                    close = ")" if which[0] == "(" else "]"
                    k = which.find(close)
                    if k > 0:
                        which, rest = which[:k + 1], which[k + 1:]
                out.append(CachingEvent(what, which.strip()))
                if rest.strip() and depth < 4:
                    self._one(rest.strip(), out, rank, depth + 1)
                return True
            if s.startswith("caching metadata"):
                out.append(CachingEvent("metadata", ""))
                return True
            return False
        if head == "traceback":
            if s.startswith("Traceback (most recent call last)"):
                if rank in self._tb:  # a second header without an exception line
                    self._close_tb(rank, None, out)
                tb = self._tb[rank] = _TB(rank)
                tb.lines.append(s)
                return True
            return False
        if head == "frame":
            if _FRAME_RX.match(s):
                self._tb[rank] = _TB(rank)
                self._tb_line(s, out, rank)
                return True
            return False
        if head == "global_batch":
            m = _GLOBAL_BATCH_RX.match(s)
            if m:
                out.append(GlobalBatchEvent(int(m.group(1))))
                return True
        elif head == "computed":
            m = _COMPUTED_RX.match(s)
            if m:
                out.append(ComputedEvent(m.group(1), _number(m.group(2))))
                return True
        elif head == "resume":
            m = _RESUME_RX.match(s)
            if m:
                out.append(ResumeEvent(int(m.group(1)), int(m.group(2))))
                return True
        elif head == "eval":
            if s.rstrip() == "Running eval":
                out.append(EvalEvent())
                return True
        elif head == "save":
            m = _SAVE_RX.match(s)
            if m:
                out.append(SaveEvent(m.group(1)))
                return True
        elif head == "epoch":
            m = _EPOCH_RX.match(s)
            if m:
                out.append(EpochEvent(int(m.group(1))))
                return True
        elif head == "manual_quit":
            if s.rstrip() == "Manually quitting":
                out.append(ManualQuitEvent())
                return True
        elif head == "complete":
            if s.rstrip() == "TRAINING COMPLETE!":
                out.append(CompleteEvent())
                return True
        return False

    @staticmethod
    def _step(m: re.Match[str]) -> StepEvent:
        st, loss, extra, it, sps = m.groups()
        return StepEvent(int(st), _to_float(loss), _extra_losses(extra) if extra else _NO_LOSSES,
                         _to_float(it), _to_float(sps))

    def _bars(self, s: str, out: list[Event], rank: int | None, depth: int) -> None:
        pos = 0
        match = _BAR_RX.match
        while True:
            m = match(s, pos)
            if m is None:
                break
            total = m.group("total")
            out.append(ProgressEvent(m.group("desc").strip(), int(m.group("n")),
                                     None if total == "?" else int(total),
                                     int(m.group("pct")), m.group("rate").strip()))
            pos = m.end()
        rest = s[pos:].strip()
        if not rest:
            return
        if pos and depth < 4:
            self._one(rest, out, rank, depth + 1)  # a print glued to the bar
        else:
            self._scan(rest, out, rank)

    def _split_degraded(self, s: str, out: list[Event], rank: int | None, force: bool = False) -> bool:
        starts = [m.start() for m in _RECORD_START_RX.finditer(s)]
        if starts and starts[0] != 0:
            starts.insert(0, 0)
        if len(starts) < 2:
            return False
        starts.append(len(s))
        carry = ""
        for a, b in zip(starts, starts[1:]):
            piece = s[a:b].strip()
            if carry:
                piece = carry + " " + piece
                carry = ""
            if piece.startswith("[rank") and piece.endswith("]:") and piece[5:-2].isdigit():
                carry = piece  # a bare "[rankN]:" belongs to the record after it
                continue
            if piece:
                self._one(piece, out, rank, 1)
        if carry:
            self._one(carry, out, rank, 1)
        return True

    @staticmethod
    def _weight_names(s: str, out: list[Event], rank: int | None) -> bool:
        """A long run of quoted parameter names ("a.b.weight", "a.b.bias", ...) is
        the body of a ``Missing key(s) / Unexpected key(s) in state_dict`` error
        whose first line was lost (seen in a real paste)."""
        if s.count('.weight"') + s.count('.bias"') < 4:
            return False
        out.append(ErrorEvent("state_dict_mismatch",
                              "list of model weight names from a state_dict loading error",
                              s.strip(), "error", rank))
        return True

    # -- errors --------------------------------------------------------------
    def _scan(self, s: str, out: list[Event], rank: int | None, line: str | None = None) -> bool:
        for g in _SCAN_GATE:
            if g in s:
                break
        else:
            return False
        for phrase, kind in _SCAN:
            if phrase in s:
                if kind == "nccl" and _NCCL_HARMLESS in s:
                    continue
                out.append(ErrorEvent(kind, s.strip(), (line or s).strip(),
                                      "warning" if kind in WARNING_KINDS else "error", rank))
                return True
        return False

    # -- tracebacks ------------------------------------------------------------
    def _tb_line(self, s: str, out: list[Event], rank: int | None) -> bool:
        """Feed a line to the open traceback of ``rank``. Returns False when the
        line does not belong to it (the traceback was closed; parse the line)."""
        tb = self._tb[rank]
        body = s.rstrip()
        if not body:
            return True  # blank lines inside pasted tracebacks
        first = body[0]
        stripped = body.lstrip()
        m = _FRAME_RX.match(body) if stripped.startswith("File ") else None
        if m is not None:
            tb.lines.append(body)
            tb.frames += 1
            tb.file = m.group(1)
            tb.line = int(m.group(2))
            func = m.group(3)
            tb.function = func.strip() if func and func.strip() else None
            tb.after_frame = True
            return True
        if first in " \t" or stripped[:1] in ("^", "~"):
            tb.lines.append(body)
            tb.after_frame = False
            return True
        if body.startswith("Traceback (most recent call last)"):
            tb.lines.append(body)
            return True
        exc = _EXC_RX.match(body)
        if exc is None and tb.after_frame and first != "[":
            tb.lines.append(body)  # source line whose indentation was lost
            tb.after_frame = False
            return True
        if exc is None:
            if tb.frames == 0 and rank is None and len(tb.lines) <= 1:
                # "Traceback ..." header followed by unrelated text: drop it
                del self._tb[rank]
                return False
            self._close_tb(rank, None, out)
            return False
        tb.lines.append(body)
        self._close_tb(rank, body, out)
        # the exception line may name a known error (OOM, NCCL ...)
        if not self._scan(body, out, rank):
            src = tb.lines[-2] if len(tb.lines) >= 2 else ""
            if "FLASH_ATTN" in src or "flash_attn" in src:
                out.append(ErrorEvent("flash_attn", body, src.strip(), "error", rank))
        return True

    def _close_tb(self, rank: int | None, exception: str | None, out: list[Event]) -> None:
        tb = self._tb.pop(rank, None)
        if tb is None:
            return
        exc_type = message = None
        if exception is not None:
            m = _EXC_RX.match(exception)
            if m is not None:
                exc_type, message = m.group(1), m.group(2)
            else:
                message = exception
        out.append(TracebackEvent(rank, exception, exc_type, message, tb.file, tb.line,
                                  tb.function, tb.frames, tb.lines))


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
def parse_lines(lines: Iterable[str]) -> list[Event]:
    """Parse complete lines (no terminators) and finish."""
    p = LogParser()
    events = p.feed_many(lines)
    events.extend(p.finish())
    return events


def parse_text(text: str) -> list[Event]:
    """Parse a whole log held in a string (``\\r`` updates are honoured)."""
    return parse_bytes(text.encode("utf-8", "surrogatepass"))


def parse_bytes(data: bytes) -> list[Event]:
    """Parse a whole log held in bytes (UTF-8, invalid bytes replaced)."""
    a = LineAssembler()
    texts = a.feed_raw(data)[0]
    texts.extend(a.flush_raw()[0])
    p = LogParser()
    events = p.feed_many(texts)
    events.extend(p.finish())
    return events
