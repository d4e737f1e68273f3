"""Monitor ▸ Queue: the run queue kept by the detached queue runner.

The panel only reads and edits ``queue.json`` (small; re-read every
``poll_ms``) and asks :func:`runqueue.ensure_runner` for a runner; the runs
themselves belong to the runner and their supervisors, so closing the window
changes nothing.  Adding a config (snapshot + pre-flight) runs on a worker
thread.
"""
from __future__ import annotations

from typing import Any

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from dpgui_qt.core.run.runqueue import RunQueue, ensure_runner, queue_dir_for, runner_alive
from dpgui_qt.gui.workers import ResultPump

__all__ = ["QueuePanel"]

STATUS_COLORS = {"finished": "#2e7d32", "failed": "#c62828", "cancelled": "#ef6c00",
                 "stopped": "#ef6c00", "running": "#1565c0", "pending": "#616161"}
ID_ROLE = Qt.ItemDataRole.UserRole + 1


class QueuePanel(QWidget):
    changed = Signal()
    message = Signal(str)

    COLUMNS = ["#", "Run", "Status", "Outcome", "Started", "Run folder"]

    def __init__(self, state_root=None, parent=None, poll_ms: int = 1500, window=None):
        super().__init__(parent)
        if state_root is None:
            from dpgui_qt.gui.run.launch_settings import state_root as default_root
            state_root = default_root()
        self.state_root = Path(state_root)
        self.queue = RunQueue(queue_dir_for(self.state_root))
        self.window_ = window
        self._pump = ResultPump(self)
        self._last: tuple[str, bool] | None = None
        self._revived = -1e9
        self._statuses: dict[str, Any] | None = None
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.header = QLabel(self)
        self.header.setWordWrap(True)
        lay.addWidget(self.header)
        row = QHBoxLayout()
        self.add_button = QPushButton("Add Current Config", self)
        self.add_button.setToolTip("Queue the open config (saved on disk) as it is now")
        self.sweep_key = QLineEdit(self)
        self.sweep_key.setPlaceholderText("sweep key, e.g. optimizer.lr")
        self.sweep_values = QLineEdit(self)
        self.sweep_values.setPlaceholderText("values, e.g. 1e-4, 5e-5")
        self.up_button = QPushButton("Up", self)
        self.down_button = QPushButton("Down", self)
        self.cancel_button = QPushButton("Cancel", self)
        self.cancel_button.setToolTip("A waiting run is skipped; a running one is stopped")
        self.remove_button = QPushButton("Remove", self)
        self.pause_button = QPushButton("Pause After Current", self)
        self.clear_button = QPushButton("Clear Ended", self)
        for w in (self.up_button, self.down_button, self.cancel_button, self.remove_button,
                  self.pause_button, self.clear_button):
            row.addWidget(w)
        row.addStretch(1)
        add_row = QHBoxLayout()
        add_row.addWidget(self.add_button)
        add_row.addWidget(QLabel("Sweep:", self))
        add_row.addWidget(self.sweep_key, 1)
        add_row.addWidget(self.sweep_values, 1)
        lay.addLayout(add_row)
        lay.addLayout(row)
        self.continue_box = QCheckBox("Continue with the next run after a failed one", self)
        lay.addWidget(self.continue_box)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        lay.addWidget(self.tree, 1)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.add_button.clicked.connect(lambda: self.add_current())
        self.up_button.clicked.connect(lambda: self._move(-1))
        self.down_button.clicked.connect(lambda: self._move(1))
        self.cancel_button.clicked.connect(lambda: self._act(self.queue.cancel, "cancelled"))
        self.remove_button.clicked.connect(lambda: self._act(self.queue.remove, "removed"))
        self.pause_button.clicked.connect(lambda: self.toggle_pause())
        self.clear_button.clicked.connect(lambda: self._clear_finished())
        self.continue_box.toggled.connect(self._set_continue)
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(self.reload)
        self.timer.start()
        self.reload()

    # ------------------------------------------------------------------ view
    def reload(self) -> None:
        data = self.queue.load()
        alive = runner_alive(self.queue.dir) if self.queue.dir.exists() else False
        key = (repr(data), alive)
        if key == self._last:
            return
        self._last = key
        # tell the user when a run of the queue ends (status bar via `message`)
        before = self._statuses
        self._statuses = {i["id"]: i["status"] for i in data["items"]}
        if before is not None:
            for it in data["items"]:
                if it["status"] in ("finished", "failed", "cancelled", "stopped") and \
                        before.get(it["id"]) in ("running", "pending"):
                    self.message.emit(f"Queue: {it['label']} {it['status']}"
                                      + (f" — {it['message']}" if it.get("message") else ""))
        sel = self.selected_id()
        self.tree.clear()
        for n, it in enumerate(data["items"], 1):
            started = time.strftime("%m-%d %H:%M", time.localtime(it["started_at"])) if it.get("started_at") else ""
            w = QTreeWidgetItem([str(n), it["label"], it["status"], it.get("message") or "",
                                 started, it.get("run_dir") or ""])
            w.setData(0, ID_ROLE, it["id"])
            w.setForeground(2, QColor(STATUS_COLORS.get(it["status"], "#616161")))
            w.setToolTip(1, f"{it.get('config')}\n(queued from {it.get('source_config')})")
            w.setToolTip(3, it.get("message") or "")
            self.tree.addTopLevelItem(w)
            if it["id"] == sel:
                w.setSelected(True)
        self.continue_box.blockSignals(True)
        self.continue_box.setChecked(bool(data["continue_on_failure"]))
        self.continue_box.blockSignals(False)
        pending = sum(1 for i in data["items"] if i["status"] == "pending")
        state = ("paused" + (f" — {data['pause_reason']}" if data.get("pause_reason") else "")
                 if data["paused"] else "active")
        self.header.setText(f"<b>Queue</b> ({state}); {pending} waiting; runner "
                            f"{'running' if alive else 'idle'}. Runs start one after another on "
                            "the same GPUs and go on when dpgui is closed.")
        self.pause_button.setText("Resume" if data["paused"] else "Pause After Current")
        # work left and nobody to do it (the runner was killed, the machine rebooted):
        # a new runner adopts a running item (its run is marked lost if it died) and goes on
        busy = any(i["status"] == "running" for i in data["items"])
        if not alive and (busy or (pending and not data["paused"])) and \
                time.monotonic() - self._revived > 10:
            self._revived = time.monotonic()
            self._start_runner()
        self._update_buttons()
        self.changed.emit()

    def selected_id(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, ID_ROLE) if items else None

    def _clear_finished(self) -> None:
        self.queue.clear_finished()
        self.reload()

    def select(self, item_id: str) -> None:
        for i in range(self.tree.topLevelItemCount()):
            w = self.tree.topLevelItem(i)
            if w is not None:
                w.setSelected(w.data(0, ID_ROLE) == item_id)

    def _update_buttons(self) -> None:
        iid = self.selected_id()
        it = self.queue.item(iid) if iid else None
        st = it["status"] if it else None
        self.up_button.setEnabled(st == "pending")
        self.down_button.setEnabled(st == "pending")
        self.cancel_button.setEnabled(st in ("pending", "running"))
        self.remove_button.setEnabled(st is not None and st != "running")

    # --------------------------------------------------------------- actions
    def _move(self, delta: int) -> None:
        iid = self.selected_id()
        if iid:
            self.queue.move(iid, delta)
            self._last = None
            self.reload()
            self.select(iid)

    def _act(self, fn, verb: str) -> None:
        iid = self.selected_id()
        if not iid:
            return
        try:
            it = fn(iid)
        except (KeyError, ValueError) as e:
            self.status.setText(str(e.args[0] if e.args else e))
            return
        self.status.setText(f"{verb} {it['label']}")
        self._last = None
        self.reload()

    def toggle_pause(self) -> None:
        paused = self.queue.load()["paused"]
        self.queue.set_paused(not paused)
        if paused and self.queue.pending():
            self._start_runner()
        self._last = None
        self.reload()

    def _set_continue(self, on: bool) -> None:
        self.queue.set_continue_on_failure(on)

    def _start_runner(self) -> None:
        q, root = self.queue, self.state_root
        self._pump.submit(lambda: ensure_runner(q.dir, root), lambda _r: self.reload(),
                          name="dpgui-queue-runner")

    def add_config(self, config: str | Path, *, checkout=None, deepspeed=None, gpus=1,
                   sweep_key: str | None = None, sweep_values: list[str] | None = None,
                   extra_env: dict[str, Any] | None = None, start: bool = True) -> None:
        """Queue ``config`` (snapshot and pre-flight on a worker thread)."""
        from dpgui_qt.core.run.queue_items import prepare_items
        q, root = self.queue, self.state_root

        def work():
            prep = prepare_items(config, q, checkout=checkout, deepspeed=deepspeed, gpus=gpus,
                                 sweep_key=sweep_key, sweep_values=sweep_values,
                                 spec_options={"extra_env": extra_env} if extra_env else None)
            for it in prep.items:
                q.add(it)
            if start and not q.load()["paused"]:
                ensure_runner(q.dir, root)
            return prep

        self.status.setText(f"Queueing {Path(config).name}…")
        self._pump.submit(work, self._added, name="dpgui-queue-add")

    def _added(self, res) -> None:
        if isinstance(res, Exception):
            msg = f"Could not queue: {res}"
        else:
            msg = f"Queued {len(res.items)} run(s): " + ", ".join(i["label"] for i in res.items)
            warn = [f.message for _l, f in res.findings if not f.is_error]
            if warn:
                msg += " — " + "; ".join(warn[:3])
        self.status.setText(msg)
        self.message.emit(msg)
        self._last = None
        self.reload()

    def add_current(self) -> bool:
        w = self.window_
        if w is None or not hasattr(w, "session"):
            return False
        s = w.session
        if s.path is None or s.modified:
            self.status.setText("Save the config first: the queue runs the file on disk.")
            return False
        from dpgui_qt.gui.run.launch_settings import EnvSettings
        env = EnvSettings.load()
        key = self.sweep_key.text().strip() or None
        values = None
        if key:
            from dpgui_qt.core.config.tomlcompat import split_top_level
            raw = self.sweep_values.text()
            values = [v.strip() for v in (split_top_level(raw) or [raw]) if v.strip()]
        self.add_config(s.path, checkout=env.checkout or None, deepspeed=env.deepspeed or None,
                        gpus=env.gpus(), sweep_key=key, sweep_values=values)
        return True

    def shutdown(self) -> None:
        self.timer.stop()
