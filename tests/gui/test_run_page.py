"""The Run page with the fake deepspeed: start, follow, phases, Stop/Kill/Save now,
re-attach from a second window, the outcome banner and the close prompt."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.gui.run_fixtures import collapse_cr, live_group_psutil, open_run_page

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")

# a ceiling for conditions that do come (start, first step, the end after Stop/Kill):
# generous, so that a loaded machine makes a test slower, never failed
RUN_TIMEOUT_MS = 90_000


def _phases(page):
    seen = []
    page.controller.statusChanged.connect(lambda st: seen.append(st.phase.value))
    return seen


def _start(qtbot, window, page):
    window.actions["run.start"].trigger()
    qtbot.waitUntil(lambda: page.controller.handle is not None, timeout=RUN_TIMEOUT_MS)
    return page.controller


def _wait_training(qtbot, c):
    qtbot.waitUntil(lambda: c.status.phase.value == "training" and bool(c.run_dir), timeout=RUN_TIMEOUT_MS)


def test_start_follow_to_finished_and_console_equals_log(qtbot, window, fake_run):
    fake_run.configure(steps=8, delay=0.05)
    page = open_run_page(window, fake_run.cfg)
    seen = _phases(page)
    c = _start(qtbot, window, page)
    qtbot.waitUntil(lambda: c.ended, timeout=RUN_TIMEOUT_MS)
    assert "training" in seen and seen[-1] == "finished"
    assert c.status.completed and c.exit_code == 0
    assert c.outcome.status == "finished" and not page.banner.isHidden()
    assert page.phase_label.text() == "FINISHED"
    assert "Step 8" in page.title_label.text()
    # the Run tab writes durations as the Monitor does (core.text.format_duration), not 0:01
    assert re.search(r"elapsed (\d+m \d\ds|\d+s)\b", page.sub_label.text()), page.sub_label.text()
    # The console holds exactly the log's rows, with \r updates collapsed in place
    # (see collapse_cr: each \n-terminated row shows its last \r segment).
    log = Path(c.state["log_path"]).read_text(encoding="utf-8")
    assert page.console.rows() == collapse_cr(log)
    assert "TRAINING COMPLETE!" in page.console.text()
    assert not live_group_psutil(c.state["pgid"])
    # the runs list knows it; the resume picker offers the run folder (it has `latest`)
    assert Path(c.state["run_dir"]).name in [page.resume_combo.itemData(i)
                                             for i in range(page.resume_combo.count())]
    assert not fake_run.reports, "a clean pre-flight starts without a dialog"
    # the Monitor is fed the same parsed events (no second reader of the log)
    metrics = window.monitor_feed.model.metrics
    qtbot.waitUntil(lambda: len(metrics.loss) == 8, timeout=30_000)
    assert list(metrics.loss.x) == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]
    assert window.monitor_feed.model.run_dir is not None


@pytest.mark.parametrize("how", ["stop", "kill"])
def test_stop_and_kill_leave_no_process(qtbot, window, fake_run, how):
    fake_run.configure(steps=100000, delay=0.05)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    _wait_training(qtbot, c)
    pgid = c.state["pgid"]
    # launcher + 2 ranks (they ignore SIGTERM); rank 1 is started after rank 0, so rank 0
    # training does not prove it exists yet
    qtbot.waitUntil(lambda: len(live_group_psutil(pgid)) == 3, timeout=RUN_TIMEOUT_MS)
    assert page.stop_btn.isEnabled() and page.kill_btn.isEnabled()
    window.session.doc  # noqa: B018 - the property is the code under test
    from dpgui_qt.gui import messages  # the confirmation goes through messages.ask
    answers = []
    messages.set_handler(lambda m: answers.append(m.title) or ("Stop" if how == "stop" else "Kill"))
    getattr(page, how)()
    qtbot.waitUntil(lambda: c.ended, timeout=RUN_TIMEOUT_MS)
    assert answers
    assert not live_group_psutil(pgid)
    assert c.status.phase.value == "stopped"
    assert c.outcome.status == "stopped"
    assert not page.stop_btn.isEnabled() and page.start_btn.isEnabled()


def test_save_now_creates_the_signal_and_the_fake_saves(qtbot, window, fake_run):
    fake_run.configure(steps=100000, delay=0.1)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    _wait_training(qtbot, c)
    qtbot.waitUntil(page.save_btn.isEnabled, timeout=RUN_TIMEOUT_MS)
    run_dir = Path(c.run_dir)
    created = []
    orig = c.save_now
    c.save_now = lambda: created.append(Path(orig()).name) or created[-1]
    page.save_btn.click()
    assert created == ["save"]
    qtbot.waitUntil(lambda: (run_dir / "latest").is_file(), timeout=RUN_TIMEOUT_MS)
    assert any(p.name.startswith("step") for p in run_dir.iterdir())
    assert not (run_dir / "save").exists()            # the trainer consumed it
    qtbot.waitUntil(lambda: "Saving model to directory step" in page.console.text(),
                    timeout=RUN_TIMEOUT_MS)
    page.kill(confirm=False)
    qtbot.waitUntil(lambda: c.ended, timeout=RUN_TIMEOUT_MS)


def test_save_and_stop_ends_as_stopped_with_a_checkpoint(qtbot, window, fake_run):
    fake_run.configure(steps=100000, delay=0.1)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    _wait_training(qtbot, c)
    qtbot.waitUntil(page.save_quit_btn.isEnabled, timeout=RUN_TIMEOUT_MS)
    page.save_quit_btn.click()
    qtbot.waitUntil(lambda: c.ended, timeout=RUN_TIMEOUT_MS)
    assert c.exit_code == 0 and c.status.phase.value == "stopped"
    assert c.outcome.kind == "manual_quit"
    assert (Path(c.run_dir) / "latest").is_file()


def test_second_window_reattaches_to_the_running_run(qtbot, window, fake_run):
    fake_run.configure(steps=100000, delay=0.05)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    _wait_training(qtbot, c)
    from dpgui_qt.gui.mainwindow import MainWindow
    w2 = MainWindow()
    qtbot.addWidget(w2)
    qtbot.waitUntil(lambda: w2.run_page is not None and w2.run_page.controller.handle is not None,
                    timeout=RUN_TIMEOUT_MS)
    c2 = w2.run_page.controller
    assert c2.state["run_id"] == c.state["run_id"]
    qtbot.waitUntil(lambda: c2.status.phase.value == "training", timeout=RUN_TIMEOUT_MS)
    assert w2.tabs.currentWidget() is w2._slots["run"]
    assert w2.run_page.console.rows()[0] == page.console.rows()[0]   # rebuilt from the log
    assert "pid" in w2.run_page.sub_label.text() and "running" in w2.run_page.sub_label.text()
    w2.run_page.kill(confirm=False)
    qtbot.waitUntil(lambda: c2.ended and c.ended, timeout=RUN_TIMEOUT_MS)
    assert c.status.phase.value == "stopped"          # the first window saw it end too
    assert not live_group_psutil(c.state["pgid"])


def test_oom_failure_shows_the_classified_outcome(qtbot, window, fake_run):
    fake_run.configure(steps=10, delay=0.02, fail_at=3)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    qtbot.waitUntil(lambda: c.ended, timeout=RUN_TIMEOUT_MS)
    assert c.status.phase.value == "failed"
    o = c.outcome
    assert o.status == "failed" and o.kind == "cuda_oom"
    assert not page.banner.isHidden()
    assert "out of gpu memory" in page.banner.title.text().lower()
    assert "blocks_to_swap" in page.banner.fix.text()
    assert "CUDA out of memory" in page.banner.evidence.text()
    assert "CUDA" in page.banner.text() and "What to do" in page.banner.text()


def test_preflight_blocks_errors_and_allows_warnings(qtbot, window, fake_run, dialogs):
    fake_run.configure()
    page = open_run_page(window, fake_run.cfg)
    # 3 GPUs with pipeline_stages = 2: an error, start is refused
    text = fake_run.cfg.read_text().replace("pipeline_stages = 1", "pipeline_stages = 2")
    fake_run.cfg.write_text(text)
    window.session.reload_from_disk()
    env = fake_run.env()
    env.gpu_count = 3
    page.set_environment(env)
    assert not page.request_start()
    rep = fake_run.reports[-1]
    assert any(f.code == "gpus" for f in rep.errors)
    assert page.controller.handle is None
    # unsaved edits are saved (asked) before the gate runs, and a clean gate shows no dialog
    env.gpu_count = 2
    page.set_environment(env)
    window.session.set_value("epochs", 2)
    assert window.session.modified
    n = len(fake_run.reports)
    assert page.request_start()
    assert any(m.title == "Save before training?" for m in dialogs.messages)
    assert len(fake_run.reports) == n, "no findings: no pre-flight dialog"
    assert not window.session.modified and "epochs = 2" in fake_run.cfg.read_text()
    qtbot.waitUntil(lambda: page.controller.ended, timeout=RUN_TIMEOUT_MS)


def test_cancelled_save_prompt_starts_nothing(qtbot, window, fake_run, dialogs):
    fake_run.configure()
    page = open_run_page(window, fake_run.cfg)
    window.session.set_value("epochs", 3)
    dialogs.answers = ["cancel"]
    assert not page.request_start()
    assert window.session.modified and "epochs = 1" in fake_run.cfg.read_text()
    assert not fake_run.reports and page.controller.handle is None


def test_launch_anyway_starts_despite_errors(qtbot, window, fake_run):
    fake_run.configure(steps=2, delay=0.01)
    page = open_run_page(window, fake_run.cfg)
    fake_run.cfg.write_text(fake_run.cfg.read_text().replace("[adapter]\n", "[adapter]\nalpha = 16\n"))
    window.session.reload_from_disk()
    fake_run.answer = "force"
    assert page.request_start()
    rep = fake_run.reports[-1]
    assert [f.key for f in rep.errors] == ["adapter.alpha"]
    qtbot.waitUntil(lambda: page.controller.ended, timeout=RUN_TIMEOUT_MS)


def test_session_errors_block_through_the_gate(qtbot, window, fake_run):
    fake_run.configure()
    page = open_run_page(window, fake_run.cfg)
    window.session.reset(("optimizer",))          # optimizer is required
    fake_run.answer = "start"
    assert not page.request_start()
    rep = fake_run.reports[-1]
    assert any(f.code.startswith("config:") and f.key == "optimizer" for f in rep.errors)
    assert page.controller.handle is None


def test_close_with_active_run_asks(qtbot, window, fake_run, dialogs):
    fake_run.configure(steps=100000, delay=0.05)
    page = open_run_page(window, fake_run.cfg)
    c = _start(qtbot, window, page)
    _wait_training(qtbot, c)
    dialogs.answers = ["cancel"]
    assert not window.close()
    assert c.active
    dialogs.answers = ["Keep Running"]
    assert window.close()
    assert live_group_psutil(c.state["pgid"]), "keep running: the run survives the window"
    from dpgui_qt.gui.mainwindow import MainWindow
    w2 = MainWindow()
    qtbot.addWidget(w2)
    qtbot.waitUntil(lambda: w2.run_page is not None and w2.run_page.controller.active,
                    timeout=RUN_TIMEOUT_MS)
    pgid = w2.run_page.controller.state["pgid"]
    w2.session.doc.saved_text = w2.session.doc.text
    dialogs.answers = ["Stop Training"]
    assert w2.close()
    assert not live_group_psutil(pgid)
