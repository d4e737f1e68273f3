"""[[directory]] insert/move/remove keep each entry's own comments with it (core fix
for the dataset editor's directory operations)."""
from __future__ import annotations

import tomllib

from dpgui_qt.core.config.document import ConfigDocument

TEXT = """\
# my dataset
resolutions = [512]

# first folder
[[directory]]
path = 'a'
mask_path = 'm'  # loss masks

# second folder
# (two lines)
[[directory]]
path = 'b'

# third folder
[[directory]]
path = 'c'

[model]
type = 'x'
"""


def paths(doc):
    return [d["path"] for d in doc.values()["directory"]]


def block_of(text, comment):
    """The path written in the [[directory]] table that follows ``comment``."""
    rest = text[text.index(comment):]
    return rest[rest.index("path = '") + 8:].split("'")[0]


def test_move_carries_the_comment_above_each_header():
    doc = ConfigDocument(TEXT)
    doc.move("directory", 1, 2)
    assert paths(doc) == ["a", "c", "b"]
    assert block_of(doc.text, "# second folder") == "b"
    assert block_of(doc.text, "# third folder") == "c"
    assert "# (two lines)\n[[directory]]\npath = 'b'" in doc.text
    assert doc.text.rstrip().endswith("[model]\ntype = 'x'")
    assert tomllib.loads(doc.text)["model"] == {"type": "x"}


def test_remove_takes_only_its_own_comment():
    doc = ConfigDocument(TEXT)
    doc.remove("directory", 1)
    assert paths(doc) == ["a", "c"]
    assert "# second folder" not in doc.text and "# (two lines)" not in doc.text
    assert block_of(doc.text, "# third folder") == "c"
    assert "# loss masks" in doc.text and "# first folder" in doc.text


def test_insert_between_keeps_neighbours_comments_and_blank_lines():
    doc = ConfigDocument(TEXT)
    doc.insert("directory", 1, {"path": "new"})
    assert paths(doc) == ["a", "new", "b", "c"]
    assert block_of(doc.text, "# second folder") == "b"
    assert "\n\n[[directory]]\npath = \"new\"\n\n# second folder" in doc.text
    doc.insert("directory", 4, {"path": "end"})
    assert paths(doc) == ["a", "new", "b", "c", "end"]
    assert tomllib.loads(doc.text)["model"] == {"type": "x"}


def test_moving_to_the_front_keeps_the_comment_inside_the_header():
    doc = ConfigDocument(TEXT)
    doc.move("directory", 2, 0)
    assert paths(doc) == ["c", "a", "b"]
    assert "[[directory]]\n# third folder\npath = 'c'" in doc.text
    assert "# first folder" in doc.text
