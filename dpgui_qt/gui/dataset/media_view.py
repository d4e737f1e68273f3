"""Media browser: a thumbnail grid of one directory with captions under each image.

* :class:`MediaModel` lists the directory's media from its scan; captions are read on
  demand (only for items the view paints) and written atomically on edit;
* :class:`ThumbnailLoader` scales images with ``QImageReader.setScaledSize`` on a
  QThreadPool (newest request first, so a fast scroll loads what is on screen) and
  caches them in ``QPixmapCache`` (an LRU) keyed by path, mtime and size;
* :class:`MediaDelegate` paints each tile (thumbnail, name, caption, a red mark on
  media without a caption, an orange one on files diffusion-pipe will skip) and edits
  the caption in place (double-click; Enter writes it, Shift+Enter is a new line).
  A video tile has one more line: source fps -> model fps, frames before -> after
  resampling and its frame bucket, or why it is skipped (from the core's
  :class:`~dpgui_qt.core.dataset.video.VideoPlan`); its thumbnail is the first frame,
  decoded with PyAV in the loader's thread.
Thumbnails are not EXIF-rotated: they show what diffusion-pipe trains on.
"""
from __future__ import annotations

from typing import Any, cast

import os
from pathlib import Path
from collections import deque

from PySide6.QtCore import (QAbstractListModel, QModelIndex, QObject, QRect, QRunnable, QSize,
                            QSortFilterProxyModel, Qt, QThreadPool, Signal)
from PySide6.QtGui import (QColor, QFont, QFontMetrics, QImage, QImageReader, QPainter,
                           QPalette, QPen, QPixmap, QPixmapCache, QTextOption, QUndoCommand)
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QLineEdit,
                               QListView, QPlainTextEdit, QSlider, QStyle,
                               QStyledItemDelegate, QVBoxLayout, QWidget)

from dpgui_qt.core.config.document import DocumentError, atomic_write
from dpgui_qt.gui import icons

_R = int(Qt.ItemDataRole.UserRole) + 60
CaptionRole = _R  # caption text, or None when there is no caption file
MissingRole = _R + 1  # True when the media has no caption file
ProblemRole = _R + 2  # why diffusion-pipe skips/rejects the file, or None
PathRole = _R + 3
KindRole = _R + 4  # "image" | "video"
SizeRole = _R + 5  # (w, h) from the scan headers or None
VideoRole = _R + 6  # video.VideoPlan or None

FILTERS = ("All files", "Without caption", "Skipped", "Too short", "Videos")
FILTER_ALL, FILTER_NO_CAPTION, FILTER_SKIPPED, FILTER_TOO_SHORT, FILTER_VIDEOS = range(5)

MISSING_COLOR = QColor("#d64545")
SKIP_COLOR = QColor("#e0a100")
THUMB_DEFAULT = 150
QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 96 * 1024))  # KiB


# ------------------------------------------------------------------ loader
class _Signals(QObject):
    loaded = Signal(str, QImage)


class _Job(QRunnable):
    def __init__(self, key: str, path: str, edge: int, signals: _Signals):
        super().__init__()
        self.key, self.path, self.edge, self.signals = key, path, edge, signals
        self.setAutoDelete(True)

    def run(self) -> None:
        img = QImage()
        if is_video_name(self.path):
            img = first_frame(self.path, self.edge)
            try:
                self.signals.loaded.emit(self.key, img)
            except RuntimeError:
                pass
            return
        try:
            reader = QImageReader(self.path)
            reader.setAutoTransform(False)  # diffusion-pipe ignores EXIF rotation too
            size = reader.size()
            if size.isValid() and size.width() > 0 and size.height() > 0:
                reader.setScaledSize(size.scaled(self.edge, self.edge,
                                                 Qt.AspectRatioMode.KeepAspectRatio))
            img = reader.read()
        except Exception:  # noqa: BLE001 - a broken file shows as a placeholder
            img = QImage()
        try:
            self.signals.loaded.emit(self.key, img)
        except RuntimeError:
            pass  # the loader was deleted meanwhile


def is_video_name(path: str) -> bool:
    from dpgui_qt.core.dataset.media import is_dp_video_suffix
    i = path.rfind(".")
    return i > 0 and is_dp_video_suffix(path[i:])


def first_frame(path: str, edge: int) -> QImage:
    """The first frame of a video scaled to ``edge`` (PyAV; a null image on failure)."""
    try:
        import av  # lazily: only when a video tile is painted
        with av.open(path) as c:
            st = c.streams.video[0]
            for frame in c.decode(st):
                w, h = frame.width, frame.height
                scale = min(1.0, edge / max(w, h, 1))
                tw, th = max(1, int(w * scale)), max(1, int(h * scale))
                import numpy as np
                # rows may be padded for alignment: make the buffer contiguous first
                arr = np.ascontiguousarray(
                    frame.to_ndarray(width=tw, height=th, format="rgb24"))
                img = QImage(arr.data, tw, th, 3 * tw, QImage.Format.Format_RGB888)
                return img.copy()  # detach from the numpy buffer
    except Exception:  # noqa: BLE001 - a broken file shows as a placeholder
        pass
    return QImage()


class ThumbnailLoader(QObject):
    """Loads scaled thumbnails off the GUI thread; newest request first."""

    ready = Signal(str)  # key now in QPixmapCache (or known broken)

    MAX_QUEUE = 512

    def __init__(self, parent=None, threads: int | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads or max(2, min(4, (os.cpu_count() or 2) - 1)))
        self._signals = _Signals(self)
        self._signals.loaded.connect(self._loaded)
        self._stack: deque[Any] = deque()
        self._queued: set[str] = set()
        self._running = 0
        self.broken: set[str] = set()
        self.loaded_count = 0

    @staticmethod
    def key(path: str, edge: int) -> str:
        try:
            mtime = os.stat(path).st_mtime_ns
        except OSError:
            mtime = 0
        return f"dpthumb:{edge}:{mtime}:{path}"

    def pixmap(self, key: str) -> QPixmap | None:
        pix = QPixmap()
        return pix if QPixmapCache.find(key, pix) else None

    def request(self, key: str, path: str, edge: int) -> None:
        if key in self._queued or key in self.broken:
            return
        self._queued.add(key)
        self._stack.append((key, path, edge))
        while len(self._stack) > self.MAX_QUEUE:  # scrolled past long ago: forget
            old = self._stack.popleft()
            self._queued.discard(old[0])
        self._pump()

    def _pump(self) -> None:
        while self._running < self.pool.maxThreadCount() and self._stack:
            key, path, edge = self._stack.pop()  # newest first
            self._running += 1
            self.pool.start(_Job(key, path, edge, self._signals))

    def _loaded(self, key: str, img: QImage) -> None:
        self._running -= 1
        self._queued.discard(key)
        if img.isNull():
            self.broken.add(key)
        else:
            QPixmapCache.insert(key, QPixmap.fromImage(img))
            self.loaded_count += 1
        self.ready.emit(key)
        self._pump()

    def clear(self) -> None:
        for key, _p, _e in self._stack:
            self._queued.discard(key)
        self._stack.clear()

    def idle(self) -> bool:
        return self._running == 0 and not self._stack

    def shutdown(self) -> None:
        self.clear()
        self.pool.waitForDone(3000)


# ------------------------------------------------------------------ model
class MediaModel(QAbstractListModel):
    captionWritten = Signal(str)  # path of the .txt
    writeFailed = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.folder = ""
        self.names: list[str] = []
        self.videos: set[str] = set()
        self.sizes: dict[str, Any] = {}
        self.problems: dict[str, str] = {}
        self.plans: dict[str, Any] = {}  # video name -> video.VideoPlan (from the bucket pass)
        self.skip_uncaptioned: set[str] = set()
        self._captions: dict[str, str | None] = {}
        self._rows: dict[str, int] = {}
        self._key_rows: dict[str, int] = {}
        self.edge = THUMB_DEFAULT
        self.loader = ThumbnailLoader(self)
        self.loader.ready.connect(self._thumb_ready)

    def set_scan(self, scan) -> None:
        """Show the media of a DirectoryScan (None: nothing)."""
        self.beginResetModel()
        self.loader.clear()
        self._captions = {}
        self.skip_uncaptioned = set()
        self._key_rows = {}
        if scan is None or not scan.exists or scan.path != self.folder:
            self.plans = {}
        if scan is None or not scan.exists:
            self.folder, self.names, self.videos, self.sizes, self.problems = "", [], set(), {}, {}
        else:
            self.folder = scan.path
            self.names = sorted(scan.media, key=str.lower)
            self.videos = set(scan.videos)
            self.sizes = dict(scan.sizes)
            self.problems = dict(scan.unsupported)
            for n in scan.missing_captions:
                self._captions[n] = None
            if scan.settings.get("skip_empty_caption", True) and not scan.has_captions_json:
                self.skip_uncaptioned = set(scan.missing_captions)
        self._rows = {n: i for i, n in enumerate(self.names)}
        self.endResetModel()

    def set_plans(self, plans: dict[str, Any]) -> None:
        """Video plans for the shown folder (name -> VideoPlan); repaints video tiles."""
        if plans is self.plans or (not plans and not self.plans):
            return
        self.plans = dict(plans)
        rows = [self._rows[n] for n in self.videos if n in self._rows]
        if rows:  # one signal for the span, not one per video
            self.dataChanged.emit(self.index(min(rows)), self.index(max(rows)))

    def problem(self, name: str) -> str | None:
        why = self.problems.get(name)
        if why is None:
            p = self.plans.get(name)
            if p is not None and p.skipped:
                why = p.reason
        return why

    def will_skip(self, name: str) -> bool:
        """Unreadable, too short, or without a caption (while skip_empty_caption is on)."""
        if self.problem(name):
            return True
        return name in self.skip_uncaptioned and self.caption(name) is None

    def set_edge(self, edge: int) -> None:
        self.edge = edge
        self.loader.clear()
        self._key_rows = {}
        if self.names:
            self.dataChanged.emit(self.index(0), self.index(len(self.names) - 1))

    def path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def caption_path(self, name: str) -> str:
        i = name.rfind(".")
        stem = name[:i] if i > 0 else name
        return os.path.join(self.folder, stem + ".txt")

    def caption(self, name: str) -> str | None:
        if name not in self._captions:
            try:
                with open(self.caption_path(name), encoding="utf-8", errors="replace") as fh:
                    self._captions[name] = fh.read()
            except FileNotFoundError:
                self._captions[name] = None
            except OSError:
                self._captions[name] = ""
        return self._captions[name]

    def row_of(self, name: str) -> int:
        return self._rows.get(name, -1)

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.names)

    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEditable

    def thumbnail(self, row: int) -> QPixmap | None:
        name = self.names[row]
        if name in self.videos and name in self.problems:
            return None  # not a readable video: the placeholder says so
        path = self.path(name)
        key = ThumbnailLoader.key(path, self.edge)
        pix = self.loader.pixmap(key)
        if pix is None and key not in self.loader.broken:
            self._key_rows[key] = row
            self.loader.request(key, path, self.edge)
        return pix

    def _thumb_ready(self, key: str) -> None:
        row = self._key_rows.pop(key, None)
        if row is not None and row < len(self.names):
            idx = self.index(row)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self.names):
            return None
        name = self.names[index.row()]
        R = Qt.ItemDataRole
        if role == R.DisplayRole:
            return name
        if role in (CaptionRole, R.EditRole):
            c = self.caption(name)
            return c if role == CaptionRole else (c or "")
        if role == MissingRole:
            return self.caption(name) is None
        if role == R.DecorationRole:
            return self.thumbnail(index.row())
        if role == ProblemRole:
            return self.problem(name)
        if role == VideoRole:
            return self.plans.get(name)
        if role == PathRole:
            return self.path(name)
        if role == KindRole:
            return "video" if name in self.videos else "image"
        if role == SizeRole:
            return self.sizes.get(name)
        if role == R.ToolTipRole:
            parts = [f"<b>{name}</b>"]
            size = self.sizes.get(name)
            if size:
                parts.append(f"{size[0]} × {size[1]} px")
            plan = self.plans.get(name)
            if plan is not None:
                parts.append(video_tooltip(plan))
            cap = self.caption(name)
            if cap is None:
                parts.append("<span style='color:#d64545'>No caption file — double-click to "
                             "write one</span>")
            elif cap.strip():
                import html

                parts.append(html.escape(cap.strip()[:400]))
            else:
                parts.append("<i>empty caption</i>")
            why = self.problem(name)
            if why:
                import html as _html
                parts.append(f"<span style='color:#b88600'>{_html.escape(why)}</span>")
            return "<qt>" + "<br>".join(parts) + "</qt>"
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or role != Qt.ItemDataRole.EditRole:
            return False
        name = self.names[index.row()]
        text = "" if value is None else str(value)
        old = self.caption(name)
        if old is None and not text.strip():
            return False  # nothing typed for a missing caption: do not create an empty file
        if old == text:
            return False
        if self.undo_stack is not None:
            cmd = CaptionUndo(self, self.folder, name, old, text)
            if not cmd.ok:
                return False
            self.undo_stack.push(cmd)        # written already; undo puts the old text back
            return True
        return self.write_caption(self.folder, name, text)

    undo_stack = None   # the dataset document's QUndoStack: caption edits are undoable

    def write_caption(self, folder: str, name: str, text: str | None) -> bool:
        """Write (or, for None, remove) the caption of ``name`` in ``folder``."""
        i = name.rfind(".")
        target = os.path.join(folder, (name[:i] if i > 0 else name) + ".txt")
        try:
            if text is None:
                try:
                    os.remove(target)
                except FileNotFoundError:
                    pass
            else:
                atomic_write(Path(target), text.encode("utf-8"))
        except (DocumentError, OSError) as exc:
            self.writeFailed.emit(str(exc))
            return False
        if folder == self.folder:
            self._captions[name] = text
            row = self._rows.get(name)
            if row is not None:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx)
        self.captionWritten.emit(target)
        return True


def video_tooltip(plan) -> str:
    import html

    h = plan.header
    rows = []
    if h.ok:
        head = f"{h.codec or '?'} in {h.container or '?'}"
        if h.duration_s is not None:
            head += f", {h.duration_s:.2f} s"
        rows.append(html.escape(head))
        counted = " (counted by demuxing: the container has no frame count)" \
            if h.frames_from == "packets" else ""
        rows.append(html.escape(f"{h.frames} frames at {h.fps_text or h.fps} fps{counted}"))
        if plan.model_fps and plan.frames is not None:
            rows.append(f"resampled to the model's {plan.model_fps:g} fps: {plan.frames} frames")
        if plan.frame_bucket and not plan.skipped:
            rows.append(html.escape(f"frame bucket {plan.frame_bucket} ({plan.bucket_label})"))
            if plan.clip and plan.frame_bucket > 1:
                rows.append(f"trains frames {plan.clip[0]}–{plan.clip[1] - 1} "
                            f"({plan.trained} frames)")
        if plan.near_miss:
            target = plan.shortest_bucket if plan.status == "too_short" else plan.next_bucket
            rows.append(f"<span style='color:#b88600'>{plan.short_by} frame"
                        f"{'s' if plan.short_by != 1 else ''} short of bucket {target}</span>")
    return "<br>".join(rows)


class CaptionUndo(QUndoCommand):
    """A caption written from the media grid, on the dataset's undo stack."""

    def __init__(self, model: MediaModel, folder: str, name: str, old: str | None, new: str):
        super().__init__(f"Caption of {name}")
        self.model, self.folder, self.name, self.old, self.new = model, folder, name, old, new
        self._first = True
        self.ok = model.write_caption(folder, name, new)

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self.model.write_caption(self.folder, self.name, self.new)

    def undo(self) -> None:
        self.model.write_caption(self.folder, self.name, self.old)


class MediaFilterProxy(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.text = ""
        self.mode = FILTER_ALL

    @property
    def missing_only(self) -> bool:
        return self.mode == FILTER_NO_CAPTION

    def set_filter(self, text: str, mode: int | bool = FILTER_ALL) -> None:
        if mode is True:
            mode = FILTER_NO_CAPTION
        elif mode is False:
            mode = FILTER_ALL

        def change():
            self.text = text.strip().lower()
            self.mode = int(mode)
        if hasattr(self, "beginFilterChange"):
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, row, parent) -> bool:
        if not self.text and self.mode == FILTER_ALL:
            return True
        m = cast(MediaModel, self.sourceModel())
        name = m.names[row]
        if self.mode == FILTER_NO_CAPTION and m.caption(name) is not None:
            return False
        if self.mode == FILTER_SKIPPED and not m.will_skip(name):
            return False
        if self.mode == FILTER_TOO_SHORT:
            p = m.plans.get(name)
            if p is None or p.status != "too_short":
                return False
        if self.mode == FILTER_VIDEOS and name not in m.videos:
            return False
        if self.text:
            cap = m.caption(name) or ""
            return self.text in name.lower() or self.text in cap.lower()
        return True


# ------------------------------------------------------------------ delegate
NEAR_COLOR = QColor("#2f7fb8")


def video_lines(plan) -> tuple[str, str, QColor | None]:
    """The two short lines under a video's name (rate and frames; bucket or why it is
    skipped) and the colour of the second (None: normal text)."""
    h = plan.header
    if plan.status == "unreadable":
        return "unreadable video", "skipped", SKIP_COLOR

    def fps(x):
        return f"{x:g}" if x is not None else "?"
    if plan.status == "no_framerate":
        return f"{fps(h.fps)} fps · {h.frames} frames", "skipped: image model", SKIP_COLOR
    first = f"{fps(h.fps)}→{fps(plan.model_fps)} fps · {h.frames}→{plan.frames} f"
    if plan.status == "too_short":
        return first, f"too short: needs {plan.shortest_bucket}", SKIP_COLOR
    if plan.status == "single_frame":
        return first, "1 frame: trained as a still", SKIP_COLOR
    second = f"bucket {plan.frame_bucket} frames"
    if plan.near_miss:
        return first, second + f" ({plan.short_by} short of {plan.next_bucket})", NEAR_COLOR
    return first, second, None

class CaptionEdit(QPlainTextEdit):
    pass


class MediaDelegate(QStyledItemDelegate):
    PAD = 6

    def __init__(self, view, parent=None):
        super().__init__(parent)
        self.view = view
        self.edge = THUMB_DEFAULT
        self.video_lines = False  # a folder with videos: one more line per tile

    def tile(self) -> QSize:
        fm = QFontMetrics(self.view.font())
        lines = 5 if self.video_lines else 3
        return QSize(self.edge + 2 * self.PAD, self.edge + 2 * self.PAD + fm.height() * lines + 8)

    def sizeHint(self, option, index) -> QSize:
        return self.tile()

    def paint(self, painter: QPainter, option, index) -> None:
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = option.palette
        r = option.rect.adjusted(2, 2, -2, -2)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        missing = bool(index.data(MissingRole))
        problem = index.data(ProblemRole)
        bg = pal.color(QPalette.ColorRole.Highlight) if selected else pal.color(QPalette.ColorRole.Base)
        if selected:
            bg.setAlpha(70)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(r, 6, 6)
        # thumbnail
        box = QRect(r.left() + self.PAD - 2, r.top() + self.PAD - 2, self.edge, self.edge)
        painter.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
        painter.drawRoundedRect(box, 4, 4)
        pix = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(pix, QPixmap) and not pix.isNull():
            ps = pix.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
            target = QRect(0, 0, ps.width(), ps.height())
            target.moveCenter(box.center())
            painter.drawPixmap(target, pix)
        else:
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText))
            kind = index.data(KindRole)
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter,
                             "▶ video" if kind == "video" else "loading…")
        # badges
        if problem:
            b = QRect(box.right() - 22, box.top() + 4, 18, 18)
            icons.warning_icon().paint(painter, b)
        # text
        fm = QFontMetrics(option.font)
        y = box.bottom() + 4
        text_rect = QRect(r.left() + self.PAD, y, r.width() - 2 * self.PAD, fm.height())
        bold = QFont(option.font)
        bold.setBold(True)
        painter.setFont(bold)
        painter.setPen(pal.color(QPalette.ColorRole.HighlightedText if False else QPalette.ColorRole.Text))
        name = index.data(Qt.ItemDataRole.DisplayRole) or ""
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         QFontMetrics(bold).elidedText(name, Qt.TextElideMode.ElideMiddle,
                                                       text_rect.width()))
        painter.setFont(option.font)
        plan = index.data(VideoRole)
        top = text_rect.bottom() + 1
        if self.video_lines:
            if plan is not None:
                first, second, color = video_lines(plan)
                small = QFont(option.font)
                small.setPointSizeF(max(6.0, option.font.pointSizeF() * 0.9))
                sfm = QFontMetrics(small)
                painter.setFont(small)
                for i, (text, pen) in enumerate(((first, None), (second, color))):
                    rect = QRect(text_rect.left(), top + i * fm.height(), text_rect.width(),
                                 fm.height())
                    painter.setPen(pen if pen is not None else pal.color(QPalette.ColorRole.Text))
                    painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                                     sfm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width()))
                painter.setFont(option.font)
            top += 2 * fm.height()
        cap_rect = QRect(text_rect.left(), top, text_rect.width(), fm.height() * 2)
        if missing:
            painter.setPen(MISSING_COLOR)
            painter.drawText(cap_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
                             "✎ no caption")
        else:
            cap = " ".join((index.data(CaptionRole) or "").split())
            painter.setPen(pal.color(QPalette.ColorRole.PlaceholderText) if not cap
                           else pal.color(QPalette.ColorRole.Text).lighter(130)
                           if pal.color(QPalette.ColorRole.Base).lightness() < 128
                           else QColor("#555555"))
            self._two_lines(painter, fm, cap_rect, cap or "(empty caption)")
        # frame: red for a missing caption, orange for a file that will be skipped
        if missing or problem:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(MISSING_COLOR if missing else SKIP_COLOR, 2))
            painter.drawRoundedRect(r.adjusted(1, 1, -1, -1), 6, 6)
        elif selected:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2))
            painter.drawRoundedRect(r.adjusted(1, 1, -1, -1), 6, 6)
        painter.restore()

    def set_video_lines(self, on: bool) -> None:
        self.video_lines = bool(on)

    @staticmethod
    def _two_lines(painter, fm, rect, text) -> None:
        words = text.split(" ")
        line1 = ""
        i = 0
        while i < len(words) and fm.horizontalAdvance((line1 + " " + words[i]).strip()) <= rect.width():
            line1 = (line1 + " " + words[i]).strip()
            i += 1
        if not line1:  # one very long word
            line1 = fm.elidedText(text, Qt.TextElideMode.ElideRight, rect.width())
            rest = ""
        else:
            rest = " ".join(words[i:])
        painter.drawText(QRect(rect.left(), rect.top(), rect.width(), fm.height()),
                         Qt.AlignmentFlag.AlignLeft, line1)
        if rest:
            painter.drawText(QRect(rect.left(), rect.top() + fm.height(), rect.width(), fm.height()),
                             Qt.AlignmentFlag.AlignLeft,
                             fm.elidedText(rest, Qt.TextElideMode.ElideRight, rect.width()))

    # -- editing
    def createEditor(self, parent, option, index):
        ed = CaptionEdit(parent)
        ed.setPlaceholderText("Caption for " + (index.data(Qt.ItemDataRole.DisplayRole) or "")
                              + "  (Enter saves, Shift+Enter new line, Esc cancels)")
        ed.setWordWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        ed.setFrameShape(QPlainTextEdit.Shape.Box)
        ed.installEventFilter(self)
        return ed

    def setEditorData(self, editor, index):
        editor.setPlainText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.moveCursor(editor.textCursor().MoveOperation.End)

    def setModelData(self, editor, model, index):
        model.setData(index, editor.toPlainText(), Qt.ItemDataRole.EditRole)

    def updateEditorGeometry(self, editor, option, index):
        r = option.rect.adjusted(3, 3, -3, -3)
        editor.setGeometry(r)

    def eventFilter(self, obj, event) -> bool:
        from PySide6.QtCore import QEvent

        if isinstance(obj, CaptionEdit) and event.type() == QEvent.Type.KeyPress:
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and \
                    not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                self.commitData.emit(obj)
                self.closeEditor.emit(obj, QStyledItemDelegate.EndEditHint.NoHint)
                return True
        return super().eventFilter(obj, event)


# ------------------------------------------------------------------ widget
class MediaBrowser(QWidget):
    """Filter bar + thumbnail grid."""

    statusMessage = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.model = MediaModel(self)
        self.proxy = MediaFilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.view = QListView(self)
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setLayoutMode(QListView.LayoutMode.Batched)
        self.view.setBatchSize(200)
        self.view.setSpacing(4)
        self.view.setWordWrap(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.delegate = MediaDelegate(self.view, self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setModel(self.proxy)
        self.model.writeFailed.connect(self.statusMessage)
        self.model.captionWritten.connect(
            lambda p: self.statusMessage.emit(f"Caption saved: {p}"))

        self.filter = QLineEdit(self)
        self.filter.setPlaceholderText("Filter by file name or caption")
        self.filter.setClearButtonEnabled(True)
        self.kind_filter = QComboBox(self)
        self.kind_filter.addItems(FILTERS)
        self.kind_filter.setToolTip("Show all files, those without a caption, those diffusion-pipe "
                             "will skip (unreadable, no caption, too short), videos too short "
                             "for every frame bucket, or videos only")
        self.filter.textChanged.connect(self._refilter)
        self.kind_filter.currentIndexChanged.connect(self._refilter)
        self.size = QSlider(Qt.Orientation.Horizontal, self)
        self.size.setRange(80, 320)
        self.size.setValue(THUMB_DEFAULT)
        self.size.setFixedWidth(110)
        self.size.setToolTip("Thumbnail size")
        self.size.valueChanged.connect(self.set_edge)
        self.count = QLabel(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.kind_filter)
        bar.addWidget(QLabel("Size", self))
        bar.addWidget(self.size)
        bar.addWidget(self.count)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 0)
        lay.setSpacing(4)
        lay.addLayout(bar)
        lay.addWidget(self.view, 1)
        self.proxy.modelReset.connect(self._update_count)
        self.proxy.rowsInserted.connect(self._update_count)
        self.proxy.rowsRemoved.connect(self._update_count)
        self._update_count()

    def set_scan(self, scan) -> None:
        self.model.set_scan(scan)
        self._apply_video_lines()
        self._update_count()

    def set_plans(self, plans: dict[str, Any]) -> None:
        self.model.set_plans(plans)
        self._apply_video_lines()
        if self.proxy.mode in (FILTER_SKIPPED, FILTER_TOO_SHORT):
            self._refilter()
        self._update_count()

    def _apply_video_lines(self) -> None:
        on = bool(self.model.videos)
        if on != self.delegate.video_lines:
            self.delegate.set_video_lines(on)
            self.view.setGridSize(QSize())
            self.view.doItemsLayout()

    def set_edge(self, edge: int) -> None:
        self.delegate.edge = edge
        self.model.set_edge(edge)
        self.view.setGridSize(QSize())
        self.view.doItemsLayout()

    def _refilter(self, *_a) -> None:
        self.proxy.set_filter(self.filter.text(), self.kind_filter.currentIndex())
        self._update_count()

    def _update_count(self, *_a) -> None:
        n, total = self.proxy.rowCount(), self.model.rowCount()
        missing = sum(1 for name in self.model.names if self.model._captions.get(name, "") is None)
        text = f"{total:,} files" if n == total else f"{n:,} of {total:,}"
        if missing:
            text += f" · <span style='color:{MISSING_COLOR.name()}'>{missing:,} without caption</span>"
        short = sum(1 for p in self.model.plans.values() if p.status == "too_short")
        if short:
            text += f" · <span style='color:{SKIP_COLOR.name()}'>{short:,} too short</span>"
        self.count.setText(text)

    def select_name(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row < 0:
            return False
        if self.filter.text() or self.kind_filter.currentIndex() != FILTER_ALL:
            self.filter.clear()
            self.kind_filter.setCurrentIndex(FILTER_ALL)
        idx = self.proxy.mapFromSource(self.model.index(row))
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True
