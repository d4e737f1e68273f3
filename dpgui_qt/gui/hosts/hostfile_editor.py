"""The multi-node editor: hosts and GPU slots, DeepSpeed's launcher options, NCCL settings
with explanations, and the generated hostfile and command (issue #15, deliverable 7).

The model is :class:`dpgui_qt.core.run.multinode.Cluster`; the setup is kept in
``multinode.json`` beside ``hosts.json`` (saved atomically).  *Check nodes* runs
``dpgui launch CONFIG --nodes ... --check --json`` as a QProcess child: the per-node
pre-flight over SSH (same commit, same config bytes, dataset present, GPUs >= slots, the
master's port reachable from the others).
"""
from __future__ import annotations

import json
import posixpath
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFileDialog, QFormLayout, QGroupBox,
    QHBoxLayout, QLabel, QLineEdit, QListWidget, QListWidgetItem, QPlainTextEdit, QPushButton,
    QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget,
)

from dpgui_qt.core.run import multinode as mn
from dpgui_qt.gui import messages
from dpgui_qt.gui.hosts.hosts_dialog import LEVEL_COLOURS
from dpgui_qt.gui.hosts.jobs import CliJob

COL_USE, COL_HOST, COL_SSH, COL_SLOTS = range(4)
NOT_SET = "(not set)"


def setup_path() -> Path:
    from dpgui_qt.core.run.hosts.profiles import profiles_path
    return profiles_path().with_name("multinode.json")


def load_setup(path: Path | None = None) -> mn.Cluster:
    p = path or setup_path()
    try:
        return mn.Cluster.from_dict(json.loads(p.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return mn.Cluster()
    except (OSError, ValueError, mn.MultiNodeError):
        return mn.Cluster()


def save_setup(cluster: mn.Cluster, path: Path | None = None) -> Path:
    from dpgui_qt.core.safeio import write_file
    p = path or setup_path()
    p.parent.mkdir(parents=True, exist_ok=True)
    write_file(p, (json.dumps(cluster.to_dict(), indent=2) + "\n").encode("utf-8"))
    return p


def _profile_names() -> list[str]:
    from dpgui_qt.core.run.hosts.profiles import ProfileError, load_profiles
    try:
        return [p.name for p in load_profiles()]
    except ProfileError:
        return []


class NodesTable(QTableWidget):
    """Hosts and GPU slots; the first ticked row is the master."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(0, 4, parent)
        self.setObjectName("nodes_table")
        self.setHorizontalHeaderLabels(["Use", "Host (as the first node reaches it)",
                                        "dpgui reaches it by", "GPUs (slots)"])
        from PySide6.QtWidgets import QHeaderView
        head = self.horizontalHeader()
        head.setSectionResizeMode(COL_USE, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(COL_HOST, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(COL_SSH, QHeaderView.ResizeMode.Stretch)
        head.setSectionResizeMode(COL_SLOTS, QHeaderView.ResizeMode.ResizeToContents)
        self.setHorizontalHeaderLabels(["Use", "Host (as the first node sees it)",
                                        "dpgui reaches it by", "GPUs"])
        self.horizontalHeaderItem(COL_SLOTS).setToolTip("GPU slots: how many GPUs DeepSpeed "
                                                        "uses on that node")
        self.itemChanged.connect(lambda _i: self.changed.emit())

    def add_node(self, node: mn.Node) -> None:
        r = self.rowCount()
        self.blockSignals(True)
        self.insertRow(r)
        use = QTableWidgetItem()
        use.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
        use.setCheckState(Qt.CheckState.Checked if node.enabled else Qt.CheckState.Unchecked)
        self.setItem(r, COL_USE, use)
        self.setItem(r, COL_HOST, QTableWidgetItem(node.name))
        ssh = QComboBox()
        ssh.setEditable(True)
        ssh.addItems(["", *_profile_names()])
        ssh.setEditText(node.ssh)
        ssh.setToolTip("A host profile or an SSH destination; empty = the host name itself")
        ssh.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.setCellWidget(r, COL_SSH, ssh)
        spin = QSpinBox()
        spin.setRange(1, 64)
        spin.setValue(max(1, node.slots))
        spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.setCellWidget(r, COL_SLOTS, spin)
        self.blockSignals(False)
        self.changed.emit()

    def nodes(self) -> list[mn.Node]:
        out = []
        for r in range(self.rowCount()):
            host, use = self.item(r, COL_HOST), self.item(r, COL_USE)
            slots, ssh = self.cellWidget(r, COL_SLOTS), self.cellWidget(r, COL_SSH)
            assert isinstance(slots, QSpinBox) and isinstance(ssh, QComboBox)
            out.append(mn.Node(
                name=(host.text() if host else "").strip(), slots=slots.value(),
                ssh=ssh.currentText().strip(),
                enabled=use is not None and use.checkState() == Qt.CheckState.Checked))
        return out

    def set_nodes(self, nodes: list[mn.Node]) -> None:
        self.setRowCount(0)
        for n in nodes:
            self.add_node(n)
        self.changed.emit()

    def move_row(self, delta: int) -> None:
        r = self.currentRow()
        nodes = self.nodes()
        t = r + delta
        if r < 0 or not 0 <= t < len(nodes):
            return
        nodes[r], nodes[t] = nodes[t], nodes[r]
        self.set_nodes(nodes)
        self.setCurrentCell(t, COL_HOST)


class NcclPanel(QGroupBox):
    """One editor per NCCL setting, each with its explanation underneath."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__("NCCL settings (exported to every rank)", parent)
        form = QFormLayout(self)
        self.editors: dict[str, QComboBox] = {}
        for s in mn.NCCL_SETTINGS:
            box = QComboBox()
            box.setObjectName(f"nccl_{s.name}")
            box.setEditable(not s.choices)
            box.addItems([NOT_SET, *s.choices] if s.choices else [NOT_SET])
            box.setToolTip(s.help)
            box.currentTextChanged.connect(lambda _t: self.changed.emit())
            help_label = QLabel(s.help)
            help_label.setWordWrap(True)
            help_label.setObjectName(f"nccl_help_{s.name}")
            f = help_label.font()
            f.setPointSizeF(max(7.0, f.pointSizeF() * 0.9))
            help_label.setFont(f)
            col = QVBoxLayout()
            col.addWidget(box)
            col.addWidget(help_label)
            holder = QWidget()
            holder.setLayout(col)
            col.setContentsMargins(0, 0, 0, 6)
            form.addRow(f"{s.label}\n{s.name}", holder)
            self.editors[s.name] = box

    def values(self) -> dict[str, str]:
        out = {}
        for name, box in self.editors.items():
            v = box.currentText().strip()
            if v and v != NOT_SET:
                out[name] = v
        return out

    def set_values(self, values: dict[str, str]) -> None:
        for name, box in self.editors.items():
            v = values.get(name, "")
            if not v:
                box.setCurrentIndex(0)
            elif box.isEditable():
                box.setEditText(v)
            else:
                i = box.findText(v)
                if i < 0:
                    box.addItem(v)
                    i = box.findText(v)
                box.setCurrentIndex(i)


class HostfileEditor(QDialog):
    """Edit a multi-node setup and see what dpgui will run."""

    checkFinished = Signal(int)

    def __init__(self, parent=None, config_path: str | None = None, path: Path | None = None):
        super().__init__(parent)
        self.setWindowTitle("Multi-node")
        self.setObjectName("hostfile_editor")
        self.resize(980, 760)
        self.config_path = config_path
        self.path = path
        self.checks: list[mn.NodeCheck] = []
        self._out: list[str] = []
        self.job = CliJob(self)
        self.job.line.connect(self._out.append)
        self.job.done.connect(self._check_done)

        self.table = NodesTable()
        add = QPushButton("Add node")
        rem = QPushButton("Remove")
        up = QPushButton("Up")
        down = QPushButton("Down")
        imp = QPushButton("Import hostfile...")
        exp = QPushButton("Export hostfile...")
        add.clicked.connect(lambda: self._add())
        rem.clicked.connect(lambda: self._remove())
        up.clicked.connect(lambda: self.table.move_row(-1))
        down.clicked.connect(lambda: self.table.move_row(1))
        imp.clicked.connect(lambda: self.import_hostfile())
        exp.clicked.connect(lambda: self.export_hostfile())
        row = QHBoxLayout()
        for b in (add, rem, up, down):
            row.addWidget(b)
        row.addStretch(1)
        row.addWidget(imp)
        row.addWidget(exp)

        self.master_addr = QLineEdit()
        self.master_addr.setObjectName("master_addr")
        self.master_addr.setPlaceholderText("e.g. 10.0.0.4: the first node as the others reach it")
        self.master_addr.setToolTip("DeepSpeed's --master_addr: the first node's IP or name on "
                                    "the network the nodes share (not necessarily how you reach it)")
        self.master_port = QSpinBox()
        self.master_port.setRange(1, 65535)
        self.master_port.setToolTip("DeepSpeed's --master_port: the rendezvous port on the first "
                                    "node; the others must be able to connect to it")
        self.launcher = QComboBox()
        self.launcher.addItems(list(mn.LAUNCHERS))
        self.launcher.setToolTip("DeepSpeed's --launcher: pdsh (over SSH from the first node; "
                                 "it needs pdsh and key-based SSH from it to the others), or an "
                                 "MPI/Slurm backend already set up on the cluster")
        self.ssh_port = QSpinBox()
        self.ssh_port.setRange(0, 65535)
        self.ssh_port.setSpecialValueText("default")
        self.ssh_port.setToolTip("DeepSpeed's --ssh_port: the SSH port the first node uses for "
                                 "the others (the same on all of them)")
        self.launcher_args = QLineEdit()
        self.launcher_args.setToolTip("DeepSpeed's --launcher_args, passed to the backend")
        opts = QGroupBox("DeepSpeed launcher")
        of = QFormLayout(opts)
        of.addRow("Master address", self.master_addr)
        of.addRow("Master port", self.master_port)
        of.addRow("Launcher", self.launcher)
        of.addRow("SSH port", self.ssh_port)
        of.addRow("Launcher arguments", self.launcher_args)
        self.nccl = NcclPanel()

        self.problems = QLabel("")
        self.problems.setObjectName("multinode_problems")
        self.problems.setWordWrap(True)
        self.problems.setStyleSheet(f"color: {LEVEL_COLOURS['error']}")
        self.preview = QPlainTextEdit()
        self.preview.setObjectName("multinode_preview")
        self.preview.setReadOnly(True)
        mono = QFont("monospace")
        mono.setStyleHint(QFont.StyleHint.TypeWriter)
        self.preview.setFont(mono)
        self.check_btn = QPushButton("Check nodes")
        self.check_btn.setToolTip("Per-node pre-flight over SSH: same commit, same config bytes, "
                                  "dataset present, GPUs >= slots, master port reachable")
        self.check_btn.clicked.connect(lambda: self.check_nodes())
        self.results = QListWidget()
        self.results.setObjectName("multinode_checks")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        left = QVBoxLayout()
        left.addWidget(self.table, 2)
        left.addLayout(row)
        left.addWidget(opts)
        left.addWidget(self.nccl)
        right = QVBoxLayout()
        right.addWidget(QLabel("Generated hostfile and command"))
        right.addWidget(self.problems)
        right.addWidget(self.preview, 3)
        crow = QHBoxLayout()
        crow.addWidget(self.check_btn)
        crow.addWidget(self.status, 1)
        right.addLayout(crow)
        right.addWidget(self.results, 2)
        body = QHBoxLayout()
        body.addLayout(left, 1)
        body.addLayout(right, 1)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Save
                               | QDialogButtonBox.StandardButton.Close)
        box.accepted.connect(lambda: self.save())
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(body, 1)
        lay.addWidget(box)

        self.set_cluster(load_setup(self.path))
        for sig in (self.table.changed, self.nccl.changed, self.master_addr.textChanged,
                    self.master_port.valueChanged, self.launcher.currentTextChanged,
                    self.ssh_port.valueChanged, self.launcher_args.textChanged):
            sig.connect(lambda *_a: self.refresh())
        self.refresh()

    # -- model <-> widgets -------------------------------------------------
    def set_cluster(self, c: mn.Cluster) -> None:
        self.table.set_nodes(c.nodes)
        self.master_addr.setText(c.master_addr)
        self.master_port.setValue(int(c.master_port))
        self.launcher.setCurrentText(c.launcher)
        self.ssh_port.setValue(int(c.ssh_port or 0))
        self.launcher_args.setText(c.launcher_args)
        self.nccl.set_values(c.nccl)

    def cluster(self) -> mn.Cluster:
        return mn.Cluster(nodes=self.table.nodes(), master_addr=self.master_addr.text().strip(),
                          master_port=self.master_port.value(),
                          launcher=self.launcher.currentText(),
                          launcher_args=self.launcher_args.text().strip(),
                          ssh_port=self.ssh_port.value() or None, nccl=self.nccl.values())

    def _add(self) -> None:
        n = self.table.rowCount() + 1
        self.table.add_node(mn.Node(f"node-{n}", 1))
        self.table.setCurrentCell(self.table.rowCount() - 1, COL_HOST)

    def _remove(self) -> None:
        r = self.table.currentRow()
        if r >= 0:
            self.table.removeRow(r)
            self.refresh()

    # -- preview -------------------------------------------------------------
    def node_paths(self, c: mn.Cluster) -> tuple[str, str, str]:
        """(checkout, deepspeed, workdir) from the first node's host profile."""
        try:
            prof = mn.profile_for(c.master.destination)
        except mn.MultiNodeError:
            prof = None
        if prof is None:
            return "/path/to/diffusion-pipe", "deepspeed", "/path/to/dpgui-work"
        ds = prof.deepspeed or (posixpath.join(prof.env, "bin", "deepspeed") if prof.env else "deepspeed")
        return prof.checkout, ds, prof.workdir

    def refresh(self) -> None:
        c = self.cluster()
        probs = c.problems()
        self.problems.setText("\n".join(probs))
        self.check_btn.setEnabled(not probs and not self.job.running and bool(self.config_path))
        if not self.config_path:
            self.check_btn.setToolTip("Open a training config first: the check compares its "
                                      "uploaded copy on every node")
        if probs:
            self.preview.setPlainText(c.hostfile_text() if c.active else "")
            return
        checkout, ds, workdir = self.node_paths(c)
        note = ""
        if any(p.startswith("~") for p in (checkout, ds, workdir)):
            # shown with the first node's home as $HOME; the launch resolves it there
            home = "/home/$USER"
            checkout, ds, workdir = (home + p[1:] if p.startswith("~") else p
                                     for p in (checkout, ds, workdir))
            note = "# '~' is resolved on the first node at launch (shown as /home/$USER)\n"
        config = (mn.uploaded_config_path(self.config_path, workdir) if self.config_path
                  else posixpath.join(workdir, "configs", "config.toml"))
        try:
            launch = mn.build_launch(c, deepspeed=ds, checkout=checkout,
                                     train_args=["train.py", "--deepspeed", "--config", config],
                                     state_dir=posixpath.join(workdir, "multinode", "RUN_ID"),
                                     run_id="RUN_ID")
        except mn.MultiNodeError as e:
            self.problems.setText(str(e))
            self.preview.setPlainText(c.hostfile_text())
            return
        self.preview.setPlainText(note + mn.dry_run_text(launch, c))

    # -- files ---------------------------------------------------------------
    def save(self) -> bool:
        from dpgui_qt.core.errors import SaveError
        try:
            p = save_setup(self.cluster(), self.path)
        except (SaveError, OSError) as e:      # say it, keep the dialog open
            messages.warning(self, "Multi-node", "The setup was not saved.", str(e))
            return False
        self.status.setText(f"Saved to {p}.")
        return True

    def import_hostfile(self, filename: str | None = None) -> bool:
        if filename is None:
            filename, _ = QFileDialog.getOpenFileName(self, "Import a DeepSpeed hostfile")
            if not filename:
                return False
        try:
            with open(filename, encoding="utf-8") as f:
                nodes = mn.parse_hostfile(f.read())
        except (OSError, UnicodeDecodeError) as e:
            messages.warning(self, "Import hostfile", f"Cannot read {filename}.", str(e))
            return False
        except mn.MultiNodeError as e:
            messages.warning(self, "Import hostfile", f"{filename} is not a DeepSpeed hostfile.", str(e))
            return False
        old = {n.name: n for n in self.table.nodes()}
        for n in nodes:
            if n.name in old:
                n.ssh = old[n.name].ssh
        self.table.set_nodes(nodes)
        return True

    def export_hostfile(self, filename: str | None = None) -> bool:
        c = self.cluster()
        if not c.active:
            return False
        if filename is None:
            filename, _ = QFileDialog.getSaveFileName(self, "Export the hostfile", "hostfile")
            if not filename:
                return False
        from dpgui_qt.core.errors import SaveError
        from dpgui_qt.core.safeio import write_file
        try:
            write_file(filename, c.hostfile_text().encode("utf-8"))
        except (SaveError, OSError) as e:
            messages.warning(self, "Export hostfile", "The hostfile was not written.", str(e))
            return False
        return True

    # -- per-node pre-flight -------------------------------------------------
    def check_args(self) -> list[str]:
        c = self.cluster()
        args = ["launch", str(self.config_path), "--nodes",
                ",".join(f"{n.name}:{n.slots}" for n in c.active),
                "--master-addr", c.master_addr, "--master-port", str(c.master_port), "--check",
                "--json"]
        for n in c.active:
            if n.ssh:
                args += ["--node-ssh", f"{n.name}={n.ssh}"]
        return args

    def check_nodes(self) -> None:
        if self.job.running or not self.config_path or self.cluster().problems():
            return
        self._out.clear()
        self.results.clear()
        self.checks = []
        self.status.setText("Checking every node...")
        self.check_btn.setEnabled(False)
        self.job.start(*self.check_args())

    def _check_done(self, code: int, err: str) -> None:
        self.refresh()
        try:
            data = json.loads("\n".join(self._out))
        except ValueError:
            data = None
        if not isinstance(data, list):
            self.status.setText(f"The check could not run. {err[-400:]}")
            self.checkFinished.emit(code)
            return
        self.checks = [mn.NodeCheck(**{k: d.get(k, "") for k in ("node", "level", "code",
                                                                 "message", "fix")})
                       for d in data if isinstance(d, dict)]
        for ch in sorted(self.checks, key=lambda c: {"error": 0, "warning": 1}.get(c.level, 2)):
            item = QListWidgetItem(ch.message + (f"  ({ch.fix})" if ch.fix and ch.level != "ok" else ""))
            item.setForeground(QBrush(QColor(LEVEL_COLOURS.get(ch.level, "#000000"))))
            item.setData(Qt.ItemDataRole.UserRole, (ch.node, ch.code, ch.level))
            self.results.addItem(item)
        n = sum(ch.is_error for ch in self.checks)
        self.status.setText("Every node is ready." if not n else f"{n} problem(s) on the nodes.")
        self.checkFinished.emit(code)

    def done(self, r: int) -> None:
        self.job.cancel()
        super().done(r)
