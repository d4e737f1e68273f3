"""split_top_level: the one splitter of TOML value text on top-level separators (used by
the list editor, `dpgui queue add --sweep` and the Queue panel's sweep field)."""
from dpgui_qt.core.config.tomlcompat import split_top_level


def test_splits_only_outside_brackets_and_quotes():
    assert split_top_level("1e-4, [0.9, 0.99], 'a,b', {x = 1, y = 2}") == \
        ["1e-4", " [0.9, 0.99]", " 'a,b'", " {x = 1, y = 2}"]
    assert split_top_level('"x]," , 2') == ['"x]," ', " 2"]
    assert split_top_level("") == [""]


def test_comment_stops_only_when_asked():
    assert split_top_level("1, 2 # three", stop_at_comment=True) is None
    assert split_top_level("'#', 2", stop_at_comment=True) == ["'#'", " 2"]
    assert split_top_level("1, 2 # three") == ["1", " 2 # three"]
