"""Command preview == `dpgui launch --dry-run`, the WSL form, environment settings."""
from __future__ import annotations

import json

import pytest

from dpgui_qt.gui.run.launch_settings import EnvSettings, RunOptions, launch_args
from tests.gui.run_fixtures import FAKE_DEEPSPEED, open_run_page

CASES = [
    ({}, {}),
    ({"gpu_mode": "list", "gpu_list": "0,2", "master_port": 29611, "expandable_segments": True,
      "extra_env": {"HF_HOME": "/data/hf cache", "X": "a'b"}},
     {"trust_cache": True, "regenerate_cache": True, "dump_dataset": "/tmp/dump dir"}),
    ({"gpu_mode": "all", "nccl_p2p_disable": False, "nccl_ib_disable": False},
     {"cache_only": True, "i_know_what_i_am_doing": True}),
    ({"gpu_count": 4, "nccl_ib_disable": False},
     {"reset_dataloader": True, "reset_optimizer": True, "reset_optimizer_params": True}),
]


def _dry_run(args, capsys):
    from dpgui_qt.cli import main
    capsys.readouterr()
    assert main(["launch", *args, "--dry-run", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("env_kw,opt_kw", CASES)
def test_preview_matches_dpgui_launch_dry_run(qtbot, window, fake_run, capsys, env_kw, opt_kw):
    env = fake_run.env()
    env.extra_env = {}
    for k, v in env_kw.items():
        setattr(env, k, v)
    page = open_run_page(window, fake_run.cfg)
    page.set_environment(env)
    page.set_options(RunOptions(switches=opt_kw))
    shown = page.preview.toPlainText()
    dry = _dry_run(launch_args(fake_run.cfg, env, RunOptions(switches=opt_kw)), capsys)
    assert shown == dry["command"] == page.command_text()
    cmd = page.spec.command()
    assert cmd.argv == dry["argv"] and cmd.env == dry["env"] and cmd.cwd == dry["cwd"]
    assert f"Working directory: {dry['cwd']}" in page.preview_info.text()
    assert "Added environment: " in page.preview_info.toolTip()


def test_preview_follows_settings_live(qtbot, window, fake_run):
    page = open_run_page(window, fake_run.cfg)
    env = fake_run.env()
    page.set_environment(env)
    assert "--num_gpus=2" in page.preview.toPlainText()
    page.switches["trust_cache"].setChecked(True)
    qtbot.waitUntil(lambda: "--trust_cache" in page.preview.toPlainText(), timeout=30_000)
    env.gpu_mode, env.gpu_list = "list", "1,3"
    page.set_environment(env)
    assert "--include localhost:1,3" in page.preview.toPlainText()
    page.copy_btn.click()
    from PySide6.QtGui import QGuiApplication
    assert QGuiApplication.clipboard().text() == page.command_text()


def test_resume_picker_lists_checkpointed_runs_newest_first(qtbot, window, fake_run):
    fake_run.configure()
    out = fake_run.out
    for name, latest in (("20250101_10-00-00", True), ("20250102_10-00-00", False),
                         ("20250103_10-00-00", True)):
        (out / name).mkdir(parents=True)
        if latest:
            (out / name / "latest").write_text("global_step10")
    page = open_run_page(window, fake_run.cfg)
    names = [page.resume_combo.itemData(i) for i in range(page.resume_combo.count())]
    assert names == ["", "20250103_10-00-00", "20250101_10-00-00"]
    page.resume_combo.setCurrentIndex(2)
    qtbot.waitUntil(lambda: "--resume_from_checkpoint 20250101_10-00-00"
                    in page.preview.toPlainText(), timeout=2000)


def test_windows_preview_is_the_wsl_form(qtbot, window, fake_run):
    from dpgui_qt.gui.run.page import RunPage
    assert window.open_file(fake_run.cfg, ask=False)
    env = EnvSettings(checkout=r"\\wsl.localhost\Ubuntu\home\u\diffusion-pipe",
                      deepspeed="/home/u/venv", wsl_distro="Ubuntu-22.04")
    env.save()
    page = RunPage(window, platform="win32")
    qtbot.addWidget(page)
    text = page.preview.toPlainText()
    assert text.startswith("wsl.exe -d Ubuntu-22.04 --cd /home/u/diffusion-pipe -- env ")
    assert "/home/u/venv/bin/deepspeed" in text and "NCCL_P2P_DISABLE=1" in text
    assert "Runs in WSL (Ubuntu-22.04) in /home/u/diffusion-pipe" in page.preview_info.text()


def test_environment_settings_persist_and_show_found_state(qtbot, fake_run):
    from dpgui_qt.gui.run.env_dialog import EnvironmentDialog
    env = EnvSettings(checkout=str(fake_run.co), deepspeed=str(FAKE_DEEPSPEED), gpu_mode="list",
                      gpu_list="0,1", master_port=29555, nccl_ib_disable=False,
                      expandable_segments=True, extra_env={"A": "1", "B": "x y"}, stop_grace_s=7)
    env.save()
    assert EnvSettings.load() == env
    dlg = EnvironmentDialog(EnvSettings.load())
    qtbot.addWidget(dlg)
    assert dlg.settings() == env
    assert "found" in dlg.checkout.status.text() and "✔" in dlg.checkout.status.text()
    assert "✔" in dlg.deepspeed.status.text()
    dlg.checkout.edit.setText(str(fake_run.tmp / "nowhere"))
    dlg.refresh()
    assert "✖" in dlg.checkout.status.text()
    assert "does not exist" in dlg.checkout.status.text()
    assert "--" not in dlg.checkout.status.text()          # words, not command-line flags
    dlg.gpu_list.setText("0,x")
    dlg.refresh()
    from PySide6.QtWidgets import QDialogButtonBox
    assert not dlg.buttons.button(QDialogButtonBox.StandardButton.Ok).isEnabled()
