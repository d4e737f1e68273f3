"""The ``[[directory]]`` list: one row per entry with its scan counts, and the
operations on it (add, remove, duplicate, move), each one undoable step through the
dataset session and comment-preserving through ConfigDocument.insert/remove/move.

Drag and drop: rows move within the list (``application/x-dpgui-directory-row``);
folders dropped from a file manager (``text/uri-list``) are added where they land.
"""
from __future__ import annotations

from typing import Any, Callable

import html
import os
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QByteArray, QMimeData, QModelIndex, Qt, QUrl
from PySide6.QtGui import QBrush, QFont, QGuiApplication, QPalette

from dpgui_qt.core.config.document import MISSING, Change
from dpgui_qt.gui import icons
from dpgui_qt.gui.bind import bind

ROW_MIME = "application/x-dpgui-directory-row"
DIR = ("directory",)

COL_PATH, COL_REPEATS, COL_IMAGES, COL_VIDEOS, COL_CAPTIONS, COL_MISSING, COL_PROBLEMS = range(7)
HEADERS = ["Folder", "Repeats", "Images", "Videos", "Captions", "No caption", "Problems"]
TIPS = ["[[directory]] path", "num_repeats: times each file is seen per epoch",
        "Images diffusion-pipe will load", "Videos", ".txt caption files",
        "Media without a caption file", "Scan problems and config findings for this folder"]
RowRole = int(Qt.ItemDataRole.UserRole) + 40
SeverityRole = RowRole + 1


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class DirectoryTableModel(QAbstractTableModel):
    def __init__(self, session, scans, parent=None):
        super().__init__(parent)
        self.session = session
        self.scans = scans
        self._findings: dict[int, list[Any]] = {}
        # problems of a row's last bucket pass; the dataset editor provides them
        self.bucket_problems: Callable[[int], list[Any]] = lambda _row: []
        self._rows = self._count()
        bind(session.changed, self, lambda _c: self.refresh())
        session.documentReplaced.connect(self.refresh)
        session.findingsChanged.connect(self.set_findings)
        scans.resultsChanged.connect(self._scans_changed)

    # ------------------------------------------------------------ structure
    def _dirs(self) -> list[Any]:
        d = self.session.doc.get(DIR)
        return d if isinstance(d, list) else []

    def _count(self) -> int:
        return len(self._dirs())

    def refresh(self) -> None:
        n = self._count()
        if n != self._rows:
            self.beginResetModel()
            self._rows = n
            self.endResetModel()
        elif n:
            self.dataChanged.emit(self.index(0, 0), self.index(n - 1, len(HEADERS) - 1))
        self.set_findings(self.session.findings)

    def _scans_changed(self) -> None:
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(HEADERS) - 1))

    def set_findings(self, findings: list[Any]) -> None:
        by_row: dict[int, list[Any]] = {}
        fname = str(self.session.doc.path) if self.session.doc.path else "<text>"
        for f in findings:
            if f.file not in (None, fname):
                continue
            p = f.path
            if len(p) >= 2 and p[0] == "directory" and isinstance(p[1], int):
                by_row.setdefault(p[1], []).append(f)
        self._findings = by_row
        if self._rows:
            self.dataChanged.emit(self.index(0, COL_PATH), self.index(self._rows - 1, COL_PROBLEMS))

    def findings_for(self, row: int) -> list[Any]:
        return list(self._findings.get(row, []))

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return TIPS[section]
            if role == Qt.ItemDataRole.TextAlignmentRole and section != COL_PATH:
                return int(Qt.AlignmentFlag.AlignCenter)
        elif role == Qt.ItemDataRole.DisplayRole:
            return str(section + 1)
        return None

    # ------------------------------------------------------------ values
    def entry(self, row: int) -> dict[str, Any]:
        d = self._dirs()
        return d[row] if 0 <= row < len(d) and isinstance(d[row], dict) else {}

    def problems(self, row: int) -> tuple[str | None, list[tuple[str, str]]]:
        """Worst severity and [(severity, message)] from scan problems and findings."""
        out: list[tuple[str, str]] = []
        scan = self.scans.result(row)
        if scan is not None:
            out += [(p.severity, p.message if not p.count else f"{p.message} ({p.count})")
                    for p in scan.problems if p.severity != "info"]
        out += [(f.severity, f"{f.key}: {f.message}") for f in self._findings.get(row, [])]
        # the bucket pass's video findings (too short, empty frame buckets, ...)
        out += [(p.severity, p.message) for p in self.bucket_problems(row)
                if p.severity != "info"]
        sev = None
        if any(s == "error" for s, _m in out):
            sev = "error"
        elif out:
            sev = "warning"
        return sev, out

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        R = Qt.ItemDataRole
        e = self.entry(row)
        scan = self.scans.result(row)
        state = self.scans.state(row)
        if role == RowRole:
            return row
        if role == R.DisplayRole:
            if col == COL_PATH:
                p = e.get("path")
                if not isinstance(p, str) or not p.strip():
                    return "(no path)"
                parent, name = os.path.split(p.rstrip("/\\") or p)
                return f"{name}   ({parent})" if name and parent else p
            if col == COL_REPEATS:
                v = e.get("num_repeats", MISSING)
                if v is MISSING:
                    top = self.session.doc.get(("num_repeats",))
                    return f"{top if top is not MISSING else 1}"
                return f"{v}"
            if col == COL_PROBLEMS:
                if state == "scanning":
                    return "scanning…"
                if state == "pending" and scan is None:
                    return "waiting…"
                if state == "cancelled" and scan is None:
                    return "not scanned"
                sev, found = self.problems(row)
                if not found:
                    return "cancelled" if scan is not None and scan.cancelled else "OK"
                e_n = sum(1 for s, _ in found if s == "error")
                w_n = len(found) - e_n
                parts = ([_plural(e_n, "error")] if e_n else []) + \
                        ([_plural(w_n, "warning")] if w_n else [])
                return ", ".join(parts)
            if scan is None:
                return "…" if state in ("scanning", "pending") else "–"
            if not scan.exists:
                return "–"
            n = {COL_IMAGES: len(scan.images), COL_VIDEOS: len(scan.videos),
                 COL_CAPTIONS: len(scan.captions),
                 COL_MISSING: len(scan.missing_captions)}.get(col)
            return f"{n:,}" if n is not None else None
        if role == R.EditRole:
            if col == COL_REPEATS:
                v = e.get("num_repeats", MISSING)
                return None if v is MISSING else v
            return self.data(index, R.DisplayRole)
        if role == R.DecorationRole:
            if col == COL_PATH:
                return icons.themed("folder")
            if col == COL_PROBLEMS:
                if state in ("scanning", "pending") and scan is None:
                    return None
                sev, found = self.problems(row)
                return icons.severity_icon(sev) if sev else (icons.ok_icon() if scan else None)
            return None
        if role == R.TextAlignmentRole:
            if col in (COL_PATH, COL_PROBLEMS):
                return int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == R.FontRole:
            if col == COL_REPEATS and "num_repeats" not in e:
                f = QFont()
                f.setItalic(True)
                return f
            if col == COL_MISSING and scan is not None and scan.missing_captions:
                f = QFont()
                f.setBold(True)
                return f
            return None
        if role == R.ForegroundRole:
            pal = QGuiApplication.palette()
            if col == COL_REPEATS and "num_repeats" not in e:
                return QBrush(pal.color(QPalette.ColorRole.PlaceholderText))
            if col == COL_MISSING and scan is not None and scan.missing_captions:
                return QBrush(icons.WARNING_COLOR.darker(130))
            if col == COL_PROBLEMS:
                sev = self.problems(row)[0]
                if sev == "error":
                    return QBrush(icons.ERROR_COLOR)
            if col == COL_PATH and scan is not None and not scan.exists:
                return QBrush(icons.ERROR_COLOR)
            return None
        if role == SeverityRole:
            return self.problems(row)[0]
        if role == R.ToolTipRole:
            return self._tooltip(row, col, e, scan)
        return None

    def _tooltip(self, row, col, e, scan) -> str:
        if col == COL_REPEATS:
            if "num_repeats" in e:
                return "num_repeats set for this folder (overrides the dataset's)"
            return "Inherited from the dataset (set it here to override for this folder)"
        lines = [f"<b>[[directory]] {row + 1}</b>: {html.escape(str(e.get('path', '')))}"]
        if scan is not None:
            if scan.path and scan.path != e.get("path"):
                lines.append(f"Resolved: {html.escape(scan.path)}")
            if scan.exists:
                c = scan.counts()
                lines.append(f"{c['images']:,} images, {c['videos']:,} videos, "
                             f"{c['captions']:,} captions, {c['missing_captions']:,} without "
                             f"caption, {len(scan.trainable()):,} will train")
        sev, found = self.problems(row)
        for s, msg in found[:8]:
            color = "#d64545" if s == "error" else "#b88600"
            lines.append(f"<span style='color:{color}'>{s}:</span> {html.escape(msg)}")
        if len(found) > 8:
            lines.append(f"… and {len(found) - 8} more (see the Problems tab)")
        return "<qt>" + "<br>".join(lines) + "</qt>"

    def flags(self, index):
        base = Qt.ItemFlag.ItemIsDropEnabled
        if not index.isValid():
            return base
        f = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        if index.column() == COL_REPEATS:
            f |= Qt.ItemFlag.ItemIsEditable
        return f

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != COL_REPEATS or role != Qt.ItemDataRole.EditRole:
            return False
        path = DIR + (index.row(), "num_repeats")
        if value in (None, ""):
            return self.session.reset(path)
        try:
            num = float(value)
        except (TypeError, ValueError):
            return False
        if num <= 0:
            return False
        return self.session.set_value(path, int(num) if num.is_integer() else num)

    # ------------------------------------------------------------ operations
    def _multi(self, label: str, steps) -> bool:
        """Several document edits as one undo step."""
        def fn(doc):
            before = doc.text
            for step in steps:
                step(doc)
            return Change("edit", DIR, before, doc.text)
        return self.session.edit(label, fn, DIR)

    def add_directories(self, folders: list[str], row: int | None = None) -> bool:
        folders = [str(f) for f in folders if f]
        if not folders:
            return False
        at = self._rows if row is None or row < 0 else min(row, self._rows)
        steps = [lambda d, i=at + k, f=f: d.insert(DIR, i, {"path": f})
                 for k, f in enumerate(folders)]
        label = (f"Add directory {Path(folders[0]).name}" if len(folders) == 1
                 else f"Add {len(folders)} directories")
        return self._multi(label, steps)

    def remove_rows(self, rows: list[int]) -> bool:
        rows = sorted({r for r in rows if 0 <= r < self._rows}, reverse=True)
        if not rows:
            return False
        steps = [lambda d, r=r: d.remove(DIR, r) for r in rows]
        label = (f"Remove directory {Path(str(self.entry(rows[0]).get('path', ''))).name or rows[0] + 1}"
                 if len(rows) == 1 else f"Remove {len(rows)} directories")
        return self._multi(label, steps)

    def duplicate_row(self, row: int) -> bool:
        if not 0 <= row < self._rows:
            return False
        values = dict(self.entry(row))
        return self.session.edit("Duplicate directory",
                                 lambda d: d.insert(DIR, row + 1, values), DIR)

    def move_row(self, src: int, dst: int) -> bool:
        if not (0 <= src < self._rows and 0 <= dst < self._rows) or src == dst:
            return False
        word = "up" if dst < src else "down"
        return self.session.edit(f"Move directory {word}", lambda d: d.move(DIR, src, dst), DIR)

    # ------------------------------------------------------------ drag & drop
    def supportedDropActions(self):
        return Qt.DropAction.MoveAction | Qt.DropAction.CopyAction | Qt.DropAction.LinkAction

    def supportedDragActions(self):
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [ROW_MIME, "text/uri-list"]

    def mimeData(self, indexes) -> QMimeData:
        rows = sorted({i.row() for i in indexes if i.isValid()})
        mime = QMimeData()
        if rows:
            mime.setData(ROW_MIME, QByteArray(str(rows[0]).encode()))
        return mime

    @staticmethod
    def folders_in(mime: QMimeData) -> list[str]:
        out = []
        for url in mime.urls() if mime.hasUrls() else []:
            if isinstance(url, QUrl) and url.isLocalFile():
                p = url.toLocalFile()
                if os.path.isdir(p):
                    out.append(os.path.normpath(p))
        return out

    def canDropMimeData(self, mime, action, row, column, parent) -> bool:
        if mime.hasFormat(ROW_MIME):
            return True
        return bool(self.folders_in(mime))

    def dropMimeData(self, mime, action, row, column, parent) -> bool:
        if action == Qt.DropAction.IgnoreAction:
            return True
        if row < 0:
            row = parent.row() if parent.isValid() else self._rows
        if mime.hasFormat(ROW_MIME):
            try:
                src = int(bytes(mime.data(ROW_MIME).data()).decode())
            except ValueError:
                return False
            dst = row if row <= src else row - 1  # the row is removed before it is put back
            dst = max(0, min(dst, self._rows - 1))
            self.move_row(src, dst)
            self.last_drop_row = dst
            return False  # the document moved it; the view must not remove a row itself
        folders = self.folders_in(mime)
        if not folders:
            return False
        self.last_drop_row = row
        return self.add_directories(folders, row)
