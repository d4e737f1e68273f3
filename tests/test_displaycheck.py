"""Before Qt aborts on a missing platform-plugin library, dpgui names it and the package
to install (dpgui_qt.core.displaycheck), or falls back to Wayland."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt.core import displaycheck as dc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux loader")
REPO = Path(__file__).resolve().parent.parent
FOLDER = dc.plugin_dir()
needs_plugins = pytest.mark.skipif(FOLDER is None or dc.plugin_file("xcb", FOLDER) is None,
                                   reason="PySide6's xcb plugin is not here")


@needs_plugins
def test_elf_reader_sees_the_plugins_dependencies():
    deps = dc.read_elf(str(dc.plugin_file("xcb", FOLDER)))
    assert "libxcb.so.1" in deps.needed and "libQt6XcbQpa.so.6" in deps.needed
    assert any("$ORIGIN" in p for p in deps.runpath + deps.rpath)
    assert dc.read_elf(__file__) is None  # not an ELF file: no answer, no exception


def _farm(tmp_path: Path, hide: set[str]) -> Path:
    """A library folder with every library the loader cache knows, minus ``hide``."""
    farm = tmp_path / "lib"
    farm.mkdir()
    for soname, paths in dc.read_ld_cache().items():
        if soname not in hide and not (farm / soname).exists():
            (farm / soname).symlink_to(paths[0])
    return farm


@needs_plugins
def test_resolver_names_exactly_the_hidden_libraries(tmp_path):
    plugin = str(dc.plugin_file("xcb", FOLDER))
    real = dc.Resolver().missing(plugin)       # what this machine lacks anyway
    hide = {"libxcb-icccm.so.4", "libxcb-keysyms.so.1", "libxkbcommon-x11.so.0"}
    farm = _farm(tmp_path, hide)
    hidden = dc.Resolver(ld_library_path="", cache={}, dirs=[str(farm)]).missing(plugin)
    assert set(hidden) == hide | set(real)
    assert hidden["libxcb-icccm.so.4"] in ("libqxcb.so", "libQt6XcbQpa.so.6")
    # LD_LIBRARY_PATH is searched like the loader does: pointing it at the libraries heals
    healed = dc.Resolver(ld_library_path=f"{tmp_path}/nowhere:{farm}", cache={},
                         dirs=[]).missing(plugin)
    assert set(healed) == hide | set(real)
    assert dc.Resolver(ld_library_path=str(farm), cache=dc.read_ld_cache(),
                       dirs=dc.default_dirs()).missing(plugin) == real


def test_install_commands_map_every_soname_for_three_package_managers():
    lines = dc.install_commands(["libxcb-icccm.so.4", "libxcb-keysyms.so.1",
                                 "libxcb-cursor.so.0"], os_ids=["fedora"])
    assert lines[0] == "Fedora/RHEL:    sudo dnf install -y xcb-util-cursor xcb-util-keysyms xcb-util-wm"
    assert "Debian/Ubuntu:  sudo apt-get install -y libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in lines
    assert "Arch:           sudo pacman -S --needed xcb-util-cursor xcb-util-keysyms xcb-util-wm" in lines
    odd = dc.install_commands(["libnotreal.so.9"], os_ids=[])
    assert odd == ["Also needed (find the package that provides each): libnotreal.so.9"]


def test_every_xcb_and_wayland_plugin_dependency_has_a_package():
    if FOLDER is None:
        pytest.skip("no PySide6 plugins")
    for name in ("xcb", "wayland"):
        plugin = dc.plugin_file(name, FOLDER)
        if plugin is None:
            continue
        for so in dc.read_elf(str(plugin)).needed:
            if not so.startswith(("libQt6", "libc.", "libm.", "libstdc++", "libgcc_s",
                                  "libpthread", "libdl.", "librt.")):
                assert so in dc.PACKAGES, f"{name}: no package known for {so}"


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


@needs_plugins
def test_a_complete_plugin_is_remembered(tmp_path, monkeypatch):
    plugin = str(dc.plugin_file("offscreen", FOLDER))
    stamp = tmp_path / "cache" / "ok"
    r = dc.Resolver(stamp=stamp)
    assert r.missing(plugin) == {} and stamp.exists()
    walked = []
    monkeypatch.setattr(r, "_walk", lambda p: walked.append(p) or {})
    assert r.missing(plugin) == {} and walked == []        # remembered: no walk
    r2 = dc.Resolver(stamp=stamp, ld_library_path="/elsewhere")
    monkeypatch.setattr(r2, "_walk", lambda p: walked.append(p) or {})
    r2.missing(plugin)
    assert walked == [plugin]                              # another search path: walked again


def test_dpgui_without_a_display_exits_2_with_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    env.update(PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "dpgui_qt"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    assert "no display to open a window on" in r.stderr and "Traceback" not in r.stderr
    assert "could not be initialized" not in r.stderr  # Qt's own abort never came
