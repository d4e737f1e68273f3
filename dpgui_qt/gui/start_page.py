"""The start page: what the Config tab shows while no file is open.

It leads a new user to a first run: start a config from a model template, open
one, reopen a recent file, start from one of diffusion-pipe's own examples (when a
checkout is known), and set up diffusion-pipe itself -- where its checkout and
DeepSpeed are, explained in words, with a button to choose them.

Entries are a plain list, grouped by section.  Other parts of dpgui add their own
with :meth:`StartPage.add_entry` (e.g. presets)::

    window.start_page.add_entry(StartEntry("Start", "From a preset…",
                                           "A tested config for a common setup.", callback))
"""
from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QPushButton,
                               QScrollArea, QSizePolicy, QVBoxLayout, QWidget)

from dpgui_qt.gui import icons

SECTIONS = ("Start", "Recent", "Examples from diffusion-pipe", "Set up diffusion-pipe")
DP_URL = "https://github.com/tdrussell/diffusion-pipe"
MAX_RECENT = 6
MAX_EXAMPLES = 8


class _Column(QWidget):
    """The centred column: its minimum height is the height its wrapped text needs at
    the width it has (not at its narrowest), so no needless scroll bar appears."""

    def minimumSizeHint(self):
        hint = super().minimumSizeHint()
        w = self.minimumWidth()
        if w > 0 and self.layout() is not None and self.layout().hasHeightForWidth():
            hint.setHeight(self.layout().heightForWidth(w))
            hint.setWidth(w)
        return hint


class EntryButton(QFrame):
    """One clickable entry: an icon, a bold title and a wrapped description.  Works
    from the keyboard (Tab to it, Enter or Space) like a button."""
    clicked = Signal()

    def __init__(self, title: str, description: str, icon=None, parent=None):
        super().__init__(parent)
        self.setObjectName("StartEntry")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setStyleSheet("#StartEntry { border: 1px solid transparent; border-radius: 6px; }"
                           "#StartEntry:hover, #StartEntry:focus { border-color: palette(highlight);"
                           " background: palette(alternate-base); }")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(8, 6, 8, 6)
        lay.setSpacing(10)
        self.icon = QLabel(self)
        self.icon.setFixedWidth(24)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignHCenter)
        if icon is not None and not icon.isNull():
            self.icon.setPixmap(icon.pixmap(20, 20))
        lay.addWidget(self.icon)
        col = QVBoxLayout()
        col.setSpacing(1)
        self.title = QLabel(title, self)
        f = QFont(self.title.font())
        f.setBold(True)
        self.title.setFont(f)
        self.title.setStyleSheet("color: palette(link);")
        self.title.setWordWrap(True)
        self.description = QLabel(description, self)
        self.description.setWordWrap(True)
        col.addWidget(self.title)
        if description:
            col.addWidget(self.description)
        else:
            self.description.hide()
        lay.addLayout(col, 1)
        self.setAccessibleName(title)
        self.setAccessibleDescription(description)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    def click(self) -> None:
        self.clicked.emit()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self.rect().contains(
                event.position().toPoint()):
            self.clicked.emit()
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            self.clicked.emit()
            return
        super().keyPressEvent(event)


@dataclass
class StartEntry:
    section: str                      # one of SECTIONS (or a new one, shown after them)
    title: str
    description: str
    callback: Callable[[], object]
    icon: str | None = None           # an icons.themed() name
    name: str = ""                    # stable id for tests and for replacing an entry


class StartPage(QWidget):
    """The Config tab's content while nothing is open."""
    changed = Signal()

    def __init__(self, window, parent=None):
        super().__init__(parent)
        self.setObjectName("StartPage")
        self.window_ = window
        self._extra: list[StartEntry] = []
        self.entries: list[StartEntry] = []
        self.buttons: dict[str, EntryButton] = {}
        self.setup_state: dict[str, Any] = {}
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer.addWidget(self.scroll_area)
        self._body = None
        # built when first shown (a window opened on a file never builds it); the setup
        # check reads settings and the file system, so it runs after the first paint
        self.setup_state = {"pending": True}
        self._built = False

    # ------------------------------------------------------------ entries
    def add_entry(self, entry: StartEntry) -> None:
        self._extra = [e for e in self._extra if not (entry.name and e.name == entry.name)]
        self._extra.append(entry)
        if self._built:
            self.rebuild(detect=not self.setup_state.get("pending"))

    def default_entries(self) -> list[StartEntry]:
        w = self.window_
        out = [
            StartEntry("Start", "New config from a template…",
                       "Pick a model type (Wan, Flux, SDXL and 21 more), what to train and how "
                       "much GPU memory you have; a preset for that memory fills in float8, "
                       "block swapping and the other memory settings. You get a commented "
                       "config; replace the example paths marked as placeholders with your "
                       "own.", lambda: w.new_file(), "new", "new"),
            StartEntry("Start", "Open a config…",
                       "A diffusion-pipe training config (TOML) you already have; its dataset "
                       "config opens beside it.", lambda: w.open_dialog(), "open", "open"),
        ]
        from dpgui_qt.gui import settings as st
        for f in st.recent_files()[:MAX_RECENT]:
            p = Path(f)
            out.append(StartEntry("Recent", p.name, str(p.parent),
                                  functools.partial(w.open_file, f), None, f"recent:{f}"))
        co = self.setup_state.get("checkout")
        if co:
            for ex in _examples(Path(co))[:MAX_EXAMPLES]:
                out.append(StartEntry(
                    "Examples from diffusion-pipe", ex.name,
                    f"Start from diffusion-pipe's {ex.relative_to(co).as_posix()} (opens as a "
                    "new, unsaved config; the original is not changed).",
                    functools.partial(w.new_from_example, ex), None, f"example:{ex.name}"))
        return out

    # ------------------------------------------------------------ building
    def rebuild(self, detect: bool = True) -> None:
        self._built = True
        self.setup_state = _setup_state() if detect else {"pending": True}
        self.entries = self.default_entries() + list(self._extra)
        body = QWidget(self)
        col = QVBoxLayout(body)
        col.setContentsMargins(24, 20, 24, 20)
        col.setSpacing(6)
        inner = _Column(body)
        lay = QVBoxLayout(inner)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        title = QLabel("Train with diffusion-pipe", inner)
        f = QFont(title.font())
        f.setPointSizeF(f.pointSizeF() * 1.6)
        f.setBold(True)
        title.setFont(f)
        lay.addWidget(title)
        intro = QLabel("Make a training config, point it at your model and your images, and "
                       "start. dpgui checks everything diffusion-pipe will read before it "
                       "starts, so a mistake shows up in seconds, not after minutes of model "
                       "loading.", inner)
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.buttons = {}
        sections = list(SECTIONS) + [e.section for e in self.entries if e.section not in SECTIONS]
        for section in dict.fromkeys(sections):
            items = [e for e in self.entries if e.section == section]
            if section == "Set up diffusion-pipe":
                lay.addWidget(self._section_label(section, inner))
                lay.addWidget(self._setup_box(inner))
                continue
            if not items:
                continue
            lay.addWidget(self._section_label(section, inner))
            for e in items:
                b = EntryButton(e.title, e.description,
                                icons.themed(e.icon) if e.icon else None, inner)
                b.clicked.connect(lambda e=e: e.callback())
                b.setToolTip(e.description)
                lay.addWidget(b)
                self.buttons[e.name or e.title] = b
        lay.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(inner)
        row.addStretch(1)
        col.addLayout(row)
        col.addStretch(1)
        self._inner = inner
        self._fit_width()
        old = self.scroll_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.scroll_area.setWidget(body)
        self._body = body
        self.changed.emit()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._built:
            self.rebuild(detect=False)
        if self.setup_state.get("pending"):
            QTimer.singleShot(50, self, self._rebuild_if_pending)

    def _rebuild_if_pending(self) -> None:
        if self.setup_state.get("pending"):
            self.rebuild()

    def _fit_width(self) -> None:
        """A fixed column width, so wrapped text gets the height it needs (labels with
        word wrap are laid out for the width they will really have)."""
        inner = getattr(self, "_inner", None)
        if inner is not None:
            # the scroll area's width, not the viewport's: a vertical scroll bar that is
            # only there because of a too-narrow first layout must not stay
            avail = self.scroll_area.width() - self.scroll_area.verticalScrollBar().sizeHint().width()
            width = max(320, min(820, avail - 48))
            if inner.width() != width or inner.minimumWidth() != width:
                inner.setFixedWidth(width)
                if self._body is not None:
                    self._body.adjustSize()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit_width()

    def _section_label(self, text: str, parent) -> QLabel:
        lab = QLabel(text, parent)
        f = QFont(lab.font())
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        lab.setFont(f)
        lab.setContentsMargins(0, 14, 0, 2)
        return lab

    def _setup_box(self, parent) -> QWidget:
        box = QFrame(parent)
        box.setObjectName("SetupBox")
        box.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QVBoxLayout(box)
        s = self.setup_state
        self.setup_label = QLabel(box)
        self.setup_label.setObjectName("SetupStatus")
        self.setup_label.setWordWrap(True)
        self.setup_label.setTextFormat(Qt.TextFormat.RichText)
        self.setup_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                                 | Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.setup_label.setOpenExternalLinks(True)
        self.setup_label.setText(setup_html(s))
        lay.addWidget(self.setup_label)
        row = QHBoxLayout()
        self.setup_btn = QPushButton("Choose Folders…" if not s.get("ready") else "Change…", box)
        self.setup_btn.setToolTip("Where diffusion-pipe and its Python environment are, and "
                                  "how many GPUs to use")
        self.setup_btn.clicked.connect(lambda: self.window_.edit_environment())
        again = QPushButton("Look Again", box)
        again.setToolTip("Check again for diffusion-pipe and DeepSpeed")
        again.clicked.connect(lambda: self.rebuild())
        self.setup_btn.setEnabled(not s.get("pending"))
        self.doctor_btn = QPushButton("Check the Environment…", box)
        self.doctor_btn.setToolTip("Run the doctor: Python, PyTorch and its CUDA build against "
                                   "your GPUs, DeepSpeed, flash-attn, the checkout's submodules "
                                   "and free disk, each problem with its fix")
        self.doctor_btn.clicked.connect(lambda: self._doctor())
        row.addWidget(self.setup_btn)
        row.addWidget(self.doctor_btn)
        row.addWidget(again)
        row.addStretch(1)
        lay.addLayout(row)
        return box

    def _doctor(self) -> None:
        from dpgui_qt.gui.run.doctor_dialog import show_doctor

        self.doctor = show_doctor(self.window_)


def _examples(checkout: Path) -> list[Path]:
    ex = checkout / "examples"
    try:
        files = sorted(p for p in ex.glob("*.toml") if p.is_file())
    except OSError:
        return []
    # main configs first (dataset examples are opened from a main config's Dataset tab)
    return sorted(files, key=lambda p: ("dataset" in p.name, p.name))


def _setup_state() -> dict[str, Any]:
    """Where diffusion-pipe and DeepSpeed are, from the Run settings (no exceptions)."""
    try:
        from dpgui_qt.gui.run.launch_settings import EnvSettings, detect
        env = EnvSettings.load()
        d = detect(env)
        return {"checkout": d.checkout, "deepspeed": d.deepspeed,
                "checkout_setting": env.checkout, "deepspeed_setting": env.deepspeed,
                "ready": bool(d.checkout and d.deepspeed)}
    except Exception:  # noqa: BLE001 - the start page must always show
        return {"checkout": None, "deepspeed": None, "ready": False}


def setup_html(s: dict[str, Any]) -> str:
    """The setup status in words (no command-line flags)."""
    ok, bad = "color: #2e7d32;", "color: #c62828;"
    if s.get("pending"):
        return "Looking for diffusion-pipe and DeepSpeed…"
    parts = []
    if s.get("checkout"):
        parts.append(f"<span style='{ok}'><b>✔ diffusion-pipe</b></span> is in "
                     f"<code>{html.escape(str(s['checkout']))}</code>. Training runs start in "
                     "this folder, and relative paths in your configs are read from it.")
    else:
        where = (f" The folder you chose, <code>{html.escape(s['checkout_setting'])}</code>, "
                 "does not contain diffusion-pipe's train.py." if s.get("checkout_setting") else "")
        parts.append(f"<span style='{bad}'><b>✖ diffusion-pipe was not found.</b></span>{where} "
                     "dpgui edits and checks configs without it, but training needs a copy of "
                     f"<a href='{DP_URL}'>diffusion-pipe</a> on this computer: download it with "
                     "git (including its submodules), then press <b>Choose Folders…</b> and "
                     "pick the folder that contains train.py.")
    if s.get("deepspeed"):
        parts.append(f"<span style='{ok}'><b>✔ DeepSpeed</b></span> (the launcher diffusion-pipe "
                     f"runs under) is <code>{html.escape(str(s['deepspeed']))}</code>.")
    else:
        parts.append(f"<span style='{bad}'><b>✖ DeepSpeed was not found.</b></span> It comes with "
                     "diffusion-pipe's Python requirements. Install them into a Python "
                     "environment (a venv or conda environment), then press <b>Choose "
                     "Folders…</b> and pick that environment's folder.")
    if s.get("ready"):
        parts.append("Everything needed to train is in place.")
    return "<br><br>".join(parts)
