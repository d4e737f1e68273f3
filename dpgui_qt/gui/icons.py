"""Icons: drawn with QPainter (crisp at any device pixel ratio, no theme needed) or
taken from the style/theme, so the app looks complete on a bare Linux box."""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QApplication

ERROR_COLOR = QColor("#d64545")
WARNING_COLOR = QColor("#e0a100")
INFO_COLOR = QColor("#3d7fd6")
UNUSED_COLOR = QColor("#8a8a8a")


def _paint(draw, size: int = 32) -> QIcon:
    icon = QIcon()
    for scale in (1, 2):
        for base in (16, 24):
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


# ---------------------------------------------------------------- toolbar glyphs
# Drawn rather than taken from QStyle: the same look on every platform, crisp at any
# scale, and no QStyle type initialisation (~17 ms) on the start-up path.
def _ink() -> QColor:
    if QApplication.instance() is not None:
        from PySide6.QtGui import QPalette

        return QApplication.palette().color(QPalette.ColorRole.WindowText)
    return QColor("#333333")


def _doc_outline(p, s, ink):
    path = QPainterPath()
    path.moveTo(s * 0.22, s * 0.1)
    path.lineTo(s * 0.6, s * 0.1)
    path.lineTo(s * 0.8, s * 0.3)
    path.lineTo(s * 0.8, s * 0.9)
    path.lineTo(s * 0.22, s * 0.9)
    path.closeSubpath()
    p.setPen(_pen(ink, max(1.2, s * 0.07), True))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)


def _g_new(p, s, ink):
    _doc_outline(p, s, ink)
    p.setPen(_pen(INFO_COLOR, max(1.4, s * 0.09)))
    p.drawLine(QPointF(s * 0.51, s * 0.42), QPointF(s * 0.51, s * 0.74))
    p.drawLine(QPointF(s * 0.35, s * 0.58), QPointF(s * 0.67, s * 0.58))


def _g_open(p, s, ink):
    path = QPainterPath()
    path.moveTo(s * 0.08, s * 0.25)
    path.lineTo(s * 0.38, s * 0.25)
    path.lineTo(s * 0.46, s * 0.34)
    path.lineTo(s * 0.88, s * 0.34)
    path.lineTo(s * 0.88, s * 0.82)
    path.lineTo(s * 0.08, s * 0.82)
    path.closeSubpath()
    p.setPen(_pen(QColor("#b07d1a"), max(1.2, s * 0.06), True))
    p.setBrush(QColor("#f2c14e"))
    p.drawPath(path)


def _g_save(p, s, ink):
    p.setPen(_pen(ink, max(1.2, s * 0.07), True))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawRoundedRect(QRectF(s * 0.14, s * 0.14, s * 0.72, s * 0.72), s * 0.08, s * 0.08)
    p.setBrush(INFO_COLOR)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRect(QRectF(s * 0.3, s * 0.14, s * 0.4, s * 0.26))
    p.setBrush(ink)
    p.drawRect(QRectF(s * 0.3, s * 0.58, s * 0.4, s * 0.28))


def _arrow(p, s, ink, mirrored: bool):
    p.save()
    if mirrored:
        p.translate(s, 0)
        p.scale(-1, 1)
    p.setPen(_pen(ink, max(1.4, s * 0.09), True))
    p.setBrush(Qt.BrushStyle.NoBrush)
    path = QPainterPath()
    path.moveTo(s * 0.3, s * 0.42)
    path.cubicTo(s * 0.55, s * 0.2, s * 0.9, s * 0.35, s * 0.8, s * 0.75)
    p.drawPath(path)
    head = QPainterPath()
    head.moveTo(s * 0.14, s * 0.45)
    head.lineTo(s * 0.4, s * 0.24)
    head.lineTo(s * 0.43, s * 0.56)
    head.closeSubpath()
    p.setBrush(ink)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawPath(head)
    p.restore()


def _g_run(p, s, ink):
    path = QPainterPath()
    path.moveTo(s * 0.28, s * 0.16)
    path.lineTo(s * 0.84, s * 0.5)
    path.lineTo(s * 0.28, s * 0.84)
    path.closeSubpath()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor("#2da44e"))
    p.drawPath(path)


def _g_stop(p, s, ink):
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ERROR_COLOR)
    p.drawRoundedRect(QRectF(s * 0.22, s * 0.22, s * 0.56, s * 0.56), s * 0.06, s * 0.06)


def _g_reset(p, s, ink):
    p.setPen(_pen(ink, max(1.4, s * 0.09)))
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawArc(QRectF(s * 0.2, s * 0.2, s * 0.6, s * 0.6), 100 * 16, 280 * 16)
    head = QPainterPath()
    head.moveTo(s * 0.36, s * 0.06)
    head.lineTo(s * 0.58, s * 0.2)
    head.lineTo(s * 0.36, s * 0.34)
    head.closeSubpath()
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(ink)
    p.drawPath(head)


def _g_plus(p, s, ink):
    p.setPen(_pen(ink, max(1.5, s * 0.1)))
    p.drawLine(QPointF(s * 0.5, s * 0.2), QPointF(s * 0.5, s * 0.8))
    p.drawLine(QPointF(s * 0.2, s * 0.5), QPointF(s * 0.8, s * 0.5))


def _g_minus(p, s, ink):
    p.setPen(_pen(ink, max(1.5, s * 0.1)))
    p.drawLine(QPointF(s * 0.2, s * 0.5), QPointF(s * 0.8, s * 0.5))


def _g_folder(p, s, ink):
    _g_open(p, s, ink)


def _g_help(p, s, ink):
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(INFO_COLOR)
    p.drawEllipse(QRectF(s * 0.08, s * 0.08, s * 0.84, s * 0.84))
    _glyph(p, s, "?", QColor("white"))


def _g_quit(p, s, ink):
    p.setPen(_pen(ink, max(1.4, s * 0.09)))
    p.drawLine(QPointF(s * 0.28, s * 0.28), QPointF(s * 0.72, s * 0.72))
    p.drawLine(QPointF(s * 0.28, s * 0.72), QPointF(s * 0.72, s * 0.28))


_GLYPHS = {
    "new": ("document-new", _g_new),
    "open": ("document-open", _g_open),
    "save": ("document-save", _g_save),
    "save-as": ("document-save-as", _g_save),
    "revert": ("document-revert", _g_reset),
    "undo": ("edit-undo", lambda p, s, ink: _arrow(p, s, ink, False)),
    "redo": ("edit-redo", lambda p, s, ink: _arrow(p, s, ink, True)),
    "reset": ("edit-clear", _g_reset),
    "run": ("media-playback-start", _g_run),
    "stop": ("media-playback-stop", _g_stop),
    "validate": ("dialog-ok", None),
    "folder": ("folder", _g_folder),
    "file": ("text-x-generic", _doc_outline),
    "help": ("help-about", _g_help),
    "add": ("list-add", _g_plus),
    "remove": ("list-remove", _g_minus),
    "quit": ("application-exit", _g_quit),
}


_DRAWN: dict[int, str] = {}  # cacheKey of a glyph drawn by themed() -> its name


@lru_cache(maxsize=None)
def themed(name: str) -> QIcon:
    """The desktop theme's icon where there is one, else our drawn glyph."""
    theme, glyph = _GLYPHS[name]
    icon = QIcon.fromTheme(theme)
    if not icon.isNull():
        return icon
    if glyph is None:
        return ok_icon()
    ink = _ink()
    icon = _paint(lambda p, s: glyph(p, s, ink))
    _DRAWN[icon.cacheKey()] = name
    return icon


def refresh_themed() -> None:
    """Redraw our glyphs in the current palette's ink (after a theme change) and give
    every action and button that shows one the new drawing."""
    if not _DRAWN:
        return
    from PySide6.QtGui import QAction
    from PySide6.QtWidgets import QAbstractButton

    old = dict(_DRAWN)
    _DRAWN.clear()
    themed.cache_clear()
    for top in QApplication.topLevelWidgets():
        for obj in [top, *top.findChildren(QAction), *top.findChildren(QAbstractButton)]:
            if not isinstance(obj, (QAction, QAbstractButton)):
                continue
            name = old.get(obj.icon().cacheKey())
            if name is not None:
                obj.setIcon(themed(name))
