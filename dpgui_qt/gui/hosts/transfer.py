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
        self.result: dict | None = None
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
        self.job.event.connect(self._event)
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
            self.result = ev
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
        if code == 0 and self.result is not None:
            self.progress.bar.setValue(1000)
            self.status.setText(f"Uploaded {self.result.get('files', 0)} files "
                                f"({human(self.result.get('bytes') or 0)}).")
            self.uploaded.emit(self.result)
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
        self.cancel_btn.clicked.connect(lambda: self.job.cancel())
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
        self.job.event.connect(self._event)
        self.job.done.connect(self._done)
        self._phase = ""

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
        elif kind == "done":
            self.downloaded.emit(list(ev.get("files") or []))

    def _fill(self) -> None:
        self.tree.clear()
        for r in self.runs:
            top = QTreeWidgetItem([r.get("name", ""), ""])
            top.setData(0, Qt.ItemDataRole.UserRole, None)
            for s in r.get("saves", []):
                it = QTreeWidgetItem([s.get("name", ""), human(int(s.get("size") or 0))])
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(0, Qt.CheckState.Checked)
                it.setData(0, Qt.ItemDataRole.UserRole, ("save", s.get("path")))
                it.setToolTip(0, "\n".join(f"{k}  {human(v)}" for k, v in (s.get("files") or {}).items()))
                top.addChild(it)
            for c in r.get("checkpoints", []):
                it = QTreeWidgetItem([f"{c.get('name', '')} (DeepSpeed checkpoint)",
                                      human(int(c.get("size") or 0))])
                it.setFlags(it.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                it.setCheckState(0, Qt.CheckState.Unchecked)
                it.setData(0, Qt.ItemDataRole.UserRole, ("checkpoint", c.get("path")))
                top.addChild(it)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
        if not self.runs:
            self.status.setText(f"No saved epochs or steps in {self.output_dir} on {self.host}.")

    def ticked(self) -> list[tuple[str, str]]:
        out = []
        for i in range(self.tree.topLevelItemCount()):
            top = self.tree.topLevelItem(i)
            for j in range(top.childCount()):
                it = top.child(j)
                if it.checkState(0) == Qt.CheckState.Checked:
                    out.append(it.data(0, Qt.ItemDataRole.UserRole))
        return out

    def download(self) -> None:
        items = self.ticked()
        dest = self.dest.text().strip()
        if self.job.running or not items:
            return
        if not dest:
            self.status.setText("Choose a local folder first.")
            return
        self._phase = "download"
        self.error = ""
        args = ["remote", "download", *[p for _k, p in items], "--host", self.host, "--to", dest,
                "--json"]
        if any(k == "checkpoint" for k, _p in items):
            args.append("--checkpoints")
        self.status.setText(f"Downloading {len(items)} item(s) from {self.host}...")
        self.download_btn.setEnabled(False)
        self.cancel_btn.setEnabled(True)
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
        if code == 0:
            self.progress.bar.setValue(1000)
            self.status.setText(f"Downloaded to {self.dest.text()}.")
        else:
            self.status.setText("Download cancelled." if "cancel" in self.error else
                                f"Download failed: {self.error or err[-300:]}")


class ResultsHomeDialog(QDialog):
    def __init__(self, parent, host: str, output_dir: str, local_dir: str = "",
                 env: dict[str, str] | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Bring results home from {host}")
        self.resize(720, 520)
        self.panel = ResultsHome(self, env=env)
        self.panel.set_source(host, output_dir, local_dir)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.panel, 1)
        lay.addWidget(box)
        self.panel.refresh()

    def done(self, r: int) -> None:
        self.panel.job.cancel()
        super().done(r)
