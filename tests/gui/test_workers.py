"""ResultPump: results of worker threads arrive on the GUI thread, never from the worker."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from dpgui_qt.gui import workers
from dpgui_qt.gui.workers import ResultPump, WorkerThread


def test_results_and_errors_arrive_on_the_gui_thread(qtbot):
    pump = ResultPump()
    gui = threading.get_ident()
    got = []

    def boom():
        raise ValueError("bad")

    for i in range(20):
        pump.submit(lambda i=i: (i, threading.get_ident()),
                    lambda res: got.append((res, threading.get_ident())))
    pump.submit(boom, lambda res: got.append((res, threading.get_ident())))
    qtbot.waitUntil(lambda: len(got) == 21, timeout=10_000)
    assert all(tid == gui for _res, tid in got)  # callbacks ran on the GUI thread
    values = sorted(r[0] for r, _ in got if isinstance(r, tuple))
    assert values == list(range(20))
    assert all(r[1] != gui for r, _ in got if isinstance(r, tuple))  # work ran elsewhere
    assert any(isinstance(r, ValueError) for r, _ in got)
    qtbot.waitUntil(lambda: pump.pending == 0 and not pump._timer.isActive(), timeout=30_000)


# ---------------------------------------------------------------- WorkerThread


class _HeldJob(QObject):
    """One blocking job: waits until released, then reports and ends its thread."""

    done = Signal(object)

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.cancelled = threading.Event()

    def cancel(self) -> None:
        self.cancelled.set()

    @Slot()
    def run(self) -> None:
        self.entered.set()
        self.release.wait(60)
        self.done.emit(threading.get_ident())
        self.thread().quit()


class _Ticker(QObject):
    """An event-loop worker: a timer in its own thread, stopped there."""

    tick = Signal(int)

    def __init__(self):
        super().__init__()
        self.timer = None
        self.n = 0
        self.stopped_in = None

    @Slot()
    def start(self) -> None:
        self.timer = QTimer(self)
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    @Slot()
    def _tick(self) -> None:
        self.n += 1
        self.tick.emit(self.n)

    @Slot()
    def stop(self) -> None:
        self.stopped_in = threading.get_ident()
        if self.timer is not None:
            self.timer.stop()


class _Page(QWidget):
    """Stands in for a page: its slots record what reached it."""

    def __init__(self, sink: list, parent=None):
        super().__init__(parent)
        self.sink = sink
        self.work = WorkerThread(self, "test-work")

    @Slot(object)
    def got(self, value) -> None:
        self.sink.append(value)


def test_result_arrives_on_the_gui_thread_and_thread_is_collected(qtbot):
    got: list = []
    page = _Page(got)
    job = _HeldJob()
    page.work.start(job, job.run, links=[(job.done, page.got)], cancel=job.cancel)
    qtbot.waitUntil(job.entered.is_set, timeout=10_000)
    assert page.work.running
    job.release.set()
    qtbot.waitUntil(lambda: bool(got), timeout=10_000)
    assert got[0] != threading.get_ident()          # the job ran on its own thread ...
    qtbot.waitUntil(lambda: not page.work.running, timeout=10_000)
    qtbot.waitUntil(lambda: workers.live_count() == 0, timeout=10_000)
    page.deleteLater()


def test_window_closed_while_work_runs_no_abort_no_late_callback(qtbot):
    """The window (and the page in it) is deleted while the job is inside its work: the
    job is asked to cancel, its thread ends on its own, nothing aborts, and its late
    result never reaches the deleted page."""
    got: list = []
    window = QWidget()
    window.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    page = _Page(got, window)
    job = _HeldJob()
    page.work.start(job, job.run, links=[(job.done, page.got)], cancel=job.cancel)
    qtbot.waitUntil(job.entered.is_set, timeout=10_000)
    thread = page.work.thread
    window.show()
    window.close()                                   # deletes window and page (later)
    qtbot.waitUntil(lambda: not shiboken6.isValid(page), timeout=10_000)
    assert job.cancelled.is_set()                    # told to stop when its owner went
    job.release.set()                                # the job now reports, too late
    qtbot.waitUntil(lambda: workers.live_count() == 0, timeout=10_000)
    assert not shiboken6.isValid(thread) or thread.isFinished()
    for _ in range(5):
        qtbot.wait(10)                               # any queued delivery would run here
    assert got == []


def test_event_loop_worker_stops_in_its_thread_and_owner_deletion_ends_it(qtbot):
    got: list = []
    page = _Page(got)
    t = _Ticker()
    page.work.start(t, t.start, on_stop=t.stop, links=[(t.tick, page.got)])
    qtbot.waitUntil(lambda: len(got) >= 3, timeout=10_000)
    assert page.work.stop() and not page.work.running
    assert t.stopped_in is not None and t.stopped_in != threading.get_ident()
    page.work.stop()                                 # twice is harmless
    # started again, then the owner is deleted without stop(): the thread still ends
    t2 = _Ticker()
    page.work.start(t2, t2.start, on_stop=t2.stop, links=[(t2.tick, page.got)])
    qtbot.waitUntil(lambda: workers.live_count() == 1, timeout=10_000)
    page.deleteLater()
    qtbot.waitUntil(lambda: not shiboken6.isValid(page), timeout=10_000)
    qtbot.waitUntil(lambda: workers.live_count() == 0, timeout=10_000)


def test_script_that_never_runs_the_event_loop_exits_cleanly(tmp_path):
    """As ``dpgui --screenshot`` does: widgets with running worker threads are dropped at
    interpreter exit without app.exec() (was: "QThread: Destroyed while thread
    'gpu-sampler' is still running", and an abort)."""
    script = tmp_path / "exit.py"
    script.write_text(textwrap.dedent("""
        import threading
        from PySide6.QtCore import QObject, QTimer, Slot
        from PySide6.QtWidgets import QApplication, QWidget
        from dpgui_qt.gui.workers import WorkerThread

        class Ticker(QObject):
            @Slot()
            def start(self):
                self.timer = QTimer(self)
                self.timer.start(5)

            @Slot()
            def stop(self):
                self.timer.stop()

        app = QApplication([])
        page = QWidget()
        page.work = WorkerThread(page, "exit-test")
        t = Ticker()
        page.work.start(t, t.start, on_stop=t.stop)
        print("started", flush=True)
    """))
    # the script runs from its tmp folder: import this checkout's dpgui_qt, not an installed one
    repo = str(Path(__file__).resolve().parents[2])
    env = {**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": repo}
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    assert "started" in r.stdout and "Destroyed while thread" not in r.stderr
