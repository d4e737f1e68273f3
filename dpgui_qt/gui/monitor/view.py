"""MonitorView: the training curves (pyqtgraph) and the progress header.

Plots, x-linked, x in steps: loss (raw + smoothed, eval losses from TensorBoard,
epoch / save / checkpoint lines, non-finite markers), learning rate, gradient
norm (shown once TensorBoard has it) and speed (iteration time, samples/s on
the right axis). A crosshair shows every value at the step under the mouse.

Drawing cost does not grow with the run: each redraw hands pyqtgraph at most
~2 points per pixel column of the visible range (``Series.decimate``: min/max
per bucket, so spikes stay visible), and redraws happen at most 10 times a
second, only when something changed (new data, smoothing, zoom). The items
still have ``setDownsampling(auto=True, method="peak")`` and
``setClipToView(True)``, which keep a full-resolution slice cheap too.
"""
from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QSizePolicy, QSlider, QToolButton, QVBoxLayout,
                               QWidget)

from dpgui_qt.core.metrics import Marker, Series, format_duration

from .model import MonitorModel

__all__ = ["MonitorView", "COLORS"]

COLORS = {
    "raw": (120, 160, 220, 90),
    "smooth": (38, 110, 220),
    "lr": (215, 120, 30),
    "grad": (140, 80, 200),
    "iter": (40, 150, 90),
    "sps": (200, 70, 90),
    "epoch": (90, 90, 110),
    "save": (30, 150, 80),
    "checkpoint": (150, 150, 150),
    "resume": (220, 140, 0),
    "nonfinite": (220, 30, 30),
}
EVAL_COLORS = [(230, 90, 20), (160, 40, 170), (20, 160, 170), (200, 170, 0), (120, 120, 20)]
REDRAW_MS = 100
MAX_LABELS = 40


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "—"
    if not math.isfinite(v):
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    a = abs(v)
    if a != 0 and (a < 1e-3 or a >= 1e5):
        return f"{v:.3e}"
    return f"{v:.{digits}g}" if a < 1 else f"{v:.{digits}f}".rstrip("0").rstrip(".")


class _Curve:
    """A PlotDataItem fed from a Series (raw or smoothed)."""

    def __init__(self, plot: pg.PlotItem, pen, name: str | None = None, smoothed: bool = False,
                 symbol=None, vb: pg.ViewBox | None = None):
        kw = {}
        if symbol:
            kw = dict(symbol=symbol, symbolSize=6, symbolPen=None,
                      symbolBrush=pg.mkBrush(pen.color()))
        self.item = pg.PlotDataItem(pen=pen, name=name, connect="finite", **kw)
        self.item.setDownsampling(auto=True, method="peak")
        self.item.setClipToView(True)
        if vb is None:
            plot.addItem(self.item)
        else:
            vb.addItem(self.item)
        self.smoothed = smoothed
        self.series: Series | None = None
        self.key = None

    def update(self, series: Series | None, x0: float, x1: float, width_px: int) -> None:
        if series is None or not len(series):
            if self.key is not None:
                self.item.setData([], [])
                self.key = None
            self.series = None
            return
        # a margin of one view width on each side: panning shows data at once
        w = max(x1 - x0, 1.0)
        key = (id(series), series.version, round(x0 - w, 6), round(x1 + w, 6), width_px,
               self.smoothed)
        if key == self.key:
            return
        self.key = key
        xs, ys = series.decimate(x0 - w, x1 + w, max_points=max(400, 2 * width_px) * 3,
                                 smoothed=self.smoothed)
        self.item.setData(xs, ys)
        self.series = series


class MonitorView(QWidget):
    """Curves + progress for one :class:`MonitorModel`.

    ``feed_events(events)`` passes parsed log events on to the model;
    ``model.follow(path)`` / ``model.attach_run(...)`` / ``model.replay(...)`` pick a source.
    """

    redrawn = Signal()

    def __init__(self, model: MonitorModel | None = None, parent=None):
        super().__init__(parent)
        self.model = model or MonitorModel(self)
        self.follow_x = True
        self.redraws = 0
        self._dirty = True
        self._marker_items: list = []
        self._markers_drawn = 0
        self._markers_src = None
        self._strides: dict[str, int] = {}
        self._nonfinite_items: list = []
        self._nonfinite_key = None
        self._eval_curves: dict[str, _Curve] = {}
        self._build()
        self.model.changed.connect(self.mark_dirty)
        self.model.sourceChanged.connect(self._source_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()
        self.refresh()

    # ------------------------------------------------------------------ API
    def feed_events(self, events) -> None:
        self.model.feed_events(events)

    def set_plan(self, epochs=None, max_steps=None, x_axis_examples=None) -> None:
        self.model.set_plan(epochs, max_steps, x_axis_examples)

    def mark_dirty(self) -> None:
        self._dirty = True

    # ---------------------------------------------------------------- build
    def _build(self) -> None:
        pg.setConfigOptions(antialias=False, foreground=self.palette().color(QPalette.ColorRole.Text),
                            background=self.palette().color(QPalette.ColorRole.Base))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.setSpacing(4)

        # header: progress
        head = QGridLayout()
        head.setHorizontalSpacing(14)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.progress.setMinimumWidth(260)
        self.step_label = QLabel(self)
        self.epoch_label = QLabel(self)
        self.elapsed_label = QLabel(self)
        self.eta_label = QLabel(self)
        self.loss_label = QLabel(self)
        f = QFont(self.loss_label.font())
        f.setBold(True)
        for lab in (self.step_label, self.epoch_label, self.elapsed_label, self.eta_label,
                    self.loss_label):
            lab.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.loss_label.setFont(f)
        self.eta_label.setFont(f)
        head.addWidget(self.progress, 0, 0, 1, 2)
        head.addWidget(self.eta_label, 0, 2)
        head.addWidget(self.elapsed_label, 0, 3)
        head.addWidget(self.step_label, 1, 0)
        head.addWidget(self.epoch_label, 1, 1)
        head.addWidget(self.loss_label, 1, 2, 1, 2)
        head.setColumnStretch(0, 2)
        lay.addLayout(head)

        # controls
        ctl = QHBoxLayout()
        ctl.setSpacing(8)
        ctl.addWidget(QLabel("Smoothing", self))
        self.smooth_slider = QSlider(Qt.Orientation.Horizontal, self)
        self.smooth_slider.setRange(0, 999)
        self.smooth_slider.setFixedWidth(160)
        self.smooth_slider.setToolTip("Exponential moving average of the loss, as in TensorBoard "
                                      "(0 = raw values, 0.99 = very smooth)")
        self.smooth_spin = QDoubleSpinBox(self)
        self.smooth_spin.setRange(0.0, 0.999)
        self.smooth_spin.setDecimals(3)
        self.smooth_spin.setSingleStep(0.01)
        self.smooth_spin.setToolTip(self.smooth_slider.toolTip())
        ctl.addWidget(self.smooth_slider)
        ctl.addWidget(self.smooth_spin)
        self.raw_check = QCheckBox("Raw", self)
        self.raw_check.setChecked(True)
        self.raw_check.setToolTip("Also draw every logged loss value (faint)")
        self.log_check = QCheckBox("Log scale", self)
        self.log_check.setToolTip("Logarithmic loss axis")
        self.follow_button = QToolButton(self)
        self.follow_button.setText("Follow")
        self.follow_button.setCheckable(True)
        self.follow_button.setChecked(True)
        self.follow_button.setToolTip("Keep the whole run in view as it grows "
                                      "(zooming or panning turns this off; double-click a plot "
                                      "to turn it on again)")
        ctl.addWidget(self.raw_check)
        ctl.addWidget(self.log_check)
        ctl.addWidget(self.follow_button)
        ctl.addStretch(1)
        lay.addLayout(ctl)
        self.readout = QLabel("Move the mouse over the plots to read the values at a step.", self)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.readout)

        # plots
        self.glw = pg.GraphicsLayoutWidget(self)
        self.glw.ci.setSpacing(2)
        lay.addWidget(self.glw, 1)
        self.loss_plot = self.glw.addPlot(row=0, col=0)
        self.lr_plot = self.glw.addPlot(row=1, col=0)
        self.grad_plot = self.glw.addPlot(row=2, col=0)
        self.speed_plot = self.glw.addPlot(row=3, col=0)
        self.plots = [self.loss_plot, self.lr_plot, self.grad_plot, self.speed_plot]
        lay_ = self.glw.ci.layout
        for row, stretch in enumerate((5, 2, 2, 2)):
            lay_.setRowStretchFactor(row, stretch)
        titles = {self.loss_plot: "loss", self.lr_plot: "learning rate",
                  self.grad_plot: "grad norm", self.speed_plot: "s / step"}
        for p in self.plots:
            p.hideButtons()
            p.setMenuEnabled(False)
            p.showGrid(x=True, y=True, alpha=0.15)
            p.setLabel("left", titles[p])
            p.getAxis("left").setWidth(62)
            p.vb.setMouseMode(pg.ViewBox.PanMode)
            p.vb.enableAutoRange(x=False, y=True)
            p.vb.setAutoVisible(y=True)
            if p is not self.loss_plot:
                p.setXLink(self.loss_plot)
            if p is not self.speed_plot:
                p.getAxis("bottom").setStyle(showValues=False)
                p.getAxis("bottom").setHeight(4)
            p.vb.sigRangeChangedManually.connect(self._user_zoomed)
            p.scene().sigMouseClicked.connect(self._clicked)
        self.speed_plot.setLabel("bottom", "step")
        self.grad_plot.setVisible(False)

        base = self.palette().color(QPalette.ColorRole.Base)
        self.legend = self.loss_plot.addLegend(offset=(-10, 10), labelTextSize="8pt",
                                               brush=pg.mkBrush(base.red(), base.green(),
                                                                base.blue(), 200))
        self.raw_curve = _Curve(self.loss_plot, pg.mkPen(COLORS["raw"], width=1), "loss")
        self.smooth_curve = _Curve(self.loss_plot, pg.mkPen(COLORS["smooth"], width=2),
                                   "smoothed", smoothed=True)
        self.lr_curve = _Curve(self.lr_plot, pg.mkPen(COLORS["lr"], width=2))
        self.grad_raw = _Curve(self.grad_plot, pg.mkPen((*COLORS["grad"], 80), width=1))
        self.grad_smooth = _Curve(self.grad_plot, pg.mkPen(COLORS["grad"], width=2), smoothed=True)
        self.iter_raw = _Curve(self.speed_plot, pg.mkPen((*COLORS["iter"], 70), width=1))
        self.iter_curve = _Curve(self.speed_plot, pg.mkPen(COLORS["iter"], width=2), smoothed=True)
        # samples/s on a second y axis
        self.sps_vb = pg.ViewBox()
        self.speed_plot.showAxis("right")
        self.speed_plot.scene().addItem(self.sps_vb)
        self.speed_plot.getAxis("right").linkToView(self.sps_vb)
        self.speed_plot.getAxis("right").setLabel("samples / s", color=pg.mkColor(COLORS["sps"]))
        self.speed_plot.getAxis("left").setLabel("s / step", color=pg.mkColor(COLORS["iter"]))
        self.sps_vb.setXLink(self.speed_plot)
        self.sps_vb.enableAutoRange(x=False, y=True)
        self.sps_vb.setAutoVisible(y=True)
        self.speed_plot.vb.sigResized.connect(self._sync_sps_view)
        self.sps_curve = _Curve(self.speed_plot, pg.mkPen(COLORS["sps"], width=2), vb=self.sps_vb,
                                smoothed=True)
        for p in self.plots:
            p.getAxis("left").enableAutoSIPrefix(False)
        # the first step (model load, compilation) can take minutes: scale the speed
        # axes to 99% of the points so it does not flatten the rest
        self.speed_plot.vb.enableAutoRange(axis="y", enable=0.99)
        self.sps_vb.enableAutoRange(axis="y", enable=0.99)
        self.grad_plot.vb.enableAutoRange(axis="y", enable=0.995)

        # crosshair
        self.cross = []
        for p in self.plots:
            line = pg.InfiniteLine(angle=90, movable=False,
                                   pen=pg.mkPen((128, 128, 128, 160), width=1,
                                                style=Qt.PenStyle.DashLine))
            line.setVisible(False)
            line.setZValue(50)
            p.addItem(line, ignoreBounds=True)
            self.cross.append(line)
        self._mouse_proxy = pg.SignalProxy(self.glw.scene().sigMouseMoved, rateLimit=30,
                                           slot=self._mouse_moved)
        self.empty_text = pg.TextItem("Waiting for the first training step…", anchor=(0.5, 0.5),
                                      color=self.palette().color(QPalette.ColorRole.PlaceholderText))
        self.loss_plot.addItem(self.empty_text, ignoreBounds=True)

        # wiring
        w = self.model.metrics.loss.smoothing
        self._set_smoothing_widgets(w)
        self.smooth_slider.valueChanged.connect(lambda v: self._smoothing_changed(v / 1000.0))
        self.smooth_spin.valueChanged.connect(self._smoothing_changed)
        self.raw_check.toggled.connect(lambda on: (self.raw_curve.item.setVisible(on),
                                                   self.mark_dirty()))
        self.log_check.toggled.connect(self._log_toggled)
        self.follow_button.toggled.connect(self._follow_toggled)

    def _sync_sps_view(self) -> None:
        self.sps_vb.setGeometry(self.speed_plot.vb.sceneBoundingRect())
        self.sps_vb.linkedViewChanged(self.speed_plot.vb, self.sps_vb.XAxis)

    # ------------------------------------------------------------- controls
    def _set_smoothing_widgets(self, w: float) -> None:
        with QSignalBlocker(self.smooth_slider), QSignalBlocker(self.smooth_spin):
            self.smooth_slider.setValue(int(round(w * 1000)))
            self.smooth_spin.setValue(w)

    def _smoothing_changed(self, w: float) -> None:
        w = min(max(float(w), 0.0), 0.999)
        self._set_smoothing_widgets(w)
        self.model.set_smoothing(w)

    def set_smoothing(self, w: float) -> None:
        self._smoothing_changed(w)

    def _log_toggled(self, on: bool) -> None:
        self.loss_plot.setLogMode(y=on)
        self.mark_dirty()

    def _follow_toggled(self, on: bool) -> None:
        self.follow_x = on
        self.mark_dirty()

    def _user_zoomed(self, *_a) -> None:
        if self.follow_x:
            with QSignalBlocker(self.follow_button):
                self.follow_button.setChecked(False)
            self.follow_x = False
        self.mark_dirty()

    def _clicked(self, ev) -> None:
        if ev.double():
            self.follow_button.setChecked(True)

    def _source_changed(self) -> None:
        for c in self._eval_curves.values():
            self.loss_plot.removeItem(c.item)
            self.legend.removeItem(c.item)
        self._eval_curves.clear()
        self._clear_markers()
        self.follow_button.setChecked(True)
        self.mark_dirty()

    # ---------------------------------------------------------------- redraw
    def _tick(self) -> None:
        if self._dirty and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self._dirty = True

    def _data_range(self) -> tuple[float, float] | None:
        m = self.model.metrics
        lo, hi = math.inf, -math.inf
        for s in (m.main_loss(), m.lr, *[m.tb[t] for t in m.eval_tags()]):
            if len(s):
                lo = min(lo, float(s.x[0]))
                hi = max(hi, float(s.x[-1]))
        return (lo, hi) if lo <= hi else None

    def refresh(self) -> None:
        """Redraw now (the timer calls this when something changed)."""
        self._dirty = False
        self.redraws += 1
        m = self.model.metrics
        rng = self._data_range()
        vb = self.loss_plot.vb
        if rng is not None and self.follow_x:
            lo, hi = rng
            if hi - lo < 10:
                hi = lo + 10
            pad = (hi - lo) * 0.01
            vb.setXRange(lo - pad, hi + pad, padding=0)
        (x0, x1) = vb.viewRange()[0]
        width = max(100, int(vb.width()) or 800)
        loss = m.main_loss()
        self.raw_curve.update(loss if self.raw_check.isChecked() else None, x0, x1, width)
        self.smooth_curve.update(loss, x0, x1, width)
        self.lr_curve.update(m.lr if len(m.lr) else m.tb.get("train/automagic_avg_lr"),
                             x0, x1, width)
        grad = m.tb.get("train/grad_norm")
        if (grad is not None and len(grad)) != self.grad_plot.isVisible():
            self.grad_plot.setVisible(bool(grad is not None and len(grad)))
        self.grad_raw.update(grad, x0, x1, width)
        self.grad_smooth.update(grad, x0, x1, width)
        self.iter_raw.update(m.iter_time, x0, x1, width)
        self.iter_curve.update(m.iter_time, x0, x1, width)
        self.sps_curve.update(m.samples_per_sec, x0, x1, width)
        self._update_evals(x0, x1, width)
        self._update_markers()
        self._update_nonfinite(loss)
        has = len(loss) > 0
        self.empty_text.setVisible(not has)
        if not has:
            self.empty_text.setText(self._waiting_text())
            self.empty_text.setPos((x0 + x1) / 2, sum(vb.viewRange()[1]) / 2)
        self._update_header()
        self.redrawn.emit()

    def _waiting_text(self) -> str:
        ph = self.model.phase
        if ph.startswith("caching"):
            return f"{ph[0].upper()}{ph[1:]}… (training has not started)"
        if ph == "error":
            return "The run stopped with an error before the first step (see the Run page)"
        if self.model.mode == "idle":
            return "Nothing to show yet: start a run, or open a run folder or log"
        return "Waiting for the first training step…"

    def _update_evals(self, x0, x1, width) -> None:
        m = self.model.metrics
        for i, tag in enumerate(m.eval_tags()):
            c = self._eval_curves.get(tag)
            if c is None:
                col = EVAL_COLORS[len(self._eval_curves) % len(EVAL_COLORS)]
                c = self._eval_curves[tag] = _Curve(self.loss_plot, pg.mkPen(col, width=2),
                                                    tag, symbol="o")
            c.update(m.tb[tag], x0, x1, width)
        el = m.tb.get("train/epoch_loss")
        if el is not None and len(el):
            c = self._eval_curves.get("train/epoch_loss")
            if c is None:
                c = self._eval_curves["train/epoch_loss"] = _Curve(
                    self.loss_plot, pg.mkPen((90, 90, 110), width=1.5, style=Qt.PenStyle.DashLine),
                    "epoch mean", symbol="s")
            c.update(el, x0, x1, width)

    def _clear_markers(self) -> None:
        for item, plot in self._marker_items:
            plot.removeItem(item)
        self._marker_items = []
        self._markers_drawn = 0

    @staticmethod
    def _label_stride(count: int) -> int:
        """Label every n-th marker of a kind so that at most ~MAX_LABELS show (a power of 2,
        so labels already drawn stay when the stride grows)."""
        n = 1
        while count > MAX_LABELS * n:
            n *= 2
        return n

    def _update_markers(self) -> None:
        markers = self.model.metrics.markers
        counts: dict[str, int] = {}
        for mk in markers:
            counts[mk.kind] = counts.get(mk.kind, 0) + 1
        strides = {k: self._label_stride(c) for k, c in counts.items()}
        if (self._markers_src is not markers or len(markers) < self._markers_drawn
                or any(strides[k] != self._strides.get(k, 1) for k in strides)):
            self._clear_markers()
            self._markers_src = markers
        self._strides = strides
        new = markers[self._markers_drawn:]
        if not new:
            return
        seen: dict[str, int] = {}
        for mk in markers[:self._markers_drawn]:
            seen[mk.kind] = seen.get(mk.kind, 0) + 1
        for mk in new:
            i = seen.get(mk.kind, 0)
            seen[mk.kind] = i + 1
            if mk.kind == "eval":
                continue  # the eval points themselves are drawn
            self._add_marker(mk, label=(i % strides[mk.kind] == 0))
        self._markers_drawn = len(markers)

    def _add_marker(self, mk: Marker, label: bool) -> None:
        col = COLORS.get(mk.kind, (120, 120, 120))
        style = {"epoch": Qt.PenStyle.DashLine, "save": Qt.PenStyle.DotLine,
                 "checkpoint": Qt.PenStyle.DotLine}.get(mk.kind, Qt.PenStyle.SolidLine)
        pen = pg.mkPen((*col, 170), width=1, style=style)
        plots = [self.loss_plot] if mk.kind in ("save", "checkpoint") else self.plots
        text = {"epoch": mk.label.replace("epoch ", "E"), "save": "⤓ " + mk.label}.get(mk.kind, mk.label)
        for p in plots:
            show = label and p is self.loss_plot and mk.kind != "checkpoint"
            pos = {"epoch": 0.97, "save": 0.05, "resume": 0.5}.get(mk.kind, 0.9)
            line = pg.InfiniteLine(mk.x, angle=90, movable=False, pen=pen,
                                   label=text if show else None,
                                   labelOpts={"position": pos, "color": col,
                                              "anchors": [(0, 0.5), (0, 0.5)]} if show else None)
            line.setToolTip(f"{mk.label} (step {int(math.floor(mk.x))})")
            line.setZValue(-10)
            p.addItem(line, ignoreBounds=True)
            self._marker_items.append((line, p))

    def _update_nonfinite(self, loss: Series) -> None:
        key = (id(loss), len(loss.nonfinite), loss.nonfinite[-1][1] if loss.nonfinite else None)
        if key == self._nonfinite_key:
            return
        self._nonfinite_key = key
        for item in self._nonfinite_items:
            self.loss_plot.removeItem(item)
        self._nonfinite_items = []
        runs = loss.nonfinite[:50]
        for x0, x1, kind, count in runs:
            if count > 1:
                item = pg.LinearRegionItem((x0 - 0.5, x1 + 0.5), movable=False,
                                           brush=pg.mkBrush((*COLORS["nonfinite"], 40)),
                                           pen=pg.mkPen((*COLORS["nonfinite"], 120)))
            else:
                item = pg.InfiniteLine(x0, angle=90, movable=False,
                                       pen=pg.mkPen(COLORS["nonfinite"], width=1.5))
            item.setToolTip(f"loss was {kind} at step {int(x0)}"
                            + (f"–{int(x1)} ({count} steps)" if count > 1 else ""))
            item.setZValue(-5)
            self.loss_plot.addItem(item, ignoreBounds=True)
            self._nonfinite_items.append(item)

    def _update_header(self) -> None:
        m = self.model.metrics
        p = m.progress()
        loss = m.main_loss()
        if p.fraction is not None:
            self.progress.setValue(int(round(p.fraction * 1000)))
            self.progress.setFormat(f"step {p.step} / {p.total_steps}  ·  {p.fraction * 100:.1f}%")
        else:
            self.progress.setValue(0)
            self.progress.setFormat("step " + (str(p.step) if p.step is not None else "—")
                                    + ("  ·  total known after the first epoch"
                                       if m.epochs and not m.max_steps and p.step else ""))
        self.progress.setToolTip(p.basis or "Set epochs or max_steps in the config to see progress")
        ep = "—" if p.epoch is None else str(p.epoch)
        if p.epochs:
            ep += f" / {p.epochs}"
        self.step_label.setText(f"Step <b>{p.step if p.step is not None else '—'}</b>")
        self.epoch_label.setText(f"Epoch <b>{ep}</b>")
        self.elapsed_label.setText(f"Elapsed {format_duration(p.elapsed_s)}")
        if p.finished:
            self.eta_label.setText("Finished")
        elif p.eta_s is not None:
            self.eta_label.setText(f"ETA {format_duration(p.eta_s)}  "
                                   f"({p.sec_per_step:.2f} s/step)")
        else:
            self.eta_label.setText("ETA —")
        self.eta_label.setToolTip("Remaining steps × the mean time of the last "
                                  f"{m.RATE_WINDOW} steps (evals and saves come on top)")
        if len(loss):
            sm = float(loss.smoothed()[-1])
            nf = loss.nonfinite_count
            warn = f"  ·  <span style='color:#d22'>{nf} non-finite</span>" if nf else ""
            self.loss_label.setText(f"Loss {_fmt(loss.last_y)}  ·  smoothed {_fmt(sm)}{warn}")
        else:
            self.loss_label.setText("Loss —")

    # ------------------------------------------------------------ crosshair
    def _mouse_moved(self, args) -> None:
        pos = args[0]
        plot = next((p for p in self.plots if p.isVisible() and p.sceneBoundingRect().contains(pos)),
                    None)
        if plot is None:
            for line in self.cross:
                line.setVisible(False)
            return
        x = plot.vb.mapSceneToView(pos).x()
        self.show_crosshair(x)

    def show_crosshair(self, x: float) -> str:
        """Put the crosshair at step ``x``; returns (and shows) the readout text."""
        m = self.model.metrics
        loss = m.main_loss()
        i = loss.index_at(x)
        if i is not None:
            x = float(loss.x[i])
        for line in self.cross:
            line.setPos(x)
            line.setVisible(True)
        (v0, v1) = self.loss_plot.vb.viewRange()[0]
        tol = max(1.0, (v1 - v0) / 200)
        parts = [f"<b>step {int(x)}</b>"]
        v = loss.value_at(x, tol)
        if v:
            parts.append(f"loss {_fmt(v[1])} (smoothed {_fmt(v[2])})")
        for tag in m.eval_tags():
            ev = m.tb[tag].value_at(x, tol)
            if ev:
                parts.append(f"{tag} {_fmt(ev[1])}")
        for name, s, fmt in (("lr", m.lr, lambda v: f"{v:.3g}"),
                             ("grad", m.tb.get("train/grad_norm"), _fmt),
                             ("s/step", m.iter_time, lambda v: f"{v:.3f}"),
                             ("samples/s", m.samples_per_sec, lambda v: f"{v:.3f}")):
            if s is not None and len(s):
                r = s.value_at(x, tol)
                if r and math.isfinite(r[1]):
                    parts.append(f"{name} {fmt(r[1])}")
        text = "  ·  ".join(parts)
        self.readout.setText(text)
        return text

    # -------------------------------------------------------------- cleanup
    def closeEvent(self, event) -> None:  # noqa: N802
        self._timer.stop()
        super().closeEvent(event)
