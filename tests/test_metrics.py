"""Bounded series (EMA, compaction, decimation, nan/inf) and RunMetrics (events -> series, ETA)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from dpgui_qt.core.monitor.metrics import RunMetrics, Series, ema_reference
from dpgui_qt.core.run.parse import (CompleteEvent, EpochEvent, EvalEvent, GlobalBatchEvent,
                                     LrEvent, ResumeEvent, SaveEvent, StepEvent, parse_text)


def _noisy(n, seed=0):
    rng = np.random.default_rng(seed)
    return np.exp(-np.arange(n) / 500) + rng.normal(0, 0.05, n) + 0.1


@pytest.mark.parametrize("weight", [0.0, 0.3, 0.9, 0.99, 0.999])
def test_ema_bulk_and_incremental_match_reference(weight):
    y = _noisy(5000)
    y[[0, 17, 18]] = np.nan
    y[1000:1010] = np.inf
    ref = np.array(ema_reference(y.tolist(), weight))
    bulk = Series(smoothing=weight)
    bulk.extend(np.arange(y.size), y)
    np.testing.assert_allclose(bulk.smoothed(), ref, rtol=1e-10, atol=1e-12, equal_nan=True)
    inc = Series(smoothing=weight)
    inc.smoothed()  # allocate: appends then update the EMA in O(1)
    for i, v in enumerate(y):
        inc.append(i, v)
    np.testing.assert_allclose(inc.smoothed(), ref, rtol=1e-10, atol=1e-12, equal_nan=True)


def test_smoothing_change_recomputes_lazily():
    y = _noisy(2000)
    s = Series(smoothing=0.5)
    s.extend(np.arange(y.size), y)
    a = s.smoothed().copy()
    s.set_smoothing(0.95)
    np.testing.assert_allclose(s.smoothed(), ema_reference(y.tolist(), 0.95), rtol=1e-10)
    s.set_smoothing(0.5)
    np.testing.assert_allclose(s.smoothed(), a)


def test_nonfinite_become_gaps_and_runs():
    s = Series()
    for i, v in enumerate([1.0, math.nan, math.nan, 2.0, math.inf, -math.inf, 3.0]):
        s.append(i, v)
    assert np.isnan(s.y[[1, 2, 4, 5]]).all()
    assert s.y[[0, 3, 6]].tolist() == [1.0, 2.0, 3.0]
    assert s.nonfinite == [[1.0, 2.0, "nan", 2], [4.0, 4.0, "inf", 1], [5.0, 5.0, "-inf", 1]]
    b = Series()
    b.extend(range(7), [1.0, math.nan, math.nan, 2.0, math.inf, -math.inf, 3.0])
    assert b.nonfinite == s.nonfinite
    # a diverged run costs one entry
    d = Series()
    d.extend(range(5), [1.0] * 5)
    for i in range(5, 10_000):
        d.append(i, math.nan)
    assert d.nonfinite == [[5.0, 9999.0, "nan", 9995]]
    assert d.smoothed()[-1] == pytest.approx(1.0)  # the EMA carries on through the gap


def test_memory_bound_compacts_older_half_with_weighted_means():
    s = Series(max_points=64)
    n = 10_000
    for i in range(n):
        s.append(i, float(i))
    assert len(s) <= 64
    assert s.compactions > 0
    assert s.nbytes < 64 * 8 * 4 * 2
    xs, ys = s.x, s.y
    assert np.all(np.diff(xs) > 0)
    assert xs[0] == 0 and xs[-1] == n - 1
    # the newest points stay at full resolution
    assert xs[-16:].tolist() == list(range(n - 16, n))
    # each compacted point is the mean of the raw values it stands for (y = x here)
    bounds = np.append(xs, n)
    for i in range(len(xs)):
        lo, hi = bounds[i], bounds[i + 1]
        assert ys[i] == pytest.approx((lo + hi - 1) / 2)


def test_extend_beyond_bound_and_nan_pairs():
    s = Series(max_points=32)
    y = np.arange(100, dtype=float)
    s.extend(np.arange(100), y)
    assert len(s) <= 32 and s.x[-1] == 99 and np.all(np.diff(s.x) > 0)
    t = Series(max_points=16)
    y = np.arange(17, dtype=float)
    y[0:2] = np.nan
    y[2] = np.nan
    t.extend(np.arange(17), y)
    assert t.compactions == 1
    assert np.isnan(t.y[0])            # a pair of nans stays nan
    assert t.y[1] == 3.0               # (nan, 3) -> 3: nan carries no weight


def test_decimate_keeps_envelope():
    n = 1_000_000
    y = np.zeros(n)
    y[123_457] = 5.0   # a spike
    y[654_321] = -3.0
    y[400_000:400_010] = np.nan
    s = Series()
    s.extend(np.arange(n), y)
    xs, ys = s.decimate(max_points=2000)
    assert len(xs) <= 2002
    assert np.nanmax(ys) == 5.0 and np.nanmin(ys) == -3.0
    assert xs[-1] == n - 1
    # a range query: full resolution when few points are in it
    xs2, ys2 = s.decimate(1000, 1100, max_points=2000)
    assert xs2[0] == 999 and xs2[-1] == 1101
    assert len(xs2) == 103


def test_value_at_nearest():
    s = Series(smoothing=0.0)
    s.extend([10, 20, 30], [1.0, 2.0, 3.0])
    assert s.value_at(24) == (20.0, 2.0, 2.0)
    assert s.value_at(26)[0] == 30.0
    assert s.value_at(100, max_dx=5) is None


def _steps(a, b, it=2.0, loss=0.1):
    return [StepEvent(i, loss, {}, it, 1 / it) for i in range(a, b + 1)]


def test_run_metrics_series_and_markers():
    m = RunMetrics(smoothing=0.0)
    evs = [GlobalBatchEvent(4)]
    for i in range(1, 11):
        evs.append(LrEvent(i, 0, [1e-5 * i], 0))
        evs.append(StepEvent(i, 1.0 / i, {}, 2.0, 0.5))
    evs += [SaveEvent("epoch1"), EpochEvent(2), EvalEvent()]
    evs += [StepEvent(11, math.nan, {}, 2.0, 0.5), StepEvent(12, 0.05, {"mse": 0.01}, 2.0, 0.5)]
    m.feed(evs)
    assert m.loss.x.tolist() == list(range(1, 13))
    assert m.loss.y[9] == pytest.approx(0.1)
    assert np.isnan(m.loss.y[10])
    assert m.lr.y[-1] == pytest.approx(1e-4)
    assert m.iter_time.y.tolist() == [2.0] * 12
    assert m.extra_losses["mse"].y.tolist() == [0.01]
    kinds = [(mk.kind, mk.x) for mk in m.markers]
    assert ("save", 10.0) in kinds and ("epoch", 10.5) in kinds and ("eval", 10.0) in kinds
    assert m.epoch == 2 and m.epoch_ends == {1: 10}
    assert m.global_batch == 4


def test_eta_known_case():
    m = RunMetrics()
    m.set_plan(epochs=10)
    m.feed(_steps(1, 100) + [EpochEvent(2)] + _steps(101, 150))
    p = m.progress()
    assert p.steps_per_epoch == 100
    assert p.total_steps == 1000
    assert p.step == 150 and p.epoch == 2
    assert p.fraction == pytest.approx(0.15)
    assert p.sec_per_step == pytest.approx(2.0)
    assert p.eta_s == pytest.approx(850 * 2.0)
    assert p.elapsed_s == pytest.approx(300.0)   # sum of iteration times (no wall clock)
    # max_steps smaller than epochs x steps wins
    m.set_plan(epochs=10, max_steps=400)
    assert m.progress().total_steps == 400
    assert m.progress().eta_s == pytest.approx(250 * 2.0)


def test_eta_unknown_until_first_epoch_then_resume():
    m = RunMetrics()
    m.set_plan(epochs=4)
    m.feed(_steps(1, 30))
    assert m.progress().total_steps is None and m.progress().eta_s is None
    r = RunMetrics()
    r.set_plan(epochs=4)
    r.feed([ResumeEvent(2, 61)] + _steps(61, 80, it=1.0) + [EpochEvent(3)] + _steps(81, 90, it=1.0))
    p = r.progress()
    assert p.steps_per_epoch == 40 and p.total_steps == 160
    assert p.eta_s == pytest.approx(70.0)
    r.feed([CompleteEvent()])
    assert r.progress().eta_s == 0 and r.progress().fraction == 1.0


def test_rate_uses_recent_window():
    m = RunMetrics()
    m.set_plan(max_steps=1000)
    m.feed(_steps(1, 100, it=10.0) + _steps(101, 200, it=1.0))
    assert m.progress().sec_per_step == pytest.approx(1.0)


def test_steps_going_backwards_restart_series():
    m = RunMetrics()
    m.feed(_steps(1, 20) + [SaveEvent("step20")])
    m.feed(_steps(11, 15))
    assert m.loss.x.tolist() == list(range(1, 16))
    assert all(mk.x < 11 for mk in m.markers)


def test_tensorboard_scalars_placement():
    m = RunMetrics()
    m.feed(_steps(1, 10) + [EpochEvent(2)])
    m.feed_scalars([("train/loss", 5, 0.3, 0.0), ("eval/loss", 10, 0.2, 0.0),
                    ("train/epoch_loss", 1, 0.25, 0.0), ("train/epoch_loss", 2, 0.2, 0.0)])
    assert m.tb["train/epoch_loss"].x.tolist() == [10.0]   # epoch 2 has not ended
    assert m.eval_tags() == ["eval/loss"]
    ex = RunMetrics()
    ex.set_plan(x_axis_examples=True)
    ex.feed([GlobalBatchEvent(8)])
    ex.feed_scalars([("train/loss", 80, 0.3, 0.0)])
    assert ex.tb["train/loss"].x.tolist() == [10.0]
    # no log: the loss comes from TensorBoard
    tbo = RunMetrics()
    tbo.feed_scalars([("train/loss", 1, 0.5, 0.0), ("train/loss", 2, 0.4, 0.0)])
    assert tbo.main_loss() is tbo.tb["train/loss"]
    assert tbo.progress().step == 2


def test_parsed_corpus_log_feeds(tmp_path):
    text = "\n".join([
        "[2025-09-04 15:18:01,200] [INFO] [logging.py:107:log_dist] [Rank 0] step=1, skipped=0, "
        "lr=[1.5968e-07], mom=[0.0]",
        "steps: 1 loss: 0.0614 iter time (s): 531.283 samples/sec: 0.008",
        "steps: 2 loss: nan iter time (s): 3.1 samples/sec: 0.3",
        "Saving model to directory step2",
    ]) + "\n"
    m = RunMetrics()
    m.feed(parse_text(text))
    assert m.loss.x.tolist() == [1.0, 2.0]
    assert m.loss.nonfinite == [[2.0, 2.0, "nan", 1]]
    assert m.lr.y.tolist() == [1.5968e-07]
    assert [mk.label for mk in m.markers] == ["step2"]


def test_epoch_loss_waits_for_its_epoch_end():
    m = RunMetrics()
    m.feed(_steps(1, 10))
    m.feed_scalars([("train/epoch_loss", 1, 0.25, 0.0)])
    assert "train/epoch_loss" not in m.tb
    m.feed([EpochEvent(2)])
    assert m.tb["train/epoch_loss"].x.tolist() == [10.0]


# ---------------------------------------------------------------- axes (issue 19)
def test_value_range_constant_series_sits_at_its_value():
    from dpgui_qt.core.monitor.metrics import value_range

    lo, hi = value_range(np.full(3000, 2e-4))
    assert lo < 2e-4 < hi and lo > 0 and (hi - lo) == pytest.approx(4e-5)
    assert (2e-4 - lo) == pytest.approx(hi - 2e-4)            # symmetric
    lo, hi = value_range(np.array([4.00000000000005, 4.0, 3.99999999999995]))
    assert lo == pytest.approx(3.6) and hi == pytest.approx(4.4)  # float noise is constant
    assert value_range(np.zeros(5)) == (-1.0, 1.0)
    assert value_range(np.array([np.nan, np.inf])) is None
    # a series that varies is fitted to its spread (padded), 0 only if it is in the data
    lo, hi = value_range(np.linspace(0, 2e-4, 100))
    assert lo < 0 < 1e-5 and 2e-4 < hi < 2.2e-4
    # quantile: one minutes-long first step does not flatten the rest
    y = np.full(1000, 2.0) + np.linspace(0, 0.1, 1000)
    y[0] = 531.0
    assert value_range(y, quantile=0.99)[1] < 3
    # log: decades around the value
    lo, hi = value_range(np.full(10, 2e-4), log=True)
    assert lo < np.log10(2e-4) < hi and hi - lo == pytest.approx(0.2)


def test_tick_labels_have_the_precision_the_ticks_differ_in():
    from dpgui_qt.core.monitor.metrics import format_ticks, nice_stride

    assert format_ticks([1.8e-4, 1.9e-4, 2e-4, 2.1e-4], 1e-5, True) == \
        ["1.8e-4", "1.9e-4", "2e-4", "2.1e-4"]
    assert format_ticks([0, 5e-5, 1e-4, 1.5e-4], 5e-5, True) == ["0", "5e-5", "1e-4", "1.5e-4"]
    assert format_ticks([1.95e-4, 2e-4, 2.05e-4], 5e-6, True) == ["1.95e-4", "2e-4", "2.05e-4"]
    assert format_ticks([3.6, 3.8, 4.0000000000000004, 4.2], 0.2) == ["3.6", "3.8", "4.0", "4.2"]
    assert format_ticks([0.1, 0.125, 0.15], 0.025) == ["0.100", "0.125", "0.150"]
    assert format_ticks([1e-14, 2], 1) == ["0", "2"]
    assert format_ticks([2e-7, 4e-7], 2e-7) == ["2e-7", "4e-7"]      # tiny: scientific
    assert [nice_stride(x) for x in (0.3, 1, 1.2, 3, 7, 12, 60)] == [1, 1, 2, 5, 10, 20, 100]


def test_lr_reports_are_batched_and_trimmed_on_resume():
    m = RunMetrics()
    evs = []
    for s in range(1, 101):
        evs += [LrEvent(s, 0, [1e-4], 0), StepEvent(s, 0.1, {}, 1.0, 1.0)]
    m.feed(evs)
    assert m.lr.x.tolist() == list(range(1, 101)) and m.lr.version <= 3   # one extend
    # resumed from step 51 in the same log: the lr goes back too, and stays monotonic
    m.feed([LrEvent(51, 0, [5e-5], 0), StepEvent(51, 0.1, {}, 1.0, 1.0),
            LrEvent(52, 0, [5e-5], 0), StepEvent(52, 0.1, {}, 1.0, 1.0)])
    assert m.lr.x.tolist() == list(range(1, 53))
    assert m.lr.y[-2:].tolist() == [5e-5, 5e-5] and m.loss.x.tolist() == list(range(1, 53))


def test_secondary_series_are_bounded_and_log_loss_is_not_duplicated():
    m = RunMetrics(max_points=1024)
    n = 5000
    xs = np.arange(1, n + 1, dtype=float)
    m.loss.extend(xs, np.full(n, 0.1))
    m.lr.extend(xs, np.full(n, 2e-4))
    assert len(m.loss) <= 1024 and len(m.lr) <= 1024 // 16
    assert m.lr.x[-1] == n                                         # the newest point is kept
    m.feed_scalars([("train/loss", 1, 0.1, 0.0), ("train/grad_norm", 1, 0.5, 0.0)])
    assert "train/loss" not in m.tb                                 # the log's loss is the one
    assert m.tb["train/grad_norm"].max_points == 1024 // 16
    events_only = RunMetrics(max_points=1024)
    events_only.feed_scalars([("train/loss", 1, 0.1, 0.0)])
    assert events_only.main_loss() is events_only.tb["train/loss"]
