"""Persistent GUI settings: one INI file under ``platformdirs.user_config_dir("dpgui")``.

``DPGUI_CONFIG_DIR`` overrides the folder (tests point it at a temporary one so they
never touch the user's settings).
"""
from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QSettings

MAX_RECENT = 10


def config_dir() -> Path:
    override = os.environ.get("DPGUI_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir("dpgui", appauthor=False))


def settings() -> QSettings:
    folder = config_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # QSettings then keeps values in memory only; nothing to report
    return QSettings(str(folder / "dpgui.ini"), QSettings.Format.IniFormat)


def _as_list(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value] if value else []
    return [str(v) for v in value if v]


def recent_files() -> list[str]:
    return _as_list(settings().value("files/recent", []))


def add_recent_file(path: str | os.PathLike[str]) -> list[str]:
    p = str(Path(path).resolve())
    files = [f for f in recent_files() if f != p]
    files.insert(0, p)
    files = files[:MAX_RECENT]
    s = settings()
    s.setValue("files/recent", files)
    s.sync()
    return files


def remove_recent_file(path: str) -> list[str]:
    files = [f for f in recent_files() if f != path]
    s = settings()
    s.setValue("files/recent", files)
    s.sync()
    return files


def clear_recent_files() -> None:
    s = settings()
    s.setValue("files/recent", [])
    s.sync()


def get_bool(key: str, default: bool = False) -> bool:
    value = settings().value(key, default)
    if isinstance(value, str):
        return value.lower() in ("1", "true", "yes")
    return bool(value)
