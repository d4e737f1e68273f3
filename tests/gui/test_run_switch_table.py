"""One train.py switch table: a switch added to it appears in ``dpgui launch --help``,
in the spec's argv and on the Run page, with nothing else changed."""
from __future__ import annotations

import pytest

from dpgui_qt.core.run import switches as sw


EXTRA = (sw.Switch("invented_flag", "Invented flag", "A switch only this test knows."),
         sw.Switch("invented_dir", "Invented folder", "A folder only this test knows.",
                   kind="path", metavar="WHERE"))


def test_a_switch_built_into_the_table_shows_in_cli_help_spec_and_run_page(
        qtbot, window, fake_run, monkeypatch, capsys):
    monkeypatch.setattr(sw, "TRAIN_SWITCHES", sw.TRAIN_SWITCHES + EXTRA)
    from dpgui_qt.cli import main
    from dpgui_qt.gui.run.launch_settings import RunOptions, headless_command
    from dpgui_qt.gui.run.page import RunPage

    # the CLI's help
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["launch", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--invented-flag, --invented_flag" in help_text
    assert "A switch only this test knows. (train.py --invented_flag)" in help_text
    assert "--invented-dir WHERE, --invented_dir WHERE" in help_text

    # the Run page: a check box and a folder field, labelled and explained from the table
    assert window.open_file(fake_run.cfg, ask=False)
    fake_run.env().save()
    page = RunPage(window)
    qtbot.addWidget(page)
    cb = page.switches["invented_flag"]
    assert cb.text() == "Invented flag"
    assert cb.toolTip() == "--invented_flag: A switch only this test knows."
    field = page.switch_fields["invented_dir"]
    assert field.toolTip() == "--invented_dir WHERE: A folder only this test knows."
    assert "--invented_flag" not in page.preview.toPlainText()

    # ... whose values reach the spec's argv and the preview
    cb.setChecked(True)
    field.setText("/data/somewhere")
    qtbot.waitUntil(lambda: "--invented_dir" in page.preview.toPlainText(), timeout=30_000)
    argv = page.spec.command().argv
    assert argv[-3:] == ["--invented_flag", "--invented_dir", "/data/somewhere"]
    assert page.options.switch("invented_flag") is True
    # and the headless command the page copies passes them as dpgui launch options
    cmd = headless_command(fake_run.cfg, page.env, page.options)
    assert "--invented-flag --invented-dir /data/somewhere" in cmd

    page.set_options(RunOptions(switches={"invented_dir": "/elsewhere"}))
    assert not cb.isChecked() and field.text() == "/elsewhere"
