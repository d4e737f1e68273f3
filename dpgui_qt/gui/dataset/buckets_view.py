"""Bucket preview: which aspect-ratio bucket each image lands in, per resolution.

Sizes come from the scan's header pass (no pixels are decoded); the buckets and the
assignment are the core's (:mod:`dpgui_qt.core.dataset.buckets`), which mirrors
diffusion-pipe. :class:`BucketHistogram` is a small QPainter bar chart (horizontal
bars, one section per resolution; buckets the config defines but no image fills are
drawn empty, buckets under the global batch in orange).
"""
from __future__ import annotations

from collections import defaultdict

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QScrollArea, QSizePolicy,
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


def histogram_sections(dbs: list, global_batch=None) -> list:
    """Sections for :class:`BucketHistogram` from DirectoryBuckets (merged when several).

    Every bucket the config defines is listed (frame count 1), filled or not."""
    per_res: dict = defaultdict(lambda: defaultdict(int))
    ars: dict = {}
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
        area = QScrollArea(self)
        area.setWidgetResizable(True)
        area.setFrameShape(QScrollArea.Shape.NoFrame)
        holder = QWidget(area)
        hl = QVBoxLayout(holder)
        hl.setContentsMargins(0, 0, 0, 0)
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

    def show_buckets(self, dbs: list, describe: str, global_batch=None) -> None:
        self.info.setText(describe)
        self.chart.set_sections(histogram_sections(dbs, global_batch) if dbs else [])


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
    if overridden:
        parts.append("<span style='color:#2f7fb8'>overridden in this folder: "
                     + ", ".join(overridden) + "</span>")
    extra = []
    if db.unsized:
        extra.append(f"{len(db.unsized)} images without a readable size are not shown")
    if db.videos_unknown_frames:
        extra.append(f"{len(db.videos_unknown_frames)} videos are not shown (frame counts "
                     "are not read)")
    if db.skipped:
        n = len(db.skipped)
        extra.append(f"{n} file{'s' if n != 1 else ''} that will be skipped "
                     f"{'are' if n != 1 else 'is'} not counted")
    text = " · ".join(parts)
    if extra:
        text += "<br><span style='color:gray'>" + "; ".join(extra) + ".</span>"
    return text
