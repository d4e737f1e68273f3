"""LineAssembler and the ANSI helpers (dpgui_qt.core.run.lines)."""
from __future__ import annotations

import os
import pathlib
import random
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from dpgui_qt.core.run.lines import (
    Line,
    LineAssembler,
    LineKind,
    StyledRun,
    split_ansi,
    strip_ansi,
)

LINE, CR, PARTIAL = LineKind.LINE, LineKind.CR, LineKind.PARTIAL


def assemble(chunks: list[bytes], **kw) -> list[tuple[str, LineKind]]:
    a = LineAssembler(**kw)
    out: list[Line] = []
    for c in chunks:
        out += a.feed(c)
    out += a.flush()
    return [(ln.text, ln.kind) for ln in out]


def assemble_raw(chunks: list[bytes]) -> list[tuple[str, LineKind]]:
    a = LineAssembler()
    out: list[tuple[str, LineKind]] = []
    for c in chunks + [None]:
        texts, kinds = a.feed_raw(c) if c is not None else a.flush_raw()
        out += zip(texts, kinds if kinds is not None else [LINE] * len(texts))
    return out


def cut(data: bytes, rnd: random.Random, max_len: int = 7) -> list[bytes]:
    out, i = [], 0
    while i < len(data):
        n = rnd.randint(1, max_len)
        out.append(data[i:i + n])
        i += n
    return out


def test_plain_lines_and_unterminated_tail():
    assert assemble([b"a\nbb\n", b"ccc"]) == [("a", LINE), ("bb", LINE), ("ccc", LINE)]
    assert assemble([b"a\n\nb\n"]) == [("a", LINE), ("", LINE), ("b", LINE)]


def test_nothing_is_emitted_before_a_line_ends():
    a = LineAssembler()
    assert a.feed(b"steps: 1 loss") == []
    assert a.pending == "steps: 1 loss"
    assert [tuple(ln) for ln in a.feed(b": 0.5\n")] == [("steps: 1 loss: 0.5", LINE)]
    assert a.pending == ""


def test_crlf_even_when_cut_between_cr_and_lf():
    assert assemble([b"a\r\nb\r\n"]) == [("a", LINE), ("b", LINE)]
    assert assemble([b"a\r", b"\nb\r", b"\n"]) == [("a", LINE), ("b", LINE)]
    # and a bare CR cut from what follows is still an update
    assert assemble([b"a\r", b"b\n"]) == [("a", CR), ("b", LINE)]


def test_tqdm_updates_are_cr_lines_and_the_close_is_a_line():
    stream = (b"caching\n\r  0%|          | 0/4 [00:00<?, ?it/s]"
              b"\r 50%|#####     | 2/4 [00:01<00:01,  2.00it/s]"
              b"\r100%|##########| 4/4 [00:02<00:00,  2.00it/s]\ndone\n")
    assert assemble([stream]) == [
        ("caching", LINE),
        ("  0%|          | 0/4 [00:00<?, ?it/s]", CR),
        (" 50%|#####     | 2/4 [00:01<00:01,  2.00it/s]", CR),
        ("100%|##########| 4/4 [00:02<00:00,  2.00it/s]", LINE),
        ("done", LINE),
    ]


def test_cr_rules_empty_segments_and_crlf_after_updates():
    assert assemble([b"abc\r\r\n"]) == [("abc", LINE)]      # CRs before LF: still one row
    assert assemble([b"a\r\rb\n"]) == [("a", CR), ("b", LINE)]
    assert assemble([b"\r\n"]) == [("", LINE)]                # an empty row
    assert assemble([b"x\r"]) == [("x", LINE)]                # flush closes the open row
    assert assemble([b"\r"]) == []


def test_utf8_split_at_every_byte():
    text = "café ✓ 日本語 █▌ \U0001F600\n"
    data = text.encode()
    for i in range(1, len(data)):
        assert assemble([data[:i], data[i:]]) == [(text[:-1], LINE)], i


def test_invalid_utf8_is_replaced_not_raised():
    assert assemble([b"ok \xff\xfe end\n"]) == [("ok \ufffd\ufffd end", LINE)]
    # a truncated sequence at the very end of the stream
    assert assemble([b"tail \xe2\x96"]) == [("tail \ufffd", LINE)]


def test_feed_and_feed_raw_agree_and_chunking_never_matters():
    rnd = random.Random(1234)
    pieces = [b"line\n", b"\r 10%|#| 1/9 [00:01<00:08, 1.0it/s]", b"\r\n", b"\xe2\x9c\x93\n",
              b"a\rb\rc\n", b"\r", b"\n\n", b"x" * 50, b"\r\r", b"tail"]
    for _ in range(200):
        data = b"".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 30)))
        whole = assemble([data])
        assert assemble(cut(data, rnd)) == whole
        assert assemble_raw(cut(data, rnd)) == whole


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=0, max_size=200).map(
           lambda b: bytes(c if c % 5 else (10 if c % 2 else 13) for c in b)),
       st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=30))
def test_hypothesis_chunking_invariance(data, sizes):
    chunks, i, k = [], 0, 0
    while i < len(data):
        n = sizes[k % len(sizes)]
        chunks.append(data[i:i + n])
        i += n
        k += 1
    assert assemble(chunks) == assemble([data])
    # no emitted text ever contains a line terminator
    assert all("\n" not in t and "\r" not in t for t, _ in assemble(chunks))


def test_partial_snapshots_for_the_console():
    a = LineAssembler(emit_partial=True)
    got = [tuple(ln) for ln in a.feed(b"\r 10%|#")]
    assert got == [(" 10%|#", PARTIAL)]
    assert a.feed(b"") == []  # unchanged: no duplicate snapshot
    got = [tuple(ln) for ln in a.feed(b"#\r 20%|##")]
    assert got == [(" 10%|##", CR), (" 20%|##", PARTIAL)]
    got = [tuple(ln) for ln in a.feed(b"\n")]
    assert got == [(" 20%|##", LINE)]
    assert Line("x", PARTIAL).is_partial and not Line("x").is_partial


def test_strip_ansi():
    assert strip_ansi("\x1b[1;31mERROR\x1b[0m plain") == "ERROR plain"
    assert strip_ansi("\x1b]0;title\x07text\x1b[2K\x1b[1A") == "text"
    s = "no escapes"
    assert strip_ansi(s) is s


def test_split_ansi_colours_and_bold():
    runs = split_ansi("a\x1b[1;31mB\x1b[22mC\x1b[39mD\x1b[92mE\x1b[0mF")
    assert runs == [StyledRun("a", None, False), StyledRun("B", "red", True),
                    StyledRun("C", "red", False), StyledRun("D", None, False),
                    StyledRun("E", "bright_green", False), StyledRun("F", None, False)]
    assert split_ansi("\x1b[38;5;208mo\x1b[38;2;1;2;3mt") == [
        StyledRun("o", "#ff8700"), StyledRun("t", "#010203")]
    # style carries over to the next line when passed in
    assert split_ansi("x", fg="red", bold=True) == [StyledRun("x", "red", True)]
    assert split_ansi("") == []
    assert "".join(r.text for r in split_ansi("\x1b[33mwarn\x1b[0m: \x1b[Kx")) == "warn: x"


def test_core_run_does_not_import_qt():
    code = ("import sys, dpgui_qt.core.run.lines, dpgui_qt.core.run.parse, "
            "dpgui_qt.core.run.outcome, dpgui_qt.commands.parse_log; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    repo = pathlib.Path(__file__).resolve().parent.parent
    env = dict(os.environ, PYTHONPATH=str(repo))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       cwd=repo, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
