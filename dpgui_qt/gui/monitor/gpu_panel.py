"""GPU panel: one card per GPU (name, utilisation, memory, temperature, power) with
the last minutes as sparklines. Sampling runs in a QThread about once a second
(NVML calls can block for tens of ms); no driver or no NVIDIA GPU shows the
reason in the panel and nothing else changes."""
from __future__ import annotations


from PySide6.QtCore import QObject, QRectF, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (QFrame, QGridLayout, QLabel, QProgressBar, QScrollArea,
                               QSizePolicy, QVBoxLayout, QWidget)

from dpgui_qt.core.monitor.gpu import MEMORY_WARN, GpuHistory, GpuSample, GpuSampler, GpuUnavailable, \
    default_sampler
from dpgui_qt.gui.workers import WorkerThread

__all__ = ["GpuPanel", "Sparkline", "SamplerWorker"]

GIB = 1 << 30


class Sparkline(QWidget):
    """A small line of recent values (QPainter only); nan leaves a gap."""

    def __init__(self, color=(38, 110, 220), lo: float | None = 0.0, hi: float | None = None,
                 parent=None):
        super().__init__(parent)
        self.values: list[float] = []
        self.color = QColor(*color)
        self.lo, self.hi = lo, hi
        self.capacity = 300
        self.setMinimumHeight(22)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(160, 26)

    def set_values(self, values: list[float]) -> None:
        self.values = values[-self.capacity:]
        self.update()

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        r = QRectF(self.rect()).adjusted(1, 2, -1, -2)
        bg = self.palette().color(QPalette.ColorRole.AlternateBase)
        p.fillRect(self.rect(), bg)
        vals = self.values
        fin = [v for v in vals if v == v]
        if len(fin) < 1:
            p.end()
            return
        lo = self.lo if self.lo is not None else min(fin)
        hi = self.hi if self.hi is not None else max(fin)
        if hi - lo < 1e-9:
            hi = lo + 1.0
        n = self.capacity
        dx = r.width() / max(1, n - 1)
        x0 = r.right() - dx * (len(vals) - 1)
        path = QPainterPath()
        fill = QPainterPath()
        pen_down = False
        first_x = None
        last_x = None
        for i, v in enumerate(vals):
            if v != v:
                pen_down = False
                continue
            x = x0 + i * dx
            y = r.bottom() - (min(max(v, lo), hi) - lo) / (hi - lo) * r.height()
            if not pen_down:
                path.moveTo(x, y)
                pen_down = True
            else:
                path.lineTo(x, y)
            if first_x is None:
                first_x = x
                fill.moveTo(x, r.bottom())
            fill.lineTo(x, y)
            last_x = x
        if first_x is not None and last_x is not None:
            fill.lineTo(last_x, r.bottom())
            fill.closeSubpath()
            c = QColor(self.color)
            c.setAlpha(40)
            p.fillPath(fill, c)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        p.setPen(QPen(self.color, 1.4))
        p.drawPath(path)
        p.end()


class SamplerWorker(QObject):
    """Lives in a QThread; samples every ``interval_ms``."""

    sampled = Signal(object)       # list[GpuSample]
    unavailable = Signal(str)

    def __init__(self, sampler: GpuSampler, interval_ms: int = 1000):
        super().__init__()
        self.sampler = sampler
        self.interval_ms = interval_ms
        self._timer: QTimer | None = None
        self._open = False

    @Slot()
    def start(self) -> None:
        try:
            self.sampler.open()
        except GpuUnavailable as e:
            self.unavailable.emit(str(e))
            return
        except Exception as e:  # noqa: BLE001 - a broken driver must not take the GUI down
            self.unavailable.emit(f"GPU readings failed: {e}")
            return
        self._open = True
        self._timer = QTimer(self)
        self._timer.setInterval(self.interval_ms)
        self._timer.timeout.connect(self.tick)
        self._timer.start()
        self.tick()

    @Slot()
    def tick(self) -> None:
        try:
            samples = self.sampler.sample()
        except GpuUnavailable as e:
            self.unavailable.emit(str(e))
            self.stop()
            return
        except Exception as e:  # noqa: BLE001 - shown in the panel; the sampler stops
            self.unavailable.emit(f"GPU readings failed: {e}")
            self.stop()
            return
        self.sampled.emit(samples)

    @Slot()
    def stop(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self._open:
            self._open = False
            try:
                self.sampler.close()
            except Exception:  # noqa: BLE001 - closing a failed sampler: nothing left to report
                pass


class _GpuCard(QFrame):
    def __init__(self, sample: GpuSample, parent=None):
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        g = QGridLayout(self)
        g.setContentsMargins(8, 6, 8, 6)
        g.setHorizontalSpacing(8)
        g.setVerticalSpacing(2)
        self.title = QLabel(self)
        f = QFont(self.title.font())
        f.setBold(True)
        self.title.setFont(f)
        g.addWidget(self.title, 0, 0, 1, 3)
        self.mem_bar = QProgressBar(self)
        self.mem_bar.setRange(0, 1000)
        self.mem_bar.setTextVisible(True)
        self.mem_bar.setMaximumHeight(16)
        self.labels = {}
        self.sparks = {
            "util": Sparkline((38, 110, 220), 0, 100),
            "mem": Sparkline((140, 80, 200), 0, 100),
            "temp": Sparkline((220, 120, 30), None, None),
            "power": Sparkline((30, 150, 80), 0, None),
        }
        names = {"util": "GPU", "mem": "Memory", "temp": "Temp", "power": "Power"}
        for row, key in enumerate(("util", "mem", "temp", "power"), start=1):
            name = QLabel(names[key], self)
            val = QLabel(self)
            val.setMinimumWidth(92)
            val.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.labels[key] = val
            g.addWidget(name, row, 0)
            g.addWidget(self.sparks[key], row, 1)
            g.addWidget(val, row, 2)
        g.addWidget(self.mem_bar, 5, 0, 1, 3)
        g.setColumnStretch(1, 1)
        self.warning = QLabel(self)
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet("color: #c62828;")
        self.warning.setVisible(False)
        g.addWidget(self.warning, 6, 0, 1, 3)

    def set_sample(self, s: GpuSample, hist: GpuHistory) -> None:
        self.title.setText(f"GPU {s.index} · {s.name}")
        self.labels["util"].setText("—" if s.util is None else f"{s.util:.0f} %")
        frac = s.mem_fraction
        if frac is not None and s.mem_used is not None and s.mem_total is not None:
            self.labels["mem"].setText(f"{s.mem_used / GIB:.1f} / {s.mem_total / GIB:.0f} GiB")
            self.mem_bar.setValue(int(frac * 1000))
            self.mem_bar.setFormat(f"memory {frac * 100:.0f} %")
        else:
            self.labels["mem"].setText("—")
            self.mem_bar.setValue(0)
            self.mem_bar.setFormat("memory —")
        self.labels["temp"].setText("—" if s.temp is None else f"{s.temp:.0f} °C")
        if s.power is None:
            self.labels["power"].setText("—")
        elif s.power_limit:
            self.labels["power"].setText(f"{s.power:.0f} / {s.power_limit:.0f} W")
        else:
            self.labels["power"].setText(f"{s.power:.0f} W")
        if s.power_limit:
            self.sparks["power"].hi = s.power_limit
        for key, sp in self.sparks.items():
            sp.set_values(hist.series(s.index, key))
        near_full = frac is not None and frac >= MEMORY_WARN
        self.warning.setVisible(near_full)
        if near_full:
            self.warning.setText("Memory almost full: the next larger batch or video bucket may "
                                 "run out of memory (block swap or a smaller resolution helps).")
        self.mem_bar.setStyleSheet("QProgressBar::chunk { background: #c62828; }" if near_full
                                   else "")


class GpuPanel(QWidget):
    """Per-GPU cards, or a message when there are no readings."""

    updated = Signal()

    def __init__(self, sampler: GpuSampler | None = None, interval_ms: int = 1000,
                 history_s: int = 300, parent=None, autostart: bool = True):
        super().__init__(parent)
        self.sampler = sampler if sampler is not None else default_sampler()
        self.interval_ms = interval_ms
        self.history = GpuHistory(maxlen=max(10, int(history_s * 1000 / max(interval_ms, 1))))
        self.unavailable_reason: str | None = None
        self.cards: dict[int, _GpuCard] = {}
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        head = QLabel("GPUs", self)
        f = QFont(head.font())
        f.setBold(True)
        head.setFont(f)
        lay.addWidget(head)
        self.message = QLabel("Reading GPUs…", self)
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.message.setStyleSheet("padding: 6px;")
        lay.addWidget(self.message)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.body = QWidget()
        self.body_lay = QVBoxLayout(self.body)
        self.body_lay.setContentsMargins(0, 0, 0, 0)
        self.body_lay.addStretch(1)
        self.scroll_area.setWidget(self.body)
        lay.addWidget(self.scroll_area, 1)
        self.scroll_area.setVisible(False)
        self._work = WorkerThread(self, "gpu-sampler")
        if autostart:
            self.start()

    def start(self) -> None:
        if self._work.running:
            return
        worker = SamplerWorker(self.sampler, self.interval_ms)
        self._work.start(worker, worker.start, on_stop=worker.stop,
                         links=[(worker.sampled, self.add_samples),
                                (worker.unavailable, self.show_unavailable)])

    def stop(self) -> None:
        """Stop sampling and wait for the sampler thread (its timer and the driver
        handle are released in that thread)."""
        self._work.stop()

    def show_unavailable(self, reason: str) -> None:
        self.unavailable_reason = reason
        self.message.setText(f"No GPU readings.\n\n{reason}")
        self.message.setVisible(True)
        self.scroll_area.setVisible(False)
        self.updated.emit()

    def add_samples(self, samples: list[GpuSample]) -> None:
        self.history.add(samples)
        self.message.setVisible(False)
        self.scroll_area.setVisible(True)
        for s in samples:
            card = self.cards.get(s.index)
            if card is None:
                card = self.cards[s.index] = _GpuCard(s, self.body)
                self.body_lay.insertWidget(self.body_lay.count() - 1, card)
            card.set_sample(s, self.history)
        self.updated.emit()

    def closeEvent(self, event) -> None:
        self.stop()
        super().closeEvent(event)

