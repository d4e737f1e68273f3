"""Time to recompose the property tree when model.type changes.

    PYTHONPATH=. python bench/bench_recompose.py [--rounds 3] [--config FILE]

Measures, for a shown 1400x900 main window with main_example.toml loaded:
  * tree: the model's rebuild-and-merge after the type switch (rows inserted and
    removed, composed schema swapped), i.e. what the GUI adds;
  * paint: processing the resulting events until the view has repainted;
  * edit: the document edit itself (tomlkit re-parse, core.document), reported
    separately because it is the same for any edit.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEFAULT_CONFIG = REPO.parent / "shared" / "corpus" / "configs" / \
    "tdrussell__diffusion-pipe__examples__main_example.toml"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--config", default=str(DEFAULT_CONFIG))
    args = ap.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    os.environ.setdefault("DPGUI_CONFIG_DIR", str(Path("/tmp") / "dpgui-bench-settings"))
    from PySide6.QtWidgets import QApplication

    app = QApplication([])
    from dpgui_qt.gui.mainwindow import MainWindow

    w = MainWindow()
    w.resize(1400, 900)
    w.show()
    w.open_file(args.config, ask=False)
    w.editor.set_show_advanced(True)
    for _ in range(5):
        app.processEvents()
    session, model = w.session, w.editor.model
    types = session.registry.model_types()
    timings = {"tree": [], "paint": [], "edit": [], "total": []}
    sync = model.sync
    tree_time = [0.0]

    def timed_sync():
        t = time.perf_counter()
        sync()
        tree_time[0] = time.perf_counter() - t

    model.sync = timed_sync
    for _ in range(args.rounds):
        for t in types:
            t0 = time.perf_counter()
            session.set_value(("model", "type"), t)
            t1 = time.perf_counter()
            app.processEvents()
            t2 = time.perf_counter()
            timings["tree"].append(tree_time[0])
            timings["edit"].append(t1 - t0 - tree_time[0])
            timings["paint"].append(t2 - t1)
            timings["total"].append(t2 - t0)
    rows = sum(1 for _ in model._root.walk())
    print(f"{len(types)} model types x {args.rounds} rounds, ~{rows} rows, window 1400x900, "
          f"platform {os.environ['QT_QPA_PLATFORM']}")
    for name in ("tree", "paint", "edit", "total"):
        v = timings[name]
        print(f"  {name:6s} median {statistics.median(v) * 1000:6.1f} ms   p90 "
              f"{sorted(v)[int(len(v) * 0.9)] * 1000:6.1f} ms   max {max(v) * 1000:6.1f} ms")
    gui = [a + b for a, b in zip(timings["tree"], timings["paint"])]
    m = statistics.median(gui) * 1000
    print(f"recompose (tree + repaint) median {m:.1f} ms   (target < 100 ms)  "
          f"{'OK' if m < 100 else 'OVER TARGET'}")
    w.session.doc.saved_text = w.session.doc.text
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
