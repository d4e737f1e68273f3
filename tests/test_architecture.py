"""The package's import graph (issue #13): no module imports a private name (``_x``) from
another module, and no modules import each other in a circle. Read statically with ast,
every ``import`` statement counted, the late ones inside functions too (the same reading
as bench/arch_report.py, which prints these figures)."""
from __future__ import annotations

import ast
import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import arch_report  # noqa: E402 - after the sys.path entry


def _graph():
    mods = arch_report.modules(ROOT)
    trees = {m: ast.parse(p.read_text(encoding="utf-8"), str(p)) for m, p in mods.items()}
    return arch_report.imports(mods, trees)


def test_no_private_name_crosses_modules():
    _graph_unused, private = _graph()
    assert private == [], "make these public or move them:\n" + "\n".join(private)


def test_no_import_circles():
    graph, _private = _graph()
    loops = arch_report.circles(graph)
    assert loops == [], "\n".join(" <-> ".join(c) for c in loops)


def test_the_reader_sees_late_and_relative_imports(tmp_path):
    """The checks above can fail: a late relative import that closes a circle and a
    private name imported from a sibling are both found."""
    pkg = tmp_path / "dpgui_qt"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from dpgui_qt.b import _hidden\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n_hidden = 1\n")
    mods = arch_report.modules(tmp_path)
    trees = {m: ast.parse(p.read_text()) for m, p in mods.items()}
    graph, private = arch_report.imports(mods, trees)
    assert private == ["dpgui_qt.a <- dpgui_qt.b._hidden"]
    assert arch_report.circles(graph) == [["dpgui_qt.a", "dpgui_qt.b"]]


def test_every_noqa_says_why():
    """A noqa comment names its codes, then `` - `` and the reason (CONTRIBUTING.md)."""
    import re

    bare = []
    pattern = re.compile(r"#\s*noqa\b(?!: *[A-Z]+[0-9]+(?:, *[A-Z]+[0-9]+)* - \S)")
    for folder in ("dpgui_qt", "tests", "bench", "tools", "packaging", ".ci"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "dp_fixtures" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if pattern.search(line):
                    bare.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert bare == [], "\n".join(bare)
