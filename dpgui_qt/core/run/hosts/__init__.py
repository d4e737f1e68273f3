"""Hosts: where the trainer runs (this machine, a WSL2 distribution, ...).

``make(spec)`` turns a :class:`HostSpec` into a :class:`Host`; ``register`` adds a
kind; ``default_spec()`` is the host a plain launch uses on this machine (WSL on
Windows, because diffusion-pipe needs Linux; this machine elsewhere).  The protocol
and the "how to add a host" checklist are in :mod:`.base`.
"""
from __future__ import annotations

import importlib
import sys
from typing import Any, Callable, Mapping

from dpgui_qt.core.run.hosts.base import (
    SIGNALS, CommandResult, GpuInfo, Host, HostBase, HostError, HostSpec, ReadChunk,
)

__all__ = ["Host", "HostBase", "HostSpec", "HostError", "CommandResult", "ReadChunk", "GpuInfo",
           "SIGNALS", "register", "get", "make", "kinds", "default_spec", "from_state",
           "platform_default_kind"]

HostFactory = Callable[[HostSpec], Host]

_REGISTRY: dict[str, HostFactory] = {}
# built-in kinds -> module that registers them (imported on first use)
_BUILTIN = {"local": "dpgui_qt.core.run.hosts.local", "wsl": "dpgui_qt.core.run.hosts.wsl",
            "ssh": "dpgui_qt.core.run.hosts.ssh"}


def register(kind: str, factory: HostFactory) -> None:
    """Make ``kind`` available to :func:`make` (a host module calls this on import)."""
    _REGISTRY[kind] = factory


def _load(kind: str) -> None:
    """Import the module of a built-in kind (it registers itself)."""
    if kind not in _REGISTRY and kind in _BUILTIN:
        try:
            importlib.import_module(_BUILTIN[kind])
        except ImportError:
            pass


def get(kind: str) -> HostFactory:
    """The factory of ``kind``; raises HostError for an unknown kind."""
    _load(kind)
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise HostError(f"unknown host kind {kind!r}; dpgui knows: {', '.join(kinds())}") from None


def kinds() -> list[str]:
    """Registered kinds (built-in ones included)."""
    for k in _BUILTIN:
        _load(k)
    return sorted(_REGISTRY)


def make(spec: HostSpec | Mapping[str, Any] | None = None) -> Host:
    """The host a spec (or its dict form) describes; None is :func:`default_spec`."""
    if spec is None:
        spec = default_spec()
    elif not isinstance(spec, HostSpec):
        spec = HostSpec.from_dict(spec)
    return get(spec.kind)(spec)


def platform_default_kind(platform: str | None = None) -> str:
    """``wsl`` on Windows (diffusion-pipe runs only on Linux), else ``local``.
    ``platform`` is ``sys.platform``-style; None means this interpreter's."""
    p = (platform or sys.platform).lower()
    return "wsl" if p.startswith("win") else "local"


def default_spec(platform: str | None = None, **fields: Any) -> HostSpec:
    """The host a launch uses when none is chosen (fields such as ``distro`` apply
    to the kind they belong to and are dropped otherwise)."""
    kind = platform_default_kind(platform)
    if kind == "local":
        return HostSpec("local")
    return HostSpec.of(kind, **fields)


def from_state(state: Mapping[str, Any] | None) -> Host:
    """The host a run's state (or request) records; runs written before hosts
    existed ran on this machine."""
    return make(HostSpec.from_dict((state or {}).get("host")))
