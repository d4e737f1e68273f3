"""GUI test fixtures: offscreen Qt, settings in a temporary folder, dialogs recorded
instead of shown, and a collector for QAbstractItemModelTester failures."""
from __future__ import annotations

import os
import pathlib

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from tests.gui.run_fixtures import fake_run  # noqa: F401 - the fixture, for every GUI test

REPO = pathlib.Path(__file__).resolve().parents[2]
MAIN_EXAMPLE = (pathlib.Path(os.environ.get("DPGUI_SHARED", REPO.parent / "shared"))
                / "corpus" / "configs" / "tdrussell__diffusion-pipe__examples__main_example.toml")


class Recorder:
    """Stands in for dialogs: records every message, answers questions from a queue."""

    def __init__(self):
        self.messages = []
        self.answers: list[str] = []
        self.default_answer = "discard"

    def __call__(self, msg):
        self.messages.append(msg)
        if msg.kind == "question":
            if self.answers:
                return self.answers.pop(0)
            return self.default_answer if self.default_answer in msg.buttons else msg.buttons[0]
        return None

    def kinds(self):
        return [m.kind for m in self.messages]


@pytest.fixture(autouse=True, scope="session")
def _gc_on_gui_thread(qapp):
    """As in the app: the cyclic collector runs only on the GUI thread (dpgui_qt.gui.gcguard).
    Without it, a collection triggered in a worker thread tore down Qt objects there."""
    from dpgui_qt.gui import gcguard

    guard = gcguard.install(qapp)
    yield guard


@pytest.fixture(autouse=True)
def gui_env(tmp_path, monkeypatch):
    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path / "settings"))
    from dpgui_qt.gui import messages

    rec = Recorder()
    messages.set_handler(rec)
    yield rec
    messages.set_handler(None)


@pytest.fixture
def dialogs(gui_env):
    return gui_env


@pytest.fixture
def main_example(tmp_path):
    if not MAIN_EXAMPLE.exists():
        pytest.skip("corpus config not available")
    dst = tmp_path / "main_example.toml"
    dst.write_bytes(MAIN_EXAMPLE.read_bytes())
    return dst


@pytest.fixture
def window(qtbot):
    from dpgui_qt.gui.mainwindow import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    yield w
    w.session.doc.saved_text = w.session.doc.text  # no "save changes?" on teardown


@pytest.fixture
def model_failures(qapp):
    """Collects 'FAIL!' warnings from Qt's QAbstractItemModelTester."""
    from PySide6.QtCore import qInstallMessageHandler

    found: list[str] = []

    def handler(mode, context, message):
        if "FAIL" in message or "modeltest" in (context.category or ""):
            found.append(message)

    old = qInstallMessageHandler(handler)
    yield found
    qInstallMessageHandler(old)


def make_session(text: str, path=None):
    from dpgui_qt.core.config.document import ConfigDocument
    from dpgui_qt.gui.session import DocumentSession

    s = DocumentSession()
    s.replace_document(ConfigDocument.from_text(text, path))
    return s
