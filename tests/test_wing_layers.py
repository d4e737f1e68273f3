"""The core's wings import each other only downwards (the order documented in
dpgui_qt/core/__init__.py): doctor > monitor > run > dataset | audit > config > base.

Read statically with ast, so imports inside functions count too: a late import that points
up is still a cycle waiting to happen."""
from __future__ import annotations

import ast
import pathlib

CORE = pathlib.Path(__file__).resolve().parents[1] / "dpgui_qt" / "core"

#: wing -> rank; a module may import wings of a lower rank (and its own wing) only.
#: dataset and audit share a rank and may not import each other.
RANK = {"base": 0, "config": 1, "dataset": 2, "audit": 2, "run": 3, "monitor": 4, "doctor": 5}


def _wing(dotted: str) -> str | None:
    parts = dotted.split(".")
    if parts[:2] != ["dpgui_qt", "core"] or len(parts) == 2:
        return None
    return parts[2] if parts[2] in RANK else "base"


def _imports(path: pathlib.Path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.lineno, node.module
            for alias in node.names:  # from dpgui_qt.core import safeio
                yield node.lineno, f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name


def upward_imports(core: pathlib.Path = CORE) -> list[str]:
    bad: dict[tuple, str] = {}  # one entry per import statement
    for path in sorted(core.rglob("*.py")):
        rel = path.relative_to(core).parts
        me = rel[0] if len(rel) > 1 else "base"
        if me not in RANK:
            bad[(path, 0)] = f"{path.relative_to(core)}: {me!r} is not a known wing (add it to RANK)"
            continue
        for line, dotted in _imports(path):
            if dotted.startswith(("dpgui_qt.gui", "dpgui_qt.commands", "dpgui_qt.cli")):
                bad.setdefault((path, line), f"{path.relative_to(core)}:{line} imports {dotted}")
                continue
            other = _wing(dotted)
            if other is None or other == me:
                continue
            if RANK[other] >= RANK[me]:
                bad.setdefault((path, line), f"{path.relative_to(core)}:{line} ({me}) imports "
                                              f"{dotted} ({other})")
    return sorted(bad.values())


def test_wings_import_only_downwards():
    assert upward_imports() == []


def test_the_check_sees_late_and_sideways_imports(tmp_path):
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "a.py").write_text(
        "def f():\n    from dpgui_qt.core.run import spec\n")
    (tmp_path / "dataset").mkdir()
    (tmp_path / "dataset" / "b.py").write_text("from dpgui_qt.core import audit\n")
    (tmp_path / "text.py").write_text("from dpgui_qt.core.config import document\n")
    (tmp_path / "monitor").mkdir()
    (tmp_path / "monitor" / "ok.py").write_text("from dpgui_qt.core.run import spec\n")
    found = upward_imports(tmp_path)
    assert len(found) == 3, found
    assert any("config/a.py:2" in f for f in found)
    assert any("dataset/b.py:1" in f for f in found)
    assert any(f.startswith("text.py:1") for f in found)
