"""The Run page's parts on their own: the options panel reads and shows RunOptions,
says when the user changed something, and keeps or drops the resume choice; the
command box shows a command or why there is none."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from dpgui_qt.core.run.runs import RunFolder
from dpgui_qt.core.run.switches import TRAIN_SWITCHES
from dpgui_qt.gui.run.command_preview import CommandPreview
from dpgui_qt.gui.run.launch_settings import RunOptions
from dpgui_qt.gui.run.options_panel import RunOptionsPanel


def _run(name: str) -> RunFolder:
    return RunFolder(name, Path("/out") / name, datetime(2025, 1, 2, 3, 4, tzinfo=timezone.utc),
                     "global_step10")


def test_options_round_trip_and_changed_only_for_user_edits(qtbot):
    panel = RunOptionsPanel()
    qtbot.addWidget(panel)
    assert set(panel.switches) | set(panel.switch_fields) == {s.name for s in TRAIN_SWITCHES}
    changes = []
    panel.changed.connect(lambda: changes.append(1))
    panel.set_resume_candidates([_run("20250102_03-04-00")])
    opts = RunOptions(resume="20250102_03-04-00",
                      switches={"cache_only": True, "dump_dataset": "/tmp/d"})
    panel.set_options(opts)
    assert changes == []                              # shown, not edited
    got = panel.options()
    assert got.resume == opts.resume
    assert {n: got.switch(n) for n in got.switches} == {
        s.name: opts.switch(s.name) for s in TRAIN_SWITCHES}
    panel.switches["trust_cache"].setChecked(True)    # as a click would
    assert changes == [1] and panel.options().switch("trust_cache") is True
    panel.switch_fields["dump_dataset"].setText(" /tmp/e ")
    assert panel.options().switch("dump_dataset") == "/tmp/e"


def test_resume_choice_kept_while_its_folder_is_offered(qtbot):
    panel = RunOptionsPanel()
    qtbot.addWidget(panel)
    a, b = _run("20250102_03-04-00"), _run("20250103_03-04-00")
    assert panel.set_resume_candidates([b, a])
    panel.set_options(RunOptions(resume=a.name))
    assert panel.set_resume_candidates([a])           # still there: kept
    assert panel.options().resume == a.name
    assert not panel.set_resume_candidates([b])       # gone: back to a fresh run
    assert panel.options().resume == ""
    assert panel.set_resume_candidates([])            # nothing chosen: nothing lost
    combo = panel.resume_combo
    assert combo.itemText(combo.count() - 1) == "(no run folder with a checkpoint)"
    assert not combo.model().item(combo.count() - 1).isEnabled()


def test_command_box_shows_command_or_reason(qtbot):
    box = CommandPreview()
    qtbot.addWidget(box)
    box.show_command("cd /x && deepspeed train.py", "Working directory: /x", "details")
    assert box.copy_btn.isEnabled() and box.preview_info.text() == "Working directory: /x"
    assert box.preview.toolTip() == "details"
    box.show_error("no checkout")
    assert not box.copy_btn.isEnabled()
    assert box.preview.toPlainText() == "# cannot build the command: no checkout"
    assert box.preview_info.text() == ""
