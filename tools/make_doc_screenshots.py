"""Render the README screenshots of the Doctor (on an incomplete environment: a
fresh venv without torch, a checkout whose submodules were never initialised)
and of the preset picker.

    PYTHONPATH=. QT_QPA_PLATFORM=offscreen python3 tools/make_doc_screenshots.py
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def incomplete_env(tmp: Path) -> tuple[Path, Path]:
    venv.EnvBuilder(with_pip=False).create(tmp / "venv")
    sub = tmp / "HunyuanVideo"
    sub.mkdir()
    env = dict(os.environ, GIT_AUTHOR_NAME="x", GIT_AUTHOR_EMAIL="x@x.invalid",
               GIT_COMMITTER_NAME="x", GIT_COMMITTER_EMAIL="x@x.invalid")

    def git(*a, cwd):
        subprocess.run(["git", "-c", "protocol.file.allow=always", *a], cwd=cwd, env=env,
                       check=True, capture_output=True)

    git("init", "-q", cwd=sub)
    (sub / "x.py").write_text("")
    git("add", ".", cwd=sub)
    git("commit", "-qm", "s", cwd=sub)
    up = tmp / "up"
    up.mkdir()
    git("init", "-q", cwd=up)
    (up / "train.py").write_text("")
    (up / "requirements.txt").write_text("deepspeed==0.18.4\ntoml\ndiffusers>=0.35.1\n")
    git("submodule", "add", "-q", str(sub), "submodules/HunyuanVideo", cwd=up)
    git("add", ".", cwd=up)
    git("commit", "-qm", "u", cwd=up)
    git("clone", "-q", str(up), str(tmp / "diffusion-pipe"), cwd=tmp)
    return tmp / "venv" / "bin" / "python", tmp / "diffusion-pipe"


def main() -> int:
    from PySide6.QtWidgets import QApplication

    from dpgui_qt.core import doctor
    from dpgui_qt.core.config.schema import default_registry
    from dpgui_qt.gui.doctor_dialog import DoctorDialog
    from dpgui_qt.gui.config.new_dialog import NewConfigDialog

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as d:
        os.environ["DPGUI_CONFIG_DIR"] = str(Path(d) / "settings")
        py, co = incomplete_env(Path(d))
        t = doctor.Target(python=str(py), checkout=str(co), checkout_host=str(co),
                          python_source="the screenshot")
        dlg = DoctorDialog(t, autostart=False)
        dlg.resize(1000, 640)
        dlg.show()
        done = []
        dlg.finished_report.connect(done.append)
        dlg.start()
        while not done:
            app.processEvents()
        dlg.list.setCurrentRow(0)
        app.processEvents()
        dlg.grab().save(str(ROOT / "docs" / "screenshot-doctor.png"))
        dlg.close()
        new = NewConfigDialog(default_registry(), None, "wan", vram_gb=23.6, checkout="", detect=False)
        new.resize(1180, 720)
        new.show()
        app.processEvents()
        new.grab().save(str(ROOT / "docs" / "screenshot-presets.png"))
    print("wrote docs/screenshot-doctor.png docs/screenshot-presets.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
