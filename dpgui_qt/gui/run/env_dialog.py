"""Run ▸ Environment…: where diffusion-pipe and deepspeed are, GPUs, ports and the
trainer's environment variables.  Persisted in the app settings (``[run]``)."""
from __future__ import annotations

import os

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QCheckBox, QDialog,
                               QDialogButtonBox, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QPushButton, QRadioButton, QSpinBox, QTableWidget,
                               QTableWidgetItem, QVBoxLayout, QWidget)

from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run import hosts
from dpgui_qt.gui.run.launch_settings import EnvSettings, detect, parse_gpu_list

OK_STYLE = "color: #2e7d32;"
BAD_STYLE = "color: #c62828;"


def status_html(ok: bool, text: str) -> str:
    mark = "✔" if ok else "✖"
    return f"<span style='{OK_STYLE if ok else BAD_STYLE}'><b>{mark}</b> {text}</span>"


def checkout_in_words(setting: str) -> str:
    """Why no diffusion-pipe checkout was found, said for the dialog (no CLI flags)."""
    if setting:
        p = os.path.expanduser(setting)
        why = ("does not exist" if not os.path.exists(p) else "is not a folder"
               if not os.path.isdir(p) else "has no train.py, so it is not diffusion-pipe")
        return (f"{html_escape(setting)} {why}. Choose the folder you downloaded diffusion-pipe "
                "into (the one that contains train.py).")
    return ("Not found. Download diffusion-pipe with git (including its submodules) and choose "
            "its folder here (the one that contains train.py).")


def deepspeed_in_words(setting: str) -> str:
    """Why no DeepSpeed was found, said for the dialog (no CLI flags)."""
    if setting:
        p = os.path.expanduser(setting)
        if os.path.isdir(p):
            return (f"{html_escape(setting)} has no DeepSpeed. Install diffusion-pipe's "
                    "requirements into that Python environment, or choose the environment "
                    "where you installed them.")
        return f"{html_escape(setting)} does not exist. Choose the Python environment folder."
    return ("Not found on this computer's search path. Choose the Python environment (venv or "
            "conda folder) where you installed diffusion-pipe's requirements.")


def html_escape(text: str) -> str:
    import html
    return html.escape(text)


class PathField(QWidget):
    """A line edit with a Browse… button and a found/not-found line under it."""
    changed = Signal()

    def __init__(self, placeholder: str, dir_dialog_title: str, parent=None, files: bool = False):
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        row = QHBoxLayout()
        self.edit = QLineEdit(self)
        self.edit.setPlaceholderText(placeholder)
        self.edit.setClearButtonEnabled(True)
        self.edit.textChanged.connect(lambda _t: self.changed.emit())
        self.browse = QPushButton("Browse…", self)
        self._title = dir_dialog_title
        self._files = files
        self.browse.clicked.connect(self._pick)
        row.addWidget(self.edit, 1)
        row.addWidget(self.browse)
        lay.addLayout(row)
        self.status = QLabel(self)
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        lay.addWidget(self.status)

    def text(self) -> str:
        return self.edit.text().strip()

    def _pick(self) -> None:
        start = self.text() or os.path.expanduser("~")
        path = QFileDialog.getExistingDirectory(self, self._title, start)
        if path:
            self.edit.setText(path)


class EnvironmentDialog(QDialog):
    """Edit :class:`EnvSettings`; ``settings()`` returns the edited copy."""

    def __init__(self, env: EnvSettings, parent=None, platform: str | None = None):
        super().__init__(parent)
        self.setWindowTitle("Training Environment")
        self.setObjectName("RunEnvironmentDialog")
        self.setMinimumWidth(640)
        self._platform = platform
        self._env = env
        lay = QVBoxLayout(self)
        lay.addWidget(self._build_where(platform))
        lay.addWidget(self._build_gpus())
        lay.addWidget(self._build_trainer_env())
        lay.addWidget(self._build_stopping())
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults, self)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults).clicked.connect(
            lambda: self.load(EnvSettings()))
        lay.addWidget(self.buttons)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(200)
        self._timer.timeout.connect(self.refresh)
        for sig in (self.checkout.changed, self.deepspeed.changed, self.gpu_list.textChanged,
                    self.gpu_count.valueChanged, self._gpu_group.buttonToggled,
                    self.table.itemChanged):
            sig.connect(lambda *_: self._timer.start())
        self.load(env)

    # ------------------------------------------------------------- parts
    def _build_where(self, platform: str | None) -> QGroupBox:
        """The checkout, the Python environment with deepspeed, the WSL distribution."""
        where = QGroupBox("diffusion-pipe and deepspeed", self)
        form = QFormLayout(where)
        self.checkout = PathField(f"auto: ${envmod.ENV_CHECKOUT}, then ref/diffusion-pipe",
                                  "diffusion-pipe checkout", self)
        self.checkout.setToolTip("The folder you cloned tdrussell/diffusion-pipe into (it "
                                 "contains train.py). Training runs from there.")
        form.addRow("Checkout:", self.checkout)
        self.deepspeed = PathField("deepspeed on PATH (or a venv / conda environment folder)",
                                   "Python environment with deepspeed", self)
        self.deepspeed.setToolTip("The venv or conda environment that has diffusion-pipe's "
                                  "requirements installed (its bin/deepspeed is used), or the "
                                  "deepspeed executable itself. Empty: deepspeed on PATH.")
        form.addRow("Python environment:", self.deepspeed)
        self.wsl_distro = QLineEdit(self)
        self.wsl_distro.setPlaceholderText("default distribution")
        self.wsl_distro.setToolTip("Windows only: the WSL2 distribution that runs diffusion-pipe.")
        if hosts.platform_default_kind(platform) != "wsl":
            self.wsl_distro.setEnabled(False)
            self.wsl_distro.setPlaceholderText("Windows only (training runs inside WSL2)")
        form.addRow("WSL distribution:", self.wsl_distro)
        return where

    def _build_gpus(self) -> QGroupBox:
        """Which GPUs, and the master port."""
        gpus = QGroupBox("GPUs", self)
        g = QFormLayout(gpus)
        row = QHBoxLayout()
        self.gpu_count_rb = QRadioButton("Count", self)
        self.gpu_count = QSpinBox(self)
        self.gpu_count.setRange(1, 64)
        self.gpu_list_rb = QRadioButton("These GPUs", self)
        self.gpu_list = QLineEdit(self)
        self.gpu_list.setPlaceholderText("0,2")
        self.gpu_list.setMaximumWidth(120)
        self.gpu_all_rb = QRadioButton("All visible", self)
        self._gpu_group = QButtonGroup(self)
        for b in (self.gpu_count_rb, self.gpu_list_rb, self.gpu_all_rb):
            self._gpu_group.addButton(b)
        row.addWidget(self.gpu_count_rb)
        row.addWidget(self.gpu_count)
        row.addSpacing(16)
        row.addWidget(self.gpu_list_rb)
        row.addWidget(self.gpu_list)
        row.addSpacing(16)
        row.addWidget(self.gpu_all_rb)
        row.addStretch(1)
        g.addRow("Use:", row)
        self.gpu_note = QLabel(self)
        self.gpu_note.setTextFormat(Qt.TextFormat.RichText)
        g.addRow("", self.gpu_note)
        port_row = QHBoxLayout()
        self.port_on = QCheckBox("Set", self)
        self.port = QSpinBox(self)
        self.port.setRange(1024, 65535)
        self.port.setValue(29500)
        self.port_on.toggled.connect(self.port.setEnabled)
        port_row.addWidget(self.port_on)
        port_row.addWidget(self.port)
        port_row.addWidget(QLabel("(passed to the launcher and train.py; change it when two "
                                  "runs share a machine)", self))
        port_row.addStretch(1)
        g.addRow("Master port:", port_row)
        return gpus

    def _build_trainer_env(self) -> QGroupBox:
        """NCCL and allocator switches, and extra variables."""
        envbox = QGroupBox("Trainer environment", self)
        e = QVBoxLayout(envbox)
        self.nccl_p2p = QCheckBox("NCCL_P2P_DISABLE=1  (consumer GPUs without P2P; diffusion-pipe's "
                                  "README sets it)", self)
        self.nccl_ib = QCheckBox("NCCL_IB_DISABLE=1  (no InfiniBand)", self)
        self.expandable = QCheckBox("PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True  (less "
                                    "fragmentation; helps with borderline OOM)", self)
        for w in (self.nccl_p2p, self.nccl_ib, self.expandable):
            e.addWidget(w)
        e.addWidget(QLabel("Extra variables:", self))
        self.table = QTableWidget(0, 2, self)
        self.table.setHorizontalHeaderLabels(["Variable", "Value"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setMinimumHeight(110)
        e.addWidget(self.table)
        brow = QHBoxLayout()
        add = QPushButton("Add", self)
        add.clicked.connect(lambda: self._add_row("", ""))
        rem = QPushButton("Remove", self)
        rem.clicked.connect(self._remove_rows)
        brow.addWidget(add)
        brow.addWidget(rem)
        brow.addStretch(1)
        self.env_note = QLabel(self)
        self.env_note.setTextFormat(Qt.TextFormat.RichText)
        brow.addWidget(self.env_note)
        e.addLayout(brow)
        return envbox

    def _build_stopping(self) -> QGroupBox:
        """The stop grace period and the console's line limit."""
        misc = QGroupBox("Stopping and output", self)
        m = QFormLayout(misc)
        self.grace = QDoubleSpinBox(self)
        self.grace.setRange(1, 600)
        self.grace.setSuffix(" s")
        self.grace.setToolTip("Stop sends SIGTERM to every process of the run, then SIGKILL "
                              "after this many seconds.")
        m.addRow("Stop: SIGKILL after", self.grace)
        self.max_lines = QSpinBox(self)
        self.max_lines.setRange(10_000, 5_000_000)
        self.max_lines.setSingleStep(50_000)
        self.max_lines.setToolTip("The console keeps this many lines; the full output is always "
                                  "in the log file.")
        m.addRow("Console keeps", self.max_lines)
        return misc

    # -------------------------------------------------------------------
    def load(self, env: EnvSettings) -> None:
        self.checkout.edit.setText(env.checkout)
        self.deepspeed.edit.setText(env.deepspeed)
        self.wsl_distro.setText(env.wsl_distro)
        {"count": self.gpu_count_rb, "list": self.gpu_list_rb, "all": self.gpu_all_rb}.get(
            env.gpu_mode, self.gpu_count_rb).setChecked(True)
        self.gpu_count.setValue(max(1, int(env.gpu_count)))
        self.gpu_list.setText(env.gpu_list)
        self.port_on.setChecked(bool(env.master_port))
        self.port.setEnabled(bool(env.master_port))
        self.port.setValue(int(env.master_port) or 29500)
        self.nccl_p2p.setChecked(env.nccl_p2p_disable)
        self.nccl_ib.setChecked(env.nccl_ib_disable)
        self.expandable.setChecked(env.expandable_segments)
        self.table.setRowCount(0)
        for k, v in env.extra_env.items():
            self._add_row(k, v)
        self.grace.setValue(float(env.stop_grace_s))
        self.max_lines.setValue(int(env.console_max_lines))
        self.refresh()

    def _add_row(self, k: str, v: str) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        self.table.setItem(r, 0, QTableWidgetItem(k))
        self.table.setItem(r, 1, QTableWidgetItem(v))
        first = self.table.item(r, 0)
        if not k and first is not None:
            self.table.editItem(first)

    def _remove_rows(self) -> None:
        for r in sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True):
            self.table.removeRow(r)
        self._timer.start()

    def extra_env(self) -> tuple[dict[str, str], list[str]]:
        out, bad = {}, []
        for r in range(self.table.rowCount()):
            key_item, value_item = self.table.item(r, 0), self.table.item(r, 1)
            k = (key_item.text() if key_item else "").strip()
            v = value_item.text() if value_item else ""
            if not k:
                continue
            if "=" in k or not k.replace("_", "a").isalnum() or k[0].isdigit():
                bad.append(k)
                continue
            out[k] = v
        return out, bad

    def settings(self) -> EnvSettings:
        mode = "list" if self.gpu_list_rb.isChecked() else "all" if self.gpu_all_rb.isChecked() \
            else "count"
        extra, _bad = self.extra_env()
        return EnvSettings(
            checkout=self.checkout.text(), deepspeed=self.deepspeed.text(), gpu_mode=mode,
            gpu_count=self.gpu_count.value(), gpu_list=self.gpu_list.text().strip() or "0",
            master_port=self.port.value() if self.port_on.isChecked() else 0,
            nccl_p2p_disable=self.nccl_p2p.isChecked(), nccl_ib_disable=self.nccl_ib.isChecked(),
            expandable_segments=self.expandable.isChecked(), extra_env=extra,
            wsl_distro=self.wsl_distro.text().strip(), stop_grace_s=self.grace.value(),
            console_max_lines=self.max_lines.value())

    def refresh(self) -> None:
        env = self.settings()
        det = detect(env)
        if det.checkout:
            self.checkout.status.setText(status_html(True, f"found: {det.checkout}"))
        else:
            self.checkout.status.setText(status_html(False, checkout_in_words(env.checkout)))
        if det.deepspeed:
            self.deepspeed.status.setText(status_html(True, f"found: {det.deepspeed}"))
        else:
            self.deepspeed.status.setText(status_html(False, deepspeed_in_words(env.deepspeed)))
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        gpu_ok = True
        if env.gpu_mode == "list":
            try:
                ids = parse_gpu_list(env.gpu_list)
                self.gpu_note.setText(f"--include localhost:{','.join(map(str, ids))}")
            except ValueError as e:
                self.gpu_note.setText(status_html(False, str(e)))
                gpu_ok = False
        elif env.gpu_mode == "all":
            self.gpu_note.setText("DeepSpeed uses every visible GPU (no --num_gpus)")
        else:
            self.gpu_note.setText(f"--num_gpus={env.gpu_count}")
        _extra, bad = self.extra_env()
        self.env_note.setText(status_html(False, "invalid name: " + ", ".join(bad)) if bad else "")
        ok.setEnabled(gpu_ok and not bad)
