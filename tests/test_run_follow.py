"""The run follower (core/run/follow.py) on the real console logs, fed in random
chunk sizes: the same lines, events, phase and outcome as reading each log whole
the way the Run page, ``dpgui launch`` and the Monitor each did before."""
from __future__ import annotations

import math
import random

import pytest

from dpgui_qt.core.run import phase as ph
from dpgui_qt.core.run.follow import STEP_TAIL, RunFollower
from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.outcome import classify
from dpgui_qt.core.run.parse import LogParser, ProgressEvent, StepEvent, parse_bytes

from logs_expected import EXPECTED

LOG_NAMES = sorted(EXPECTED)


def _chunks(data: bytes, seed: int):
    """``data`` cut at random places: single bytes (a UTF-8 sequence, a \\r\\n split
    in two) as well as large pieces."""
    rnd = random.Random(seed)
    i = 0
    while i < len(data):
        n = rnd.choice((1, 2, 3, 7, 64, 500, 4096, 1 << 16))
        yield data[i:i + n]
        i += n


def _reference_status(events, exits_early_ok=False) -> ph.RunStatus:
    """The phase as the Run page used to advance it: every event in turn (a caching
    progress bar while starting counts as caching)."""
    st = ph.RunStatus(exits_early_ok=exits_early_ok)
    for ev in events:
        if type(ev) is ProgressEvent:
            if st.phase == ph.Phase.STARTING and ev.desc.startswith("caching"):
                st = ph.advance(st, "caching")
            continue
        mapped = ph.event_name(ev)
        if mapped is not None:
            st = ph.advance(st, *mapped)
    return st


def _same(a, b) -> bool:
    """Event lists equal (a NaN loss equals a NaN loss)."""
    return [repr(e) for e in a] == [repr(e) for e in b]


def _reference_lines(data: bytes) -> list[str]:
    asm = LineAssembler()
    return asm.feed_raw(data)[0] + asm.flush_raw()[0]


@pytest.mark.parametrize("name", LOG_NAMES)
def test_random_chunks_give_the_whole_log_events_phase_and_outcome(corpus_logs, name):
    data = (corpus_logs / name).read_bytes()
    whole = parse_bytes(data)
    lines = _reference_lines(data)
    for seed in range(3):
        f = RunFollower()
        texts, events = [], []
        for piece in _chunks(data, seed * 7919 + len(name)):
            chunk = f.feed(piece)
            texts += chunk.texts
            events += chunk.events
            assert chunk.steps == sum(type(e) is StepEvent for e in chunk.events)
        last = f.finish_log()
        texts += last.texts
        events += last.events
        assert texts == lines and f.lines == len(lines)
        assert _same(events, whole)
        assert f.status == _reference_status(whole)
        steps = [e for e in whole if type(e) is StepEvent]
        assert f.steps_seen == len(steps)
        assert repr(f.last_step) == repr(steps[-1] if steps else None)
        for rc in (0, 1, -9):
            g = RunFollower()
            for piece in _chunks(data, seed):
                g.feed(piece)
            g.finish_log()
            out = g.conclude({"exit_code": rc}, "exited")
            assert out.to_dict() == classify(whole, rc).to_dict()
            assert g.status == ph.on_exit(_reference_status(whole), rc)
            assert g.exit_code == rc and g.outcome is out


@pytest.mark.parametrize("name", LOG_NAMES)
def test_line_by_line_stages_match_the_batch_path(corpus_logs, name):
    """``dpgui launch`` shows each line with its own events: split, parse_line, flush,
    end_events give the same events and phase as feed/finish_log."""
    data = (corpus_logs / name).read_bytes()
    f = RunFollower()
    events = []
    for piece in _chunks(data, 11):
        texts, _kinds = f.split(piece)
        for t in texts:
            events += f.parse_line(t)
    for t in f.flush()[0]:
        events += f.parse_line(t)
    events += f.end_events()
    whole = parse_bytes(data)
    assert _same(events, whole)
    assert f.status == _reference_status(whole)
    # and one line at a time is what LogParser.feed gives (the CLI's old path)
    p = LogParser()
    old = [e for t in _reference_lines(data) for e in p.feed(t)] + p.finish()
    assert _same(old, whole)


def test_stop_requests_from_dpgui_and_from_the_state_file():
    f = RunFollower.for_state({"argv": ["deepspeed", "train.py", "--cache_only"],
                               "stop_request": "save_quit"})
    assert f.status.exits_early_ok and f.status.stop_request == "save_quit"
    assert f.note_state({"stop_request": "stop"}) is False       # one is known already
    assert f.request_stop("kill") and f.status.stop_request == "kill"
    g = RunFollower()
    assert g.note_state({"stop_request": "stop"}) and g.status.stop_request == "stop"
    g.feed(b"steps: 3 loss: 0.5 iter time (s): 1.0 samples/sec: 1.0\n")
    out = g.conclude({"exit_code": -15}, "exited")
    assert g.status.phase == ph.Phase.STOPPED and out.status == "stopped"


def test_ends_that_the_log_cannot_tell():
    f = RunFollower()
    out = f.conclude({"exit_code": None, "error": "could not start: no such file"},
                     "failed_to_start")
    assert out.kind == "failed_to_start" and "no such file" in out.explanation
    assert f.status.phase == ph.Phase.FAILED
    f = RunFollower()
    f.feed(b"steps: 1 loss: 0.5 iter time (s): 1.0 samples/sec: 1.0\n")
    out = f.conclude({}, "lost")
    assert out.kind == "lost" and out.status == "failed" and f.status.phase == ph.Phase.FAILED
    f = RunFollower()
    out = f.conclude({"exit_code": 1, "error": "No space left on device"}, "exited")
    assert out.kind == "log_unwritable" and out.evidence == ["No space left on device"]


def test_a_flood_keeps_a_bounded_tail_and_every_nan():
    f = RunFollower()
    rows = [f"steps: {i} loss: {'nan' if i == 5 else 0.1} iter time (s): 1.0 "
            f"samples/sec: 1.0\n" for i in range(1, 3 * STEP_TAIL)]
    data = "".join(rows).encode()
    for piece in _chunks(data, 3):
        f.feed(piece)
    f.finish_log()
    kept = f.events_for_outcome()
    steps = [e for e in kept if type(e) is StepEvent]
    assert len(steps) == STEP_TAIL + 1 and steps[-1].step == 3 * STEP_TAIL - 1
    assert any(not math.isfinite(e.loss) and e.step == 5 for e in steps)
    assert f.steps_seen == 3 * STEP_TAIL - 1
    info = f.progress_info()
    assert info["step"] == 3 * STEP_TAIL - 1 and info["lines"] == 3 * STEP_TAIL - 1
    out = f.conclude({"exit_code": 1}, "exited")
    full = classify(parse_bytes(data), 1)
    # decided from the bounded sample: the same verdict and the same NaN notice
    # (only its count of steps looked at is the sample's)
    assert (out.status, out.kind, out.title) == (full.status, full.kind, full.title)
    assert [(n.kind, n.evidence) for n in out.notices] == [(n.kind, n.evidence) for n in full.notices]
    assert [n.kind for n in out.notices] == ["loss_nan"]
