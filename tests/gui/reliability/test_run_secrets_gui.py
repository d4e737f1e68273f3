"""Secrets in the Run page's command preview are masked (issue #12); the Qt-free side is
tests/reliability/test_run_secrets.py."""
from __future__ import annotations

from dpgui_qt.core.secrets import MASK

from tests.gui.run_fixtures import open_run_page

KEY = "wandb-0123456789abcdef0123456789abcdef"
SECRET_ENV = {"WANDB_API_KEY": KEY, "HF_TOKEN": "hf_supersecret_value_1234"}


def test_gui_preview_masks_extra_variables(qtbot, window, fake_run):
    env = fake_run.env()
    env.extra_env = dict(SECRET_ENV)
    page = open_run_page(window, fake_run.cfg)
    page.set_environment(env)
    shown = page.preview.toPlainText() + page.preview_info.text() + page.preview_info.toolTip()
    assert KEY not in shown and "hf_supersecret" not in shown     # was: shown in clear
    assert "WANDB_API_KEY='" + MASK + "cdef'" in page.preview.toPlainText()
    assert "WANDB_API_KEY=" + MASK + "cdef" in page.preview_info.toolTip()
    assert KEY in page.command_text()                          # Copy is an explicit request
