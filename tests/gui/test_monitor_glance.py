"""The monitor reads right at a glance (issue 19): offscreen renders of ordinary runs --
a constant learning rate, a cosine schedule, 50 epochs, an optimizer without grad norm --
asserting on what the user sees: axis ranges and tick labels, one x mapping for all
plots, marker labels that never overlap, no empty panel.

Each render is kept as a PNG in ``build/test-artifacts/monitor/`` (gitignored; or
``$DPGUI_TEST_ARTIFACTS``); the path is printed (``pytest -s``)."""
from __future__ import annotations

import itertools
import os
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from monitor_synth import make_run, write_log

from dpgui_qt.core.run.parse import StepEvent

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("DPGUI_TEST_ARTIFACTS") or ROOT / "build" / "test-artifacts"
                 / "monitor")


@pytest.fixture
def view(qtbot):
    from dpgui_qt.gui.monitor.view import MonitorView

    v = MonitorView()
    qtbot.addWidget(v)
    v.resize(1100, 800)
    v.show()
    yield v
    v.model.stop()


def load(view, qtbot, log: Path) -> None:
    view.model.replay(log, speed=1e6, instant=True)
    qtbot.waitUntil(lambda: not view.model.replaying, timeout=60000)
    settle(view, qtbot)


def settle(view, qtbot) -> None:
    view.refresh()
    qtbot.wait(50)            # layout, then one more fit at the final plot sizes
    view.refresh()
    view.grab()               # paint: the labels' transforms are current


def keep_png(view, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"{name}.png"
    assert view.grab().save(str(out))
    print(f"\nmonitor render: {out}")
    return out


def shown_plots(view):
    return [p for p in view.plots if p.isVisible()]


def axis_labels(axis) -> list[str]:
    """The tick labels the axis draws now (all levels)."""
    lo, hi = axis.range
    size = axis.geometry().height() if axis.orientation in ("left", "right") else \
        axis.geometry().width()
    out = []
    for spacing, values in axis.tickValues(lo, hi, size):
        out += axis.tickStrings(values, 1.0, spacing)
    return out


def assert_one_x_axis(view, steps) -> None:
    """Step N is at the same pixel in every plot shown (and in the samples/s box)."""
    from PySide6.QtCore import QPointF

    boxes = [p.vb for p in shown_plots(view)]
    if view.speed_plot.isVisible():
        boxes.append(view.sps_vb)
    assert len(boxes) >= 2
    for n in steps:
        xs = [vb.mapViewToScene(QPointF(n, 0.0)).x() for vb in boxes]   # scene = widget px
        assert max(xs) - min(xs) <= 0.5, (n, xs)
    # and the crosshair lines land on that pixel in every plot
    view.show_crosshair(float(steps[len(steps) // 2]))
    px = [line.mapToScene(QPointF(0, 0)).x()
          for line, p in zip(view.cross, view.plots) if p.isVisible()]
    assert max(px) - min(px) <= 0.5, px


def assert_labels_do_not_overlap(view) -> list:
    labels = view.visible_marker_labels()
    rects = [lab.sceneBoundingRect() for lab in labels]
    for (a, ra), (b, rb) in itertools.combinations(zip(labels, rects), 2):
        assert not ra.intersects(rb), (a.toPlainText(), ra, b.toPlainText(), rb)
    box = view.loss_plot.vb.sceneBoundingRect().adjusted(-1, -1, 1, 1)
    for lab, r in zip(labels, rects):
        assert box.contains(r), (lab.toPlainText(), r, box)   # not cut off at the edge
    return labels


def assert_no_empty_panel(view) -> None:
    shown = shown_plots(view)
    for p in view.plots:
        if p not in shown:
            assert p.geometry().height() <= 1, (p.key, p.geometry())
    for p in shown:
        drawn = [it for it in p.listDataItems() if it.getData()[0] is not None
                 and len(it.getData()[0])]
        assert drawn, f"{p.key} is shown without data"
    # no band between the plots: each starts where the one above ends
    geo = [p.geometry() for p in shown]
    for a, b in zip(geo, geo[1:]):
        assert 0 <= b.top() - a.bottom() <= 6, (a, b)


def test_constant_lr_run_reads_its_value(view, qtbot, tmp_path):
    log = tmp_path / "constant.log"
    write_log(log, steps=3000, steps_per_epoch=100, epochs=30, save_every=5, eval_every=0,
              warmup=0, lr=2e-4, lr_schedule="constant", complete=True)
    load(view, qtbot, log)
    keep_png(view, "constant-lr")
    lo, hi = view.lr_plot.vb.viewRange()[1]
    assert lo < 2e-4 < hi
    assert lo > 0                                   # 0 is not on the axis: nobody reads "lr = 0"
    assert hi - lo < 1e-4                           # ticks in the lr's own scale
    labels = axis_labels(view.lr_plot.getAxis("left"))
    assert "2e-4" in labels, labels
    assert all("e-" in t for t in labels), labels   # scientific, like the config writes it
    assert_one_x_axis(view, [1, 500, 1500, 2999])
    labels = assert_labels_do_not_overlap(view)
    texts = [lab.toPlainText() for lab in labels]
    assert any(t.startswith("E") for t in texts) and any(t.startswith("epoch") for t in texts)
    # no grad norm in a bare log: that panel is collapsed and the reason is given
    assert not view.grad_plot.isVisible()
    assert view.absent.isVisible() and "no grad norm" in view.absent.text()
    assert_no_empty_panel(view)
    # log toggle for the lr: still at its value
    view.lr_log_check.setChecked(True)
    settle(view, qtbot)
    lo, hi = view.lr_plot.vb.viewRange()[1]
    assert lo < np.log10(2e-4) < hi
    labels = [t for t in axis_labels(view.lr_plot.getAxis("left")) if t]
    assert labels and all("e-" in t for t in labels), labels


def test_nearly_constant_speed_has_short_tick_labels(view, qtbot):
    rng = np.random.default_rng(3)
    evs = [StepEvent(i, 0.1, {}, 1.0 + float(rng.normal(0, 1e-15)),
                     4.0 + float(rng.choice([-5e-14, 0.0, 5e-14]))) for i in range(1, 400)]
    view.feed_events(evs)
    settle(view, qtbot)
    lo, hi = view.sps_vb.viewRange()[1]
    assert lo < 4.0 < hi and hi - lo > 0.1          # a band around 4, not 1e-13 wide
    labels = axis_labels(view.speed_plot.getAxis("right"))
    assert labels and all(len(t) <= 5 for t in labels), labels   # 3.8, 4.0, 4.2, 4.25 ...
    left = axis_labels(view.speed_plot.getAxis("left"))
    assert left and all(len(t) <= 5 for t in left), left


def test_cosine_run_with_tensorboard(view, qtbot, tmp_path):
    run = make_run(tmp_path / "out", steps=3000, steps_per_epoch=250, epochs=12,
                   eval_every=250, lr=2e-5)
    load(view, qtbot, next(run.glob("dpgui-*.log")))
    keep_png(view, "cosine")
    assert [p.key for p in shown_plots(view)] == ["loss", "lr", "grad", "speed"]
    assert not view.absent.isVisible()
    lo, hi = view.lr_plot.vb.viewRange()[1]
    lr = view.model.metrics.lr.y
    assert lo <= lr.min() and hi >= lr.max() and hi < 2 * lr.max()
    assert_one_x_axis(view, [1, 250, 1750, 3000])
    assert_labels_do_not_overlap(view)
    assert_no_empty_panel(view)


def test_fifty_epochs_thin_labels_and_hover_shows_them(view, qtbot, tmp_path):
    log = tmp_path / "fifty.log"
    write_log(log, steps=5000, steps_per_epoch=100, epochs=50, save_every=1, eval_every=0,
              warmup=100, lr=1e-4, lr_schedule="constant", complete=True)
    load(view, qtbot, log)
    keep_png(view, "fifty-epochs")
    labels = assert_labels_do_not_overlap(view)
    texts = [lab.toPlainText() for lab in labels]
    epochs = [t for t in texts if t.startswith("E")]
    saves = [t for t in texts if t.startswith("epoch")]
    assert 4 <= len(epochs) < 49 and 4 <= len(saves) < 50    # thinned, not gone
    assert view.label_strides["epoch"] > 1 and view.label_strides["save"] > 1
    # every Nth: the epoch labels shown are multiples of the stride
    n = view.label_strides["epoch"]
    assert all(int(t[1:]) % n == 0 for t in epochs), epochs
    # hovering a marker whose label is hidden shows it
    hidden = next(mk for mk in view._marks if mk.kind == "epoch" and not mk.label.isVisible())
    text = view.show_crosshair(hidden.x - 0.5)
    assert hidden.mk.label in text
    assert view.hover_label.isVisible() and hidden.mk.label in view.hover_label.toPlainText()
    # a narrower window shows fewer labels, still without overlap
    view.resize(700, 600)
    settle(view, qtbot)
    assert len(assert_labels_do_not_overlap(view)) < len(labels)
    assert_one_x_axis(view, [1, 2500, 5000])


def test_run_without_grad_norm_collapses_its_panel(view, qtbot, tmp_path):
    # TensorBoard files (eval loss) but no train/grad_norm: an optimizer other than
    # genericoptim
    from dpgui_qt.core.monitor.tbevents import encode_file_version, encode_scalar_event

    run = make_run(tmp_path / "out", steps=1000, steps_per_epoch=100, epochs=10,
                   eval_every=250, with_events=False)
    chunks = [encode_file_version(0.0)]
    for s in range(1, 1001):
        chunks.append(encode_scalar_event("train/loss", 0.1, s))
        if s % 250 == 0:
            chunks.append(encode_scalar_event("eval/loss", 0.09, s))
    (run / "events.out.tfevents.1.host.1.0").write_bytes(b"".join(chunks))
    load(view, qtbot, next(run.glob("dpgui-*.log")))
    keep_png(view, "no-grad-norm")
    assert "eval/loss" in view.model.metrics.tb
    assert [p.key for p in shown_plots(view)] == ["loss", "lr", "speed"]
    assert "no grad norm: this optimizer does not report it" in view.absent.text()
    assert_no_empty_panel(view)
    assert_one_x_axis(view, [1, 500, 1000])
    # the step axis is on the lowest plot shown
    assert view.speed_plot.getAxis("bottom").style["showValues"]
    assert not view.lr_plot.getAxis("bottom").style["showValues"]


def test_long_log_loads_with_progress_and_back_pressure(qtbot, tmp_path):
    """A log longer than one slice: the follower reports progress while it catches up,
    never gets more than MAX_UNACKED event lists ahead of the GUI thread, and the
    loading state ends with every step in."""
    from dpgui_qt.gui.monitor.model import FollowWorker, MonitorModel

    log = tmp_path / "long.log"
    write_log(log, steps=12000, steps_per_epoch=1000, epochs=12, save_every=1, eval_every=0,
              lr=2e-4, lr_schedule="constant")
    size = log.stat().st_size
    assert size > 2 * FollowWorker.SLICE
    # the worker on its own (no thread): it stops reading while its lists are not taken
    w = FollowWorker(log, None)
    got = []
    w.events.connect(got.append)
    for _ in range(6):
        w.poll()
    assert len(got) == FollowWorker.MAX_UNACKED
    offset = w._follower.offset
    w.poll()
    assert w._follower.offset == offset             # waiting, not reading
    w.ack()
    w.poll()
    assert w._follower.offset > offset
    # the model following it in its thread: progress, then all steps and loading over
    m = MonitorModel()
    reports = []
    m.loadProgress.connect(lambda d, t: reports.append((d, t)))
    try:
        assert m.follow(log)
        assert m.loading                              # known at once: the bar shows
        qtbot.waitUntil(lambda: len(m.metrics.loss) == 12000 and not m.loading, timeout=60000)
    finally:
        m.stop()
    assert len(reports) >= 3
    assert reports[-1][0] == reports[-1][1] == size
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)
    # instant replay: slices on the event loop, progress to the end
    m2 = MonitorModel()
    reports.clear()
    m2.loadProgress.connect(lambda d, t: reports.append((d, t)))
    m2.SLICE_S = 0.005
    m2.replay(log, 1000, instant=True)
    qtbot.waitUntil(lambda: not m2.replaying, timeout=60000)
    assert len(m2.metrics.loss) == 12000 and len(m2.metrics.lr) == 12000
    assert len(reports) >= 3 and reports[-1][0] == reports[-1][1] == size
    assert not m2.loading


def test_load_bar_shows_while_loading(view, qtbot):
    view.model._progress(3_000_000, 10_000_000)
    assert view.load_bar.isVisible() and "3 / 10 MB" in view.load_bar.format()
    view.model._progress(10_000_000, 10_000_000)
    assert not view.load_bar.isVisible()


def test_timed_replay_reads_the_log_lazily(qtbot, tmp_path):
    """A timed replay takes events from the log only as it reaches them."""
    from dpgui_qt.gui.monitor.model import MonitorModel, ReplaySchedule, iter_log_events

    log = tmp_path / "run.log"
    write_log(log, steps=3000, steps_per_epoch=100, epochs=30, eval_every=0)
    taken = []

    def counting():
        for ev in iter_log_events(log, slice_bytes=4096):
            taken.append(ev)
            yield ev

    r = ReplaySchedule(counting(), max_gap=30.0)
    first = r.until(10.0)                       # 531 s first step: capped at 30 s
    assert not first or all(type(e) is not StepEvent for e in first)
    part = r.until(40.0)
    assert any(type(e) is StepEvent for e in part)
    assert len(taken) < 100                     # the rest of the log is not parsed yet
    rest = r.until(float("inf"))
    assert r.done and sum(type(e) is StepEvent for e in first + part + rest) == 3000
    m = MonitorModel()
    try:
        assert m.replay(log, speed=1e6, max_gap_s=0.001) == log.stat().st_size
        qtbot.waitUntil(lambda: not m.replaying, timeout=30000)
        assert len(m.metrics.loss) == 3000 and m.metrics.clock > 0
    finally:
        m.stop()


def test_before_the_first_step_only_the_loss_plot_waits(view, qtbot):
    settle(view, qtbot)
    assert [p.key for p in shown_plots(view)] == ["loss"]
    assert view.empty_text.isVisible() and not view.absent.isVisible()
    hidden = [p for p in view.plots if not p.isVisible()]
    assert len(hidden) == 3 and all(p.geometry().height() <= 1 for p in hidden)


def test_events_only_run_says_what_is_missing(qtbot, tmp_path):
    """A run folder with TensorBoard files but no console log: loss and grad norm are
    shown; the lr and speed panels collapse with their reasons."""
    from dpgui_qt.core.monitor.gpu import FakeSampler
    from dpgui_qt.gui.monitor.page import MonitorPage

    run = make_run(tmp_path / "out", steps=600, with_log=False, eval_every=100)
    page = MonitorPage(sampler=FakeSampler(count=1), gpu_interval_ms=50)
    qtbot.addWidget(page)
    page.resize(1300, 800)
    page.show()
    try:
        assert page.show_run(str(run))
        qtbot.waitUntil(lambda: len(page.model.metrics.main_loss()) == 600
                        and "train/grad_norm" in page.model.metrics.tb, timeout=20000)
        view = page.view
        settle(view, qtbot)
        keep_png(view, "events-only")
        assert [p.key for p in shown_plots(view)] == ["loss", "grad"]
        text = view.absent.text()
        assert "no learning rate" in text and "no speed" in text and "grad" not in text
        assert_no_empty_panel(view)
        assert_one_x_axis(view, [1, 300, 600])
        assert view.grad_plot.getAxis("bottom").style["showValues"]
    finally:
        page.shutdown()
