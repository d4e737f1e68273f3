"""The schema-walking helpers in core/config/schema.py that the validator, the tree builder,
the editors and the schema audit share: $ref, array items, object properties."""
from __future__ import annotations

from dpgui_qt.core.config.schema import array_branch, deref, item_schema, object_properties

ROOT = {
    "$defs": {
        "entry": {"type": "object", "properties": {"path": {"type": "string"}}},
        "size": {"type": "integer", "minimum": 1},
    },
}


def test_deref_follows_local_refs_and_keeps_sibling_keys():
    assert deref(ROOT, {"$ref": "#/$defs/size"}) == {"type": "integer", "minimum": 1}
    node = deref(ROOT, {"$ref": "#/$defs/size", "minimum": 4, "description": "d"})
    assert node == {"type": "integer", "minimum": 4, "description": "d"}
    assert ROOT["$defs"]["size"]["minimum"] == 1  # the target is not changed
    assert deref(ROOT, {"$ref": "#/$defs/nowhere"}) == {}
    assert deref(ROOT, "not a schema") is None
    plain = {"type": "string"}
    assert deref(ROOT, plain) is plain


def test_item_schema_of_an_array_or_its_array_alternative():
    assert item_schema(ROOT, {"type": "array", "items": {"$ref": "#/$defs/entry"}}) == \
        {"$ref": "#/$defs/entry"}
    either = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    assert array_branch(ROOT, either)["type"] == "array"
    assert item_schema(ROOT, either) == {"type": "string"}
    assert item_schema(ROOT, {"oneOf": [{"$ref": "#/$defs/size"}]}) is None
    assert item_schema(ROOT, {"type": "string"}) is None


def test_object_properties_gathers_branches_and_the_node_wins():
    node = {"properties": {"a": {"type": "string"}},
            "allOf": [{"properties": {"a": {"type": "integer"}, "b": {}}}],
            "anyOf": [{"$ref": "#/$defs/entry"}, {"type": "null"}]}
    props = object_properties(ROOT, node)
    assert set(props) == {"a", "b", "path"} and props["a"] == {"type": "string"}
    assert "b" not in node["properties"]  # merging copies
    assert object_properties(ROOT, {"$ref": "#/$defs/entry"}) == {"path": {"type": "string"}}
    assert object_properties(ROOT, {"type": "string"}) is None
    assert object_properties(ROOT, {"anyOf": [{"type": "string"}]}) is None
    loop = {"$defs": {"x": {"anyOf": [{"$ref": "#/$defs/x"}]}}}
    assert object_properties(loop, {"$ref": "#/$defs/x"}) is None  # a $ref cycle ends
