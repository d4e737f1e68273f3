"""The GUI's side of issue #12: saving over another program's edit, symlinks, read-only
files and secrets on screen and in the settings file. Each test failed on main first."""
from __future__ import annotations

import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.helpers import BASE_DATASET, BASE_MAIN

REPO = Path(__file__).resolve().parents[3]
KEY = "0123456789abcdef0123456789abcdef01234567"


def _cfg(tmp_path, text=BASE_MAIN) -> Path:
    (tmp_path / "dataset.toml").write_text(BASE_DATASET)
    p = tmp_path / "main.toml"
    p.write_text(text)
    return p


def _cli_set(path, *assignments):
    env = dict(os.environ, PYTHONPATH=str(REPO))
    res = subprocess.run([sys.executable, "-m", "dpgui_qt", "set", str(path), *assignments],
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr


def test_cli_write_within_the_debounce_is_not_overwritten(window, dialogs, tmp_path):
    # before: a save right after another program's write (inside the 250 ms change check)
    # overwrote it without a word. Here the other program is a real `dpgui set`.
    cfg = _cfg(tmp_path)
    assert window.open_file(cfg)
    window.session.set_value("epochs", 20)
    _cli_set(cfg, "save_every_n_epochs=7")  # no event processing: the watcher has not fired
    dialogs.answers = ["cancel"]
    assert not window.save()
    asked = [m for m in dialogs.messages if m.kind == "question"]
    assert asked and "changed" in asked[-1].text and "Overwrite" in asked[-1].buttons
    assert "+epochs = 20" in asked[-1].details and "-save_every_n_epochs = 7" in asked[-1].details
    assert tomllib.loads(cfg.read_text())["save_every_n_epochs"] == 7  # theirs kept
    dialogs.answers = ["Overwrite"]  # the user decides, having seen the difference
    assert window.save()
    assert tomllib.loads(cfg.read_text())["epochs"] == 20


def test_save_after_the_changed_on_disk_banner_asks(window, dialogs, tmp_path, qtbot):
    # before: with the banner showing and no choice made, Save overwrote the other edit
    cfg = _cfg(tmp_path)
    assert window.open_file(cfg)
    window.session.set_value("epochs", 21)
    with qtbot.waitSignal(window.session.externalChange, timeout=10000):
        cfg.write_text(BASE_MAIN.replace("epochs = 10", "epochs = 77"))
    dialogs.answers = ["cancel"]
    assert not window.save()
    assert any(m.kind == "question" and "changed" in m.text for m in dialogs.messages)
    assert tomllib.loads(cfg.read_text())["epochs"] == 77
    window.session.keep_local_version()  # "Keep My Version" on the banner is a decision
    assert window.save()
    assert tomllib.loads(cfg.read_text())["epochs"] == 21


def test_gui_save_writes_through_a_symlink(window, tmp_path):
    # before: the GUI's save turned the link into a regular file
    cfg = _cfg(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(cfg.name)
    assert window.open_file(link)
    window.session.set_value("epochs", 22)
    assert window.save()
    assert link.is_symlink()
    assert tomllib.loads(cfg.read_text())["epochs"] == 22


def test_gui_asks_before_overwriting_a_read_only_file(window, dialogs, tmp_path):
    # before: a 0444 file was rewritten without a word
    cfg = _cfg(tmp_path)
    os.chmod(cfg, 0o444)
    assert window.open_file(cfg)
    window.session.set_value("epochs", 23)
    dialogs.answers = ["cancel"]
    assert not window.save()
    assert any(m.kind == "question" and "read-only" in m.text for m in dialogs.messages)
    assert tomllib.loads(cfg.read_text())["epochs"] == 10
    dialogs.answers = ["Overwrite"]
    assert window.save()
    assert tomllib.loads(cfg.read_text())["epochs"] == 23
    assert stat.S_IMODE(os.stat(cfg).st_mode) == 0o444


def test_wandb_key_is_masked_in_the_toml_and_changes_tabs(window, tmp_path, qtbot):
    # before: the key was masked in the editor but shown in clear in these two tabs
    cfg = _cfg(tmp_path, BASE_MAIN + f"\n[monitoring]\nenable_wandb = true\n"
                                     f"wandb_api_key = '{KEY}'\n")
    assert window.open_file(cfg)
    new_key = "f" * 40
    window.session.set_value(("monitoring", "wandb_api_key"), new_key)
    from dpgui_qt.gui.config.toml_view import TomlDiffView, TomlPreview

    preview = TomlPreview(window.session)
    changes = TomlDiffView(window.session)
    qtbot.addWidget(preview)
    qtbot.addWidget(changes)
    preview.show()
    changes.show()
    shown = preview.toPlainText() + changes.view.toPlainText() + changes.diff_text()
    assert KEY[:-4] not in shown and new_key[:-4] not in shown
    assert "wandb_api_key" in preview.toPlainText() and "••••" in preview.toPlainText()
    assert "wandb_api_key" in changes.diff_text()  # the change itself is still visible
    assert window.save()
    assert tomllib.loads(cfg.read_text())["monitoring"]["wandb_api_key"] == new_key


def test_secret_extra_env_is_not_stored_in_the_settings_file(tmp_path):
    # before: WANDB_API_KEY=... from the Run page's extra variables went into dpgui.ini (0644)
    from PySide6.QtCore import QSettings

    from dpgui_qt.gui.run.launch_settings import EnvSettings

    ini = tmp_path / "dpgui.ini"
    qs = QSettings(str(ini), QSettings.Format.IniFormat)
    EnvSettings(extra_env={"WANDB_API_KEY": KEY, "HF_TOKEN": "hf_" + KEY,
                           "PYTHONUNBUFFERED": "1"}).save(qs)
    del qs
    assert KEY not in ini.read_text() and "PYTHONUNBUFFERED" in ini.read_text()
    store = tmp_path / "dpgui-secrets.json"
    assert stat.S_IMODE(os.stat(store).st_mode) == 0o600
    loaded = EnvSettings.load(QSettings(str(ini), QSettings.Format.IniFormat))
    assert loaded.extra_env == {"WANDB_API_KEY": KEY, "HF_TOKEN": "hf_" + KEY,
                                "PYTHONUNBUFFERED": "1"}


def test_dataset_file_changed_elsewhere_is_not_overwritten_by_save(window, dialogs, tmp_path):
    # the dataset config saved along with the main one gets the same question
    from dpgui_qt.gui.session import DocumentSession

    cfg = _cfg(tmp_path)
    assert window.open_file(cfg)
    ds = DocumentSession(parent=window)  # owned: it goes with the window
    ds.open(tmp_path / "dataset.toml")
    window.add_companion(ds)
    ds.set_value("num_ar_buckets", 9)
    theirs = BASE_DATASET.replace("max_ar = 2.0", "max_ar = 3.0")
    (tmp_path / "dataset.toml").write_text(theirs)
    dialogs.answers = ["cancel"]
    assert not window.save()
    assert (tmp_path / "dataset.toml").read_text() == theirs
    assert any(m.kind == "question" and "dataset.toml" in m.text for m in dialogs.messages)
    dialogs.answers = ["Overwrite"]
    assert window.save()
    assert tomllib.loads((tmp_path / "dataset.toml").read_text())["num_ar_buckets"] == 9
    window.remove_companion(ds)
