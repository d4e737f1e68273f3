"""Running diffusion-pipe (Qt-free): launch specs, the supervisor that outlives the GUI,
run folders and control (spec, hosts, supervisor, runs, control, preflight), and the console
output path: bytes -> lines -> events -> outcome (lines, parse, outcome).

The launcher and the live monitor both build on it. May import the dataset, audit and
config wings and the base modules; never monitor or doctor above it.

Typical live use (one reader per process pipe, stdout and stderr merged)::

    asm, parser = LineAssembler(), LogParser()
    def on_ready_read(chunk: bytes):
        texts, kinds = asm.feed_raw(chunk)      # kinds None => all LINE
        console.show(texts, kinds, asm.pending)  # CR rows replace the open row
        for ev in parser.feed_many(texts): ...   # StepEvent, LrEvent, ...
    def on_finished(exit_code: int):
        texts, kinds = asm.flush_raw()
        events = parser.feed_many(texts) + parser.finish()
        outcome = classify(all_events, exit_code, user_stopped=stop_pressed)

* :mod:`.lines`   -- ``LineAssembler`` (bytes chunks -> ``Line``), ANSI helpers
* :mod:`.parse`   -- ``LogParser`` (lines -> typed events), ``parse_text``, ``summarize``
* :mod:`.outcome` -- ``classify`` (events + exit code -> ``Outcome``)
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
    summarize,
)
