"""A console line that holds only ANSI escape codes (``\\x1b[0m``) must not crash the
log parser, and no single line may ever stop a follower (issue #12, high)."""
from __future__ import annotations

import subprocess
import sys

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpgui_qt.core.run import parse
from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import LogParser, StepEvent, parse_bytes, parse_lines

from tests.reliability._run_support import cli_env, launch_cmd, make_checkout

STEP = "steps: 3 loss: 0.1000 iter time (s): 1.000 samples/sec: 1.000"

ESCAPES = ["\x1b[0m", "\x1b[2K", "\x1b[1A", "\x1b]0;title\x07", "\x1b]8;;http://x\x1b\\",
           "\x1b(B", "\x1bM", "\x9b1m", "\x1b[38;5;196m", "\x1b[?25l", "\x1b", "\x1b["]
PIECES = ESCAPES + ["\r", "\t", "\x00", "\x07", "\x08", "\x7f", "\ufffd", " ", "[", "]", ":",
                    "[rank0]:", "[rank1]: ", "> ", "'", "`", "steps: ", "loss: ", "caching latents: ",
                    "Traceback (most recent call last):", '  File "train.py", line 3, in <module>',
                    "[2025-01-01 00:00:00,000] [INFO] [x.py:1:f] ", "[CACHE] ", "E0101 ", "100%|",
                    "Saving model to directory ", "TRAINING COMPLETE!", "RuntimeError: x"]


def test_escape_only_lines_parse_to_nothing():
    for esc in ESCAPES:
        assert parse_lines([esc]) == [] or all(type(e) is not StepEvent for e in parse_lines([esc]))
    # and the steps around such lines are still found, by every entry point
    lines = ["\x1b[0m", STEP, "\x1b[2K\x1b[1A", "[rank0]: \x1b[0m", "> \x1b[0m"]
    steps = [e for e in parse_lines(lines) if type(e) is StepEvent]
    assert [e.step for e in steps] == [3]
    p = LogParser()
    assert [e.step for ln in lines for e in p.feed(ln) if type(e) is StepEvent] == [3]
    assert [e.step for e in parse_bytes("\n".join(lines).encode()) if type(e) is StepEvent] == [3]
    assert p.lines_failed == 0


line_st = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=8).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(line_st, max_size=12))
def test_fuzz_escape_and_control_lines_never_raise(lines):
    # feed one by one, in bulk, and as raw bytes through the line assembler
    p1 = LogParser()
    one = [e for ln in lines for e in p1.feed(ln)] + p1.finish()
    p2 = LogParser()
    many = p2.feed_many(lines) + p2.finish()
    assert p1.lines_failed == 0 and p2.lines_failed == 0, (p1.last_failure, p2.last_failure)
    assert one == many
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    parse_bytes(data)
    a = LineAssembler(emit_partial=True)
    p3 = LogParser()
    for k in range(0, len(data), 5):
        p3.feed_lines(a.feed(data[k:k + 5]))
    p3.feed_lines(a.flush())
    assert p3.lines_failed == 0, p3.last_failure
    # the events the CLI prints can always be turned into JSON
    for e in many:
        parse.event_to_dict(e)


def test_a_line_that_breaks_the_parser_is_skipped_not_fatal(monkeypatch):
    """Defence in depth: should some future line shape raise inside the parser, the
    line is counted and skipped and the lines after it are still parsed."""
    real = LogParser._one

    def flaky(self, s, out, rank, depth=0):
        if s == "BOOM":
            raise IndexError("string index out of range")
        return real(self, s, out, rank, depth)

    monkeypatch.setattr(LogParser, "_one", flaky)
    p = LogParser()
    evs = p.feed_many(["Traceback (most recent call last):", "BOOM", STEP, "BOOM", STEP])
    assert [e.step for e in evs if type(e) is StepEvent] == [3, 3]
    assert p.lines_failed == 2 and "BOOM" in p.last_failure and p.lines_seen == 5
    assert p.feed("BOOM") == [] and p.lines_failed == 3


def test_parse_log_cli_survives_an_escape_only_line(tmp_path):
    log = tmp_path / "train.log"
    log.write_bytes(b"\x1b[0m\n" + STEP.encode() + b"\n\x1b[0m\nTRAINING COMPLETE!\n")
    for extra in ([], ["--json"]):
        p = subprocess.run([sys.executable, "-m", "dpgui_qt", "parse-log", str(log), *extra],
                           env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
        assert "Traceback" not in p.stderr and "finished" in p.stdout


def test_launch_follows_a_trainer_that_prints_escape_only_lines(tmp_path):
    co, cfg, out = make_checkout(tmp_path, valid=True)
    p = subprocess.run(launch_cmd(cfg, co, "--gpus", "1"), capture_output=True, text=True, timeout=60,
                       env=cli_env(tmp_path, FAKE_DS_ANSI_LINES="1"))
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr and "training finished" in p.stderr
    assert "[dpgui] step 4 " in p.stdout
    # --attach replays the same log
    state_dir = p.stderr.split("--attach ")[1].split()[0]
    q = subprocess.run([sys.executable, "-m", "dpgui_qt", "launch", "--attach", state_dir],
                       env=cli_env(tmp_path), capture_output=True, text=True, timeout=60)
    assert q.returncode == 0 and "training finished" in q.stderr, q.stderr
