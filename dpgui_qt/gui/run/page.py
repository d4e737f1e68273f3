"""The Run page: options, command preview, pre-flight, start/stop, live console,
phase header and the outcome of a finished run.

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
from PySide6.QtGui import QDesktopServices, QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QFrame, QGridLayout,
                               QGroupBox, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
                               QProgressBar, QPushButton, QScrollArea, QSizePolicy, QSplitter,
                               QToolButton, QVBoxLayout, QWidget)

from dpgui_qt.core.run import control
from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.phase import Phase
from dpgui_qt.core.run.runs import list_sessions, resume_candidates
from dpgui_qt.core.run.spec import SpecError, masked_env
from dpgui_qt.gui import icons, messages
from dpgui_qt.gui.bind import bind
from dpgui_qt.gui.run import preflight as pf
from dpgui_qt.gui.run.console import ConsoleSearchBar, ConsoleView
from dpgui_qt.gui.run.controller import RunController
from dpgui_qt.gui.run.env_dialog import EnvironmentDialog, status_html
from dpgui_qt.core.run import switches as train_switches
from dpgui_qt.gui.run.launch_settings import (EnvSettings, RunOptions, build_spec,
                                        headless_command, state_root)

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


def _mono() -> QFont:
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    f.setStyleHint(QFont.StyleHint.Monospace)
    return f


def fmt_duration(s: float | None) -> str:
    if s is None or s < 0:
        return "–"
    s = int(s)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


class _CompactText(QPlainTextEdit):
    """A text box that asks for little height and takes what is left: the side panel's
    height-for-width then fits 1280x800 without a scroll bar."""

    def sizeHint(self):
        h = super().sizeHint()
        h.setHeight(self.minimumHeight() or 60)
        return h


class OutcomeBanner(QFrame):
    """How the run ended: title, explanation, fix and the evidence lines."""
    resumeRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("OutcomeBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        self.icon = QLabel(self)
        self.icon.setFixedSize(28, 28)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        col.setSpacing(4)
        self.title = QLabel(self)
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.title.setFont(f)
        self.explanation = QLabel(self)
        self.fix = QLabel(self)
        self.evidence = QLabel(self)
        self.evidence.setFont(_mono())
        self.notices = QLabel(self)
        for w in (self.explanation, self.fix, self.evidence, self.notices):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix.setTextFormat(Qt.TextFormat.RichText)
        self.notices.setTextFormat(Qt.TextFormat.RichText)
        self.evidence.setTextFormat(Qt.TextFormat.PlainText)
        for w in (self.title, self.explanation, self.fix, self.evidence, self.notices):
            col.addWidget(w)
        lay.addLayout(col, 1)
        btns = QVBoxLayout()
        self.copy_btn = QPushButton("Copy Details", self)
        self.copy_btn.clicked.connect(self._copy)
        self.close_btn = QToolButton(self)
        self.close_btn.setText("✕")
        self.close_btn.setAutoRaise(True)
        self.close_btn.setToolTip("Hide")
        self.close_btn.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.close_btn)
        btns.addLayout(top)
        btns.addWidget(self.copy_btn)
        btns.addStretch(1)
        lay.addLayout(btns)
        self.outcome = None
        self.hide()

    def show_outcome(self, outcome, exit_code=None) -> None:
        self.outcome = outcome
        color = {"finished": "#2e7d32", "stopped": "#8d6e63", "failed": "#c62828"}.get(
            outcome.status, "#546e7a")
        bg = {"finished": "#e8f5e9", "stopped": "#efebe9", "failed": "#ffebee"}.get(
            outcome.status, "#eceff1")
        self.setStyleSheet(f"#OutcomeBanner {{ background: {bg}; border: 1px solid {color}; "
                           f"border-left: 5px solid {color}; border-radius: 4px; }} "
                           f"#OutcomeBanner QLabel {{ color: #202124; }}")
        ic = icons.ok_icon() if outcome.status == "finished" else (
            icons.error_icon() if outcome.status == "failed" else icons.warning_icon())
        self.icon.setPixmap(ic.pixmap(24, 24))
        rc = "" if exit_code is None else f"  (exit code {exit_code})"
        self.title.setText(f"{outcome.title}{rc}")
        self.title.setStyleSheet(f"color: {color};")
        self.explanation.setText(outcome.explanation)
        self.explanation.setVisible(bool(outcome.explanation))
        self.fix.setText(f"<b>What to do:</b> {_html(outcome.fix)}" if outcome.fix else "")
        self.fix.setVisible(bool(outcome.fix))
        ev = [e for e in outcome.evidence if e][:6]
        self.evidence.setText("\n".join(e if len(e) < 400 else e[:400] + "…" for e in ev))
        self.evidence.setVisible(bool(ev))
        notes = "".join(f"<br><b>{_html(n.title)}</b> — {_html(n.fix)}" for n in outcome.notices)
        self.notices.setText(notes[4:] if notes else "")
        self.notices.setVisible(bool(notes))
        self.show()

    def text(self) -> str:
        o = self.outcome
        if o is None:
            return ""
        parts = [o.title, o.explanation, ("What to do: " + o.fix) if o.fix else ""]
        parts += ["Evidence:"] + list(o.evidence) if o.evidence else []
        parts += [f"{n.title}: {n.explanation} {n.fix}" for n in o.notices]
        return "\n".join(p for p in parts if p)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())


def _html(s: str) -> str:
    return (s or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
        self.spec = None
        self.spec_error: str | None = None
        self.detected = None
        self._output_dir: str | None = None
        self._starting = False
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
        root = QVBoxLayout(self)
        root.setContentsMargins(8, 8, 8, 8)
        root.setSpacing(8)

        # --- header: phase, numbers, controls
        head = QFrame(self)
        head.setObjectName("RunHeader")
        head.setStyleSheet("#RunHeader { background: palette(base); border: 1px solid "
                           "palette(mid); border-radius: 6px; }")
        hl = QHBoxLayout(head)
        hl.setContentsMargins(12, 8, 12, 8)
        self.phase_label = QLabel("IDLE", head)
        self.phase_label.setObjectName("PhasePill")
        self.phase_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.phase_label.setMinimumWidth(96)
        hl.addWidget(self.phase_label)
        info = QVBoxLayout()
        info.setSpacing(2)
        self.title_label = QLabel("No run", head)
        f = self.title_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.title_label.setFont(f)
        self.sub_label = QLabel("", head)
        self.sub_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for lab in (self.title_label, self.sub_label):   # long text must not widen the window
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            lab.setMinimumWidth(120)
        info.addWidget(self.title_label)
        info.addWidget(self.sub_label)
        hl.addLayout(info, 1)
        self.busy = QProgressBar(head)
        self.busy.setMaximumWidth(160)
        self.busy.setTextVisible(True)
        self.busy.hide()
        hl.addWidget(self.busy)
        self.start_btn = QPushButton(icons.themed("run"), "Start Training", head)
        self.start_btn.setToolTip("Check everything, then start diffusion-pipe with this config (F5)")
        self.start_btn.clicked.connect(lambda: self.request_start())
        self.check_btn = QPushButton(icons.themed("validate"), "Check", head)
        self.check_btn.setToolTip("Run the pre-launch checks on the files on disk and show "
                                  "what they find, without starting")
        self.check_btn.clicked.connect(lambda: self.check_now())
        self.save_btn = QPushButton("Save Now", head)
        self.save_btn.setToolTip("Write a checkpoint and save the model at the next step "
                                 "(creates the 'save' file in the run folder)")
        self.save_btn.clicked.connect(self.save_now)
        self.save_quit_btn = QPushButton("Save && Stop", head)
        self.save_quit_btn.setToolTip("Checkpoint at the next step, then stop cleanly "
                                      "('save_quit'); resume later from it")
        self.save_quit_btn.clicked.connect(self.save_and_stop)
        self.stop_btn = QPushButton(icons.themed("stop"), "Stop", head)
        self.stop_btn.setToolTip("SIGTERM to every process of the run, SIGKILL after the grace "
                                 "period; progress since the last checkpoint is lost")
        self.stop_btn.clicked.connect(lambda: self.stop())      # asks (clicked passes False)
        self.kill_btn = QPushButton("Kill", head)
        self.kill_btn.setToolTip("SIGKILL every process of the run at once")
        self.kill_btn.clicked.connect(lambda: self.kill())      # asks
        for b in (self.check_btn, self.start_btn, self.save_btn, self.save_quit_btn, self.stop_btn,
                  self.kill_btn):
            hl.addWidget(b)
        root.addWidget(head)

        self.banner = OutcomeBanner(self)
        root.addWidget(self.banner)

        # --- body: options | console
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.setChildrenCollapsible(False)
        self.splitter = split
        side = QWidget(self)
        sl = QVBoxLayout(side)
        sl.setContentsMargins(0, 0, 4, 0)
        sl.setSpacing(4)

        envg = QGroupBox("Environment", side)
        el = QHBoxLayout(envg)        # the button beside the status: the page fits 1280x800
        self.env_label = QLabel(envg)
        self.env_label.setTextFormat(Qt.TextFormat.RichText)
        self.env_label.setWordWrap(True)
        self.env_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        el.addWidget(self.env_label, 1)
        self.env_btn = QPushButton("Change…", envg)
        self.env_btn.setToolTip("diffusion-pipe checkout, Python environment, GPUs, port, NCCL "
                                "and extra variables (Run ▸ Environment…)")
        self.env_btn.clicked.connect(lambda: self.edit_environment())
        self.doctor_btn = QPushButton("Doctor…", envg)
        self.doctor_btn.setToolTip("Check this environment: torch and its CUDA/GPU architectures, "
                                   "driver, deepspeed, flash-attn, requirements, submodules, disk")
        self.doctor_btn.clicked.connect(lambda: self.open_doctor())
        eb = QVBoxLayout()             # beside the status: the page fits 1280x800
        eb.setSpacing(2)
        eb.addWidget(self.env_btn)
        eb.addWidget(self.doctor_btn)
        eb.addStretch(1)
        el.addLayout(eb)
        sl.addWidget(envg)

        optg = QGroupBox("Run options", side)
        ol = QFormLayout(optg)
        ol.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        rrow = QHBoxLayout()
        self.resume_combo = QComboBox(optg)
        self.resume_combo.setToolTip("Resume from a run folder in output_dir that holds a "
                                     "checkpoint (newest first). The folder is passed by name, "
                                     "never as the bare flag, which would pick the newest folder "
                                     "even when it has no checkpoint.")
        self.resume_combo.currentIndexChanged.connect(self._options_changed)
        self.resume_combo.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.resume_combo.setMinimumContentsLength(14)
        self.resume_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        rrow.addWidget(self.resume_combo, 1)
        ref = QToolButton(optg)
        ref.setText("⟳")
        ref.setToolTip("Look for run folders again")
        ref.clicked.connect(self.refresh_resume)
        rrow.addWidget(ref)
        ol.addRow("Resume from:", rrow)
        # one check box per on/off train.py switch, one folder field per path switch
        self.switches: dict[str, QCheckBox] = {}
        self.switch_fields: dict[str, QLineEdit] = {}
        grid = QGridLayout()          # two columns: the page fits 1280x800 without scrolling
        grid.setSpacing(2)
        grid.setHorizontalSpacing(10)
        ol.addRow(grid)
        for switch in train_switches.TRAIN_SWITCHES:
            if switch.kind == "bool":
                cb = QCheckBox(switch.label, optg)
                cb.setToolTip(switch.tooltip())
                cb.toggled.connect(self._options_changed)
                n = len(self.switches)
                self.switches[switch.name] = cb
                grid.addWidget(cb, n // 2, n % 2)
                continue
            drow = QHBoxLayout()
            edit = QLineEdit(optg)
            edit.setPlaceholderText("off")
            edit.setToolTip(switch.tooltip())
            edit.textChanged.connect(self._options_changed)
            dpick = QToolButton(optg)
            dpick.setText("…")
            dpick.clicked.connect(lambda _c=False, n=switch.name: self._pick_switch_folder(n))
            drow.addWidget(edit, 1)
            drow.addWidget(dpick)
            self.switch_fields[switch.name] = edit
            ol.addRow(f"{switch.label}:", drow)
        sl.addWidget(optg)

        cmdg = QGroupBox("Command", side)
        cl = QVBoxLayout(cmdg)
        self.preview = _CompactText(cmdg)
        self.preview.setObjectName("CommandPreview")
        self.preview.setReadOnly(True)
        self.preview.setFont(_mono())
        self.preview.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.preview.setMinimumHeight(60)
        cl.addWidget(self.preview, 1)
        self.preview_info = QLabel(cmdg)
        self.preview_info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.preview_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.preview_info.setStyleSheet("color: palette(placeholder-text);")
        cl.addWidget(self.preview_info)
        crow = QHBoxLayout()
        self.copy_btn = QPushButton("Copy", cmdg)
        self.copy_btn.setToolTip("Copy the command (cd, variables and deepspeed) to paste into "
                                 "a terminal")
        self.copy_btn.clicked.connect(self.copy_command)
        self.copy_cli_btn = QPushButton("Copy as dpgui launch", cmdg)
        self.copy_cli_btn.setToolTip("The same run as a headless `dpgui launch` command (e.g. "
                                     "over SSH)")
        self.copy_cli_btn.clicked.connect(self.copy_headless)
        crow.addWidget(self.copy_btn)
        crow.addWidget(self.copy_cli_btn)
        crow.addStretch(1)
        cl.addLayout(crow)
        sl.addWidget(cmdg, 1)

        scroll = QScrollArea(self)
        self.side_scroll = scroll        # only scrolls in windows smaller than 1280x800
        scroll.setWidget(side)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setMinimumWidth(300)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        split.addWidget(scroll)

        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(4, 0, 0, 0)
        rl.setSpacing(4)
        bar = QHBoxLayout()
        self.session_combo = QComboBox(right)
        self.session_combo.setToolTip("Runs started from this machine (newest first); pick one "
                                      "to see its output")
        self.session_combo.setMinimumContentsLength(28)
        self.session_combo.activated.connect(self._session_picked)
        bar.addWidget(QLabel("Run:", right))
        bar.addWidget(self.session_combo)
        self.console = ConsoleView(right, max_rows=self.env.console_max_lines)
        self.search = ConsoleSearchBar(self.console, right)
        bar.addWidget(self.search, 1)
        self.follow_btn = QToolButton(right)
        self.follow_btn.setText("⤓ Follow")
        self.follow_btn.setCheckable(True)
        self.follow_btn.setChecked(True)
        self.follow_btn.setToolTip("Keep the newest output in view (scroll up to pause)")
        self.follow_btn.toggled.connect(self.console.set_following)
        self.console.followChanged.connect(self.follow_btn.setChecked)
        bar.addWidget(self.follow_btn)
        self.log_btn = QToolButton(right)
        self.log_btn.setText("Log File")
        self.log_btn.setToolTip("Open the full console log")
        self.log_btn.clicked.connect(self.open_log)
        self.folder_btn = QToolButton(right)
        self.folder_btn.setText("Run Folder")
        self.folder_btn.setToolTip("Open the run folder (checkpoints, saved models)")
        self.folder_btn.clicked.connect(self.open_run_folder)
        bar.addWidget(self.log_btn)
        bar.addWidget(self.folder_btn)
        rl.addLayout(bar)
        rl.addWidget(self.console, 1)
        self.footer = QLabel("", right)
        self.footer.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.footer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.footer.setStyleSheet("color: palette(placeholder-text);")
        rl.addWidget(self.footer)
        self.console.rowsChanged.connect(lambda _n: self._update_footer())
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([450, 830])
        root.addWidget(split, 1)

    # ============================================================ spec / preview
    def _options_changed(self, *_a) -> None:
        o = RunOptions()
        idx = self.resume_combo.currentIndex()
        o.resume = self.resume_combo.itemData(idx) or "" if idx >= 0 else ""
        for name, cb in self.switches.items():
            o.switches[name] = cb.isChecked()
        for name, edit in self.switch_fields.items():
            o.switches[name] = edit.text().strip()
        self.options = o
        self._spec_timer.start()

    def set_options(self, opts: RunOptions) -> None:
        """Set the run options (tests, "resume" from the outcome banner)."""
        for name, cb in self.switches.items():
            cb.blockSignals(True)
            cb.setChecked(bool(opts.switch(name)))
            cb.blockSignals(False)
        for name, edit in self.switch_fields.items():
            edit.blockSignals(True)
            edit.setText(str(opts.switch(name)))
            edit.blockSignals(False)
        self.options = opts
        if opts.resume and self.resume_combo.findData(opts.resume) < 0:
            self.resume_combo.addItem(opts.resume, opts.resume)
        self.resume_combo.blockSignals(True)
        self.resume_combo.setCurrentIndex(max(0, self.resume_combo.findData(opts.resume or "")))
        self.resume_combo.blockSignals(False)
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
        if self.spec is None:
            return ""
        return self.spec.command().preview(reveal_secrets=True)

    def _update_preview(self) -> None:
        if self.spec is None:
            self.preview.setPlainText(f"# cannot build the command: {self.spec_error}")
            self.preview_info.setText("")
            self.copy_btn.setEnabled(False)
            return
        try:
            cmd = self.spec.command()
        except SpecError as e:
            self.preview.setPlainText(f"# cannot build the command: {e}")
            self.preview_info.setText("")
            self.copy_btn.setEnabled(False)
            return
        self.copy_btn.setEnabled(True)
        self.preview.setPlainText(cmd.preview())
        env = " ".join(f"{k}={v}" for k, v in masked_env(cmd.env).items())
        where = (f"Working directory: {cmd.cwd}" if cmd.host.is_this_machine
                 else f"Runs in {cmd.host.describe()} in {cmd.trainer_cwd}")
        info = f"{where}\nAdded environment: {env or '(none)'}"
        self.preview_info.setText(where)        # one line; the variables are in the command
        self.preview_info.setToolTip(info)
        self.preview.setToolTip(info)

    def _update_env_label(self) -> None:
        d = self.detected
        lines = []
        if d is not None:
            lines.append(status_html(bool(d.checkout), "diffusion-pipe: " + (
                _html(d.checkout) if d.checkout else "not found")))
            lines.append(status_html(bool(d.deepspeed), "deepspeed: " + (
                _html(d.deepspeed) if d.deepspeed else "not found")))
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
        cur = self.resume_combo.currentData() or ""
        self.resume_combo.blockSignals(True)
        self.resume_combo.clear()
        self.resume_combo.addItem("Fresh run (no resume)", "")
        cands = resume_candidates(self._output_dir) if self._output_dir else []
        for r in cands:
            when = r.started.strftime("%Y-%m-%d %H:%M UTC") if r.started else r.name
            tag = f" · {r.latest_tag}" if r.latest_tag else ""
            self.resume_combo.addItem(f"{r.name}{tag}", r.name)
            self.resume_combo.setItemData(self.resume_combo.count() - 1,
                                          f"{r.path}\nstarted {when}; checkpoint {r.latest_tag}",
                                          Qt.ItemDataRole.ToolTipRole)
        if not cands:
            self.resume_combo.addItem("(no run folder with a checkpoint)", None)
            m = self.resume_combo.model()
            m.item(self.resume_combo.count() - 1).setEnabled(False)
        i = self.resume_combo.findData(cur) if cur else 0
        self.resume_combo.setCurrentIndex(max(0, i))
        self.resume_combo.blockSignals(False)
        if cur and i < 0:
            self._options_changed()

    def _pick_switch_folder(self, name: str) -> None:
        edit = self.switch_fields[name]
        d = QFileDialog.getExistingDirectory(self, train_switches.switch(name).help,
                                             edit.text() or os.path.expanduser("~"))
        if d:
            edit.setText(d)

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
        sb = getattr(self.window_, "statusBar", None)
        if sb is not None:
            sb().showMessage(msg, ms)

    # ============================================================== pre-flight
    def _documents(self) -> list:
        """The documents this run reads that are open here: the main config and its
        dataset / eval dataset files."""
        comp = getattr(self.window_, "companions", None)
        return [self.session] + (list(comp()) if comp is not None else [])

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
        rr = getattr(self.window_, "runRequested", None)
        if rr is not None:
            self._emitting = True
            try:
                rr.emit()
            finally:
                self._emitting = False
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
            sub.append("elapsed " + fmt_duration((end or time.time()) - start))
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
            a = getattr(self.window_, "actions", {}).get(name)
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
        while call.thread.is_alive() and time.monotonic() < deadline:
            QApplication.processEvents()
            call.thread.join(0.05)
        if dlg is not None:
            dlg.close()
        c.detach()
        return True
