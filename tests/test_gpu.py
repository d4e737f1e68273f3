"""GPU sampling: the fake sampler, history bounds, and the real NVML path on this machine."""
from __future__ import annotations

import math

import pytest

from dpgui_qt.core.monitor.gpu import (FakeSampler, GpuHistory, GpuSample, GpuUnavailable, NvmlSampler,
                               default_sampler)


def test_fake_sampler_values():
    s = FakeSampler(count=2, mem_total=1000)
    s.open()
    a = s.sample()
    assert [g.index for g in a] == [0, 1]
    assert all(0 <= g.util <= 100 and 0 < g.mem_fraction < 1 for g in a)
    s.close()
    assert s.closed
    with pytest.raises(GpuUnavailable, match="no GPU"):
        FakeSampler(fail="no GPU here").open()


def test_history_is_bounded_and_handles_missing_readings():
    h = GpuHistory(maxlen=5)
    for i in range(20):
        h.add([GpuSample(0, "x", util=float(i), mem_used=i, mem_total=100, temp=None)])
    assert h.series(0, "util") == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert h.series(0, "mem") == [15.0, 16.0, 17.0, 18.0, 19.0]
    assert all(math.isnan(v) for v in h.series(0, "temp"))
    assert h.peak(0, "util") == 19.0 and h.peak(0, "temp") is None
    assert h.series(3, "util") == []


def test_sample_mem_fraction_none_without_total():
    assert GpuSample(0, "x", mem_used=5).mem_fraction is None


def test_nvml_on_this_machine_reports_clearly():
    """Runs for real: on a machine without NVIDIA driver the sampler must raise
    GpuUnavailable with a readable reason; with GPUs it must return samples."""
    s = NvmlSampler()
    try:
        s.open()
    except GpuUnavailable as e:
        msg = str(e)
        assert msg and "Traceback" not in msg
        assert len(msg) < 300
        return
    try:
        samples = s.sample()
        assert samples and all(g.name for g in samples)
        assert all(g.mem_total and g.mem_total > 0 for g in samples)
    finally:
        s.close()


def test_nvml_not_opened_raises():
    with pytest.raises(GpuUnavailable):
        NvmlSampler().sample()


def test_default_sampler_env(monkeypatch):
    monkeypatch.setenv("DPGUI_FAKE_GPU", "3")
    s = default_sampler()
    assert isinstance(s, FakeSampler) and s.count == 3
    monkeypatch.delenv("DPGUI_FAKE_GPU")
    assert isinstance(default_sampler(), NvmlSampler)
