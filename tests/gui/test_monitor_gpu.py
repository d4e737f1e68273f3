"""GPU panel offscreen: fake sampler cards and sparklines, memory warning, the no-GPU message
(with the real NVML sampler on this machine when it has no NVIDIA driver)."""
from __future__ import annotations

import pytest

from dpgui_qt.core.monitor.gpu import FakeSampler, GpuSample, GpuUnavailable, NvmlSampler


@pytest.fixture
def make_panel(qtbot):
    made = []

    def make(sampler, **kw):
        from dpgui_qt.gui.monitor.gpu_panel import GpuPanel

        p = GpuPanel(sampler, interval_ms=kw.pop("interval_ms", 30), **kw)
        qtbot.addWidget(p)
        p.resize(320, 600)
        p.show()
        made.append(p)
        return p

    yield make
    for p in made:
        p.stop()


def test_fake_sampler_cards_and_sparklines(make_panel, qtbot):
    s = FakeSampler(count=2)
    p = make_panel(s)
    qtbot.waitUntil(lambda: s.samples_taken >= 5 and len(p.cards) == 2, timeout=30_000)
    card = p.cards[1]
    assert "GPU 1 · NVIDIA GeForce RTX 4090" == card.title.text()
    assert card.labels["util"].text().endswith("%")
    assert "GiB" in card.labels["mem"].text() and "W" in card.labels["power"].text()
    assert len(card.sparks["util"].values) >= 4
    assert not p.message.isVisible()
    assert card.grab().width() > 0                 # sparklines paint
    p.stop()
    assert s.closed


def test_sampling_happens_off_the_ui_thread(make_panel, qtbot):
    import threading

    threads = []

    class Spy(FakeSampler):
        def sample(self):
            threads.append(threading.current_thread() is threading.main_thread())
            return super().sample()

    s = Spy(count=1)
    make_panel(s)
    qtbot.waitUntil(lambda: len(threads) >= 2, timeout=30_000)
    assert not any(threads)


def test_memory_warning(make_panel, qtbot):
    p = make_panel(FakeSampler(count=1), autostart=False)
    p.add_samples([GpuSample(0, "GPU", 99.0, 23 << 30, 24 << 30, 80.0, 440.0, 450.0)])
    assert not p.cards[0].warning.isHidden()
    p.add_samples([GpuSample(0, "GPU", 99.0, 12 << 30, 24 << 30, 80.0, None, None)])
    assert p.cards[0].warning.isHidden()
    assert p.cards[0].labels["power"].text() == "—"


def test_no_gpu_message_with_fake_failure(make_panel, qtbot):
    p = make_panel(FakeSampler(fail="No NVIDIA driver found on this machine."))
    qtbot.waitUntil(lambda: p.unavailable_reason is not None, timeout=30_000)
    assert p.message.isVisible()
    assert "No NVIDIA driver found" in p.message.text()
    assert not p.cards


def test_real_nvml_path_on_this_machine(make_panel, qtbot):
    """The real sampler: no driver/GPU here -> a clear message; with GPUs -> cards."""
    probe = NvmlSampler()
    try:
        probe.open()
        has_gpu = True
        probe.close()
    except GpuUnavailable:
        has_gpu = False
    p = make_panel(NvmlSampler(), interval_ms=200)
    if has_gpu:
        qtbot.waitUntil(lambda: bool(p.cards), timeout=30_000)
    else:
        qtbot.waitUntil(lambda: p.unavailable_reason is not None, timeout=30_000)
        assert p.message.isVisible() and "No GPU readings" in p.message.text()


def test_sampler_error_during_sampling_is_shown(make_panel, qtbot):
    class Flaky(FakeSampler):
        def sample(self):
            if self.samples_taken >= 2:
                raise RuntimeError("GPU has fallen off the bus")
            return super().sample()

    p = make_panel(Flaky(count=1))
    qtbot.waitUntil(lambda: p.unavailable_reason is not None, timeout=30_000)
    assert "fallen off the bus" in p.unavailable_reason
