"""Static checks of the JSON Schema files under schemas/ (no Qt, no diffusion-pipe)."""
from __future__ import annotations

import functools
import json
import pathlib

import jsonschema
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
SHARED = REPO.parent / "shared"
CATALOG = SHARED / "reference" / "dp_catalog.json"

DTYPES = {"float32", "float16", "bfloat16", "float8", "float8_e4m3fn", "float8_e5m2"}
EXPLICIT_OPTIMIZERS = ["adamw", "adamw8bit", "adamw_optimi", "stableadamw", "sgd",
                       "adamw8bitkahan", "offload", "automagic", "genericoptim"]
GROUPS = {"training", "evaluation", "saving", "memory", "model", "adapter", "optimizer",
          "monitoring", "dataset", "buckets", "captions", "other"}

ALL_FILES = sorted(SCHEMAS.rglob("*.schema.json"))
MODEL_FILES = sorted((SCHEMAS / "model").glob("*.schema.json"))


def _load(path: pathlib.Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


SCHEMA_CACHE = {p: _load(p) for p in ALL_FILES}


def _rel(path: pathlib.Path) -> str:
    return path.relative_to(SCHEMAS).as_posix()


@functools.lru_cache(maxsize=1)
def _read_catalog() -> dict:
    return json.loads(CATALOG.read_text(encoding="utf-8"))


def _catalog() -> dict:
    if not CATALOG.exists():
        pytest.skip(f"{CATALOG} is not available (../shared is absent)")
    return _read_catalog()


def _walk_props(schema: dict, where: str = ""):
    """Yield (location, property-schema) for every property reachable through
    properties, $defs, items, prefixItems and anyOf/oneOf/allOf branches."""
    if not isinstance(schema, dict):
        return
    for name, sub in schema.get("properties", {}).items():
        yield f"{where}/{name}", sub
        yield from _walk_props(sub, f"{where}/{name}")
    for name, sub in schema.get("$defs", {}).items():
        yield from _walk_props(sub, f"{where}/$defs/{name}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from _walk_props(items, f"{where}[]")
    for i, sub in enumerate(schema.get("prefixItems", [])):
        yield from _walk_props(sub, f"{where}[{i}]")
    for kw in ("anyOf", "oneOf", "allOf"):
        for i, sub in enumerate(schema.get(kw, [])):
            yield from _walk_props(sub, f"{where}/{kw}{i}")


def test_schema_files_exist():
    assert (SCHEMAS / "main.schema.json").exists()
    assert (SCHEMAS / "dataset.schema.json").exists()
    assert (SCHEMAS / "monitoring.schema.json").exists()
    for name in ("lora", "lokr"):
        assert (SCHEMAS / "adapter" / f"{name}.schema.json").exists()
    for name in EXPLICIT_OPTIMIZERS + ["pytorch_optimizer"]:
        assert (SCHEMAS / "optimizer" / f"{name}.schema.json").exists(), name


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_is_valid_draft_2020_12(path):
    schema = SCHEMA_CACHE[path]
    assert schema.get("$schema") == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema.get("title") and schema.get("description")


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_id_matches_path(path):
    assert SCHEMA_CACHE[path]["$id"] == "dpgui:" + _rel(path)


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_pretty_printed(path):
    text = path.read_text(encoding="utf-8")
    assert text == json.dumps(json.loads(text), indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_defaults_validate_against_their_property(path):
    schema = SCHEMA_CACHE[path]
    # $defs stay resolvable for properties that $ref into them
    for where, prop in _walk_props(schema):
        if "default" not in prop:
            continue
        sub = dict(prop)
        if "$defs" in schema:
            sub.setdefault("$defs", schema["$defs"])
        errors = list(jsonschema.Draft202012Validator(sub).iter_errors(prop["default"]))
        assert not errors, f"{where}: default {prop['default']!r}: {errors[0].message}"


@pytest.mark.parametrize("path", ALL_FILES, ids=_rel)
def test_dpgui_keywords_well_formed(path):
    schema = SCHEMA_CACHE[path]
    top = schema.get("properties", {})
    for where, prop in _walk_props(schema):
        if "x-dpgui-group" in prop:
            assert prop["x-dpgui-group"] in GROUPS, where
        if "x-dpgui-order" in prop:
            assert isinstance(prop["x-dpgui-order"], int), where
        for kw in ("x-dpgui-deprecated", "x-dpgui-forbidden", "x-dpgui-dp-default", "x-dpgui-source"):
            if kw in prop:
                assert isinstance(prop[kw], str) and prop[kw], (where, kw)
        for kw in ("x-dpgui-advanced", "x-dpgui-secret", "x-dpgui-inherits"):
            if kw in prop:
                assert prop[kw] is True, (where, kw)
    # every top-level property is placed in the editor and explained
    for name, prop in top.items():
        assert prop.get("description"), f"{name}: no description"
        assert "x-dpgui-group" in prop and "x-dpgui-order" in prop, name
    if "x-dpgui-unknown-keys" in schema:
        assert schema["x-dpgui-unknown-keys"] in ("warning", "error")
    for alt in schema.get("x-dpgui-require-one-of", []):
        assert alt and all(k in top for k in alt), alt


# ---------------------------------------------------------------- main / dataset
def test_main_schema_shape():
    main = SCHEMA_CACHE[SCHEMAS / "main.schema.json"]
    props = main["properties"]
    assert set(main["required"]) == {"output_dir", "dataset", "epochs", "model", "optimizer"}
    for table in ("model", "adapter", "optimizer", "monitoring"):
        assert props[table]["x-dpgui-compose"] == table
        assert props[table]["type"] == "object"
    for key in ("regenerate_cache", "lora", "pseudo_huber_c", "image_eval_micro_batch_size_per_gpu"):
        assert props[key]["x-dpgui-deprecated"]
    v = jsonschema.Draft202012Validator(main)
    ok = {"output_dir": "/o", "dataset": "d.toml", "epochs": 10, "model": {}, "optimizer": {},
          "micro_batch_size_per_gpu": [[512, 4], [1024, 1]], "activation_checkpointing": "unsloth",
          "partition_method": "type:Block", "resume_from_checkpoint": "20250101_00-00-00",
          "eval_datasets": [{"name": "a", "config": "e.toml"}]}
    assert not list(v.iter_errors(ok))
    for bad in ({"activation_checkpointing": "yes"}, {"micro_batch_size_per_gpu": 0},
                {"micro_batch_size_per_gpu": [[512, 4, 1]]}, {"partition_method": "profile"},
                {"eval_datasets": ["e.toml"]}, {"gradient_accumulation_steps": 0},
                {"lr_scheduler": "step"}):
        assert list(v.iter_errors({**ok, **bad})), bad


def test_catalog_main_and_dataset_keys_covered():
    cat = _catalog()
    main = SCHEMA_CACHE[SCHEMAS / "main.schema.json"]["properties"]
    dataset = SCHEMA_CACHE[SCHEMAS / "dataset.schema.json"]
    keys = {}
    for k in cat["keys"]:
        keys.setdefault(k["table"], set()).add(k["key"])
    assert keys["main"] <= set(main)
    assert keys["dataset"] == set(dataset["properties"])
    directory = dataset["$defs"]["directory"]
    assert keys["directory"] == set(directory["properties"])
    assert directory["required"] == ["path"]
    for key in keys["directory"] & keys["dataset"]:
        assert directory["properties"][key].get("x-dpgui-inherits") is True, key
    mon = SCHEMA_CACHE[SCHEMAS / "monitoring.schema.json"]["properties"]
    assert keys["monitoring"] == set(mon)


def test_dataset_schema_examples():
    dataset = SCHEMA_CACHE[SCHEMAS / "dataset.schema.json"]
    v = jsonschema.Draft202012Validator(dataset)
    ok = {"resolutions": [512, 768], "enable_ar_bucket": True, "ar_buckets": [[512, 512], [448, 576]],
          "frame_buckets": [1, 33], "directory": [{"path": "/d", "num_repeats": 0.5, "resolutions": [[1280, 720]],
                                                   "size_buckets": [[960, 960, 1]]}]}
    assert not list(v.iter_errors(ok))
    for bad in ({"directory": []}, {"directory": [{"num_repeats": 1}]}, {"num_repeats": 0},
                {"resolutions": [[512, 512, 1]]}, {"size_buckets": [[512, 512]]}):
        assert list(v.iter_errors({**ok, **bad})), bad


# ---------------------------------------------------------------- adapters / optimizers
def test_adapter_schemas():
    for name in ("lora", "lokr"):
        s = SCHEMA_CACHE[SCHEMAS / "adapter" / f"{name}.schema.json"]
        assert s["properties"]["type"]["const"] == name
        assert s["required"] == ["type", "rank"]
        assert s["properties"]["alpha"]["x-dpgui-forbidden"]
        assert set(s["properties"]["dtype"]["enum"]) == DTYPES
    lora = SCHEMA_CACHE[SCHEMAS / "adapter" / "lora.schema.json"]
    v = jsonschema.Draft202012Validator(lora)
    assert not list(v.iter_errors({"type": "lora", "rank": 32, "exclude_modules": ["a", "b"]}))
    assert list(v.iter_errors({"type": "lora", "rank": 32.5}))


@pytest.mark.parametrize("name", EXPLICIT_OPTIMIZERS)
def test_explicit_optimizer_schema(name):
    s = SCHEMA_CACHE[SCHEMAS / "optimizer" / f"{name}.schema.json"]
    assert s["x-dpgui-unknown-keys"] == "error"
    props = s["properties"]
    v = jsonschema.Draft202012Validator(props["type"])
    for spelled in (name, name.upper(), name.capitalize()):
        assert v.is_valid(spelled), spelled
    assert not v.is_valid(name + "x")
    assert "gradient_release" in props and "beta2_half_life" in props
    if name in ("adamw_optimi", "stableadamw"):
        assert "lr" in s["required"]


def test_optimizer_kwargs_match_catalog():
    cat = _catalog()["optimizers"]
    train_py = {"type", "gradient_release", "beta2_half_life"}
    for name in EXPLICIT_OPTIMIZERS:
        props = SCHEMA_CACHE[SCHEMAS / "optimizer" / f"{name}.schema.json"]["properties"]
        accepted = {k for k, p in props.items()
                    if "x-dpgui-forbidden" not in p and "x-dpgui-deprecated" not in p} - train_py
        listed = set()
        for item in cat[name]["kwargs"]:
            if item.startswith("+ all adamw8bit kwargs"):
                listed |= {k.split(" ")[0] for k in cat["adamw8bit"]["kwargs"]}
            elif item.startswith("+ torch.optim.AdamW kwargs"):
                listed |= {k.split(" ")[0] for k in cat["adamw"]["kwargs"]} - {"fused"}
            elif item.startswith("rank / proj_type"):
                listed |= {"rank", "proj_type", "update_proj_gap"}
            else:
                listed.add(item.split(" ")[0])
        if name in ("adamw8bit", "adamw8bitkahan"):
            listed.discard("args")  # present, but marked deprecated (not expressible in TOML)
        assert accepted == listed, (name, accepted ^ listed)


def test_pytorch_optimizer_fallback():
    s = SCHEMA_CACHE[SCHEMAS / "optimizer" / "pytorch_optimizer.schema.json"]
    assert s["x-dpgui-unknown-keys"] == "warning"
    v = jsonschema.Draft202012Validator(s)
    assert not list(v.iter_errors({"type": "Prodigy", "lr": 1, "betas": [0.9, 0.99], "d_coef": 2}))


# ---------------------------------------------------------------- models
CAP_FIELDS = {
    "family": str, "lora": bool, "lokr": bool, "lokr_note": (str, type(None)),
    "full_finetune": bool, "full_finetune_note": (str, type(None)),
    "block_swap": bool, "block_swap_max": (int, type(None)), "block_swap_note": (str, type(None)),
    "video": bool, "audio": bool, "edit_dataset": bool, "framerate": (int, type(None)),
    "framerate_source": str, "framerate_note": (str, type(None)),
    "text_encoder_types": list, "dp_source": str,
}


def test_every_catalog_model_type_has_a_file():
    cat = _catalog()
    names = {p.name[: -len(".schema.json")] for p in MODEL_FILES}
    assert names == set(cat["model_types"])


@pytest.mark.parametrize("path", MODEL_FILES, ids=_rel)
def test_model_schema_structure(path):
    s = SCHEMA_CACHE[path]
    t = path.name[: -len(".schema.json")]
    props = s["properties"]
    assert props["type"]["const"] == t
    assert set(props["dtype"]["enum"]) == DTYPES
    assert {"type", "dtype"} <= set(s["required"])
    one_of = s.get("x-dpgui-require-one-of", [])
    for key in s["required"]:
        assert key in props, key
    for alt in one_of:
        for key in alt:
            assert key in props and key not in s["required"], key
    caps = s["x-dpgui-capabilities"]
    assert set(caps) == set(CAP_FIELDS)
    for field, typ in CAP_FIELDS.items():
        assert isinstance(caps[field], typ), (field, caps[field])
    assert caps["family"] in ("diffusers", "comfy", "ltx2")
    assert caps["lora"] is True
    if caps["block_swap_max"] is None and caps["block_swap"]:
        assert caps["block_swap_note"]
    if caps["family"] == "comfy":
        te = props["text_encoders"]["items"]["properties"]["type"]
        assert te["enum"] == caps["text_encoder_types"] and caps["text_encoder_types"]
        assert "diffusion_model_dtype" in props and "transformer_dtype" not in props
    else:
        assert caps["text_encoder_types"] == []
    if caps["family"] == "ltx2":
        assert "diffusion_model_dtype" in props and "transformer_dtype" not in props


@pytest.mark.parametrize("path", MODEL_FILES, ids=_rel)
def test_model_template_validates(path):
    s = SCHEMA_CACHE[path]
    t = path.name[: -len(".schema.json")]
    template = dict(s["x-dpgui-template"], type=t)
    assert template["dtype"] == "bfloat16"
    errors = list(jsonschema.Draft202012Validator(s).iter_errors(template))
    assert not errors, errors[0].message
    alts = s.get("x-dpgui-require-one-of")
    if alts:
        assert any(all(k in template for k in alt) for alt in alts)
    for key in template:
        assert key in s["properties"], key
    main = SCHEMA_CACHE[SCHEMAS / "main.schema.json"]["properties"]
    for key, value in s.get("x-dpgui-template-main", {}).items():
        assert key in main, key
        assert jsonschema.Draft202012Validator(main[key]).is_valid(value), key


@pytest.mark.parametrize("path", MODEL_FILES, ids=_rel)
def test_model_keys_match_catalog(path):
    cat = _catalog()
    t = path.name[: -len(".schema.json")]
    s = SCHEMA_CACHE[path]
    entry = cat["model_types"][t]
    assert set(s["properties"]) == set(entry["keys"])
    if entry["text_encoders_item_keys"]:
        items = s["properties"]["text_encoders"]["items"]
        assert set(items["properties"]) == set(entry["text_encoders_item_keys"])
