"""Bucket preview: which aspect-ratio bucket each image lands in, per resolution.

Sizes come from the scan's header pass (no pixels are decoded); the buckets and the
assignment are the core's (:mod:`dpgui_qt.core.dataset.buckets`), which mirrors
diffusion-pipe. :class:`BucketHistogram` is a small QPainter bar chart (horizontal
bars, one section per resolution; buckets the config defines but no image fills are
drawn empty, buckets under the global batch in orange). For video datasets
:class:`FrameMatrix` adds the second dimension: files per aspect ratio x frame bucket
(1 = images), with frame buckets no video reaches marked.
"""
from __future__ import annotations

from typing import Any

from collections import defaultdict

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel,
                               QScrollArea, QSizePolicy, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

BAR_COLOR = QColor("#3d7fd6")
LOW_COLOR = QColor("#e0a100")


class BucketHistogram(QWidget):
    """sections: [(title, [(label, count, low: bool)])]"""

    ROW = 20
    HEAD = 26

    def __init__(self, parent=None):
        super().__init__(parent)
        self.sections: list[tuple[str, list[tuple[str, int, bool]]]] = []
        self.empty_text = "No sizes yet: scan the folder to see the buckets."
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def set_sections(self, sections) -> None:
        self.sections = sections
        self.updateGeometry()
        self.setMinimumHeight(self.sizeHint().height())
        self.update()

    def sizeHint(self) -> QSize:
        rows = sum(len(s[1]) for s in self.sections)
        h = len(self.sections) * (self.HEAD + 8) + rows * self.ROW + 8
        return QSize(420, max(h, 60))

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pal = self.palette()
        text = pal.color(QPalette.ColorRole.Text)
        dim = pal.color(QPalette.ColorRole.PlaceholderText)
        if not self.sections:
            p.setPen(dim)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        fm = QFontMetrics(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        labels = [lab for _t, rows in self.sections for lab, _n, _l in rows]
        label_w = max((fm.horizontalAdvance(s) for s in labels), default=60) + 12
        counts = [n for _t, rows in self.sections for _lab, n, _l in rows]
        biggest = max(counts, default=1) or 1
        count_w = fm.horizontalAdvance(f"{biggest:,}") + 10
        x0 = 8 + label_w
        bar_w = max(40, self.width() - x0 - count_w - 12)
        y = 6
        for title, rows in self.sections:
            p.setFont(bold)
            p.setPen(text)
            p.drawText(QRectF(8, y, self.width() - 16, self.HEAD - 6),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, title)
            total = sum(n for _lab, n, _l in rows)
            p.setFont(self.font())
            p.setPen(dim)
            p.drawText(QRectF(8, y, self.width() - 16, self.HEAD - 6),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                       f"{total:,} file{'s' if total != 1 else ''} in {sum(1 for r in rows if r[1])} "
                       f"of {len(rows)} buckets")
            y += self.HEAD
            for lab, n, low in rows:
                p.setPen(text if n else dim)
                p.drawText(QRectF(8, y, label_w - 8, self.ROW),
                           Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, lab)
                track = QRectF(x0, y + 3, bar_w, self.ROW - 6)
                p.setPen(Qt.PenStyle.NoPen)
                p.setBrush(pal.color(QPalette.ColorRole.AlternateBase))
                p.drawRoundedRect(track, 3, 3)
                if n:
                    w = max(3.0, bar_w * n / biggest)
                    p.setBrush(LOW_COLOR if low else BAR_COLOR)
                    p.drawRoundedRect(QRectF(x0, y + 3, w, self.ROW - 6), 3, 3)
                p.setPen(LOW_COLOR.darker(120) if low and n else (text if n else dim))
                p.drawText(QRectF(x0 + bar_w + 6, y, count_w, self.ROW),
                           Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{n:,}")
                y += self.ROW
            y += 8
        p.end()


def _res_title(res) -> str:
    r = float(res)
    side = int(r) if r.is_integer() else round(r, 1)
    return f"Resolution {side} (≈{side}×{side} px area)"


def histogram_sections(dbs: list[Any], global_batch=None) -> list[Any]:
    """Sections for :class:`BucketHistogram` from DirectoryBuckets (merged when several).

    Every bucket the config defines is listed (frame count 1), filled or not."""
    per_res: dict[str, Any] = defaultdict(lambda: defaultdict(int))
    ars: dict[Any, Any] = {}
    for db in dbs:
        fixed = db.config.size_buckets is not None
        for b in db.config.all_buckets():
            if b.frames != 1 and not fixed:
                continue
            key = (b.width, b.height)
            rk = "size" if fixed else b.resolution
            per_res[rk][key] += 0
            ars.setdefault((rk, key), b.ar)
        for b, n in db.counts.items():
            key = (b.width, b.height)
            rk = "size" if fixed else b.resolution
            per_res[rk][key] += n
            ars.setdefault((rk, key), b.ar)
    out = []
    for res in sorted(per_res, key=lambda r: -1 if r == "size" else (r or 0)):
        if res == "size":
            title = "Fixed sizes (size_buckets)"
        else:
            title = _res_title(res or 0)
        rows = []
        for (w, h), n in sorted(per_res[res].items(), key=lambda kv: kv[0][0] / kv[0][1]):
            ar = ars.get((res, (w, h)))
            lab = f"{w}×{h}" + (f"  ar {ar:.2f}" if ar is not None else "")
            low = bool(global_batch) and 0 < n < global_batch
            rows.append((lab, n, low))
        out.append((title, rows))
    return out


def frame_matrix(dbs: list[Any]) -> tuple[list[str], list[int], list[list[int]]]:
    """(row labels, frame buckets, counts[row][col]): files per aspect-ratio bucket
    (or fixed size) and frame bucket, over the given DirectoryBuckets. An AR bucket is
    counted once, not once per resolution. Every configured bucket is a row/column."""
    rows: dict[str, Any] = {}
    cols: set[int] = set()
    counts: dict[tuple[str, int], int] = defaultdict(int)

    def row_key(b, fixed):
        if fixed or b.ar is None:
            return (b.width / b.height, f"{b.width}×{b.height}")
        return (b.ar, f"ar {b.ar:.2f}")
    for db in dbs:
        fixed = db.config.size_buckets is not None
        for b in db.config.all_buckets():
            k = row_key(b, fixed)
            rows[k[1]] = k[0]
            cols.add(int(b.frames))
        seen = set()
        for b, n in db.counts.items():
            k = row_key(b, fixed)
            if not fixed and (k[1], b.frames) in seen:
                continue  # the same AR bucket at another resolution
            seen.add((k[1], b.frames))
            rows[k[1]] = k[0]
            cols.add(int(b.frames))
            counts[(k[1], int(b.frames))] += n
    labels = sorted(rows, key=lambda lab: rows[lab])
    frames = sorted(cols)
    return labels, frames, [[counts.get((lab, f), 0) for f in frames] for lab in labels]


class FrameMatrix(QTableWidget):
    """Files per aspect ratio (rows) x frame bucket (columns)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.setSizeAdjustPolicy(QAbstractItemView.SizeAdjustPolicy.AdjustToContents)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.empty_frames: list[int] = []

    def set_matrix(self, labels: list[str], frames: list[int], counts: list[list[int]],
                   global_batch=None) -> None:
        self.clear()
        self.setRowCount(len(labels) + 1)
        self.setColumnCount(len(frames))
        totals = [sum(counts[r][c] for r in range(len(labels))) for c in range(len(frames))]
        self.empty_frames = [f for f, t in zip(frames, totals) if f > 1 and t == 0]
        for c, f in enumerate(frames):
            head = QTableWidgetItem("images (1)" if f == 1 else f"{f} frames")
            if f in self.empty_frames:
                head.setForeground(LOW_COLOR.darker(120))
                head.setToolTip(f"No video reaches frame bucket {f}: it stays empty.")
            self.setHorizontalHeaderItem(c, head)
        for r, lab in enumerate(labels):
            self.setVerticalHeaderItem(r, QTableWidgetItem(lab))
            for c in range(len(frames)):
                n = counts[r][c]
                it = QTableWidgetItem(f"{n:,}" if n else "·")
                it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if n and global_batch and n < global_batch:
                    it.setForeground(LOW_COLOR.darker(120))
                    it.setToolTip(f"{n} < global batch {global_batch}: dropped each epoch")
                elif not n:
                    it.setForeground(self.palette().color(QPalette.ColorRole.PlaceholderText))
                self.setItem(r, c, it)
        self.setVerticalHeaderItem(len(labels), QTableWidgetItem("total"))
        for c, t in enumerate(totals):
            it = QTableWidgetItem(f"{t:,}")
            it.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            font = it.font()
            font.setBold(True)
            it.setFont(font)
            if frames[c] in self.empty_frames:
                it.setForeground(LOW_COLOR.darker(120))
            self.setItem(len(labels), c, it)
        self.setFixedHeight(self.horizontalHeader().height()
                            + sum(self.rowHeight(r) for r in range(self.rowCount())) + 4)


class BucketPanel(QWidget):
    """Scope selector, a line on where the buckets come from, and the histogram."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.scope = QComboBox(self)
        self.scope.addItems(["Selected folder", "Whole dataset"])
        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        self.chart = BucketHistogram(self)
        self.matrix_title = QLabel(self)
        self.matrix_title.setTextFormat(Qt.TextFormat.RichText)
        self.matrix = FrameMatrix(self)
        area = QScrollArea(self)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        holder = QWidget(area)
        hl = QVBoxLayout(holder)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.addWidget(self.matrix_title)
        hl.addWidget(self.matrix)
        hl.addWidget(self.chart)
        hl.addStretch(1)
        area.setWidget(holder)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(QLabel("Show", self))
        top.addWidget(self.scope)
        top.addStretch(1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 6, 4, 0)
        lay.addLayout(top)
        lay.addWidget(self.info)
        lay.addWidget(area, 1)

    def show_buckets(self, dbs: list[Any], describe: str, global_batch=None) -> None:
        self.info.setText(describe)
        self.chart.set_sections(histogram_sections(dbs, global_batch) if dbs else [])
        labels, frames, counts = frame_matrix(dbs) if dbs else ([], [], [])
        video = any(f > 1 for f in frames) or any(db.video_plans for db in dbs)
        self.matrix.setVisible(video)
        self.matrix_title.setVisible(video)
        if video:
            self.matrix.set_matrix(labels, frames, counts, global_batch)
            rates = {db.framerate.fps for db in dbs if db.framerate is not None}
            rate = ", ".join(f"{r:g}" for r in sorted(x for x in rates if x)) or "?"
            self.matrix_title.setText(
                f"<b>Aspect ratio × frame bucket</b> (files; videos at the model's {rate} fps)")


def describe_config(db, overridden: list[str]) -> str:
    """One paragraph: where the buckets of a directory come from."""
    cfg = db.config
    s = db.settings
    if cfg.size_buckets is not None:
        src = f"size_buckets ({len(cfg.size_buckets)} fixed sizes)"
    elif not cfg.enable_ar_bucket:
        src = "square only (enable_ar_bucket is off)"
    elif s.get("ar_buckets"):
        src = f"ar_buckets ({len(cfg.ars)} ratios)"
    else:
        src = (f"{len(cfg.ars)} ratios from min_ar {s.get('min_ar')} to max_ar {s.get('max_ar')}")
    res = ", ".join(str(int(r) if float(r).is_integer() else round(r, 1)) for r in cfg.resolutions)
    parts = [f"<b>Aspect ratios:</b> {src}", f"<b>Resolutions:</b> {res or '—'}",
             f"<b>Sizes rounded to</b> {cfg.round_to} px"]
    if len(cfg.frame_buckets) > 1 and cfg.size_buckets is None:
        parts.append("<b>Frame buckets:</b> " + ", ".join(str(f) for f in cfg.frame_buckets))
    if overridden:
        parts.append("<span style='color:#2f7fb8'>overridden in this folder: "
                     + ", ".join(overridden) + "</span>")
    extra = []
    if db.unsized:
        extra.append(f"{len(db.unsized)} images without a readable size are not shown")
    if db.videos_unknown_frames:
        extra.append(f"{len(db.videos_unknown_frames)} videos are not shown (frame counts "
                     "are not read)")
    short = sum(1 for p in db.video_plans.values() if p.status == "too_short")
    if short:
        extra.append(f"{short} video{'s are' if short != 1 else ' is'} too short for every "
                     "frame bucket")
    if db.video_plans and db.framerate is not None and db.framerate.fps:
        fr = db.framerate
        parts.append(f"<b>Videos at</b> {fr.fps:g} fps"
                     + (" <span style='color:#b88600'>(assumed)</span>" if fr.assumed else "")
                     + f", clip mode {db.clip_mode}")
    if db.skipped:
        n = len(db.skipped)
        extra.append(f"{n} file{'s' if n != 1 else ''} that will be skipped "
                     f"{'are' if n != 1 else 'is'} not counted")
    text = " · ".join(parts)
    if extra:
        text += "<br><span style='color:gray'>" + "; ".join(extra) + ".</span>"
    return text
