"""GPU sampling for the monitor (Qt-free).

``GpuSampler`` is the protocol the GPU panel polls (about once a second, off the
UI thread): ``open()`` raises :class:`GpuUnavailable` with a sentence a user can
act on, ``sample()`` returns one :class:`GpuSample` per GPU, ``close()``.

* :class:`NvmlSampler` -- NVIDIA's NVML through ``pynvml`` (package
  ``nvidia-ml-py``). Each reading is optional: a GPU or driver that does not
  report power or temperature gives None for it, not an error.
* :class:`FakeSampler` -- deterministic synthetic GPUs (tests, demos).
* :class:`GpuHistory` -- the last minutes of each reading per GPU, bounded
  (what the sparklines draw).
"""
from __future__ import annotations

import math
import os
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

__all__ = ["GpuSample", "GpuUnavailable", "GpuSampler", "NvmlSampler", "FakeSampler",
           "GpuHistory", "default_sampler", "MEMORY_WARN"]

MEMORY_WARN = 0.95   # used/total at which the panel warns about running out of memory


@dataclass(slots=True)
class GpuSample:
    index: int
    name: str
    util: float | None = None           # % GPU busy
    mem_used: int | None = None         # bytes
    mem_total: int | None = None        # bytes
    temp: float | None = None           # °C
    power: float | None = None          # W
    power_limit: float | None = None    # W
    mem_util: float | None = None       # % memory controller busy
    uuid: str = ""

    @property
    def mem_fraction(self) -> float | None:
        if self.mem_used is None or not self.mem_total:
            return None
        return self.mem_used / self.mem_total


class GpuUnavailable(RuntimeError):
    """No GPU readings on this machine; ``str(exc)`` says why in plain words."""


class GpuSampler(Protocol):
    def open(self) -> None: ...
    def sample(self) -> list[GpuSample]: ...
    def close(self) -> None: ...


class NvmlSampler:
    """Reads NVIDIA GPUs through NVML (``pynvml`` from ``nvidia-ml-py``)."""

    def __init__(self, indices: list[int] | None = None):
        self.indices = indices
        self._nv = None
        self._handles: list[tuple[int, object, str, str]] = []

    def open(self) -> None:
        try:
            import pynvml
        except ImportError as e:  # pragma: no cover - the package is a dependency
            raise GpuUnavailable("GPU readings need the nvidia-ml-py package "
                                 f"(pip install nvidia-ml-py): {e}") from e
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as e:
            raise GpuUnavailable(self._explain(pynvml, e)) from e
        except OSError as e:  # pragma: no cover
            raise GpuUnavailable(f"The NVIDIA driver library could not be loaded: {e}") from e
        self._nv = pynvml
        try:
            count = pynvml.nvmlDeviceGetCount()
        except pynvml.NVMLError as e:
            self.close()
            raise GpuUnavailable(self._explain(pynvml, e)) from e
        if count == 0:
            self.close()
            raise GpuUnavailable("The NVIDIA driver is loaded but reports no GPU.")
        for i in range(count):
            if self.indices is not None and i not in self.indices:
                continue
            try:
                h = pynvml.nvmlDeviceGetHandleByIndex(i)
                name = pynvml.nvmlDeviceGetName(h)
                name = name.decode() if isinstance(name, bytes) else str(name)
                try:
                    uuid = pynvml.nvmlDeviceGetUUID(h)
                    uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
                except pynvml.NVMLError:
                    uuid = ""
            except pynvml.NVMLError:
                continue  # a GPU that is lost or not permitted: skip it, keep the others
            self._handles.append((i, h, name, uuid))
        if not self._handles:
            self.close()
            raise GpuUnavailable("No NVIDIA GPU could be read (permissions or lost devices).")

    @staticmethod
    def _explain(nv: Any, e: BaseException) -> str:
        code = getattr(e, "value", None)
        names = {getattr(nv, "NVML_ERROR_LIBRARY_NOT_FOUND", -1):
                 "No NVIDIA driver found on this machine (libnvidia-ml is missing), "
                 "so there are no GPU readings. Training on this machine needs an NVIDIA GPU.",
                 getattr(nv, "NVML_ERROR_DRIVER_NOT_LOADED", -1):
                 "The NVIDIA driver is installed but not loaded (no GPU, or a driver/kernel "
                 "mismatch after an update: reboot, then check nvidia-smi).",
                 getattr(nv, "NVML_ERROR_NO_PERMISSION", -1):
                 "No permission to read the NVIDIA GPUs (check /dev/nvidia* access).",
                 getattr(nv, "NVML_ERROR_INSUFFICIENT_POWER", -1):
                 "A GPU reports insufficient power (check its power cables)."}
        text = names.get(code)
        if text:
            return text
        if sys.platform == "darwin":
            return "macOS has no NVIDIA driver: no GPU readings."
        return f"NVIDIA's management library reports: {e}"

    def sample(self) -> list[GpuSample]:
        nv = self._nv
        if nv is None:
            raise GpuUnavailable("The GPU sampler is not open.")
        out = []
        for i, h, name, uuid in self._handles:
            s = GpuSample(i, name, uuid=uuid)
            try:
                u = nv.nvmlDeviceGetUtilizationRates(h)
                s.util, s.mem_util = float(u.gpu), float(u.memory)
            except nv.NVMLError:
                pass
            try:
                m = nv.nvmlDeviceGetMemoryInfo(h)
                s.mem_used, s.mem_total = int(m.used), int(m.total)
            except nv.NVMLError:
                pass
            try:
                s.temp = float(nv.nvmlDeviceGetTemperature(h, nv.NVML_TEMPERATURE_GPU))
            except nv.NVMLError:
                pass
            try:
                s.power = nv.nvmlDeviceGetPowerUsage(h) / 1000.0
            except nv.NVMLError:
                pass
            try:
                s.power_limit = nv.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0
            except nv.NVMLError:
                pass
            out.append(s)
        return out

    def close(self) -> None:
        if self._nv is not None:
            try:
                self._nv.nvmlShutdown()
            except Exception:  # noqa: BLE001 - shutting down; nothing to report
                pass
        self._nv = None
        self._handles = []


class FakeSampler:
    """Synthetic GPUs for tests and demos: busy, memory slowly rising, warm.
    ``fail`` makes ``open`` raise (the no-GPU path), ``t`` drives the values."""

    def __init__(self, count: int = 2, name: str = "NVIDIA GeForce RTX 4090",
                 mem_total: int = 24 << 30, fail: str | None = None,
                 clock: Callable[[], float] | None = None, mem_fraction: float = 0.84) -> None:
        self.count = count
        self.mem_fraction = mem_fraction
        self.name = name
        self.mem_total = mem_total
        self.fail = fail
        self.samples_taken = 0
        self.opened = False
        self.closed = False
        self._clock = clock or time.monotonic

    def open(self) -> None:
        if self.fail:
            raise GpuUnavailable(self.fail)
        self.opened = True

    def sample(self) -> list[GpuSample]:
        self.samples_taken += 1
        t = self.samples_taken
        out = []
        for i in range(self.count):
            ph = t / 7.0 + i
            util = 88 + 10 * math.sin(ph) if t % 37 else 12.0   # a dip now and then (saving)
            frac = self.mem_fraction * (1 - 0.06 * math.exp(-t / 40)) + 0.015 * i
            used = int(self.mem_total * min(0.995, frac))
            out.append(GpuSample(i, self.name, round(util, 1), used, self.mem_total,
                                 round(66 + 6 * math.sin(ph / 3) + 2 * i, 1),
                                 round(380 + 40 * math.sin(ph), 1), 450.0, 40.0))
        return out

    def close(self) -> None:
        self.closed = True


class GpuHistory:
    """The last ``maxlen`` samples of each reading per GPU (default 300: 5 min at 1 Hz)."""

    FIELDS = ("util", "mem", "temp", "power")

    def __init__(self, maxlen: int = 300):
        self.maxlen = maxlen
        self.latest: list[GpuSample] = []
        self._h: dict[int, dict[str, deque[Any]]] = {}

    def add(self, samples: list[GpuSample]) -> None:
        self.latest = list(samples)
        for s in samples:
            h = self._h.get(s.index)
            if h is None:
                h = self._h[s.index] = {f: deque(maxlen=self.maxlen) for f in self.FIELDS}
            frac = s.mem_fraction
            h["util"].append(s.util if s.util is not None else math.nan)
            h["mem"].append(100.0 * frac if frac is not None else math.nan)
            h["temp"].append(s.temp if s.temp is not None else math.nan)
            h["power"].append(s.power if s.power is not None else math.nan)

    def series(self, index: int, name: str) -> list[float]:
        h = self._h.get(index)
        return list(h[name]) if h else []

    def peak(self, index: int, name: str) -> float | None:
        vals = [v for v in self.series(index, name) if v == v]
        return max(vals) if vals else None


def default_sampler() -> GpuSampler:
    """NVML, unless ``DPGUI_FAKE_GPU=N`` asks for N synthetic GPUs (demos, screenshots)."""
    fake = os.environ.get("DPGUI_FAKE_GPU")
    if fake:
        try:
            return FakeSampler(count=max(1, int(fake)))
        except ValueError:
            return FakeSampler()
    return NvmlSampler()


def host_gpu_line(g: Mapping[str, Any]) -> str:
    """One GPU of a remote host (a ``hosts.base.GpuInfo`` as a dict) in a line:
    ``GPU 0 NVIDIA H100: 87% busy, 61.2 of 80.0 GiB``."""
    util, used, total = g.get("utilization"), g.get("memory_used_mib"), g.get("memory_total_mib")
    detail = []
    if util is not None:
        detail.append(f"{float(util):.0f}% busy")
    if used is not None and total:
        detail.append(f"{used / 1024:.1f} of {total / 1024:.1f} GiB")
    head = f"GPU {g.get('index')} {g.get('name')}"
    return head + (": " + ", ".join(detail) if detail else "")
