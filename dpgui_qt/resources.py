"""Find bundled data (schemas, icons, templates) the same way from a source checkout,
an installed wheel, and a PyInstaller build."""
from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

_PKG = Path(__file__).resolve().parent


@lru_cache(maxsize=None)
def data_dir(name: str) -> Path:
    """Folder ``name`` (``schemas`` or ``resources``) of the running dpgui."""
    candidates = []
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        candidates.append(Path(frozen_root) / name)
    candidates.append(_PKG / "_data" / name)  # installed wheel (hatch force-include)
    candidates.append(_PKG.parent / name)  # source checkout / editable install
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f"dpgui's {name}/ folder was not found (looked in: "
        + ", ".join(str(c) for c in candidates) + "); the installation is incomplete"
    )


def schemas_dir() -> Path:
    return data_dir("schemas")


def resources_dir() -> Path:
    return data_dir("resources")
