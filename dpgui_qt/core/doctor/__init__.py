"""The environment doctor (Qt-free): does the environment diffusion-pipe will run
in actually work, and what exactly to do when it does not.

* :mod:`.probe` -- the standard-library script run by the target's Python;
* :mod:`.target` -- which environment (a host from :mod:`dpgui_qt.core.run.hosts`, any
  registered kind) and the commands that probe it;
* :mod:`.checks` -- probe facts -> findings (what, why, fix, severity); the host adds
  its own (``Host.doctor_checks``).

:func:`examine` runs the steps with :mod:`subprocess` (the CLI); the GUI runs the
same :func:`~.target.probe_steps` as ``QProcess`` children and calls
:func:`finish` with their output.

The top wing: may import every other wing (run, monitor, audit, config...) and the base
modules; no wing imports it.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any
import subprocess
from pathlib import Path

from dpgui_qt.core.doctor.checks import (ERROR, INFO, OK, WARNING, DoctorFinding, ProbeError,
                                          Report, analyse, parse_probe)
from dpgui_qt.core.doctor.target import (Step, Target, TargetError, check_host,
                                         default_target, host_choices, parse_host_fields,
                                         probe_steps)

__all__ = [
    # from checks and target: the package's API
    "ERROR", "INFO", "OK", "WARNING", "DoctorFinding", "ProbeError", "Report", "analyse",
    "parse_probe", "Step", "Target", "TargetError", "check_host", "default_target",
    "host_choices", "parse_host_fields", "probe_steps",
    # defined here
    "model_type_drift", "cache_places", "schema_model_types", "finish", "run_step", "examine",
]


def model_type_drift(checkout_host: str | os.PathLike[str] | None) -> dict[str, Any] | None:
    """The model types the checkout's train.py dispatches on (None when it cannot be read)."""
    if not checkout_host or not (Path(checkout_host) / "train.py").is_file():
        return None
    from dpgui_qt.core.audit import AuditError, known_model_types

    try:
        return known_model_types(checkout_host)
    except (AuditError, OSError, SyntaxError, ValueError):
        return None


def cache_places(values: dict[str, Any], config_path: str | os.PathLike[str] | None = None, limit: int = 8) -> list[tuple[str, str]]:
    """Where the config's latent caches go: diffusion-pipe writes them into each dataset
    directory (``<path>/cache/<model>``, utils/dataset.py:482)."""
    import tomllib

    ds = values.get("dataset")
    if not isinstance(ds, str) or not ds:
        return []
    p = Path(ds)
    if not p.is_absolute() and config_path:
        p = Path(config_path).parent / p
    try:
        if not p.is_file() or p.stat().st_size > 1_000_000:     # never block on a FIFO
            return []
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return []
    out: list[tuple[str, str]] = []
    for d in data.get("directory") or []:
        if isinstance(d, dict) and isinstance(d.get("path"), str) and d["path"]:
            out.append((f"dataset cache {len(out) + 1}", d["path"]))
    return out[:limit]


def schema_model_types() -> set[str]:
    from dpgui_qt.core.config.schema import default_registry

    return set(default_registry().model_types())


def finish(target: Target, results: dict[str, tuple[int | None, bytes, bytes]], *,
           model_type: str | None = None, uses_flash: bool = False,
           blocks_to_swap: int | None = None, swap_gb: float | None = None,
           known_types: dict[str, Any] | None = None,
           schema_types: set[str] | None = None,
           environ: Mapping[str, str] | None = None) -> Report:
    """A report from the steps' (exit status, stdout, stderr); raises ProbeError
    when the probe itself gave no result."""
    rc, out, err = results.get("env", (None, b"", b""))
    try:
        facts = parse_probe(out, err, rc)
    except ProbeError as exc:
        return Report(target=target.describe(), facts={}, findings=[DoctorFinding(
            "python.unusable", ERROR, f"the training environment's Python did not run: {exc}",
            "Every check runs in that interpreter; training would fail the same way.",
            "Choose the Python environment that has diffusion-pipe's requirements (Run ▸ "
            "Environment, or --python PATH); it was taken from " + (target.python_source or "the setting"))])
    # the host adds what only it can tell, from its diagnostic commands' results
    return analyse(facts, python=target.python, target=target.describe(), model_type=model_type,
                   uses_flash=uses_flash, known_types=known_types, schema_types=schema_types,
                   host=target.host_of(), host_results={k: v for k, v in results.items() if k != "env"},
                   environ=os.environ if environ is None else environ,
                   blocks_to_swap=blocks_to_swap, swap_gb=swap_gb)


def run_step(step: Step) -> tuple[int | None, bytes, bytes]:
    try:
        p = subprocess.run(step.argv, input=step.stdin, capture_output=True, timeout=step.timeout_s)
        return p.returncode, p.stdout, p.stderr
    except FileNotFoundError:
        return None, b"", f"{step.argv[0]}: not found".encode()
    except PermissionError:
        return None, b"", f"{step.argv[0]}: not executable".encode()
    except subprocess.TimeoutExpired:
        return None, b"", f"timed out after {step.timeout_s:.0f} s".encode()
    except OSError as e:
        return None, b"", str(e).encode()


def examine(target: Target, **kw: Any) -> Report:
    """Run every probe step for ``target`` and analyse the results (blocking; CLI)."""
    results = {s.key: run_step(s) for s in probe_steps(target)}
    known = model_type_drift(target.checkout_host)
    schema = schema_model_types() if known is not None else None
    return finish(target, results, known_types=known, schema_types=schema, **kw)
