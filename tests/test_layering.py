"""dpgui_qt.core is the Qt-free layer: importing all of it must not pull in Qt."""
from __future__ import annotations

import pathlib
import subprocess
import sys

CORE = pathlib.Path(__file__).resolve().parents[1] / "dpgui_qt" / "core"


def test_core_imports_no_qt():
    modules = sorted(
        "dpgui_qt.core." + ".".join(p.relative_to(CORE).with_suffix("").parts)
        for p in CORE.rglob("*.py") if p.name != "__init__.py")
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}:\n"
        "    importlib.import_module(m)\n"
        "bad = [m for m in sys.modules if m.startswith(('PySide6', 'PyQt', 'pyqtgraph', 'shiboken'))]\n"
        "print(bad)\n"
        "raise SystemExit(1 if bad else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=CORE.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_validate_does_not_import_qt():
    code = ("import sys, io, contextlib\nfrom dpgui_qt import cli\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):\n"
            "    rc = cli.main(['validate', '/nonexistent.toml'])\n"
            "assert rc == 2, rc  # the command really ran\n"
            "raise SystemExit(1 if any(m.startswith('PySide6') for m in sys.modules) else 0)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=CORE.parents[1])
    assert proc.returncode == 0, proc.stdout + proc.stderr
