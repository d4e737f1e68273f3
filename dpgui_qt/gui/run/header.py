"""The Run page's header: the phase pill, the run's numbers and the run controls
(:class:`RunHeader`), and the outcome of a finished run (:class:`OutcomeBanner`)."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (QFrame, QHBoxLayout, QLabel, QProgressBar, QPushButton,
                               QSizePolicy, QToolButton, QVBoxLayout)

from dpgui_qt.gui import icons


def mono_font() -> QFont:
    f = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    f.setStyleHint(QFont.StyleHint.Monospace)
    return f


def escape_html(s: str) -> str:
    return (s or "").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class RunHeader(QFrame):
    """Phase, title and detail line, a busy bar, and the buttons that start, check,
    checkpoint, stop and kill a run. The page connects the buttons."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("RunHeader")
        self.setStyleSheet("#RunHeader { background: palette(base); border: 1px solid "
                           "palette(mid); border-radius: 6px; }")
        hl = QHBoxLayout(self)
        hl.setContentsMargins(12, 8, 12, 8)
        self.phase_label = QLabel("IDLE", self)
        self.phase_label.setObjectName("PhasePill")
        self.phase_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.phase_label.setMinimumWidth(96)
        hl.addWidget(self.phase_label)
        hl.addLayout(self._build_info(), 1)
        self.busy = QProgressBar(self)
        self.busy.setMaximumWidth(160)
        self.busy.setTextVisible(True)
        self.busy.hide()
        hl.addWidget(self.busy)
        for b in self._build_buttons():
            hl.addWidget(b)

    def _build_info(self) -> QVBoxLayout:
        info = QVBoxLayout()
        info.setSpacing(2)
        self.title_label = QLabel("No run", self)
        f = self.title_label.font()
        f.setPointSizeF(f.pointSizeF() * 1.25)
        f.setBold(True)
        self.title_label.setFont(f)
        self.sub_label = QLabel("", self)
        self.sub_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        for lab in (self.title_label, self.sub_label):   # long text must not widen the window
            lab.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            lab.setMinimumWidth(120)
        info.addWidget(self.title_label)
        info.addWidget(self.sub_label)
        return info

    def _build_buttons(self) -> list[QPushButton]:
        """In their order left to right."""
        self.start_btn = QPushButton(icons.themed("run"), "Start Training", self)
        self.start_btn.setToolTip("Check everything, then start diffusion-pipe with this config (F5)")
        self.check_btn = QPushButton(icons.themed("validate"), "Check", self)
        self.check_btn.setToolTip("Run the pre-launch checks on the files on disk and show "
                                  "what they find, without starting")
        self.save_btn = QPushButton("Save Now", self)
        self.save_btn.setToolTip("Write a checkpoint and save the model at the next step "
                                 "(creates the 'save' file in the run folder)")
        self.save_quit_btn = QPushButton("Save && Stop", self)
        self.save_quit_btn.setToolTip("Checkpoint at the next step, then stop cleanly "
                                      "('save_quit'); resume later from it")
        self.stop_btn = QPushButton(icons.themed("stop"), "Stop", self)
        self.stop_btn.setToolTip("SIGTERM to every process of the run, SIGKILL after the grace "
                                 "period; progress since the last checkpoint is lost")
        self.kill_btn = QPushButton("Kill", self)
        self.kill_btn.setToolTip("SIGKILL every process of the run at once")
        return [self.check_btn, self.start_btn, self.save_btn, self.save_quit_btn, self.stop_btn,
                self.kill_btn]


class OutcomeBanner(QFrame):
    """How the run ended: title, explanation, fix and the evidence lines."""
    resumeRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("OutcomeBanner")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(12, 10, 12, 10)
        self.icon = QLabel(self)
        self.icon.setFixedSize(28, 28)
        self.icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        lay.addWidget(self.icon, 0, Qt.AlignmentFlag.AlignTop)
        col = QVBoxLayout()
        col.setSpacing(4)
        self.title = QLabel(self)
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.2)
        self.title.setFont(f)
        self.explanation = QLabel(self)
        self.fix = QLabel(self)
        self.evidence = QLabel(self)
        self.evidence.setFont(mono_font())
        self.notices = QLabel(self)
        for w in (self.explanation, self.fix, self.evidence, self.notices):
            w.setWordWrap(True)
            w.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fix.setTextFormat(Qt.TextFormat.RichText)
        self.notices.setTextFormat(Qt.TextFormat.RichText)
        self.evidence.setTextFormat(Qt.TextFormat.PlainText)
        for w in (self.title, self.explanation, self.fix, self.evidence, self.notices):
            col.addWidget(w)
        lay.addLayout(col, 1)
        btns = QVBoxLayout()
        self.copy_btn = QPushButton("Copy Details", self)
        self.copy_btn.clicked.connect(self._copy)
        self.close_btn = QToolButton(self)
        self.close_btn.setText("✕")
        self.close_btn.setAutoRaise(True)
        self.close_btn.setToolTip("Hide")
        self.close_btn.clicked.connect(self.hide)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(self.close_btn)
        btns.addLayout(top)
        btns.addWidget(self.copy_btn)
        btns.addStretch(1)
        lay.addLayout(btns)
        self.outcome = None
        self.hide()

    def show_outcome(self, outcome, exit_code=None) -> None:
        self.outcome = outcome
        color = {"finished": "#2e7d32", "stopped": "#8d6e63", "failed": "#c62828"}.get(
            outcome.status, "#546e7a")
        bg = {"finished": "#e8f5e9", "stopped": "#efebe9", "failed": "#ffebee"}.get(
            outcome.status, "#eceff1")
        self.setStyleSheet(f"#OutcomeBanner {{ background: {bg}; border: 1px solid {color}; "
                           f"border-left: 5px solid {color}; border-radius: 4px; }} "
                           f"#OutcomeBanner QLabel {{ color: #202124; }}")
        ic = icons.ok_icon() if outcome.status == "finished" else (
            icons.error_icon() if outcome.status == "failed" else icons.warning_icon())
        self.icon.setPixmap(ic.pixmap(24, 24))
        rc = "" if exit_code is None else f"  (exit code {exit_code})"
        self.title.setText(f"{outcome.title}{rc}")
        self.title.setStyleSheet(f"color: {color};")
        self.explanation.setText(outcome.explanation)
        self.explanation.setVisible(bool(outcome.explanation))
        self.fix.setText(f"<b>What to do:</b> {escape_html(outcome.fix)}" if outcome.fix else "")
        self.fix.setVisible(bool(outcome.fix))
        ev = [e for e in outcome.evidence if e][:6]
        self.evidence.setText("\n".join(e if len(e) < 400 else e[:400] + "…" for e in ev))
        self.evidence.setVisible(bool(ev))
        notes = "".join(f"<br><b>{escape_html(n.title)}</b> — {escape_html(n.fix)}" for n in outcome.notices)
        self.notices.setText(notes[4:] if notes else "")
        self.notices.setVisible(bool(notes))
        self.show()

    def text(self) -> str:
        o = self.outcome
        if o is None:
            return ""
        parts = [o.title, o.explanation, ("What to do: " + o.fix) if o.fix else ""]
        parts += ["Evidence:"] + list(o.evidence) if o.evidence else []
        parts += [f"{n.title}: {n.explanation} {n.fix}" for n in o.notices]
        return "\n".join(p for p in parts if p)

    def _copy(self) -> None:
        QGuiApplication.clipboard().setText(self.text())
