"""File ▸ New: model → adapter → GPU memory → preset, with the differences from
the plain template listed before the file is created; and "Apply Preset" for an
open config (the keys it would change, applied as one undoable step).

Both are dialogs callable from anywhere: ``NewConfigDialog(registry, parent)``
(``.text()`` after ``exec()``) and ``ApplyPresetDialog(session, parent)``.
"""
from __future__ import annotations

from typing import Any

import html
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QButtonGroup, QComboBox, QDialog,
                               QDialogButtonBox, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QPushButton,
                               QRadioButton, QSplitter, QTabWidget, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from dpgui_qt import DIFFUSION_PIPE_COMMIT
from dpgui_qt.core.config import presets as P
from dpgui_qt.core.config.templates import build_template, choose_adapter, model_title
from dpgui_qt.gui.config.toml_view import CodeView, TomlHighlighter

PLAIN = "(plain template)"


def _checkout() -> str | None:
    """The diffusion-pipe checkout of the Run settings (for upstream example presets)."""
    try:
        from dpgui_qt.core.run import preflight as envmod
        from dpgui_qt.gui.run.launch_settings import EnvSettings

        return str(envmod.find_checkout(EnvSettings.load().checkout or None))
    except Exception:  # noqa: BLE001 - no checkout: upstream presets are shown disabled
        return None


def _vram() -> float | None:
    try:
        from dpgui_qt.gui.run.doctor_dialog import last_vram_gb

        return last_vram_gb()
    except Exception:  # noqa: BLE001 - a preselection only: without it the picker still works
        return None


def memory_html(preset: P.Preset) -> str:
    m = preset.memory
    if m.get("kind") == "upstream":
        src = f"diffusion-pipe <code>{html.escape(m['source'])}</code>"
        det = f" — {html.escape(m['detail'])}" if m.get("detail") else ""
        return f"<b>{preset.tier} GB</b> from {src}{det}"
    return (f"<b>{preset.tier} GB</b> tier: estimate <b>{m.get('gb', 0):.1f} GiB</b> "
            f"(click <i>Basis…</i> for the formula and its inputs)")


def basis_text(preset: P.Preset) -> str:
    m = preset.memory
    if m.get("kind") == "upstream":
        return (f"{preset.title}\n\nMemory: {preset.tier} GB, stated by diffusion-pipe in "
                f"{m['source']} (commit {DIFFUSION_PIPE_COMMIT[:7]})\n{m.get('detail', '')}")
    lines = [f"{preset.title}", "", f"Estimate: {m.get('gb', 0):.1f} GiB for the {preset.tier} GB tier "
             "(the preset stays under 85 % of it)", f"Parameters: {m.get('params', '')}", "",
             m.get("formula", ""), ""]
    lines += [f"  {k:<22} {v}" for k, v in (m.get("inputs") or {}).items()]
    return "\n".join(lines)


def _diff_tree(parent) -> QTreeWidget:
    t = QTreeWidget(parent)
    t.setColumnCount(3)
    t.setRootIsDecorated(False)
    t.setAlternatingRowColors(True)
    t.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    t.header().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
    return t


class NewConfigDialog(QDialog):
    def __init__(self, registry, parent=None, initial: str | None = None, *,
                 vram_gb: float | None = None, checkout: str | None = None,
                 detect: bool = True):
        super().__init__(parent)
        self.registry = registry
        self.checkout = checkout if checkout is not None or not detect else _checkout()
        self.vram_gb = vram_gb if vram_gb is not None or not detect else _vram()
        self.setWindowTitle("New training config")
        self.setObjectName("NewConfigDialog")
        self.resize(1120, 720)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search model types")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self._filter)
        self.list = QListWidget(self)
        for t in registry.model_types():
            caps = registry.capabilities(t)
            item = QListWidgetItem(f"{model_title(registry, t)}   ·   {t}"
                                   + ("   ·   video" if caps.get("video") else ""))
            item.setData(Qt.ItemDataRole.UserRole, t)
            item.setToolTip((registry.model(t) or {}).get("description", ""))
            self.list.addItem(item)
        self.list.setAlternatingRowColors(True)
        self.list.currentItemChanged.connect(lambda *_: self._update())

        self.info = QLabel(self)
        self.info.setWordWrap(True)
        self.info.setTextFormat(Qt.TextFormat.RichText)
        box = QGroupBox("Train", self)
        self.kind = QButtonGroup(self)
        bl = QHBoxLayout(box)
        self.radios = {}
        for key, label in (("lora", "LoRA"), ("lokr", "LoKr"), (None, "Full fine-tune")):
            r = QRadioButton(label, box)
            self.kind.addButton(r)
            self.radios[key] = r
            r.toggled.connect(self._kind_toggled)
            bl.addWidget(r)
        bl.addStretch(1)
        bl.addWidget(QLabel("GPU memory:", box))
        self.tier = QComboBox(box)
        self.tier.addItem("any", None)
        for t in P.TIERS:
            self.tier.addItem(f"{t} GB", t)
        self.tier.setToolTip("Presets that fit this much GPU memory (the Doctor's detected VRAM "
                             "is preselected)")
        detected = P.tier_for(self.vram_gb)
        if detected is not None:
            self.tier.setCurrentIndex(self.tier.findData(detected))
        self.tier.currentIndexChanged.connect(lambda _i: self._fill_presets())
        bl.addWidget(self.tier)
        self.vram_note = QLabel(f"detected {self.vram_gb:.0f} GiB" if self.vram_gb else
                                "run Run ▸ Doctor… to detect", box)
        self.vram_note.setStyleSheet("color: gray")
        bl.addWidget(self.vram_note)

        self.presets = QListWidget(self)
        self.presets.setObjectName("PresetList")
        self.presets.setAlternatingRowColors(True)
        self.presets.currentItemChanged.connect(lambda *_: self._update_preview())
        self.memory = QLabel(self)
        self.memory.setWordWrap(True)
        self.memory.setTextFormat(Qt.TextFormat.RichText)
        self.basis_btn = QPushButton("Basis…", self)
        self.basis_btn.setToolTip("Where the memory figure comes from")
        self.basis_btn.clicked.connect(lambda: self.show_basis())
        mrow = QHBoxLayout()
        mrow.addWidget(self.memory, 1)
        mrow.addWidget(self.basis_btn)
        self.diff = _diff_tree(self)
        self.diff.setHeaderLabels(["Key", "Plain template", "This preset"])
        self.output = QLineEdit(self)
        self.output.setPlaceholderText("Output folder for runs (optional; a placeholder is used)")
        self.output.textChanged.connect(lambda _t: self._update_preview())
        self.preview = CodeView(self)
        TomlHighlighter(self.preview.document())
        tabs = QTabWidget(self)
        tabs.addTab(self.diff, "Differences from the plain template")
        tabs.addTab(self.preview, "File")
        self.tabs = tabs

        left = QWidget(self)
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.search)
        ll.addWidget(self.list, 1)
        right = QWidget(self)
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.info)
        rl.addWidget(box)
        psplit = QSplitter(Qt.Orientation.Vertical, right)
        top = QWidget(psplit)
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(QLabel("Preset:", top))
        tl.addWidget(self.presets, 1)
        tl.addLayout(mrow)
        psplit.addWidget(top)
        psplit.addWidget(tabs)
        psplit.setSizes([230, 420])
        rl.addWidget(psplit, 1)
        rl.addWidget(self.output)
        split = QSplitter(self)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([330, 790])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
        self.create_btn = buttons.button(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(split, 1)
        lay.addWidget(buttons)
        start = 0
        if initial:
            for i in range(self.list.count()):
                if self.list.item(i).data(Qt.ItemDataRole.UserRole) == initial:
                    start = i
        self.list.setCurrentRow(start)
        self.list.itemDoubleClicked.connect(lambda _i: self.accept())

    def _filter(self, text: str) -> None:
        t = text.lower()
        for i in range(self.list.count()):
            it = self.list.item(i)
            it.setHidden(bool(t) and t not in it.text().lower())

    def model_type(self) -> str | None:
        it = self.list.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else None

    def adapter(self) -> str | None:
        for key, r in self.radios.items():
            if r.isChecked():
                return key
        return "lora"

    def preset(self) -> P.Preset | None:
        it = self.presets.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else None

    def select_preset(self, name: str) -> bool:
        for i in range(self.presets.count()):
            p = self.presets.item(i).data(Qt.ItemDataRole.UserRole)
            if p is not None and p.name == name:
                self.presets.setCurrentRow(i)
                return True
        return False

    def _update(self) -> None:
        t = self.model_type()
        if not t:
            return
        caps = self.registry.capabilities(t)
        self.radios["lokr"].setEnabled(bool(caps.get("lokr")))
        self.radios[None].setEnabled(bool(caps.get("full_finetune")))
        if not self.radios[self.adapter()].isEnabled() or not any(r.isChecked() for r in self.radios.values()):
            self.radios["lora"].setChecked(True)
        notes = []
        if not caps.get("lokr") and caps.get("lokr_note"):
            notes.append("LoKr: " + caps["lokr_note"])
        if caps.get("full_finetune_note"):
            notes.append("Full fine-tune: " + caps["full_finetune_note"])
        if not caps.get("full_finetune"):
            notes.append("Full fine-tuning is not supported for this model.")
        desc = (self.registry.model(t) or {}).get("description", "")
        self.info.setText(f"<b>{html.escape(model_title(self.registry, t))}</b> "
                          f"<span style='color:gray'>({html.escape(t)})</span><br>{html.escape(desc)}"
                          + "".join(f"<br><span style='color:gray'>{html.escape(n)}</span>" for n in notes))
        self._fill_presets()

    def _fill_presets(self) -> None:
        t = self.model_type()
        if not t:
            return
        adapter = self.adapter()
        tier = self.tier.currentData()
        self.presets.blockSignals(True)
        self.presets.clear()
        plain = QListWidgetItem(PLAIN + "  — the model's commented template, no memory tuning")
        plain.setData(Qt.ItemDataRole.UserRole, None)
        self.presets.addItem(plain)
        # a LoKr config starts from the LoRA presets' memory settings
        want = "lora" if adapter == "lokr" else adapter
        shown = [p for p in P.load(t) if p.adapter == want and (tier is None or p.tier <= tier)]
        best = P.best_for(shown, tier, want) if shown else None
        select = 0
        for p in shown:
            src = "diffusion-pipe " + p.memory["source"] if p.memory.get("kind") == "upstream" \
                else f"estimate {p.memory.get('gb', 0):.1f} GiB"
            it = QListWidgetItem(f"{p.tier:>2} GB   {p.title}   ·   {src}")
            it.setData(Qt.ItemDataRole.UserRole, p)
            it.setToolTip(basis_text(p) + (f"\n\n{p.notes}" if p.notes else ""))
            if p.is_upstream and not self.checkout:
                it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                it.setToolTip("diffusion-pipe's own example: choose the diffusion-pipe checkout in "
                              "Run ▸ Environment to use it")
            self.presets.addItem(it)
            if p is best and (it.flags() & Qt.ItemFlag.ItemIsEnabled):
                select = self.presets.count() - 1
        self.presets.blockSignals(False)
        self.presets.setCurrentRow(select if tier is not None else 0)
        self._update_preview()

    def _update_preview(self) -> None:
        t = self.model_type()
        if not t:
            return
        p = self.preset()
        try:
            text = self.text()
        except P.PresetError as exc:
            self.preview.setPlainText(f"# {exc}")
            self.create_btn.setEnabled(False)
            return
        self.create_btn.setEnabled(True)
        self.preview.setPlainText(text)
        self.basis_btn.setEnabled(p is not None)
        self.memory.setText(memory_html(p) if p else "<span style='color:gray'>No preset: the "
                            "template's defaults (check the memory estimate in the status bar "
                            "after creating it).</span>")
        self.diff.clear()
        if p is None:
            return
        import tomllib

        from dpgui_qt.core.config.document import MISSING
        base = tomllib.loads(self.plain_text())
        new = tomllib.loads(text)
        for key, a, b in P.flat_diff(base, new):
            it = QTreeWidgetItem([key, P.show_value(a) if a is not MISSING else "(not set)",
                                  P.show_value(b) if b is not MISSING else "(removed)"])
            self.diff.addTopLevelItem(it)

    def show_basis(self) -> None:
        p = self.preset()
        if p is not None:
            QMessageBox.information(self, "Memory figure", basis_text(p))

    def differences(self) -> list[tuple[str, str, str]]:
        items = [self.diff.topLevelItem(i) for i in range(self.diff.topLevelItemCount())]
        return [(it.text(0), it.text(1), it.text(2)) for it in items if it is not None]

    def _kind_toggled(self, on: bool) -> None:
        if on:
            self._fill_presets()

    def _adapter_for_template(self) -> str | None:
        t = self.model_type() or ""
        adapter = choose_adapter(self.registry, t, self.adapter()) if self.adapter() else None
        if self.adapter() is None and not self.registry.capabilities(t).get("full_finetune"):
            adapter = "lora"
        return adapter

    def plain_text(self) -> str:
        return build_template(self.registry, self.model_type() or "", self._adapter_for_template(),
                              output_dir=self.output_dir())

    def text(self) -> str:
        p = self.preset()
        if p is None:
            return self.plain_text()
        if not p.is_upstream and self.adapter() == "lokr" and p.adapter == "lora":
            p = P.Preset(**{**p.__dict__, "adapter": "lokr"})
        return P.build_text(self.registry, p, checkout=self.checkout,
                            output_dir=self.output_dir())

    def output_dir(self) -> str | None:
        """The typed output folder, written absolute: diffusion-pipe reads relative paths
        from its own folder, not from the config's."""
        out = self.output.text().strip()
        return os.path.abspath(os.path.expanduser(out)) if out else None


class ApplyPresetDialog(QDialog):
    """Edit ▸ Apply Preset…: the keys a preset would change in the open config, applied
    as one undoable step."""

    def __init__(self, session, parent=None, *, checkout: str | None = None, detect: bool = True):
        super().__init__(parent)
        self.session = session
        self.checkout = checkout if checkout is not None or not detect else _checkout()
        self.setWindowTitle("Apply Preset")
        self.setObjectName("ApplyPresetDialog")
        self.resize(820, 560)
        values = session.doc.values()
        model = _model if isinstance(_model := values.get("model"), dict) else {}
        self.model_type = model.get("type") if isinstance(model.get("type"), str) else None
        adapter = _adapter if isinstance(_adapter := values.get("adapter"), dict) else None
        self.adapter = (adapter.get("type") if adapter else None)
        lay = QVBoxLayout(self)
        self.head = QLabel(self)
        self.head.setWordWrap(True)
        self.head.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.head)
        self.presets = QListWidget(self)
        self.presets.currentItemChanged.connect(lambda *_: self._update())
        lay.addWidget(self.presets, 1)
        self.memory = QLabel(self)
        self.memory.setWordWrap(True)
        self.memory.setTextFormat(Qt.TextFormat.RichText)
        lay.addWidget(self.memory)
        self.diff = _diff_tree(self)
        self.diff.setHeaderLabels(["Key", "Now", "After applying"])
        lay.addWidget(self.diff, 2)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        self.apply_btn = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.apply_btn.setText("Apply")
        buttons.accepted.connect(self._apply)
        buttons.rejected.connect(self.reject)
        lay.addWidget(buttons)
        self._changes: list[Any] = []
        if not self.model_type:
            self.head.setText("The open config has no <code>[model] type</code>: pick a model first.")
            self.apply_btn.setEnabled(False)
            return
        want = "lora" if self.adapter in ("lora", "lokr") else (None if self.adapter is None else self.adapter)
        items = [p for p in P.load(self.model_type) if p.adapter == want]
        self.head.setText(f"Presets for <b>{html.escape(self.model_type)}</b> "
                          f"({'full fine-tune' if want is None else 'adapter'}). Only the keys "
                          "listed below change; Undo takes them all back.")
        for p in items:
            it = QListWidgetItem(f"{p.tier:>2} GB   {p.title}")
            it.setData(Qt.ItemDataRole.UserRole, p)
            if p.is_upstream and not self.checkout:
                it.setFlags(it.flags() & ~Qt.ItemFlag.ItemIsEnabled)
                it.setToolTip("needs the diffusion-pipe checkout (Run ▸ Environment)")
            self.presets.addItem(it)
        if self.presets.count():
            self.presets.setCurrentRow(0)
        else:
            self.apply_btn.setEnabled(False)

    def preset(self) -> P.Preset | None:
        it = self.presets.currentItem()
        return it.data(Qt.ItemDataRole.UserRole) if it else None

    def select_preset(self, name: str) -> bool:
        for i in range(self.presets.count()):
            if self.presets.item(i).data(Qt.ItemDataRole.UserRole).name == name:
                self.presets.setCurrentRow(i)
                return True
        return False

    def changes(self) -> list[Any]:
        return list(self._changes)

    def _update(self) -> None:
        p = self.preset()
        self.diff.clear()
        self._changes = []
        if p is None:
            return
        self.memory.setText(memory_html(p))
        try:
            self._changes = P.changes_for_open(self.session.doc.values(), p, self.checkout)
        except P.PresetError as exc:
            self.memory.setText(html.escape(str(exc)))
        from dpgui_qt.core.config import keypath as kp
        for path, old, new in self._changes:
            self.diff.addTopLevelItem(QTreeWidgetItem([kp.format(path), P.show_value(old),
                                                       P.show_value(new)]))
        self.apply_btn.setEnabled(bool(self._changes))
        self.apply_btn.setText(f"Apply {len(self._changes)} change{'s' if len(self._changes) != 1 else ''}")

    def _apply(self) -> None:
        preset = self.preset()
        if preset is not None and apply_preset(self.session, preset, self._changes):
            self.accept()


def apply_preset(session, preset: P.Preset, changes: list[Any]) -> bool:
    """Apply ``changes`` to the session's document as one undo step."""
    from dpgui_qt.core.config.document import ConfigDocument

    if not changes:
        return True

    def fn(doc):
        # on a copy first: a refused key leaves the open config untouched
        scratch = ConfigDocument.from_text(doc.text)
        P.apply_changes(scratch, changes)
        return doc.restore(scratch.text)

    return session.edit(f"Apply preset {preset.name}", fn)
