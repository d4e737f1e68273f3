"""``dpgui monitor PATH [--replay SPEED] [--screenshot OUT.png]``: the training monitor
on its own window.

PATH is a run folder (its console log and TensorBoard files are followed while
the run trains), a console log file, or an output_dir (its newest run).
``--replay SPEED`` plays a log back in time order at SPEED x (each step waits its
iteration time / SPEED, at most 1 s) -- for demos and bug reports.
``--screenshot OUT.png`` renders the window offscreen (after ``--after-steps N``
replayed steps, or once the data are read) and exits.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

SCREENSHOT_SIZE = (1400, 900)


def add_parser(subparsers: Any, name: str) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help="watch a run's loss, learning rate, progress and GPUs (or replay a log)",
        description=__doc__.split("\n\n")[0].replace("``", ""))
    p.add_argument("path", metavar="PATH", help="run folder, console log, or output_dir")
    p.add_argument("--replay", type=float, metavar="SPEED", default=None,
                   help="play a log back at SPEED x real time (e.g. 50)")
    p.add_argument("--screenshot", metavar="OUT.png",
                   help="render the monitor offscreen to a PNG and exit")
    p.add_argument("--after-steps", type=int, metavar="N", default=None,
                   help="with --screenshot and --replay: stop the replay after N steps "
                        "(default: the whole log)")
    p.add_argument("--config", metavar="TOML",
                   help="main config whose epochs / max_steps give the ETA "
                        "(default: the config copy in the run folder)")
    p.add_argument("--epochs", type=int, default=None, help="override the planned epochs")
    p.add_argument("--max-steps", type=int, default=None, help="override max_steps")
    p.add_argument("--smoothing", type=float, default=None, metavar="W",
                   help="loss smoothing weight 0..0.999 (default 0.9)")
    p.add_argument("--fake-gpus", type=int, default=None, help=argparse.SUPPRESS)
    return p


def _wait(app, cond, timeout_s: float) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.01)
    return cond()


def run(args: argparse.Namespace) -> int:
    path = Path(args.path).expanduser()
    if not path.exists():
        print(f"dpgui monitor: {args.path}: no such file or folder", file=sys.stderr)
        return 2
    if args.replay is not None and not path.is_file():
        from dpgui_qt.core.monitor.history import find_run_log

        log = find_run_log(path) if path.is_dir() else None
        if log is None:
            print(f"dpgui monitor: --replay needs a console log; none found in {path}",
                  file=sys.stderr)
            return 2
        path = log
    if args.replay is not None and args.replay <= 0:
        print("dpgui monitor: --replay SPEED must be > 0", file=sys.stderr)
        return 2
    if args.screenshot:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from dpgui_qt.gui.app import make_app

    app = make_app(getattr(args, "qt_args", None), screenshot=bool(args.screenshot))
    from dpgui_qt.core.monitor.gpu import FakeSampler
    from dpgui_qt.core.monitor.history import read_plan
    from dpgui_qt.gui.monitor.window import MonitorWindow

    sampler = FakeSampler(count=args.fake_gpus) if args.fake_gpus else None
    win = MonitorWindow(sampler=sampler)
    model, view = win.model, win.view
    if args.smoothing is not None:
        view.set_smoothing(args.smoothing)

    def apply_plan() -> None:
        plan = read_plan(args.config) if args.config else {}
        m = model.metrics
        epochs = args.epochs or plan.get("epochs") or m.epochs
        max_steps = args.max_steps or plan.get("max_steps") or m.max_steps
        xe = plan.get("x_axis_examples")
        model.set_plan(epochs, max_steps, xe if isinstance(xe, bool) else None)

    if args.replay is not None:
        n = model.replay(path, args.replay, instant=bool(args.screenshot),
                         stop_after_steps=args.after_steps if args.screenshot else None)
        apply_plan()
        if not n:
            print(f"dpgui monitor: nothing to replay in {path}", file=sys.stderr)
    elif not model.follow(path):
        print(f"dpgui monitor: nothing to show in {path} (no run folder, log or event file)",
              file=sys.stderr)
        return 2
    else:
        apply_plan()

    if args.screenshot:
        win.resize(*SCREENSHOT_SIZE)
        win.show()
        if args.replay is not None:
            _wait(app, lambda: not model.replaying, 120)
        else:
            _wait(app, lambda: model.metrics.events_seen > 0 or len(model.metrics.tb) > 0, 10)
            _wait(app, lambda: not model.loading, 300)   # a long log: until it is all read
            _wait(app, lambda: False, 0.6)  # one more poll of the event files
        gpu = win.page.gpu
        if args.fake_gpus:  # demo GPUs: show a few minutes of history at once
            for _ in range(240):
                gpu.add_samples(gpu.sampler.sample())
        _wait(app, lambda: gpu.history.latest or gpu.unavailable_reason, 5)
        steps = model.metrics.main_loss()
        if len(steps):
            view.show_crosshair(float(steps.x[int(len(steps) * 0.72)]))
        view.refresh()
        for _ in range(3):
            app.processEvents()
        ok = win.grab().save(args.screenshot)
        win.close()
        if not ok:
            print(f"dpgui monitor: could not write {args.screenshot}", file=sys.stderr)
            return 2
        print(f"dpgui monitor: wrote {args.screenshot} ({len(steps)} steps)")
        return 0
    win.show()
    return int(app.exec())
