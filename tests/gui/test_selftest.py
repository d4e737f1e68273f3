"""``dpgui --self-test``: passes from source; names what is broken when it is not."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dpgui_qt import selftest
from dpgui_qt.resources import schemas_dir

REPO = Path(__file__).resolve().parents[2]


def _run(schema_dir=None, gui=False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = selftest.run(schema_dir, gui=gui, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture
def schema_copy(tmp_path) -> Path:
    dst = tmp_path / "schemas"
    shutil.copytree(schemas_dir(), dst)
    return dst


def test_self_test_from_source_passes():
    """The real command, in a fresh interpreter, as a user runs it after a source install."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "dpgui_qt", "--self-test"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1, proc.stdout  # exactly one summary line
    line = lines[0]
    assert line.startswith("dpgui self-test: OK — "), line
    n_models = len(list((schemas_dir() / "model").glob("*.schema.json")))
    n_files = len(list(schemas_dir().rglob("*.schema.json")))
    assert f"{n_models} model schemas, {n_files} schema files, {n_models} templates" in line
    assert "Qt 6." in line and "pyqtgraph " in line and "pynvml: " in line
    assert line.rstrip().endswith("s)")


def test_in_process_without_gui_passes():
    rc, out, err = _run(gui=False)
    assert rc == 0, out + err
    assert out.startswith("dpgui self-test: OK") and "Qt skipped" in out
    assert err == ""


def test_invalid_schema_fails_with_the_file_and_place(schema_copy):
    path = schema_copy / "adapter" / "lora.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["properties"]["rank"]["type"] = "integerr"  # not a JSON Schema type
    path.write_text(json.dumps(schema), encoding="utf-8")
    rc, out, err = _run(schema_copy)
    assert rc == 1
    assert out.count("\n") == 1 and out.startswith("dpgui self-test: FAILED — ")
    assert "schema adapter/lora.schema.json: not a valid JSON Schema at properties/rank/type" in out
    assert "FAIL schema adapter/lora.schema.json" in err


def test_unparsable_schema_fails(schema_copy):
    (schema_copy / "monitoring.schema.json").write_text("{ not json", encoding="utf-8")
    rc, out, _err = _run(schema_copy)
    assert rc == 1
    assert "schema monitoring.schema.json: not valid JSON" in out


def test_broken_template_names_the_model(schema_copy):
    path = schema_copy / "model" / "flux.schema.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    schema["x-dpgui-template"]["dtype"] = "bf16"  # not an allowed dtype
    path.write_text(json.dumps(schema), encoding="utf-8")
    rc, out, err = _run(schema_copy)
    assert rc == 1
    assert "template flux: 1 error(s), first: " in out and "model.dtype" in out
    n_models = len(list((schema_copy / "model").glob("*.schema.json")))
    assert f"{n_models - 1}/{n_models} templates" in out
    assert err.count("FAIL ") == 1


def test_missing_schema_dir_fails_clearly(tmp_path):
    rc, out, _err = _run(tmp_path / "nowhere")
    assert rc == 1
    assert "FAILED — schemas: SchemaError: " in out and "main.schema.json" in out


def test_several_failures_are_counted(schema_copy):
    for name in ("main.schema.json", "dataset.schema.json"):
        p = schema_copy / name
        schema = json.loads(p.read_text(encoding="utf-8"))
        schema["type"] = 5
        p.write_text(json.dumps(schema), encoding="utf-8")
    rc, out, err = _run(schema_copy)
    assert rc == 1
    assert "more above" in out
    assert err.count("FAIL schema ") == 2


def test_no_nvidia_driver_still_passes(monkeypatch):
    import pynvml

    def no_driver():
        raise pynvml.NVMLError(pynvml.NVML_ERROR_LIBRARY_NOT_FOUND)

    monkeypatch.setattr(pynvml, "nvmlInit", no_driver)
    rc, out, _err = _run()
    assert rc == 0 and "pynvml: no driver" in out


def test_cli_routes_self_test_before_the_gui(monkeypatch):
    from dpgui_qt import cli

    calls = []
    monkeypatch.setattr(selftest, "run", lambda: calls.append(1) or 7)

    def no_gui(*_a, **_k):
        raise AssertionError("--self-test must not start the GUI")

    import dpgui_qt.gui.app as app

    monkeypatch.setattr(app, "run_gui", no_gui)
    assert cli.main(["--self-test"]) == 7 and calls == [1]


# ------------------------------------------------------------------ installed-form checks (#17)
def test_supervisor_check_runs_a_real_detached_supervisor():
    run = selftest._Run(io.StringIO())
    selftest._check_supervisor(run)
    assert run.failures == [] and run.facts["supervisor"] == "supervisor OK"


def test_supervisor_check_fails_when_the_supervisor_cannot_run(monkeypatch):
    from dpgui_qt.core.run import supervisor

    real = supervisor.start_run
    # a "python" that cannot run supervisor.py: what a frozen build without the entry shim does
    monkeypatch.setattr(supervisor, "start_run",
                        lambda argv, root, **kw: real(argv, root, **{**kw, "python": "/bin/false"}))
    rc, out, err = _run()
    assert rc == 1
    assert "run supervisor:" in err and "FAILED" in out


def test_tensorboard_check_fails_on_a_reader_that_loses_rows(monkeypatch):
    from dpgui_qt.core.monitor import tbevents

    monkeypatch.setattr(tbevents, "read_scalars", lambda folder: [])
    rc, out, err = _run()
    assert rc == 1 and "TensorBoard reader: RuntimeError: read back []" in err


def test_plot_check_fails_when_nothing_is_drawn(qapp, monkeypatch, tmp_path):
    import pyqtgraph as pg

    monkeypatch.setenv("DPGUI_CONFIG_DIR", str(tmp_path / "settings"))  # not the user's

    monkeypatch.setattr(pg.PlotItem, "plot", lambda self, *a, **k: None)
    rc, out, err = _run(gui=True)
    assert rc == 1 and "pyqtgraph plot: RuntimeError: the plot drew no curve" in err
