"""The checks issue #13 asks CI to run are wired where they should be: .ci/run runs ruff,
mypy, lint-imports and the Qt-free test run before the suite; the workflow runs them on
Linux and Windows; the tools come with the test extras; numpy is declared."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _names(reqs: list[str]) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in reqs}


def test_numpy_and_the_tools_are_declared():
    project = _pyproject()["project"]
    assert "numpy" in _names(project["dependencies"])  # the core imports it
    assert {"ruff", "mypy", "import-linter", "pytest"} <= _names(
        project["optional-dependencies"]["test"])


def test_ci_runs_the_checks_before_the_suite():
    text = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    suite = text.index("python3 -m pytest -q -p no:cacheprovider -p randomly")
    for step in ("python3 -m ruff check .", "python3 -m mypy", "lint-imports",
                 "tests --ignore=tests/gui"):
        assert step in text, step
        assert text.index(step) < suite, f"{step} runs after the suite"
    # the Qt-free run happens in an environment that is checked to have no PySide6
    assert 'import PySide6' in text and "venv" in text


def test_mypy_is_strict_on_the_core():
    overrides = _pyproject()["tool"]["mypy"]["overrides"]
    core = next(o for o in overrides if "dpgui_qt.core.*" in o["module"])
    for flag in ("disallow_untyped_defs", "disallow_any_generics", "warn_return_any",
                 "disallow_untyped_calls", "no_implicit_reexport"):
        assert core.get(flag) is True, flag


def test_workflow_runs_lint_and_tests_on_linux_and_windows():
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((REPO / ".github" / "workflows" / "tests.yml").read_text(encoding="utf-8"))
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as True
    assert "push" in on and "pull_request" in on
    jobs = wf["jobs"]
    matrix = jobs["pytest"]["strategy"]["matrix"]
    assert {"ubuntu-latest", "windows-latest"} <= set(matrix["os"])
    assert {"3.11", "3.13"} <= set(matrix["python"])
    lint = " ".join(s.get("run", "") for s in jobs["lint"]["steps"])
    assert "ruff check" in lint and "mypy" in lint and "lint-imports" in lint
    noqt = " ".join(s.get("run", "") for s in jobs["core-without-qt"]["steps"])
    assert "--ignore=tests/gui" in noqt and "import PySide6" in noqt


def test_precommit_runs_the_same_three_checks():
    text = (REPO / ".pre-commit-config.yaml").read_text(encoding="utf-8")
    for hook in ("id: ruff", "id: mypy", "id: lint-imports"):
        assert hook in text, hook
