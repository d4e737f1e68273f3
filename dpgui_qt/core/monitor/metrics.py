"""Bounded, step-indexed metric series and the run state the monitor draws (Qt-free).

:class:`Series`
    ``x`` (step) / ``y`` (value) pairs in growable numpy arrays: ``append`` is
    amortised O(1) (capacity doubles), ``extend`` copies a batch at once.

    *Smoothing* is TensorBoard's exponential moving average: ``weight`` in
    [0, 1) is the share of the previous smoothed value (TensorBoard's slider),
    ``alpha = 1 - weight`` the share of the new value.  It is de-biased the way
    TensorBoard does it (the first points are not dragged towards 0) and it is
    computed incrementally: each ``append`` updates it in O(1).  Changing the
    weight only marks it stale; it is recomputed, vectorised, the next time it
    is asked for.  Non-finite values are skipped by the average (it carries on
    through them).

    *nan/inf*: the stored ``y`` holds nan where the value was nan or ±inf (a
    gap in a line drawn with ``connect="finite"``); the non-finite values are
    kept in ``nonfinite`` as runs ``[first_x, last_x, kind, count]`` (a run that
    diverges for good costs one entry, not one per step) so the view can mark them.

    *Memory bound*: at most ``max_points`` points (default 1,048,576: 20 MB, or
    28 MB once the smoothed copy exists -- it is only allocated for series that
    are smoothed).  When the bound is reached the *older half* is halved 2:1:
    each pair of neighbouring points becomes one point at the first point's
    step holding the pair's mean, weighted by how many finite raw values each
    point already stands for (nan only when both are nan) -- so the newest half
    always stays at full resolution, older data get progressively coarser, and
    a run of any length costs at most ``max_points``. Compaction is amortised
    O(1) per point. After a compaction the smoothed curve of the old part is
    kept as it was; if the weight changes later, the old part is re-smoothed
    from the halved data (close, not identical).

    *Drawing*: :meth:`Series.decimate` returns at most ~``max_points`` points for
    an x-range using min/max per bucket (the envelope a plot of all the
    points would show, spikes included), in a few ms for a million points.

:class:`RunMetrics`
    Everything the monitor shows for one run, fed with the parser's events
    (:mod:`dpgui_qt.core.run.parse`) and TensorBoard scalars
    (:mod:`dpgui_qt.core.monitor.tbevents`): loss, learning rate, iteration time,
    samples/s, TensorBoard series by tag, epoch / save / checkpoint / eval
    markers, and the progress (step, epoch, ETA) against the config's plan.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["Series", "Marker", "Progress", "RunMetrics", "ema_reference", "value_range",
           "format_ticks", "nice_stride"]

DEFAULT_MAX_POINTS = 1 << 20
_MIN_CAPACITY = 1024
# largest exponent of exp() used by the block-wise EMA (e^500 ~ 1e217: values up to ~1e90 fit)
_EXP_SPAN = 500.0


def ema_reference(y: Sequence[float], weight: float) -> list[float]:
    """Plain-Python de-biased EMA (the definition; tests compare against it)."""
    out, s, w = [], 0.0, 0.0
    a = 1.0 - weight
    for v in y:
        if math.isfinite(v):
            s = weight * s + a * v
            w = weight * w + a
        out.append(s / w if w > 0 else math.nan)
    return out


class Series:
    """Step-indexed values with incremental smoothing, a memory bound and decimation."""

    __slots__ = ("name", "max_points", "_x", "_y", "_s", "_c", "_n", "_weight", "_s_valid",
                 "_acc", "_wacc", "nonfinite", "_nf_open", "compactions", "version", "last_finite")

    def __init__(self, name: str = "", max_points: int = DEFAULT_MAX_POINTS,
                 smoothing: float = 0.0):
        if max_points < 16:
            raise ValueError("max_points must be >= 16")
        self.name = name
        self.max_points = int(max_points)
        self._x = np.empty(0, np.float64)
        self._y = np.empty(0, np.float64)
        self._s: np.ndarray | None = None   # smoothed values, allocated on first use
        self._c: np.ndarray | None = None   # finite raw values per point, after a compaction
        self._n = 0
        self._weight = float(smoothing)
        self._s_valid = 0          # smoothed values computed for _x[:_s_valid]
        self._acc = 0.0            # EMA state after _s_valid points (numerator, weight sum)
        self._wacc = 0.0
        self.nonfinite: list[list[Any]] = []   # [first_x, last_x, "nan" | "inf" | "-inf", count]
        self._nf_open = False             # the last point appended was non-finite
        self.compactions = 0
        self.version = 0           # bumps on every change (views redraw when it moves)
        self.last_finite: float | None = None

    # ---------------------------------------------------------------- basics
    def __len__(self) -> int:
        return self._n

    @property
    def x(self) -> np.ndarray:
        return self._x[:self._n]

    @property
    def y(self) -> np.ndarray:
        """Values; nan where the value was nan or ±inf."""
        return self._y[:self._n]

    @property
    def last_x(self) -> float | None:
        return float(self._x[self._n - 1]) if self._n else None

    @property
    def last_y(self) -> float | None:
        return float(self._y[self._n - 1]) if self._n else None

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self._x, self._y, self._s, self._c) if a is not None)

    def clear(self) -> None:
        Series.__init__(self, self.name, self.max_points, self._weight)

    def _reserve(self, extra: int) -> None:
        need = self._n + extra
        cap = self._x.shape[0]
        if need <= cap:
            return
        new = max(_MIN_CAPACITY, cap)
        while new < need:
            new *= 2
        new = min(new, max(need, self.max_points))
        for name in ("_x", "_y", "_s", "_c"):
            old = getattr(self, name)
            if old is None:
                continue
            arr = np.empty(new, old.dtype)
            arr[:self._n] = old[:self._n]
            setattr(self, name, arr)

    def append(self, x: float, y: float) -> None:
        if self._n >= self.max_points:
            self._compact()
        if self._n >= self._x.shape[0]:
            self._reserve(1)
        n = self._n
        self._x[n] = x
        if self._c is not None:
            self._c[n] = 1 if y == y and y not in (math.inf, -math.inf) else 0
        if y == y and y not in (math.inf, -math.inf):
            self._y[n] = y
            self.last_finite = y
            self._nf_open = False
            if self._s_valid == n and self._s is not None:   # keep the EMA current in O(1)
                w = self._weight
                self._acc = w * self._acc + (1.0 - w) * y
                self._wacc = w * self._wacc + (1.0 - w)
                self._s[n] = self._acc / self._wacc
                self._s_valid = n + 1
        else:
            self._y[n] = math.nan
            self._note_nonfinite(float(x), "nan" if y != y else ("inf" if y > 0 else "-inf"))
            if self._s_valid == n and self._s is not None:
                self._s[n] = self._acc / self._wacc if self._wacc > 0 else math.nan
                self._s_valid = n + 1
        self._n = n + 1
        self.version += 1

    def extend(self, xs: Iterable[float] | np.ndarray, ys: Iterable[float] | np.ndarray) -> None:
        xs = np.asarray(xs, np.float64).ravel()
        ys = np.asarray(ys, np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError("xs and ys differ in length")
        if not xs.size:
            return
        bad = ~np.isfinite(ys)
        if bad.any():
            ys = ys.copy()
            prev = -2
            for i in np.flatnonzero(bad):
                if i != prev + 1:
                    self._nf_open = False
                v = ys[i]
                self._note_nonfinite(float(xs[i]), "nan" if v != v else ("inf" if v > 0 else "-inf"))
                prev = int(i)
            self._nf_open = bool(bad[-1])
            ys[bad] = np.nan
        else:
            self._nf_open = False
        fin = ys[~bad]
        if fin.size:
            self.last_finite = float(fin[-1])
        pos = 0
        while pos < xs.size:
            if self._n >= self.max_points:
                self._compact()
            room = self.max_points - self._n
            take = min(room, xs.size - pos)
            self._reserve(take)
            self._x[self._n:self._n + take] = xs[pos:pos + take]
            self._y[self._n:self._n + take] = ys[pos:pos + take]
            if self._c is not None:
                self._c[self._n:self._n + take] = ~bad[pos:pos + take]
            self._n += take
            pos += take
        self.version += 1

    def _note_nonfinite(self, x: float, kind: str) -> None:
        last = self.nonfinite[-1] if self.nonfinite else None
        if self._nf_open and last is not None and last[2] == kind:
            last[1] = x
            last[3] += 1
        else:
            self.nonfinite.append([x, x, kind, 1])
        self._nf_open = True

    @property
    def nonfinite_count(self) -> int:
        return sum(r[3] for r in self.nonfinite)

    # ------------------------------------------------------------ compaction
    def _compact(self) -> None:
        """Halve the older half 2:1 (weighted pair means at the first point's step)."""
        n = self._n
        half = (n // 2) & ~1
        if half < 2:
            return
        if self._s is not None:
            self._smooth_upto(n)  # the old part keeps the smoothing it had
        if self._c is None:
            self._c = np.empty(self._x.shape[0], np.int32)
            self._c[:n] = ~np.isnan(self._y[:n])
        x, y, c = self._x, self._y, self._c
        k = half // 2
        yp = y[:half].reshape(k, 2)
        cp = c[:half].reshape(k, 2).astype(np.float64)
        tot = cp.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            m = (np.nan_to_num(yp) * cp).sum(axis=1) / tot
        m[tot == 0] = np.nan
        x[:k] = x[0:half:2]
        y[:k] = m
        c[:k] = tot
        rest = n - half
        x[k:k + rest] = x[half:n]
        y[k:k + rest] = y[half:n]
        c[k:k + rest] = c[half:n]
        if self._s is not None:
            s = self._s
            s[:k] = s[1:half:2]  # the smoothed value at the end of each pair
            s[k:k + rest] = s[half:n]
        self._n = k + rest
        self._s_valid = self._n if self._s is not None else 0
        self.compactions += 1

    # -------------------------------------------------------------- smoothing
    @property
    def smoothing(self) -> float:
        return self._weight

    def set_smoothing(self, weight: float) -> None:
        """TensorBoard-style weight in [0, 1); recomputed lazily on next access."""
        weight = float(min(max(weight, 0.0), 0.9999))
        if weight != self._weight:
            self._weight = weight
            self._s_valid = 0
            self._acc = self._wacc = 0.0
            self.version += 1

    def smoothed(self) -> np.ndarray:
        self._smooth_upto(self._n)
        assert self._s is not None  # allocated by _smooth_upto
        return self._s[:self._n]

    def _smooth_upto(self, n: int) -> None:
        if self._s is None:
            self._s = np.empty(self._x.shape[0], np.float64)
            self._s_valid = 0
            self._acc = self._wacc = 0.0
        i0 = self._s_valid
        if i0 >= n:
            return
        w = self._weight
        y = self._y[i0:n]
        out = self._s[i0:n]
        if w == 0.0:
            out[:] = y
            # carry the last finite value through gaps, as the EMA does
            fin = np.isfinite(y)
            if not fin.all():
                idx = np.where(fin, np.arange(y.size), -1)
                np.maximum.accumulate(idx, out=idx)
                prev = self._acc / self._wacc if self._wacc > 0 else math.nan
                out[:] = np.where(idx >= 0, y[np.maximum(idx, 0)], prev)
            last = np.flatnonzero(fin)
            if last.size:
                self._acc, self._wacc = float(y[last[-1]]), 1.0
            self._s_valid = n
            return
        a = 1.0 - w
        ln_w = math.log(w)
        block = max(1, min(y.size, int(_EXP_SPAN / -ln_w)))
        # all-finite blocks (the usual case) share w^(i+1) and its inverse
        pw = np.exp(np.arange(1, block + 1, dtype=np.float64) * ln_w)
        ipw_a = a / pw
        acc, wacc = self._acc, self._wacc
        for b0 in range(0, y.size, block):
            yb = y[b0:b0 + block]
            nb = yb.size
            fin = np.isfinite(yb)
            o = out[b0:b0 + nb]
            if fin.all():
                p = pw[:nb]
                np.multiply(yb, ipw_a[:nb], out=o)   # in place: 4 passes over the block
                np.cumsum(o, out=o)
                o += acc
                o *= p
                acc = float(o[-1])
                if wacc < 1.0 - 1e-15:               # de-bias: w^i wacc + (1 - w^i)
                    den = p * (wacc - 1.0) + 1.0
                    o /= den
                    wacc = float(den[-1])
                continue
            else:
                # time-varying decay: 1 at non-finite points (they are skipped)
                steps = np.cumsum(fin, dtype=np.float64)
                decay = np.exp(steps * ln_w)
                inv = np.exp(-steps * ln_w) * a
                num = decay * (acc + np.cumsum(np.where(fin, yb, 0.0) * inv))
                den = decay * (wacc + np.cumsum(fin * inv))
            with np.errstate(invalid="ignore", divide="ignore"):
                np.divide(num, den, out=out[b0:b0 + nb])
                if not den.all():
                    out[b0:b0 + nb][den <= 0] = np.nan
            acc, wacc = float(num[-1]), float(den[-1])
        self._acc, self._wacc = acc, wacc
        self._s_valid = n

    # ---------------------------------------------------------------- queries
    def index_at(self, x: float) -> int | None:
        """Index of the point nearest to ``x`` (None when empty)."""
        n = self._n
        if not n:
            return None
        xs = self._x[:n]
        i = int(np.searchsorted(xs, x))
        if i <= 0:
            return 0
        if i >= n:
            return n - 1
        return i if xs[i] - x < x - xs[i - 1] else i - 1

    def value_at(self, x: float, max_dx: float | None = None) -> tuple[float, float, float] | None:
        """(x, y, smoothed) of the point nearest ``x`` (within ``max_dx`` if given)."""
        i = self.index_at(x)
        if i is None:
            return None
        px = float(self._x[i])
        if max_dx is not None and abs(px - x) > max_dx:
            return None
        self._smooth_upto(i + 1)
        assert self._s is not None  # allocated by _smooth_upto
        return px, float(self._y[i]), float(self._s[i])

    def range_slice(self, x0: float, x1: float, margin: int = 1) -> slice:
        xs = self._x[:self._n]
        i0 = max(0, int(np.searchsorted(xs, x0, "left")) - margin)
        i1 = min(self._n, int(np.searchsorted(xs, x1, "right")) + margin)
        return slice(i0, i1)

    def decimate(self, x0: float | None = None, x1: float | None = None, max_points: int = 4000,
                 smoothed: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Points to draw for ``[x0, x1]`` (all when None): the data themselves when
        there are at most ``max_points``, else per bucket its first step twice with
        the bucket's min and max (nan ignored; an all-nan bucket stays a gap).
        Returns views into the series when no decimation is needed (do not modify)."""
        ys = self.smoothed() if smoothed else self._y[:self._n]
        xs = self._x[:self._n]
        if x0 is not None and x1 is not None and self._n:
            sl = self.range_slice(x0, x1)
            xs, ys = xs[sl], ys[sl]
        n = xs.size
        half = max(1, max_points // 2)
        if n <= max_points:
            return xs, ys
        k = -(-n // half)               # bucket size
        nb = n // k
        m = nb * k
        body = ys[:m].reshape(nb, k)
        lo = np.fmin.reduce(body, axis=1)
        hi = np.fmax.reduce(body, axis=1)
        tail = ys[m:]
        bx = xs[:m:k]
        if tail.size:
            lo = np.append(lo, np.fmin.reduce(tail))
            hi = np.append(hi, np.fmax.reduce(tail))
            bx = np.append(bx, xs[m])
        ox = np.repeat(bx, 2)
        oy = np.empty(ox.size, np.float64)
        oy[0::2] = lo
        oy[1::2] = hi
        # keep the real last point so a followed curve ends where the data end
        return np.append(ox, xs[-1]), np.append(oy, ys[-1])


# ---------------------------------------------------------------------------
# axes: what range and what tick labels a plot should show for its data

#: a series whose spread is below this share of its magnitude is "constant": the
#: difference is float noise (4.00000000000005 vs 3.99999999999995), not information
CONSTANT_REL = 1e-6
#: half-height of the band a constant series is drawn in, as a share of its value
CONSTANT_MARGIN = 0.1


def value_range(values: np.ndarray, quantile: float | None = None, log: bool = False,
                pad: float = 0.06) -> tuple[float, float] | None:
    """The y range a plot of ``values`` should show, or None without finite values.

    * a constant (or float-noise constant) series sits in the middle of a band of
      +-10 % of its value -- never around 0 for a non-zero value, so a constant
      lr of 2e-4 reads 2e-4 and its ticks are in its own scale;
    * otherwise min..max (or the central ``quantile`` share of the values, so one
      minutes-long first step does not flatten a speed plot) padded by ``pad`` of
      the span on both sides;
    * ``log``: the range of log10 of the positive values (what pyqtgraph's log
      mode draws), with the same rules in decades.
    """
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if log:
        v = v[v > 0]
        if not v.size:
            return None
        v = np.log10(v)
    if not v.size:
        return None
    if quantile is not None and 0 < quantile < 1 and v.size > 20:
        q = (1 - quantile) / 2
        lo, hi = (float(t) for t in np.quantile(v, [q, 1 - q]))
    else:
        lo, hi = float(v.min()), float(v.max())
    mid = (lo + hi) / 2
    mag = max(abs(lo), abs(hi))
    if hi - lo <= CONSTANT_REL * mag or hi == lo:
        if log:
            half = 0.1                     # a fifth of a decade around the value
        elif mag > 0:
            half = CONSTANT_MARGIN * mag
        else:
            half = 1.0                     # a series of zeros: -1..1
        return mid - half, mid + half
    p = (hi - lo) * pad
    return lo - p, hi + p


def _sig_decimals(spacing: float) -> int:
    """Decimals needed to tell ticks ``spacing`` apart (0.25 -> 2, 0.2 -> 1, 5 -> 0)."""
    if not spacing > 0 or not math.isfinite(spacing):
        return 0
    d = max(0, -math.floor(math.log10(spacing) + 1e-9))
    # 0.25 needs one more decimal than its leading digit says
    for extra in range(0, 4):
        q = round(spacing, d + extra)
        if abs(q - spacing) <= 1e-9 * spacing:
            return d + extra
    return d + 3


def format_ticks(values: Sequence[float], spacing: float, scientific: bool = False) -> list[str]:
    """Tick labels rounded to the precision the ticks differ in.

    ``scientific`` (learning rates): ``2e-4``, ``1.5e-4``, ``0`` -- the mantissa has
    as many decimals as the spacing needs at the ticks' magnitude. Otherwise plain
    decimals (``3.8``, ``4``, ``4.2``), switching to the scientific form for very
    small or very large magnitudes."""
    vals = [float(v) for v in values]
    if not vals:
        return []
    mag = max((abs(v) for v in vals), default=0.0)
    if not scientific and mag and (mag < 1e-3 or mag >= 1e6):
        scientific = True
    if scientific:
        if not spacing > 0:
            spacing = mag or 1.0
        out = []
        for v in vals:
            if abs(v) < spacing * 1e-6:
                out.append("0")
                continue
            e = math.floor(math.log10(abs(v)) + 1e-12)
            m = v / 10.0 ** e
            dec = max(0, e - math.floor(math.log10(spacing) + 1e-9))
            dec = min(dec + (_sig_decimals(spacing / 10.0 ** math.floor(math.log10(spacing) + 1e-9)) > 0), 6)
            txt = f"{m:.{dec}f}"
            if "." in txt:
                txt = txt.rstrip("0").rstrip(".")
            if txt in ("10", "-10"):   # 9.99.. rounded up: next decade
                txt, e = txt[:-1], e + 1
            out.append(f"{txt}e{e}")
        return out
    dec = _sig_decimals(spacing)
    out = []
    for v in vals:
        if abs(v) < spacing * 1e-6:
            v = 0.0
        out.append(f"{v:.{dec}f}")
    return out


def nice_stride(need: float) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50 ... that is >= ``need``."""
    if need <= 1:
        return 1
    base = 1
    while True:
        for m in (1, 2, 5):
            if m * base >= need:
                return m * base
        base *= 10


# ---------------------------------------------------------------------------
@dataclass(slots=True)
class Marker:
    x: float
    kind: str     # "epoch" | "save" | "checkpoint" | "eval" | "resume" | "nonfinite"
    label: str


@dataclass(slots=True)
class Progress:
    step: int | None = None
    epoch: int | None = None
    epochs: int | None = None
    total_steps: int | None = None
    steps_per_epoch: float | None = None
    fraction: float | None = None
    sec_per_step: float | None = None
    elapsed_s: float | None = None
    eta_s: float | None = None
    finished: bool = False
    basis: str = ""           # how total_steps was found (for the tooltip)


class RunMetrics:
    """The series, markers and progress of one run (log events + TensorBoard scalars).

    ``feed(events)`` takes :mod:`~dpgui_qt.core.run.parse` events in log order;
    ``feed_scalars(rows)`` takes ``(tag, step, value, wall_time)`` rows from
    :class:`~dpgui_qt.core.monitor.tbevents.EventDirReader`. ``set_plan(epochs, max_steps)``
    gives the config's stopping rule for the ETA.
    """

    RATE_WINDOW = 50   # steps over which the s/step rate for the ETA is averaged

    def __init__(self, max_points: int = DEFAULT_MAX_POINTS, smoothing: float = 0.9):
        self.max_points = max_points
        # the loss keeps up to max_points at full resolution (its newest half always);
        # the learning rate, the speed and TensorBoard's per-step scalars keep 1/16 of
        # that (older points averaged pairwise; ~2 points per pixel are drawn anyway):
        # a run of 1,000,000 steps costs ~25 MB of loss and ~2 MB per other series
        aux = self.aux_points = max(16, max_points // 16)
        self.loss = Series("loss", max_points, smoothing)
        self.lr = Series("lr", aux)
        # throughput is drawn lightly smoothed (a fixed, short weight: the minutes-long
        # first step must not drag the curve for long; the loss slider does not move it)
        self.iter_time = Series("iter_time", aux, 0.6)
        self.samples_per_sec = Series("samples_per_sec", aux, 0.6)
        self.extra_losses: dict[str, Series] = {}
        self.tb: dict[str, Series] = {}          # TensorBoard tag -> series (x in steps)
        self.markers: list[Marker] = []
        self.epoch: int | None = None            # current epoch (1 until a new one starts)
        self.epoch_ends: dict[int, float] = {}   # epoch -> its last step
        self.global_batch: int | None = None
        self.resumed_at: tuple[int, int] | None = None
        self.completed = False
        self.epochs: int | None = None
        self.max_steps: int | None = None
        self.x_axis_examples = False
        self.started_at: float | None = None     # wall clock (UNIX time) of the start
        self.live = False                        # elapsed from the wall clock
        self.clock: float | None = None          # replay: virtual "now"
        self.train_seconds = 0.0                 # sum of iteration times
        self._recent: list[float] = []
        self.version = 0
        self.events_seen = 0
        self._pending_epoch_loss: dict[int, float] = {}   # epoch -> value, end step unknown yet

    # ----------------------------------------------------------------- plan
    def set_plan(self, epochs: int | None = None, max_steps: int | None = None,
                 x_axis_examples: bool | None = None) -> None:
        self.epochs = int(epochs) if isinstance(epochs, (int, float)) and epochs > 0 else None
        self.max_steps = (int(max_steps) if isinstance(max_steps, (int, float)) and max_steps > 0
                          else None)
        if x_axis_examples is not None:
            self.x_axis_examples = bool(x_axis_examples)
        self.version += 1

    def set_smoothing(self, weight: float) -> None:
        self.loss.set_smoothing(weight)
        for s in self.extra_losses.values():
            s.set_smoothing(weight)
        for tag, s in self.tb.items():
            if tag.endswith("loss") or tag.endswith("grad_norm"):
                s.set_smoothing(weight)
        self.version += 1

    # ----------------------------------------------------------------- feed
    @property
    def last_step(self) -> float | None:
        return self.loss.last_x

    def feed(self, events: Iterable[Any]) -> int:
        """Take parsed events; returns how many steps were added."""
        # local names for the hot loop (StepEvent dominates)
        from dpgui_qt.core.run import parse as P

        step_t, lr_t = P.StepEvent, P.LrEvent
        added = 0
        xs: list[float] = []
        ys: list[float] = []
        its: list[float] = []
        sps: list[float] = []
        lxs: list[float] = []   # learning rates: DeepSpeed reports one before every step,
        lys: list[float] = []   # so they are batched too (not one extend per step)
        recent = self._recent

        def flush() -> None:
            if xs:
                self.loss.extend(xs, ys)
                self.iter_time.extend(xs, its)
                self.samples_per_sec.extend(xs, sps)
                for buf in (xs, ys, its, sps):
                    buf.clear()
            if lxs:
                self.lr.extend(lxs, lys)
                lxs.clear()
                lys.clear()

        for ev in events:
            self.events_seen += 1
            t = type(ev)
            if t is step_t:
                st = ev.step
                last = xs[-1] if xs else self.loss.last_x
                if last is not None and st <= last:
                    flush()
                    self._restart_at(st)
                xs.append(st)
                ys.append(ev.loss)
                it = ev.iter_time if ev.iter_time is not None else math.nan
                its.append(it)
                sps.append(ev.samples_per_sec if ev.samples_per_sec is not None else math.nan)
                if it == it and it != math.inf:
                    self.train_seconds += it
                    recent.append(it)
                if ev.losses:
                    flush()
                    for k, v in ev.losses.items():
                        s = self.extra_losses.get(k)
                        if s is None:
                            s = self.extra_losses[k] = Series(k, self.max_points, self.loss.smoothing)
                        s.append(st, v)
                added += 1
                if self.epoch is None:
                    self.epoch = 1
                continue
            if t is lr_t:
                if ev.lrs:
                    last_lr = lxs[-1] if lxs else self.lr.last_x
                    if last_lr is not None and ev.step <= last_lr:   # resumed in the same log
                        flush()
                        self._trim(self.lr, ev.step)
                    lxs.append(ev.step)
                    lys.append(ev.lrs[0])
                continue
            flush()
            if t is P.EpochEvent:
                end = self.last_step
                if end is not None:
                    self.epoch_ends[ev.epoch - 1] = end
                    self.markers.append(Marker(end + 0.5, "epoch", f"epoch {ev.epoch}"))
                    v = self._pending_epoch_loss.pop(ev.epoch - 1, None)
                    if v is not None:
                        self._add_tb("train/epoch_loss", end, v)
                self.epoch = ev.epoch
            elif t is P.SaveEvent:
                self.markers.append(Marker(self._marker_x(), "save", ev.name))
            elif t is P.CheckpointEvent:
                self.markers.append(Marker(self._marker_x(), "checkpoint", ev.tag))
            elif t is P.EvalEvent:
                self.markers.append(Marker(self._marker_x(), "eval", "eval"))
            elif t is P.GlobalBatchEvent:
                self.global_batch = ev.n
            elif t is P.ResumeEvent:
                self.resumed_at = (ev.epoch, ev.step)
                self.epoch = ev.epoch
                self.markers.append(Marker(ev.step - 0.5, "resume", f"resumed (epoch {ev.epoch})"))
            elif t is P.CompleteEvent:
                self.completed = True
        flush()
        if len(recent) > 4 * self.RATE_WINDOW:
            del recent[:-self.RATE_WINDOW]
        self.version += 1
        return added

    def _marker_x(self) -> float:
        last = self.last_step
        return float(last) if last is not None else 0.0

    def _restart_at(self, step: float) -> None:
        """A step number that goes backwards: a resumed run appended to the same
        log. Keep the older data up to the resume point only."""
        for s in (self.loss, self.iter_time, self.samples_per_sec):
            self._trim(s, step)
        self.markers = [m for m in self.markers if m.x < step]

    @staticmethod
    def _trim(s: Series, step: float) -> None:
        """Drop the points at ``step`` and after."""
        last = s.last_x  # None when empty
        if last is not None and last >= step:
            keep = s.range_slice(-math.inf, step - 1, margin=0)
            xs, ys = s.x[keep].copy(), s.y[keep].copy()
            w = s.smoothing
            s.clear()
            s.set_smoothing(w)
            s.extend(xs, ys)

    def feed_scalars(self, rows: Iterable[Iterable[Any]]) -> int:
        """TensorBoard rows ``(tag, step, value, wall_time)``. ``train/epoch_loss``
        (x = epoch) is placed at the epoch's last step when that is known."""
        n = 0
        div = self.global_batch if (self.x_axis_examples and self.global_batch) else None
        for tag, step, value, _wall in rows:
            x = float(step)
            if tag == "train/epoch_loss":
                end = self.epoch_ends.get(int(step))
                if end is None:
                    self._pending_epoch_loss[int(step)] = value
                    continue
                x = end
            elif div:
                x = x / div
            n += self._add_tb(tag, x, value)
        if n:
            self.version += 1
        return n

    def _add_tb(self, tag: str, x: float, value: float) -> int:
        if tag == "train/loss" and len(self.loss):
            # the console log has the same loss: keep one copy (the log's)
            self.tb.pop(tag, None)
            return 0
        s = self.tb.get(tag)
        if s is None:
            smooth = self.loss.smoothing if tag.endswith(("/loss", "grad_norm")) else 0.0
            s = self.tb[tag] = Series(tag, self.max_points if tag == "train/loss" else
                                      self.aux_points, smooth)
        last = s.last_x  # None when empty
        if last is not None and x < last:
            return 0  # out of order (a restarted writer): keep the series monotonic
        s.append(x, value)
        return 1

    # ------------------------------------------------------------- derived
    def eval_tags(self) -> list[str]:
        """``<eval name>/loss`` tags (the mean eval loss per eval dataset)."""
        return sorted(t for t in self.tb if t.endswith("/loss") and not t.startswith("train/"))

    def main_loss(self) -> Series:
        """The log's loss, or TensorBoard's train/loss when there is no log."""
        if len(self.loss) or "train/loss" not in self.tb:
            return self.loss
        return self.tb["train/loss"]

    def sec_per_step(self) -> float | None:
        r = self._recent[-self.RATE_WINDOW:]
        return sum(r) / len(r) if r else None

    def steps_per_epoch(self) -> float | None:
        """From the last finished epoch: its last step / its number (valid for
        fresh and resumed runs alike, since every epoch has the same length)."""
        if not self.epoch_ends:
            return None
        e = max(self.epoch_ends)
        return self.epoch_ends[e] / e if e > 0 else None

    def progress(self, now: float | None = None) -> Progress:
        p = Progress()
        last = self.main_loss().last_x
        p.step = int(last) if last is not None else None
        p.epoch = self.epoch
        p.epochs = self.epochs
        spe = self.steps_per_epoch()
        p.steps_per_epoch = spe
        total = None
        if self.epochs and spe:
            total = int(round(self.epochs * spe))
            p.basis = f"{self.epochs} epochs × {spe:g} steps"
        if self.max_steps and (total is None or self.max_steps < total):
            total = self.max_steps
            p.basis = f"max_steps = {self.max_steps}"
        p.total_steps = total
        p.sec_per_step = self.sec_per_step()
        p.finished = self.completed
        if total and p.step is not None:
            p.fraction = 1.0 if self.completed else min(1.0, p.step / total)
            if p.sec_per_step is not None:
                p.eta_s = 0.0 if self.completed else max(0, total - p.step) * p.sec_per_step
        if self.clock is not None:
            p.elapsed_s = self.clock
        elif self.live and self.started_at is not None:
            p.elapsed_s = max(0.0, (now if now is not None else time.time()) - self.started_at)
        elif self.train_seconds:
            p.elapsed_s = self.train_seconds
        return p

    def summary(self) -> dict[str, Any]:
        s = self.main_loss()
        return {"last_step": s.last_x, "last_loss": s.last_y,
                "smoothed": float(s.smoothed()[-1]) if len(s) else None,
                "steps": len(s), "epoch": self.epoch, "completed": self.completed}
