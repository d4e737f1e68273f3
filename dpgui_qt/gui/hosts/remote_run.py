"""A run on an SSH host (or several, multi-node), followed from the window (issue #15).

``RemoteRunDialog`` shows the upload plan first (:class:`~.transfer.UploadDialog`: bytes,
progress, cancel), then runs ``dpgui launch CONFIG --host NAME`` (or the multi-node form)
as a QProcess child: that command starts the run under a detached supervisor on the host
and streams its log, reconnecting when the connection drops.  Its output fills the console;
``[dpgui] step N | loss X`` lines become the progress line.  Save now, Save & Stop, Stop and
Kill run ``dpgui remote control`` on the host (a second QProcess); for a multi-node run Stop
and Kill also run ``dpgui remote stop-nodes`` so every node's ranks end.  Closing the dialog
ends only the local follower: the run keeps going on the host, and ``Re-attach`` follows it
again (``--attach latest``).

Given the window's Monitor feed (``monitor``), the run fills the Monitor tab as a local run
does: every console line goes through the core's log parser and its events (eval, epochs,
errors ...) are fed to the Monitor's curves, and each ``[dpgui] step`` line (which ``dpgui
launch`` prints in place of the trainer's step and learning-rate lines) becomes the step and
lr events it stands for; the run folder's TensorBoard event files are read
on the host every few seconds by ``dpgui remote tb`` (a third QProcess), which sends only the
bytes after the offsets already received, and their scalars join the curves.
"""
from __future__ import annotations

import base64
import re
import time
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QDialog, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout,
)

from dpgui_qt.core.run.outcome import Outcome
from dpgui_qt.gui.hosts.jobs import CliJob
from dpgui_qt.gui.hosts.transfer import ResultsHomeDialog, UploadDialog

GPU_POLL_MS = 5000
TB_POLL_MS = 3000
EXIT_RE = re.compile(r"exit code (-?\d+)")
STEP_RE = re.compile(r"^\[dpgui\] step (\d+) \| loss ([0-9.eE+\-naif]+)")
STARTED_RE = re.compile(r"^dpgui: started run (\S+) on (.+?) \(pid")
ATTACH_RE = re.compile(r"dpgui launch (?:--host \S+ )?--attach (\S+)")
RUN_ID_RE = re.compile(r"^dpgui: multi-node run id (\S+)")


def progress_events(line: str) -> list:
    """The events a ``[dpgui] step N | loss X | lr Y | R it/s`` line stands for: the
    trainer's step (loss, iteration time) and, when shown, its learning rate."""
    from dpgui_qt.core.run.parse import LrEvent, StepEvent
    parts = [p.strip() for p in line[len("[dpgui] "):].split("|")]
    try:
        step = int(parts[0].split()[1])
        loss = float(parts[1].split()[1])
    except (IndexError, ValueError):
        return []
    lr = it = None
    for p in parts[2:]:
        try:
            if p.startswith("lr "):
                lr = float(p[3:])
            elif p.endswith(" s/it"):
                it = float(p[:-5])
            elif p.endswith(" it/s"):
                it = 1.0 / float(p[:-5])
        except (ValueError, ZeroDivisionError):
            continue
    events: list = []
    if lr is not None:
        events.append(LrEvent(step=step, skipped=0, lrs=[lr], rank=0))
    events.append(StepEvent(step=step, loss=loss, losses={}, iter_time=it, samples_per_sec=None))
    return events


class RemoteRunDialog(QDialog):
    finishedRun = Signal(str)          # "finished" | "stopped" | "failed"

    def __init__(self, parent, config: str, host: str, *, launch_args: list[str] | None = None,
                 nodes: list[tuple[str, int, str]] | None = None, env: dict[str, str] | None = None,
                 local_output: str = "", upload_first: bool = True, monitor=None):
        super().__init__(parent)
        self.setObjectName("remote_run")
        self.setWindowTitle(f"Training on {host}")
        self.resize(980, 640)
        self.config, self.host, self.env = config, host, env
        self.launch_args = list(launch_args or [])
        self.nodes = nodes or []           # multi-node: (name, slots, ssh)
        self.local_output = local_output
        self.phase = "idle"
        self.pointer = ""
        self.run_id = ""
        self.marker_id = ""                # multi-node: the id every rank carries (DPGUI_RUN_ID)
        self.remote_output = ""
        self.step: int | None = None
        self.loss: float | None = None
        self.upload_dialog: UploadDialog | None = None
        self.monitor = monitor             # the window's MonitorFeed, or None
        self._parser: Any = None           # the core's LogParser over the console lines
        self.tb_run_dir = ""               # the host run folder whose event files are read
        self.tb_readers: dict = {}         # event file name -> EventBytesReader
        self.tb_inos: dict[str, int | None] = {}
        self.tb_bytes = 0                  # event-file bytes received in all
        self.tb_reads: list[tuple[str, int, int]] = []   # (file, offset, bytes) per answer
        self.tb_rows = 0                   # scalars handed to the Monitor
        self.results_dialog: ResultsHomeDialog | None = None

        self.phase_label = QLabel("")
        f = self.phase_label.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.phase_label.setFont(f)
        self.where_label = QLabel(f"on {host}" + (f" + {len(nodes) - 1} node(s)" if nodes and len(nodes) > 1 else ""))
        self.progress_label = QLabel("")
        self.progress_label.setObjectName("remote_progress")
        self.console = QPlainTextEdit()
        self.console.setObjectName("remote_console")
        self.console.setReadOnly(True)
        self.console.setMaximumBlockCount(20000)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.console.setFont(mono)
        self.save_btn = QPushButton("Save Now")
        self.save_quit_btn = QPushButton("Save && Stop")
        self.stop_btn = QPushButton("Stop")
        self.kill_btn = QPushButton("Kill")
        self.attach_btn = QPushButton("Re-attach")
        self.attach_btn.setToolTip("Follow the newest run on the host again")
        self.results_btn = QPushButton("Bring results home…")
        self.gpu_label = QLabel("")
        self.gpu_label.setObjectName("remote_gpus")
        self.gpu_label.setWordWrap(True)
        self.outcome_label = QLabel("")
        self.outcome_label.setObjectName("remote_outcome")
        self.outcome_label.setWordWrap(True)
        self.outcome_label.setTextFormat(Qt.TextFormat.RichText)
        self.outcome_label.hide()
        self.outcome: Outcome | None = None
        for b, action in ((self.save_btn, "save"), (self.save_quit_btn, "save_quit"),
                          (self.stop_btn, "stop"), (self.kill_btn, "kill")):
            b.clicked.connect(lambda _c=False, a=action: self.control(a))
        self.attach_btn.clicked.connect(lambda: self.reattach())
        self.results_btn.clicked.connect(lambda: self.bring_results_home())
        head = QHBoxLayout()
        head.addWidget(self.phase_label)
        head.addWidget(self.where_label)
        head.addWidget(self.progress_label, 1)
        for b in (self.save_btn, self.save_quit_btn, self.stop_btn, self.kill_btn,
                  self.attach_btn, self.results_btn):
            head.addWidget(b)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(self.outcome_label)
        lay.addWidget(self.console, 1)
        lay.addWidget(self.gpu_label)

        self.follower = CliJob(self)
        self.follower.line.connect(self._out_line)
        self.follower.errLine.connect(self._err_line)
        self.follower.done.connect(self._follower_done)
        self.controller = CliJob(self)
        self.controller.line.connect(lambda s: self._append(f"[control] {s}"))
        self.controller.errLine.connect(lambda s: self._append(f"[control] {s}"))
        self.controller.done.connect(self._control_done)
        self.node_stopper = CliJob(self)
        self.node_stopper.line.connect(lambda s: self._append(f"[nodes] {s}"))
        self.node_stopper.errLine.connect(lambda s: self._append(f"[nodes] {s}"))
        self._pending_actions: list[str] = []
        self.gpu_job = CliJob(self)
        self.gpu_job.jsonLine.connect(self._gpus)
        self.gpu_job.done.connect(self._gpus_done)
        self.gpus: list[dict] = []
        self.gpu_timer = QTimer(self)
        self.gpu_timer.setInterval(GPU_POLL_MS)
        self.gpu_timer.timeout.connect(self.poll_gpus)
        self.tb_job = CliJob(self)
        self.tb_job.jsonLine.connect(self._tb_answer)
        self.tb_job.done.connect(self._tb_done)
        self._tb_again = False             # the run ended while a poll was out: once more
        self.tb_timer = QTimer(self)
        self.tb_timer.setInterval(TB_POLL_MS)
        self.tb_timer.timeout.connect(self.poll_tb)
        self._user_stopped = False
        self._set_phase("idle")
        if upload_first:
            self.upload_first()

    # -- phases ----------------------------------------------------------------
    def _set_phase(self, phase: str, text: str | None = None) -> None:
        self.phase = phase
        self.phase_label.setText(text or {"idle": "Not started", "upload": "Uploading",
                                          "starting": "Starting", "running": "Training",
                                          "finished": "Finished", "stopped": "Stopped",
                                          "failed": "Failed", "detached": "Not followed"}[phase])
        live = phase in ("starting", "running")
        if live and not self.gpu_timer.isActive():
            self.gpu_timer.start()
            self.poll_gpus()
        elif not live:
            self.gpu_timer.stop()
        if live and self.monitor is not None and not self.tb_timer.isActive():
            self.tb_timer.start()
        elif not live:
            self.tb_timer.stop()
        for b in (self.save_btn, self.save_quit_btn, self.stop_btn, self.kill_btn):
            b.setEnabled(live and bool(self.pointer or self.run_id))
        self.attach_btn.setEnabled(not self.follower.running and phase not in ("upload",))
        self.results_btn.setEnabled(bool(self.remote_output) and not live)

    def _append(self, text: str) -> None:
        self.console.appendPlainText(text)

    def upload_first(self) -> None:
        """Show the plan (and upload) before the first start; the run starts after it."""
        self._set_phase("upload")
        dlg = UploadDialog(self, self.config, self.host, env=self.env)
        self.upload_dialog = dlg
        dlg.uploaded.connect(lambda ev: self._append(
            f"dpgui: uploaded {ev.get('files', 0)} dataset files ({ev.get('bytes', 0)} bytes)"))

        def finished(result):
            if dlg.plan:
                self.remote_output = dlg.plan.get("remote_output_dir") or ""
            if result == QDialog.DialogCode.Accepted:
                self.start()
            else:
                self._set_phase("idle", "Not started (upload cancelled)")
        dlg.finished.connect(finished)
        dlg.open()

    def launch_argv(self) -> list[str]:
        return ["launch", self.config, "--host", self.host, *self.launch_args]

    def start(self) -> None:
        if self.follower.running:
            return
        self._set_phase("starting")
        self._monitor_new_run()
        self._append(f"$ dpgui {' '.join(self.launch_argv())}")
        self.follower.start(*self.launch_argv(), env=self.env)

    def reattach(self) -> None:
        if self.follower.running:
            return
        self._set_phase("starting", "Re-attaching")
        self._learn_output()
        self._monitor_new_run()      # the follower catches up from the log's first byte
        args = ["launch", "--host", self.host, "--attach", self.pointer or "latest"]
        self._append(f"$ dpgui {' '.join(args)}")
        self.follower.start(*args, env=self.env)

    # -- the follower's output -------------------------------------------------
    def _out_line(self, line: str) -> None:
        m = STEP_RE.match(line)
        if m:
            self.step = int(m.group(1))
            try:
                self.loss = float(m.group(2))
            except ValueError:
                self.loss = None
            self.progress_label.setText(line[len("[dpgui] "):])
            if self.phase != "running":
                self._set_phase("running")
        self._append(line)
        self._monitor_line(line)

    def _err_line(self, line: str) -> None:
        m = STARTED_RE.match(line)
        if m:
            self.run_id = m.group(1)
            self._set_phase("running")
        m = ATTACH_RE.search(line)
        if m:
            self.pointer = m.group(1)
            self._learn_output()
            self._set_phase(self.phase)
        m = RUN_ID_RE.match(line)
        if m:
            self.marker_id = m.group(1)
        if line.startswith("dpgui: following "):
            self._set_phase("running")
        self._append(line)

    def _follower_done(self, code: int, err: str) -> None:
        if self.monitor is not None and self._parser is not None:
            tail = self._parser.finish()
            if tail:
                self.monitor.feed_events(tail)
        phase = {0: "finished", 3: "stopped"}.get(code, "failed")
        if code == -1:
            phase = "detached"
        self._set_phase(phase)
        if phase != "detached":
            self.explain(code)
        self.poll_tb(final=True)      # the event files' last records
        self.finishedRun.emit(phase)

    def explain(self, cli_code: int) -> None:
        """The outcome explainer over what the console received (as for local runs)."""
        from html import escape

        from dpgui_qt.core.run.outcome import classify_text
        text = self.console.toPlainText()
        rc = 0 if cli_code == 0 else None
        for m in EXIT_RE.finditer(text[-4000:]):
            rc = int(m.group(1))
        o = classify_text(text, rc, user_stopped=self._user_stopped or cli_code == 3)
        self.outcome = o
        colour = {"finished": "#2e7d32", "stopped": "#b26a00"}.get(o.status, "#c62828")
        html = f"<b style='color:{colour}'>{escape(o.title)}</b>"
        if o.explanation:
            html += f"<br>{escape(o.explanation)}"
        if o.fix and o.status != "finished":
            html += f"<br><i>{escape(o.fix)}</i>"
        self.outcome_label.setText(html)
        self.outcome_label.show()

    def _learn_output(self) -> None:
        """The run's output_dir on the host, from the local pointer folder ``dpgui launch
        --host`` wrote (for a re-attached run, whose upload plan this dialog never saw)."""
        if self.remote_output or not self.pointer:
            return
        import json
        from pathlib import Path
        try:
            data = json.loads((Path(self.pointer) / "remote.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(data, dict) and isinstance(data.get("output_dir"), str):
            self.remote_output = data["output_dir"]

    # -- the Monitor tab ------------------------------------------------------------
    def _monitor_new_run(self) -> None:
        if self.monitor is None:
            return
        from dpgui_qt.core.run.parse import LogParser
        self._parser = LogParser()
        self.tb_run_dir, self.tb_readers, self.tb_inos = "", {}, {}
        self.monitor.start_run(started_at=time.time())

    def _monitor_line(self, line: str) -> None:
        if self.monitor is None or self._parser is None:
            return
        events = progress_events(line) if line.startswith("[dpgui] step ") else self._parser.feed(line)
        if events:
            self.monitor.feed_events(events)

    def poll_tb(self, final: bool = False) -> None:
        """Ask the host for the event-file bytes after those already received."""
        if self.monitor is None or not self.remote_output:
            return
        if self.tb_job.running:
            self._tb_again = self._tb_again or final
            return
        args = ["remote", "tb", self.remote_output, "--host", self.host, "--json"]
        if self.tb_run_dir:
            args += ["--run-dir", self.tb_run_dir]
        for name, reader in sorted(self.tb_readers.items()):
            args += ["--at", f"{name}={reader.received}"]
        self.tb_job.start(*args, env=self.env)

    def _tb_done(self, code: int, err: str) -> None:
        if self._tb_again:
            self._tb_again = False
            self.poll_tb()

    def _tb_answer(self, ev: dict) -> None:
        if ev.get("event") != "tb" or self.monitor is None:
            return
        from dpgui_qt.core.monitor.tbevents import EventBytesReader
        run_dir = ev.get("run_dir") or ""
        if run_dir != self.tb_run_dir:
            self.tb_run_dir, self.tb_readers, self.tb_inos = run_dir, {}, {}
        name = ev.get("file") or ""
        reader = self.tb_readers.get(name)
        if reader is None:
            reader = self.tb_readers[name] = EventBytesReader()
        size, ino, offset = ev.get("size") or 0, ev.get("ino"), int(ev.get("offset") or 0)
        if (name in self.tb_inos and ino != self.tb_inos[name]) or size < reader.received:
            reader.restart()         # replaced or truncated on the host: read it again
            self.tb_inos[name] = ino
            return
        self.tb_inos[name] = ino
        if offset != reader.received:
            return                   # an answer to an older question
        try:
            data = base64.b64decode(ev.get("data") or "")
        except ValueError:
            return
        self.tb_bytes += len(data)
        self.tb_reads.append((name, offset, len(data)))
        rows = reader.feed(offset, data)
        if rows:
            self.tb_rows += len(rows)
            self.monitor.model.feed_scalars([tuple(r) for r in rows])

    # -- GPUs ---------------------------------------------------------------------
    def poll_gpus(self) -> None:
        if not self.gpu_job.running:
            self.gpu_job.start("remote", "gpus", "--host", self.host, "--json", env=self.env)

    def _gpus_done(self, code: int, err: str) -> None:
        if code != 0:
            self.gpu_label.setText(f"GPUs on {self.host}: "
                                   f"{err.splitlines()[-1] if err else 'no answer'}")

    def _gpus(self, ev: dict) -> None:
        if ev.get("event") != "gpus":
            return
        from dpgui_qt.core.monitor.gpu import host_gpu_line as gpu_line
        self.gpus = list(ev.get("gpus") or [])
        self.gpu_label.setText(f"GPUs on {self.host}: " + ("; ".join(gpu_line(g) for g in self.gpus)
                                                             or "none reported"))

    # -- control ------------------------------------------------------------------
    def control(self, action: str) -> None:
        target = self.pointer or ""
        if not target:
            self._append("dpgui: the run's state folder is not known yet")
            return
        if self.controller.running:
            self._pending_actions.append(action)
            return
        self._append(f"dpgui: {action} on {self.host}")
        if action in ("save_quit", "stop", "kill"):
            self._user_stopped = True
        self.controller.start("remote", "control", target, action, "--host", self.host,
                              "--json", env=self.env)
        if self.nodes and action in ("stop", "kill") and self.marker_id:
            self.stop_nodes(grace=0 if action == "kill" else 20)

    def stop_nodes(self, grace: float = 20) -> None:
        if self.node_stopper.running:
            return
        args = ["remote", "stop-nodes", "--nodes", ",".join(f"{n}:{s}" for n, s, _ in self.nodes),
                "--run-id", self.marker_id, "--grace", str(grace)]
        for n, _s, ssh in self.nodes:
            if ssh:
                args += ["--node-ssh", f"{n}={ssh}"]
        self.node_stopper.start(*args, env=self.env)

    def _control_done(self, code: int, err: str) -> None:
        if code != 0:
            self._append(f"dpgui: the host did not confirm: {err[-300:]}")
        if self._pending_actions:
            self.control(self._pending_actions.pop(0))

    # -- results -------------------------------------------------------------------
    def bring_results_home(self) -> None:
        if not self.remote_output:
            return
        self.results_dialog = ResultsHomeDialog(self, self.host, self.remote_output,
                                                self.local_output, env=self.env, config=self.config)
        self.results_dialog.open()

    def done(self, r: int) -> None:
        """Closing stops following here; the run goes on on the host."""
        self.gpu_timer.stop()
        self.tb_timer.stop()
        for job in (self.follower, self.controller, self.gpu_job, self.tb_job):
            job.cancel()
        super().done(r)
