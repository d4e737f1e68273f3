"""Pre-flight on an SSH host (issue #15): what must hold *there* before a run starts.

``check(host, plan, gpus=None, upload_bytes=0, planned_save_bytes=0, facts=None)`` asks the
host once (:meth:`SshHost.probe`; or give ``facts``, the answer to :func:`probe_op` batched with
other operations) and reports, as :class:`dpgui_qt.core.run.preflight.PreflightIssue`:

* reachable (an unreachable host is one error with ssh's reason);
* the checkout present (``train.py``) and at the commit dpgui knows
  (``dpgui_qt.DIFFUSION_PIPE_COMMIT``; another commit is a warning);
* Python found in the activated environment, and deepspeed;
* free disk under the work folder for the upload and the planned saves;
* the GPU count (``nvidia-smi``) against the GPUs asked for (no nvidia-smi: a warning);
* every model path of the config present on the host -- one that exists only on this
  machine is an error that says so (model paths are host paths).
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import os

from dpgui_qt.core.run.hosts.base import HostError
from dpgui_qt.core.run.preflight import PreflightIssue as Finding

if TYPE_CHECKING:
    from dpgui_qt.core.run.hosts.ssh import SshHost
    from dpgui_qt.core.run.hosts.sync import SyncPlan

MIN_FREE_BYTES = 1 << 30


def _size(n: int) -> str:
    return f"{n / (1 << 30):.1f} GiB"


def probe_op(host: SshHost, plan: SyncPlan | None = None) -> tuple[str, dict[str, Any]]:
    """The helper operation :func:`check` needs, to batch it with others (pass its answer
    as ``facts``)."""
    paths = list(plan.model_paths.values()) if plan is not None else []
    return ("probe", {"checkout": host.checkout, "deepspeed": host.deepspeed(), "paths": paths,
                      "disk": [host.workdir]})


def check(host: SshHost, plan: SyncPlan | None = None, gpus: int | None = None, upload_bytes: int = 0,
          planned_save_bytes: int = 0, facts: dict[str, Any] | None = None) -> list[Finding]:
    from dpgui_qt import DIFFUSION_PIPE_COMMIT

    out: list[Finding] = []
    paths = dict(plan.model_paths) if plan is not None else {}
    try:
        if facts is None:
            facts = host.probe(paths=list(paths.values()), disk=[host.workdir])
    except HostError as e:
        return [Finding("error", "host", str(e), "Check the destination, your key and the "
                        "host's entry in known_hosts (connect once with ssh in a terminal).")]
    where = host.describe()
    co = host.checkout
    if not co:
        out.append(Finding("error", "checkout", f"The diffusion-pipe checkout on {where} is not set.",
                           "Give --remote-checkout DIR, or set it in the host profile."))
    elif not facts.get("train_py"):
        out.append(Finding("error", "checkout", f"No diffusion-pipe checkout (train.py) at {co} on {where}.",
                           "Clone diffusion-pipe there, or fix the profile's checkout."))
    elif facts.get("commit") and facts["commit"] != DIFFUSION_PIPE_COMMIT:
        out.append(Finding("warning", "checkout",
                           f"The checkout on {where} is at commit {facts['commit'][:10]}; dpgui knows "
                           f"{DIFFUSION_PIPE_COMMIT[:10]}.",
                           f"git -C {co} checkout {DIFFUSION_PIPE_COMMIT[:10]} (or accept the difference)."))
    elif not facts.get("commit"):
        out.append(Finding("warning", "checkout", f"The checkout on {where} is not a git checkout; "
                           "its commit is unknown."))
    if not facts.get("python"):
        out.append(Finding("error", "python", f"No Python in the environment on {where}."))
    if not facts.get("deepspeed"):
        out.append(Finding("error", "deepspeed", f"deepspeed not found on {where} ({host.deepspeed()}).",
                           "Set the profile's environment (venv/conda folder) or --remote-deepspeed."))
    free = (facts.get("free") or {}).get(host.workdir)
    need = upload_bytes + planned_save_bytes
    if free is not None:
        if free < need + MIN_FREE_BYTES:
            out.append(Finding("error", "disk", f"Only {_size(free)} free under {host.workdir} on {where}; "
                               f"the upload and planned saves need about {_size(need)}.",
                               "Free space on the host or choose another work folder."))
    gpu_lines = facts.get("gpus")
    if gpu_lines is None:
        out.append(Finding("warning", "gpus", f"nvidia-smi did not answer on {where}; the GPU count is unknown."))
    elif gpus and len(gpu_lines) < gpus:
        out.append(Finding("error", "gpus", f"{gpus} GPU(s) asked for; {where} has {len(gpu_lines)}."))
    for key, hp in paths.items():
        if (facts.get("paths") or {}).get(hp):
            continue
        local = os.path.exists(hp)
        out.append(Finding("error", "model_path",
                           f"{key}: {hp} does not exist on {where}"
                           + (" (it exists only on this machine: model paths are paths on the host)"
                              if local else "."),
                           "Put the model on the host and give its path there.", key=key))
    return out


def facts_lines(facts: dict[str, Any]) -> list[str]:
    """The probe's answers for ``dpgui hosts check``."""
    gpus = facts.get("gpus")
    return [f"python: {facts.get('python')} ({facts.get('python_executable')})",
            f"checkout: {'train.py found' if facts.get('train_py') else 'no train.py'}"
            + (f", commit {facts['commit'][:10]}" if facts.get("commit") else ""),
            f"deepspeed: {facts.get('deepspeed') or 'not found'}",
            f"GPUs: {len(gpus) if gpus is not None else 'unknown (no nvidia-smi)'}"
            + ("".join(f"\n  {g}" for g in gpus) if gpus else ""),
            f"rsync: {facts.get('rsync') or 'absent (uploads use tar)'}"]
