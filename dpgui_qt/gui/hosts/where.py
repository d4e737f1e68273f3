"""The Run page's "Where" choice: this machine (on Windows: its WSL, where diffusion-pipe
runs), each SSH host profile, or Multi-node (issue #15).

``WherePanel`` is a small group box the Run page adds to its side panel
(:func:`install`).  For *This machine* / *WSL* the page starts runs as before; for an SSH
profile or Multi-node :meth:`WherePanel.start` takes over Start Training and opens a
:class:`~.remote_run.RemoteRunDialog` (upload plan first, then the followed run).
*Hosts…* opens the profiles dialog; *Nodes…* the multi-node editor.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QDialog, QGroupBox, QHBoxLayout, QPushButton, QWidget

from dpgui_qt.core.run.hosts import profiles as pr

LOCAL, WSL, MULTI = "local", "wsl", "multinode"


class WherePanel(QGroupBox):
    changed = Signal(str)

    def __init__(self, parent: QWidget | None = None, *, platform: str | None = None,
                 config_path=None):
        super().__init__("Where", parent)
        self.setObjectName("where_panel")
        self.platform = platform or sys.platform
        self.config_path = config_path or (lambda: None)     # callable -> the main config path
        self.combo = QComboBox(self)
        self.combo.setObjectName("where_combo")
        self.combo.setToolTip("Where the trainer runs: this machine, its WSL, a machine you "
                              "reach over SSH (a host profile), or several of them at once")
        self.hosts_btn = QPushButton("Hosts…", self)
        self.hosts_btn.setToolTip("Add, edit and check SSH host profiles")
        self.nodes_btn = QPushButton("Nodes…", self)
        self.nodes_btn.setToolTip("Hosts and GPU slots, DeepSpeed launcher and NCCL options")
        self.hosts_btn.clicked.connect(lambda: self.open_hosts())
        self.nodes_btn.clicked.connect(lambda: self.open_nodes())
        lay = QHBoxLayout(self)
        lay.addWidget(self.combo, 1)
        lay.addWidget(self.hosts_btn)
        lay.addWidget(self.nodes_btn)
        self.combo.currentIndexChanged.connect(lambda _i: self._changed())
        self.hosts_dialog: QDialog | None = None
        self.nodes_dialog: QDialog | None = None
        self.run_dialog: QDialog | None = None
        self.reload()

    def reload(self) -> None:
        keep = self.current()
        self.combo.blockSignals(True)
        self.combo.clear()
        if self.platform == "win32":
            # diffusion-pipe needs Linux: on Windows this machine trains in its WSL
            # (the distribution is chosen in Run ▸ Environment)
            self.combo.addItem("WSL on this machine", WSL)
        else:
            self.combo.addItem("This machine", LOCAL)
        try:
            names = [p.name for p in pr.load_profiles()]
        except pr.ProfileError:
            names = []
        for n in names:
            self.combo.addItem(f"SSH: {n}", f"ssh:{n}")
        self.combo.addItem("Multi-node", MULTI)
        i = self.combo.findData(keep)
        self.combo.setCurrentIndex(max(i, 0))
        self.combo.blockSignals(False)
        self._changed()

    def current(self) -> str:
        d = self.combo.currentData() if self.combo.count() else None
        return d or (WSL if self.platform == "win32" else LOCAL)

    def select(self, key: str) -> bool:
        i = self.combo.findData(key)
        if i >= 0:
            self.combo.setCurrentIndex(i)
        return i >= 0

    def _changed(self) -> None:
        self.nodes_btn.setVisible(self.current() == MULTI)
        self.changed.emit(self.current())

    @property
    def remote(self) -> bool:
        """True when Start Training goes to an SSH host or several."""
        return self.current() not in (LOCAL, WSL)

    def remote_command(self, config: str | None) -> tuple[str, str, str] | None:
        """For the Run page's command preview when the run goes elsewhere: (the headless
        command that does the same, where it runs, a longer explanation); None for this
        machine."""
        import shlex
        key = self.current()
        cfg = config or "CONFIG"
        if key.startswith("ssh:"):
            name = key[4:]
            argv = ["dpgui", "launch", cfg, "--host", name]
            return (" ".join(shlex.quote(a) for a in argv), f"Runs on the SSH host {name}",
                    f"Start Training shows the upload plan, uploads, then starts the run on "
                    f"{name} under a detached supervisor and follows it.")
        if key == MULTI:
            from dpgui_qt.gui.hosts.hostfile_editor import load_setup
            c = load_setup()
            if not c.nodes or c.problems():
                return ("# set up the nodes first (Nodes…)", "Multi-node: not set up",
                        "; ".join(c.problems()) if c.nodes else "no nodes yet")
            argv = ["dpgui", "launch", cfg, "--host", c.master.destination, *multinode_args(c)]
            return (" ".join(shlex.quote(a) for a in argv),
                    f"Runs on {len(c.active)} nodes, {c.world_size} GPUs (first: {c.master.name})",
                    "Nodes… shows the hostfile and the deepspeed command on the first node.")
        return None

    # -- dialogs ---------------------------------------------------------------
    def open_hosts(self):
        from dpgui_qt.gui.hosts.hosts_dialog import HostsDialog
        if self.hosts_dialog is None:
            self.hosts_dialog = HostsDialog(self.window())
            self.hosts_dialog.profilesChanged.connect(self.reload)
        self.hosts_dialog.reload(select=self.current()[4:] if self.current().startswith("ssh:") else None)
        self.hosts_dialog.open()
        return self.hosts_dialog

    def open_nodes(self):
        from dpgui_qt.gui.hosts.hostfile_editor import HostfileEditor
        dlg = HostfileEditor(self.window(), config_path=self.config_path())
        self.nodes_dialog = dlg
        dlg.open()
        return dlg

    def start(self, config: str, local_output: str = ""):
        """Start Training on the chosen host(s); returns the run dialog (or None)."""
        from dpgui_qt.gui import messages
        from dpgui_qt.gui.hosts.remote_run import RemoteRunDialog
        key = self.current()
        if key.startswith("ssh:"):
            dlg = RemoteRunDialog(self.window(), config, key[4:], local_output=local_output)
        elif key == MULTI:
            from dpgui_qt.gui.hosts.hostfile_editor import load_setup
            c = load_setup()
            probs = c.problems() if c.nodes else ["no nodes yet"]
            if probs:
                messages.warning(self, "Multi-node", "Set up the nodes first (Nodes…).",
                                 "; ".join(probs))
                return None
            args = multinode_args(c)
            dlg = RemoteRunDialog(self.window(), config, c.master.destination, launch_args=args,
                                  nodes=[(n.name, n.slots, n.ssh) for n in c.active],
                                  local_output=local_output)
        else:
            return None
        self.run_dialog = dlg
        dlg.show()
        return dlg


def multinode_args(c) -> list[str]:
    """``dpgui launch`` options for a multi-node setup (after ``--host MASTER``)."""
    args = ["--nodes", ",".join(f"{n.name}:{n.slots}" for n in c.active),
            "--master-addr", c.master_addr, "--master-port", str(c.master_port),
            "--launcher", c.launcher]
    for n in c.active:
        if n.ssh:
            args += ["--node-ssh", f"{n.name}={n.ssh}"]
    if c.ssh_port:
        args += ["--ssh-port", str(c.ssh_port)]
    if c.launcher_args:
        args += ["--launcher-args", c.launcher_args]
    from dpgui_qt.core.run.multinode import NCCL_SETTINGS
    for s in NCCL_SETTINGS:
        value = c.nccl.get(s.name, "")
        if value or s.default:       # a default the user cleared is unset explicitly
            args += ["--nccl", f"{s.name}={value}"]
    return args


def install(page, layout) -> WherePanel:
    """Add the Where panel to the Run page's side ``layout``; Start Training asks it first."""
    panel = WherePanel(page, config_path=lambda: page.config_path())
    layout.addWidget(panel)
    return panel
