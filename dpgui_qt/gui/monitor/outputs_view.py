"""Monitor ▸ Outputs: what the runs left on disk, freeing it with a preview, export to
ComfyUI and "new config from this run".

The folder scan (sizes of checkpoints of tens of GB are only ``lstat`` calls,
but an output_dir can hold many runs), pruning and copying run on worker
threads through :class:`ResultPump`; the GUI thread only builds the tree.
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QFileDialog, QFormLayout, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QPushButton, QSpinBox, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from dpgui_qt.core.monitor import outputs as o
from dpgui_qt.gui.workers import ResultPump

__all__ = ["OutputsView", "PrunePreviewDialog", "ExportDialog", "loras_dir_setting"]

KIND_ROLE = Qt.ItemDataRole.UserRole + 1
OBJ_ROLE = Qt.ItemDataRole.UserRole + 2
STALE = QColor("#c62828")
MUTED = QColor("#757575")


def loras_dir_setting() -> str:
    from dpgui_qt.gui import settings as st
    return str(st.settings().value("comfyui/loras_dir", "") or "")


def set_loras_dir_setting(path: str) -> None:
    from dpgui_qt.gui import settings as st
    s = st.settings()
    s.setValue("comfyui/loras_dir", path)
    s.sync()


class PrunePreviewDialog(QDialog):
    """What goes, how much is freed, and where it goes (trash / permanent)."""

    def __init__(self, title: str, plan: o.PrunePlan, parent=None):
        super().__init__(parent)
        from dpgui_qt.core.trash import trash_available
        self.setWindowTitle(title)
        self.resize(760, 420)
        self.plan = plan
        lay = QVBoxLayout(self)
        n = len(plan.items)
        head = QLabel(f"<b>{n} item{'s' if n != 1 else ''}, {o.human_size(plan.freed)} freed.</b> "
                      + ("They go to the system trash and can be restored from there."
                         if trash_available() else
                         "There is no system trash here: they are deleted permanently."), self)
        head.setWordWrap(True)
        lay.addWidget(head)
        self.tree = QTreeWidget(self)
        self.tree.setHeaderLabels(["Goes", "Size", "Why"])
        self.tree.setRootIsDecorated(False)
        for it in plan.items:
            w = QTreeWidgetItem([str(it.path), o.human_size(it.size), it.why])
            w.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(w)
        for k in plan.kept:
            w = QTreeWidgetItem(["kept: " + k.split(":", 1)[0], "", k.split(":", 1)[-1].strip()])
            for c in range(3):
                w.setForeground(c, MUTED)
            self.tree.addTopLevelItem(w)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        lay.addWidget(self.tree, 1)
        self.permanent = QCheckBox("Delete permanently instead of moving to the trash", self)
        self.permanent.setChecked(not trash_available())
        self.permanent.setEnabled(trash_available())
        lay.addWidget(self.permanent)
        bb = QDialogButtonBox(self)
        self.ok = bb.addButton("Move to Trash" if trash_available() else "Delete",
                               QDialogButtonBox.ButtonRole.AcceptRole)
        bb.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.ok.setEnabled(bool(plan.items))
        self.permanent.toggled.connect(lambda on: self.ok.setText("Delete" if on else "Move to Trash"))
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        lay.addWidget(bb)


class ExportDialog(QDialog):
    """Export a saved epoch/step into ComfyUI's loras folder."""

    def __init__(self, run: o.RunOutputs, save: o.SavedOutput, parent=None):
        super().__init__(parent)
        from dpgui_qt.core.monitor.export import export_name
        self.setWindowTitle(f"Export {save.name} to ComfyUI")
        form = QFormLayout(self)
        self.folder = QLineEdit(loras_dir_setting(), self)
        self.folder.setPlaceholderText("ComfyUI/models/loras")
        browse = QPushButton("Browse…", self)
        row = QHBoxLayout()
        row.addWidget(self.folder, 1)
        row.addWidget(browse)
        form.addRow("ComfyUI loras folder", row)
        self.name = QLineEdit(export_name(run.name, run.model_type, save.number, save.kind), self)
        form.addRow("File name", self.name)
        self.mode = QComboBox(self)
        self.mode.addItem("Copy, with the run's settings in the file's metadata", "copy")
        self.mode.addItem("Link to the original (no copy, no metadata)", "link")
        form.addRow("How", self.mode)
        note = QLabel("The saved file in the run folder is never changed.", self)
        note.setStyleSheet("color: #616161")
        form.addRow(note)
        bb = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        browse.clicked.connect(lambda: self._browse())

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "ComfyUI loras folder", self.folder.text())
        if d:
            self.folder.setText(d)


class OutputsView(QWidget):
    """Runs, saved models, checkpoints and caches of an output_dir, with actions."""

    loaded = Signal()
    newConfigFromRun = Signal(str, str)      # config copy, dataset copy ("" if none)
    finished = Signal(str)                   # a message after an action

    COLUMNS = ["Item", "Size", "Details"]

    def __init__(self, parent=None):
        super().__init__(parent)
        self.output_dir: Path | None = None
        self.config_path: Path | None = None
        self.report: o.OutputsReport | None = None
        self._gen = 0
        self._pump = ResultPump(self)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        top = QHBoxLayout()
        self.title = QLabel("No output_dir", self)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top.addWidget(self.title, 1)
        self.refresh_button = QPushButton("Refresh", self)
        top.addWidget(self.refresh_button)
        lay.addLayout(top)
        acts = QHBoxLayout()
        acts.addWidget(QLabel("Keep the newest", self))
        self.keep_spin = QSpinBox(self)
        self.keep_spin.setRange(0, 99)
        self.keep_spin.setValue(1)
        acts.addWidget(self.keep_spin)
        self.include_latest = QCheckBox("and the one 'latest' names", self)
        self.include_latest.setToolTip("Off: the checkpoint a resume loads always stays. On: it "
                                       "counts like the others (the run may then not resume)")
        acts.addWidget(self.include_latest)
        self.prune_button = QPushButton("Prune Checkpoints…", self)
        self.prune_button.setToolTip("DeepSpeed checkpoints per run beyond the newest N go to the "
                                     "trash; the one 'latest' names and saved epochs always stay")
        self.delete_run_button = QPushButton("Delete Run…", self)
        self.stale_button = QPushButton("Delete Stale Caches…", self)
        self.export_button = QPushButton("Export to ComfyUI…", self)
        self.export_button.setToolTip("Copy the selected epoch's LoRA into ComfyUI's loras folder "
                                      "under a readable name")
        self.clone_button = QPushButton("New Config from This Run", self)
        self.clone_button.setToolTip("Open the run's copied config (and dataset config) as new, "
                                     "unsaved documents")
        self.folder_button = QPushButton("Open Folder", self)
        self.home_button = QPushButton("From a Host…", self)      # issue #15
        self.home_button.setToolTip("Bring results home: the saved epochs of this config's runs "
                                    "on an SSH host, downloaded into this output_dir")
        for b in (self.prune_button, self.delete_run_button, self.stale_button):
            acts.addWidget(b)
        acts.addStretch(1)
        for b in (self.export_button, self.clone_button, self.folder_button, self.home_button):
            top.insertWidget(top.count() - 1, b)      # before Refresh; two rows keep it narrow
        self.title.setMinimumWidth(80)
        lay.addLayout(acts)
        self.tree = QTreeWidget(self)
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(self.COLUMNS)
        self.tree.setAlternatingRowColors(True)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        lay.addWidget(self.tree, 1)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.refresh_button.clicked.connect(lambda: self.refresh())
        self.prune_button.clicked.connect(lambda: self.prune_checkpoints())
        self.delete_run_button.clicked.connect(lambda: self.delete_run())
        self.stale_button.clicked.connect(lambda: self.delete_stale_caches())
        self.export_button.clicked.connect(lambda: self.export_selected())
        self.clone_button.clicked.connect(lambda: self.clone_selected())
        self.folder_button.clicked.connect(lambda: self.open_folder())
        self.home_button.clicked.connect(lambda: self.bring_results_home())
        self._update_buttons()

    # ------------------------------------------------------------------ data
    def set_output_dir(self, path, config_path=None) -> None:
        p = Path(path).expanduser() if path else None
        c = Path(config_path) if config_path else None
        if p == self.output_dir and c == self.config_path and self.report is not None:
            return
        self.output_dir, self.config_path = p, c
        self.refresh()

    def refresh(self) -> None:
        self._gen += 1
        gen = self._gen
        if self.output_dir is None:
            self.title.setText("Set <b>output_dir</b> in the config to see what its runs left on disk.")
            self.tree.clear()
            return
        self.title.setText(f"Outputs in <b>{html.escape(str(self.output_dir))}</b>")
        self.status.setText("Reading run folders and caches…")
        out, cfg = self.output_dir, self.config_path
        base = None
        try:   # relative dataset paths are read from the checkout the Run page uses
            from dpgui_qt.gui.run.launch_settings import EnvSettings
            co = EnvSettings.load().checkout
            base = Path(co) if co and Path(co).is_dir() else None
        except Exception:  # noqa: BLE001 - settings are optional here
            base = None
        self._pump.submit(lambda: o.scan_outputs(out, cfg if cfg and cfg.is_file() else None, base),
                          lambda res, gen=gen: self._got(gen, res), name="dpgui-outputs")

    def _got(self, gen, res) -> None:
        if gen != self._gen:
            return
        if isinstance(res, Exception):
            self.status.setText(f"Could not read {self.output_dir}: {res}")
            return
        self.report = res
        self._fill(res)
        self.loaded.emit()

    def _item(self, parent, texts, kind=None, obj=None, tip=None) -> QTreeWidgetItem:
        it = QTreeWidgetItem(parent, texts)
        it.setData(0, KIND_ROLE, kind)
        it.setData(0, OBJ_ROLE, obj)
        it.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if tip:
            it.setToolTip(0, tip)
        return it

    def _fill(self, rep: o.OutputsReport) -> None:
        self.tree.clear()
        hs = o.human_size
        runs = self._item(self.tree, ["Runs", hs(rep.runs_size),
                                      f"{len(rep.runs)} run(s): saved models {hs(rep.saves_size)}, "
                                      f"DeepSpeed checkpoints {hs(rep.checkpoints_size)}"])
        for r in rep.runs:
            started = r.started.astimezone().strftime("%Y-%m-%d %H:%M") if r.started else ""
            ri = self._item(runs, [r.name, hs(r.size),
                                   f"{r.model_type or '?'}  {started}  ·  {len(r.saves)} saved, "
                                   f"{len(r.checkpoints)} checkpoint(s) ({hs(r.checkpoints_size)})"],
                            "run", r.name, str(r.path))
            for s in r.saves:
                si = self._item(ri, [s.name, hs(s.size),
                                     "weights: " + (s.weights.name if s.weights else "none found")],
                                "save", (r.name, s.name), str(s.path))
                for f in s.files:
                    fi = self._item(si, [f.name, hs(f.size), ""])
                    fi.setForeground(0, MUTED)
            for c in r.checkpoints:
                ci = self._item(ri, [c.name, hs(c.size), "DeepSpeed checkpoint"
                                     + ("  ← latest (a resume loads this one)" if c.is_latest else "")],
                                "checkpoint", (r.name, c.name), str(c.path))
                if c.is_latest:
                    font = ci.font(2)
                    font.setBold(True)
                    ci.setFont(2, font)
            if r.config_copy:
                self._item(ri, [r.config_copy.name, "", "config copy"
                                + (f"; dataset copy {r.dataset_copy.name}" if r.dataset_copy else "")],
                           "config", r.name, str(r.config_copy))
            ri.setExpanded(False)
        runs.setExpanded(True)
        cache_root = self._item(self.tree, ["Dataset caches", hs(rep.caches_size),
                                            (f"judged against {rep.config_path.name}; stale: "
                                             f"{hs(rep.stale_caches_size)}") if rep.config_path
                                            else "no config to judge them against"])
        for cache in rep.caches:
            state = {True: "stale: " + "; ".join(cache.reasons), False: "current",
                     None: "unknown"}[cache.stale]
            if cache.unused_buckets:
                state += (f"; {len(cache.unused_buckets)} bucket folder(s) never read "
                          f"({hs(cache.unused_size)})")
            ci = self._item(cache_root, [f"{cache.directory.name}/cache/{cache.model_name}",
                                         hs(cache.size), state],
                            "cache", str(cache.path), str(cache.path))
            if cache.stale:
                ci.setForeground(2, STALE)
        cache_root.setExpanded(True)
        if rep.logs_size:
            self._item(self.tree, [".dpgui-logs", hs(rep.logs_size), "dpgui's console logs"])
        self.status.setText(f"Total {hs(rep.runs_size + rep.caches_size)}: runs {hs(rep.runs_size)}, "
                            f"caches {hs(rep.caches_size)}.")
        self._update_buttons()

    # --------------------------------------------------------------- selection
    def _selected(self) -> tuple[str | None, Any]:  # (kind, what the item holds for it)
        items = self.tree.selectedItems()
        if not items:
            return None, None
        return items[0].data(0, KIND_ROLE), items[0].data(0, OBJ_ROLE)

    def _run(self, name: str | None) -> o.RunOutputs | None:
        if self.report is None or name is None:
            return None
        return next((r for r in self.report.runs if r.name == name), None)

    def selected_run(self) -> o.RunOutputs | None:
        kind, obj = self._selected()
        if kind in ("run", "config"):
            return self._run(obj)
        if kind in ("save", "checkpoint"):
            return self._run(obj[0])
        return None

    def selected_save(self) -> tuple[o.RunOutputs, o.SavedOutput] | None:
        kind, obj = self._selected()
        if kind != "save":
            return None
        r = self._run(obj[0])
        s = next((s for s in r.saves if s.name == obj[1]), None) if r else None
        return (r, s) if r and s else None

    def select_path(self, *names: str) -> bool:
        """Select the item reached by following ``names`` from the top (tests, links)."""
        items = [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]
        it = None
        for n in names:
            it = next((x for x in items if x.text(0) == n), None)
            if it is None:
                return False
            items = [it.child(i) for i in range(it.childCount())]
        self.tree.setCurrentItem(it)
        return True

    def _update_buttons(self) -> None:
        report = self.report
        run = self.selected_run()
        self.prune_button.setEnabled(report is not None and any(r.checkpoints for r in report.runs))
        self.delete_run_button.setEnabled(run is not None)
        self.stale_button.setEnabled(report is not None and report.stale_caches_size > 0)
        save = self.selected_save()
        self.export_button.setEnabled(save is not None and save[1].weights is not None)
        self.clone_button.setEnabled(run is not None and run.config_copy is not None)
        self.folder_button.setEnabled(self.output_dir is not None)

    # ----------------------------------------------------------------- actions
    def _confirm_and_apply(self, title: str, plan: o.PrunePlan, ask=None) -> PrunePreviewDialog:
        dlg = PrunePreviewDialog(title, plan, self)
        if ask is None:
            accepted = dlg.exec() == QDialog.DialogCode.Accepted
        else:
            accepted = ask(dlg)          # tests decide for the user
        if accepted and plan.items:
            permanently = dlg.permanent.isChecked()
            self.status.setText(f"Removing {len(plan.items)} item(s)…")
            self._pump.submit(lambda: o.apply_plan(plan, permanently), self._applied,
                              name="dpgui-prune")
        return dlg

    def _applied(self, res) -> None:
        if isinstance(res, Exception):
            msg = f"Pruning failed: {res}"
        else:
            msg = (f"Freed {o.human_size(res.freed)} ({len(res.removed)} item(s)"
                   + (", in the system trash" if res.trashed else "") + ")")
            if res.failed:
                msg += "; could not remove: " + "; ".join(f"{i.path.name}: {e}" for i, e in res.failed)
        self.status.setText(msg)
        self.finished.emit(msg)
        self.refresh()

    def prune_checkpoints(self, ask=None):
        if self.report is None:
            return None
        plan = o.plan_keep_checkpoints(self.report.runs, self.keep_spin.value(),
                                       self.include_latest.isChecked())
        return self._confirm_and_apply(f"Keep the newest {self.keep_spin.value()} checkpoint(s) per run",
                                       plan, ask)

    def delete_run(self, ask=None):
        run = self.selected_run()
        if run is None:
            return None
        return self._confirm_and_apply(f"Delete run {run.name}", o.plan_delete_run(run), ask)

    def delete_stale_caches(self, ask=None):
        if self.report is None:
            return None
        return self._confirm_and_apply("Delete stale dataset caches",
                                       o.plan_stale_caches(self.report.caches), ask)

    def export_selected(self, ask=None):
        sel = self.selected_save()
        if sel is None:
            return None
        run, save = sel
        dlg = ExportDialog(run, save, self)
        accepted = dlg.exec() == QDialog.DialogCode.Accepted if ask is None else ask(dlg)
        if not accepted:
            return dlg
        folder, name, mode = dlg.folder.text().strip(), dlg.name.text().strip(), dlg.mode.currentData()
        if not folder or not name:
            self.status.setText("Choose ComfyUI's loras folder and a file name.")
            return dlg
        set_loras_dir_setting(folder)
        if not name.endswith(".safetensors"):
            name += ".safetensors"

        def work():
            from dpgui_qt.core.monitor.export import export_lora, run_metadata
            return export_lora(save.weights, folder, name, mode,
                               run_metadata(run.config_copy, run.name, save.name), overwrite=True)

        self.status.setText(f"Exporting {save.name}…")
        self._pump.submit(work, self._exported, name="dpgui-export")
        return dlg

    def _exported(self, res) -> None:
        if isinstance(res, Exception):
            msg = f"Export failed: {res}"
        else:
            msg = f"Exported to {res.path} ({res.mode}" + (
                ", run settings in its metadata)" if res.metadata_written else ")") + (
                f". {res.note}" if res.note else "")
        self.status.setText(msg)
        self.finished.emit(msg)

    def clone_selected(self) -> bool:
        run = self.selected_run()
        if run is None or run.config_copy is None:
            return False
        self.newConfigFromRun.emit(str(run.config_copy), str(run.dataset_copy or ""))
        return True

    def bring_results_home(self):
        """The saves of this config's runs on an SSH host, into this output_dir (issue #15)."""
        from dpgui_qt.gui.hosts.transfer import ResultsHomeDialog
        dlg = ResultsHomeDialog(self, local_dir=str(self.output_dir or ""),
                                config=str(self.config_path or ""))
        self.home_dialog = dlg
        dlg.finished.connect(lambda _r: self.refresh())
        dlg.open()
        return dlg

    def open_folder(self) -> bool:
        run = self.selected_run()
        target = run.path if run else self.output_dir
        return bool(target) and QDesktopServices.openUrl(QUrl.fromLocalFile(str(target)))
