"""dpgui_qt.core.secrets: which names are secret, masking TOML text, the 0600 store."""
from __future__ import annotations

import os
import stat

import pytest

from dpgui_qt.core.secrets import MASK, SecretStore, is_secret_name, mask_toml_text


@pytest.mark.parametrize("name,secret", [
    ("WANDB_API_KEY", True), ("wandb_api_key", True), ("HF_TOKEN", True),
    ("DB_PASSWORD", True), ("NCCL_AUTH", True), ("AWS_SECRET_ACCESS_KEY", True),
    ("PYTHONPATH", False), ("author", False), ("NCCL_P2P_DISABLE", False),
])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_mask_toml_text_hides_values_keeps_lines_and_other_keys():
    text = ('[monitoring]\nwandb_api_key = "abc\\"defghijklmnopqrstu"  # mine\n'
            "m = { wandb_api_key = 'zzzzzzzzzzzzzzzzzzzz1234', enable_wandb = true }\n"
            "wandb_run_name = 'visible'\nshort_token = 'x'\n")
    out = mask_toml_text(text)
    assert out.count("\n") == text.count("\n")
    assert "defghijklmnop" not in out and "zzzzzzzz" not in out
    assert f'wandb_api_key = "{MASK}rstu"  # mine' in out  # a change stays visible in a diff
    assert f"wandb_api_key = '{MASK}1234'" in out and "enable_wandb = true" in out
    assert "wandb_run_name = 'visible'" in out and f"short_token = '{MASK}'" in out


def test_secret_store_is_private(tmp_path):
    store = SecretStore(tmp_path / "s.json")
    store.put("run/extra_env", {"HF_TOKEN": "t"})
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
    os.chmod(store.path, 0o644)  # loosened by someone: tightened again on read
    assert store.get("run/extra_env") == {"HF_TOKEN": "t"}
    assert stat.S_IMODE(os.stat(store.path).st_mode) == 0o600
