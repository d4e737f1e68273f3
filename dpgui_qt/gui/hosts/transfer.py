"""Copies between this machine and an SSH host, shown before and while they happen (issue #15).

``UploadDialog``: what the upload will send (the rewritten configs, each dataset folder with
the files that differ from the host's copy and their bytes) before anything moves; then a
progress bar, the byte count and Cancel.  ``ResultsHome``: "Bring results home" -- the run
folders' saved epochs/steps on the host with their sizes (DeepSpeed checkpoints listed but
unticked), downloaded with progress.  Both run ``dpgui remote ...`` as QProcess children.
"""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog, QDialogButtonBox, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QPlainTextEdit,
    QProgressBar, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget,
)

from dpgui_qt.gui.hosts.jobs import CliJob


def human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "TiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class _Progress(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setValue(0)
        self.label = QLabel("")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.bar)
        lay.addWidget(self.label)
        self.bytes_done = 0
        self.bytes_total = 0

    def update_from(self, ev: dict) -> None:
        b, tb = int(ev.get("bytes") or 0), int(ev.get("total_bytes") or 0)
        self.bytes_done, self.bytes_total = b, tb
        self.bar.setValue(int(1000 * b / tb) if tb else 1000)
        files = ev.get("files")
        tf = ev.get("total_files")
        self.label.setText(f"{human(b)} of {human(tb)} ({b:,} bytes)"
                           + (f", {files} of {tf} files" if tf else
                              (f", {files} files" if isinstance(files, int) else "")))


class UploadDialog(QDialog):
    """Plan, then upload, a config and its datasets to an SSH host."""

    uploaded = Signal(dict)      # the "done" event: bytes, files, method

    def __init__(self, parent, config: str, host: str, env: dict[str, str] | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Upload to {host}")
        self.setObjectName("upload_dialog")
        self.resize(760, 460)
        self.config, self.host, self.env = config, host, env
        self.plan: dict | None = None
        self.upload_result: dict | None = None
        self.error = ""
        self.text = QPlainTextEdit()
        self.text.setObjectName("upload_plan")
        self.text.setReadOnly(True)
        self.text.setPlainText("Comparing with the host's copy...")
        self.progress = _Progress()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.upload_btn = QPushButton("Upload")
        self.upload_btn.setEnabled(False)
        self.cancel_btn = QPushButton("Cancel")
        self.upload_btn.clicked.connect(lambda: self.start_upload())
        self.cancel_btn.clicked.connect(lambda: self.cancel())
        row = QHBoxLayout()
        row.addWidget(self.status, 1)
        row.addWidget(self.upload_btn)
        row.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel(f"What will be sent to {host} (your local files are not changed):"))
        lay.addWidget(self.text, 1)
        lay.addWidget(self.progress)
        lay.addLayout(row)
        self.job = CliJob(self)
        self.job.jsonLine.connect(self._event)
        self.job.done.connect(self._done)
        self._phase = "plan"
        self.job.start("remote", "plan", config, "--host", host, "--json", env=env)

    def _event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "plan":
            self.plan = ev
            lines = list(ev.get("lines") or [])
            for f in ev.get("findings") or []:
                lines.append(f"{f.get('level')}: {f.get('message')}")
            self.text.setPlainText("\n".join(lines))
            self.progress.label.setText(f"{human(ev.get('bytes') or 0)} in {ev.get('files', 0)} "
                                        "dataset files to send")
        elif kind == "progress":
            self.progress.update_from(ev)
        elif kind == "done":
            self.upload_result = ev
        elif kind == "error":
            self.error = ev.get("text", "")

    def _done(self, code: int, err: str) -> None:
        if self._phase == "plan":
            ok = code == 0 and self.plan is not None
            errors = [f for f in (self.plan or {}).get("findings", []) if f.get("level") == "error"]
            self.upload_btn.setEnabled(ok and not errors)
            self.status.setText("" if ok and not errors else
                                "Fix the errors above first." if errors else
                                f"Cannot plan the upload: {self.error or err[-300:]}")
            if not ok:
                self.text.setPlainText(self.error or err or "the plan failed")
            return
        self.cancel_btn.setText("Close")
        if code == 0 and self.upload_result is not None:
            self.progress.bar.setValue(1000)
            self.status.setText(f"Uploaded {self.upload_result.get('files', 0)} files "
                                f"({human(self.upload_result.get('bytes') or 0)}).")
            self.uploaded.emit(self.upload_result)
            self.accept()
        else:
            self.status.setText("Upload cancelled." if (self.error and "cancel" in self.error)
                                else f"Upload failed: {self.error or err[-300:]}")

    def start_upload(self) -> None:
        if self.job.running:
            return
        self._phase = "upload"
        self.error = ""
        self.upload_btn.setEnabled(False)
        self.status.setText("Uploading...")
        self.job.start("remote", "upload", self.config, "--host", self.host, "--json", env=self.env)

    def cancel(self) -> None:
        if self.job.running:
            self.status.setText("Cancelling...")
            self.job.cancel()
        else:
            self.reject()

    def done(self, r: int) -> None:
        self.job.cancel()
        super().done(r)


class ResultsHome(QWidget):
    """Saved epochs/steps of a run's output_dir on a host, downloaded on request."""

    downloaded = Signal(list)

    def __init__(self, parent=None, env: dict[str, str] | None = None):
        super().__init__(parent)
        self.setObjectName("results_home")
        self.env = env
        self.host = ""
        self.output_dir = ""
        self.runs: list[dict] = []
        self.error = ""
        self.tree = QTreeWidget()
        self.tree.setObjectName("results_tree")
        self.tree.setHeaderLabels(["Saved on the host", "Size"])
        self.tree.setColumnWidth(0, 360)
        self.dest = QLineEdit()
        self.dest.setPlaceholderText("local folder for the downloads")
        browse = QPushButton("...")
        browse.clicked.connect(lambda: self._browse())
        self.refresh_btn = QPushButton("Refresh")
        self.refresh_btn.clicked.connect(lambda: self.refresh())
        self.download_btn = QPushButton("Download ticked")
        self.download_btn.clicked.connect(lambda: self.download())
        self.cancel_btn = QPushButton("Cancel")
        self.cancel_btn.setEnabled(False)
        self.cancel_btn.clicked.connect(lambda: self.cancel())
        self.progress = _Progress()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("To"))
        row.addWidget(self.dest, 1)
        row.addWidget(browse)
        brow = QHBoxLayout()
        brow.addWidget(self.refresh_btn)
        brow.addStretch(1)
        brow.addWidget(self.download_btn)
        brow.addWidget(self.cancel_btn)
        lay = QVBoxLayout(self)
        lay.addWidget(QLabel("Bring results home (DeepSpeed checkpoints stay unticked unless "
                             "you need them to resume here)"))
        lay.addWidget(self.tree, 1)
        lay.addLayout(row)
        lay.addLayout(brow)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        self.job = CliJob(self)
        self.job.jsonLine.connect(self._event)
        self.job.done.connect(self._done)
        self._phase = ""
        self._queue: list[tuple[str, list[tuple[str, str]]]] = []
        self._got: list[str] = []

    def cancel(self) -> None:
        self._queue = []
        self.job.cancel()

    def set_source(self, host: str, output_dir: str, local_dir: str = "") -> None:
        self.host, self.output_dir = host, output_dir
        if local_dir and not self.dest.text():
            self.dest.setText(local_dir)

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Download to", self.dest.text() or os.getcwd())
        if d:
            self.dest.setText(d)

    def refresh(self) -> None:
        if self.job.running or not self.host or not self.output_dir:
            return
        self._phase = "saves"
        self.error = ""
        self.status.setText(f"Listing saves on {self.host}...")
        self.job.start("remote", "saves", self.output_dir, "--host", self.host, "--json", env=self.env)

    def _event(self, ev: dict) -> None:
        kind = ev.get("event")
        if kind == "saves":
            self.runs = list(ev.get("runs") or [])
            self._fill()
        elif kind == "progress":
            self.progress.update_from(ev)
        elif kind == "error":
            self.error = ev.get("text", "")
        elif kind == "done" and self._phase == "download":
            self._got += list(ev.get("files") or [])

    def _fill(self) -> None:
        self.tree.clear()
        for r in self.runs:
            top = QTreeWidgetItem([r.get("name", ""), ""])
            top.setData(0, Qt.ItemDataRole.UserRole, None)
            for s in r.get("saves", []):
                it = QTreeWidgetItem([s.get("name", ""), human(int(s.get("size") or 0))])
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(0, Qt.CheckState.Checked)
                it.setData(0, Qt.ItemDataRole.UserRole, ("save", s.get("path"), r.get("name", "")))
                it.setToolTip(0, "\n".join(f"{k}  {human(v)}" for k, v in (s.get("files") or {}).items()))
                top.addChild(it)
            for c in r.get("checkpoints", []):
                it = QTreeWidgetItem([f"{c.get('name', '')} (DeepSpeed checkpoint)",
                                      human(int(c.get("size") or 0))])
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(0, Qt.CheckState.Unchecked)
                it.setData(0, Qt.ItemDataRole.UserRole, ("checkpoint", c.get("path"), r.get("name", "")))
                top.addChild(it)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        if not self.runs:
            self.status.setText(f"No saved epochs or steps in {self.output_dir} on {self.host}.")

    def ticked(self) -> list[tuple[str, str, str]]:
        """(kind, host path, run folder name) of every ticked save or checkpoint."""
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount() if top is not None else 0):
                it = top.child(j) if top is not None else None
                if it is not None and it.checkState(0) == Qt.CheckState.Checked:
                    out.append(it.data(0, Qt.ItemDataRole.UserRole))
        return out

    def download(self) -> None:
        """Download the ticked items, each run's into ``<destination>/<run folder>/`` (the
        layout of an output_dir), one run after the other."""
        items = self.ticked()
        dest = self.dest.text().strip()
        if self.job.running or not items:
            return
        if not dest:
            self.status.setText("Choose a local folder first.")
            return
        groups: dict[str, list[tuple[str, str]]] = {}
        for kind, path, run in items:
            groups.setdefault(run, []).append((kind, path))
        self._queue = list(groups.items())
        self._got = []
        self._phase = "download"
        self.error = ""
        self.status.setText(f"Downloading {len(items)} item(s) from {self.host}...")
        self.download_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
        self._next_download()

    def _next_download(self) -> None:
        run, entries = self._queue.pop(0)
        target = os.path.join(self.dest.text().strip(), run) if run else self.dest.text().strip()
        args = ["remote", "download", *[p for _k, p in entries], "--host", self.host, "--to",
                target, "--json"]
        if any(k == "checkpoint" for k, _p in entries):
            args.append("--checkpoints")
        self.job.start(*args, env=self.env)

    def _done(self, code: int, err: str) -> None:
        self.download_btn.setEnabled(True)
        self.cancel_btn.setEnabled(False)
        if self._phase == "saves":
            if code != 0:
                self.status.setText(f"Cannot list the saves: {self.error or err[-300:]}")
            elif self.runs:
                self.status.setText(f"{sum(len(r.get('saves', [])) for r in self.runs)} save(s) on {self.host}.")
            return
        if code == 0 and self._queue:
            self.download_btn.setEnabled(False)
            self.cancel_btn.setEnabled(True)
            self._next_download()
            return
        if code == 0:
            self.progress.bar.setValue(1000)
            self.status.setText(f"Downloaded {len(self._got)} files to {self.dest.text()}.")
            self.downloaded.emit(list(self._got))
        else:
            self._queue = []
            self.status.setText("Download cancelled." if "cancel" in self.error else
                                f"Download failed: {self.error or err[-300:]}")


class ResultsHomeDialog(QDialog):
    """Bring results home: pick the host (a profile), and the run's output_dir there -- given,
    or found from the config the way the upload maps it (``dpgui remote plan``, which
    changes nothing)."""

    def __init__(self, parent, host: str = "", output_dir: str = "", local_dir: str = "",
                 env: dict[str, str] | None = None, config: str = ""):
        super().__init__(parent)
        from PySide6.QtWidgets import QComboBox

        from dpgui_qt.core.run.hosts.profiles import ProfileError, load_profiles
        self.setWindowTitle("Bring results home")
        self.setObjectName("results_home_dialog")
        self.resize(760, 560)
        self.config, self.env = config, env
        self.host_combo = QComboBox()
        try:
            names = [p.name for p in load_profiles()]
        except ProfileError:
            names = []
        self.host_combo.addItems(names if not host or host in names else [host, *names])
        if host:
            self.host_combo.setCurrentText(host)
        self.list_btn = QPushButton("List")
        self.list_btn.clicked.connect(lambda: self.start())
        self.panel = ResultsHome(self, env=env)
        self.panel.set_source(host, output_dir, local_dir)
        row = QHBoxLayout()
        row.addWidget(QLabel("Host"))
        row.addWidget(self.host_combo, 1)
        row.addWidget(self.list_btn)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(row)
        lay.addWidget(self.panel, 1)
        lay.addWidget(box)
        self.plan_job = CliJob(self)
        self.plan_job.jsonLine.connect(self._plan)
        self.plan_job.done.connect(self._plan_done)
        self._given_output = output_dir
        if host and (output_dir or config):
            self.start()

    def start(self) -> None:
        host = self.host_combo.currentText().strip()
        if not host or self.plan_job.running or self.panel.job.running:
            return
        if self._given_output:
            self.panel.set_source(host, self._given_output)
            self.panel.refresh()
        elif self.config:
            self.panel.status.setText(f"Finding the run's output_dir on {host}...")
            self.panel.host = host
            self.plan_job.start("remote", "plan", self.config, "--host", host, "--json", env=self.env)
        else:
            self.panel.status.setText("No config and no output_dir to look in.")

    def _plan(self, ev: dict) -> None:
        if ev.get("event") == "plan" and ev.get("remote_output_dir"):
            self.panel.set_source(self.panel.host, ev["remote_output_dir"])
        elif ev.get("event") == "error":
            self.panel.status.setText(ev.get("text", ""))

    def _plan_done(self, code: int, err: str) -> None:
        if code == 0 and self.panel.output_dir:
            self.panel.refresh()
        elif code != 0 and not self.panel.status.text().startswith("dpgui remote"):
            self.panel.status.setText(f"Cannot reach the host: {err[-300:]}")

    def done(self, r: int) -> None:
        self.plan_job.cancel()
        self.panel.job.cancel()
        super().done(r)
