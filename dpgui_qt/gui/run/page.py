"""The Run page: options, command preview, pre-flight, start/stop, live console,
phase header and the outcome of a finished run.

Its parts are widgets of their own: :class:`~.header.RunHeader` and
:class:`~.header.OutcomeBanner`, :class:`~.options_panel.EnvironmentBox` and
:class:`~.options_panel.RunOptionsPanel`, :class:`~.command_preview.CommandPreview`,
:class:`~.console_pane.ConsolePane`; the page holds the logic between them.

One :class:`RunPage` per main window (``window.page("run")``).  It follows one
run at a time through a :class:`~dpgui_qt.gui.run.controller.RunController`;
runs keep going when the window closes and are re-attached at the next start
(see :mod:`dpgui_qt.gui.run` for the window wiring).
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFrame, QScrollArea, QSplitter, QVBoxLayout, QWidget

from dpgui_qt.core.run import control
from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.phase import Phase
from dpgui_qt.core.run.runs import list_sessions, resume_candidates
from dpgui_qt.core.run.spec import RunSpec, SpecError, masked_env
from dpgui_qt.core.text import format_duration
from dpgui_qt.gui import messages
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.run import preflight as pf
from dpgui_qt.gui.run.command_preview import CommandPreview
from dpgui_qt.gui.run.console_pane import ConsolePane
from dpgui_qt.gui.run.controller import RunController
from dpgui_qt.gui.run.env_dialog import EnvironmentDialog, status_html
from dpgui_qt.gui.run.header import OutcomeBanner, RunHeader, escape_html
from dpgui_qt.gui.run.launch_settings import (Detected, EnvSettings, RunOptions, build_spec,
                                        headless_command, state_root)
from dpgui_qt.gui.run.options_panel import EnvironmentBox, RunOptionsPanel

PHASE_COLORS = {
    Phase.STARTING: "#546e7a", Phase.CACHING: "#8e24aa", Phase.TRAINING: "#1e88e5",
    Phase.SAVING: "#ef8f00", Phase.FINISHED: "#2e7d32", Phase.FAILED: "#c62828",
    Phase.STOPPED: "#6d4c41",
}
PHASE_TEXT = {
    Phase.STARTING: "Starting", Phase.CACHING: "Caching", Phase.TRAINING: "Training",
    Phase.SAVING: "Saving", Phase.FINISHED: "Finished", Phase.FAILED: "Failed",
    Phase.STOPPED: "Stopped",
}


class RunPage(QWidget):
    """The Run tab."""
    runStarted = Signal(dict)     # state.json of a run started from this page

    def __init__(self, window, parent=None, *, platform: str | None = None):
        super().__init__(parent)
        self.setObjectName("RunPage")
        self.window_ = window
        self.session = window.session
        self.platform = platform or sys.platform
        self.env = EnvSettings.load()
        self.options = RunOptions()
        self.spec: RunSpec | None = None
        self.spec_error: str | None = None
        self.detected: Detected | None = None
        self._output_dir: str | None = None
        self._starting = False
        self.announcing_start = False   # True while our own start emits runRequested
        self._build()
        self.controller = RunController(self.console, self)
        c = self.controller
        c.attached.connect(self._attached)
        c.statusChanged.connect(lambda _s: self._update_header())
        c.progress.connect(lambda _p: self._update_header())
        c.stateChanged.connect(lambda _s: self._update_header())
        c.finished.connect(self._finished)
        c.startFailed.connect(self._start_failed)
        c.actionStarted.connect(self._action_started)
        c.actionDone.connect(self._action_done)
        c.loading.connect(self._loading)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._update_header)
        self._spec_timer = QTimer(self)
        self._spec_timer.setSingleShot(True)
        self._spec_timer.setInterval(150)
        self._spec_timer.timeout.connect(self.refresh_spec)
        s = self.session
        bind(s.changed, self, lambda _c: self._spec_timer.start())
        s.documentReplaced.connect(self._spec_timer.start)
        bind(s.pathChanged, self, lambda _p: self._spec_timer.start())
        self.refresh_spec()
        self._refresh_sessions()
        self._update_header()

    # ================================================================ layout
    def _build(self) -> None:
        """Header, outcome banner, and beside each other the settings column
        (environment, run options, command) and the console."""
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(8)
        self.header = RunHeader(self)
        root.addWidget(self.header)
        self.banner = OutcomeBanner(self)
        root.addWidget(self.banner)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        self.splitter = split
        split.addWidget(self._build_side())
        self.console_pane = ConsolePane(self.env.console_max_lines, self)
        split.addWidget(self.console_pane)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 830])
        root.addWidget(split, 1)
        self._alias_parts()
        self._connect_parts()

    def _build_side(self) -> QScrollArea:
        side = QWidget(self)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 4, 0)
        sl.setSpacing(4)
        self.env_box = EnvironmentBox(side)
        sl.addWidget(self.env_box)
        from dpgui_qt.gui.hosts import where          # this machine / WSL / SSH hosts (#15)
        self.where_panel = where.install(self, sl)
        self.where_panel.changed.connect(lambda _k: self._update_preview())
        self.options_panel = RunOptionsPanel(side)
        sl.addWidget(self.options_panel)
        self.command_box = CommandPreview(side)
        sl.addWidget(self.command_box, 1)
        scroll = QScrollArea(self)
        self.side_scroll = scroll        # only scrolls in windows smaller than 1280x800
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        return scroll

    def _alias_parts(self) -> None:
        """The parts' widgets under the page's own names (its logic and tests use them)."""
        h, o, c, p = self.header, self.options_panel, self.command_box, self.console_pane
        self.phase_label, self.title_label, self.sub_label, self.busy = (
            h.phase_label, h.title_label, h.sub_label, h.busy)
        self.start_btn, self.check_btn, self.save_btn = h.start_btn, h.check_btn, h.save_btn
        self.save_quit_btn, self.stop_btn, self.kill_btn = h.save_quit_btn, h.stop_btn, h.kill_btn
        self.env_label, self.env_btn, self.doctor_btn = (
            self.env_box.env_label, self.env_box.env_btn, self.env_box.doctor_btn)
        self.resume_combo, self.switches, self.switch_fields = (
            o.resume_combo, o.switches, o.switch_fields)
        self.preview, self.preview_info = c.preview, c.preview_info
        self.copy_btn, self.copy_cli_btn = c.copy_btn, c.copy_cli_btn
        self.session_combo, self.console, self.search = p.session_combo, p.console, p.search
        self.follow_btn, self.log_btn, self.folder_btn, self.footer = (
            p.follow_btn, p.log_btn, p.folder_btn, p.footer)

    def _connect_parts(self) -> None:
        # clicked passes `checked`: every slot through a lambda; stop and kill ask first
        for btn, slot in ((self.start_btn, self.request_start), (self.check_btn, self.check_now),
                          (self.save_btn, self.save_now), (self.save_quit_btn, self.save_and_stop),
                          (self.stop_btn, self.stop), (self.kill_btn, self.kill),
                          (self.env_btn, self.edit_environment), (self.doctor_btn, self.open_doctor),
                          (self.copy_btn, self.copy_command),
                          (self.copy_cli_btn, self.copy_headless),
                          (self.log_btn, self.open_log), (self.folder_btn, self.open_run_folder),
                          (self.options_panel.refresh_btn, self.refresh_resume)):
            btn.clicked.connect(lambda _checked=False, f=slot: f())
        self.options_panel.changed.connect(self._options_changed)
        self.session_combo.activated.connect(self._session_picked)
        self.console.rowsChanged.connect(lambda _n: self._update_footer())

    # ============================================================ spec / preview
    def _options_changed(self, *_a) -> None:
        self.options = self.options_panel.options()
        self._spec_timer.start()

    def set_options(self, opts: RunOptions) -> None:
        """Set the run options (tests, "resume" from the outcome banner)."""
        self.options_panel.set_options(opts)
        self.options = opts
        self.refresh_spec()

    def set_environment(self, env: EnvSettings, save: bool = True) -> None:
        self.env = env
        if save:
            env.save()
        self.console.max_rows = max(1000, int(env.console_max_lines))
        from dpgui_qt.gui.session import forget_trainer_cwd
        forget_trainer_cwd()              # relative paths now resolve against the new checkout
        self.refresh_spec()

    def config_path(self) -> str | None:
        p = self.session.path
        return str(p) if p is not None else None

    def refresh_spec(self) -> None:
        """Rebuild the spec and the preview from the settings, options and config."""
        self._spec_timer.stop()
        cfg = self.config_path() or os.path.join(os.getcwd(), "untitled.toml")
        try:
            self.spec, self.detected = build_spec(cfg, self.env, self.options, self.platform)
            self.spec_error = None
        except (SpecError, ValueError) as e:
            self.spec, self.spec_error = None, str(e)
            from dpgui_qt.gui.run.launch_settings import detect
            self.detected = detect(self.env)
        self._update_preview()
        self._update_env_label()
        od = None
        if self.spec is not None:
            try:
                od = envmod.output_dir_on_host(self.spec, self.session.doc.values())
            except (SpecError, OSError, ValueError):
                od = None
        if od != self._output_dir:
            self._output_dir = od
            self.refresh_resume()

    def command_text(self) -> str:
        """The copyable one-line command (what the preview shows first, with the
        values of secret variables in full: copying is an explicit request)."""
        remote = self.where_panel.remote_command(self.config_path())
        if remote is not None:
            return remote[0]
        if self.spec is None:
            return ""
        return self.spec.command().preview(reveal_secrets=True)

    def _update_preview(self) -> None:
        remote = self.where_panel.remote_command(self.config_path())
        if remote is not None:          # the run goes to an SSH host or several (#15)
            text, where, tip = remote
            self.command_box.show_command(text, where, tip)
            return
        if self.spec is None:
            self.command_box.show_error(str(self.spec_error))
            return
        try:
            cmd = self.spec.command()
        except SpecError as e:
            self.command_box.show_error(str(e))
            return
        env = " ".join(f"{k}={v}" for k, v in masked_env(cmd.env).items())
        where = (f"Working directory: {cmd.cwd}" if cmd.host.is_this_machine
                 else f"Runs in {cmd.host.describe()} in {cmd.trainer_cwd}")
        self.command_box.show_command(cmd.preview(), where,
                                      f"{where}\nAdded environment: {env or '(none)'}")

    def _update_env_label(self) -> None:
        d = self.detected
        lines = []
        if d is not None:
            lines.append(status_html(bool(d.checkout), "diffusion-pipe: " + (
                escape_html(d.checkout) if d.checkout else "not found")))
            lines.append(status_html(bool(d.deepspeed), "deepspeed: " + (
                escape_html(d.deepspeed) if d.deepspeed else "not found")))
        e = self.env
        try:
            g = e.gpus()
            gpus = "all visible GPUs" if g is None else (
                f"{g} GPU{'s' if g != 1 else ''}" if isinstance(g, int)
                else "GPUs " + ",".join(map(str, g)))
        except ValueError as ex:
            gpus = f"invalid GPU list ({ex})"
        extras = [gpus, f"port {e.master_port}" if e.master_port else "default port"]
        nccl = [n for n, on in (("P2P", e.nccl_p2p_disable), ("IB", e.nccl_ib_disable)) if on]
        if nccl:
            extras.append("NCCL " + "/".join(nccl) + " off")
        if e.expandable_segments:
            extras.append("expandable segments")
        if e.extra_env:
            extras.append(f"{len(e.extra_env)} extra variable{'s' if len(e.extra_env) != 1 else ''}")
        lines.append(" · ".join(extras))
        self.env_label.setText("<br>".join(lines))

    def refresh_resume(self) -> None:
        cands = resume_candidates(self._output_dir) if self._output_dir else []
        if not self.options_panel.set_resume_candidates(cands):
            self._options_changed()          # the chosen folder has gone: a fresh run

    def copy_command(self) -> None:
        QGuiApplication.clipboard().setText(self.command_text())
        self._status("Command copied")

    def copy_headless(self) -> None:
        cfg = self.config_path() or "CONFIG.toml"
        QGuiApplication.clipboard().setText(headless_command(cfg, self.env, self.options))
        self._status("dpgui launch command copied")

    def open_doctor(self, modal: bool = False):
        """The environment doctor for these settings and the open config."""
        from dpgui_qt.gui.run.doctor_dialog import show_doctor

        s = getattr(self, "session", None)
        values = s.doc.values() if s is not None else None
        return show_doctor(self, self.env, values, self.platform, modal=modal,
                           config_path=s.path if s is not None else None)

    def edit_environment(self) -> bool:
        dlg = EnvironmentDialog(self.env, self, self.platform)
        if dlg.exec() != EnvironmentDialog.DialogCode.Accepted:
            return False
        self.set_environment(dlg.settings())
        return True

    def _status(self, msg: str, ms: int = 5000) -> None:
        self.window_.statusBar().showMessage(msg, ms)

    # ============================================================== pre-flight
    def _documents(self) -> list:
        """The documents this run reads that are open here: the main config and its
        dataset / eval dataset files."""
        return [self.session] + list(self.window_.companions())

    def save_for_start(self) -> list | None:
        """diffusion-pipe reads the files on disk: ask to save every edited document of
        the run (or cancel).  Returns the names saved, or None when cancelled/failed."""
        dirty = [d for d in self._documents() if d.modified or d.path is None]
        if not dirty:
            return []
        names = ", ".join(d.display_name() for d in dirty)
        ans = messages.ask(self, "Save before training?",
                           f"Save the changes to {names} before starting?",
                           "diffusion-pipe reads the files on disk: without saving, it would "
                           "train on the last saved versions, not on what you see.",
                           ("Save and Continue", "cancel"), "Save and Continue")
        if ans != "Save and Continue":
            return None
        if not self.window_.save():
            return None
        if any(d.modified or d.path is None for d in self._documents()):
            return None
        return [d.display_name() for d in dirty]

    def gate_report(self, saved: list | None = None) -> pf.PreflightReport:
        """Run the launch gate on the files on disk (what the trainer will read)."""
        from dpgui_qt.core.run.gate import run_gate
        from dpgui_qt.gui.session import forget_trainer_cwd

        forget_trainer_cwd()
        self.refresh_spec()
        if self.spec is None:
            findings = [envmod.PreflightIssue("error", "spec", self.spec_error or "invalid settings",
                                       "Check Run ▸ Environment.")]
            return pf.PreflightReport(findings, saved=saved or [],
                                      recheck=lambda: self.gate_report(saved), fix=self.apply_fixes,
                                      env=self.env, values=self.session.doc.values())
        QGuiApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            gate = run_gate(self.spec, registry=self.session.registry)
        finally:
            QGuiApplication.restoreOverrideCursor()
        try:
            command = self.spec.command().preview()
        except SpecError:
            command = ""
        return pf.PreflightReport(gate.findings, gate.files, command, saved or [],
                                  recheck=lambda: self.gate_report(saved), fix=self.apply_fixes,
                                  env=self.env, values=self.session.doc.values())

    def apply_fixes(self, actions: list) -> bool:
        """One-click fixes from the gate: ("make_absolute", file, key path, absolute)."""
        from dpgui_qt.core.config.document import ConfigDocument, DocumentError
        done = False
        for act in actions:
            if not act or act[0] != "make_absolute":
                continue
            _kind, file, path, absolute = act
            doc_session = next((d for d in self._documents() if d.path is not None
                                and str(Path(d.path).resolve()) == str(Path(file).resolve())), None)
            try:
                if doc_session is not None:
                    doc_session.set_value(tuple(path), absolute)
                    doc_session.save()
                else:
                    doc = ConfigDocument.load(file)
                    doc.set(tuple(path), absolute)
                    doc.save()
                done = True
            except DocumentError as exc:
                messages.error(self, "Cannot fix the path", str(exc))
                return done
        if done:
            self._status("Paths made absolute and saved", 6000)
        return done

    def request_start(self) -> bool:
        """Start Training: save every edited document of the run (asked), run the
        launch gate on the files on disk, show what it found (skipped when nothing),
        start.  Returns True when a start was requested."""
        if self._starting:
            return False
        if self.controller.active:
            messages.info(self, "A run is active", "This window is following a run that is "
                          "still going.", "Stop it first, or wait for it to end.")
            return False
        if self.session.kind != "main":
            messages.warning(self, "Cannot start training", "The open file is a dataset config.",
                             "Open the main training config (the one that names this dataset) "
                             "to train.")
            return False
        saved = self.save_for_start()
        if saved is None:
            return False
        if self.where_panel.remote:     # an SSH host or several: upload plan, then the run there
            return self.where_panel.start(self.config_path() or "") is not None
        rep = self.gate_report(saved)
        if not rep.clean:
            answer, rep = pf.ask(self, rep)
            if answer == "cancel" or (answer == "start" and rep.errors):
                return False
        return self._launch()

    def _launch(self) -> bool:
        """Start the trainer (the gate has run and its verdict was accepted)."""
        if self.spec is None:
            return False
        values = self.session.doc.values()
        cmd = self.spec.command()
        self._starting = True
        self.banner.hide()
        self.console.clear()
        self._set_phase_label(Phase.STARTING)
        self.title_label.setText("Starting…")
        self.sub_label.setText(cmd.preview()[:160])
        self._update_buttons()
        self.announcing_start = True
        try:
            self.window_.runRequested.emit()
        finally:
            self.announcing_start = False
        self.controller.start(cmd, state_root(), config=str(self.spec.config),
                              output_dir=envmod.output_dir_on_host(self.spec, values),
                              resume_from=self.spec.resume_name,
                              exits_early_ok=self.spec.exits_early_ok)
        return True

    def check_now(self) -> pf.PreflightReport:
        """Run ▸ Check: the gate alone (asks to save edited documents first), always
        shown, also when nothing is wrong."""
        saved = self.save_for_start()
        if saved is None:
            return pf.PreflightReport()
        rep = self.gate_report(saved)
        answer, rep = pf.ask(self, rep)
        if answer == "force" or (answer == "start" and not rep.errors):
            if not self.controller.active and not self._starting:
                self._launch()       # started from the check dialog, on the files it checked
        return rep

    def _start_failed(self, msg: str) -> None:
        self._starting = False
        self._update_header()
        messages.error(self, "Training did not start", "The run supervisor could not start.", msg)

    # ================================================================ attach
    def attach(self, state_dir) -> bool:
        try:
            self.controller.attach(state_dir)
        except FileNotFoundError as e:
            messages.error(self, "Cannot open run", str(e))
            return False
        return True

    def _attached(self, st: dict) -> None:
        self._starting = False
        self.banner.hide()
        self._clock.start()
        self._refresh_sessions(st.get("run_id"))
        self._update_header()
        if st.get("status") != "failed_to_start":
            self.runStarted.emit(st)

    def _loading(self, frac: float) -> None:
        if frac >= 1.0:
            self.busy.hide()
            return
        self.busy.setRange(0, 100)
        self.busy.setFormat("Reading log %p%")
        self.busy.setValue(int(frac * 100))
        self.busy.show()

    def _refresh_sessions(self, select: str | None = None) -> None:
        cur = select or self.session_combo.currentData()
        self.session_combo.blockSignals(True)
        self.session_combo.clear()
        try:
            handles = list_sessions(state_root())[:20]
        except OSError:
            handles = []
        if not handles:
            self.session_combo.addItem("(no runs yet)", None)
        for h in handles:
            try:
                st = h.state()
                eff = h.effective_status(st)
            except (FileNotFoundError, OSError):
                continue
            label = {"running": "running", "starting": "starting", "exited":
                     f"exit {st.get('exit_code')}", "failed_to_start": "did not start",
                     "lost": "lost"}.get(eff, eff)
            cfg = Path(st.get("config") or "").name
            self.session_combo.addItem(f"{h.run_id} · {cfg} · {label}", str(h.state_dir))
        i = self.session_combo.findData(cur) if cur else -1
        if i < 0 and cur:
            for k in range(self.session_combo.count()):
                if str(self.session_combo.itemData(k) or "").endswith(str(cur)):
                    i = k
                    break
        self.session_combo.setCurrentIndex(max(0, i))
        self.session_combo.blockSignals(False)

    def _session_picked(self, i: int) -> None:
        sd = self.session_combo.itemData(i)
        if not sd:
            return
        if self.controller.handle is not None and str(self.controller.handle.state_dir) == sd:
            return
        self.attach(sd)

    # ============================================================== controls
    def save_now(self) -> None:
        try:
            p = self.controller.save_now()
        except control.ControlError as e:
            messages.warning(self, "Save Now", str(e))
            return
        self._status(f"Asked the trainer to save at the next step ({p})", 8000)
        self.sub_label.setText("Save requested — a checkpoint is written at the next step")

    def save_and_stop(self) -> None:
        try:
            self.controller.save_and_stop()
        except control.ControlError as e:
            messages.warning(self, "Save and Stop", str(e))
            return
        self._status("Asked the trainer to save a checkpoint and stop at the next step", 8000)
        self._update_header()

    def stop(self, confirm: bool = True) -> None:
        if not self.controller.active:
            return
        if confirm:
            allowed = self.controller.allowed()
            buttons = ("Stop", "Save and Stop", "cancel") if "save_quit" in allowed else ("Stop", "cancel")
            ans = messages.ask(self, "Stop training", "Stop the training now?",
                               "The current step and all progress since the last checkpoint "
                               "are lost. \"Save and Stop\" writes a checkpoint at the next "
                               "step first, so you can resume.",
                               buttons, "cancel")
            if ans == "Save and Stop":
                self.save_and_stop()
                return
            if ans != "Stop":
                return
        self.controller.stop(self.env.stop_grace_s)

    def kill(self, confirm: bool = True) -> None:
        if not self.controller.active:
            return
        if confirm:
            ans = messages.ask(self, "Kill training", "Kill every process of the run now (SIGKILL)?",
                               "The current step is lost, and so is all progress since the "
                               "last checkpoint: nothing is saved. Use this when Stop does not "
                               "end the run.", ("Kill", "cancel"), "cancel")
            if ans != "Kill":
                return
        self.controller.kill()

    def _action_started(self, action: str, _msg: str) -> None:
        self._stop_started = time.monotonic()
        self.busy.setRange(0, 0)
        self.busy.setFormat("")
        self.busy.show()
        self._update_header()

    def _action_done(self, action: str, msg: str, ok: bool) -> None:
        self.busy.hide()
        self._status(msg, 10000)
        if not ok:
            messages.error(self, "Stop" if action == "stop" else "Kill",
                           "Some processes of the run could not be ended.", msg)
        self._update_header()

    # =============================================================== display
    def _set_phase_label(self, phase: Phase | None, text: str | None = None) -> None:
        color = PHASE_COLORS.get(phase, "#78909c") if phase else "#90a4ae"
        label = text or (PHASE_TEXT.get(phase, "Idle") if phase else "Idle")
        self.phase_label.setText(label.upper())
        self.phase_label.setStyleSheet(
            f"#PhasePill {{ background: {color}; color: white; font-weight: bold; "
            f"border-radius: 10px; padding: 4px 12px; }}")

    def _update_header(self) -> None:
        c = self.controller
        st = c.state
        if c.handle is None:
            if not self._starting:
                self._set_phase_label(None)
                self.title_label.setText("No run")
                self.sub_label.setText("Press Start Training (F5) to check the config and start "
                                       "diffusion-pipe.")
            self._update_buttons()
            return
        status = c.status
        phase = status.phase
        label = None
        if c._pending_action == "stop" and not phase.terminal:
            left = max(0, self.env.stop_grace_s - (time.monotonic() - getattr(self, "_stop_started", 0)))
            label = "Stopping"
            self.busy.setFormat(f"SIGKILL in {left:.0f} s")
        elif status.stop_request == "save_quit" and not phase.terminal:
            label = "Save & stop"
        self._set_phase_label(phase, label)
        info = c.progress_info()
        parts = []
        if info["step"] is not None:
            parts.append(f"Step {info['step']:,}")
        if info["epoch"]:
            parts.append(f"epoch {info['epoch']}")
        if info["loss"] is not None:
            parts.append(f"loss {info['loss']:.4f}")
        if info["lr"] is not None:
            parts.append(f"lr {info['lr']:.3g}")
        it = info["iter_time"]
        if it and it == it and it > 0:
            parts.append(f"{it:.2f} s/it" if it >= 1 else f"{1 / it:.1f} it/s")
        bar = info["bar"]
        if not parts and bar is not None and not phase.terminal:
            parts.append(f"{bar.desc or 'progress'} {bar.percent}% ({bar.n}/{bar.total or '?'})")
        if not parts:
            parts.append({Phase.STARTING: "Loading the model and starting the engine…",
                          Phase.CACHING: "Caching latents and text embeddings…"}.get(
                phase, PHASE_TEXT.get(phase, "")))
        if c.outcome is not None and phase.terminal:
            parts.insert(0, c.outcome.title)
        self.title_label.setText("  ·  ".join(parts))
        sub = [st.get("run_id", "")]
        start = st.get("started_at_epoch")
        end = None
        if st.get("ended_at"):
            try:
                from datetime import datetime
                end = datetime.fromisoformat(st["ended_at"]).timestamp()
            except ValueError:
                end = None
        if start:
            sub.append("elapsed " + format_duration((end or time.time()) - start))
        pid = st.get("pid")
        if pid:
            alive = c.handle.trainer_alive(st) if not c.ended else False
            sub.append(f"pid {pid} " + ("running" if alive else "not running"))
        if c.effective == "lost":
            sub.append("processes gone, exit code unknown")
        elif st.get("exit_code") is not None:
            sub.append(f"exit code {st['exit_code']}")
        if st.get("run_dir"):
            sub.append(Path(st["run_dir"]).name)
        self.sub_label.setText("  ·  ".join(s for s in sub if s))
        self.sub_label.setToolTip(self.sub_label.text())     # the full line when it is cut
        self.title_label.setToolTip(self.title_label.text())
        if c.ended:
            self._clock.stop()
        self._update_buttons()

    def _update_buttons(self) -> None:
        c = self.controller
        allowed = c.allowed()
        busy = self._starting or c.active
        self.start_btn.setEnabled(not busy)
        self.check_btn.setEnabled(not busy)
        self.save_btn.setEnabled("save" in allowed)
        self.save_quit_btn.setEnabled("save_quit" in allowed)
        self.stop_btn.setEnabled("stop" in allowed)
        self.kill_btn.setEnabled("kill" in allowed)
        self.log_btn.setEnabled(bool(c.state.get("log_path")))
        self.folder_btn.setEnabled(bool(c.state.get("run_dir")))
        for name, acts in (("run.start", not busy), ("run.stop", "stop" in allowed),
                           ("run.kill", "kill" in allowed), ("run.save", "save" in allowed),
                           ("run.save_quit", "save_quit" in allowed)):
            a = self.window_.actions.get(name)
            if a is not None:
                a.setEnabled(acts)

    def _update_footer(self) -> None:
        c = self.controller
        n = self.console.total_rows
        held = self.console.row_count()
        log = c.state.get("log_path") or ""
        text = f"{n:,} lines"
        if self.console.dropped:
            text += f" (showing the last {held:,}; the full output is in the log)"
        if log:
            text += f"  ·  {log}"
        self.footer.setText(text)

    def _finished(self, outcome) -> None:
        self._clock.stop()
        self.console.flush()
        self.banner.show_outcome(outcome, self.controller.exit_code)
        self._update_header()
        self._refresh_sessions()
        self.refresh_resume()
        self._update_footer()
        name = {"finished": "finished", "stopped": "stopped", "failed": "failed"}.get(
            outcome.status, "ended")
        self._status(f"Training {name}: {outcome.title}", 15000)

    def open_log(self) -> None:
        p = self.controller.state.get("log_path")
        if p:
            QDesktopServices.openUrl(QUrl.fromLocalFile(p))

    def open_run_folder(self) -> None:
        p = self.controller.state.get("run_dir")
        if p:
            QDesktopServices.openUrl(QUrl.fromLocalFile(p))

    # ============================================================ window close
    def confirm_close(self) -> bool:
        """Closing the window: keep an active run in the background, stop it, or cancel."""
        c = self.controller
        if not c.active:
            return True
        ans = messages.ask(self, "Training is running",
                           "A training run is still going.",
                           "It keeps running when dpgui closes, and dpgui shows it again the "
                           "next time it starts. Or stop it now (progress since the last "
                           "checkpoint is lost).",
                           ("Keep Running", "Stop Training", "cancel"), "Keep Running")
        if ans == "Keep Running":
            c.detach()
            return True
        if ans != "Stop Training":
            return False
        return self._stop_blocking()

    def _stop_blocking(self) -> bool:
        """Stop the run and wait for it (with a progress dialog) before closing."""
        from PySide6.QtWidgets import QApplication, QProgressDialog
        c = self.controller
        call = c.stop(self.env.stop_grace_s)
        dlg = None
        if QApplication.instance() is not None and not os.environ.get("DPGUI_NO_MODAL"):
            dlg = QProgressDialog("Stopping the training run…", "", 0, 0, self)
            dlg.setCancelButton(None)
            dlg.setWindowTitle("Stopping")
            dlg.setMinimumDuration(300)
        deadline = time.monotonic() + self.env.stop_grace_s + 15
        while call.worker is not None and call.worker.is_alive() and time.monotonic() < deadline:
            QApplication.processEvents()
            call.worker.join(0.05)
        if dlg is not None:
            dlg.close()
        c.detach()
        return True
