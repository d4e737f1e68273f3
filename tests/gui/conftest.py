"""GUI test fixtures: offscreen Qt, settings in a temporary folder, dialogs recorded
instead of shown, and a collector for QAbstractItemModelTester failures."""
from __future__ import annotations

import os
import pathlib
import sys

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


OWNER_NAME = "dpgui-test-owner"


def _test_owner():
    """The parent of objects a helper makes for one test (make_session); found through
    the application, as this file is imported under two names (gui.conftest for pytest,
    tests.gui.conftest for modules that import its helpers)."""
    from PySide6.QtCore import QCoreApplication, QObject

    app = QCoreApplication.instance()
    owner = app.findChild(QObject, OWNER_NAME)
    if owner is None:
        owner = QObject(app)
        owner.setObjectName(OWNER_NAME)
    return owner


def _window_keys() -> set[int]:
    from PySide6.QtWidgets import QApplication
    from shiboken6 import getCppPointer

    return {getCppPointer(w)[0] for w in QApplication.topLevelWidgets()}


def _delete_pending() -> None:
    """Carry out every deleteLater() now, and collect cycles. pytest-qt closes a test's
    widgets and calls deleteLater(), but processEvents() outside an event loop does not
    delete: the windows (with their timers) lived on into later tests until one of them
    happened to spin a nested loop, and wrote settings into that test's folder."""
    import gc

    from PySide6.QtCore import QCoreApplication, QEvent

    for _ in range(3):  # a deletion can release further objects
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
        gc.collect()


def _release(before: set[int], threads: set) -> list[str]:
    """Delete what the test made; name what it left alive or running (it is closed and
    deleted all the same, so that its work cannot reach a later test)."""
    import threading

    from PySide6.QtWidgets import QApplication, QMenu
    from shiboken6 import getCppPointer

    for obj in _test_owner().children():
        obj.deleteLater()
    _delete_pending()
    left = [w for w in QApplication.topLevelWidgets()
            if getCppPointer(w)[0] not in before and w.parent() is None
            and not isinstance(w, QMenu)]  # pyqtgraph keeps spare context menus
    problems = [f"window {type(w).__name__}{' (visible)' if w.isVisible() else ''} "
                "is still alive" for w in left]
    for w in left:
        w.close()
        w.deleteLater()
    _delete_pending()
    workers = sys.modules.get("dpgui_qt.gui.workers")
    if workers is not None:  # those of deleted owners were asked to stop: let them end
        workers.shutdown_all(60_000)
        if workers.live_count():
            problems.append(f"{workers.live_count()} worker thread(s) still running")
    for t in threading.enumerate():
        if t in threads or isinstance(t, threading._DummyThread):  # Dummy: a Qt thread
            continue
        t.join(60)  # generous: only a thread that never ends fails the test
        if t.is_alive():
            problems.append(f"thread {t.name!r} is still running")
    return problems


@pytest.fixture(autouse=True, scope="session")
def _gc_on_gui_thread(qapp):
    """As in the app: the cyclic collector runs only on the GUI thread (dpgui_qt.gui.gcguard).
    Without it, a collection triggered in a worker thread tore down Qt objects there."""
    from dpgui_qt.gui import gcguard

    guard = gcguard.install(qapp)
    yield guard


@pytest.fixture(autouse=True)
def gui_env(tmp_path, monkeypatch, qapp):
    """Settings in the test's own folder and dialogs recorded. At teardown everything the
    test made is deleted with its timers, so nothing of it runs in a later test (with that
    test's settings folder); a window still alive or a thread still running fails it."""
    import threading

    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path / "settings"))
    from dpgui_qt.gui import messages

    before, threads = _window_keys(), set(threading.enumerate())
    rec = Recorder()
    messages.set_handler(rec)
    yield rec
    try:
        problems = _release(before, threads)
    finally:
        messages.set_handler(None)
    if problems:
        pytest.fail("left behind after the test: " + "; ".join(problems))


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

    s = DocumentSession(parent=_test_owner())  # deleted when the test ends
    s.replace_document(ConfigDocument.from_text(text, path))
    return s
