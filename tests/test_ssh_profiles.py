"""SSH host profiles (issue #15): hosts.json round trip, clear errors, no sshd needed."""
from __future__ import annotations

import json

import pytest

from dpgui_qt.core.run.hosts import profiles as pr
from dpgui_qt.core.run.hosts.sshtransport import config_aliases


def test_round_trip_replace_and_remove(tmp_path, monkeypatch):
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path))
    assert pr.load_profiles() == []
    a = pr.HostProfile("rent-1", "me@gpu.example:2222", "/workspace/diffusion-pipe", env="/venv")
    pr.upsert_profile(a)
    pr.upsert_profile(pr.HostProfile("lab", "labbox", "~/diffusion-pipe"))
    assert [p.name for p in pr.load_profiles()] == ["rent-1", "lab"]
    pr.upsert_profile(pr.HostProfile("rent-1", "me@gpu.example", "/w/dp"))
    assert pr.get_profile("rent-1").destination == "me@gpu.example"
    data = json.loads((tmp_path / "hosts.json").read_text())
    assert data["version"] == 1 and len(data["hosts"]) == 2
    assert "password" not in (tmp_path / "hosts.json").read_text().lower()
    assert pr.remove_profile("lab") and not pr.remove_profile("lab")
    assert [p.name for p in pr.load_profiles()] == ["rent-1"]


@pytest.mark.parametrize("bad, match", [
    (dict(name="x y"), "invalid profile name"),
    (dict(destination="-oProxyCommand=evil"), "cannot start with"),
    (dict(checkout="relative/dp"), "absolute path"),
    (dict(env="venv"), "absolute path"),
])
def test_invalid_profiles_are_refused_with_a_sentence(bad, match, tmp_path):
    fields = dict(name="ok", destination="me@h", checkout="/dp")
    fields.update(bad)
    with pytest.raises(pr.ProfileError, match=match):
        pr.upsert_profile(pr.HostProfile(**fields), tmp_path / "hosts.json")
    assert not (tmp_path / "hosts.json").exists()


def test_broken_file_is_a_message_and_is_kept(tmp_path):
    p = tmp_path / "hosts.json"
    p.write_text("{not json")
    with pytest.raises(pr.ProfileError, match="not valid JSON"):
        pr.load_profiles(p)
    with pytest.raises(pr.ProfileError):
        pr.upsert_profile(pr.HostProfile("a", "h", "/dp"), p)
    assert p.read_text() == "{not json"          # never overwritten


def test_config_aliases_skip_patterns(tmp_path):
    cfg = tmp_path / "config"
    cfg.write_text("Host *\n  ServerAliveInterval 5\nHost gpu1 gpu2 !bad\n  HostName x\n"
                   "host lab-*  box\n")
    assert config_aliases(cfg) == ["gpu1", "gpu2", "box"]
