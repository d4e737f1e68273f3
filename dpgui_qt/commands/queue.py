"""``dpgui queue``: runs that start one after another, kept by a detached runner.

    dpgui queue add CONFIG [--sweep KEY=V1,V2,...] [--gpus N] [--force]
    dpgui queue list [--json]
    dpgui queue remove ID|POS       (a run not started yet, or an ended one)
    dpgui queue cancel ID|POS       (a pending run is skipped, a running one stopped)
    dpgui queue move ID|POS up|down|top
    dpgui queue pause | resume      (pause: nothing new starts after the current run)
    dpgui queue on-failure continue|pause
    dpgui queue clear               (drop ended runs from the list)

The queue is kept in ``<state dir>/.queue`` (``--state-dir``, $DPGUI_STATE_DIR,
or the user state folder); it goes on when this command, the shell or the GUI
ends.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from dpgui_qt.core.config.tomlcompat import split_top_level

ACTIONS = ("add", "list", "remove", "cancel", "move", "pause", "resume", "on-failure", "clear")


def add_parser(subparsers, name: str = "queue"):
    p = subparsers.add_parser(name, help="queue training runs to start one after another",
                              description="A queue of training runs kept by a detached runner; "
                              "it survives the GUI and the shell.")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("args", nargs="*", metavar="ARG",
                   help="add: CONFIG; remove/cancel: ID or position; move: ID up|down|top; "
                   "on-failure: continue|pause")
    p.add_argument("--sweep", metavar="KEY=V1,V2", help="add: one run per value of KEY "
                   "(TOML values, e.g. optimizer.lr=1e-4,5e-5), each with its own output_dir")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--gpus", type=int, metavar="N", help="number of GPUs (default 1)")
    g.add_argument("--all-gpus", action="store_true", help="let DeepSpeed use every GPU")
    p.add_argument("--checkout", metavar="DIR", help="diffusion-pipe checkout")
    p.add_argument("--deepspeed", metavar="PATH", help="venv dir or deepspeed executable")
    p.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                   help="add: extra environment variable for the run (repeatable)")
    p.add_argument("--force", action="store_true", help="queue despite pre-flight errors")
    p.add_argument("--state-dir", metavar="DIR", help="run state folder (default: "
                   "$DPGUI_STATE_DIR or the user state folder)")
    p.add_argument("--json", action="store_true", help="list: print JSON")
    return p


def _err(msg: str) -> int:
    print(f"dpgui queue: error: {msg}", file=sys.stderr)
    return 2


def _when(t) -> str:
    return time.strftime("%H:%M", time.localtime(t)) if t else ""


def run(args) -> int:
    from dpgui_qt.core.run.launch import default_state_dir
    from dpgui_qt.core.run.runqueue import RunQueue, ensure_runner, queue_dir_for, runner_alive

    state_root = Path(args.state_dir) if args.state_dir else default_state_dir()
    q = RunQueue(queue_dir_for(state_root))
    a = args.args
    try:
        if args.action == "add":
            if len(a) != 1:
                return _err("add takes one CONFIG")
            from dpgui_qt.core.run.queue_items import QueueSetupError, prepare_items
            key = values = None
            if args.sweep:
                key, sep, raw = args.sweep.partition("=")
                if not sep or not key.strip() or not raw.strip():
                    return _err("--sweep expects KEY=V1,V2,...")
                key, values = key.strip(), [v.strip() for v in _split_values(raw) if v.strip()]
            extra = {}
            for item in args.env:
                k, sep, v = item.partition("=")
                if not sep or not k:
                    return _err(f"--env expects VAR=VALUE, not {item!r}")
                extra[k] = v
            try:
                prep = prepare_items(a[0], q, checkout=args.checkout, deepspeed=args.deepspeed,
                                     gpus=None if args.all_gpus else (args.gpus or 1),
                                     sweep_key=key, sweep_values=values, force=args.force,
                                     spec_options={"extra_env": extra} if extra else None)
            except QueueSetupError as e:
                return _err(str(e))
            for label, f in prep.findings:
                if not f.is_error:
                    print(f"{label}: warning: {f.message}", file=sys.stderr)
            for it in prep.items:
                q.add(it)
                print(f"queued {it['id']}: {it['label']}")
            started = ensure_runner(q.dir, state_root)
            data = q.load()
            if data["paused"]:
                print("the queue is paused; 'dpgui queue resume' starts it", file=sys.stderr)
            elif started:
                print("queue runner started", file=sys.stderr)
            return 0
        if args.action == "list":
            data = q.load()
            if args.json:
                data = dict(data, runner_alive=runner_alive(q.dir))
                print(json.dumps(data, indent=1))
                return 0
            alive = runner_alive(q.dir)
            print(f"queue {q.dir}: {'paused' if data['paused'] else 'active'}"
                  + (f" ({data['pause_reason']})" if data["paused"] and data.get("pause_reason") else "")
                  + f"; after a failure: {'continue' if data['continue_on_failure'] else 'pause'}"
                  + f"; runner {'running' if alive else 'not running'}")
            if not data["items"]:
                print("(empty)")
            for n, it in enumerate(data["items"], 1):
                message = it.get("message") or ""
                print(f"{n:>2}. {it['id']}  {it['status']:<9} {it['label']}"
                      + (f"  [{message}]" if message else "")
                      + (f"  -> {it['run_dir']}" if it.get("run_dir") else ""))
            return 0
        if args.action in ("remove", "cancel"):
            if len(a) != 1:
                return _err(f"{args.action} takes one ID or position")
            it = q.remove(a[0]) if args.action == "remove" else q.cancel(a[0])
            print(f"{'removed' if args.action == 'remove' else 'cancelled'} {it['id']}: {it['label']}"
                  + (" (stopping the run)" if args.action == "cancel" and it["status"] == "running" else ""))
            return 0
        if args.action == "move":
            if len(a) != 2 or a[1] not in ("up", "down", "top"):
                return _err("move takes ID up|down|top")
            j = q.move(a[0], {"up": -1, "down": 1, "top": -10**6}[a[1]])
            print(f"moved to position {j + 1}")
            return 0
        if args.action == "pause":
            q.set_paused(True)
            print("paused: the current run goes on, nothing new starts")
            return 0
        if args.action == "resume":
            q.set_paused(False)
            if q.pending():
                ensure_runner(q.dir, state_root)
            print("resumed")
            return 0
        if args.action == "on-failure":
            if len(a) != 1 or a[0] not in ("continue", "pause"):
                return _err("on-failure takes continue|pause")
            q.set_continue_on_failure(a[0] == "continue")
            print(f"after a failed run the queue will {a[0]}")
            return 0
        if args.action == "clear":
            print(f"dropped {q.clear_finished()} ended run(s)")
            return 0
    except (KeyError, ValueError) as e:
        return _err(str(e.args[0]) if e.args else str(e))
    return _err(f"unknown action {args.action}")


def _split_values(raw: str) -> list[str]:
    """Split on commas outside brackets and quotes (values may be TOML arrays)."""
    return split_top_level(raw) or [raw]
