"""The property tree model: Qt's model tester on every model type, grouping,
defaults, recomposition on type switches, unknown keys and types."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtTest import QAbstractItemModelTester

from dpgui_qt.core.config.document import RawValue
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.gui.config.property_model import (COL_STATUS, COL_VALUE, GROUP, IsSetRole, KindRole,
                                         PathRole, PropertyTreeModel)
from dpgui_qt.gui.config.page import PropertyFilterProxy
from dpgui_qt.core.config.templates import build_template

from .conftest import make_session

REG = default_registry()
MODEL_TYPES = REG.model_types()


def all_rows(model, parent=QModelIndex()):
    for r in range(model.rowCount(parent)):
        idx = model.index(r, 0, parent)
        yield idx
        yield from all_rows(model, idx)


def read_everything(model):
    for idx in all_rows(model):
        for c in range(model.columnCount(idx.parent())):
            i = idx.siblingAtColumn(c)
            for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole,
                         Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.FontRole,
                         Qt.ItemDataRole.ForegroundRole, Qt.ItemDataRole.CheckStateRole):
                model.data(i, role)


def test_registry_has_all_model_types():
    assert len(MODEL_TYPES) >= 24


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_model_tester_passes_for_every_model_type(qapp, model_failures, model_type):
    session = make_session(build_template(REG, model_type, "lora"))
    model = PropertyTreeModel(session)
    tester = QAbstractItemModelTester(
        model, QAbstractItemModelTester.FailureReportingMode.Warning)
    read_everything(model)
    other = MODEL_TYPES[(MODEL_TYPES.index(model_type) + 1) % len(MODEL_TYPES)]
    session.set_value(("model", "type"), other)  # recompose while the tester watches
    session.validate_now()
    read_everything(model)
    session.undo_stack.undo()
    assert not model_failures, model_failures
    del tester


def test_model_tester_through_proxy_with_structural_edits(qapp, model_failures):
    session = make_session(build_template(REG, "flux2", "lora"))
    model = PropertyTreeModel(session)
    tester = QAbstractItemModelTester(
        model, QAbstractItemModelTester.FailureReportingMode.Warning)
    proxy = PropertyFilterProxy()
    proxy.setSourceModel(model)
    proxy_tester = QAbstractItemModelTester(
        proxy, QAbstractItemModelTester.FailureReportingMode.Warning)
    session.set_value("epochs", 7)
    session.set_value(("optimizer", "lr"), RawValue("1e-4"))
    session.insert_item("eval_datasets", 0, {"name": "ev", "config": "ev.toml"})
    session.set_value("some_unknown_key", RawValue("[1, 2]"))
    session.set_value(("model", "type"), "mage_flow")  # unknown type: generic rows
    session.set_value(("optimizer", "type"), "Prodigy")  # pytorch_optimizer fallback
    session.edit("full fine-tune", lambda d: d.delete(("adapter",)))
    session.validate_now()
    proxy.set_filter_text("path")
    proxy.set_show_advanced(True)
    proxy.set_filter_text("")
    read_everything(proxy)
    while session.undo_stack.canUndo():
        session.undo_stack.undo()
    read_everything(model)
    assert not model_failures, model_failures
    del tester, proxy_tester


def test_groups_in_order(qapp):
    session = make_session(build_template(REG, "flux", "lora"))
    model = PropertyTreeModel(session)
    names = [model.index(r, 0).data() for r in range(model.rowCount())]
    assert names[:4] == ["Training", "Evaluation", "Saving & checkpoints", "Memory & performance"]
    assert names.index("Model") < names.index("Adapter") < names.index("Optimizer") \
        < names.index("Monitoring (W&B)") < names.index("Other")


def test_set_and_default_rows_look_different(qapp):
    session = make_session("epochs = 10\n[optimizer]\ntype = 'adamw_optimi'\nlr = 2e-5\n")
    model = PropertyTreeModel(session)
    epochs = model.index_for_path("epochs", COL_VALUE)
    clip = model.index_for_path("gradient_clipping", COL_VALUE)
    assert epochs.data() == "10" and epochs.data(IsSetRole)
    assert clip.data() == "1.0" and not clip.data(IsSetRole)  # schema default shown
    assert clip.data(Qt.ItemDataRole.FontRole).italic()
    assert epochs.data(Qt.ItemDataRole.FontRole) is None
    assert model.index_for_path(("optimizer", "lr"), COL_VALUE).data() == "2e-5"
    tip = model.index_for_path("gradient_clipping").data(Qt.ItemDataRole.ToolTipRole)
    assert "Default" in tip and "train.py" in tip
    dp = model.index_for_path("image_micro_batch_size_per_gpu", COL_VALUE).data()
    assert dp == "= micro_batch_size_per_gpu"


def test_reset_to_default_removes_key(qapp):
    session = make_session("epochs = 10\nwarmup_steps = 50\n")
    model = PropertyTreeModel(session)
    assert model.reset(model.index_for_path("warmup_steps"))
    assert "warmup_steps" not in session.doc.text
    assert model.index_for_path("warmup_steps", COL_VALUE).data() == "0"


def test_switch_model_type_keeps_values_and_marks_unused(qapp, model_failures):
    text = build_template(REG, "flux", "lora")
    session = make_session(text)
    model = PropertyTreeModel(session)
    QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    before = session.doc.values()["model"]
    session.set_value(("model", "type"), "wan")
    after = session.doc.values()["model"]
    assert after["type"] == "wan"
    assert {k: v for k, v in after.items() if k != "type"} == \
        {k: v for k, v in before.items() if k != "type"}  # nothing dropped
    # dtype is shared: a normal row; diffusers_path is not a wan key: marked unused
    dtype = model.index_for_path(("model", "dtype"), COL_STATUS)
    assert dtype.data() in ("", None) or "not used" not in dtype.data()
    unused = model.index_for_path(("model", "diffusers_path"), COL_STATUS)
    assert "not used by wan" in unused.data()
    assert model.index_for_path(("model", "diffusers_path"), COL_VALUE).data(
        Qt.ItemDataRole.FontRole).strikeOut()
    # wan's own keys appear at once
    assert model.index_for_path(("model", "ckpt_path")).isValid()
    assert not model_failures


def test_unknown_model_type_shows_its_keys(qapp):
    text = "epochs = 1\n[model]\ntype = 'mage_flow'\ndiffusers_path = '/m'\nshift = 6.0\n"
    session = make_session(text)
    model = PropertyTreeModel(session)
    assert model.index_for_path(("model", "shift"), COL_VALUE).data() == "6.0"
    assert model.index_for_path(("model", "diffusers_path"), COL_VALUE).data() == "/m"
    group = model.index_for_path(("model",), COL_VALUE)
    assert "not a known model type" in group.data()


def test_unknown_keys_go_to_other_and_stay_editable(qapp):
    session = make_session("epochs = 1\nmy_flag = [1, 2]\n[extra]\na = 'x'\n")
    model = PropertyTreeModel(session)
    idx = model.index_for_path("my_flag")
    assert idx.parent().data() == "Other"
    assert idx.siblingAtColumn(COL_VALUE).flags() & Qt.ItemFlag.ItemIsEditable
    assert model.setData(idx.siblingAtColumn(COL_VALUE), RawValue("[3, 4]"))
    assert "my_flag = [3, 4]" in session.doc.text
    assert model.index_for_path(("extra", "a"), COL_VALUE).data() == "x"


def test_arrays_of_tables_add_and_remove(qapp):
    session = make_session(build_template(REG, "flux2", "lora"))
    model = PropertyTreeModel(session)
    te = model.index_for_path(("model", "text_encoders"))
    assert te.data(KindRole) == "tables" and model.rowCount(te) == 1
    session.insert_item(("model", "text_encoders"), 1, {"path": "/x.safetensors", "type": "flux2"})
    te = model.index_for_path(("model", "text_encoders"))
    assert model.rowCount(te) == 2
    assert model.index_for_path(("model", "text_encoders", 1, "path"), COL_VALUE).data() == "/x.safetensors"
    assert model.reset(model.index_for_path(("model", "text_encoders", 0)))
    assert session.doc.get(("model", "text_encoders")) == [{"path": "/x.safetensors", "type": "flux2"}]


def test_model_keeps_no_values(qapp):
    """Stateless adapter: the document is the only place values live."""
    session = make_session("epochs = 10\n")
    model = PropertyTreeModel(session)
    idx = model.index_for_path("epochs", COL_VALUE)
    session.doc.set("epochs", 99)  # straight on the document, not through the model
    assert idx.data() == "99"


def test_findings_decorate_rows(qapp):
    session = make_session("epochs = 0\n[model]\ntype = 'flux'\n")
    model = PropertyTreeModel(session)
    session.validate_now()
    idx = model.index_for_path("epochs", COL_STATUS)
    assert "too small" in idx.data()
    assert idx.data(Qt.ItemDataRole.DecorationRole) is not None
    group = model.index_for_path("epochs").parent().siblingAtColumn(COL_STATUS)
    assert "error" in group.data()


def test_filter_and_advanced(qapp):
    session = make_session("epochs = 1\n")
    model = PropertyTreeModel(session)
    proxy = PropertyFilterProxy()
    proxy.setSourceModel(model)
    paths = lambda: {i.data(PathRole) for i in all_rows(proxy) if i.data(KindRole) != GROUP}  # noqa: E731 - re-read at each assert
    assert ("max_steps",) not in paths()  # advanced and unset
    assert ("epochs",) in paths()
    proxy.set_show_advanced(True)
    assert ("max_steps",) in paths()
    proxy.set_filter_text("warmup")
    assert ("warmup_steps",) in paths() and ("epochs",) not in paths()
    proxy.set_filter_text("ramps linearly")  # description text
    assert ("warmup_steps",) in paths()
