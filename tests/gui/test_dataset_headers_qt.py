"""The dataset scan's header readers on images Qt wrote (another encoder than Pillow's,
which tests/test_dataset_scan.py uses): the sizes and formats read back are the ones written."""
from __future__ import annotations

import pytest
from PySide6 import QtGui

from dpgui_qt.core.dataset import media


@pytest.mark.parametrize("fmt,suffix", [("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"),
                                        ("WEBP", ".webp")])
def test_header_sizes_match_qt(qapp, tmp_path, fmt, suffix):
    if fmt.lower().encode() not in [bytes(f) for f in QtGui.QImageWriter.supportedImageFormats()]:
        pytest.skip(f"this Qt has no {fmt} writer (WebP needs the imageformats plugin)")
    p = tmp_path / f"x{suffix}"
    img = QtGui.QImage(123, 45, QtGui.QImage.Format.Format_RGB32)
    img.fill(0xFF3366AA)
    assert img.save(str(p), fmt), p
    info = media.probe_file(str(p))
    assert info.size == (123, 45)
    assert info.format == fmt.lower()
