"""File ▸ New: pick a model type (and what to train) and get a commented config
from that model's template."""
from __future__ import annotations

import html
import os

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QGroupBox, QHBoxLayout,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QRadioButton,
                               QSplitter, QVBoxLayout, QWidget)

from dpgui_qt.gui.templates import build_template, choose_adapter, model_title
from dpgui_qt.gui.toml_view import CodeView, TomlHighlighter


class NewConfigDialog(QDialog):
    def __init__(self, registry, parent=None, initial: str | None = None):
        super().__init__(parent)
        self.registry = registry
        self.setWindowTitle("New training config")
        self.resize(980, 620)
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
            r.toggled.connect(lambda on: on and self._update_preview())
            bl.addWidget(r)
        self.radios["lora"].setChecked(True)
        self.output = QLineEdit(self)
        self.output.setPlaceholderText("Output folder for runs (optional; a placeholder is used)")
        self.output.textChanged.connect(lambda _t: self._update_preview())
        self.preview = CodeView(self)
        TomlHighlighter(self.preview.document())

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
        rl.addWidget(self.output)
        rl.addWidget(self.preview, 1)
        split = QSplitter(self)
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([330, 650])
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Create")
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

    def _update(self) -> None:
        t = self.model_type()
        if not t:
            return
        caps = self.registry.capabilities(t)
        self.radios["lokr"].setEnabled(bool(caps.get("lokr")))
        self.radios[None].setEnabled(bool(caps.get("full_finetune")))
        if not self.radios[self.adapter()].isEnabled():
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
        self._update_preview()

    def _update_preview(self) -> None:
        t = self.model_type()
        if t:
            self.preview.setPlainText(self.text())

    def text(self) -> str:
        t = self.model_type()
        adapter = choose_adapter(self.registry, t, self.adapter()) if self.adapter() else None
        if self.adapter() is None and not self.registry.capabilities(t).get("full_finetune"):
            adapter = "lora"
        out = self.output.text().strip()
        # written absolute: diffusion-pipe reads relative paths from its own folder
        out = os.path.abspath(os.path.expanduser(out)) if out else None
        return build_template(self.registry, t, adapter, output_dir=out)
