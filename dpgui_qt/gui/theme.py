"""View ▸ Theme: follow the system, or force a light or a dark look.

The choice is kept in the settings (``view/theme``; ``DPGUI_THEME`` overrides it for one
start, e.g. for screenshots) and applied before the first window is built, so the first
paint already has it. Qt is asked for the colour scheme (desktops that support it switch
their native parts too) and the application palette is set explicitly, because most
Linux platform themes ignore the request. Switching at run time repaints everything,
our drawn toolbar glyphs included.
"""
from __future__ import annotations

import os
import sys
from typing import cast

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

THEMES = (("system", "&System"), ("light", "&Light"), ("dark", "&Dark"))
KEY = "view/theme"
_SYSTEM_PALETTE: list[QPalette] = []  # the palette before we first changed it


def saved() -> str:
    env = os.environ.get("DPGUI_THEME", "").strip().lower()
    if env in dict(THEMES):
        return env
    from dpgui_qt.gui import settings as st

    value = str(st.settings().value(KEY, "system") or "system").lower()
    return value if value in dict(THEMES) else "system"


def save(name: str) -> None:
    from dpgui_qt.gui import settings as st

    s = st.settings()
    s.setValue(KEY, name)
    s.sync()


def dark_palette() -> QPalette:
    p = QPalette()
    roles = QPalette.ColorRole
    base = {
        roles.Window: "#2b2d30", roles.WindowText: "#e4e4e4", roles.Base: "#1f2023",
        roles.AlternateBase: "#292a2d", roles.ToolTipBase: "#36383b",
        roles.ToolTipText: "#e4e4e4", roles.PlaceholderText: "#8d9096", roles.Text: "#e4e4e4",
        roles.Button: "#36383b", roles.ButtonText: "#e4e4e4", roles.BrightText: "#ff6b6b",
        roles.Light: "#4a4c50", roles.Midlight: "#3d3f43", roles.Mid: "#2a2b2e",
        roles.Dark: "#1b1c1e", roles.Shadow: "#0e0e0f", roles.Highlight: "#3574d4",
        roles.HighlightedText: "#ffffff", roles.Link: "#6fa8ff", roles.LinkVisited: "#b48cff",
    }
    for role, color in base.items():
        p.setColor(role, QColor(color))
    dis = QPalette.ColorGroup.Disabled
    for role in (roles.WindowText, roles.Text, roles.ButtonText, roles.PlaceholderText):
        p.setColor(dis, role, QColor("#75787d"))
    p.setColor(dis, roles.Highlight, QColor("#4a4c50"))
    return p


def apply(name: str, app: QApplication | None = None) -> None:
    """Apply a theme to the running application (before or after windows exist)."""
    app = app or cast("QApplication | None", QApplication.instance())
    if app is None:
        return
    if not _SYSTEM_PALETTE:
        if name == "system":
            return  # nothing was changed: nothing to undo (the common start costs nothing)
        _SYSTEM_PALETTE.append(QPalette(app.palette()))
    hints = app.styleHints()
    if name == "dark":
        hints.setColorScheme(Qt.ColorScheme.Dark)
        app.setPalette(dark_palette())
    elif name == "light":
        hints.setColorScheme(Qt.ColorScheme.Light)
        app.setPalette(app.style().standardPalette())
    else:
        hints.unsetColorScheme()
        app.setPalette(_SYSTEM_PALETTE[0])
    icons = sys.modules.get("dpgui_qt.gui.icons")  # not imported yet: nothing drawn yet
    if icons is not None:
        icons.refresh_themed()


def current_is_dark(app: QApplication | None = None) -> bool:
    app = app or cast(QApplication, QApplication.instance())
    return app.palette().color(QPalette.ColorRole.Window).lightness() < 128


def install_menu(window, menu) -> None:
    """View ▸ Theme with System / Light / Dark (exclusive, the saved one checked)."""
    from PySide6.QtGui import QAction, QActionGroup

    sub = menu.addMenu("&Theme")
    group = QActionGroup(sub)
    group.setExclusive(True)
    current = saved()
    for name, label in THEMES:
        act = QAction(label, sub)
        act.setCheckable(True)
        act.setChecked(name == current)
        act.setData(name)
        act.setStatusTip({"system": "Use the desktop's colours",
                          "light": "Light colours, whatever the desktop uses",
                          "dark": "Dark colours, whatever the desktop uses"}[name])
        group.addAction(act)
        sub.addAction(act)
        window.actions[f"view.theme.{name}"] = act

    def chosen(act) -> None:
        name = act.data()
        save(name)
        apply(name)

    group.triggered.connect(chosen)
    window.theme_menu = sub
