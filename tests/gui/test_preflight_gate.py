"""The GUI side of the launch gate: the Check button, the pre-flight dialog (Launch
Anyway names the errors, Check Again re-runs the gate, the make-absolute fix), Kill
asking from the button, and a relative dataset path read from the checkout."""
from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import Qt

from dpgui_qt.core.run.preflight import PreflightIssue
from dpgui_qt.gui.run import preflight as pf
from tests.gui.run_fixtures import live_group_psutil, open_run_page

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")


def test_check_shows_the_dialog_also_when_nothing_is_wrong(qtbot, window, fake_run):
    fake_run.configure()
    page = open_run_page(window, fake_run.cfg)
    fake_run.answer = "cancel"
    rep = page.check_now()
    assert fake_run.reports == [rep] and rep.clean
    assert str(fake_run.cfg) in rep.files and page.controller.handle is None


def test_dialog_launch_anyway_names_the_errors(qtbot, window, dialogs):
    errs = [PreflightIssue("error", "config:no_adapter_alpha", "Remove alpha", key="adapter.alpha"),
            PreflightIssue("warning", "dataset:missing_captions", "2 files have no caption")]
    rep = pf.PreflightReport(errs, ["/x/main.toml"], "cd /co && deepspeed ...")
    dlg = pf.PreflightDialog(rep, window)
    qtbot.addWidget(dlg)
    assert dlg.start_btn.isHidden() and not dlg.force_btn.isHidden()
    assert "1 error would stop this run (and 1 warning)" in dlg.head.text()
    assert dlg.list.item(0).text().startswith("adapter.alpha: Remove alpha")
    dialogs.answers = ["cancel"]
    dlg.force_btn.click()
    assert dlg.answer == "cancel" and "adapter.alpha: Remove alpha" in dialogs.messages[-1].informative
    dialogs.answers = ["Launch Anyway"]
    dlg.force_btn.click()
    assert dlg.answer == "force"
    # the dialog never grows past the screen
    avail = window.screen().availableGeometry()
    assert dlg.width() <= avail.width() and dlg.height() <= avail.height()


def test_check_again_and_the_make_absolute_fix(qtbot, window, fake_run, tmp_path):
    """dataset = 'ds.toml' next to a config outside the checkout: diffusion-pipe would
    look in the checkout.  The gate says so; one click writes the absolute path."""
    fake_run.configure()
    elsewhere = tmp_path / "configs"
    elsewhere.mkdir()
    ds = fake_run.co / "examples" / "dataset.toml"
    (elsewhere / "ds.toml").write_bytes(ds.read_bytes())
    cfg = elsewhere / "main.toml"
    cfg.write_text(fake_run.cfg.read_text().replace("dataset = 'examples/dataset.toml'",
                                                    "dataset = 'ds.toml'"))
    page = open_run_page(window, cfg)
    # the editor agrees with the trainer: the relative path is read from the checkout
    qtbot.waitUntil(lambda: any(f.rule == "path_relative_to_checkout"
                                for f in window.session.findings), timeout=5000)
    seen = []

    def handler(rep):
        seen.append(rep)
        if len(seen) == 1:
            assert [a[0] for a in rep.fixes] == ["make_absolute"]
            assert rep.fix(rep.fixes)
            again = rep.recheck()
            seen.append(again)
            assert not again.errors, [f.message for f in again.errors]
        return "cancel"

    pf.set_handler(handler)
    assert not page.request_start()
    first = seen[0]
    f = next(f for f in first.errors if f.key == "dataset")
    assert str(fake_run.co) in f.message and "next to this file" in f.message
    assert f"dataset = '{elsewhere / 'ds.toml'}'" in cfg.read_text()
    assert not window.session.modified


def test_kill_button_asks_and_says_the_step_is_lost(qtbot, window, fake_run, dialogs):
    fake_run.configure(steps=100000, delay=0.05)
    page = open_run_page(window, fake_run.cfg)
    window.actions["run.start"].trigger()
    c = page.controller
    qtbot.waitUntil(lambda: c.status.phase.value == "training", timeout=30_000)
    dialogs.answers = ["cancel"]
    qtbot.mouseClick(page.kill_btn, Qt.MouseButton.LeftButton)
    asked = dialogs.messages[-1]
    assert asked.title == "Kill training" and "current step is lost" in asked.informative
    assert c.active
    dialogs.answers = ["cancel"]
    window.actions["run.kill"].trigger()                 # the menu asks too
    assert dialogs.messages[-1].title == "Kill training" and c.active
    dialogs.answers = ["Kill"]
    qtbot.mouseClick(page.kill_btn, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: c.ended, timeout=30_000)
    qtbot.waitUntil(lambda: not live_group_psutil(c.state["pgid"]), timeout=30_000)


def test_dataset_tab_agrees_and_offers_the_fix(qtbot, window, fake_run, tmp_path):
    """A relative dataset next to the config but not in the checkout: the Dataset tab
    says so (it is not opened as if it would train) and one click makes it absolute."""
    fake_run.configure()
    elsewhere = tmp_path / "cfgs"
    elsewhere.mkdir()
    (elsewhere / "ds.toml").write_bytes((fake_run.co / "examples" / "dataset.toml").read_bytes())
    cfg = elsewhere / "main.toml"
    cfg.write_text(fake_run.cfg.read_text().replace("dataset = 'examples/dataset.toml'",
                                                    "dataset = 'ds.toml'"))
    assert window.open_file(cfg, ask=False)
    window.show_page("dataset")
    page = window.page("dataset")
    page.sync()
    assert not page.editors and page._stack.currentWidget() is page.empty
    assert "next to the config" in page.empty.text.text()
    assert str(fake_run.co) in page.empty.text.text()
    assert page.act_abs.isVisible()
    assert page.make_dataset_absolute()
    assert window.session.doc.get("dataset") == str((elsewhere / "ds.toml").resolve())
    assert [e.session.path.name for e in page.editors] == ["ds.toml"]
