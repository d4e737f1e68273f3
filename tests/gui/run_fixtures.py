"""Shared set-up for the Run page tests: a fake diffusion-pipe checkout with a config
that validates, the fake deepspeed as the launcher, run state under tmp_path, and
cleanup that leaves no process behind."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

FAKE_DIR = Path(__file__).resolve().parents[1] / "fake_deepspeed"
sys.path.insert(0, str(FAKE_DIR))
from fake_ds_support import (FAKE_DEEPSPEED, live_group_psutil, make_checkout,  # noqa: E402, F401 - after the sys.path entry; re-exported to the tests
                             write_images, write_valid_config)


def collapse_cr(data: str) -> list[str]:
    """Rows a terminal would end up showing for ``data``, independent of the
    LineAssembler: split on \\n; a row's text is its last non-empty \\r segment
    (\\r\\n and tqdm's leading \\r give no extra rows); an unterminated tail is a row."""
    rows = data.split("\n")
    if rows and rows[-1] == "":
        rows.pop()
    out = []
    for r in rows:
        segs = [s for s in r.split("\r") if s]
        out.append(segs[-1] if segs else "")
    return out


class FakeRun:
    def __init__(self, tmp_path: Path, monkeypatch):
        self.tmp = tmp_path
        self.state_dir = tmp_path / "state"
        monkeypatch.setenv("DPGUI_STATE_DIR", str(self.state_dir))
        monkeypatch.delenv("DPGUI_DIFFUSION_PIPE", raising=False)
        self.co, _cfg, self.out = make_checkout(tmp_path)
        self.cfg = write_valid_config(tmp_path, self.co, self.out)
        self.reports = []
        self.answer = "start"

    def env(self, **fake):
        from dpgui_qt.gui.run.launch_settings import EnvSettings
        fake = {"steps": 5, "delay": 0.05, **fake}
        gpus = fake.pop("gpus", 2)
        return EnvSettings(checkout=str(self.co), deepspeed=str(FAKE_DEEPSPEED), gpu_count=gpus,
                           extra_env={f"FAKE_DS_{k.upper()}": str(v) for k, v in fake.items()},
                           stop_grace_s=1.0)

    def configure(self, **fake):
        self.env(**fake).save()

    def handler(self, report):
        self.reports.append(report)
        return self.answer

    def cleanup(self):
        from dpgui_qt.core.run import control
        from dpgui_qt.core.run.runs import list_sessions
        for h in list_sessions(self.state_dir):
            try:
                st = h.state()
            except FileNotFoundError:
                continue
            if st.get("pgid") and live_group_psutil(st["pgid"]):
                control.kill(st)


@pytest.fixture
def fake_run(tmp_path, monkeypatch):
    from dpgui_qt.gui.run import preflight
    fr = FakeRun(tmp_path, monkeypatch)
    preflight.set_handler(fr.handler)
    yield fr
    preflight.set_handler(None)
    fr.cleanup()


def open_run_page(window, cfg: Path):
    assert window.open_file(cfg, ask=False)
    window.show_page("run")
    page = window.page("run")
    page.refresh_spec()
    return page
