"""``dpgui --self-test``: check that this dpgui is complete and works, then exit.

Meant for a freshly built or installed dpgui (frozen binary, wheel, source
checkout) on a machine that may have no display, no GPU and no diffusion-pipe:

1. every ``*.schema.json`` loads and is a valid Draft 2020-12 schema;
2. every model type's new-config template (:mod:`dpgui_qt.core.config.templates`, Qt-free)
   validates with no errors (path warnings are expected: the paths are placeholders);
3. every CLI subcommand module imports (they are imported by name at run time,
   which a frozen build can miss);
4. the detached run supervisor starts from this layout (frozen, installed or source)
   and runs a trivial command to its end, with the log and state it would keep for a
   training run;
5. a TensorBoard event file written here reads back (the Monitor's eval-loss source);
6. pyqtgraph imports and draws a plot into an image offscreen; pynvml imports (no NVIDIA
   driver is fine); PyAV writes a two-frame clip and the dataset core reads its header back;
7. the main window opens and closes (offscreen when there is no display) and the
   SVG app icon renders (needs Qt's SVG plugins in a frozen build).

Prints one summary line on stdout (failures are listed on stderr before it) and
returns 0 only if every check passed.
"""
from __future__ import annotations

import functools
import importlib
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, TextIO, TypeVar

T = TypeVar("T")


class _Run:
    def __init__(self, err: TextIO):
        self.err = err
        self.failures: list[str] = []
        self.facts: dict[str, str] = {}

    def check(self, name: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none aborts
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            self.fail(f"{name}: {type(exc).__name__}: {first}")
            if os.environ.get("DPGUI_SELFTEST_TRACEBACK"):
                traceback.print_exc(file=self.err)
            return None

    def fail(self, line: str) -> None:
        self.failures.append(line)
        print(f"dpgui self-test: FAIL {line}", file=self.err, flush=True)


# ------------------------------------------------------------------ checks
def _check_schemas(run: _Run, schema_dir: Path):
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError as MetaError

    from dpgui_qt.core.config.schema import SchemaRegistry

    registry = SchemaRegistry(schema_dir)  # raises when main.schema.json is missing
    files = registry.files()
    bad = 0
    for path in files:
        rel = path.relative_to(schema_dir).as_posix()
        try:
            with open(path, encoding="utf-8") as fh:
                schema = json.load(fh)
            Draft202012Validator.check_schema(schema)
        except json.JSONDecodeError as exc:
            bad += 1
            run.fail(f"schema {rel}: not valid JSON: {exc}")
        except MetaError as exc:
            bad += 1
            where = "/".join(str(p) for p in exc.path) or "(root)"
            run.fail(f"schema {rel}: not a valid JSON Schema at {where}: {exc.message}")
    models = registry.model_types()
    if not models:
        run.fail(f"schemas: no model schemas in {schema_dir / 'model'}")
    run.facts["schemas"] = f"{len(models)} model schemas, {len(files)} schema files"
    return registry  # templates run even after a bad file: they name their own failures


def _check_templates(run: _Run, registry) -> None:
    from dpgui_qt.core.config.document import ConfigDocument, DocKind
    from dpgui_qt.core.config.validate import Options, Validator
    from dpgui_qt.core.config.templates import build_template  # Qt-free

    validator = Validator(registry)
    ok = 0
    types = registry.model_types()
    for model_type in types:
        try:
            doc = ConfigDocument.from_text(build_template(registry, model_type))
            errors = [f for f in validator.validate(doc, DocKind.MAIN, Options()) if f.is_error]
        except Exception as exc:  # noqa: BLE001 - any failure is the check's finding
            run.fail(f"template {model_type}: {type(exc).__name__}: {exc}")
            continue
        if errors:
            run.fail(f"template {model_type}: {len(errors)} error(s), first: {errors[0].format()}")
        else:
            ok += 1
    run.facts["templates"] = f"{ok} templates" if ok == len(types) else f"{ok}/{len(types)} templates"


def _check_presets(run: _Run, registry, root: Path) -> None:
    """Every preset file loads and every model type has a preset (loading only: the
    suite validates each preset's config)."""
    from dpgui_qt.core.config import presets

    items = presets.load(folder=Path(root) / "presets")
    missing = sorted(set(registry.model_types()) - {p.model_type for p in items})
    if missing:
        run.fail(f"no preset for {', '.join(missing)}")
    run.facts["presets"] = f"{len(items)} presets"


def _check_commands(run: _Run) -> None:
    from dpgui_qt.commands import COMMANDS

    for name, module in sorted(COMMANDS.items()):
        mod = run.check(f"command {name}",
                        functools.partial(importlib.import_module, f"dpgui_qt.commands.{module}"))
        if mod is not None and not (hasattr(mod, "add_parser") and hasattr(mod, "run")):
            run.fail(f"command {name}: dpgui_qt.commands.{module} lacks add_parser/run")


def _check_supervisor(run: _Run) -> None:
    """Start the run supervisor exactly as a launch does (``sys.executable -I supervisor.py``;
    in a frozen build that is this program, see packaging/entry.py) on a command that prints
    a marker, and wait for it to record the exit."""
    import tempfile

    from dpgui_qt.core.run import supervisor

    marker = "dpgui-selftest-supervisor"
    argv = (["cmd", "/c", "echo", marker] if os.name == "nt"
            else ["/bin/sh", "-c", f"echo {marker}"])
    with tempfile.TemporaryDirectory(prefix="dpgui-selftest-") as root:
        state = supervisor.start_run(argv, root, wait_s=30.0)
        deadline = time.monotonic() + 30.0
        while state.get("status") in ("starting", "running") and time.monotonic() < deadline:
            time.sleep(0.05)
            state = supervisor.read_state(state["state_dir"]) or state
        if state.get("status") != "exited" or state.get("exit_code") != 0:
            err = Path(state.get("state_dir", root)) / supervisor.SUPERVISOR_ERR
            detail = err.read_text(errors="replace").strip()[-300:] if err.is_file() else ""
            raise RuntimeError(f"supervisor ended as {state.get('status')} (exit "
                               f"{state.get('exit_code')}, error {state.get('error')}) {detail}")
        log = Path(state["log_path"]).read_text(errors="replace")
        if marker not in log:
            raise RuntimeError(f"the run log {state['log_path']} lacks the command's output")
    run.facts["supervisor"] = "supervisor OK"


def _check_tensorboard(run: _Run) -> None:
    import tempfile

    from dpgui_qt.core.monitor import tbevents

    with tempfile.TemporaryDirectory(prefix="dpgui-selftest-") as folder:
        path = Path(folder) / "events.out.tfevents.1.selftest"
        path.write_bytes(tbevents.encode_file_version()
                         + tbevents.encode_scalar_event("eval/loss", 0.25, 10)
                         + tbevents.encode_tensor_scalar_event("train/loss", 0.5, 20))
        rows = tbevents.read_scalars(folder)
        got = sorted((r.tag, r.step, round(r.value, 6)) for r in rows)
        if got != [("eval/loss", 10, 0.25), ("train/loss", 20, 0.5)]:
            raise RuntimeError(f"read back {got}")
    run.facts["tensorboard"] = "TensorBoard reader OK"


def _check_pyqtgraph(run: _Run) -> None:
    import pyqtgraph as pg

    run.facts["pyqtgraph"] = f"pyqtgraph {pg.__version__}"


def _check_av(run: _Run) -> None:
    import tempfile
    from fractions import Fraction

    import av
    import numpy as np

    from dpgui_qt.core.dataset.video import read_header

    with tempfile.TemporaryDirectory(prefix="dpgui-selftest-") as tmp:
        path = os.path.join(tmp, "t.mp4")
        with av.open(path, "w", format="mp4") as c:
            st = c.add_stream("mpeg4", rate=Fraction(24))
            st.width, st.height, st.pix_fmt = 16, 16, "yuv420p"
            for _ in range(2):
                frame = av.VideoFrame.from_ndarray(np.zeros((16, 16, 3), np.uint8),
                                                   format="rgb24")
                for pkt in st.encode(frame):
                    c.mux(pkt)
            for pkt in st.encode():
                c.mux(pkt)
        h = read_header(path)
        if not (h.ok and h.frames == 2 and h.fps == 24):
            run.fail(f"PyAV: the test clip reads back as {h}")
    run.facts["av"] = f"PyAV {av.__version__}"


def _check_nvml(run: _Run) -> None:
    import pynvml

    try:
        pynvml.nvmlInit()
    except Exception:  # noqa: BLE001 - NVMLError_LibraryNotFound, DriverNotLoaded, ...
        run.facts["pynvml"] = "pynvml: no driver"
        return
    try:
        count = pynvml.nvmlDeviceGetCount()
        run.facts["pynvml"] = f"pynvml: {count} GPU{'s' if count != 1 else ''}"
    finally:
        try:
            pynvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down after a failed init may raise anything
            pass


def _ensure_platform() -> None:
    """Offscreen when nothing could show a window (Linux without X11/Wayland); a UTF-8
    locale when none is set (env -i), which Qt would otherwise switch to with a warning."""
    if sys.platform.startswith("linux") and not any(
            os.environ.get(v) for v in ("LC_ALL", "LC_CTYPE", "LANG")):
        os.environ["LC_ALL"] = "C.UTF-8"
    if os.environ.get("QT_QPA_PLATFORM"):
        return
    if sys.platform.startswith("linux") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def _quiet_offscreen_warnings() -> None:
    """Drop the offscreen plugin's harmless 'does not support propagateSizeHints()'."""
    from PySide6.QtCore import qInstallMessageHandler

    def handler(_mode, _context, message):
        if "propagateSizeHints" not in message:
            print(message, file=sys.stderr)

    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        qInstallMessageHandler(handler)


def _delete_now(obj) -> None:
    """deleteLater(), carried out now: processEvents() outside an event loop leaves it
    pending, and a window left alive goes on running its timers in the caller."""
    from PySide6.QtCore import QCoreApplication, QEvent

    obj.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


def _check_qt(run: _Run) -> None:
    _ensure_platform()
    from PySide6.QtCore import qVersion

    from dpgui_qt.gui.app import make_app

    _quiet_offscreen_warnings()
    app = make_app()
    run.facts["qt"] = f"Qt {qVersion()}"

    def icon():
        from PySide6.QtGui import QIcon, QImageReader

        from dpgui_qt.resources import resources_dir

        formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
        if "svg" not in formats:
            raise RuntimeError("Qt has no SVG image plugin (imageformats/qsvg)")
        path = resources_dir() / "icons" / "dpgui.svg"
        pix = QIcon(str(path)).pixmap(64, 64)
        if pix.isNull():
            raise RuntimeError(f"{path} does not render")

    run.check("app icon", icon)

    def window():
        from dpgui_qt.gui.mainwindow import MainWindow

        win = MainWindow()
        win.resize(900, 600)
        win.show()
        for _ in range(3):
            app.processEvents()
        if not win.isVisible():
            raise RuntimeError("the main window did not show")
        # hide, not close: closeEvent would save this window's geometry as the user's
        win.hide()
        _delete_now(win)  # with its timers: nothing of it may run after the check

    run.check("main window", window)

    def plot():
        import pyqtgraph as pg
        from PySide6.QtGui import QColor

        w = pg.PlotWidget(background="w")
        w.plot([0.0, 1.0, 4.0, 9.0], pen=pg.mkPen("r", width=3))
        w.resize(200, 120)
        w.show()
        app.processEvents()
        image = w.grab().toImage()
        w.close()
        _delete_now(w)
        red = sum(1 for y in range(0, image.height(), 2) for x in range(0, image.width(), 2)
                  if QColor(image.pixel(x, y)).red() > 180 and QColor(image.pixel(x, y)).green() < 80)
        if red < 5:
            raise RuntimeError("the plot drew no curve into the image")

    if "pyqtgraph" in run.facts:
        run.check("pyqtgraph plot", plot)


# ------------------------------------------------------------------ entry point
def run(schema_dir: str | os.PathLike[str] | None = None, *, gui: bool = True,
        out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run every check; print the summary line; 0 if all passed, else 1.

    ``schema_dir`` replaces the bundled ``schemas/`` for the schema and template
    checks (tests point it at a broken copy); ``gui=False`` skips the Qt checks.
    """
    out = out or sys.stdout
    err = err or sys.stderr
    start = time.perf_counter()
    r = _Run(err)

    def locate() -> Path:
        from dpgui_qt.resources import schemas_dir

        return Path(schema_dir) if schema_dir is not None else schemas_dir()

    root = r.check("schemas", locate)
    registry = r.check("schemas", lambda: _check_schemas(r, root)) if root else None
    if registry is not None and root is not None:
        r.check("templates", lambda: _check_templates(r, registry))
        r.check("presets", lambda: _check_presets(r, registry, root))
    r.check("commands", lambda: _check_commands(r))
    r.check("run supervisor", lambda: _check_supervisor(r))
    r.check("TensorBoard reader", lambda: _check_tensorboard(r))
    r.check("pyqtgraph", lambda: _check_pyqtgraph(r))
    r.check("pynvml", lambda: _check_nvml(r))
    r.check("PyAV", lambda: _check_av(r))
    if gui:
        r.check("Qt", lambda: _check_qt(r))
    else:
        r.facts["qt"] = "Qt skipped"

    secs = time.perf_counter() - start
    parts = [r.facts.get(k) for k in ("schemas", "templates", "presets", "supervisor",
                                      "tensorboard", "qt", "pyqtgraph", "av", "pynvml")]
    summary = ", ".join(p for p in parts if p)
    if r.failures:
        more = f" (+{len(r.failures) - 1} more above)" if len(r.failures) > 1 else ""
        print(f"dpgui self-test: FAILED — {r.failures[0]}{more}; {summary} ({secs:.1f}s)",
              file=out, flush=True)
        return 1
    print(f"dpgui self-test: OK — {summary} ({secs:.1f}s)", file=out, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(run())
