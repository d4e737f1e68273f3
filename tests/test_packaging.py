"""Static checks of the packaging (issue #8). Nothing here runs PyInstaller: building takes
minutes, so `.ci/run` builds and tests the real binary (packaging/build.sh)."""
from __future__ import annotations

import ast
import configparser
import os
import re
import shutil
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from dpgui_qt import __version__
from dpgui_qt.cli import COMMANDS

REPO = Path(__file__).resolve().parent.parent
PKG = REPO / "packaging"
SPEC = PKG / "dpgui.spec"
HICOLOR = PKG / "linux" / "icons" / "hicolor"


# ------------------------------------------------------------------ the spec, executed with stubs
class _Target:
    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        self.binaries, self.datas, self.pure, self.scripts = [], [], [], []
        _Target.made.append(self)


def _exec_spec(argv: list[str], tmp_path: Path, env: dict | None = None) -> dict:
    """Run the spec as PyInstaller would, with recording stand-ins for its build classes."""
    kinds = {}

    def kind(name):
        cls = type(name, (_Target,), {})
        kinds[name] = cls
        return cls

    _Target.made = []
    ns = {"SPECPATH": str(PKG), "workpath": str(tmp_path / "work"), "__file__": str(SPEC),
          **{n: kind(n) for n in ("Analysis", "PYZ", "EXE", "COLLECT")}}
    old_argv, old_env, old_path = sys.argv, dict(os.environ), list(sys.path)
    sys.argv = [str(SPEC), *argv]
    os.environ.pop("DPGUI_ONEDIR", None)
    os.environ.update(env or {})
    try:
        exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), ns)
    finally:
        sys.argv, sys.path[:] = old_argv, old_path
        os.environ.clear()
        os.environ.update(old_env)
    ns["_made"] = {type(t).__name__: t for t in _Target.made}
    return ns


@pytest.fixture(scope="module")
def onefile(tmp_path_factory):
    return _exec_spec([], tmp_path_factory.mktemp("spec"))


def test_single_file_build_by_default(onefile):
    made = onefile["_made"]
    assert "COLLECT" not in made
    exe = made["EXE"]
    assert exe.kwargs["name"] == "dpgui"
    assert exe.kwargs["console"] is True  # dpgui is also a CLI
    assert exe.kwargs["upx"] is False


@pytest.mark.parametrize("how", ["arg", "env"])
def test_one_folder_build(how, tmp_path):
    ns = _exec_spec(["--onedir"], tmp_path) if how == "arg" else \
        _exec_spec([], tmp_path, {"DPGUI_ONEDIR": "1"})
    made = ns["_made"]
    assert made["COLLECT"].kwargs["name"] == "dpgui-dir"
    assert made["EXE"].kwargs["exclude_binaries"] is True


def test_version_comes_from_the_package(onefile):
    assert onefile["VERSION"] == __version__


def test_schemas_and_resources_are_bundled(onefile):
    datas = onefile["_made"]["Analysis"].kwargs["datas"]
    assert (str(REPO / "schemas"), "schemas") in datas
    assert (str(REPO / "resources"), "resources") in datas


def test_dynamic_imports_are_hidden_imports(onefile):
    hidden = set(onefile["_made"]["Analysis"].kwargs["hiddenimports"])
    for module in set(COMMANDS.values()):
        assert f"dpgui_qt.commands.{module}" in hidden
    assert {"dpgui_qt.selftest", "dpgui_qt.core.config.templates", "dpgui_qt.gui.mainwindow"} <= hidden
    assert {"PySide6.QtOpenGL", "PySide6.QtOpenGLWidgets"} <= hidden  # pyqtgraph, by name


HEAVY = [
    "PySide6.QtWebEngineCore", "PySide6.QtWebEngineWidgets", "PySide6.QtQml", "PySide6.QtQuick",
    "PySide6.QtQuick3D", "PySide6.Qt3DCore", "PySide6.QtMultimedia", "PySide6.QtCharts",
    "PySide6.QtTest", "PySide6.QtNetwork", "PySide6.QtDesigner",
    "PyQt5", "PyQt6", "PySide2", "tkinter", "scipy", "matplotlib", "IPython", "pytest",
    "hypothesis", "pandas",
]


def test_heavy_modules_are_excluded(onefile):
    excludes = set(onefile["_made"]["Analysis"].kwargs["excludes"])
    missing = [m for m in HEAVY if m not in excludes]
    assert not missing, missing


def _imported_modules() -> set[str]:
    """Top-level names of every module dpgui_qt imports (statically)."""
    names = set()
    for path in (REPO / "dpgui_qt").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module)
                names.update(f"{node.module}.{a.name}" for a in node.names)
    return names


def test_nothing_the_app_imports_is_excluded(onefile):
    excludes = set(onefile["_made"]["Analysis"].kwargs["excludes"])
    used = _imported_modules()
    clash = sorted(m for m in used if any(m == e or m.startswith(e + ".") for e in excludes))
    assert not clash, f"excluded but imported by dpgui_qt: {clash}"
    for needed in ("numpy", "PySide6.QtCore", "PySide6.QtGui", "PySide6.QtWidgets", "PIL", "av",
                   "jsonschema", "tomlkit", "pyqtgraph", "pynvml", "platformdirs"):
        assert needed not in excludes


def test_file_filter_drops_unused_qt_parts(onefile):
    keep = onefile["_keep"]

    def kept(name):
        return keep((name, "/src", "BINARY"))

    for name in ("PySide6/Qt/lib/libQt6Core.so.6", "PySide6/Qt/lib/libQt6Gui.so.6",
                 "PySide6/Qt/lib/libQt6Widgets.so.6", "PySide6/Qt/lib/libQt6Svg.so.6",
                 "PySide6/Qt/lib/libQt6OpenGL.so.6", "PySide6\\Qt6Core.dll",
                 "PySide6/Qt/plugins/platforms/libqxcb.so",
                 "PySide6/Qt/plugins/platforms/libqoffscreen.so",
                 "PySide6/Qt/plugins/imageformats/libqsvg.so",
                 "PySide6/Qt/plugins/iconengines/libqsvgicon.so",
                 "PySide6\\plugins\\platforms\\qwindows.dll"):
        assert kept(name), name
    for name in ("PySide6/Qt/lib/libQt6Quick.so.6", "PySide6/Qt/lib/libQt6Qml.so.6",
                 "PySide6/Qt/lib/libQt6Network.so.6", "PySide6\\Qt6Pdf.dll",
                 "PySide6/Qt/translations/qtbase_de.qm", "PySide6\\translations\\qt_fr.qm",
                 "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
                 "PySide6/Qt/plugins/sqldrivers/libqsqlite.so"):
        assert not kept(name), name


def test_windows_icon_is_set_on_windows_only(onefile):
    icon = onefile["_made"]["EXE"].kwargs["icon"]
    if sys.platform.startswith("win"):
        assert icon and Path(icon).is_file()
    else:
        assert icon is None


# ------------------------------------------------------------------ icons and the .desktop file
def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", path
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("size", [16, 24, 32, 48, 64, 128, 256, 512])
def test_hicolor_icons(size):
    path = HICOLOR / f"{size}x{size}" / "apps" / "dpgui.png"
    assert _png_size(path) == (size, size)


def test_scalable_icon_is_the_app_svg():
    assert (HICOLOR / "scalable" / "apps" / "dpgui.svg").read_bytes() == \
        (REPO / "resources" / "icons" / "dpgui.svg").read_bytes()


def test_windows_ico():
    data = (PKG / "windows" / "dpgui.ico").read_bytes()
    reserved, kind, count = struct.unpack("<HHH", data[:6])
    assert (reserved, kind) == (0, 1) and count >= 5
    sizes = set()
    for i in range(count):
        w, h, _c, _r, _p, _bpp, length, offset = struct.unpack("<BBBBHHII", data[6 + 16 * i: 22 + 16 * i])
        assert data[offset: offset + 8] == b"\x89PNG\r\n\x1a\n" and offset + length <= len(data)
        sizes.add(w or 256)
    assert {16, 32, 48, 256} <= sizes


def test_desktop_file():
    path = PKG / "linux" / "dpgui.desktop"
    validate = shutil.which("desktop-file-validate")
    if validate:
        proc = subprocess.run([validate, str(path)], capture_output=True, text=True)
        assert proc.returncode == 0 and "error" not in proc.stdout, proc.stdout + proc.stderr
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str
    parser.read(path, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Name"] and entry["Comment"]
    assert entry["Exec"].split()[0] == "dpgui" and entry["TryExec"] == "dpgui"
    assert entry["Icon"] == "dpgui"  # resolved through the hicolor theme
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


# ------------------------------------------------------------------ scripts and CI
SCRIPTS = [PKG / "build.sh", PKG / "linux" / "install.sh", REPO / ".ci" / "run"]


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.relative_to(REPO).as_posix())
def test_shell_scripts_are_executable_and_parse(script):
    assert os.access(script, os.X_OK), f"{script} is not executable (git update-index --chmod=+x)"
    assert script.read_text(encoding="utf-8").startswith("#!/usr/bin/env bash\n")
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    proc = subprocess.run([bash, "-n", str(script)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_scripts_are_executable_in_git():
    """The executable bit must be committed, not only set in this checkout."""
    git = shutil.which("git")
    if git is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    proc = subprocess.run([git, "ls-files", "-s", *[str(s.relative_to(REPO)) for s in SCRIPTS]],
                          cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0 or not proc.stdout.strip():
        pytest.skip("scripts not committed yet")
    for line in proc.stdout.splitlines():
        assert line.startswith("100755"), line


def test_build_sh_tests_the_artifact():
    text = (PKG / "build.sh").read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    assert "env -i PATH=/usr/bin:/bin" in text
    for needed in ("--self-test", "--version", "validate", "--onedir"):
        assert needed in text


def test_build_ps1_tests_the_artifact():
    text = (PKG / "build.ps1").read_text(encoding="utf-8")
    assert "$ErrorActionPreference = 'Stop'" in text
    for needed in ("--self-test", "--version", "'validate'", "'--', '--onedir'",
                   "Environment.Clear()"):
        assert needed in text
    pwsh = shutil.which("pwsh")
    if pwsh:
        cmd = ("$e=$null; [System.Management.Automation.Language.Parser]::ParseFile("
               f"'{PKG / 'build.ps1'}', [ref]$null, [ref]$e) | Out-Null; exit $e.Count")
        assert subprocess.run([pwsh, "-NoProfile", "-Command", cmd]).returncode == 0


def test_ci_builds_and_tests_the_binary():
    text = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "\nset -euo pipefail\n" in text
    test_cmd = text.index("python3 -m pytest")
    build = text.index("bash packaging/ci_native.sh")
    assert build > test_cmd, "the build runs after the tests"
    native = (REPO / "packaging" / "ci_native.sh").read_text(encoding="utf-8")
    assert "\nset -euo pipefail\n" in native
    assert "pyinstaller" in native.lower() and "packaging/build.sh --deb" in native
    # the .deb is installed, self-tested from the installed command and removed again
    for step in ("apt-get install", "/usr/bin/dpgui --self-test", "apt-get purge",
                 "--hide-system-xcb"):
        assert step in native


def test_build_extra_has_pyinstaller():
    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))[
        "project"]["optional-dependencies"]
    assert any(re.match(r"pyinstaller\b", d, re.I) for d in extras["build"])


def test_release_workflow():
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "release.yml").read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["push"]["tags"] == ["v*"]
    matrix = wf["jobs"]["build"]["strategy"]["matrix"]["include"]
    oses = " ".join(m["os"] for m in matrix)
    assert "ubuntu" in oses and "windows" in oses
    builds = " ".join(m["build"] for m in matrix)
    assert "packaging/build.sh" in builds and "packaging/build.ps1" in builds
    steps = wf["jobs"]["build"]["steps"]
    assert any(s.get("uses", "").startswith("actions/upload-artifact") for s in steps)
    assert any("${{ matrix.build }}" in s.get("run", "") for s in steps)


# ------------------------------------------------------------------ frozen-only entry and hook
def _load(path: Path, name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_entry_recognises_the_queue_runner_command_line():
    """runqueue.ensure_runner spawns [sys.executable, "-I", <queue_runner.py>, QUEUE, ROOT]."""
    entry = _load(PKG / "entry.py", "dpgui_entry_q")
    from dpgui_qt.core.run import queue_runner

    assert Path(queue_runner.__file__).name == "queue_runner.py"
    assert entry._helper_argv(["-I", queue_runner.__file__, "/q", "/s", "--poll", "1"]) == \
        ("dpgui_qt.core.run.queue_runner", ["/q", "/s", "--poll", "1"])
    assert entry._supervisor_argv(["-I", queue_runner.__file__, "/q", "/s"]) is None
    assert entry._helper_argv(["-I", "/x/other.py", "/q"]) is None


def test_entry_recognises_the_supervisor_command_line():
    """supervisor.start_run spawns [sys.executable, "-I", <supervisor.py>, STATE_DIR]."""
    entry = _load(PKG / "entry.py", "dpgui_entry")
    from dpgui_qt.core.run import supervisor

    assert entry._supervisor_argv(["-I", supervisor.__file__, "/s/run1"]) == ["/s/run1"]
    assert entry._supervisor_argv(["-I", "/x/supervisor.py", "/s", "--foreground"]) == \
        ["/s", "--foreground"]
    assert Path(supervisor.__file__).name == "supervisor.py"
    for argv in ([], ["--self-test"], ["validate", "a.toml"], ["-I", "/x/other.py", "/s"]):
        assert entry._supervisor_argv(argv) is None


def test_runtime_hook_restores_the_users_library_path(onefile, monkeypatch):
    hooks = onefile["_made"]["Analysis"].kwargs["runtime_hooks"]
    assert [Path(h).name for h in hooks] == ["pyi_rth_dpgui_env.py"]
    if not sys.platform.startswith("linux"):
        pytest.skip("LD_LIBRARY_PATH is Linux-only")
    monkeypatch.setattr(sys, "_MEIPASS", "/tmp/_MEIabc", raising=False)
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEIabc:/opt/user")
    monkeypatch.setenv("LD_LIBRARY_PATH_ORIG", "/opt/user")
    monkeypatch.setenv("PYINSTALLER_RESET_ENVIRONMENT", "0")
    _load(Path(hooks[0]), "rth1")
    assert os.environ["LD_LIBRARY_PATH"] == "/opt/user" and "LD_LIBRARY_PATH_ORIG" not in os.environ
    assert os.environ["PYINSTALLER_RESET_ENVIRONMENT"] == "1"
    monkeypatch.setenv("LD_LIBRARY_PATH", "/tmp/_MEIabc")  # the user had none
    _load(Path(hooks[0]), "rth2")
    assert "LD_LIBRARY_PATH" not in os.environ
