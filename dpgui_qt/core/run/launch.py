"""Building a launch: the one public constructor of a :class:`~dpgui_qt.core.run.spec.RunSpec`
from launch settings, shared by ``dpgui launch`` and the Run page, and where run
state is kept by default.

Both front ends resolve the checkout and the launcher themselves (the CLI fails
when they are missing, the Run page shows what it found) and then call
:func:`build_spec` with the resolved values, so a flag means the same in both
(``tests/gui/test_run_preview.py`` compares the Run page's preview with
``dpgui launch --dry-run``).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from dpgui_qt.core.run import hosts
from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.hosts import HostSpec
from dpgui_qt.core.run.spec import RunSpec, SpecError

__all__ = ["build_spec", "default_state_dir"]


def build_spec(config: str | os.PathLike[str], *, checkout: str | os.PathLike[str] | None = None,
               deepspeed: str | os.PathLike[str] | None = None,
               gpus: int | Sequence[int] | None = 1, master_port: int | None = None,
               resume: str | None = None,
               switches: Mapping[str, bool | str | os.PathLike[str] | None] | None = None,
               nccl_p2p_disable: bool = True, nccl_ib_disable: bool = True,
               expandable_segments: bool = False, extra_env: Mapping[str, str] | None = None,
               host: HostSpec | None = None) -> RunSpec:
    """The RunSpec for these settings.

    ``checkout``/``deepspeed``: resolved values (None: not set or not found);
    ``gpus``: a count, a list of GPU ids, or None for every GPU; ``resume``: a run
    folder name in output_dir ("" / None: a fresh run); ``switches``: train.py
    switches by name (see :mod:`~dpgui_qt.core.run.switches`); ``host``: where the
    trainer runs (None: this machine's default host).  Raises
    :class:`SpecError` with a user-facing message for an unknown switch or a value
    of the wrong kind."""
    values = dict(switches or {})
    problems = sw.check_values(values)
    if problems:
        raise SpecError(problems[0])
    # the config as this machine sees it; for another host it stays as given (the
    # host translates it)
    here = hosts.make(host or hosts.default_spec()).is_this_machine
    cfg = os.path.abspath(config) if here else os.fspath(config)
    return RunSpec(
        config=cfg, checkout=os.fspath(checkout) if checkout else None,
        deepspeed=deepspeed, gpus=list(gpus) if isinstance(gpus, (list, tuple)) else gpus,
        master_port=master_port, resume_from_checkpoint=resume or None,
        switches={k: v for k, v in values.items() if sw.switch(k).is_set(v)},
        nccl_p2p_disable=nccl_p2p_disable, nccl_ib_disable=nccl_ib_disable,
        expandable_segments=expandable_segments, extra_env=dict(extra_env or {}),
        host=host)


def default_state_dir() -> Path:
    """Where run state is kept: ``$DPGUI_STATE_DIR``, else the user state folder
    (the CLI and the GUI use the same one, so each sees the other's runs)."""
    if os.environ.get("DPGUI_STATE_DIR"):
        return Path(os.environ["DPGUI_STATE_DIR"])
    try:
        import platformdirs
        return Path(platformdirs.user_state_dir("dpgui")) / "runs"
    except ImportError:  # pragma: no cover
        return Path.home() / ".local" / "state" / "dpgui" / "runs"
