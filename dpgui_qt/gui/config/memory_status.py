"""The memory estimate in the editor's status bar: "≈ 14.6 GiB VRAM" for the open
main config, the settings driving it in the tooltip, and its basis one click
away (the formula with this config's inputs, each driver with its direction, and
the diffusion-pipe figure when the config matches a sourced preset)."""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any, TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QToolButton,
                               QVBoxLayout)

from dpgui_qt.core.config.document import DocKind
from dpgui_qt.gui.bind import bind

if TYPE_CHECKING:  # the estimate's modules load with the first estimate, after the first paint
    from dpgui_qt.core.config import memory
    from dpgui_qt.core.config import presets as P

ARROW = {"lowers": "↓", "raises": "↑", "neutral": "·"}


def dataset_shape(values: dict[str, Any], config_path) -> tuple[int | None, int | None]:
    """(largest resolution, largest frame bucket) from the dataset config, when readable."""
    ds = values.get("dataset")
    if not isinstance(ds, str) or not ds:
        return None, None
    p = Path(ds)
    if not p.is_absolute() and config_path:
        p = Path(config_path).parent / p
    try:
        if not p.is_file() or p.stat().st_size > 1_000_000:     # never block on a FIFO
            return None, None
        import tomllib

        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None, None
    res = []
    for r in data.get("resolutions") or []:
        if isinstance(r, (int, float)):
            res.append(int(r))
        elif isinstance(r, list) and len(r) == 2 and all(isinstance(x, (int, float)) for x in r):
            res.append(int((r[0] * r[1]) ** 0.5))
    frames = [f for f in data.get("frame_buckets") or [] if isinstance(f, int)]
    return (max(res) if res else None), (max(frames) if frames else None)


def matching_preset(values: dict[str, Any]) -> P.Preset | None:
    """A sourced preset whose settings this config has exactly (for the diffusion-pipe figure)."""
    from dpgui_qt.core.config import presets as P

    model = _model if isinstance(_model := values.get("model"), dict) else {}
    mt = model.get("type")
    if not isinstance(mt, str):
        return None
    try:
        candidates = [p for p in P.load(mt) if not p.is_upstream and p.memory.get("kind") == "upstream"]
    except (OSError, ValueError):
        return None
    for p in candidates:
        if p.set and not P.preset_changes(values, p):
            return p
    return None


def basis(values: dict[str, Any], config_path=None) -> tuple[memory.Estimate | None, str]:
    est, text, _match = basis_and_match(values, config_path)
    return est, text


def basis_and_match(values: dict[str, Any], config_path=None):
    from dpgui_qt.core.config import memory

    res, frames = dataset_shape(values, config_path)
    est = memory.estimate(values, res, frames)
    if est is None:
        return None, "No [model] type: nothing to estimate.", None
    lines = []
    match = matching_preset(values)
    if match is not None:
        lines += [f"These settings are preset {match.name}: diffusion-pipe states "
                  f"{match.tier} GB in {match.memory['source']} — {match.memory.get('detail', '')}", ""]
    lines.append(est.basis_text())
    if res is None:
        lines.append(f"\n(resolution {est.resolution}px assumed: the dataset config was not readable)")
    lines += ["", "What drives memory in this config (↓ lowers, ↑ raises):"]
    for d in est.drivers:
        lines.append(f"  {ARROW[d.effect]} {d.key} = {d.value!r}: {d.why}")
    return est, "\n".join(lines), match


class MemoryEstimateButton(QToolButton):
    """Status-bar button; ``refresh()`` is debounced on document changes."""

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        self.setObjectName("MemoryEstimateButton")
        self.setAutoRaise(True)
        self.estimate: memory.Estimate | None = None
        self.match: P.Preset | None = None
        self.text_basis = ""
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(250)
        self._timer.timeout.connect(self.refresh)
        self.clicked.connect(lambda: self.show_basis())
        bind(session.changed, self, lambda _c: self._timer.start())
        session.documentReplaced.connect(self._timer.start)
        self.refresh()

    def refresh(self) -> None:
        values = self.session.doc.values()
        if getattr(self.session, "kind", DocKind.MAIN) not in (None, DocKind.MAIN) or "model" not in values:
            self.estimate = None
            self.hide()
            return
        try:
            self.estimate, self.text_basis, self.match = basis_and_match(values, self.session.path)
        except Exception as exc:  # noqa: BLE001 - an estimate never breaks editing
            self.estimate, self.text_basis, self.match = None, f"No estimate: {exc}", None
        if self.estimate is None:
            self.hide()
            return
        if self.match is not None:
            self.setText(f"{self.match.tier} GB VRAM (diffusion-pipe) · est. {self.estimate.gb:.1f} GiB")
        else:
            self.setText(f"≈ {self.estimate.gb:.1f} GiB VRAM (estimate)")
        drivers = "".join(f"<br>{ARROW[d.effect]} <code>{html.escape(d.key)}</code>"
                          for d in self.estimate.drivers if d.effect != "neutral")
        self.setToolTip(f"Estimated GPU memory for this config (click for the basis).{drivers}")
        self.show()

    def show_basis(self) -> QDialog:
        dlg = QDialog(self.window())
        dlg.setObjectName("MemoryBasisDialog")
        dlg.setWindowTitle("Memory estimate")
        dlg.resize(820, 520)
        lay = QVBoxLayout(dlg)
        lay.addWidget(QLabel("How the estimate is made, with this config's inputs. It is an "
                             "estimate: presets with a diffusion-pipe source say what upstream "
                             "measured.", dlg))
        text = QPlainTextEdit(self.text_basis, dlg)
        text.setReadOnly(True)
        lay.addWidget(text, 1)
        b = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dlg)
        b.rejected.connect(dlg.reject)
        lay.addWidget(b)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg
