"""The Dataset tab: scan counts and problems, directory operations (undoable, comments
kept), folder drag and drop, caption editing, inherited settings, linked files."""
from __future__ import annotations

import os
import struct
import subprocess
import sys

import pytest
from PySide6.QtCore import QMimeData, QModelIndex, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from dpgui_qt.core.config.document import MISSING
from dpgui_qt.gui.dataset import directory_model as dm
from dpgui_qt.gui.dataset.properties import InheritedRole, OverridesRole
from dpgui_qt.gui.config.property_model import COL_STATUS, COL_VALUE

from .conftest import REPO


# ------------------------------------------------------------------ fixtures
def qimage(path, w, h, fmt=None, color=0xFF3366AA):
    img = QImage(w, h, QImage.Format.Format_RGB32)
    img.fill(color)
    assert img.save(str(path), fmt), path


def animated_webp(w: int, h: int) -> bytes:
    vp8x = bytes([0x02, 0, 0, 0]) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
    anim = b"\xff\xff\xff\xff" + struct.pack("<H", 0)
    body = b"WEBP" + b"VP8X" + struct.pack("<I", 10) + vp8x + b"ANIM" + struct.pack("<I", 6) + anim
    return b"RIFF" + struct.pack("<I", len(body)) + body


DATASET_TEXT = """\
# my dataset
resolutions = [512]  # one size
enable_ar_bucket = true
min_ar = 0.5
max_ar = 2.0
num_ar_buckets = 3
num_repeats = 2

# first folder: photos
[[directory]]
path = '{a}'
mask_path = '{masks}'  # loss masks
num_repeats = 5

# second folder: extra
[[directory]]
path = '{b}'
resolutions = [768]
"""


@pytest.fixture
def data(tmp_path):
    """a/: 4 images (2 captioned), an animated WebP (captioned), an orphan caption;
    masks/: masks for all but four.png; b/: 2 captioned images."""
    a, b, masks = tmp_path / "a", tmp_path / "b", tmp_path / "masks"
    for d in (a, b, masks):
        d.mkdir()
    qimage(a / "one.png", 512, 512)
    qimage(a / "two.png", 768, 512)
    qimage(a / "three.jpg", 512, 768, "JPEG")
    qimage(a / "four.png", 600, 400)
    (a / "one.txt").write_text("a red square")
    (a / "two.txt").write_text("a wide red box")
    (a / "anim.webp").write_bytes(animated_webp(64, 48))
    (a / "anim.txt").write_text("moving")
    (a / "orphan.txt").write_text("nobody")
    for stem, (w, h) in (("one", (512, 512)), ("two", (768, 512)), ("three", (512, 768)),
                         ("anim", (64, 48))):
        qimage(masks / f"{stem}.png", w, h)
    qimage(b / "x.png", 640, 640)
    qimage(b / "y.png", 640, 480)
    (b / "x.txt").write_text("x")
    (b / "y.txt").write_text("y")
    cfg = tmp_path / "dataset.toml"
    cfg.write_text(DATASET_TEXT.format(a=a, b=b, masks=masks))
    return tmp_path


def open_dataset(window, path):
    assert window.open_file(path, ask=False)
    window.show_page("dataset")
    page = window.page("dataset")
    ed = page.current_editor()
    assert ed is not None
    ed._first_show()
    assert ed.wait_idle(30)
    return page, ed


def cell(ed, row, col):
    return ed.dir_model.index(row, col).data()


# ------------------------------------------------------------------ scan
def test_counts_and_problems_after_scan(window, data):
    _page, ed = open_dataset(window, data / "dataset.toml")
    assert ed.dir_model.rowCount() == 2
    assert cell(ed, 0, dm.COL_IMAGES) == "5"  # the animated WebP is an image suffix
    assert cell(ed, 0, dm.COL_VIDEOS) == "0"
    assert cell(ed, 0, dm.COL_CAPTIONS) == "4"
    assert cell(ed, 0, dm.COL_MISSING) == "2"
    assert cell(ed, 0, dm.COL_REPEATS) == "5"
    assert cell(ed, 1, dm.COL_IMAGES) == "2" and cell(ed, 1, dm.COL_MISSING) == "0"
    assert cell(ed, 1, dm.COL_REPEATS) == "2"  # inherited from the dataset
    # row marks: the first folder has an error (animated WebP), the second is fine
    assert ed.dir_model.index(0, dm.COL_PROBLEMS).data(dm.SeverityRole) == "error"
    assert "error" in cell(ed, 0, dm.COL_PROBLEMS)
    assert cell(ed, 1, dm.COL_PROBLEMS) == "OK"
    scan = ed.scans.result(0)
    kinds = {p.kind: p for p in scan.problems}
    assert set(kinds["missing_captions"].files) == {"four.png", "three.jpg"}
    assert kinds["missing_masks"].files == ["four.png"]
    assert kinds["webp_video"].files == ["anim.webp"]
    assert kinds["orphan_captions"].files == ["orphan.txt"]
    # the details panel lists them with the file names
    ed.select_row(0)
    text = ed.problems.toPlainText()
    for name in ("four.png", "three.jpg", "anim.webp", "orphan.txt"):
        assert name in text
    assert ed.tabs.tabText(2).startswith("Problems (")
    # media browser: missing captions marked
    m = ed.media.model
    assert m.rowCount() == 5
    from dpgui_qt.gui.dataset.media_view import MissingRole, ProblemRole
    marks = {m.names[r]: m.index(r).data(MissingRole) for r in range(m.rowCount())}
    assert marks == {"anim.webp": False, "four.png": True, "one.png": False, "three.jpg": True,
                     "two.png": False}
    assert m.index(m.row_of("anim.webp")).data(ProblemRole)


def test_rescan_when_folder_changes(window, data, qtbot):
    _page, ed = open_dataset(window, data / "dataset.toml")
    assert cell(ed, 1, dm.COL_IMAGES) == "2"
    qimage(data / "b" / "z.png", 100, 100)
    qtbot.waitUntil(lambda: cell(ed, 1, dm.COL_IMAGES) == "3", timeout=10_000)
    assert cell(ed, 1, dm.COL_MISSING) == "1"


def test_thumbnails_load_lazily_and_scaled(window, data, qtbot):
    _page, ed = open_dataset(window, data / "dataset.toml")
    ed.select_row(0)
    m = ed.media.model
    QApplication.processEvents()
    assert m.loader.loaded_count == 0  # nothing painted, nothing loaded
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: m.loader.loaded_count >= 4, timeout=10_000)
    pix = m.thumbnail(m.row_of("two.png"))
    assert pix is not None and max(pix.width(), pix.height()) <= m.edge


# ------------------------------------------------------------------ operations
def test_directory_operations_keep_comments_and_undo_exactly(window, data, tmp_path):
    _page, ed = open_dataset(window, data / "dataset.toml")
    s = ed.session
    original = s.doc.text
    stack = s.undo_stack
    extra = tmp_path / "c"
    extra.mkdir()
    texts = [original]
    assert ed.add_folders([str(extra)])
    texts.append(s.doc.text)
    assert ed.dir_model.rowCount() == 3 and s.doc.get(("directory", 2, "path")) == str(extra)
    ed.select_row(0)
    ed.duplicate_selected()
    texts.append(s.doc.text)
    assert s.doc.get(("directory", 1)) == s.doc.get(("directory", 0))
    ed.select_row(0)
    ed.move_selected(1)  # down
    texts.append(s.doc.text)
    ed.select_row(3)
    ed.move_selected(-1)  # up
    texts.append(s.doc.text)
    ed.select_row(0)  # the duplicate
    ed.remove_selected()
    texts.append(s.doc.text)
    assert [d["path"] for d in s.doc.get(("directory",))] == [str(data / "a"), str(extra),
                                                             str(data / "b")]
    # each comment above a [[directory]] header moved with its table
    assert s.doc.text.index("# second folder: extra") > s.doc.text.index(str(extra))
    for t in texts[1:]:
        for comment in ("# my dataset", "# one size", "# first folder: photos", "# loss masks",
                        "# second folder: extra"):
            assert comment in t, (comment, t)
    assert s.doc.get(("directory", 0, "path")) == str(data / "a")
    # undo walks back through every state exactly, redo forward again
    for want in reversed(texts[:-1]):
        stack.undo()
        assert s.doc.text == want
    assert s.doc.text == original
    for want in texts[1:]:
        stack.redo()
        assert s.doc.text == want


def test_remove_all_and_undo(window, data):
    _page, ed = open_dataset(window, data / "dataset.toml")
    s = ed.session
    original = s.doc.text
    assert ed.dir_model.remove_rows([0, 1])
    assert ed.dir_model.rowCount() == 0
    assert s.undo_stack.count() == 1  # one step
    s.undo_stack.undo()
    assert s.doc.text == original and ed.dir_model.rowCount() == 2


def _drop(view, mime, pos):
    vp = view.viewport()
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    enter = QDragEnterEvent(pos, actions, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(pos, actions, mime, Qt.MouseButton.LeftButton,
                          Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, move)
    drop = QDropEvent(QPointF(pos), actions, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(vp, drop)
    return drop


def test_drop_folders_from_file_manager(window, data, tmp_path, qtbot):
    _page, ed = open_dataset(window, data / "dataset.toml")
    window.resize(1200, 800)
    s = ed.session
    original = s.doc.text
    f1, f2 = tmp_path / "new1", tmp_path / "new2"
    f1.mkdir()
    f2.mkdir()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(f1)), QUrl.fromLocalFile(str(f2)),
                  QUrl.fromLocalFile(str(data / "dataset.toml"))])  # a file: ignored
    view = ed.table
    qtbot.waitExposed(window)
    below = QPoint(20, view.viewport().height() - 5)  # empty space under the rows: append
    _drop(view, mime, below)
    paths = [d["path"] for d in s.doc.get(("directory",))]
    assert paths[2:] == [os.path.normpath(f1), os.path.normpath(f2)]
    assert s.undo_stack.count() == 1 and s.undo_stack.undoText().startswith("Add 2 directories")
    s.undo_stack.undo()
    assert s.doc.text == original
    # a file only: refused
    only_file = QMimeData()
    only_file.setUrls([QUrl.fromLocalFile(str(data / "dataset.toml"))])
    assert not ed.dir_model.canDropMimeData(only_file, Qt.DropAction.CopyAction, -1, -1,
                                            QModelIndex())


def test_internal_row_drag_moves_the_table(window, data):
    _page, ed = open_dataset(window, data / "dataset.toml")
    s = ed.session
    mime = ed.dir_model.mimeData([ed.dir_model.index(0, 0)])
    ed.dir_model.dropMimeData(mime, Qt.DropAction.MoveAction, 2, 0, QModelIndex())
    assert s.doc.get(("directory", 1, "path")) == str(data / "a")
    assert "# first folder: photos" in s.doc.text
    assert ed.dir_model.rowCount() == 2


# ------------------------------------------------------------------ captions
def test_caption_edit_writes_txt_atomically(window, data, monkeypatch):
    _page, ed = open_dataset(window, data / "dataset.toml")
    ed.select_row(0)
    from dpgui_qt.gui.dataset import media_view

    calls = []
    real = media_view.atomic_write
    monkeypatch.setattr(media_view, "atomic_write",
                        lambda target, payload: (calls.append(str(target)), real(target, payload)))
    view = ed.media.view
    m = ed.media.model
    proxy = ed.media.proxy
    # edit an existing caption through the delegate
    idx = proxy.mapFromSource(m.index(m.row_of("one.png")))
    delegate = view.itemDelegate()
    editor = delegate.createEditor(view.viewport(), QStyleOptionViewItem(), idx)
    delegate.setEditorData(editor, idx)
    assert editor.toPlainText() == "a red square"
    editor.setPlainText("a red square, studio light")
    delegate.setModelData(editor, proxy, idx)
    assert (data / "a" / "one.txt").read_text() == "a red square, studio light"
    # write a missing caption: the file is created, the mark goes away
    idx = proxy.mapFromSource(m.index(m.row_of("four.png")))
    assert idx.data(media_view.MissingRole)
    assert proxy.setData(idx, "a small rectangle")
    assert (data / "a" / "four.txt").read_text() == "a small rectangle"
    assert not idx.data(media_view.MissingRole)
    assert calls == [str(data / "a" / "one.txt"), str(data / "a" / "four.txt")]
    assert not [p for p in os.listdir(data / "a") if p.endswith(".tmp")]
    # nothing typed for a missing caption: no empty file
    idx = proxy.mapFromSource(m.index(m.row_of("three.jpg")))
    assert not proxy.setData(idx, "   ")
    assert not (data / "a" / "three.txt").exists()
    # caption edits are on the dataset's undo stack: undo restores the old text, and
    # undoing a caption that did not exist removes the file again
    stack = ed.session.undo_stack
    assert stack.undoText() == "Caption of four.png"
    stack.undo()
    assert not (data / "a" / "four.txt").exists()
    assert proxy.mapFromSource(m.index(m.row_of("four.png"))).data(media_view.MissingRole)
    stack.undo()
    assert (data / "a" / "one.txt").read_text() == "a red square"
    stack.redo()
    stack.redo()
    assert (data / "a" / "one.txt").read_text() == "a red square, studio light"
    assert (data / "a" / "four.txt").read_text() == "a small rectangle"


# ------------------------------------------------------------------ inheritance
def test_inherited_and_overridden_directory_settings(window, data):
    _page, ed = open_dataset(window, data / "dataset.toml")
    s = ed.session
    fm = ed.folder_model
    ed.select_row(1)  # resolutions = [768] here, num_repeats inherited
    rep = fm.index_for_path(("directory", 1, "num_repeats"), COL_VALUE)
    assert rep.data() == "2"
    assert rep.data(InheritedRole) == ("dataset", 2)
    assert rep.siblingAtColumn(COL_STATUS).data() == "inherited from dataset"
    assert rep.data(Qt.ItemDataRole.FontRole).italic()
    assert "Inherited from dataset" in rep.data(Qt.ItemDataRole.ToolTipRole)
    res = fm.index_for_path(("directory", 1, "resolutions"), COL_VALUE)
    assert res.data(InheritedRole) is None
    assert res.data(OverridesRole) == [512]
    assert res.siblingAtColumn(COL_STATUS).data().startswith("overrides dataset")
    bool_row = fm.index_for_path(("directory", 1, "enable_ar_bucket"), COL_VALUE)
    assert bool_row.data(Qt.ItemDataRole.CheckStateRole) == Qt.CheckState.Checked
    # override num_repeats through the model, then reset back to inherited
    before = s.doc.text
    assert fm.setData(rep, 4)
    assert s.doc.get(("directory", 1, "num_repeats")) == 4
    rep = fm.index_for_path(("directory", 1, "num_repeats"), COL_VALUE)
    assert rep.data(InheritedRole) is None and rep.data(OverridesRole) == 2
    assert cell(ed, 1, dm.COL_REPEATS) == "4"
    assert fm.reset(fm.index_for_path(("directory", 1, "num_repeats")))
    assert s.doc.get(("directory", 1, "num_repeats")) is MISSING
    assert s.doc.text == before
    rep = fm.index_for_path(("directory", 1, "num_repeats"), COL_VALUE)
    assert rep.data(InheritedRole) == ("dataset", 2)
    # the dataset-level value changes what is inherited
    assert s.set_value(("num_repeats",), 3)
    assert fm.index_for_path(("directory", 1, "num_repeats"), COL_VALUE).data() == "3"
    # top-level settings tree hides the [[directory]] tables
    proxy = ed.settings_proxy
    paths = []

    def walk(parent):
        for r in range(proxy.rowCount(parent)):
            i = proxy.index(r, 0, parent)
            paths.append(proxy.mapToSource(i).internalPointer().path)
            walk(i)
    walk(QModelIndex())
    assert ("resolutions",) in paths and not any(p and p[0] == "directory" for p in paths)


# ------------------------------------------------------------------ linked files
MAIN = """\
output_dir = '{out}'
dataset = 'dataset.toml'
epochs = 10
micro_batch_size_per_gpu = 2
gradient_accumulation_steps = 2
eval_datasets = [{{ name = 'val', config = 'eval.toml' }}]

[model]
type = 'flux'
diffusers_path = '/nonexistent/flux'
transformer_path = '/nonexistent/flux.safetensors'
dtype = 'bfloat16'

[optimizer]
type = 'adamw_optimi'
lr = 2e-5
"""


@pytest.fixture
def linked(data):
    (data / "eval.toml").write_text(f"resolutions = [512]\n\n[[directory]]\npath = '{data / 'b'}'\n")
    main = data / "main.toml"
    main.write_text(MAIN.format(out=data / "out"))
    return main


def test_main_config_opens_its_datasets_and_saves_both(window, linked, data, dialogs):
    assert window.open_file(linked, ask=False)
    window.show_page("dataset")
    page = window.page("dataset")
    assert [e.session.path.name for e in page.editors] == ["dataset.toml", "eval.toml"]
    assert page.tabs.tabText(1).startswith("eval 'val'")
    ed = page.editors[0]
    ed._first_show()
    assert ed.wait_idle(30)
    # model-aware: the estimate uses the main config's batch (2 x 2 = 4)
    ed.refresh_derived()
    assert ed.estimate.estimate.global_batch == 4
    ed.estimate.gpus.setValue(2)
    ed.refresh_derived()
    assert ed.estimate.estimate.global_batch == 8
    # Edit > Undo follows the dataset while its tab is shown
    assert window.undo_group.activeStack() is ed.session.undo_stack
    ed.add_folders([str(data / "b")])
    assert ed.session.modified and window.isWindowModified()
    assert "•" in page.tabs.tabText(0)
    assert "modified" in ed.file_label.text()
    window.show_page("config")
    assert window.undo_group.activeStack() is window.session.undo_stack
    window.show_page("dataset")
    # Save writes the dataset too (atomically, via ConfigDocument.save)
    assert window.save()
    assert not ed.session.modified
    assert str(data / "b") in (data / "dataset.toml").read_text().split("[[directory]]")[-1]
    # dataset findings join the window's Problems panel, with the dataset's file name
    ed.session.set_value(("directory", 0, "num_repeats"), -1)
    ed.session.validate_now()
    found = [f for f in window.problems.model.findings() if f.file == str(ed.session.path)]
    assert any(f.path[:2] == ("directory", 0) and f.is_error for f in found)
    # activating it in the Problems panel shows the folder's key
    window.show_page("config")
    window.go_to_finding(next(f for f in found if f.path[:2] == ("directory", 0)))
    assert window.tabs.currentWidget() is window._slots["dataset"] and ed.current_row == 0
    assert ed.dir_model.index(0, dm.COL_PROBLEMS).data(dm.SeverityRole) == "error"
    # closing asks about the unsaved dataset
    dialogs.answers = ["discard"]
    assert window.maybe_save("closing")
    assert any("dataset.toml" in m.text for m in dialogs.messages)


def test_new_dataset_sets_main_key(window, data, tmp_path):
    main = tmp_path / "m.toml"
    main.write_text(MAIN.format(out=tmp_path / "out").replace("dataset = 'dataset.toml'\n", "")
                    .replace("eval_datasets = [{ name = 'val', config = 'eval.toml' }]\n", ""))
    assert window.open_file(main, ask=False)
    window.show_page("dataset")
    page = window.page("dataset")
    assert not page.editors and page._stack.currentWidget() is page.empty
    target = page.new_dataset(tmp_path / "ds.toml", image_dir=str(data / "b"))
    assert target.is_file()
    # absolute: diffusion-pipe reads relative paths from its checkout, not from here
    assert window.session.doc.get("dataset") == str((tmp_path / "ds.toml").resolve())
    assert [e.session.path.name for e in page.editors] == ["ds.toml"]
    v = page.editors[0].session.doc.values()
    assert v["resolutions"] == [512] and v["enable_ar_bucket"] is True
    assert v["directory"] == [{"path": str(data / "b")}]
    window.show_page("config")
    window.session.undo_stack.undo()
    assert window.session.doc.get("dataset") is MISSING


def test_screenshot_of_a_dataset_config(data, tmp_path):
    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO),
               DPGUI_CONFIG_DIR=str(tmp_path / "cfg"))
    proc = subprocess.run([sys.executable, "-m", "dpgui_qt", "--screenshot", str(out),
                           str(data / "dataset.toml")], capture_output=True, text=True,
                          env=env, timeout=120, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    img = QImage(str(out))
    assert img.width() == 1400 and img.height() == 900
