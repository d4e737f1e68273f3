"""The display check against the PySide6 installed here: its plugins' ELF dependencies, and
dpgui started where there is no display (it says so and exits 2, before Qt aborts). The
Qt-free rest is tests/test_displaycheck.py."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt.core import displaycheck as dc

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux loader")
FOLDER = dc.plugin_dir()
needs_plugins = pytest.mark.skipif(FOLDER is None or dc.plugin_file("xcb", FOLDER) is None,
                                   reason="PySide6's xcb plugin is not here")
REPO = Path(__file__).resolve().parents[2]


def test_dpgui_without_a_display_exits_2_with_the_reason(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")}
    env.update(PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path), XDG_RUNTIME_DIR=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "dpgui_qt"], env=env, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    assert "no display to open a window on" in r.stderr and "Traceback" not in r.stderr
    assert "could not be initialized" not in r.stderr  # Qt's own abort never came


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
