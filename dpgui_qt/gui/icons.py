"""Icons: drawn with QPainter (crisp at any device pixel ratio, no theme needed) or
taken from the style/theme, so the app looks complete on a bare Linux box."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication, QStyle

ERROR_COLOR = QColor("#d64545")
WARNING_COLOR = QColor("#e0a100")
INFO_COLOR = QColor("#3d7fd6")
UNUSED_COLOR = QColor("#8a8a8a")


def _paint(draw, size: int = 32) -> QIcon:
    icon = QIcon()
    for scale in (1, 2):
        for base in (16, 24, size):
            px = QPixmap(base * scale, base * scale)
            px.setDevicePixelRatio(scale)
            px.fill(Qt.GlobalColor.transparent)
            p = QPainter(px)
            p.setRenderHint(QPainter.RenderHint.Antialiasing)
            try:
                draw(p, float(base))
            finally:
                p.end()
            icon.addPixmap(px)
    return icon


def _pen(color: QColor, width: float, round_join: bool = False) -> QPen:
    pen = QPen(color, width)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    if round_join:
        pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def _glyph(p: QPainter, s: float, text: str, color: QColor) -> None:
    f = QFont()
    f.setBold(True)
    f.setPixelSize(max(7, int(s * 0.62)))
    p.setFont(f)
    p.setPen(color)
    p.drawText(QRectF(0, 0, s, s), Qt.AlignmentFlag.AlignCenter, text)


@lru_cache(maxsize=None)
def error_icon() -> QIcon:
    def draw(p, s):
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(ERROR_COLOR)
        p.drawEllipse(QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84))
        pen = _pen(QColor("white"), max(1.5, s * 0.11))
        p.setPen(pen)
        a, b = s * 0.34, s * 0.66
        p.drawLine(QPointF(a, a), QPointF(b, b))
        p.drawLine(QPointF(a, b), QPointF(b, a))
    return _paint(draw)


@lru_cache(maxsize=None)
def warning_icon() -> QIcon:
    def draw(p, s):
        path = QPainterPath()
        path.moveTo(s * 0.5, s * 0.08)
        path.lineTo(s * 0.95, s * 0.88)
        path.lineTo(s * 0.05, s * 0.88)
        path.closeSubpath()
        p.setPen(QPen(WARNING_COLOR.darker(115), max(1.0, s * 0.04)))
        p.setBrush(WARNING_COLOR)
        p.drawPath(path)
        pen = _pen(QColor("#2b2b2b"), max(1.5, s * 0.1))
        p.setPen(pen)
        p.drawLine(QPointF(s * 0.5, s * 0.36), QPointF(s * 0.5, s * 0.6))
        p.drawPoint(QPointF(s * 0.5, s * 0.75))
    return _paint(draw)


@lru_cache(maxsize=None)
def info_icon() -> QIcon:
    def draw(p, s):
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(INFO_COLOR)
        p.drawEllipse(QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84))
        _glyph(p, s, "i", QColor("white"))
    return _paint(draw)


@lru_cache(maxsize=None)
def unused_icon() -> QIcon:
    def draw(p, s):
        pen = QPen(UNUSED_COLOR, max(1.2, s * 0.08))
        p.setPen(pen)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(QRectF(s * 0.12, s * 0.12, s * 0.76, s * 0.76))
        p.drawLine(QPointF(s * 0.25, s * 0.75), QPointF(s * 0.75, s * 0.25))
    return _paint(draw)


@lru_cache(maxsize=None)
def ok_icon() -> QIcon:
    def draw(p, s):
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(QColor("#3a9e5c"))
        p.drawEllipse(QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84))
        pen = _pen(QColor("white"), max(1.5, s * 0.11), True)
        p.setPen(pen)
        path = QPainterPath()
        path.moveTo(s * 0.3, s * 0.52)
        path.lineTo(s * 0.45, s * 0.66)
        path.lineTo(s * 0.71, s * 0.36)
        p.drawPath(path)
    return _paint(draw)


def severity_icon(severity: str | None) -> QIcon | None:
    if severity == "error":
        return error_icon()
    if severity == "warning":
        return warning_icon()
    if severity == "unused":
        return unused_icon()
    return None


@lru_cache(maxsize=None)
def app_icon() -> QIcon:
    try:
        from dpgui_qt.resources import resources_dir

        path = resources_dir() / "icons" / "dpgui.svg"
        if path.is_file():
            icon = QIcon(str(path))
            if not icon.isNull():
                return icon
    except FileNotFoundError:
        pass
    return info_icon()


_THEME = {
    "new": ("document-new", QStyle.StandardPixmap.SP_FileIcon),
    "open": ("document-open", QStyle.StandardPixmap.SP_DialogOpenButton),
    "save": ("document-save", QStyle.StandardPixmap.SP_DialogSaveButton),
    "save-as": ("document-save-as", QStyle.StandardPixmap.SP_DialogSaveButton),
    "revert": ("document-revert", QStyle.StandardPixmap.SP_BrowserReload),
    "undo": ("edit-undo", QStyle.StandardPixmap.SP_ArrowBack),
    "redo": ("edit-redo", QStyle.StandardPixmap.SP_ArrowForward),
    "reset": ("edit-clear", QStyle.StandardPixmap.SP_DialogResetButton),
    "run": ("media-playback-start", QStyle.StandardPixmap.SP_MediaPlay),
    "stop": ("media-playback-stop", QStyle.StandardPixmap.SP_MediaStop),
    "validate": ("dialog-ok", QStyle.StandardPixmap.SP_DialogApplyButton),
    "folder": ("folder", QStyle.StandardPixmap.SP_DirOpenIcon),
    "file": ("text-x-generic", QStyle.StandardPixmap.SP_FileIcon),
    "help": ("help-about", QStyle.StandardPixmap.SP_MessageBoxQuestion),
    "add": ("list-add", QStyle.StandardPixmap.SP_FileDialogNewFolder),
    "remove": ("list-remove", QStyle.StandardPixmap.SP_TrashIcon),
    "quit": ("application-exit", QStyle.StandardPixmap.SP_DialogCloseButton),
}


def themed(name: str) -> QIcon:
    theme, fallback = _THEME[name]
    icon = QIcon.fromTheme(theme)
    if icon.isNull():
        app = QApplication.instance()
        if app is not None:
            icon = app.style().standardIcon(fallback)
    return icon
