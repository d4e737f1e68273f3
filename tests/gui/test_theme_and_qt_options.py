"""Qt's own command-line options reach QApplication; View ▸ Theme is kept and applied."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication

from dpgui_qt.cli import split_qt_args

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("argv, ours, qt", [
    (["-style", "fusion", "a.toml"], ["a.toml"], ["-style", "fusion"]),
    (["a.toml", "-style=fusion", "-reverse"], ["a.toml"], ["-style=fusion", "-reverse"]),
    (["--platform", "xcb", "--screenshot", "o.png"], ["--screenshot", "o.png"],
     ["--platform", "xcb"]),
    (["-platformtheme", "gtk3", "-widgetcount"], [], ["-platformtheme", "gtk3", "-widgetcount"]),
    (["--", "-reverse"], ["--", "-reverse"], []),           # a file really named -reverse
    (["-stylish", "x.toml"], ["-stylish", "x.toml"], []),   # not Qt's: argparse says so
])
def test_qt_options_are_split_from_dpguis(argv, ours, qt):
    assert split_qt_args(argv) == (ours, qt)


def test_qt_option_without_its_value_is_a_clear_error():
    with pytest.raises(SystemExit, match="-style needs a value"):
        split_qt_args(["-style"])


def test_style_and_reverse_reach_the_window(tmp_path):
    """``dpgui -style fusion -reverse`` (rejected before) starts; the screenshot's window is
    laid out right to left, which only -reverse does."""
    out = tmp_path / "shot.png"
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path / "cfg"),
               QT_QPA_PLATFORM="offscreen")
    code = ("import sys; from dpgui_qt.gui import app as a; from PySide6.QtWidgets import "
            "QApplication as Q\n"
            "orig = a.take_screenshot\n"
            "def shot(w, o):\n"
            "    print('STYLE', Q.instance().style().name(), 'RTL', Q.isRightToLeft())\n"
            "    return orig(w, o)\n"
            "a.take_screenshot = shot\n"
            "from dpgui_qt.cli import main; sys.exit(main())")
    r = subprocess.run([sys.executable, "-c", code, "-style", "fusion", "-reverse",
                        "--screenshot", str(out)], env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert "STYLE fusion RTL True" in r.stdout and out.stat().st_size > 0


def test_theme_menu_switches_keeps_and_restores(window, qtbot):
    from dpgui_qt.gui import icons, settings, theme

    app = QApplication.instance()
    acts = {n: window.actions[f"view.theme.{n}"] for n in ("system", "light", "dark")}
    assert acts["system"].isChecked() and all(a.isCheckable() for a in acts.values())
    before = QPalette(app.palette())
    save_act = window.actions["file.save"]
    icon_before = save_act.icon().cacheKey()
    drawn = icon_before in icons._DRAWN
    try:
        acts["dark"].trigger()
        assert theme.current_is_dark() and acts["dark"].isChecked()
        assert settings.settings().value(theme.KEY) == "dark" and theme.saved() == "dark"
        if drawn:  # our glyphs are redrawn in the dark palette's ink
            assert save_act.icon().cacheKey() != icon_before
        acts["light"].trigger()
        assert not theme.current_is_dark()
        acts["system"].trigger()
        assert app.palette().color(QPalette.ColorRole.Window) == \
            before.color(QPalette.ColorRole.Window)
        assert theme.saved() == "system"
    finally:
        theme.apply("system")


def test_saved_theme_is_applied_before_the_first_window(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path),
               QT_QPA_PLATFORM="offscreen")
    env.pop("DPGUI_THEME", None)
    code = ("from dpgui_qt.gui import theme, settings\n"
            "from dpgui_qt.gui.app import make_app\n"
            "import sys\n"
            "if sys.argv[1] == 'save':\n"
            "    from PySide6.QtCore import QCoreApplication; QCoreApplication([])\n"
            "    theme.save('dark'); sys.exit(0)\n"
            "app = make_app([])\n"
            "print('DARK', theme.current_is_dark(app))\n")
    for step in ("save", "check"):
        r = subprocess.run([sys.executable, "-c", code, step], env=env, capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 0, r.stderr
    assert "DARK True" in r.stdout
