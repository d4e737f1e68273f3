"""A console line that holds only ANSI escape codes must not stall the Run page or the
Monitor (issue #12, high); the parser's side is tests/reliability/test_run_ansi_lines.py."""
from __future__ import annotations

from tests.gui.run_fixtures import open_run_page


def test_run_page_and_monitor_follow_a_trainer_that_prints_escape_only_lines(
        qtbot, window, fake_run):
    """Was: the Run page stuck on STARTING with Save disabled, the Monitor empty."""
    fake_run.configure(steps=6, delay=0.2, ansi_lines=1)
    page = open_run_page(window, fake_run.cfg)
    window.actions["run.start"].trigger()
    qtbot.waitUntil(lambda: page.controller.handle is not None, timeout=30_000)
    c = page.controller
    qtbot.waitUntil(lambda: c.status.phase.value == "training" and bool(c.run_dir), timeout=30_000)
    qtbot.waitUntil(page.save_btn.isEnabled, timeout=10_000)
    qtbot.waitUntil(lambda: c.ended, timeout=30_000)
    assert c.outcome.status == "finished" and page.phase_label.text() == "FINISHED"
    metrics = window.monitor_feed.model.metrics
    qtbot.waitUntil(lambda: len(metrics.loss) == 6, timeout=5000)
