"""Generated from the schemas: every model type's minimal config validates, and removing
any one of its required keys is an error that names the key."""
from __future__ import annotations

import copy

import pytest
import tomlkit

from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator

REG = default_registry()
VALIDATOR = Validator(REG)
OPTS = Options(check_paths=False, follow_datasets=False)


def minimal(model_type: str) -> dict:
    schema = REG.model(model_type)
    template = schema.get("x-dpgui-template", {})
    needed = list(schema.get("required", [])) + _alternative(model_type)
    model = {"type": model_type}
    for key in needed:
        if key == "type":
            continue
        assert key in template, f"{model_type}: template lacks required {key}"
        model[key] = template[key]
    config = {
        "output_dir": "/runs", "dataset": "dataset.toml", "epochs": 1,
        "save_every_n_epochs": 1,
        "model": model,
        "optimizer": {"type": "adamw_optimi", "lr": 2e-5},
    }
    caps = schema["x-dpgui-capabilities"]
    if not caps["full_finetune"]:
        config["adapter"] = {"type": "lora", "rank": 16}
    return config


def required_keys(model_type: str) -> list[str]:
    schema = REG.model(model_type)
    return [k for k in schema.get("required", []) if k != "type"] + _alternative(model_type)


def _alternative(model_type: str) -> list[str]:
    """The either-or alternative the type's template fills in (else the first)."""
    schema = REG.model(model_type)
    template = schema.get("x-dpgui-template", {})
    groups = schema.get("x-dpgui-require-one-of", [])
    for alt in groups:
        if all(k in template for k in alt):
            return list(alt)
    return list(groups[0]) if groups else []


def errors(config: dict):
    doc = ConfigDocument(tomlkit.dumps(config))
    return [f for f in VALIDATOR.validate(doc, "main", OPTS) if f.is_error]


@pytest.mark.parametrize("model_type", REG.model_types())
def test_minimal_config_is_valid(model_type):
    assert errors(minimal(model_type)) == []


CASES = [(t, k) for t in REG.model_types() for k in required_keys(t)]


@pytest.mark.parametrize("model_type, key", CASES, ids=[f"{t}-{k}" for t, k in CASES])
def test_removing_a_required_key_names_it(model_type, key):
    config = copy.deepcopy(minimal(model_type))
    del config["model"][key]
    found = errors(config)
    assert found, f"removing model.{key} from {model_type} went unnoticed"
    # either-or groups are reported once, on one key, with every alternative named
    assert any(f.key == f"model.{key}" or (f.key.startswith("model.") and key in f.message)
               for f in found), [f.format() for f in found]


def test_all_24_types_have_schemas():
    assert len(REG.model_types()) == 24


@pytest.mark.parametrize("model_type", REG.model_types())
def test_template_plus_template_main_validates(model_type):
    schema = REG.model(model_type)
    config = minimal(model_type)
    config["model"].update(schema.get("x-dpgui-template", {}))
    config.update(schema.get("x-dpgui-template-main", {}))
    assert errors(config) == []
