"""GUI entry point: ``dpgui [CONFIG...]`` and ``dpgui --screenshot OUT.png [CONFIG]``.

``DPGUI_BENCH_FIRST_PAINT=1`` makes the app print ``DPGUI_FIRST_PAINT <unix time>``
when the main window has been exposed and painted with its config loaded, then
quit (used by ``bench/bench_startup.py``).
"""
from __future__ import annotations

import os
import sys
import time
from typing import cast

SCREENSHOT_SIZE = (1400, 900)


def _without_platform(qt_args: list[str]) -> list[str]:
    out, skip = [], False
    for a in qt_args:
        if skip:
            skip = False
            continue
        name = a.lstrip("-").split("=", 1)[0]
        if name == "platform":
            skip = "=" not in a
            continue
        out.append(a)
    return out


def check_display(qt_args: list[str]) -> None:
    """Before Qt loads its platform plugin: exit 2 with the exact reason (and the install
    command) instead of Qt's abort; switch to Wayland where X11 cannot load but a Wayland
    session can (see dpgui_qt.core.displaycheck)."""
    from dpgui_qt.core import displaycheck

    plan = displaycheck.plan(qt_args, os.environ)
    for note in plan.notes:
        print(note, file=sys.stderr)
    if plan.error:
        print(plan.error, file=sys.stderr)
        raise SystemExit(2)
    os.environ.update(plan.env)


def make_app(qt_args: list[str] | None = None, *, screenshot: bool = False):
    """The QApplication, created once. ``qt_args`` are Qt's own options from the command
    line (``-style fusion``, ``-platform xcb``, ``-reverse``); the saved theme is applied
    before any window exists."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    app = cast("QApplication | None", QApplication.instance())  # ours, if one exists
    if app is None:
        qt_args = list(qt_args or [])
        if screenshot:  # always offscreen
            qt_args = _without_platform(qt_args)
        else:
            check_display(qt_args)
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(sys.argv[:1] + qt_args)
        from dpgui_qt.gui import theme

        theme.apply(theme.saved(), app)
    app.setApplicationName("dpgui")
    app.setOrganizationName("dpgui")
    app.setApplicationDisplayName("dpgui")
    from dpgui_qt import __version__

    app.setApplicationVersion(__version__)
    from dpgui_qt.gui import gcguard

    gcguard.install(app)  # cyclic GC only on the GUI thread (see gcguard)
    return app


class _AfterFirstPaint:
    """Event filter: run callbacks once, right after the window's first paint.

    Work that can wait (importing jsonschema, the first validation) starts here rather
    than on a zero-timer, which fires before the first paint and would compete with it
    for the interpreter.
    """

    def __init__(self, window, callbacks):
        from PySide6.QtCore import QEvent, QObject, QTimer

        done = [False]

        class Filter(QObject):
            def eventFilter(self, obj, event):
                if event.type() == QEvent.Type.Paint and not done[0]:
                    done[0] = True
                    for fn in callbacks:
                        QTimer.singleShot(0, obj, fn)  # dies with the window
                return False

        self.filter = Filter()
        window.installEventFilter(self.filter)


def take_screenshot(window, out: str) -> bool:
    """Render ``window`` at 1400x900 (validated, a key selected; a dataset config shows
    the Dataset tab with its scan finished) into ``out``."""
    from PySide6.QtWidgets import QApplication

    window.resize(*SCREENSHOT_SIZE)
    window.show()
    for _ in range(3):
        QApplication.processEvents()
    window.session.validate_now()
    if window.session.kind == "dataset":  # a dataset config: its tab, scan finished
        from dpgui_qt.gui.dataset.page import prepare_screenshot

        prepare_screenshot(window)
    ed = window.editor
    for path in (("optimizer", "lr"), ("model", "type")):
        if window.session.kind != "dataset" and window.session.doc.has(path) \
                and ed.select_path(path):
            break
    for _ in range(5):
        QApplication.processEvents()
    # DPGUI_SCREENSHOT_PAGE=run shows another tab; DPGUI_SCREENSHOT_WAIT_MS lets timers run
    # first (e.g. the Run page re-attaching to an active run and reading its log)
    page = os.environ.get("DPGUI_SCREENSHOT_PAGE")
    if page:
        window.show_page(page)
    wait_ms = int(os.environ.get("DPGUI_SCREENSHOT_WAIT_MS", "0") or 0)
    end = time.monotonic() + wait_ms / 1000
    while time.monotonic() < end:
        QApplication.processEvents()
        time.sleep(0.01)
    run_page = window.created_page("run")
    if run_page is not None:
        run_page.console.flush()
    for _ in range(3):
        QApplication.processEvents()
    pix = window.grab()
    return pix.save(out)


def run_gui(args) -> int:
    files = list(getattr(args, "files", None) or [])
    shot = getattr(args, "screenshot", None)
    if shot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    app = make_app(getattr(args, "qt_args", None), screenshot=bool(shot))
    from dpgui_qt.gui import icons, messages
    from dpgui_qt.gui.mainwindow import MainWindow

    app.setWindowIcon(icons.app_icon())
    if shot:
        window = MainWindow()
        window.resize(*SCREENSHOT_SIZE)
        if files:
            from dpgui_qt.core.config.document import DocumentError
            from dpgui_qt.gui.mainwindow import describe_open_error

            try:
                window.session.open(files[0])
            except DocumentError as exc:
                text, info, _details = describe_open_error(files[0], exc)
                print(f"dpgui: {text} {info}", file=sys.stderr)
                return 2
        if not take_screenshot(window, shot):
            print(f"dpgui: could not write {shot} (is the folder there and writable?)",
                  file=sys.stderr)
            return 2
        print(f"dpgui: wrote {shot}")
        window.session.undo_stack.clear()
        window.setWindowModified(False)
        return 0

    messages.install_excepthook()
    bench = os.environ.get("DPGUI_BENCH_FIRST_PAINT") == "1"
    windows = []
    window = MainWindow()
    if not bench:
        window.restore_settings()
    windows.append(window)
    if files:
        window.open_file(files[0], ask=False)
        for extra in files[1:]:
            w = MainWindow()
            w.open_file(extra, ask=False)
            windows.append(w)
    if bench:
        def report_and_quit():
            print(f"DPGUI_FIRST_PAINT {time.time():.6f}", flush=True)
            app.quit()
        after = [report_and_quit]
    else:
        # after the first paint: import jsonschema in the background, then validate
        after = [window.session.start_warmup]
    probe = _AfterFirstPaint(window, after)
    for w in windows:
        w.show()
    rc = app.exec()
    del probe
    return int(rc)
