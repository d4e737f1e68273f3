"""Monitor ▸ Samples: a grid of epochs × prompts rendered by ComfyUI with each saved LoRA.

The user gives ComfyUI's address, an API-format workflow with a LoRA loader
(the only one, or the one whose title contains "dpgui", or the one chosen
here), ComfyUI's loras folder and prompts.  For every saved epoch/step that has
no samples yet dpgui exports the LoRA, queues the workflow once per prompt
with a fixed seed, and stores the images in ``<run>/dpgui-samples``.  All HTTP
runs on worker threads (:class:`ResultPump`), one save at a time; failures
show in the grid's cells and the status line.
"""
from __future__ import annotations

from typing import Any

import functools

import html
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout,
                               QHeaderView, QLabel, QLineEdit, QPlainTextEdit, QPushButton,
                               QSpinBox, QSplitter, QTableWidget, QVBoxLayout,
                               QWidget)

from dpgui_qt.core.monitor import comfy
from dpgui_qt.gui.workers import ResultPump

__all__ = ["SamplesView"]

THUMB = 160


def _settings():
    from dpgui_qt.gui import settings as st
    return st.settings()


class SamplesView(QWidget):
    sampled = Signal(str)        # save name, after its results are in
    gridChanged = Signal()

    def __init__(self, parent=None, poll_ms: int = 20000):
        super().__init__(parent)
        self.run_dir: Path | None = None
        self.model_type: str | None = None
        self.busy: str | None = None
        self._cancel = False
        self._pump = ResultPump(self)
        s = _settings()
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        side = QWidget(split)
        form = QFormLayout(side)
        form.setContentsMargins(0, 0, 6, 0)
        self.address = QLineEdit(str(s.value("comfyui/address", "127.0.0.1:8188")), side)
        form.addRow("ComfyUI address", self.address)
        self.workflow = QLineEdit(str(s.value("comfyui/workflow", "") or ""), side)
        self.workflow.setPlaceholderText("workflow_api.json (Workflow ▸ Export (API))")
        wf_row = QHBoxLayout()
        wf_row.addWidget(self.workflow, 1)
        self.workflow_button = QPushButton("…", side)
        self.workflow_button.setFixedWidth(28)
        wf_row.addWidget(self.workflow_button)
        form.addRow("Workflow", wf_row)
        self.lora_node = QComboBox(side)
        form.addRow("LoRA loader", self.lora_node)
        self.loras_dir = QLineEdit(str(s.value("comfyui/loras_dir", "") or ""), side)
        self.loras_dir.setPlaceholderText("ComfyUI/models/loras")
        form.addRow("loras folder", self.loras_dir)
        self.prompts = QPlainTextEdit(side)
        self.prompts.setPlaceholderText("one prompt per line")
        self.prompts.setPlainText(str(s.value("comfyui/prompts", "") or ""))
        self.prompts.setMaximumHeight(110)
        form.addRow("Prompts", self.prompts)
        self.seed = QSpinBox(side)
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(int(s.value("comfyui/seed", 42) or 42))
        form.addRow("Seed", self.seed)
        self.auto = QCheckBox("Sample each new epoch while training", side)
        form.addRow(self.auto)
        btns = QHBoxLayout()
        self.sample_button = QPushButton("Sample New Epochs", side)
        self.stop_button = QPushButton("Stop", side)
        btns.addWidget(self.sample_button)
        btns.addWidget(self.stop_button)
        form.addRow(btns)
        self.workflow_info = QLabel(side)
        self.workflow_info.setWordWrap(True)
        form.addRow(self.workflow_info)
        import pyqtgraph as pg
        self.loss_plot = pg.PlotWidget(side)
        self.loss_plot.setMinimumHeight(200)
        self.loss_plot.setLabel("left", "loss (smoothed)")
        self.loss_plot.setLabel("bottom", "step")
        self.loss_plot.showGrid(x=True, y=True, alpha=0.15)
        self.loss_plot.setToolTip("The run's loss; dashed lines mark the epochs in the grid")
        self._loss_item = self.loss_plot.plot([], [], pen=pg.mkPen((38, 110, 220), width=2))
        self._epoch_lines: list[Any] = []
        self._metrics = None
        form.addRow(self.loss_plot)
        side.setMaximumWidth(420)
        self.table = QTableWidget(split)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(THUMB + 8)
        self.table.horizontalHeader().setDefaultSectionSize(THUMB + 8)
        split.addWidget(side)
        split.addWidget(self.table)
        split.setStretchFactor(1, 1)
        lay.addWidget(split, 1)
        self.title = QLabel("No run selected.", self)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        lay.insertWidget(0, self.title)
        lay.addWidget(self.status)
        self.timer = QTimer(self)
        self.timer.setInterval(poll_ms)
        self.timer.timeout.connect(lambda: self.sample_new())
        self.auto.toggled.connect(lambda on: self.timer.start() if on else self.timer.stop())
        self.workflow_button.clicked.connect(lambda: self._browse_workflow())
        self.workflow.editingFinished.connect(self.load_workflow)
        self.sample_button.clicked.connect(lambda: self.sample_new())
        self.stop_button.clicked.connect(lambda: self.stop())
        self.stop_button.setEnabled(False)
        self._wf: comfy.Workflow | None = None
        self.lora_node.currentIndexChanged.connect(lambda _i: self.load_workflow())
        if self.workflow.text():
            self.load_workflow()

    # ------------------------------------------------------------ settings
    def _browse_workflow(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "ComfyUI workflow (API format)",
                                           self.workflow.text(), "JSON (*.json);;All files (*)")
        if f:
            self.workflow.setText(f)
            self.load_workflow()

    def load_workflow(self) -> comfy.Workflow | None:
        path = self.workflow.text().strip()
        self._wf = None
        if not path:
            self.workflow_info.setText("")
            return None
        chosen = self.lora_node.currentData()
        try:
            wf = comfy.load_workflow(path, lora_node=chosen or None)
        except comfy.ComfyError as e:
            # several loaders and none chosen: offer them
            try:
                import json
                nodes = json.loads(Path(path).read_text(encoding="utf-8"))
                loras = [k for k, v in nodes.items() if isinstance(v, dict)
                         and "lora_name" in (v.get("inputs") or {})]
            except (OSError, ValueError, AttributeError):
                loras = []
            self._fill_lora_nodes(loras, None)
            self.workflow_info.setText(f"<span style='color:#c62828'>{html.escape(e.message)}</span>")
            return None
        self._wf = wf
        loras = [k for k, v in wf.nodes.items() if "lora_name" in v["inputs"]]
        self._fill_lora_nodes(loras, wf.lora_node)
        seeds = ", ".join(f"{n}.{k}" for n, k in wf.seed_inputs) or "none (results vary per run)"
        self.workflow_info.setText(
            f"LoRA loader: node {wf.lora_node} ({wf.nodes[wf.lora_node]['class_type']}); prompt: "
            + (f"node {wf.prompt_node}" if wf.prompt_node else "none (the workflow's own)")
            + f"; seeds: {html.escape(seeds)}")
        _settings().setValue("comfyui/workflow", path)
        return wf

    def _fill_lora_nodes(self, ids: list[str], current: str | None) -> None:
        self.lora_node.blockSignals(True)
        self.lora_node.clear()
        for i in ids:
            self.lora_node.addItem(f"node {i}", i)
        if current is not None:
            self.lora_node.setCurrentIndex(max(0, ids.index(current)))
        self.lora_node.blockSignals(False)

    def _save_settings(self) -> None:
        s = _settings()
        s.setValue("comfyui/address", self.address.text().strip())
        s.setValue("comfyui/loras_dir", self.loras_dir.text().strip())
        s.setValue("comfyui/prompts", self.prompts.toPlainText())
        s.setValue("comfyui/seed", self.seed.value())
        s.sync()

    def prompt_list(self) -> list[str]:
        return [p.strip() for p in self.prompts.toPlainText().splitlines() if p.strip()]

    # ------------------------------------------------------------------ run
    def set_run(self, run_dir, model_type: str | None = None) -> None:
        p = Path(run_dir) if run_dir else None
        if p == self.run_dir:
            return
        self.run_dir = p
        self.model_type = model_type
        self.title.setText(f"Samples of <b>{html.escape(str(p))}</b>" if p else "No run selected.")
        self._metrics = None
        self._loss_item.setData([], [])
        self.refresh_grid()
        if p is not None:
            from dpgui_qt.core.monitor.history import find_config_copy, load_run_metrics

            def work(p=p):
                mt = None
                cfg = find_config_copy(p)
                if cfg is not None:
                    from dpgui_qt.core.monitor.outputs import load_toml
                    model = (load_toml(cfg) or {}).get("model")
                    mt = model.get("type") if isinstance(model, dict) else None
                return mt, load_run_metrics(p)

            self._pump.submit(work, functools.partial(self._got_metrics, p),
                              name="dpgui-samples-loss")

    def _got_metrics(self, run, res) -> None:
        if run != self.run_dir or isinstance(res, Exception):
            return
        mt, res = res
        if self.model_type is None:
            self.model_type = mt
        self._metrics = res
        xs, ys = res.main_loss().decimate(max_points=2000, smoothed=True)
        self._loss_item.setData(xs, ys, connect="finite")
        self._mark_epochs()

    def _mark_epochs(self) -> None:
        import pyqtgraph as pg
        for line in self._epoch_lines:
            self.loss_plot.removeItem(line)
        self._epoch_lines = []
        if self._metrics is None or self.run_dir is None:
            return
        ends = getattr(self._metrics, "epoch_ends", {}) or {}
        _prompts, rows = comfy.SamplesStore(self.run_dir).grid()
        for name, _cells in rows:
            if name.startswith("epoch") and name[5:].isdigit():
                step = ends.get(int(name[5:]))
            elif name.startswith("step") and name[4:].isdigit():
                step = int(name[4:])
            else:
                step = None
            if step is None:
                continue
            line = pg.InfiniteLine(step, angle=90, pen=pg.mkPen((120, 120, 120), style=Qt.PenStyle.DashLine),
                                   label=("e" + name[5:]) if name.startswith("epoch") else name,
                                   labelOpts={"position": 0.95, "color": (90, 90, 90),
                                              "anchors": [(0, 0.5), (0, 0.5)]})
            self.loss_plot.addItem(line)
            self._epoch_lines.append(line)

    def refresh_grid(self) -> None:
        self.table.clear()
        if self.run_dir is None:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            return
        prompts, rows = comfy.SamplesStore(self.run_dir).grid()
        self.table.setColumnCount(len(prompts))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels([p if len(p) <= 24 else p[:23] + "…" for p in prompts])
        self.table.setVerticalHeaderLabels([name for name, _c in rows])
        for r, (_name, cells) in enumerate(rows):
            for c, cell in enumerate(cells):
                self.table.setCellWidget(r, c, self._cell(cell))
        for c, p in enumerate(prompts):
            it = self.table.horizontalHeaderItem(c)
            if it is not None:
                it.setToolTip(p)
        self._mark_epochs()
        self.gridChanged.emit()

    def _cell(self, cell: dict[str, Any] | None) -> QWidget:
        lab = QLabel()
        lab.setAlignment(Qt.AlignmentFlag.AlignCenter)
        lab.setWordWrap(True)
        if cell and cell.get("path"):
            pm = QPixmap(cell["path"])
            if not pm.isNull():
                lab.setPixmap(pm.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                        Qt.TransformationMode.SmoothTransformation))
            else:
                lab.setText("(unreadable image)")
            lab.setToolTip(cell["path"])
        elif cell and cell.get("error"):
            lab.setText(cell["error"][:160])
            lab.setStyleSheet("color: #c62828; font-size: 9pt")
            lab.setToolTip(cell["error"])
        else:
            lab.setText("—")
            lab.setStyleSheet(f"color: {QColor('#9e9e9e').name()}")
        return lab

    # ------------------------------------------------------------- sampling
    def todo(self) -> list[tuple[str, Path]]:
        if self.run_dir is None:
            return []
        done = comfy.SamplesStore(self.run_dir).done()
        return [(n, w) for n, w in comfy.complete_saves(self.run_dir) if n not in done]

    def sample_new(self, client_factory=None) -> bool:
        """Start sampling the next save without samples; False if nothing to do."""
        if self.busy is not None or self.run_dir is None:
            return False
        wf = self._wf or self.load_workflow()
        if wf is None:
            self.status.setText("Choose an API-format ComfyUI workflow first.")
            return False
        if not self.loras_dir.text().strip():
            self.status.setText("Set ComfyUI's loras folder (models/loras) first.")
            return False
        todo = self.todo()
        if not todo:
            self.status.setText("Every saved epoch has samples.")
            return False
        self._save_settings()
        name, weights = todo[0]
        settings = comfy.SampleSettings(self.address.text().strip(), wf, self.prompt_list(),
                                        self.seed.value(), Path(self.loras_dir.text().strip()))
        run, mt = self.run_dir, self.model_type
        self.busy = name
        self._cancel = False
        self.stop_button.setEnabled(True)
        self.sample_button.setEnabled(False)
        self.status.setText(f"Sampling {name} through ComfyUI ({len(todo) - 1} more waiting)…")
        client = client_factory() if client_factory else None
        self._pump.submit(lambda: comfy.sample_save(settings, run, name, weights, mt,
                                                    cancelled=lambda: self._cancel, client=client),
                          functools.partial(self._done, name), name="dpgui-comfy")
        return True

    def _done(self, name: str, res) -> None:
        self.busy = None
        self.stop_button.setEnabled(False)
        self.sample_button.setEnabled(True)
        if isinstance(res, Exception):
            self.status.setText(f"{name}: sampling failed: {res}")
            errors = [str(res)]
        else:
            errors = [r.error for r in res if r.error]
            ok = sum(1 for r in res if r.file)
            self.status.setText(f"{name}: {ok} image(s)" + (f"; {errors[0]}" if errors else ""))
        self.refresh_grid()
        self.sampled.emit(name)
        # go on with the next epoch unless this one failed as a whole or was stopped
        if not self._cancel and (not errors or len(errors) < len(self.prompt_list() or [""])):
            QTimer.singleShot(0, self, lambda: self.sample_new())

    def stop(self) -> None:
        self._cancel = True
        self.auto.setChecked(False)
        self.status.setText("Stopping after the current image…")
