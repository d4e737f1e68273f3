"""Native packages (issue #17): the .deb made from a one-folder build, the version in one
place, and what About says. The real PyInstaller build, its .deb install/remove cycle and
the Xvfb start run in .ci/run (packaging/build.sh --deb); here a stand-in folder is used."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import dpgui_qt
from dpgui_qt import buildinfo

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "packaging" / "linux"))
import make_deb  # noqa: E402 - after the sys.path entry

needs_dpkg = pytest.mark.skipif(not shutil.which("dpkg-deb"), reason="dpkg-deb is not installed")


def fake_onedir(tmp: Path) -> Path:
    folder = tmp / "dpgui-dir"
    (folder / "_internal" / "PySide6").mkdir(parents=True)
    (folder / "dpgui").write_text("#!/bin/sh\necho fake\n")
    (folder / "dpgui").chmod(0o700)
    (folder / "_internal" / "PySide6" / "libQt6Core.so.6").write_bytes(b"\x7fELF" + b"\0" * 64)
    (folder / "_internal" / "libfoo.so").symlink_to("PySide6/libQt6Core.so.6")
    return folder


@needs_dpkg
def test_deb_layout_control_and_modes(tmp_path):
    out = make_deb.build(fake_onedir(tmp_path), tmp_path / "dist", "1.2.3")
    assert out.name == f"dpgui_1.2.3_{make_deb.deb_arch()}.deb"
    fields = subprocess.run(["dpkg-deb", "-f", str(out)], capture_output=True, text=True,
                            check=True).stdout
    control = dict(re.findall(r"^([\w-]+): (.*)$", fields, re.M))
    assert control["Package"] == "dpgui" and control["Version"] == "1.2.3"
    depends = [d.strip() for d in control["Depends"].split(",")]
    for lib in ("libxcb-cursor0", "libxcb-icccm4", "libxcb-keysyms1", "libegl1"):
        assert lib in depends
    assert depends[0].startswith("libc6 (>= 2.")
    listing = subprocess.run(["dpkg-deb", "-c", str(out)], capture_output=True, text=True,
                             check=True).stdout
    rows = {line.split()[-1] if " -> " not in line else line.split()[-3]: line
            for line in listing.splitlines()}
    assert rows["./usr/lib/dpgui/dpgui"].startswith("-rwxr-xr-x root/root")
    assert rows["./usr/lib/dpgui/_internal/PySide6/libQt6Core.so.6"].startswith("-rw-r--r-- root/root")
    assert "./usr/bin/dpgui -> ../lib/dpgui/dpgui" in listing
    assert "./usr/lib/dpgui/_internal/libfoo.so -> PySide6/libQt6Core.so.6" in listing
    assert "./usr/share/applications/dpgui.desktop" in rows
    assert "./usr/share/icons/hicolor/scalable/apps/dpgui.svg" in rows
    assert "./usr/share/doc/dpgui/copyright" in rows
    # extracted, the command runs through its symlink
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "-x", str(out), str(root)], check=True)
    ran = subprocess.run([str(root / "usr" / "bin" / "dpgui")], capture_output=True, text=True)
    assert ran.stdout.strip() == "fake"


def test_deb_refuses_a_folder_that_is_not_a_build(tmp_path):
    with pytest.raises(SystemExit, match="not a one-folder build"):
        make_deb.build(tmp_path, tmp_path / "dist", "1.0")


def test_version_lives_in_one_place():
    """pyproject reads it from dpgui_qt/__init__.py; no other file spells it out."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["hatch"]["version"]["path"] == "dpgui_qt/__init__.py"
    version = dpgui_qt.__version__
    spelled = []
    for path in [*(REPO / "packaging").rglob("*"), REPO / ".github"]:
        if path.is_file() and path.suffix in (".py", ".sh", ".ps1", ".iss", ".spec", ".in", ".yml"):
            if re.search(rf"(?<![\d.]){re.escape(version)}(?![\d.])", path.read_text(errors="replace")):
                spelled.append(path.relative_to(REPO).as_posix())
    assert spelled == []


def test_about_facts_name_the_version_and_the_schema_commit():
    rows = dict(buildinfo.facts())
    assert rows["dpgui"] == dpgui_qt.__version__
    assert dpgui_qt.DIFFUSION_PIPE_COMMIT[:10] in rows["diffusion-pipe"]
    assert rows["Installed as"].startswith("source checkout")
    assert dpgui_qt.DIFFUSION_PIPE_COMMIT in (REPO / "ref" / "README.md").read_text()


def test_install_form_of_frozen_layouts(monkeypatch, tmp_path):
    exe = tmp_path / "cache" / "0.1.0-abc" / "dpgui"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    monkeypatch.setattr(sys, "_MEIPASS", str(exe.parent / "_internal"), raising=False)
    monkeypatch.setenv("DPGUI_SINGLE_FILE", "/home/u/bin/dpgui")
    assert buildinfo.install_form().startswith("single file /home/u/bin/dpgui (unpacked once into")
    monkeypatch.delenv("DPGUI_SINGLE_FILE")
    assert buildinfo.install_form() == f"one folder {exe.parent}"
