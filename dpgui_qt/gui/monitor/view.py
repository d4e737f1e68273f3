"""MonitorView: the training curves (pyqtgraph) and the progress header.

Plots, x-linked, x in steps: loss (raw + smoothed, eval losses from TensorBoard,
epoch lines, save / checkpoint markers on the step axis, non-finite markers),
learning rate, gradient norm and speed (iteration time, samples/s on the right
axis). A crosshair shows every value at the step under the mouse.

Reading right at a glance:

* every plot has the same left and right axis widths, so a step sits at the
  same pixel in all of them (crosshair and epoch lines line up);
* y ranges are fitted here, not by pyqtgraph: a constant series (the default
  constant learning rate) is drawn at its value in a +-10 % band with ticks in
  its own scale (``2e-4``), tick labels carry only the decimals the ticks differ
  in (:func:`~dpgui_qt.core.monitor.metrics.format_ticks`), learning rates are written
  in scientific form; the loss and the lr have a log toggle;
* a plot without data is collapsed (no empty band) and one line under the
  plots says why (e.g. the optimizer does not report a grad norm);
* epoch / save labels are thinned to what the width allows (every Nth, with N
  in 1, 2, 5, 10 ...; never two overlapping); hovering a marker shows its label.

Drawing cost does not grow with the run: each redraw hands pyqtgraph at most
~2 points per pixel column of the visible range (``Series.decimate``: min/max
per bucket, so spikes stay visible), and redraws happen at most 10 times a
second, only when something changed (new data, smoothing, zoom). The items
still have ``setDownsampling(auto=True, method="peak")`` and
``setClipToView(True)``, which keep a full-resolution slice cheap too.
"""
from __future__ import annotations

import math
import time
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (QCheckBox, QDoubleSpinBox, QGridLayout, QHBoxLayout, QLabel,
                               QProgressBar, QSizePolicy, QSlider, QToolButton, QVBoxLayout,
                               QWidget)

import re

import numpy as np

from dpgui_qt.core.monitor.metrics import Marker, Series, format_ticks, nice_stride, value_range
from dpgui_qt.core.text import format_duration

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
LOADING_REDRAW_S = 0.5
LEFT_W = 76      # every plot's left and right axis have these widths: one x mapping for all
RIGHT_W = 64
STRETCH = {"loss": 5, "lr": 2, "grad": 2, "speed": 2}
LABEL_GAP_PX = 6  # free space between two marker labels
HOVER_PX = 6      # the mouse is "on" a marker this close to it


def _fmt_lr(v: float) -> str:
    """A learning rate the way configs write it: 2e-4, 1.5e-5, 0."""
    if not math.isfinite(v):
        return _fmt(v)
    if v == 0:
        return "0"
    m, e = f"{v:.3e}".split("e")
    m = m.rstrip("0").rstrip(".")
    return f"{m}e{int(e)}"


class _Axis(pg.AxisItem):
    """Tick labels with the precision the ticks differ in (``kind``: "plain", "sci" for
    learning rates, "steps" for the step axis: whole numbers with thousands separators)."""

    def __init__(self, orientation: str, kind: str = "plain", **kw):
        super().__init__(orientation, **kw)
        self.kind = kind
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):
        if self.logMode:
            if self.kind == "sci":   # learning rates stay in the config's notation: 1e-5
                return [_fmt_lr(float(f"{10.0 ** v * scale:.1g}")) for v in values]
            return super().tickStrings(values, scale, spacing)
        vals = [v * scale for v in values]
        if self.kind == "steps" and spacing * scale >= 1:
            return [f"{int(round(v)):,}" for v in vals]
        return format_ticks(vals, spacing * scale, scientific=self.kind == "sci")


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
        self.key: tuple[Any, ...] | None = None
        self.xs: np.ndarray | None = None   # what was handed to pyqtgraph (for the y range)
        self.ys: np.ndarray | None = None

    def update(self, series: Series | None, x0: float, x1: float, width_px: int) -> None:
        if series is None or not len(series):
            if self.key is not None:
                self.item.setData([], [])
                self.key = None
            self.series = None
            self.xs = self.ys = None
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
        self.xs, self.ys = xs, ys

    def visible_values(self, x0: float, x1: float) -> np.ndarray | None:
        """The drawn y values between steps ``x0`` and ``x1`` (None when hidden/empty)."""
        if self.xs is None or not self.xs.size or not self.item.isVisible():
            return None
        i0 = int(np.searchsorted(self.xs, x0, "left"))
        i1 = int(np.searchsorted(self.xs, x1, "right"))
        return self.ys[i0:i1] if self.ys is not None else None


def _marker_words(mk: Marker) -> str:
    step = int(math.floor(mk.x))
    if mk.kind == "epoch":
        return f"{mk.label} starts after step {step}"
    if mk.kind == "save":
        return f"saved {mk.label}"
    if mk.kind == "checkpoint":
        return f"checkpoint {mk.label}"
    return mk.label


class _Mark:
    """One drawn marker: its lines (plot items) and its label in the loss plot."""

    __slots__ = ("mk", "kind", "x", "num", "items", "label", "tip")

    def __init__(self, mk: Marker, ordinal: int):
        self.mk, self.kind, self.x = mk, mk.kind, mk.x
        # epochs are thinned by their number (E5, E10 ...), the others by their order
        n = re.search(r"(\d+)\s*$", mk.label) if mk.kind == "epoch" else None
        self.num = int(n.group(1)) if n else ordinal + 1
        self.items: list = []
        self.label: Any = None   # a pyqtgraph TextItem once drawn
        self.tip = ""


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
        self._last_refresh = 0.0
        self._marks: list[_Mark] = []
        self._markers_drawn = 0
        self._markers_src: list[Marker] | None = None
        self._labels_key: tuple[Any, ...] | None = None
        self.label_strides: dict[str, int] = {}
        self._nonfinite_items: list = []
        self._nonfinite_key: tuple[Any, ...] | None = None
        self._eval_curves: dict[str, _Curve] = {}
        self._build()
        self.model.changed.connect(self.mark_dirty)
        self.model.sourceChanged.connect(self._source_changed)
        self.model.loadProgress.connect(self._load_progress)
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
        self._build_header(lay)
        self._build_controls(lay)
        self._build_plots(lay)
        self._build_curves()
        self._set_layout()
        self._build_crosshair()
        self._wire_controls()

    def _build_header(self, lay: QVBoxLayout) -> None:
        """Progress bar, ETA, elapsed time, step, epoch and loss."""
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

    def _build_controls(self, lay: QVBoxLayout) -> None:
        """Smoothing, Raw, Log loss, Follow, the loading bar and the readout line."""
        ctl = self._ctl = QHBoxLayout()
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
        self.log_check = QCheckBox("Log loss", self)
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
        # reading a long log: how far it is (the plots fill in as it goes)
        self.load_bar = QProgressBar(self)
        self.load_bar.setRange(0, 1000)
        self.load_bar.setMaximumWidth(260)
        self.load_bar.setVisible(False)
        ctl.addWidget(self.load_bar)
        lay.addLayout(ctl)
        self.readout = QLabel("Move the mouse over the plots to read the values at a step.", self)
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        lay.addWidget(self.readout)

    def _build_plots(self, lay: QVBoxLayout) -> None:
        """One column of plots, every plot with the same axis widths on both sides."""
        self.glw = pg.GraphicsLayoutWidget(self)
        self.glw.ci.setSpacing(2)
        lay.addWidget(self.glw, 1)
        self.loss_plot = self._make_plot("loss", "loss")
        self.lr_plot = self._make_plot("lr", "learning rate", kind="sci")
        self.grad_plot = self._make_plot("grad", "grad norm")
        self.speed_plot = self._make_plot("speed", "s / step", right_values=True)
        self.plots = [self.loss_plot, self.lr_plot, self.grad_plot, self.speed_plot]
        for row, p in enumerate(self.plots):
            self.glw.ci.addItem(p, row=row, col=0)
            if p is not self.loss_plot:
                p.setXLink(self.loss_plot)
        self.glw.scene().sigMouseClicked.connect(self._clicked)
        self._shown: tuple = ()
        self.absent = QLabel(self)          # one line: which plots are not shown, and why
        self.absent.setObjectName("monitorAbsent")
        self.absent.setWordWrap(True)
        self.absent.setVisible(False)
        pal = self.absent.palette()
        pal.setColor(QPalette.ColorRole.WindowText, self.palette().color(QPalette.ColorRole.PlaceholderText))
        self.absent.setPalette(pal)
        lay.addWidget(self.absent)

    def _build_curves(self) -> None:
        """The curves in each plot, the legend, samples/s on a second axis, Log lr."""
        ctl = self._ctl
        base = self.palette().color(QPalette.ColorRole.Base)
        # below the row of epoch labels at the top of the loss plot
        self.legend = self.loss_plot.addLegend(offset=(-10, 26), labelTextSize="8pt",
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
        self.sps_vb = pg.ViewBox(enableMouse=False)
        self.speed_plot.scene().addItem(self.sps_vb)
        self.speed_plot.getAxis("right").linkToView(self.sps_vb)
        self.speed_plot.getAxis("right").setLabel("samples / s", color=pg.mkColor(COLORS["sps"]))
        self.speed_plot.getAxis("left").setLabel("s / step", color=pg.mkColor(COLORS["iter"]))
        self.sps_vb.setXLink(self.speed_plot)
        self.sps_vb.enableAutoRange(x=False, y=False)
        self.speed_plot.vb.sigResized.connect(self._sync_sps_view)
        self.loss_plot.vb.sigResized.connect(self.mark_dirty)   # labels are thinned by width
        self.sps_curve = _Curve(self.speed_plot, pg.mkPen(COLORS["sps"], width=2), vb=self.sps_vb,
                                smoothed=True)
        self.lr_log_check = QCheckBox("Log lr", self)
        self.lr_log_check.setToolTip("Logarithmic learning-rate axis (for schedules that decay "
                                     "over decades)")
        ctl.insertWidget(ctl.indexOf(self.follow_button), self.lr_log_check)

    def _build_crosshair(self) -> None:
        """A dashed line in every plot at the mouse's step, the empty and hover texts."""
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
        base = self.palette().color(QPalette.ColorRole.Base)
        self.hover_label = pg.TextItem("", fill=pg.mkBrush(base.red(), base.green(), base.blue(), 220))
        self.hover_label.setZValue(60)
        self.hover_label.setVisible(False)
        self.loss_plot.addItem(self.hover_label, ignoreBounds=True)

    def _raw_toggled(self, on: bool) -> None:
        self.raw_curve.item.setVisible(on)
        self.mark_dirty()

    def _wire_controls(self) -> None:
        """Smoothing, Raw, the log axes and Follow act on the plots."""
        w = self.model.metrics.loss.smoothing
        self._set_smoothing_widgets(w)
        self.smooth_slider.valueChanged.connect(lambda v: self._smoothing_changed(v / 1000.0))
        self.smooth_spin.valueChanged.connect(self._smoothing_changed)
        self.raw_check.toggled.connect(self._raw_toggled)
        self.log_check.toggled.connect(self._log_toggled)
        self.lr_log_check.toggled.connect(self._lr_log_toggled)
        self.follow_button.toggled.connect(self._follow_toggled)

    def _make_plot(self, key: str, title: str, kind: str = "plain",
                   right_values: bool = False) -> pg.PlotItem:
        p = pg.PlotItem(axisItems={"left": _Axis("left", kind), "right": _Axis("right"),
                                   "bottom": _Axis("bottom", "steps")})
        p.key = key
        p.hideButtons()
        p.setMenuEnabled(False)
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setLabel("left", title)
        p.showAxis("right")
        p.getAxis("left").setWidth(LEFT_W)
        p.getAxis("right").setWidth(RIGHT_W)
        if not right_values:
            p.getAxis("right").setStyle(showValues=False)
        p.vb.setMouseMode(pg.ViewBox.PanMode)
        # steps only: the y range always fits the data in view (it is the truth about them)
        p.vb.setMouseEnabled(x=True, y=False)
        p.vb.enableAutoRange(x=False, y=False)
        p.vb.sigRangeChangedManually.connect(self._user_zoomed)
        return p

    def _set_layout(self, shown: tuple | None = None) -> None:
        """Show the plots in ``shown`` (keys) and collapse the others to nothing: no
        empty band. The lowest one shown carries the step axis."""
        if shown is None:
            shown = ("loss", "lr", "speed")
        if shown == self._shown:
            return
        self._shown = shown
        lay_ = self.glw.ci.layout
        visible = [p for p in self.plots if p.key in shown]
        for row, p in enumerate(self.plots):
            on = p in visible
            p.setVisible(on)
            if on:
                p.setMinimumHeight(60)
                p.setMaximumHeight(16777215)
            else:
                p.setMinimumHeight(0)
                p.setMaximumHeight(0)
            lay_.setRowStretchFactor(row, STRETCH[p.key] if on else 0)
            lay_.setRowSpacing(row, 2 if on else 0)
            last = bool(visible) and p is visible[-1]
            ax = p.getAxis("bottom")
            ax.setStyle(showValues=last)
            ax.setHeight(None if last else 4)
            p.setLabel("bottom", "step" if last else None)
            if not last:
                ax.showLabel(False)
        if hasattr(self, "sps_vb"):
            self.sps_vb.setVisible("speed" in shown)
        lay_.invalidate()
        self.glw.ci.update()

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

    def _lr_log_toggled(self, on: bool) -> None:
        self.lr_plot.setLogMode(y=on)
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

    def _load_progress(self, done, total) -> None:
        loading = total and done < total
        self.load_bar.setVisible(bool(loading))
        if loading:
            self.load_bar.setValue(int(1000 * done / total))
            self.load_bar.setFormat(f"Reading log  {done / 1e6:.0f} / {total / 1e6:.0f} MB")
            self.load_bar.setToolTip("The plots fill in while the log is read; "
                                     "the window stays usable")

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
            # while a long log loads, a frame every LOADING_REDRAW_S leaves the GUI
            # thread its time for the user (and for taking in the log)
            if self.model.loading and time.monotonic() - self._last_refresh < LOADING_REDRAW_S:
                return
            self.refresh()

    def showEvent(self, event) -> None:
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
        self._last_refresh = time.monotonic()
        self.redraws += 1
        m = self.model.metrics
        loss = m.main_loss()
        lr = m.lr if len(m.lr) else m.tb.get("train/automagic_avg_lr")
        grad = m.tb.get("train/grad_norm")
        has_lr = lr is not None and len(lr) > 0
        has_grad = grad is not None and len(grad) > 0
        has_speed = len(m.iter_time) > 0 or len(m.samples_per_sec) > 0
        shown = ("loss",) + (("lr",) if has_lr else ()) + (("grad",) if has_grad else ()) \
            + (("speed",) if has_speed or not len(loss) else ())
        if not len(loss):
            shown = ("loss",)   # nothing yet: one plot with the waiting text, no empty frames
        self._set_layout(shown)
        self._update_absent(loss, has_lr, has_grad, has_speed)
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
        self.raw_curve.update(loss if self.raw_check.isChecked() else None, x0, x1, width)
        self.smooth_curve.update(loss, x0, x1, width)
        self.lr_curve.update(lr, x0, x1, width)
        self.grad_raw.update(grad, x0, x1, width)
        self.grad_smooth.update(grad, x0, x1, width)
        self.iter_raw.update(m.iter_time, x0, x1, width)
        self.iter_curve.update(m.iter_time, x0, x1, width)
        self.sps_curve.update(m.samples_per_sec, x0, x1, width)
        self._update_evals(x0, x1, width)
        self._fit_y(x0, x1)
        self._update_markers()
        self._layout_labels()
        self._update_nonfinite(loss)
        has = len(loss) > 0
        self.empty_text.setVisible(not has)
        if not has:
            self.empty_text.setText(self._waiting_text())
            self.empty_text.setPos((x0 + x1) / 2, sum(vb.viewRange()[1]) / 2)
        self._update_header()
        self.redrawn.emit()

    def _update_absent(self, loss: Series, has_lr: bool, has_grad: bool, has_speed: bool) -> None:
        """One line under the plots: the plots that are not shown, and why."""
        m = self.model.metrics
        parts = []
        if len(loss):
            tb = bool(m.tb)
            if not has_lr:
                parts.append("no learning rate: " + (
                    "the log has no DeepSpeed step reports (lr=[...])" if len(m.loss)
                    else "TensorBoard has no learning rate and there is no console log"))
            if not has_grad:
                parts.append("no grad norm: " + (
                    "this optimizer does not report it (only genericoptim logs train/grad_norm)"
                    if tb else "it is read from the run's TensorBoard files, and there are none"))
            if not has_speed:
                parts.append("no speed: iteration times come from the console log, "
                             "and there is none")
        text = "Not shown — " + "; ".join(parts) if parts else ""
        if text != self.absent.text():
            self.absent.setText(text)
        self.absent.setVisible(bool(text))

    def _fit_y(self, x0: float, x1: float) -> None:
        """Fit every plot's y range to the data drawn in [x0, x1] (constant series
        at their value, see :func:`~dpgui_qt.core.monitor.metrics.value_range`)."""
        def fit(vb, curves, quantile=None, log=False):
            vals = [v for v in (c.visible_values(x0, x1) for c in curves)
                    if v is not None and v.size]
            r = value_range(np.concatenate(vals), quantile, log) if vals else None
            if r is not None:
                vb.setYRange(r[0], r[1], padding=0)

        fit(self.loss_plot.vb, [self.raw_curve, self.smooth_curve, *self._eval_curves.values()],
            log=self.log_check.isChecked())
        fit(self.lr_plot.vb, [self.lr_curve], log=self.lr_log_check.isChecked())
        fit(self.grad_plot.vb, [self.grad_raw, self.grad_smooth], quantile=0.995)
        # the first step (model load, compilation) can take minutes: fit 99 % of the
        # points so it does not flatten the rest; the raw values set the range (the
        # smoothed curve's decay from that first step would stretch it)
        fit(self.speed_plot.vb, [self.iter_raw] if self.iter_raw.xs is not None
            else [self.iter_curve], quantile=0.99)
        fit(self.sps_vb, [self.sps_curve], quantile=0.99)

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
        for tag in m.eval_tags():
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
        for mark in self._marks:
            for item, plot in mark.items:
                plot.removeItem(item)
        self._marks = []
        self._markers_drawn = 0
        self._labels_key = None

    def _update_markers(self) -> None:
        markers = self.model.metrics.markers
        if self._markers_src is not markers or len(markers) < self._markers_drawn:
            self._clear_markers()
            self._markers_src = markers
        new = markers[self._markers_drawn:]
        if not new:
            return
        counts: dict[str, int] = {}
        for mark in self._marks:
            counts[mark.kind] = counts.get(mark.kind, 0) + 1
        for mk in new:
            if mk.kind == "eval":
                continue  # the eval points themselves are drawn
            i = counts.get(mk.kind, 0)
            counts[mk.kind] = i + 1
            self._marks.append(self._add_marker(mk, i))
        self._markers_drawn = len(markers)
        self._labels_key = None

    def _add_marker(self, mk: Marker, ordinal: int) -> "_Mark":
        """Epoch and resume: a line through every plot, labelled at the top (middle) of
        the loss plot. Save and checkpoint: a small mark on the loss plot's step axis
        (a save has a triangle and a label above it), not a line through the curves."""
        col = COLORS.get(mk.kind, (120, 120, 120))
        mark = _Mark(mk, ordinal)
        step = int(math.floor(mk.x))
        tip = {"epoch": f"{mk.label} starts after step {step}",
               "save": f"saved {mk.label} at step {step}",
               "checkpoint": f"checkpoint {mk.label} at step {step}"}.get(
                   mk.kind, f"{mk.label} (step {step})")
        mark.tip = tip
        if mk.kind in ("save", "checkpoint"):
            save = mk.kind == "save"
            line = pg.InfiniteLine(mk.x, angle=90, movable=False,
                                   pen=pg.mkPen((*col, 230), width=2 if save else 1),
                                   hoverPen=pg.mkPen(col, width=3), span=(0.0, 0.05 if save else 0.03),
                                   label=mk.label if save else None,
                                   labelOpts={"position": 0.1, "color": col,
                                              "anchors": [(0.5, 1), (0.5, 1)]} if save else None)
            if save:
                line.addMarker("^", position=0.04, size=9)
            line.setToolTip(tip)
            line.setZValue(-4)
            self.loss_plot.addItem(line, ignoreBounds=True)
            mark.items.append((line, self.loss_plot))
            mark.label = line.label if save else None
            return mark
        style = Qt.PenStyle.DashLine if mk.kind == "epoch" else Qt.PenStyle.SolidLine
        pen = pg.mkPen((*col, 150), width=1, style=style)
        text = mk.label.replace("epoch ", "E") if mk.kind == "epoch" else mk.label
        for p in self.plots:
            labelled = p is self.loss_plot
            # epoch labels hang from the top edge; resume labels sit mid-height
            pos, ay = (0.999, 0.0) if mk.kind == "epoch" else (0.5, 0.5)
            line = pg.InfiniteLine(mk.x, angle=90, movable=False, pen=pen,
                                   label=text if labelled else None,
                                   labelOpts={"position": pos, "color": col,
                                              "anchors": [(0, ay), (0, ay)]}
                                   if labelled else None)
            line.setToolTip(tip)
            line.setZValue(-10)
            p.addItem(line, ignoreBounds=True)
            mark.items.append((line, p))
            if labelled:
                mark.label = line.label
        return mark

    def _layout_labels(self, force: bool = False) -> None:
        """Show only as many marker labels as the width allows: every Nth of a kind
        (N = 1, 2, 5, 10 ...: the smallest that leaves a label's width between two),
        then drop any that would still touch its neighbour (uneven spacing) or run
        out of the plot. Hovering a marker shows its label in the readout."""
        vb = self.loss_plot.vb
        (x0, x1), w = vb.viewRange()[0], vb.width()
        key = (x0, x1, w, len(self._marks))
        if not force and key == self._labels_key:
            return
        self._labels_key = key
        if w <= 0 or x1 <= x0:
            return
        pps = w / (x1 - x0)
        by_kind: dict[str, list[_Mark]] = {}
        for mark in self._marks:
            if mark.label is not None:
                by_kind.setdefault(mark.kind, []).append(mark)
        self.label_strides = {}
        for kind, marks in by_kind.items():
            inside = [mk for mk in marks if x0 <= mk.x <= x1]
            widths = {id(mk): mk.label.textItem.boundingRect().width() for mk in inside}
            lw = max(widths.values(), default=0.0) + LABEL_GAP_PX
            gaps = np.diff([mk.x for mk in inside]) * pps
            gaps = gaps[gaps > 0]
            stride = nice_stride(lw / float(gaps.min())) if gaps.size else 1
            self.label_strides[kind] = stride
            right = -math.inf
            for mk in marks:
                px = (mk.x - x0) * pps
                lw_i = widths.get(id(mk), 0.0)
                show = (id(mk) in widths and mk.num % stride == 0)
                if show and kind == "save":
                    left, end = px - lw_i / 2, px + lw_i / 2       # centred over the mark
                    show = left >= 0 and end <= w
                elif show:
                    left, end = px, px + lw_i
                    ay = mk.label.anchors[0][1]
                    if end > w:                                  # the last one: left of its line
                        left, end = px - lw_i, px
                        mk.label.anchors = [(1, ay), (1, ay)]
                    else:
                        mk.label.anchors = [(0, ay), (0, ay)]
                    show = left >= 0
                if show and left < right + LABEL_GAP_PX:
                    show = False
                if show:
                    right = end
                    mk.label.updatePosition()
                mk.label.setVisible(show)

    def visible_marker_labels(self) -> list:
        """The marker labels drawn now (tests compare their scene rectangles)."""
        return [mk.label for mk in self._marks if mk.label is not None and mk.label.isVisible()]

    def markers_near(self, x: float, px: float = HOVER_PX) -> list[Marker]:
        """The markers within ``px`` pixels of step ``x`` (what hovering shows)."""
        vb = self.loss_plot.vb
        (x0, x1), w = vb.viewRange()[0], max(1.0, vb.width())
        tol = px * (x1 - x0) / w
        return [mk.mk for mk in self._marks if abs(mk.x - x) <= tol]

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
            self.hover_label.setVisible(False)
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
        near = self.markers_near(x)
        if near:
            parts.append(", ".join(_marker_words(mk) for mk in near))
        self._show_hover_label(near)
        for name, s, fmt in (("lr", m.lr if len(m.lr) else m.tb.get("train/automagic_avg_lr"),
                              _fmt_lr),
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

    def _show_hover_label(self, near: list[Marker]) -> None:
        """Hovering a marker whose label was thinned away shows that label."""
        hidden = [mk for mk in near if mk.kind in ("epoch", "save", "resume")
                  and not any(m.mk is mk and m.label is not None and m.label.isVisible()
                              for m in self._marks)]
        if not hidden:
            self.hover_label.setVisible(False)
            return
        mk = hidden[0]
        self.hover_label.setText("  ·  ".join(_marker_words(h) for h in hidden))
        self.hover_label.setColor(COLORS.get(mk.kind, (120, 120, 120)))
        y0, y1 = self.loss_plot.vb.viewRange()[1]
        top = any(h.kind == "epoch" for h in hidden)
        self.hover_label.setAnchor((0, 0) if top else (0, 1))
        self.hover_label.setPos(mk.x, y1 if top else y0 + (y1 - y0) * 0.08)
        self.hover_label.setVisible(True)

    # -------------------------------------------------------------- cleanup
    def closeEvent(self, event) -> None:
        self._timer.stop()
        super().closeEvent(event)
