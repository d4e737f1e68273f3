"""The Run page and its wiring into the main window (issue #6, GUI side).

:func:`run_page_spec` is all the main window takes from here: a
:class:`~dpgui_qt.gui.pages.PageSpec` with the "run" page factory, the Run menu
(Check, Save Now, Save and Stop, Kill, Environment…, Doctor…), Start and Stop routed to
the page, an answer to ``window.runRequested`` from elsewhere, the close guard (closing
with an active run asks: keep running in the background / stop / cancel), the Monitor
feed it fills, and after start-up a re-attach to a run that is still active (started by
an earlier dpgui or by ``dpgui launch``).

Modules: :mod:`.page` (RunPage) and its parts :mod:`.header` (RunHeader,
OutcomeBanner), :mod:`.options_panel` (EnvironmentBox, RunOptionsPanel),
:mod:`.command_preview` (CommandPreview), :mod:`.console_pane` (ConsolePane);
:mod:`.controller` (RunController: supervisor, log follower, parser, stop/kill off
the UI thread), :mod:`.console` (ConsoleView), :mod:`.env_dialog`
(EnvironmentDialog), :mod:`.doctor_dialog` (the Doctor), :mod:`.preflight`,
:mod:`.launch_settings` (EnvSettings, RunOptions, settings -> RunSpec).  Importing
this package is cheap; the page is built the first time it is needed.
"""
from __future__ import annotations

REATTACH_DELAY_MS = 200

NO_RUN_TEXT = ("Start training from <b>Run ▸ Start Training</b> (F5). dpgui saves the config, "
               "checks it, and shows diffusion-pipe's output here.")


def connect_monitor(page, feed) -> None:
    """Feed the Monitor the events the Run page already parses (no second reader)."""
    controller = page.controller
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

    # the Monitor's Runs list follows starts and ends without a Refresh click
    controller.attached.connect(on_attached)
    controller.attached.connect(lambda *_a: feed.runs_changed())
    controller.finished.connect(lambda *_a: feed.runs_changed())
    controller.stateChanged.connect(on_state)
    controller.eventsParsed.connect(feed.feed_events)


def run_page_spec(window, *, reattach: bool = True):
    """The Run tab as the main window's page API wants it: the page (built on first
    show), the Run menu entries, Start/Stop routed to it, the close guard (an active
    run: keep it running in the background / stop it / cancel), the Monitor feed it
    fills, and, after start-up, re-attaching to a run that is still active."""
    from PySide6.QtCore import QTimer

    from dpgui_qt.gui.pages import EmptyState, PageAction, PageSpec

    def page():
        return window.page("run")

    def shown():
        window.show_page("run")
        return page()

    def factory(w):
        from dpgui_qt.gui.run.page import RunPage
        return RunPage(w)

    def requested() -> None:
        built = window.created_page("run")
        if built is not None and built.announcing_start:
            return                       # our own start announcing itself
        page().request_start()

    def ready() -> None:
        window.runRequested.connect(requested)
        if reattach:
            # the window as context: the timer dies with it instead of firing into a
            # deleted window (a traceback at exit, or in the next test)
            QTimer.singleShot(REATTACH_DELAY_MS, window, lambda: reattach_active(window))

    A = window.actions
    return PageSpec(
        "run", "Run", factory,
        EmptyState("No run yet", NO_RUN_TEXT, [A["run.start"], A["run.validate"]]),
        actions=[
            PageAction("run.check", "&Check Before Training…", lambda: shown().check_now(),
                       "Run the pre-launch checks on the files on disk without starting",
                       "Ctrl+F5", before="run.start"),
            PageAction("run.save", "Save &Now", lambda: page().save_now(),
                       "Checkpoint and save the model at the next step", enabled=False),
            PageAction("run.save_quit", "Save and Sto&p", lambda: page().save_and_stop(),
                       "Checkpoint at the next step, then stop", enabled=False),
            PageAction("run.kill", "&Kill Training", lambda: page().kill(),
                       "SIGKILL every process of the run", enabled=False),
            PageAction("run.environment", "&Environment…",
                       lambda: (page(), window.edit_environment()),
                       "diffusion-pipe checkout, Python environment, GPUs and variables",
                       "Ctrl+Shift+E", separator=True),
            PageAction("run.doctor", "&Doctor…", lambda: page().open_doctor(),
                       "Check the training environment: torch, CUDA, driver, deepspeed, "
                       "checkout"),
        ],
        handles={"run.start": lambda: shown().request_start(),
                 "run.stop": lambda: shown().stop()},
        close_guard=lambda built: built.confirm_close(),
        takes={"monitor": connect_monitor},
        on_ready=ready,
    )


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
