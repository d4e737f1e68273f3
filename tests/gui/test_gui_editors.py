"""Every editor kind round-trips through the delegate: setEditorData -> change the
widget -> setModelData -> model data -> document text."""
from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QStyleOptionViewItem

from dpgui_qt.gui.config import editors as E
from dpgui_qt.gui.config.property_model import COL_VALUE
from dpgui_qt.gui.config.page import PropertyDelegate

BASE = """\
output_dir = '/tmp/out'
dataset = 'dataset.toml'
epochs = 10
activation_checkpointing = true
micro_batch_size_per_gpu = 1
lr_scheduler = 'constant'
my_custom = 5

[model]
type = 'flux'
diffusers_path = '/models/flux'
dtype = 'bfloat16'
flux_shift = false

[adapter]
type = 'lora'
rank = 32

[optimizer]
type = 'adamw_optimi'
lr = 2e-5
betas = [0.9, 0.99]

[monitoring]
enable_wandb = false
wandb_api_key = 'abc'
"""


@pytest.fixture
def loaded(window, tmp_path):
    p = tmp_path / "c.toml"
    p.write_text(BASE)
    assert window.open_file(p)
    window.editor.set_show_advanced(True)
    return window


def open_editor(window, path):
    ed = window.editor
    sidx = ed.model.index_for_path(path, COL_VALUE)
    assert sidx.isValid(), path
    pidx = ed.proxy.mapFromSource(sidx)
    assert pidx.isValid(), path
    delegate: PropertyDelegate = ed.tree.itemDelegate()
    widget = delegate.createEditor(ed.tree.viewport(), QStyleOptionViewItem(), pidx)
    assert widget is not None
    delegate.setEditorData(widget, pidx)
    return delegate, widget, pidx


def commit(delegate, widget, pidx):
    delegate.setModelData(widget, pidx.model(), pidx)


def test_registry_is_keyed_by_type_and_hint():
    keys = E.EDITORS.keys()
    for k in [("boolean", None), ("integer", None), ("number", None), ("number", "float-text"),
              ("string", None), ("string", "enum"), ("string", "path-file"), ("string", "path-dir"),
              ("string", "secret"), ("array", None), ("array", "tuple"), ("union", None),
              ("raw", None), ("string", "discriminator")]:
        assert k in keys
    assert E.EDITORS.key_for({"type": "string", "format": "dir-path"}) == ("string", "path-dir")
    assert E.EDITORS.key_for({"type": "number", "x-dpgui-widget": "float-text"}) == ("number", "float-text")
    assert E.EDITORS.key_for({"anyOf": [{"type": "boolean"}]}) == ("union", None)
    assert E.EDITORS.key_for(None) == ("raw", None)


def test_float_keeps_scientific_notation(loaded):
    d, w, i = open_editor(loaded, ("optimizer", "lr"))
    assert isinstance(w, E.FloatEditor) and w.edit.text() == "2e-5"
    w.edit.setText("1e-4")
    commit(d, w, i)
    assert "lr = 1e-4\n" in loaded.session.doc.text
    assert i.data() == "1e-4"
    w.edit.setText(".5")
    commit(d, w, i)
    assert "lr = 0.5\n" in loaded.session.doc.text
    w.edit.setText("abc")  # invalid: nothing written
    commit(d, w, i)
    assert "lr = 0.5\n" in loaded.session.doc.text


def test_int_spinbox_respects_minimum(loaded):
    d, w, i = open_editor(loaded, "epochs")
    assert isinstance(w, E.IntEditor) and w.spin.value() == 10 and w.minimum() == 1
    w.spin.setValue(250)
    commit(d, w, i)
    assert "epochs = 250\n" in loaded.session.doc.text and i.data() == "250"


def test_out_of_range_and_unparsable_values_stay_with_the_reason(loaded, qtbot):
    """-5 is never turned into 5, abc is not dropped silently: the editor keeps what
    was typed, says why, and nothing is written."""
    from PySide6.QtCore import Qt
    d, w, i = open_editor(loaded, "epochs")
    w.spin.lineEdit().selectAll()
    qtbot.keyClicks(w.spin.lineEdit(), "-5")
    qtbot.keyClick(w.spin.lineEdit(), Qt.Key.Key_Return)
    assert w.spin.text() == "-5"
    commit(d, w, i)
    assert "epochs = 10\n" in loaded.session.doc.text
    assert w._reason.text() == "must be at least 1" and not w._reason.isHidden()
    d, w, i = open_editor(loaded, ("optimizer", "lr"))
    w.edit.setText("abc")
    commit(d, w, i)
    assert "lr = 2e-5\n" in loaded.session.doc.text and w.edit.text() == "abc"
    assert "'abc' is not a number" in w._reason.text()
    w.edit.setText("1e-4")
    w._mark(w.edit, w.problem() is None)
    assert w._reason.isHidden()


def test_bool_checkbox(loaded):
    d, w, i = open_editor(loaded, ("model", "flux_shift"))
    assert isinstance(w, E.BoolEditor) and not w.box.isChecked()
    w.box.setChecked(True)
    commit(d, w, i)
    assert "flux_shift = true\n" in loaded.session.doc.text


def test_enum_combo(loaded):
    d, w, i = open_editor(loaded, "lr_scheduler")
    assert isinstance(w, E.EnumEditor) and w.combo.currentText() == "constant"
    w.combo.setCurrentText("cosine")
    commit(d, w, i)
    assert "lr_scheduler = 'cosine'\n" in loaded.session.doc.text  # quote style kept


def test_string_and_path(loaded):
    d, w, i = open_editor(loaded, "output_dir")
    assert isinstance(w, E.PathEditor) and w.folder and w.edit.text() == "/tmp/out"
    w.edit.setText("/data/runs")
    commit(d, w, i)
    assert "output_dir = '/data/runs'\n" in loaded.session.doc.text
    d, w, i = open_editor(loaded, "dataset")
    assert isinstance(w, E.PathEditor) and not w.folder


def test_secret_is_masked(loaded):
    d, w, i = open_editor(loaded, ("monitoring", "wandb_api_key"))
    assert isinstance(w, E.SecretEditor)
    from PySide6.QtWidgets import QLineEdit

    assert w.edit.echoMode() == QLineEdit.EchoMode.Password
    assert i.data() != "abc"  # the tree never shows it
    w.edit.setText("newkey")
    commit(d, w, i)
    assert "wandb_api_key = 'newkey'" in loaded.session.doc.text


def test_tuple_betas(loaded):
    d, w, i = open_editor(loaded, ("optimizer", "betas"))
    assert isinstance(w, E.TupleEditor) and [p.edit.text() for p in w.parts] == ["0.9", "0.99"]
    w.parts[1].edit.setText("0.999")
    commit(d, w, i)
    assert "betas = [0.9, 0.999]\n" in loaded.session.doc.text


def test_union_bool_or_unsloth(loaded):
    d, w, i = open_editor(loaded, "activation_checkpointing")
    assert isinstance(w, E.UnionEditor) and w.choice is not None
    labels = [w.choice.combo.itemText(k) for k in range(w.choice.combo.count())]
    assert labels == ["false", "true", "unsloth"]
    w.choice.combo.setCurrentText("unsloth")
    commit(d, w, i)
    assert loaded.session.doc.get("activation_checkpointing") == "unsloth"


def test_union_number_or_pairs(loaded):
    d, w, i = open_editor(loaded, "micro_batch_size_per_gpu")
    assert isinstance(w, E.UnionEditor) and w.choice is None
    assert w.form.currentText() == "number"
    w.form.setCurrentIndex(1)  # per resolution
    lst = w.editors[1]
    assert isinstance(lst, E.ListEditor)
    lst.add_btn.click()
    pair = lst.rows[-1][1]
    pair.parts[0].spin.setValue(1024)
    pair.parts[1].spin.setValue(2)
    commit(d, w, i)
    assert "micro_batch_size_per_gpu = [[512, 1], [1024, 2]]\n" in loaded.session.doc.text
    # reopening shows the pairs
    d, w, i = open_editor(loaded, "micro_batch_size_per_gpu")
    assert w.form.currentText() == "pairs" and len(w.editors[1].rows) == 2


def test_list_editor_resolutions(window, tmp_path):
    p = tmp_path / "ds.toml"
    p.write_text("resolutions = [512]\nenable_ar_bucket = true\n\n[[directory]]\npath = '/d'\n")
    assert window.open_file(p)
    d, u, i = open_editor(window, "resolutions")
    assert isinstance(u, E.UnionEditor) and u.form.currentText() == "list"
    w = u.editors[0]
    assert isinstance(w, E.ListEditor) and len(w.rows) == 1
    w.add_btn.click()
    w.rows[-1][1].set_value(1024)
    commit(d, u, i)
    assert "resolutions = [512, 1024]\n" in window.session.doc.text
    u.form.setCurrentIndex(1)  # [width, height] pairs
    pair = u.editors[1].rows[0][1]
    assert isinstance(pair, E.TupleEditor) and len(pair.parts) == 2
    pair.parts[1].spin.setValue(768)
    commit(d, u, i)
    assert window.session.doc.get("resolutions") == [[512, 768]]


def test_discriminator_recomposes(loaded):
    d, w, i = open_editor(loaded, ("model", "type"))
    assert isinstance(w, E.DiscriminatorEditor)
    k = next(n for n in range(w.combo.count()) if w.combo.itemText(n).startswith("wan "))
    w.combo.setCurrentIndex(k)
    commit(d, w, i)
    doc = loaded.session.doc
    assert doc.get(("model", "type")) == "wan" and doc.get(("model", "diffusers_path")) == "/models/flux"
    assert loaded.editor.model.index_for_path(("model", "ckpt_path")).isValid()


def test_adapter_none_is_full_finetune(loaded, dialogs):
    d, w, i = open_editor(loaded, ("adapter", "type"))
    dialogs.answers = ["yes"]
    w.combo.setCurrentIndex(0)  # none — full fine-tune
    commit(d, w, i)
    assert "[adapter]" not in loaded.session.doc.text
    assert dialogs.messages[-1].kind == "question"
    loaded.session.undo_stack.undo()
    assert "[adapter]" in loaded.session.doc.text


def test_raw_editor_for_unknown_key(loaded):
    d, w, i = open_editor(loaded, "my_custom")
    assert isinstance(w, E.RawEditor) and w.edit.text() == "5"
    w.edit.setText("'five'")
    commit(d, w, i)
    assert "my_custom = 'five'\n" in loaded.session.doc.text


def test_commits_from_one_editor_merge_into_one_undo_step(loaded):
    stack = loaded.session.undo_stack
    n = stack.count()
    d, w, i = open_editor(loaded, "epochs")
    for v in (11, 12, 13):
        w.spin.setValue(v)
        commit(d, w, i)
    assert stack.count() == n + 1
    stack.undo()
    assert "epochs = 10\n" in loaded.session.doc.text


def test_model_switch_offers_one_undoable_cleanup(loaded):
    """flux -> wan: wan does not read diffusers_path; the banner lists it, one click
    removes such keys in one undo step, and the key's details say which types read it."""
    from dpgui_qt.gui.config.property_model import COL_KEY
    ed = loaded.editor
    s = loaded.session
    assert s.set_value(("model", "type"), "wan")
    assert not ed.banner.isHidden()
    text = ed.banner.label.text()
    assert "wan does not read 1 key in [model]: <b>diffusers_path</b>" in text
    idx = ed.model.index_for_path(("model", "diffusers_path"), COL_KEY)
    tip = idx.data(Qt.ItemDataRole.ToolTipRole)
    assert "Only read by model.type = " in tip and "flux" in tip
    assert "No schema describes" not in tip
    n = s.undo_stack.count()
    ed.banner.button("Remove 1 Key").click()
    assert s.undo_stack.count() == n + 1
    assert "diffusers_path" not in s.doc.text and "dtype = 'bfloat16'" in s.doc.text
    assert ed.banner.isHidden()
    s.undo_stack.undo()
    assert "diffusers_path = '/models/flux'" in s.doc.text
