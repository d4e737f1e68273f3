"""The Doctor: examine the training environment from the GUI.

The probe steps (:func:`dpgui_qt.core.doctor.probe_steps`) run one after the
other as ``QProcess`` children on the event loop -- the window stays responsive
and Cancel kills the probe.  The schema-drift check reads the checkout's Python
files and runs on a worker thread (:class:`~dpgui_qt.gui.workers.ResultPump`).

``show_doctor(parent, env=None, values=None)`` opens it from anywhere (Run page,
pre-flight, Run menu, the start page); ``last_vram_gb()`` is the largest GPU the
last run of the doctor saw (File ▸ New preselects the GPU memory tier from it).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import html

from PySide6.QtCore import QProcess, Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QLineEdit,
                               QListWidget, QListWidgetItem, QPushButton, QTextBrowser,
                               QVBoxLayout, QSplitter)

from dpgui_qt.core import doctor
from dpgui_qt.core.config.memory import swapped_gb
from dpgui_qt.gui import icons

if TYPE_CHECKING:
    from dpgui_qt.gui.workers import ResultPump

SETTINGS_VRAM = "doctor/vram_gb"
_SEVERITY_ICON = {"error": icons.error_icon, "warning": icons.warning_icon,
                  "info": icons.info_icon, "ok": icons.ok_icon}


def last_vram_gb() -> float | None:
    from dpgui_qt.gui import settings as st

    try:
        v = st.settings().value(SETTINGS_VRAM)
        return float(v) if v not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _remember_vram(gb: float | None) -> None:
    if gb is None:
        return
    from dpgui_qt.gui import settings as st

    s = st.settings()
    s.setValue(SETTINGS_VRAM, round(gb, 2))
    s.sync()


def target_from_env(env=None, platform: str | None = None) -> doctor.Target:
    """The doctor target for the Run page's environment settings: the host a launch
    with them would use (``launch_settings.host_spec``)."""
    from dpgui_qt.gui.run.launch_settings import EnvSettings, host_spec

    if env is None:
        env = EnvSettings.load()
    saved = {"checkout": env.checkout, "deepspeed": env.deepspeed}
    return doctor.default_target(host=host_spec(env, platform), platform=platform, saved=saved)


class DoctorDialog(QDialog):
    finished_report = Signal(object)     # core.doctor.Report

    def __init__(self, target: doctor.Target, parent=None, *, values: dict[str, Any] | None = None,
                 config_path=None, autostart: bool = True):
        super().__init__(parent)
        self.setObjectName("DoctorDialog")
        self.setWindowTitle("Environment Doctor")
        self.resize(900, 620)
        self.target = target
        self.values = values or {}
        self.config_path = config_path
        self.report: doctor.Report | None = None
        self._steps: list[doctor.Step] = []
        self._results: dict[str, Any] = {}
        self._proc: QProcess | None = None
        self._known = None
        self._drift_done = False
        self._pump: ResultPump | None = None
        self._cancelled = False

        lay = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Python:", self))
        self.python_edit = QLineEdit(target.python, self)
        self.python_edit.setToolTip("The interpreter of the training environment (from Run ▸ "
                                    "Environment: " + (target.python_source or "") + ")")
        row.addWidget(self.python_edit, 2)
        row.addWidget(QLabel("Checkout:", self))
        self.checkout_edit = QLineEdit(target.checkout, self)
        self.checkout_edit.setPlaceholderText("diffusion-pipe folder (optional)")
        row.addWidget(self.checkout_edit, 2)
        self.run_btn = QPushButton("Run Again", self)
        self.run_btn.clicked.connect(lambda: self.start())
        row.addWidget(self.run_btn)
        lay.addLayout(row)
        self.head = QLabel(self)
        self.head.setTextFormat(Qt.TextFormat.RichText)
        self.head.setWordWrap(True)
        lay.addWidget(self.head)
        split = QSplitter(Qt.Orientation.Vertical, self)
        self.list = QListWidget(split)
        self.list.setAlternatingRowColors(True)
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(self._show_detail)
        self.detail = QTextBrowser(split)
        self.detail.setOpenExternalLinks(False)
        split.addWidget(self.list)
        split.addWidget(self.detail)
        split.setSizes([380, 180])
        lay.addWidget(split, 1)
        buttons = QDialogButtonBox(self)
        self.copy_fix_btn = buttons.addButton("Copy Fix", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_fix_btn.clicked.connect(self.copy_fix)
        self.copy_all_btn = buttons.addButton("Copy Report", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_all_btn.clicked.connect(self.copy_report)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.reject)
        lay.addWidget(buttons)
        if autostart:
            QTimer.singleShot(0, self, self.start)

    # ------------------------------------------------------------- running
    @property
    def running(self) -> bool:
        return self._proc is not None

    def start(self) -> None:
        if self.running:
            return
        t = self.target
        t.python = self.python_edit.text().strip() or t.python
        co = self.checkout_edit.text().strip()
        if co != t.checkout:
            t.checkout = co
            t.checkout_host = co if t.host_of().is_this_machine else t.checkout_host
        out = self.values.get("output_dir")
        t.outputs = [out] if isinstance(out, str) and out else []
        t.places = doctor.cache_places(self.values, self.config_path)
        try:
            self._steps = doctor.probe_steps(t)
        except doctor.TargetError as exc:
            self.head.setText(f"<b>Cannot examine this environment:</b> {html.escape(str(exc))}")
            return
        self._results = {}
        self._cancelled = False
        self.report = None
        self.list.clear()
        self.detail.clear()
        self.head.setText(f"Examining <b>{html.escape(t.describe())}</b>…")
        self.run_btn.setEnabled(False)
        self._drift_done = False
        self._known = None
        self._start_drift()
        self._next_step()

    def _start_drift(self) -> None:
        from dpgui_qt.gui.workers import ResultPump

        if self._pump is None:
            self._pump = ResultPump(self)
        host_co = self.target.checkout_host

        def work():
            known = doctor.model_type_drift(host_co)
            return known, (doctor.schema_model_types() if known is not None else None)

        def done(value):
            self._known = value if isinstance(value, tuple) else (None, None)
            self._drift_done = True
            self._maybe_finish()

        self._pump.submit(work, done, name="dpgui-doctor-drift")

    def _next_step(self) -> None:
        if self._cancelled:
            self._proc = None
            return
        pending = [s for s in self._steps if s.key not in self._results]
        if not pending:
            self._proc = None
            self._maybe_finish()
            return
        step = pending[0]
        proc = QProcess(self)
        self._proc = proc
        proc.setProgram(step.argv[0])
        proc.setArguments(step.argv[1:])
        timer = QTimer(proc)
        timer.setSingleShot(True)
        timer.timeout.connect(proc.kill)

        def finished(code, status):
            timer.stop()
            ok = status == QProcess.ExitStatus.NormalExit
            out = bytes(proc.readAllStandardOutput().data())
            err = bytes(proc.readAllStandardError().data())
            if not ok and not err:
                err = f"stopped after {step.timeout_s:.0f} s".encode()
            self._results[step.key] = (code if ok else None, out, err)
            proc.deleteLater()
            self._next_step()

        def failed(error):
            if error == QProcess.ProcessError.FailedToStart:
                timer.stop()
                self._results[step.key] = (None, b"", f"{step.argv[0]}: cannot be started "
                                           f"(not found or not executable)".encode())
                proc.deleteLater()
                self._next_step()

        proc.finished.connect(finished)
        proc.errorOccurred.connect(failed)
        proc.start()
        if self._proc is not proc or proc.state() == QProcess.ProcessState.NotRunning:
            return                                   # failed to start (already reported)
        if step.stdin:
            proc.write(step.stdin)
        proc.closeWriteChannel()
        timer.start(int(step.timeout_s * 1000))

    def _maybe_finish(self) -> None:
        if self._cancelled or self.running or not self._drift_done or len(self._results) < len(self._steps):
            return
        known, schema = self._known or (None, None)
        model = _model if isinstance(_model := self.values.get("model"), dict) else {}
        bts = self.values.get("blocks_to_swap")
        report = doctor.finish(self.target, self._results,
                               model_type=model.get("type") if isinstance(model.get("type"), str) else None,
                               blocks_to_swap=bts if isinstance(bts, int) else None,
                               swap_gb=swapped_gb(self.values),
                               known_types=known, schema_types=schema)
        self.set_report(report)

    def set_report(self, report: doctor.Report) -> None:
        self.report = report
        self.run_btn.setEnabled(True)
        self.list.clear()
        for f in report.findings:
            it = QListWidgetItem(_SEVERITY_ICON[f.severity](), f.title
                                 + (f"\n→ {f.fix}" if f.fix and f.severity in ("error", "warning") else ""))
            it.setData(Qt.ItemDataRole.UserRole, f)
            it.setToolTip(f.why)
            self.list.addItem(it)
        e, w = len(report.errors), len(report.warnings)
        if e:
            head = (f"<b style='color:#c62828'>{e} problem{'s' if e != 1 else ''} will stop "
                    f"training</b>" + (f", {w} warning{'s' if w != 1 else ''}" if w else ""))
        elif w:
            head = f"<b>No blocking problems</b>, {w} warning{'s' if w != 1 else ''}"
        else:
            head = "<b style='color:#2e7d32'>The environment looks ready to train.</b>"
        self.head.setText(f"{head} — {html.escape(report.target)}")
        if self.list.count():
            self.list.setCurrentRow(0)
        _remember_vram(report.vram_gb())
        self.finished_report.emit(report)

    def _show_detail(self, row: int) -> None:
        it = self.list.item(row) if row >= 0 else None
        f = it.data(Qt.ItemDataRole.UserRole) if it else None
        if f is None:
            self.detail.clear()
            self.copy_fix_btn.setEnabled(False)
            return
        parts = [f"<p><b>{html.escape(f.title)}</b> <span style='color:gray'>[{f.code}, {f.severity}]</span></p>"]
        if f.why:
            parts.append(f"<p><b>Why it matters:</b> {html.escape(f.why)}</p>")
        if f.fix:
            parts.append(f"<p><b>Fix:</b></p><pre>{html.escape(f.fix)}</pre>")
        if f.detail:
            parts.append(f"<p style='color:gray'>{html.escape(f.detail)}</p>")
        self.detail.setHtml("".join(parts))
        self.copy_fix_btn.setEnabled(bool(f.fix))

    def copy_fix(self) -> None:
        it = self.list.currentItem()
        f = it.data(Qt.ItemDataRole.UserRole) if it else None
        if f is not None and f.fix:
            QGuiApplication.clipboard().setText(f.fix)

    def copy_report(self) -> None:
        if self.report is not None:
            QGuiApplication.clipboard().setText(self.report.format_text())

    def cancel(self) -> None:
        proc = self._proc
        if proc is not None:
            self._cancelled = True
            proc.kill()
            proc.waitForFinished(2000)

    def done(self, r: int) -> None:  # overrides QDialog.done
        self.cancel()
        super().done(r)


def show_doctor(parent=None, env=None, values: dict[str, Any] | None = None, platform: str | None = None,
                modal: bool = False, config_path=None) -> DoctorDialog:
    """Open the Doctor for the Run page's environment (``env``: EnvSettings; None = saved);
    ``values``/``config_path``: the open config (its model's needs, output and cache disks)."""
    dlg = DoctorDialog(target_from_env(env, platform), parent, values=values, config_path=config_path)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    if modal:
        dlg.exec()
    else:
        dlg.show()
    return dlg
