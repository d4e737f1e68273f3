"""Concurrent writers (issue #12): `dpgui set` against `dpgui set`, and against another
program editing the file while a set runs. Each test failed on main before the fix."""
from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from dpgui_qt.cli import main
from dpgui_qt.core.config.document import ConfigDocument
from tests.helpers import BASE_DATASET, BASE_MAIN

REPO = Path(__file__).resolve().parents[2]

WORKER = """
import sys
from dpgui_qt.cli import main
path, proc, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
bad = 0
for i in range(n):
    rc = main(["set", path, f"k{proc}_{i}={i}"])
    bad += rc != 0
sys.exit(1 if bad else 0)
"""


def test_four_processes_times_fifty_sets_lose_nothing(tmp_path):
    # before: updates were lost (5 of 100 with 2x50), every process exiting 0
    (tmp_path / "dataset.toml").write_text(BASE_DATASET)
    cfg = tmp_path / "main.toml"
    cfg.write_text(BASE_MAIN)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(cfg), str(p), "50"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
             for p in range(4)]
    errs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errs
    values = tomllib.loads(cfg.read_text())
    missing = [f"k{p}_{i}" for p in range(4) for i in range(50) if values.get(f"k{p}_{i}") != i]
    assert missing == []
    assert values["epochs"] == 10  # and the rest of the file is intact


def test_edit_by_another_program_during_set_is_not_overwritten(tmp_path, capsys, monkeypatch):
    # before: `dpgui set` wrote its version over the other program's edit and exited 0
    (tmp_path / "dataset.toml").write_text(BASE_DATASET)
    cfg = tmp_path / "main.toml"
    cfg.write_text(BASE_MAIN)
    theirs = BASE_MAIN.replace("epochs = 10", "epochs = 99")
    real_set = ConfigDocument.set

    def set_and_meanwhile_edit(self, *a, **kw):
        change = real_set(self, *a, **kw)
        cfg.write_text(theirs)  # another editor saves while dpgui set is working
        return change

    monkeypatch.setattr(ConfigDocument, "set", set_and_meanwhile_edit)
    rc = main(["set", str(cfg), "save_every_n_epochs=5"])
    err = capsys.readouterr().err
    assert rc == 3, err
    assert "another program changed" in err and "Nothing was written" in err
    assert cfg.read_text() == theirs
