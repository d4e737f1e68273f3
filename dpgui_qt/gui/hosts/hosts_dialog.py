"""The Hosts dialog: SSH host profiles -- add, edit, remove, check (issue #15).

Profiles live in ``hosts.json`` (:mod:`dpgui_qt.core.run.hosts.profiles`, shared with
``dpgui hosts``).  *Check* runs ``dpgui hosts check NAME`` as a QProcess child (reach the
host, checkout and commit, Python and deepspeed, free disk, GPUs) and lists what it found,
errors first in red.  No password is ever asked for or stored: the system ``ssh`` uses the
user's keys, agent and ``~/.ssh/config``.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCompleter, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit,
    QListWidget, QListWidgetItem, QPushButton, QSplitter, QVBoxLayout, QWidget,
)

from dpgui_qt.core.run.hosts import profiles as pr
from dpgui_qt.gui import messages
from dpgui_qt.gui.hosts.jobs import CliJob

LEVEL_COLOURS = {"error": "#c62828", "warning": "#b26a00", "ok": "#2e7d32"}

FIELDS = (
    ("name", "Name", "A short name for this machine, used in the Where list and by "
     "'dpgui launch --host NAME'."),
    ("destination", "SSH destination", "An alias from ~/.ssh/config, or user@host[:port]. "
     "dpgui runs the system ssh, so your keys, agent, ProxyJump and known_hosts apply."),
    ("checkout", "diffusion-pipe checkout", "The diffusion-pipe folder on that machine "
     "(absolute, or starting with ~)."),
    ("env", "Python environment", "A venv or conda environment folder on that machine; empty "
     "uses the login environment."),
    ("workdir", "Work folder", "Where dpgui keeps uploaded configs, datasets and run state "
     "there (default ~/dpgui)."),
    ("python", "Python command", "The Python that runs dpgui's small helper there "
     "(standard library only; default python3)."),
    ("deepspeed", "deepspeed", "The deepspeed launcher there, when it is not the environment's."),
    ("ssh_config", "ssh_config file", "An ssh_config file to use instead of ~/.ssh/config "
     "(optional)."),
)


def check_line_level(line: str) -> str:
    low = line.lower()
    if low.startswith("error") or " error(s)" in low:
        return "error"
    if low.startswith("warning"):
        return "warning"
    if low == "ok" or low.startswith("ok"):
        return "ok"
    return ""


class ProfileForm(QWidget):
    """The fields of one profile."""

    def __init__(self, parent=None):
        super().__init__(parent)
        form = QFormLayout(self)
        self.edits: dict[str, QLineEdit] = {}
        for key, label, tip in FIELDS:
            e = QLineEdit()
            e.setObjectName(f"host_{key}")
            e.setToolTip(tip)
            e.setPlaceholderText({"workdir": "~/dpgui", "python": "python3",
                                  "destination": "user@host:22 or an ssh alias"}.get(key, ""))
            form.addRow(label, e)
            self.edits[key] = e
        try:
            aliases = pr_aliases()
        except (OSError, ValueError):   # an unreadable ~/.ssh/config only loses the completion
            aliases = []
        if aliases:
            self.edits["destination"].setCompleter(QCompleter(aliases, self))

    def set_profile(self, p: pr.HostProfile | None) -> None:
        for key, e in self.edits.items():
            e.setText(str(getattr(p, key, "")) if p is not None else "")

    def profile(self) -> pr.HostProfile:
        v = {k: e.text().strip() for k, e in self.edits.items()}
        p = pr.HostProfile(name=v["name"], destination=v["destination"], checkout=v["checkout"],
                           env=v["env"], workdir=v["workdir"] or "~/dpgui",
                           python=v["python"] or "python3", deepspeed=v["deepspeed"],
                           ssh_config=v["ssh_config"])
        p.validate()
        return p


def pr_aliases() -> list[str]:
    from dpgui_qt.core.run.hosts.sshtransport import config_aliases
    return config_aliases()


class HostsDialog(QDialog):
    """Manage SSH host profiles and check them."""

    profilesChanged = Signal()
    checkFinished = Signal(str, int)       # profile name, exit code

    def __init__(self, parent=None, path=None):
        super().__init__(parent)
        self.setWindowTitle("Hosts")
        self.setObjectName("hosts_dialog")
        self.resize(860, 560)
        self.path = path
        self.profiles: list[pr.HostProfile] = []
        self.job = CliJob(self)
        self.job.line.connect(self._check_line)
        self.job.errLine.connect(self._check_line)
        self.job.done.connect(self._check_done)
        self._checking = ""

        self.list = QListWidget()
        self.list.setObjectName("hosts_list")
        self.list.currentRowChanged.connect(self._select)
        self.form = ProfileForm()
        self.add_btn = QPushButton("New")
        self.save_btn = QPushButton("Save")
        self.remove_btn = QPushButton("Remove")
        self.check_btn = QPushButton("Check")
        self.check_btn.setToolTip("Reach the host and run its pre-flight: checkout and commit, "
                                  "Python and deepspeed, free disk, GPUs")
        self.add_btn.clicked.connect(lambda: self._new())
        self.save_btn.clicked.connect(lambda: self.save_current())
        self.remove_btn.clicked.connect(lambda: self.remove_current())
        self.check_btn.clicked.connect(lambda: self.check_current())
        self.result_list = QListWidget()
        self.result_list.setObjectName("hosts_check_result")
        self.status = QLabel("")
        self.status.setWordWrap(True)

        left = QWidget()
        lv = QVBoxLayout(left)
        lv.setContentsMargins(0, 0, 0, 0)
        lv.addWidget(self.list)
        row = QHBoxLayout()
        for b in (self.add_btn, self.remove_btn):
            row.addWidget(b)
        lv.addLayout(row)
        right = QWidget()
        rv = QVBoxLayout(right)
        rv.setContentsMargins(0, 0, 0, 0)
        rv.addWidget(self.form)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.save_btn)
        row.addWidget(self.check_btn)
        rv.addLayout(row)
        rv.addWidget(QLabel("Check result"))
        rv.addWidget(self.result_list, 1)
        rv.addWidget(self.status)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 3)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addWidget(box)
        self.reload()

    # -- profiles ----------------------------------------------------------
    def reload(self, select: str | None = None) -> None:
        try:
            self.profiles = pr.load_profiles(self.path)
        except pr.ProfileError as e:
            self.profiles = []
            self.status.setText(str(e))
        self.list.blockSignals(True)
        self.list.clear()
        for p in self.profiles:
            self.list.addItem(QListWidgetItem(f"{p.name}  ({p.destination})"))
        self.list.blockSignals(False)
        names = [p.name for p in self.profiles]
        row = names.index(select) if select in names else (0 if names else -1)
        self.list.setCurrentRow(row)
        self._select(row)

    def _select(self, row: int) -> None:
        p = self.profiles[row] if 0 <= row < len(self.profiles) else None
        self.form.set_profile(p)
        self.remove_btn.setEnabled(p is not None)
        self.check_btn.setEnabled(p is not None and not self.job.running)

    def _new(self) -> None:
        self.list.clearSelection()
        self.list.setCurrentRow(-1)
        self.form.set_profile(None)
        self.form.edits["name"].setFocus()
        self.check_btn.setEnabled(False)

    def current_name(self) -> str | None:
        row = self.list.currentRow()
        return self.profiles[row].name if 0 <= row < len(self.profiles) else None

    def save_current(self) -> bool:
        try:
            p = self.form.profile()
            old = self.current_name()
            items = [q for q in pr.load_profiles(self.path) if q.name not in (p.name, old)]
            items.append(p)
            pr.save_profiles(items, self.path)
        except pr.ProfileError as e:
            messages.warning(self, "Host profile", "The profile was not saved.", str(e))
            return False
        self.status.setText(f"Saved {p.name}.")
        self.reload(select=p.name)
        self.profilesChanged.emit()
        return True

    def remove_current(self) -> None:
        name = self.current_name()
        if not name:
            return
        if messages.ask(self, "Remove host", f"Remove the host profile {name}?",
                        "Runs on that machine are not affected.") != "yes":
            return
        try:
            pr.remove_profile(name, self.path)
        except pr.ProfileError as e:
            messages.warning(self, "Host profile", "The profile was not removed.", str(e))
            return
        self.reload()
        self.profilesChanged.emit()

    # -- check -------------------------------------------------------------
    def check_current(self) -> None:
        name = self.current_name()
        if not name or self.job.running:
            return
        self._checking = name
        self.result_list.clear()
        self.status.setText(f"Checking {name}...")
        self.check_btn.setEnabled(False)
        env = {"DPGUI_CONFIG_DIR": str(self._config_dir())} if self.path else None
        self.job.start("hosts", "check", name, env=env)

    def _config_dir(self):
        from pathlib import Path
        return Path(self.path).parent

    def _check_line(self, line: str) -> None:
        if not line.strip():
            return
        item = QListWidgetItem(line)
        level = check_line_level(line)
        if level:
            item.setForeground(QBrush(QColor(LEVEL_COLOURS[level])))
        item.setData(Qt.ItemDataRole.UserRole, level)
        self.result_list.addItem(item)

    def _check_done(self, code: int, err: str) -> None:
        name = self._checking
        self.check_btn.setEnabled(self.current_name() is not None)
        self.status.setText(f"{name}: ready." if code == 0 else
                            f"{name}: the check found problems (exit {code})." if code == 1 else
                            f"{name}: the check could not run. {err[-300:]}")
        self.checkFinished.emit(name, code)

    def levels(self) -> list[str]:
        return [self.result_list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.result_list.count())]

    def done(self, r: int) -> None:          # closing cancels a running check
        self.job.cancel()
        super().done(r)
