"""The Run page and its wiring into the main window (issue #6, GUI side).

``install(window)`` is all the main window calls: it registers the "run" page
factory, routes the Run menu (Start, Stop, Save Now, Save and Stop, Kill,
Environment…) to the page, answers ``window.runRequested`` from elsewhere, sets
``window.run_close_guard`` (closing with an active run asks: keep running in the
background / stop / cancel), and after start-up re-attaches to a run that is
still active (started by an earlier dpgui or by ``dpgui launch``).

Modules: :mod:`.page` (RunPage), :mod:`.controller` (RunController: supervisor,
log follower, parser, stop/kill off the UI thread), :mod:`.console`
(ConsoleView), :mod:`.env_dialog` (EnvironmentDialog), :mod:`.preflight`,
:mod:`.launch_settings` (EnvSettings, RunOptions, settings -> RunSpec).  Importing
this package is cheap; the page is built the first time it is needed.
"""
from __future__ import annotations

REATTACH_DELAY_MS = 200


def _page(window):
    return window.page("run")


def _connect_monitor(window, controller) -> None:
    """Feed the Monitor page the events the Run page already parses (no second reader)."""
    feed = getattr(window, "monitor_feed", None)
    if feed is None:
        return
    attached_dir = [None]

    def on_attached(state) -> None:
        attached_dir[0] = None
        feed.start_run(started_at=state.get("started_at_epoch"))
        on_state(state)

    def on_state(state) -> None:
        run_dir = controller.run_dir
        if run_dir and run_dir != attached_dir[0]:
            attached_dir[0] = run_dir
            feed.attach_run(run_dir, state.get("log_path"), started_at=state.get("started_at_epoch"))

    def refresh_runs(*_a) -> None:
        """The Monitor's Runs list follows starts and ends without a Refresh click."""
        slot = getattr(window, "_slots", {}).get("monitor")
        page = getattr(slot, "page", None) if slot is not None else None
        history = getattr(page, "history", None)
        if history is not None and history.output_dir is not None:
            history.refresh()

    controller.attached.connect(on_attached)
    controller.attached.connect(refresh_runs)
    controller.finished.connect(refresh_runs)
    controller.stateChanged.connect(on_state)
    controller.eventsParsed.connect(feed.feed_events)


def install(window, *, reattach: bool = True) -> None:
    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QKeySequence

    def factory(w):
        from dpgui_qt.gui.run.page import RunPage
        page = RunPage(w)
        w.run_page = page
        _connect_monitor(w, page.controller)
        return page

    window.run_page = None
    window.set_page_factory("run", factory)
    A = window.actions

    def start():
        window.show_page("run")
        _page(window).request_start()

    start_act = A["run.start"]
    try:
        start_act.triggered.disconnect(window.start_training)
    except (RuntimeError, TypeError):
        pass
    start_act.triggered.connect(start)
    A["run.stop"].triggered.connect(lambda: (window.show_page("run"), _page(window).stop()))

    def add(name, text, slot, tip, shortcut=None, enabled=False):
        act = window._action(name, text, slot, shortcut, None, tip)
        act.setEnabled(enabled)
        return act

    m = window.run_menu
    check = add("run.check", "&Check Before Training…",
                lambda: (window.show_page("run"), _page(window).check_now()),
                "Run the pre-launch checks on the files on disk without starting", "Ctrl+F5",
                True)
    m.insertAction(start_act, check)
    save = add("run.save", "Save &Now", lambda: _page(window).save_now(),
               "Checkpoint and save the model at the next step")
    save_quit = add("run.save_quit", "Save and Sto&p", lambda: _page(window).save_and_stop(),
                    "Checkpoint at the next step, then stop")
    kill = add("run.kill", "&Kill Training", lambda: _page(window).kill(),
               "SIGKILL every process of the run")
    env = add("run.environment", "&Environment…",
              lambda: (_page(window), window.edit_environment()),
              "diffusion-pipe checkout, Python environment, GPUs and variables", None, True)
    env.setShortcut(QKeySequence("Ctrl+Shift+E"))
    doctor = add("run.doctor", "&Doctor…", lambda: _page(window).open_doctor(),
                 "Check the training environment: torch, CUDA, driver, deepspeed, checkout",
                 None, True)
    m.addActions([save, save_quit, kill])
    m.addSeparator()
    m.addAction(env)
    m.addAction(doctor)

    def requested():
        page = window.run_page
        if page is not None and getattr(page, "_emitting", False):
            return                       # our own start announcing itself
        _page(window).request_start()

    window.runRequested.connect(requested)

    def close_guard() -> bool:
        page = window.run_page
        return True if page is None else page.confirm_close()

    window.run_close_guard = close_guard
    if reattach:
        # the window as context: the timer dies with it instead of firing into a
        # deleted window (a traceback at exit, or in the next test)
        QTimer.singleShot(REATTACH_DELAY_MS, window, lambda: reattach_active(window))


def reattach_active(window) -> bool:
    """Follow the newest run that is still active (if any); True when attached."""
    from dpgui_qt.core.run.runs import list_sessions
    from dpgui_qt.gui.run.launch_settings import state_root

    try:
        active = list_sessions(state_root(), active_only=True)
    except OSError:
        return False
    if not active:
        return False
    page = window.page("run")
    if page is None or page.controller.active:
        return False
    if not page.attach(active[0].state_dir):
        return False
    window.show_page("run")
    more = f" ({len(active) - 1} more active: pick them in the Run list)" if len(active) > 1 else ""
    window.statusBar().showMessage(f"Re-attached to run {active[0].run_id}, still running{more}",
                                   10000)
    return True
