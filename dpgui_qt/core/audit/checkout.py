"""Where the audit finds its inputs: the diffusion-pipe checkout and dpgui's schema folder,
and the errors it raises when either is unusable."""
from __future__ import annotations

import os
from pathlib import Path


class AuditError(Exception):
    """The audit cannot run (bad schema directory, unreadable checkout)."""


class NotACheckout(AuditError):
    """The directory is not a diffusion-pipe checkout (it has no train.py)."""


def default_schemas_dir() -> Path:
    """The ``schemas/`` folder that ships with dpgui."""
    return Path(__file__).resolve().parents[3] / "schemas"


def locate_checkout(setting: str | os.PathLike[str] | None = None) -> Path | None:
    """Where dpgui looks for diffusion-pipe: the app setting (passed in by the GUI), then
    ``$DPGUI_DIFFUSION_PIPE``, then ``ref/diffusion-pipe`` in the dpgui source tree.
    The first candidate with a ``train.py`` wins; ``None`` when there is none."""
    repo = Path(__file__).resolve().parents[3]
    for cand in (setting, os.environ.get("DPGUI_DIFFUSION_PIPE"), repo / "ref" / "diffusion-pipe"):
        if cand and (Path(cand).expanduser() / "train.py").is_file():
            return Path(cand).expanduser()
    return None
