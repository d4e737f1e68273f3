"""Render docs/screenshot-outputs.png (Monitor ▸ Outputs) and docs/screenshot-samples.png
(Monitor ▸ Samples): a synthetic output_dir laid out like diffusion-pipe's (sparse
checkpoint files, so nothing big is written) and samples rendered through the fake
ComfyUI server the tests use.

    PYTHONPATH=. python bench/make_outputs_screenshots.py [DOCS_DIR]
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> int:
    docs = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs"
    from fake_comfyui import FakeComfy, api_workflow
    from monitor_synth import make_run as make_synth_run
    from outputs_layout import GB, make_dataset, make_run, safetensors, sparse
    from PySide6.QtWidgets import QApplication

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["DPGUI_CONFIG_DIR"] = str(tmp / "settings")
        os.environ["DPGUI_STATE_DIR"] = str(tmp / "state")
        d, cfg = make_dataset(tmp / "data", model_names=("wan", "flux"), resolutions=(512, 1024),
                              cache_size=6 * GB)
        out = tmp / "output"
        make_run(out, "20250903_21-14-08", dataset_cfg=cfg, epochs=(2, 4), checkpoints=(400, 800),
                 latest=800, ckpt_size=9 * GB)
        # the newest run has a loss curve (console log + TensorBoard events) to sample beside
        run = make_synth_run(out, "20250904_15-00-00", steps=1250, steps_per_epoch=250, epochs=5,
                             eval_every=250)
        (run / "dataset.toml").write_text(cfg.read_text())
        for p in list(run.iterdir()):
            if p.is_dir() and p.name.startswith(("epoch", "global_step")):
                import shutil
                shutil.rmtree(p)
        for e in range(1, 6):
            w = safetensors(run / f"epoch{e}" / "adapter_model.safetensors")
            with open(w, "r+b") as f:
                f.truncate(153 << 20)             # a 153 MB rank-32 flux LoRA, sparse
            (run / f"epoch{e}" / "adapter_config.json").write_text("{}")
            (run / f"epoch{e}" / "config.toml").write_text((run / "config.toml").read_text())
        for s in (250, 500, 750, 1000, 1250):
            sparse(run / f"global_step{s}" / "mp_rank_00_model_states.pt", 6 * GB)
            sparse(run / f"global_step{s}" / "zero_pp_rank_0_mp_rank_00_optim_states.pt", 3 * GB)
        (run / "latest").write_text("global_step1250")
        app = QApplication.instance() or QApplication([])
        from dpgui_qt.gui.monitor.page import MonitorPage
        page = MonitorPage(gpu_interval_ms=60000)
        page.resize(1400, 820)
        page.gpu.hide()
        page.outputs.set_output_dir(out)
        page.tabs.setCurrentWidget(page.outputs)
        page.show()
        while page.outputs.report is None:
            app.processEvents()
        runs = page.outputs.tree.topLevelItem(0)
        runs.child(0).setExpanded(True)
        page.outputs.select_path("Runs", run.name, "epoch5")
        page.outputs.tree.currentItem().setExpanded(True)
        for _ in range(20):
            app.processEvents()
        page.grab().save(str(docs / "screenshot-outputs.png"))

        wf = tmp / "workflow_api.json"
        wf.write_text(json.dumps(api_workflow()))
        loras = tmp / "ComfyUI" / "models" / "loras"
        loras.mkdir(parents=True)
        sv = page.samples
        with FakeComfy() as fake:
            sv.address.setText(fake.address)
            sv.workflow.setText(str(wf))
            sv.load_workflow()
            sv.loras_dir.setText(str(loras))
            sv.prompts.setPlainText("a red fox in the snow, ohwx style\nportrait of an old "
                                    "sailor, ohwx style\na lighthouse at dusk, ohwx style\n")
            sv.set_run(run)
            sv.sample_new()
            while sv.busy is not None or sv.todo():
                app.processEvents()
        page.tabs.setCurrentWidget(sv)
        for _ in range(20):
            app.processEvents()
        page.grab().save(str(docs / "screenshot-samples.png"))
        page.shutdown()
    print(f"wrote {docs / 'screenshot-outputs.png'} and {docs / 'screenshot-samples.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
