"""``dpgui parse-log`` on hostile inputs (issue #12): ``/dev/zero`` never ended and grew
without bound, a giant line without a newline was held whole, and ``--json`` kept
every event in memory. Now devices are refused, lines are bounded, the output is
streamed and the summary is built in bounded memory."""
from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time

import pytest

from dpgui_qt.core.run.lines import LineAssembler
from dpgui_qt.core.run.parse import parse_bytes
from dpgui_qt.core.run.summary import SummaryBuilder, summarize

from tests.reliability._run_support import cli_env

STEP = "steps: {n} loss: 0.{n:04d} iter time (s): 1.000 samples/sec: 2.000\n"


def _parse_log(tmp_path, *args, stdin=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "dpgui_qt", "parse-log", *map(str, args)],
                            env=cli_env(tmp_path), stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **kw)


# dpgui's CLI, reporting its own peak RSS (VmHWM: reset at exec, unlike ru_maxrss, which
# would include the forked pytest process's memory)
_MEASURED = ("import sys\nfrom dpgui_qt.cli import main\nrc = main(sys.argv[1:])\n"
             "sys.stdout.flush()\n"
             "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]\n"
             "sys.stderr.write(f'PEAK_KB {hwm}\\n')\nsys.exit(rc)\n")


def _measured(tmp_path, *args):
    return subprocess.Popen([sys.executable, "-c", _MEASURED, "parse-log", *map(str, args)],
                            env=cli_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_rss(p) -> tuple[int, bytes, bytes, int]:
    """(exit status, stdout, stderr, peak RSS in bytes) of a :func:`_measured` child."""
    out, err = p.communicate(timeout=300)
    peak = int(err.rsplit(b"PEAK_KB ", 1)[1].split()[0]) * 1024
    return p.returncode, out, err, peak


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")
def test_a_device_is_refused_not_read_forever(tmp_path):
    zero = tmp_path / "zero"
    os.mknod(zero, 0o600 | 0o020000, os.makedev(1, 5))     # a private /dev/zero
    for args, kw in (([zero], {}), (["-"], {"stdin": open(zero, "rb")})):
        p = _parse_log(tmp_path, *args, stdin=kw.get("stdin"))
        try:
            out, err = p.communicate(timeout=60)                    # was: never ended
        finally:
            if p.poll() is None:
                p.kill()
        assert p.returncode == 2 and b"device" in err and b"Traceback" not in err


def test_a_giant_line_without_newline_keeps_memory_bounded(tmp_path):
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    size = 128 << 20                                  # 128 MB, one line, then a real record
    p = _measured(tmp_path, fifo, "--json")

    def writer():
        with open(fifo, "wb") as f:
            block = b"x" * (1 << 20)
            for _ in range(size >> 20):
                f.write(block)
            f.write(b"\n" + STEP.format(n=7).encode() + b"TRAINING COMPLETE!\n")

    threading.Thread(target=writer, daemon=True).start()
    rc, out, err, peak = _wait_rss(p)
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["summary"]["last_step"] == 7 and doc["outcome"]["status"] == "finished"
    assert peak < 160 << 20, f"peak RSS {peak >> 20} MB for a {size >> 20} MB line"   # was: ~5x the line


def test_json_is_streamed_while_the_log_is_read(tmp_path):
    fifo = tmp_path / "live.fifo"
    os.mkfifo(fifo)
    p = _parse_log(tmp_path, fifo, "--json")
    w = open(fifo, "wb")
    try:
        w.write("".join(STEP.format(n=i) for i in range(1, 2001)).encode())
        w.flush()
        # the input is still open, yet the first events are already out
        first = b""
        deadline = time.monotonic() + 20
        while len(first) < 200 and time.monotonic() < deadline:
            if select.select([p.stdout], [], [], 0.2)[0]:
                first += os.read(p.stdout.fileno(), 200 - len(first))
        assert first.startswith(b'{"events": [\n{"type": "step", "step": 1,')
    finally:
        w.write(b"TRAINING COMPLETE!\n")
        w.close()
    rest = p.stdout.read()
    p.wait(60)
    doc = json.loads(first + rest)
    assert len(doc["events"]) == 2001 and doc["summary"]["steps_logged"] == 2000


def test_line_assembler_bounds_every_row():
    a = LineAssembler(max_line=1000)
    rows = a.feed_raw(b"y" * 4500)[0] + a.feed_raw(b"\n" + b"z" * 10)[0] + a.flush_raw()[0]
    assert [len(r) for r in rows] == [1000, 1000, 1000, 1000, 500, 10]
    assert len(a.pending) == 0


def test_bounded_summary_equals_the_full_one(corpus_logs):
    logs = sorted(corpus_logs.glob("*.log"))
    assert logs
    for log in logs:
        events = parse_bytes(log.read_bytes())
        full = summarize(events, exit_code=1)
        b = SummaryBuilder(keep=5)                    # a tiny sample must decide the same
        for i in range(0, len(events), 7):
            b.add(events[i:i + 7])
        assert b.result(exit_code=1) == full, log.name


def test_nan_notice_counts_the_whole_log():
    lines = [STEP.format(n=i) for i in range(1, 5001)]
    lines += ["steps: 5001 loss: nan iter time (s): 1.000 samples/sec: 2.000\n"] * 3
    events = parse_bytes("".join(lines).encode())
    b = SummaryBuilder(keep=10)
    b.add(events)
    r = b.result()
    assert r["steps_logged"] == 5003 and r["nonfinite_loss_steps"] == 3
    assert r == summarize(events)
    assert r["outcome"]["kind"] == "loss_nan"
    assert "(3 of 5003 logged steps)" in r["outcome"]["explanation"]
