"""The config editor's row structure without Qt (core/config/tree.py): groups and their
order, composed model/adapter/optimizer tables, keys no schema or type knows, arrays of
tables, dataset configs and one [[directory]] entry."""
from __future__ import annotations

import tomllib

from dpgui_qt.core.config.document import DocKind
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.templates import build_template
from dpgui_qt.core.config.tree import (GROUP, ITEM, KEY, TABLE, TABLES, DirectoryTreeBuilder,
                                       Node, TreeBuilder, readers_of, stale_keys)

REG = default_registry()


def build(values: dict, kind: DocKind = DocKind.MAIN) -> Node:
    return TreeBuilder(REG, values, kind).build()


def by_path(root: Node) -> dict[tuple, Node]:
    return {n.path: n for n in root.walk() if n.path is not None}


def group_names(root: Node) -> list[str]:
    return [g.name for g in root.children]


def test_groups_in_order_and_keys_under_their_group():
    root = build(tomllib.loads(build_template(REG, "flux", "lora")))
    names = group_names(root)
    assert names[:4] == ["training", "evaluation", "saving", "memory"]
    assert names.index("model") < names.index("adapter") < names.index("optimizer") \
        < names.index("monitoring") < names.index("other")
    assert all(g.kind == GROUP and g.parent is root for g in root.children)
    nodes = by_path(root)
    assert nodes[("epochs",)].parent.name == "training"
    assert nodes[("model", "type")].schema["x-dpgui-widget"] == "discriminator"
    assert nodes[("model", "diffusers_path")].kind == KEY
    # rows are numbered in order inside each group
    for g in root.children:
        assert [c.row for c in g.children] == list(range(len(g.children)))


def test_an_empty_main_config_still_shows_the_main_groups():
    names = group_names(build({}))
    assert {"training", "model", "adapter", "optimizer"} <= set(names)


def test_keys_the_type_does_not_read_are_marked_with_their_readers():
    values = tomllib.loads(build_template(REG, "flux", "lora"))
    values["model"]["type"] = "wan"
    nodes = by_path(build(values))
    unused = nodes[("model", "diffusers_path")]
    assert unused.unused == "not used by wan"
    assert "flux" in unused.readers and "wan" not in unused.readers
    assert unused.readers == readers_of(REG, "model", "diffusers_path")
    assert nodes[("model", "dtype")].unused is None  # wan reads it too
    assert ("model", "ckpt_path") in nodes  # wan's own keys appear at once
    assert "diffusers_path" in stale_keys(REG, values, "model")
    assert "dtype" not in stale_keys(REG, values, "model")


def test_unknown_keys_go_to_other_with_their_tables():
    nodes = by_path(build({"epochs": 1, "my_flag": [1, 2], "extra": {"a": "x", "b": {"c": 1}}}))
    flag = nodes[("my_flag",)]
    assert flag.parent.name == "other" and flag.unused == "unknown key" and flag.schema is None
    extra = nodes[("extra",)]
    assert extra.kind == TABLE and [c.name for c in extra.children] == ["a", "b"]
    assert nodes[("extra", "b", "c")].kind == KEY


def test_a_composed_slot_that_is_not_a_table_is_one_marked_row():
    nodes = by_path(build({"model": "flux"}))
    assert nodes[("model",)].unused == "must be a table"


def test_arrays_of_tables_have_one_item_per_entry():
    values = tomllib.loads(build_template(REG, "flux2", "lora"))
    values["model"]["text_encoders"].append({"path": "/x.safetensors", "type": "flux2", "zz": 1})
    nodes = by_path(build(values))
    te = nodes[("model", "text_encoders")]
    assert te.kind == TABLES and [c.kind for c in te.children] == [ITEM, ITEM]
    assert [c.name for c in te.children] == ["#1", "#2"]
    second = nodes[("model", "text_encoders", 1)]
    assert {c.name for c in second.children} >= {"path", "type", "zz"}
    assert nodes[("model", "text_encoders", 1, "zz")].unused == "unknown key"


def test_dataset_config_uses_the_dataset_schema():
    values = {"resolutions": [512], "directory": [{"path": "/d", "num_repeats": 2}]}
    b = TreeBuilder(REG, values, DocKind.DATASET)
    assert b.schema is REG.dataset()
    root = b.build()
    assert "model" not in group_names(root) and "training" not in group_names(root)
    assert ("resolutions",) in by_path(root)


def test_directory_builder_shows_one_entry():
    values = {"resolutions": [512],
              "directory": [{"path": "/a"}, {"path": "/b", "num_repeats": 3, "mystery": 1}]}
    nodes = by_path(DirectoryTreeBuilder(REG, values, 1).build())
    assert ("directory", 1, "path") in nodes and ("directory", 1, "num_repeats") in nodes
    assert nodes[("directory", 1, "mystery")].unused == "unknown key"
    assert not any(p[:2] == ("directory", 0) for p in nodes)
    for bad in (2, -1):
        assert DirectoryTreeBuilder(REG, values, bad).build().children == []
    assert DirectoryTreeBuilder(REG, {"directory": "x"}, 0).build().children == []

