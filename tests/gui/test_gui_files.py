"""File handling, undo/redo, end-to-end edit-and-save, templates, start-up hygiene."""
from __future__ import annotations

import difflib
import os
import subprocess
import sys
import time

import pytest
from PySide6.QtWidgets import QStyleOptionViewItem

from dpgui_qt.core.config import keypath as kp
from dpgui_qt.core.config.document import ConfigDocument
from dpgui_qt.core.config.schema import default_registry
from dpgui_qt.core.config.validate import Options, Validator
from dpgui_qt.gui.config.property_model import COL_VALUE
from dpgui_qt.core.config.templates import build_template

from .conftest import REPO

REG = default_registry()


def test_edit_lr_through_delegate_and_save_changes_one_line(window, main_example):
    original = main_example.read_text()
    assert window.open_file(main_example)
    ed = window.editor
    pidx = ed.proxy.mapFromSource(ed.model.index_for_path(("optimizer", "lr"), COL_VALUE))
    delegate = ed.tree.itemDelegate()
    w = delegate.createEditor(ed.tree.viewport(), QStyleOptionViewItem(), pidx)
    delegate.setEditorData(w, pidx)
    assert w.edit.text() == "2e-5"
    w.edit.setText("1e-4")
    delegate.setModelData(w, ed.proxy, pidx)
    assert window.isWindowModified()
    assert window.save()
    assert not window.isWindowModified()
    saved = main_example.read_text()
    diff = [d for d in difflib.ndiff(original.splitlines(), saved.splitlines())
            if d.startswith(("+", "-"))]
    assert diff == ["- lr = 2e-5", "+ lr = 1e-4"]


def test_undo_redo_restore_exact_text(window, main_example):
    assert window.open_file(main_example)
    s = window.session
    texts = [s.doc.text]
    s.set_value("epochs", 5)
    texts.append(s.doc.text)
    s.set_value(("model", "type"), "wan")
    texts.append(s.doc.text)
    s.reset("warmup_steps")
    texts.append(s.doc.text)
    s.insert_item("eval_datasets", 0, {"name": "e", "config": "e.toml"})
    texts.append(s.doc.text)
    for expected in reversed(texts[:-1]):
        s.undo_stack.undo()
        assert s.doc.text == expected
    assert not s.modified and not window.isWindowModified()
    for expected in texts[1:]:
        s.undo_stack.redo()
        assert s.doc.text == expected


def test_switching_model_types_never_drops_keys(window, main_example):
    assert window.open_file(main_example)
    s = window.session
    keys = set(s.doc.values()["model"])
    for t in ["wan", "flux", "mage_flow", "sdxl", "hunyuan-video"]:
        s.set_value(("model", "type"), t)
        assert set(s.doc.values()["model"]) == keys
    assert s.doc.values()["model"]["type"] == "hunyuan-video"


def test_revert_is_undoable(window, main_example):
    assert window.open_file(main_example)
    original = window.session.doc.text
    window.session.set_value("epochs", 3)
    window.revert()
    assert window.session.doc.text == original and not window.session.modified
    window.session.undo_stack.undo()
    assert "epochs = 3" in window.session.doc.text


def test_title_shows_file_and_modified_mark(window, main_example):
    assert window.open_file(main_example)
    assert window.windowTitle().startswith("main_example.toml[*]")
    assert not window.isWindowModified()
    window.session.set_value("epochs", 2)
    assert window.isWindowModified()


def test_unsaved_changes_prompt(window, main_example, tmp_path, dialogs):
    assert window.open_file(main_example)
    window.session.set_value("epochs", 2)
    other = tmp_path / "other.toml"
    other.write_text("epochs = 1\n")
    dialogs.answers = ["cancel"]
    assert not window.open_file(other)
    assert window.session.path == main_example
    dialogs.answers = ["discard"]
    assert window.open_file(other)
    assert window.session.path == other
    assert [m.kind for m in dialogs.messages] == ["question", "question"]


def test_bad_toml_gives_a_clear_dialog(window, tmp_path, dialogs):
    bad = tmp_path / "bad.toml"
    bad.write_text("epochs = 10\nlr = [1, 2\nfoo = bar\n")
    assert not window.open_file(bad)
    msg = dialogs.messages[-1]
    assert msg.kind == "error" and "bad.toml" in msg.text
    assert "Line" in msg.informative and "Traceback" not in msg.informative + msg.details
    missing = tmp_path / "missing.toml"
    assert not window.open_file(missing)
    assert "no such file" in dialogs.messages[-1].informative


def test_file_changed_on_disk_offers_reload(window, main_example, qtbot):
    assert window.open_file(main_example)
    bar = window.editor.banner
    # another editor saves atomically: write a temp file and rename it over ours
    tmp = main_example.with_suffix(".tmp")
    tmp.write_text(main_example.read_text().replace("epochs = 1000", "epochs = 7"))
    os.replace(tmp, main_example)
    qtbot.waitUntil(lambda: not bar.isHidden(), timeout=30_000)
    assert "changed on disk" in bar.label.text()
    bar.button("Reload").click()
    assert window.session.doc.get("epochs") == 7 and not window.session.modified
    # a second change is noticed too (the watch survived the rename)
    main_example.write_text(main_example.read_text().replace("epochs = 7", "epochs = 8"))
    qtbot.waitUntil(lambda: not bar.isHidden(), timeout=30_000)
    bar.button("Keep My Version").click()
    assert window.session.doc.get("epochs") == 7 and window.session.modified


def test_own_save_does_not_trigger_the_banner(window, main_example, qtbot):
    assert window.open_file(main_example)
    window.session.set_value("epochs", 4)
    assert window.save()
    qtbot.wait(600)
    assert window.editor.banner.isHidden()


def test_save_as_and_recent_files(window, main_example, tmp_path, qtbot):
    from dpgui_qt.gui import settings

    assert window.open_file(main_example)
    # opening records the recent file a moment later (after the first paint)
    qtbot.waitUntil(lambda: str(main_example.resolve()) in settings.recent_files(),
                    timeout=30_000)
    target = tmp_path / "copy.toml"
    assert window._save_to(str(target))
    assert window.session.path == target and target.read_text() == main_example.read_text()
    recent = settings.recent_files()
    assert recent[0] == str(target.resolve()) and str(main_example.resolve()) in recent
    assert settings.config_dir() == tmp_path / "settings"
    assert (tmp_path / "settings" / "dpgui.ini").is_file()


def test_new_from_template(window):
    window.new_from_template(build_template(REG, "wan", "lora"))
    assert window.session.path is None and window.session.modified
    assert window.windowTitle().startswith("Untitled")
    assert window.editor.model.index_for_path(("model", "ckpt_path")).isValid()


@pytest.mark.parametrize("model_type", REG.model_types())
def test_template_validates_without_errors(model_type):
    v = Validator(REG)
    for adapter in ("lora", None):
        doc = ConfigDocument.from_text(build_template(REG, model_type, adapter))
        findings = v.validate(doc, "main", Options())
        errors = [f for f in findings if f.is_error]
        assert not errors, [f.format() for f in errors]
        assert all(f.rule in ("paths_exist", "template_placeholder") for f in findings), \
            [f.format() for f in findings]
        # the example paths are recognised as placeholders (and marked in the text)
        ph = {f.key for f in findings if f.rule == "template_placeholder"}
        assert {"output_dir", "dataset"} <= ph
        for key in ph:
            line = doc.text.splitlines()[doc.locate(kp.parse(key))[0] - 1]
            assert line.endswith("# placeholder: replace with your own path"), line
        assert doc.get(("model", "type")) == model_type
        # comments are whole sentences: none ends inside parentheses or after "e.g."
        for line in doc.text.splitlines():
            if line.startswith("# ") and not line.startswith("# ---"):
                assert not line.rstrip().endswith(("(e.g.", "e.g)", "(", ",")), line


def test_pages_are_created_lazily(window):
    created = []

    def factory(win):
        from PySide6.QtWidgets import QLabel

        created.append(win)
        return QLabel("monitor page")

    from dpgui_qt.gui.pages import PageSpec

    window.add_page(PageSpec("extra", "Extra", factory))
    assert not created and window.created_page("extra") is None
    assert "page.extra" in window.actions
    window.show_page("extra")
    assert created == [window]
    assert window.page("extra").text() == "monitor page"
    window.page("extra")
    assert created == [window]                     # built once
    # the Run and Monitor pages are built on first show too
    assert window.created_page("run") is None and window.created_page("monitor") is None


def test_problem_click_selects_row(window, tmp_path):
    p = tmp_path / "c.toml"
    p.write_text("epochs = 0\noutput_dir = '/x'\ndataset = 'd.toml'\n[model]\ntype = 'flux'\n")
    assert window.open_file(p)
    findings = window.session.validate_now()
    f = next(f for f in findings if f.path == ("epochs",))
    window.go_to_finding(f)
    assert window.editor.current_source_index().data(0x0101) == ("epochs",)


def test_startup_path_skips_heavy_imports(main_example):
    """Until the window's first paint, nothing imports pyqtgraph or jsonschema on the GUI
    thread. An import hook records who imports them (the warm-up thread may, at any time:
    that is its job), so the verdict does not depend on how fast the machine is."""
    code = (
        "import sys, os, threading\n"
        "os.environ['QT_QPA_PLATFORM']='offscreen'\n"
        "gui, painted, bad = threading.get_ident(), [], set()\n"
        "class Spy:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        top = name.split('.')[0]\n"
        "        if top in ('pyqtgraph', 'jsonschema', 'av') and not painted \\\n"
        "                and threading.get_ident() == gui:\n"
        "            bad.add(top)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Spy())\n"
        "from PySide6.QtCore import QEvent, QObject\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "class F(QObject):\n"
        "    def eventFilter(self, o, e):\n"
        "        if e.type() == QEvent.Type.Paint and not painted:\n"
        "            painted.append(sorted(bad))\n"
        "        return False\n"
        "from dpgui_qt.gui.mainwindow import MainWindow\n"
        f"w = MainWindow(); f = F(); w.installEventFilter(f); w.open_file({str(main_example)!r})\n"
        "w.show()\n"
        "while not painted: app.processEvents()\n"
        "print('HEAVY', painted[0])\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert "HEAVY []" in out.stdout, out.stdout + out.stderr


def test_screenshot_cli(tmp_path, main_example):
    env = dict(os.environ, PYTHONPATH=str(REPO), DPGUI_CONFIG_DIR=str(tmp_path / "s"))
    out = tmp_path / "shot.png"
    r = subprocess.run([sys.executable, "-m", "dpgui_qt", "--screenshot", str(out),
                        str(main_example)], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    from PySide6.QtGui import QImage

    img = QImage(str(out))
    assert (img.width(), img.height()) == (1400, 900)
    bad = tmp_path / "bad.toml"
    bad.write_text("x = [\n")
    r = subprocess.run([sys.executable, "-m", "dpgui_qt", "--screenshot", str(out), str(bad)],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "bad.toml" in r.stderr and "Traceback" not in r.stderr


def test_validation_is_debounced(window, main_example, qtbot):
    assert window.open_file(main_example)
    window.session.validate_now()
    seen = []
    window.session.findingsChanged.connect(lambda f: seen.append(time.perf_counter()))
    for v in (2, 3, 4):
        window.session.set_value("epochs", v)
    assert not seen  # nothing ran synchronously while "typing"
    qtbot.waitUntil(lambda: bool(seen), timeout=30_000)
    qtbot.wait(300)
    assert len(seen) == 1
