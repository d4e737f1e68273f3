"""Shared fixtures. Tests run headless; nothing needs a GPU or diffusion-pipe.

Nothing here needs Qt: the tests outside tests/gui/ run without PySide6 installed
(`.ci/run` checks that). Qt's fixtures live in tests/gui/conftest.py."""
from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# A real OpenSSH server on loopback for the SSH host tests (issue #15): sshd, sshd_factory,
# ssh_client.
pytest_plugins = ["tests.sshfix"]

REPO = pathlib.Path(__file__).resolve().parent.parent
SHARED = pathlib.Path(os.environ.get("DPGUI_SHARED", REPO.parent / "shared"))
CORPUS_CONFIGS = SHARED / "corpus" / "configs"
CORPUS_LOGS = SHARED / "corpus" / "logs"
CATALOG = SHARED / "reference" / "dp_catalog.json"

try:  # no example's verdict may depend on how fast this machine is right now
    from hypothesis import settings as _hyp_settings

    _hyp_settings.register_profile("dpgui", deadline=None)
    _hyp_settings.load_profile("dpgui")
except ImportError:  # pragma: no cover - hypothesis is in the test extras
    pass


@pytest.fixture(autouse=True)
def _own_settings_and_run_state(tmp_path_factory, monkeypatch):
    """Every test gets its own dpgui settings and run-state folders (outside its tmp_path),
    inherited by the dpgui processes it starts: none reads or writes the user's, and none
    sees another test's or another test process's (a GUI window re-attaches to any active
    run in the state folder). Tests that need a particular folder set their own."""
    home = tmp_path_factory.mktemp("dpgui-user")
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(home / "settings"))
    monkeypatch.setenv("DPGUI_STATE_DIR", str(home / "state"))


def _need(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        pytest.skip(f"{path} is not available (../shared is absent)")
    return path


@pytest.fixture
def corpus_configs() -> pathlib.Path:
    return _need(CORPUS_CONFIGS)


@pytest.fixture
def corpus_logs() -> pathlib.Path:
    return _need(CORPUS_LOGS)


@pytest.fixture
def catalog_path() -> pathlib.Path:
    return _need(CATALOG)


def corpus_files(pattern: str = "*.toml") -> list[pathlib.Path]:
    """Corpus files for parametrisation; empty when ../shared is absent."""
    if not CORPUS_CONFIGS.exists():
        return []
    return sorted(CORPUS_CONFIGS.glob(pattern))


@pytest.fixture(scope="session")
def video_dataset(tmp_path_factory):
    """A folder of tiny real videos (tests/video_fixtures.py), written once per session.
    Treat it as read-only; copy it where a test changes files."""
    pytest.importorskip("av")
    from tests.video_fixtures import make_dataset

    return make_dataset(tmp_path_factory.mktemp("videos") / "clips")
