"""Before Qt aborts on a missing platform-plugin library, dpgui names it and the package
to install (dpgui_qt.core.displaycheck), or falls back to Wayland."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dpgui_qt.core import displaycheck as dc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux loader")
REPO = Path(__file__).resolve().parent.parent


def test_install_commands_map_every_soname_for_three_package_managers():
    lines = dc.install_commands(["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                 "libxcb-cursor.so.0"], os_ids=["fedora"])
    assert lines[0] == "Fedora/RHEL:    sudo dnf install -y xcb-util-cursor xcb-util-keysyms xcb-util-wm"
    assert "Debian/Ubuntu:  sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in lines
    assert "Arch:           sudo pacman -S --needed xcb-util-cursor xcb-util-keysyms xcb-util-wm" in lines
    odd = dc.install_commands(["libnotreal.so.9"], os_ids=[])
    assert odd == ["Also needed (find the package that provides each): libnotreal.so.9"]


class FakeResolver:
    def __init__(self, missing_by_plugin: dict[str, dict[str, str]]):
        self.by = missing_by_plugin

    def missing(self, path):
        return dict(self.by.get(Path(path).name, {}))


@pytest.fixture
def plugins(tmp_path, monkeypatch):
    for n in ("xcb", "wayland", "offscreen"):
        (tmp_path / f"libq{n}.so").write_bytes(b"")
    monkeypatch.setattr(dc, "_loads", lambda plugin: False)
    return tmp_path


XCB_MISSING = {"libqxcb.so": {"libxcb-icccm.so.4": "libQt6XcbQpa.so.6",
                              "libxcb-keysyms.so.1": "libQt6XcbQpa.so.6"}}


def test_missing_xcb_libraries_stop_the_start_with_the_install_command(plugins):
    p = dc.plan([], {"DISPLAY": ":1"}, folder=plugins, resolver=FakeResolver(XCB_MISSING),
                os_ids=["debian"])
    assert p.error and not p.env
    assert "libxcb-icccm.so.4, libxcb-keysyms.so.1" in p.error
    assert "sudo apt-get install -y libxcb-icccm4 libxcb-keysyms1" in p.error
    assert "sudo dnf install -y" in p.error and "sudo pacman -S --needed" in p.error
    # the same when asked for by name, on the command line or in the environment
    for argv, env in ((["-platform", "xcb"], {"DISPLAY": ":1"}),
                      (["--platform=xcb"], {}), ([], {"QT_QPA_PLATFORM": "xcb"})):
        assert dc.plan(argv, env, folder=plugins, resolver=FakeResolver(XCB_MISSING)).error


def test_the_real_loader_has_the_last_word(plugins, monkeypatch):
    monkeypatch.setattr(dc, "_loads", lambda plugin: True)
    p = dc.plan([], {"DISPLAY": ":1"}, folder=plugins, resolver=FakeResolver(XCB_MISSING))
    assert p.error is None  # never block a start that would work


def test_wayland_session_is_the_fallback(plugins, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "wayland-0").write_text("")  # a socket in real life; its presence is what counts
    env = {"DISPLAY": ":0", "XDG_RUNTIME_DIR": str(run)}
    p = dc.plan([], env, folder=plugins, resolver=FakeResolver(XCB_MISSING))
    assert p.error is None
    assert p.env == {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0"}
    assert "libxcb-icccm.so.4" in p.notes[0] and "Wayland" in p.notes[0]


def test_wayland_first_in_a_wayland_session_then_x11(plugins):
    env = {"DISPLAY": ":0", "WAYLAND_DISPLAY": "wayland-1"}
    assert dc.plan([], env, folder=plugins, resolver=FakeResolver({})) == dc.Plan()
    broken_wl = {"libqwayland.so": {"libwayland-cursor.so.0": "libqwayland.so"}}
    p = dc.plan([], env, folder=plugins, resolver=FakeResolver(broken_wl))
    assert p.env == {"QT_QPA_PLATFORM": "xcb"} and "libwayland-cursor.so.0" in p.notes[0]
    both = dict(broken_wl, **XCB_MISSING)
    p = dc.plan([], env, folder=plugins, resolver=FakeResolver(both), os_ids=["arch"])
    assert "libwayland-cursor.so.0" in p.error and "libxcb-icccm.so.4" in p.error
    assert "sudo pacman -S --needed wayland xcb-util-keysyms xcb-util-wm" in p.error


def test_headless_platforms_and_other_systems_need_nothing(plugins, monkeypatch):
    r = FakeResolver(XCB_MISSING)
    assert dc.plan(["-platform", "offscreen"], {"DISPLAY": ":1"}, folder=plugins,
                   resolver=r) == dc.Plan()
    assert dc.plan([], {"QT_QPA_PLATFORM": "minimal"}, folder=plugins, resolver=r) == dc.Plan()
    monkeypatch.setattr(dc.sys, "platform", "win32")
    assert dc.plan([], {}, folder=plugins, resolver=r) == dc.Plan()


def test_no_display_at_all_is_said_in_words(plugins):
    p = dc.plan([], {}, folder=plugins, resolver=FakeResolver({}))
    assert "neither DISPLAY (X11) nor WAYLAND_DISPLAY" in p.error and "xvfb-run" in p.error
