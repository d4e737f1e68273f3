"""Running diffusion-pipe (Qt-free): launch specs, the supervisor that outlives the GUI,
run folders and control (spec, hosts, multinode, supervisor, runs, control, preflight), and
the console output path: bytes -> lines -> events -> outcome (lines, parse, outcome).

The launcher and the live monitor both build on it. May import the dataset, audit and
config wings and the base modules; never monitor or doctor above it.

Typical live use: :class:`~.follow.RunFollower` takes the bytes as they come
(bytes -> lines -> events -> phase) and decides the outcome once the run ended::

    f = RunFollower()
    def on_ready_read(chunk: bytes):
        c = f.feed(chunk)                        # c.texts, c.kinds, c.pending, c.events
        console.show(c.texts, c.kinds, c.pending)
    def on_finished(state: dict):
        f.finish_log()
        outcome = f.conclude(state, "exited")    # f.status.phase is terminal now

* :mod:`.lines`   -- ``LineAssembler`` (bytes chunks -> ``Line``), ANSI helpers
* :mod:`.parse`   -- ``LogParser`` (lines -> typed events), ``parse_text``
* :mod:`.outcome` -- ``classify`` (events + exit code -> ``Outcome``)
* :mod:`.summary` -- ``summarize`` (events -> headline numbers and the outcome)
* :mod:`.phase`   -- the run-phase state machine (``RunStatus``, ``advance``, ``on_exit``)
* :mod:`.follow`  -- ``RunFollower``: all of the above for one run's console
* :mod:`.switches` -- the one table of train.py switches; :mod:`.launch` -- ``build_spec``
* :mod:`.control` -- save / save-and-stop / Stop / Kill; :mod:`.signals` -- ending a process group
"""
from .lines import Line, LineAssembler, LineKind, StyledRun, split_ansi, strip_ansi
from .outcome import Notice, Outcome, classify, classify_text
from .parse import (
    CacheEvent,
    CachingEvent,
    CheckpointEvent,
    CompleteEvent,
    ComputedEvent,
    DeepSpeedVersionEvent,
    EpochEvent,
    ErrorEvent,
    EvalEvent,
    Event,
    ExitCodeEvent,
    GlobalBatchEvent,
    InterruptEvent,
    LogParser,
    LrEvent,
    ManualQuitEvent,
    ProgressEvent,
    ResumeEvent,
    SaveEvent,
    StepEvent,
    SubprocessKilledEvent,
    TracebackEvent,
    event_to_dict,
    parse_bytes,
    parse_lines,
    parse_text,
)
from .summary import SummaryBuilder, summarize

__all__ = [
    "Line", "LineAssembler", "LineKind", "StyledRun", "split_ansi", "strip_ansi", "Notice",
    "Outcome", "classify", "classify_text", "CacheEvent", "CachingEvent", "CheckpointEvent",
    "CompleteEvent", "ComputedEvent", "DeepSpeedVersionEvent", "EpochEvent", "ErrorEvent",
    "EvalEvent", "Event", "ExitCodeEvent", "GlobalBatchEvent", "InterruptEvent", "LogParser",
    "LrEvent", "ManualQuitEvent", "ProgressEvent", "ResumeEvent", "SaveEvent", "StepEvent",
    "SubprocessKilledEvent", "TracebackEvent", "event_to_dict", "parse_bytes", "parse_lines",
    "parse_text", "SummaryBuilder", "summarize",
]
