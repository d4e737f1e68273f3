"""dpgui schema-audit: static extraction from diffusion-pipe and comparison with schemas/."""
from __future__ import annotations

import json
import os
import pathlib
import shutil

import pytest

from dpgui_qt import cli
from dpgui_qt.core import audit as audit_mod
from dpgui_qt.core.audit import NotACheckout, audit, extract, known_model_types

FIXTURES = pathlib.Path(__file__).resolve().parent / "dp_fixtures"
REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def dp(tmp_path) -> pathlib.Path:
    """A writable copy of the synthetic checkout."""
    return pathlib.Path(shutil.copytree(FIXTURES / "mini_dp", tmp_path / "dp"))


@pytest.fixture
def schemas(tmp_path) -> pathlib.Path:
    """A writable copy of the matching mini schema set."""
    return pathlib.Path(shutil.copytree(FIXTURES / "mini_schemas", tmp_path / "schemas"))


def edit(path: pathlib.Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def edit_schema(path: pathlib.Path, fn) -> None:
    doc = json.loads(path.read_text())
    fn(doc)
    path.write_text(json.dumps(doc))


def found(report, kind):
    return {(f.table, f.model_type, f.key) for f in report.findings if f.kind == kind}


def run_cli(capsys, *argv):
    rc = cli.main(["schema-audit", *map(str, argv)])
    out = capsys.readouterr()
    return rc, out.out, out.err


# ---------------------------------------------------------------- clean fixture


def test_clean_fixture_has_no_drift(capsys, dp, schemas):
    report = audit(dp, schemas)
    assert not report.drift, report.format_text()
    rc, out, _ = run_cli(capsys, dp, "--schemas", schemas)
    assert rc == 0
    assert "no drift" in out


def test_dispatch_forms_and_known_model_types(dp):
    types = known_model_types(dp)
    # ==, `or`-ed == and `in (...)` forms, in dispatch order
    assert list(types) == ["alpha", "beta", "beta_xl", "gamma", "gamma_v2"]
    assert types["alpha"] == "models/alpha.py"
    assert types["gamma_v2"] == "models/beta.py"
    ex = extract(dp)
    assert set(ex.dispatch["adapter"]) == {"lora"}
    assert set(ex.dispatch["optimizer"]) == {"adamw", "fancy", "pytorch_optimizer"}
    assert ex.dispatch["optimizer"]["pytorch_optimizer"].fallback


def test_extracted_tables(dp):
    ex = extract(dp)
    reads = {t: set(v) for t, v in ex.table_reads.items()}
    assert {"save_every_n_epochs", "pipeline_stages", "epochs", "huber_delta",
            "checkpoint_every_n_minutes", "eval_datasets"} <= reads["main"]
    assert reads["main.eval_datasets[]"] == {"name", "config"}
    assert reads["monitoring"] == {"enable_wandb", "wandb_api_key"}
    assert reads["dataset"] == {"directory", "num_repeats", "resolutions"}
    assert reads["directory"] == {"path", "mask_path", "num_repeats", "resolutions"}
    assert reads["adapter"] == {"type", "rank", "alpha", "dropout", "fuse_adapters"}
    assert reads["adapter.fuse_adapters[]"] == {"path"}
    # kwargs copy + literal loop keys + .pop; 'mpu' is only stored, never read
    assert reads["optimizer"] == {"type", "half_life", "rank", "gap"}
    assert ex.passthrough == {"optimizer"}
    assert ex.optimizer_ctor_keys["fancy"]["keys"] == ["betas", "lr", "warp"]
    assert ex.optimizer_ctor_keys["fancy"]["set_by_diffusion_pipe"] == ["mpu"]
    # per model type: own module + BasePipeline + helpers it calls
    alpha = set(ex.model_type_keys["alpha"]["model"])
    beta = set(ex.model_type_keys["beta"]["model"])
    assert alpha == {"dtype", "alpha_path", "alpha_fast", "loss_scale"}
    assert beta == {"dtype", "beta_path", "text_encoders", "timestep_sample_method", "loss_scale"}
    assert set(ex.model_type_keys["gamma_v2"]["model.text_encoders[]"]) == {"path", "type"}
    assert set(ex.common_model_reads["model"]) == {"type", "dtype"}


def test_non_config_objects_and_harness_are_not_reads(dp):
    reads = extract(dp).table_reads
    every_key = {k for keys in reads.values() for k in keys}
    assert "hidden_size" not in every_key  # a layer's own self.config, unrelated class
    assert "harness_only" not in every_key  # `if __name__ == '__main__'` in utils/ is skipped


# ---------------------------------------------------------------- drift kinds


def test_new_model_type_is_reported(capsys, dp, schemas):
    edit(dp / "train.py", "    else:\n        raise NotImplementedError(model_type)",
         "    elif model_type == 'delta':\n        from models import alpha\n"
         "        model = alpha.AlphaPipeline(config)\n"
         "    else:\n        raise NotImplementedError(model_type)")
    report = audit(dp, schemas)
    assert report.drift
    assert found(report, "type-without-schema") == {("model", "delta", None)}
    assert "delta" in known_model_types(dp)
    rc, out, _ = run_cli(capsys, dp, "--schemas", schemas)
    assert rc == 1
    assert "model type 'delta'" in out and "train.py:" in out


def test_schema_for_removed_type_is_reported(dp, schemas):
    shutil.copy(schemas / "model" / "alpha.schema.json", schemas / "model" / "zeta.schema.json")
    report = audit(dp, schemas)
    assert found(report, "schema-without-type") == {("model", "zeta", None)}


def test_new_model_key_is_reported_for_that_type_only(dp, schemas):
    edit(dp / "models" / "alpha.py", "        if self.model_config.get('alpha_fast', False):",
         "        self.extra = self.model_config.get('alpha_new', 0)\n"
         "        if self.model_config.get('alpha_fast', False):")
    report = audit(dp, schemas)
    assert found(report, "key-not-in-schema") == {("model", "alpha", "alpha_new")}
    (f,) = report.findings
    assert f.sources == [f"models/alpha.py:{11}"]


def test_new_key_in_base_class_reaches_every_subclass(dp, schemas):
    edit(dp / "models" / "base.py", "        return self.model_config.get('loss_scale', 1.0)",
         "        return self.model_config.get('loss_scale', self.model_config['loss_floor'])")
    report = audit(dp, schemas)
    assert {t for (_, t, k) in found(report, "key-not-in-schema") if k == "loss_floor"} == set(known_model_types(dp))


def test_new_keys_in_other_tables_are_reported(dp, schemas):
    edit(dp / "train.py", "    epochs = config['epochs']",
         "    epochs = config['epochs']\n    warm = config.get('warmup_steps', 0)")
    edit(dp / "utils" / "dataset.py", "        self.path = self.directory_config['path']",
         "        self.path = self.directory_config['path']\n"
         "        self.fps = directory_config.get('fps', dataset_config.get('fps', 16))")
    edit(dp / "models" / "beta.py", "            kind = te.get('type', 'clip')",
         "            kind = te.get('type', 'clip')\n            w = te['weight']")
    edit(dp / "train.py", "half_life := optim_config.pop('half_life', None)",
         "half_life := optim_config.pop('half_life', optim_config.get('decay'))")
    report = audit(dp, schemas)
    got = found(report, "key-not-in-schema")
    assert ("main", None, "warmup_steps") in got
    assert ("dataset", None, "fps") in got and ("directory", None, "fps") in got
    assert {("model.text_encoders[]", t, "weight") for t in ("beta", "beta_xl", "gamma", "gamma_v2")} <= got
    assert ("optimizer", None, "decay") in got


def test_schema_key_no_longer_read_is_reported(dp, schemas):
    edit(dp / "models" / "alpha.py", "        if self.model_config.get('alpha_fast', False):\n            self.fast = True\n", "")
    edit(dp / "utils" / "saver.py", "'checkpoint_every_n_minutes' in config", "False")
    report = audit(dp, schemas)
    assert found(report, "schema-key-not-read") == {
        ("model", "alpha", "alpha_fast"),
        ("main", None, "checkpoint_every_n_minutes"),
    }
    text = report.format_text()
    assert "schema keys the code no longer reads (2)" in text
    assert "model[alpha]: alpha_fast (model/alpha.schema.json)" in text


def test_allow_list_is_honoured(dp, schemas):
    # deprecated (old_key), forbidden (adapter alpha) and ignore (output_dir) are fine as is
    assert not audit(dp, schemas).drift
    # without the deprecation marker the unread key is drift
    edit_schema(schemas / "main.schema.json",
                lambda d: d["properties"]["old_key"].pop("x-dpgui-deprecated"))
    assert found(audit(dp, schemas), "schema-key-not-read") == {("main", None, "old_key")}
    # an ignored property may be missing from the code and present in the code
    edit(dp / "train.py", "    epochs = config['epochs']", "    epochs = config['epochs'] or config['output_dir']")
    assert ("main", None, "output_dir") not in found(audit(dp, schemas), "key-not-in-schema")


def test_optimizer_constructor_and_passthrough(dp, schemas):
    # a stray key in a pass-through optimizer schema is fine (it reaches a library constructor)
    edit_schema(schemas / "optimizer" / "adamw.schema.json",
                lambda d: d["properties"].update(amsgrad={"type": "boolean"}))
    assert not audit(dp, schemas).drift
    # the in-tree constructor is closed (no **kwargs): its parameters are the key set
    edit(dp / "optimizers" / "fancy.py", "warp=False, mpu=None", "warp=False, spin=0.5, mpu=None")
    edit_schema(schemas / "optimizer" / "fancy.schema.json",
                lambda d: d["properties"].update(stale={"type": "number"}))
    report = audit(dp, schemas)
    assert found(report, "key-not-in-schema") == {("optimizer", "fancy", "spin")}
    assert found(report, "schema-key-not-read") == {("optimizer", "fancy", "stale")}


def test_new_optimizer_type_is_reported(dp, schemas):
    edit(dp / "train.py", "        elif optim_type_lower == 'fancy':",
         "        elif optim_type_lower == 'lion':\n            klass = None\n"
         "        elif optim_type_lower == 'fancy':")
    assert found(audit(dp, schemas), "type-without-schema") == {("optimizer", "lion", None)}


def test_unfollowable_code_is_drift_not_silence(dp, schemas):
    # a refactor the extractor does not understand must not look like "no drift"
    edit(dp / "train.py", "    if model_type == 'alpha':", "    if model_type.startswith('alpha'):")
    report = audit(dp, schemas)
    assert report.drift
    assert ("model", "alpha", None) in found(report, "schema-without-type")
    # a dispatched module that is not in the checkout
    edit(dp / "train.py", "        model = beta.BetaPipeline(config)\n    elif model_type in",
         "        model = beta.BetaPipelineV2(config)\n    elif model_type in")
    got = found(audit(dp, schemas), "not-understood")
    assert ("model", "beta", "dispatched class not found in the checkout") in got
    assert ("model", "gamma", "dispatched class not found in the checkout") not in got
    (dp / "models" / "alpha.py").write_text("class AlphaPipeline(:\n")
    report = audit(dp, schemas)
    assert any(f.key == "syntax error" for f in report.findings)
    (dp / "train.py").write_text("MODELS = {'alpha': 'models.alpha'}\n")
    report = audit(dp, schemas)
    assert ("model", None, "no model type dispatch chain in train.py") in found(report, "not-understood")
    assert known_model_types(dp) == {}


# ---------------------------------------------------------------- CLI


def test_not_a_checkout_exits_2(capsys, tmp_path, schemas):
    rc, out, err = run_cli(capsys, tmp_path, "--schemas", schemas)
    assert rc == 2
    assert "not a diffusion-pipe checkout" in err and "train.py" in err
    with pytest.raises(NotACheckout):
        audit(tmp_path, schemas)
    with pytest.raises(NotACheckout):
        known_model_types(tmp_path)


def test_checkout_from_environment(capsys, monkeypatch, dp, schemas, tmp_path):
    monkeypatch.setenv("DPGUI_DIFFUSION_PIPE", str(dp))
    assert audit_mod.locate_checkout() == dp
    assert audit_mod.locate_checkout(str(dp)) == dp
    rc, out, _ = run_cli(capsys, "--schemas", schemas)
    assert rc == 0 and str(dp) in out
    monkeypatch.setenv("DPGUI_DIFFUSION_PIPE", str(tmp_path / "missing"))
    monkeypatch.setattr(audit_mod.checkout, "__file__", str(tmp_path / "x" / "y" / "z" / "audit.py"))
    rc, _, err = run_cli(capsys, "--schemas", schemas)
    assert rc == 2 and "no diffusion-pipe checkout" in err


def test_bad_schema_dir_exits_2(capsys, dp, tmp_path):
    rc, _, err = run_cli(capsys, dp, "--schemas", tmp_path / "nope")
    assert rc == 2 and "main.schema.json" in err


def test_json_shape(capsys, dp, schemas):
    edit(dp / "models" / "alpha.py", "self.model_config['alpha_path']", "self.model_config['alpha_file']")
    rc, out, _ = run_cli(capsys, dp, "--schemas", schemas, "--json")
    assert rc == 1
    data = json.loads(out)
    assert data["drift"] is True
    assert set(data) >= {"drift", "checkout", "commit", "schemas", "summary", "findings",
                         "model_types", "adapter_types", "optimizer_types", "passthrough_tables"}
    assert set(data["summary"]) == set(audit_mod.KIND_ORDER)
    assert data["summary"]["key-not-in-schema"] == 1
    assert data["summary"]["schema-key-not-read"] == 1
    by_kind = {f["kind"]: f for f in data["findings"]}
    assert by_kind["key-not-in-schema"] == {
        "kind": "key-not-in-schema", "table": "model", "key": "alpha_file", "model_type": "alpha",
        "sources": ["models/alpha.py:10"], "schema": "model/alpha.schema.json"}
    assert by_kind["schema-key-not-read"]["key"] == "alpha_path"
    assert data["model_types"]["beta_xl"] == {"source": "train.py:34", "module": "models/beta.py",
                                              "class": "BetaPipeline"}
    clean = json.loads(json.dumps(audit(FIXTURES / "mini_dp", FIXTURES / "mini_schemas").to_json()))
    assert clean["drift"] is False and clean["findings"] == []


def test_commit_is_read_from_git_metadata(dp, schemas):
    sha = "8f83dbf25d03219df705570ec03e62be04bc402f"
    (dp / ".git" / "refs" / "heads").mkdir(parents=True)
    (dp / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    (dp / ".git" / "refs" / "heads" / "main").write_text(sha + "\n")
    assert audit(dp, schemas).commit == sha


def test_core_audit_is_stdlib_only():
    files = sorted((REPO / "dpgui_qt" / "core" / "audit").glob("*.py"))
    assert len(files) >= 5
    for path in files:
        src = path.read_text()
        assert "PySide6" not in src and "import toml" not in src, path


# ---------------------------------------------------------------- the real thing


def _real_checkout() -> pathlib.Path | None:
    for cand in (os.environ.get("DPGUI_DP_CHECKOUT"), REPO / "ref" / "diffusion-pipe"):
        if cand and (pathlib.Path(cand) / "train.py").is_file():
            return pathlib.Path(cand)
    return None


def test_real_checkout_matches_shipped_schemas():
    checkout = _real_checkout()
    # DPGUI_AUDIT_SCHEMAS: audit a schema folder other than the shipped one (e.g. a branch's)
    schemas_dir = pathlib.Path(os.environ.get("DPGUI_AUDIT_SCHEMAS") or REPO / "schemas")
    if checkout is None:
        pytest.skip("no diffusion-pipe checkout (set DPGUI_DP_CHECKOUT or see ref/README.md)")
    if not (schemas_dir / "main.schema.json").is_file():
        pytest.skip("schemas/ is not populated in this checkout")
    report = audit(checkout, schemas_dir)
    assert len(report.extraction.dispatch["model"]) >= 20
    assert not report.drift, report.format_text()
