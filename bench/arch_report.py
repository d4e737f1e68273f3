"""Architecture figures for a dpgui tree (issue #13's before/after report).

    python bench/arch_report.py [TREE] [--no-mypy]

TREE is a checkout's root (default: this one). Prints, for the package under TREE/dpgui_qt:
the module count, the median and largest module in lines, the ten longest functions, the
import circles and the private names imported across modules (both read from the source
with ``ast``, late imports inside functions included), and the error count of mypy with its
default settings (the tree's own configuration ignored, so two trees are measured alike)
and, where the tree configures mypy, with that configuration.

Run it on an old commit through a worktree, e.g.
    git worktree add /tmp/before 0293149 && python bench/arch_report.py /tmp/before
"""
from __future__ import annotations

import argparse
import ast
import pathlib
import re
import statistics
import subprocess
import sys
import tempfile

PACKAGE = "dpgui_qt"


def modules(tree: pathlib.Path) -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every .py file of the package."""
    root = tree / PACKAGE
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = list(path.relative_to(tree).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def line_count(path: pathlib.Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def functions(name: str, tree: ast.AST) -> list[tuple[int, str]]:
    """(lines, qualified name) for every function and method, nested ones included."""
    found: list[tuple[int, str]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                qual = f"{prefix}{child.name}"
                start = min([child.lineno] + [d.lineno for d in child.decorator_list])
                found.append(((child.end_lineno or child.lineno) - start + 1, f"{name}:{qual}"))
                walk(child, qual + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(tree, "")
    return found


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mods: dict[str, pathlib.Path], trees: dict[str, ast.AST]
            ) -> tuple[dict[str, set[str]], list[str]]:
    """The package's own import graph (every import statement, wherever it stands) and the
    private names imported from another module (``from m import _x``)."""
    graph: dict[str, set[str]] = {m: set() for m in mods}
    private: list[str] = []
    for name, tree in trees.items():
        is_pkg = mods[name].name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    target = alias.name
                    while target and target not in mods:
                        target = target.rpartition(".")[0]
                    if target and target != name:
                        graph[name].add(target)
            elif isinstance(node, ast.ImportFrom):
                base = resolve(name, is_pkg, node)
                if not base.startswith(PACKAGE):
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    target = sub if sub in mods else base
                    while target and target not in mods:
                        target = target.rpartition(".")[0]
                    if target and target != name:
                        graph[name].add(target)
                    if (alias.name.startswith("_") and not alias.name.startswith("__")
                            and sub not in mods):
                        private.append(f"{name} <- {base}.{alias.name}")
    return graph, sorted(private)


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    advanced = True
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    top = stack.pop()
                    on_stack.discard(top)
                    comp.append(top)
                    if top == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return sorted(out)


def mypy_errors(tree: pathlib.Path, default: bool) -> str:
    """mypy's summary line for the package: with its defaults (an empty configuration) or
    with the tree's own configuration (pyproject.toml)."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "mypy", "--cache-dir", str(pathlib.Path(tmp) / "cache")]
        if default:
            cfg = pathlib.Path(tmp) / "mypy.ini"
            cfg.write_text("[mypy]\n", encoding="utf-8")
            cmd += ["--config-file", str(cfg), PACKAGE]
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    summary = lines[-1] if lines else proc.stderr.strip() or "mypy printed nothing"
    match = re.match(r"Found (\d+) errors? in (\d+) files?", summary)
    if match:
        return f"{match.group(1)} errors in {match.group(2)} files"
    if summary.startswith("Success"):
        return "0 errors"
    return summary


def report(tree: pathlib.Path, run_mypy: bool) -> str:
    mods = modules(tree)
    if not mods:
        raise SystemExit(f"arch_report: no {PACKAGE}/ under {tree}")
    trees = {m: ast.parse(p.read_text(encoding="utf-8"), str(p)) for m, p in mods.items()}
    sizes = {m: line_count(p) for m, p in mods.items()}
    largest = max(sizes, key=lambda m: sizes[m])
    funcs = sorted((f for m, t in trees.items() for f in functions(m, t)),
                   key=lambda f: (-f[0], f[1]))
    graph, private = imports(mods, trees)
    loops = circles(graph)

    out = [f"tree: {tree}",
           f"modules: {len(mods)}",
           f"module lines: median {statistics.median(sizes.values()):g}, "
           f"max {sizes[largest]} ({largest}), total {sum(sizes.values())}",
           "10 longest functions (lines):"]
    out += [f"  {n:5d}  {q}" for n, q in funcs[:10]]
    out.append(f"import circles: {len(loops)}")
    out += ["  " + " <-> ".join(c) for c in loops]
    out.append(f"private names imported across modules: {len(private)}")
    out += ["  " + p for p in private]
    if run_mypy:
        out.append(f"mypy (default settings): {mypy_errors(tree, default=True)}")
        pyproject = tree / "pyproject.toml"
        if pyproject.exists() and "[tool.mypy]" in pyproject.read_text(encoding="utf-8"):
            out.append(f"mypy (the tree's pyproject settings): {mypy_errors(tree, default=False)}")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", nargs="?", type=pathlib.Path,
                    default=pathlib.Path(__file__).resolve().parents[1])
    ap.add_argument("--no-mypy", action="store_true", help="skip the (slow) mypy runs")
    args = ap.parse_args(argv)
    print(report(args.tree.resolve(), not args.no_mypy))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
