"""core/text: the one duration format the Run and Monitor tabs share."""
from __future__ import annotations

import math

from dpgui_qt.core.text import format_duration


def test_format_duration_two_largest_units():
    assert format_duration(None) == "—"
    assert format_duration(math.nan) == "—"
    assert format_duration(math.inf) == "—"
    assert format_duration(0) == "0s"
    assert format_duration(59) == "59s"
    assert format_duration(59.6) == "1m 00s"
    assert format_duration(61) == "1m 01s"
    assert format_duration(3723) == "1h 02m"          # not 1:02:03
    assert format_duration(3 * 3600 + 120) == "3h 02m"
    assert format_duration(2 * 86400 + 3600) == "2d 1h"


def test_format_duration_clock_stepped_back_reads_zero():
    assert format_duration(-5) == "0s"
