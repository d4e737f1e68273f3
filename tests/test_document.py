"""ConfigDocument: lossless round trips, one-line edits, toml 0.10.2 compatible output."""
from __future__ import annotations

import difflib
import os
import tomllib

import pytest
import toml  # diffusion-pipe's own parser, kept as a test oracle

from dpgui_qt.core.config.document import (MISSING, ConfigDocument, EditError, RawValue, SaveError,
                                    TomlSyntaxError)
from tests.conftest import corpus_files



def _parses(path) -> bool:
    try:
        tomllib.loads(path.read_bytes().decode("utf-8-sig"))
        return True
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return False


CORPUS = corpus_files()
PARSEABLE = [p for p in CORPUS if _parses(p)]
BROKEN = [p for p in CORPUS if not _parses(p)]


def _first_number(values, path=()):
    if isinstance(values, dict):
        for k, v in values.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return path + (k,)
        for k, v in values.items():
            found = _first_number(v, path + (k,))
            if found:
                return found
    return None


def test_corpus_counts(corpus_configs):
    assert len(PARSEABLE) == 165 and len(BROKEN) == 3


@pytest.mark.parametrize("path", PARSEABLE, ids=lambda p: p.name[:80])
def test_corpus_roundtrip_and_one_line_edit(path):
    raw = path.read_bytes()
    doc = ConfigDocument.load(path)
    assert doc.encoded() == raw, "load + save without edits must be byte-identical"
    assert not doc.modified
    target = _first_number(doc.values())
    if target is not None:
        old = doc.get(target)
        new = old + 1 if isinstance(old, int) else old * 2 + 0.5
        doc.set(target, new)
        assert doc.get(target) == new
        before = raw.decode("utf-8-sig").splitlines(keepends=True)
        after = doc.text.splitlines(keepends=True)
        changed = [ln for ln in difflib.ndiff(before, after) if ln[:2] in ("+ ", "- ")]
        assert len(changed) == 2, changed
    # whatever we write, diffusion-pipe's parser must read the same values tomllib reads
    assert toml.loads(doc.text) == tomllib.loads(doc.text)


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name[:80])
def test_corpus_syntax_errors_name_the_line(path):
    with pytest.raises(TomlSyntaxError) as info:
        ConfigDocument.load(path)
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        assert f"line {info.value.line}," in str(exc)
    assert info.value.path == str(path)


def test_unclosed_array_points_at_its_opening_line():
    text = "a = 1\neval_datasets = [\n#  {name='x', config='y'},\n# ]\n\nepochs = 3\n"
    with pytest.raises(TomlSyntaxError) as info:
        ConfigDocument(text)
    assert info.value.line == 6
    assert "opened on line 2" in info.value.message


def test_get_set_delete_by_key_path():
    doc = ConfigDocument(
        "eval_datasets = [{name = 'a', config = 'a.toml'}]\n\n[model]\ntype = 'z_image'\n"
        "text_encoders = [{path = '/te', type = 'lumina2'}]\n\n"
        "[[directory]]\npath = '/a'\n\n[[directory]]\npath = '/b'\n")
    assert doc.get("directory[1].path") == "/b"
    assert doc.get("eval_datasets[0].config") == "a.toml"
    assert doc.get("model.text_encoders[0].type") == "lumina2"
    doc.set("directory[1].path", "/c")
    doc.set("eval_datasets[0].config", "b.toml")
    doc.set("model.text_encoders[0].type", "flux2")
    assert doc.get("directory[1].path") == "/c"
    assert "config = \"b.toml\"" in doc.text or "config = 'b.toml'" in doc.text
    assert doc.get("model.text_encoders[0].type") == "flux2"
    doc.delete("directory[0].path")
    assert doc.get("directory[0].path") is MISSING
    with pytest.raises(EditError):
        doc.delete("nope")


def test_unset_is_distinct_from_default_value():
    doc = ConfigDocument("epochs = 10\n")
    assert doc.get("gradient_clipping") is MISSING
    assert not doc.has("gradient_clipping")
    doc.set("gradient_clipping", 1.0)
    assert doc.has("gradient_clipping") and doc.get("gradient_clipping") == 1.0
    doc.delete("gradient_clipping")
    assert doc.text == "epochs = 10\n"


def test_unknown_keys_and_comments_survive_edits():
    text = "# top comment\nmy_custom = 'keep'  # mine\nepochs = 1\n\n[model]\nfoo = 3 # x\n"
    doc = ConfigDocument(text)
    doc.set("epochs", 2)
    doc.set("model.type", "flux")
    assert "my_custom = 'keep'  # mine" in doc.text
    assert "foo = 3 # x" in doc.text
    assert "# top comment" in doc.text


def test_string_quote_style_and_trailing_comment_kept():
    doc = ConfigDocument("output_dir = '/a'   # where runs go\n")
    doc.set("output_dir", "/b")
    assert doc.text == "output_dir = '/b'   # where runs go\n"


def test_raw_value_keeps_scientific_notation():
    doc = ConfigDocument("[optimizer]\nlr = 2e-5\n")
    doc.set("optimizer.lr", RawValue("1e-4"))
    assert doc.text == "[optimizer]\nlr = 1e-4\n"
    assert doc.literal("optimizer.lr") == "1e-4"


def test_new_key_goes_after_last_key_not_after_commented_block():
    text = "[model]\ntype = 'flux'\ndtype = 'bfloat16'\n# shift = 3\n\n[optimizer]\nlr = 1e-4\n"
    doc = ConfigDocument(text)
    doc.set("model.transformer_dtype", "float8")
    lines = doc.text.splitlines()
    assert lines[3] == 'transformer_dtype = "float8"'
    assert lines[4] == "# shift = 3"


def test_missing_table_is_created():
    doc = ConfigDocument("epochs = 1\n\n[model]\ntype = 'flux'\n")
    doc.set("adapter.rank", 32)
    assert tomllib.loads(doc.text)["adapter"] == {"rank": 32}


def test_crlf_bom_and_missing_final_newline(tmp_path):
    raw = b"\xef\xbb\xbfepochs = 1\r\n[model]\r\ntype = 'flux'"
    f = tmp_path / "c.toml"
    f.write_bytes(raw)
    doc = ConfigDocument.load(f)
    assert doc.encoded() == raw
    doc.set("model.dtype", "bfloat16")
    doc.set("epochs", 5)
    out = doc.encoded()
    assert out.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in out.replace(b"\r\n", b"")
    assert tomllib.loads(out.decode("utf-8-sig")) == {"epochs": 5, "model": {"type": "flux", "dtype": "bfloat16"}}


def test_trailing_commas_and_multiline_arrays_roundtrip():
    text = "resolutions = [\n    512,\n    768,   # big\n]\nar_buckets = [[512, 512], [448, 576],]\n"
    doc = ConfigDocument(text)
    assert doc.text == text
    doc.set("resolutions[1]", 1024)
    assert "    1024,   # big\n" in doc.text


@pytest.mark.parametrize("value, expected", [
    ([0.9, 1], [0.9, 1.0]),
    ([[512, 4], [1024.0, 1]], [[512, 4], [1024.0, 1.0]]),
    ([1, 2, 3], [1, 2, 3]),
])
def test_writer_emits_homogeneous_arrays(value, expected):
    doc = ConfigDocument("[optimizer]\ntype = 'adamw'\n")
    doc.set("optimizer.betas", value)
    parsed = toml.loads(doc.text)  # raises 'Not a homogeneous array' if we got it wrong
    assert parsed["optimizer"]["betas"] == expected
    assert tomllib.loads(doc.text) == parsed


def test_raw_mixed_array_is_fixed_on_write():
    doc = ConfigDocument("[optimizer]\n")
    doc.set("optimizer.betas", RawValue("[0.9, 1]"))
    assert toml.loads(doc.text)["optimizer"]["betas"] == [0.9, 1.0]


def test_dates_are_refused():
    import datetime

    doc = ConfigDocument("")
    with pytest.raises(EditError):
        doc.set("x", datetime.date(2024, 1, 1))
    with pytest.raises(EditError):
        doc.set("x", RawValue("2024-01-01"))


def test_bad_raw_value_is_a_clear_error():
    doc = ConfigDocument("")
    with pytest.raises(EditError) as info:
        doc.set("output_dir", RawValue("/no/quotes"))
    assert "not a TOML value" in str(info.value)


def test_atomic_save_and_failed_save_keeps_old_file(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("epochs = 1\n")
    os.chmod(f, 0o640)
    doc = ConfigDocument.load(f)
    doc.set("epochs", 2)
    doc.save()
    assert f.read_text() == "epochs = 2\n"
    assert (f.stat().st_mode & 0o777) == 0o640
    assert not doc.modified
    assert [p.name for p in tmp_path.iterdir()] == ["c.toml"]
    doc.set("epochs", 3)
    with pytest.raises(SaveError) as info:
        doc.save(tmp_path / "missing-folder" / "c.toml")
    assert "does not exist" in str(info.value)
    if os.geteuid() != 0:  # root can write into read-only folders
        os.chmod(tmp_path, 0o500)
        try:
            with pytest.raises(SaveError):
                doc.save()
        finally:
            os.chmod(tmp_path, 0o700)
    assert f.read_text() == "epochs = 2\n"


def test_save_error_when_target_is_a_folder(tmp_path):
    doc = ConfigDocument("epochs = 1\n")
    (tmp_path / "d").mkdir()
    with pytest.raises(SaveError):
        doc.save(tmp_path / "d")
    assert (tmp_path / "d").is_dir()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_listeners_and_restore_for_undo():
    doc = ConfigDocument("epochs = 1\n")
    seen = []
    doc.add_listener(seen.append)
    change = doc.set("epochs", 7)
    assert seen[-1] is change and change.before == "epochs = 1\n"
    doc.restore(change.before)
    assert doc.text == "epochs = 1\n" and doc.get("epochs") == 1
    doc.restore(change.after)
    assert doc.get("epochs") == 7


def test_array_of_tables_insert_move_remove_keep_comments():
    text = ("# dataset\nresolutions = [512]\n\n# first\n[[directory]]\npath = '/a' # A\n\n"
            "[[directory]]\npath = '/b'\nnum_repeats = 2\n")
    doc = ConfigDocument(text)
    doc.insert("directory", 1, {"path": "/new"})
    assert [d["path"] for d in doc.values()["directory"]] == ["/a", "/new", "/b"]
    doc.move("directory", 0, 2)
    assert [d["path"] for d in doc.values()["directory"]] == ["/new", "/b", "/a"]
    assert "path = '/a' # A" in doc.text
    doc.remove("directory", 1)
    assert [d["path"] for d in doc.values()["directory"]] == ["/new", "/a"]
    assert toml.loads(doc.text) == tomllib.loads(doc.text)


def test_locations():
    doc = ConfigDocument("a = 1\n[model]\ntype = 'x'\n\n[[directory]]\npath = 'p'\n"
                         "[[directory]]\n  path = 'q'\n")
    assert doc.locate("a") == (1, 1)
    assert doc.locate("model.type") == (3, 1)
    assert doc.locate("directory[1].path") == (8, 3)
    assert doc.locate("model.missing") == (2, 1)
