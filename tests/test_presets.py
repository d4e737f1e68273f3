"""Presets: every model type has one, every preset validates (placeholders aside)
with the same engine as the editor, memory figures are sourced or estimated with
their formula, and diffusion-pipe's example configs round-trip byte for byte."""
from __future__ import annotations

import json
import re
import shutil

import pytest

from dpgui_qt import cli
from dpgui_qt.core.config import memory
from dpgui_qt.core.config import presets as P
from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator
from dpgui_qt.core.config.templates import build_template
from tests.conftest import CORPUS_CONFIGS

REG = default_registry()
ALL = P.load()
OWN = [p for p in ALL if not p.is_upstream]
UPSTREAM = [p for p in ALL if p.is_upstream]
PLACEHOLDER = re.compile(r"'(/models/|/data/|dataset\.toml)")


def validate(text: str, check_paths: bool):
    doc = ConfigDocument.from_text(text, "/nonexistent-dir/preset.toml")
    return Validator(REG).validate(doc, "main", Options(check_paths=check_paths, follow_datasets=False))


def test_every_model_type_has_a_preset():
    have = {p.model_type for p in OWN}
    assert have == set(REG.model_types())
    assert {P.PRESETS_DIR / f"{t}.json" for t in REG.model_types()} == set(P.PRESETS_DIR.glob("*.json"))


@pytest.mark.parametrize("preset", OWN, ids=lambda p: f"{p.model_type}:{p.name}")
def test_preset_validates_except_placeholders(preset):
    text = P.build_text(REG, preset)
    assert validate(text, check_paths=False) == [], [f.format() for f in validate(text, False)]
    for f in validate(text, check_paths=True):
        # the example paths are recognised as the templates' placeholders (or, for paths
        # not in a template, reported as missing)
        assert f.rule in ("paths_exist", "template_placeholder") and \
            PLACEHOLDER.search(f.message), f.format()
    values = ConfigDocument.from_text(text).values()
    assert values["model"]["type"] == preset.model_type
    assert ("adapter" in values) == (preset.adapter is not None)
    if preset.adapter:
        assert values["adapter"]["type"] == preset.adapter
    for key, want in preset.set.items():
        got = P._get(values, tuple(key.split(".")))
        assert (got is P._get({}, ("x",))) if want is None else got == want, key


@pytest.mark.parametrize("preset", OWN, ids=lambda p: f"{p.model_type}:{p.name}")
def test_preset_memory_is_sourced(preset):
    m = preset.memory
    assert preset.tier in P.TIERS
    if m["kind"] == "upstream":
        assert re.fullmatch(r"(examples/[\w.]+\.toml|docs/[\w.]+\.md):\d+", m["source"]), m
        assert m["gb"] == preset.tier
    else:
        assert m["kind"] == "estimate" and m["formula"] == memory.FORMULA and m["inputs"]
        # the stored figure is what the formula gives for the preset's own config
        text = P.build_text(REG, preset)
        est = memory.estimate(ConfigDocument.from_text(text).values(), preset.resolution, preset.frames)
        assert est.gb == pytest.approx(m["gb"], abs=0.06)
        assert est.gb <= preset.tier * 0.85


SOURCED = [p for p in OWN if p.memory["kind"] == "upstream"]


@pytest.mark.parametrize("preset", SOURCED, ids=lambda p: f"{p.model_type}:{p.name}")
def test_estimate_agrees_with_diffusion_pipes_figures(preset):
    """Calibration: for the settings diffusion-pipe gives a figure for, the estimate never
    claims more memory than upstream states."""
    values = ConfigDocument.from_text(P.build_text(REG, preset)).values()
    est = memory.estimate(values, preset.resolution, preset.frames)
    assert est.gb <= preset.tier


@pytest.mark.parametrize("model_type,name", [("hidream", "lora-48gb"), ("flux2", "dev-lora-48gb"),
                                             ("sdxl", "full-48gb")])
def test_estimate_agrees_where_upstream_says_a_smaller_card_is_not_enough(model_type, name):
    """'Without block swapping you need 48GB': the estimate does not fit those into 24 GB."""
    p = P.find(model_type, name)
    values = ConfigDocument.from_text(P.build_text(REG, p)).values()
    assert memory.estimate(values, p.resolution, p.frames).gb > 24 * 0.85
    q = P.find("qwen_image", "lora-24gb")          # 24 GB needs block swapping (docs line 388)
    values = ConfigDocument.from_text(P.build_text(REG, q)).values()
    values["blocks_to_swap"] = 0
    assert memory.estimate(values, q.resolution).gb > 24 * 0.85


def test_upstream_sources_cite_lines_that_state_memory():
    """Where the cited file is in the shared corpus, the cited line talks about VRAM."""
    if not CORPUS_CONFIGS.exists():
        pytest.skip("../shared is absent")
    cited = [p.memory["source"] for p in ALL if p.memory["kind"] == "upstream"
             and p.memory["source"].startswith("examples/")]
    assert cited
    for src in cited:
        path, line = src.rsplit(":", 1)
        f = CORPUS_CONFIGS / ("tdrussell__diffusion-pipe__" + path.replace("/", "__"))
        text = f.read_text(encoding="utf-8").splitlines()[int(line) - 1]
        assert "VRAM" in text, (src, text)


@pytest.fixture
def checkout(tmp_path):
    """A diffusion-pipe checkout made of the corpus's copies of the upstream examples."""
    if not CORPUS_CONFIGS.exists():
        pytest.skip("../shared is absent")
    co = tmp_path / "dp"
    (co / "examples").mkdir(parents=True)
    (co / "train.py").write_text("")
    for p in UPSTREAM:
        src = CORPUS_CONFIGS / ("tdrussell__diffusion-pipe__" + p.upstream.replace("/", "__"))
        shutil.copyfile(src, co / p.upstream)
    return co


def test_upstream_examples_are_presets():
    names = {p.upstream for p in UPSTREAM}
    assert names == {"examples/wan_14b_min_vram.toml", "examples/qwen_image_24gb_vram.toml",
                     "examples/minimax_h3_example.toml", "examples/main_example.toml"}
    if CORPUS_CONFIGS.exists():
        manifest = (CORPUS_CONFIGS / "MANIFEST.tsv").read_text().splitlines()
        mains = {r.split("\t")[2]: r.split("\t")[5] for r in manifest[1:]
                 if r.split("\t")[1] == "tdrussell/diffusion-pipe" and r.split("\t")[4] == "main"
                 and r.split("\t")[2].startswith("examples/")}
        assert set(mains) == names
        for p in UPSTREAM:
            assert mains[p.upstream] == p.model_type


@pytest.mark.parametrize("preset", UPSTREAM, ids=lambda p: p.name)
def test_upstream_preset_round_trips_byte_identically(preset, checkout, tmp_path, capsys):
    original = (checkout / preset.upstream).read_bytes()
    assert P.build_text(REG, preset, checkout=checkout).encode("utf-8") == original
    out = tmp_path / "new.toml"
    rc = cli.main(["new", preset.model_type, "--preset", preset.name, "--checkout", str(checkout),
                   "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    assert out.read_bytes() == original
    doc = ConfigDocument.load(out)
    doc.save(tmp_path / "resaved.toml")
    assert (tmp_path / "resaved.toml").read_bytes() == original
    # diffusion-pipe's own file: only its placeholder paths and its own eval note
    for f in validate(original.decode(), check_paths=True):
        assert f.rule in ("paths_exist", "template_placeholder",
                          "eval_interval_without_datasets"), f.format()
        assert not f.is_error


def test_upstream_preset_without_a_checkout_says_what_to_do(tmp_path):
    with pytest.raises(P.PresetError, match="choose the diffusion-pipe checkout"):
        P.build_text(REG, UPSTREAM[0], checkout=None)
    with pytest.raises(P.PresetError, match="cannot read"):
        P.build_text(REG, UPSTREAM[0], checkout=tmp_path)


def test_preset_changes_against_the_template_and_open_configs():
    p = P.find("wan", "14b-lora-24gb")
    base = ConfigDocument.from_text(build_template(REG, "wan", "lora"))
    changes = P.preset_changes(base.values(), p)
    keys = {".".join(map(str, c[0])) for c in changes}
    assert keys == {"model.ckpt_path", "model.transformer_dtype", "blocks_to_swap",
                    "activation_checkpointing"}          # lr 2e-5 is already the template's
    P.apply_changes(base, changes)
    assert P.preset_changes(base.values(), p) == []
    assert "# Recompute activations" in base.text          # comments survive


def test_tier_helpers():
    assert P.tier_for(23.6) == 24 and P.tier_for(11.0) == 12 and P.tier_for(79.2) == 80
    assert P.tier_for(None) is None
    wan = P.load("wan")
    assert P.best_for(wan, 24, "lora").name == "14b-lora-24gb"
    assert P.best_for(wan, 12, "lora").name == "lora-12gb"


def test_cli_presets_json(capsys):
    assert cli.main(["presets", "--model", "qwen_image", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data and all(d["model_type"] == "qwen_image" for d in data)
    assert all({"name", "model_type", "tier_gb", "source", "adapter"} <= set(d) for d in data)
    assert any(d["name"] == "upstream:qwen_image_24gb_vram" for d in data)
    assert cli.main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ALL)
    assert cli.main(["presets", "--model", "flx"]) == 2
    assert "did you mean 'flux'" in capsys.readouterr().err


def test_cli_new(tmp_path, capsys):
    out = tmp_path / "a.toml"
    assert cli.main(["new", "qwen_image", "--preset", "lora-24gb", "-o", str(out)]) == 0
    assert "blocks_to_swap = 8" in out.read_text()
    assert cli.main(["new", "qwen_image", "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert cli.main(["new", "sdxl", "--adapter", "lokr", "-o", str(tmp_path / "b.toml")]) == 2
    assert "does not support LoKr" in capsys.readouterr().err
    assert cli.main(["new", "qwen_image", "--preset", "lora-24gb", "--adapter", "none",
                     "-o", str(tmp_path / "c.toml")]) == 2
    assert cli.main(["new", "ltx-video", "--adapter", "none", "-o", str(tmp_path / "d.toml")]) == 2
    assert "cannot be fully fine-tuned" in capsys.readouterr().err
    assert cli.main(["new", "flux", "--adapter", "none", "-o", str(tmp_path / "e.toml")]) == 0
    assert "adapter" not in ConfigDocument.load(tmp_path / "e.toml").values()
    assert cli.main(["new", "flux", "--preset", "nope", "-o", str(tmp_path / "f.toml")]) == 2
    assert "no preset 'nope' for flux" in capsys.readouterr().err


def test_hostile_upstream_files(tmp_path):
    import os
    p = P.find("wan", "upstream:wan_14b_min_vram")
    (tmp_path / "examples").mkdir()
    target = tmp_path / p.upstream
    os.mkfifo(target)                                   # would block a plain open()
    with pytest.raises(P.PresetError, match="not a regular file"):
        P.build_text(REG, p, checkout=tmp_path)
    target.unlink()
    target.write_bytes(b"\xff\xfe bad")
    with pytest.raises(P.PresetError, match="not UTF-8"):
        P.build_text(REG, p, checkout=tmp_path)
