"""Mutated corpus files and random bytes: the loader and validator always end in a
result or a clear error, never an unhandled exception."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dpgui_qt.core.config.document import ConfigDocument, DocumentError, TomlSyntaxError
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator
from tests.conftest import corpus_files
from tests.helpers import BASE_DATASET, BASE_MAIN

SEEDS = [p.read_bytes() for p in corpus_files()][:60] or [BASE_MAIN.encode(), BASE_DATASET.encode()]
VALIDATOR = Validator(default_registry())
OPTIONS = Options(check_paths=False, follow_datasets=False)

FRAGMENTS = [b"[", b"]", b"=", b"'", b'"', b"\n", b"[[directory]]\n", b"[model]\n", b"type = 'wan'\n",
             b"rank = 1e6\n", b"betas = [0.9, 1]\n", b"x = 1979-05-27\n", b"a.b.c = 1\n", b"{", b"}",
             b"resolutions = [[512, 512, 1]]\n", b"\r\n", b"\xff", b"\xef\xbb\xbf", b"#", b",",
             b"micro_batch_size_per_gpu = [[512, 4], [1024, 1]]\n", b"eval_datasets = ['x']\n",
             b"optimizer = 5\n", b"model = 'flux'\n", b"directory = [1, 2]\n", b"nan", b"inf"]


def check(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    try:
        doc = ConfigDocument(text)
    except TomlSyntaxError as exc:
        assert exc.line >= 1 and exc.col >= 1 and exc.message
        return
    except DocumentError:
        return
    for kind in ("main", "dataset"):
        findings = VALIDATOR.validate(doc, kind, OPTIONS)
        for f in findings:
            assert f.severity in ("error", "warning")
            assert f.message and f.line >= 1 and f.col >= 1
            f.format()


@st.composite
def mutated(draw):
    base = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.integers(0, 2))
        pos = draw(st.integers(0, max(0, len(base))))
        if op == 0 and base:
            end = min(len(base), pos + draw(st.integers(1, 40)))
            del base[pos:end]
        elif op == 1:
            base[pos:pos] = draw(st.sampled_from(FRAGMENTS))
        elif base:
            line_start = base.rfind(b"\n", 0, pos) + 1
            line_end = base.find(b"\n", pos)
            line_end = len(base) if line_end < 0 else line_end
            chunk = bytes(base[line_start:line_end + 1])
            base[line_start:line_start] = chunk  # duplicate a line (duplicate keys, tables)
    return bytes(base)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_corpus_files(data):
    check(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes(data):
    check(data)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]{}=.,'\"\n\\ #abc123_-+eE")), max_size=200))
def test_random_toml_like_text(text):
    check(text.encode())


def test_validator_survives_wrong_shapes():
    for text in ("model = 'flux'\noptimizer = 3\nadapter = []\n",
                 "[model]\ntype = 5\ndtype = []\n[optimizer]\ntype = {a = 1}\n",
                 "directory = 'x'\nresolutions = 'big'\n",
                 "[[directory]]\nresolutions = [[1, 2], 3]\nnum_repeats = 'x'\n",
                 "eval_datasets = [1, {name = 2}]\nmicro_batch_size_per_gpu = [[]]\n"):
        check(text.encode())
