"""``dpgui remote``: one step of work on an SSH host, with JSON lines for a caller (issue #15).

The GUI runs these as ``QProcess`` children (so no SSH call ever blocks its event loop) and
reads their standard output; they are as usable from a shell::

    dpgui remote plan CONFIG --host DEST            what the upload would send (no change)
    dpgui remote upload CONFIG --host DEST          send it; progress lines; SIGTERM/Ctrl-C cancel
    dpgui remote saves OUTPUT_DIR --host DEST       the run folders' saved epochs/steps, sizes
    dpgui remote download PATH... --host DEST --to DIR [--checkpoints]
    dpgui remote control STATE --host DEST save|save_quit|stop|kill
    dpgui remote gpus --host DEST                   the host's GPUs (nvidia-smi there)
    dpgui remote stop-nodes --nodes H:N,... --run-id ID   stop a multi-node run on every node

With ``--json`` each prints one JSON object per line: ``{"event": "plan"|"progress"|"done"|
"error", ...}``.  Exit status 0 done, 1 failed or cancelled, 2 usage/setup error.
"""
from __future__ import annotations

import json
import signal
import sys
import threading

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


def add_parser(subparsers, name: str = "remote"):
    p = subparsers.add_parser(name, help="one step on an SSH host: upload plan, upload, saved "
                              "outputs, download, run control (for scripts and the GUI)",
                              description="One step of work on an SSH host (a profile name "
                              "or an SSH destination); with --json, one JSON object per line.")
    sub = p.add_subparsers(dest="remote_cmd", metavar="{plan,upload,saves,download,control,gpus,stop-nodes}")

    def common(sp):
        sp.add_argument("--host", required=True, metavar="DEST",
                        help="a host profile name or an SSH destination")
        sp.add_argument("--json", action="store_true", help="JSON lines on standard output")
        return sp

    for cmd in ("plan", "upload"):
        sp = common(sub.add_parser(cmd, help="what the upload sends" if cmd == "plan"
                                   else "upload the configs and datasets"))
        sp.add_argument("config", metavar="CONFIG")
        sp.add_argument("--checkout", metavar="DIR", help="the local diffusion-pipe checkout "
                        "(for configs it reads relative to it)")
    sp = common(sub.add_parser("saves", help="saved epochs/steps under an output_dir on the host"))
    sp.add_argument("output_dir", metavar="OUTPUT_DIR")
    sp = common(sub.add_parser("download", help="copy saved files or folders home"))
    sp.add_argument("paths", nargs="+", metavar="PATH")
    sp.add_argument("--to", required=True, metavar="DIR")
    sp.add_argument("--checkpoints", action="store_true",
                    help="also DeepSpeed checkpoint folders (global_step*), skipped by default")
    sp = common(sub.add_parser("control", help="save / save_quit / stop / kill a run on the host"))
    sp.add_argument("state", metavar="STATE", help="the run's state folder on the host, or the "
                    "local pointer folder 'dpgui launch --host' printed")
    sp.add_argument("action", choices=("save", "save_quit", "stop", "kill"))
    sp.add_argument("--grace", type=float, default=20.0, metavar="S")
    common(sub.add_parser("gpus", help="the host's GPUs, memory and load (nvidia-smi there)"))
    sn = sub.add_parser("stop-nodes", help="stop every process of a multi-node run on every node")
    sn.add_argument("--nodes", required=True, metavar="H:N,...")
    sn.add_argument("--node-ssh", action="append", default=[], metavar="HOST=DEST")
    sn.add_argument("--run-id", required=True)
    sn.add_argument("--grace", type=float, default=20.0, metavar="S")
    sn.add_argument("--json", action="store_true")
    return p


class _Out:
    def __init__(self, as_json: bool):
        self.as_json = as_json

    def event(self, kind: str, text: str = "", **data) -> None:
        if self.as_json:
            print(json.dumps({"event": kind, **data, **({"text": text} if text else {})}), flush=True)
        elif text:
            print(text, file=sys.stderr if kind == "error" else sys.stdout, flush=True)


def run(args) -> int:
    from dpgui_qt.core.run.hosts.base import HostError
    from dpgui_qt.core.run.multinode import MultiNodeError

    out = _Out(getattr(args, "json", False))
    cmd = args.remote_cmd
    if cmd is None:
        out.event("error", "dpgui remote: give a step: plan, upload, saves, download, control, "
                  "stop-nodes")
        return EXIT_SETUP
    try:
        if cmd == "stop-nodes":
            return _stop_nodes(args, out)
        from dpgui_qt.core.run.hosts.ssh import host_for
        host = host_for(args.host)
        host.connect()
        if cmd in ("plan", "upload"):
            return _sync(args, host, out, upload=cmd == "upload")
        if cmd == "saves":
            saves = host.list_saves(args.output_dir)
            out.event("saves", "" if out.as_json else _saves_text(saves), runs=saves)
            return EXIT_OK
        if cmd == "download":
            return _download(args, host, out)
        if cmd == "gpus":
            gpus = host.query_gpus()
            from dpgui_qt.core.monitor.gpu import host_gpu_line
            out.event("gpus", "\n".join(host_gpu_line(g.__dict__) for g in gpus) or "no GPU",
                      gpus=[g.__dict__ for g in gpus])
            return EXIT_OK
        if cmd == "control":
            res = host.control(args.state, args.action, args.grace)
            out.event("done", f"{args.action}: done", result=res)
            return EXIT_OK
    except (HostError, MultiNodeError, OSError) as e:
        out.event("error", f"dpgui remote: {e}")
        return EXIT_FAILED
    out.event("error", f"dpgui remote: unknown step {cmd!r}")
    return EXIT_SETUP


def _cancel_on_signals() -> threading.Event:
    cancel = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, lambda s, f: cancel.set())
        except (ValueError, OSError):      # pragma: no cover - not the main thread
            pass
    return cancel


def _sync(args, host, out: _Out, upload: bool) -> int:
    import os

    from dpgui_qt.core.run.hosts import sync
    if not os.path.isfile(args.config):
        out.event("error", f"dpgui remote: config not found: {args.config}")
        return EXIT_SETUP
    try:
        plan = sync.make_plan(args.config, host, local_checkout=args.checkout)
        diff = sync.plan_uploads(plan, host)
    except sync.SyncError as e:
        out.event("error", f"dpgui remote: {e}")
        return EXIT_FAILED
    out.event("plan", "\n".join(diff.lines()), lines=diff.lines(), bytes=diff.bytes,
              files=diff.file_count, remote_config=plan.remote_config,
              remote_output_dir=plan.remote_output_dir,
              findings=[{"level": f.level, "message": f.message} for f in plan.findings])
    if not upload:
        return EXIT_OK
    cancel = _cancel_on_signals()

    def progress(b, tb, f, tf):
        if out.as_json:
            out.event("progress", bytes=b, total_bytes=tb, files=f, total_files=tf)

    try:
        stats = sync.upload(plan, diff, host, progress=progress, cancel=cancel)
    except sync.SyncError as e:
        out.event("error", f"dpgui remote: {e}", cancelled=cancel.is_set())
        return EXIT_FAILED
    out.event("done", f"uploaded {stats.files_sent} files ({stats.bytes_sent} bytes)",
              bytes=stats.bytes_sent, files=stats.files_sent, method=stats.method,
              deleted=stats.deleted)
    return EXIT_OK


def _saves_text(runs: list[dict]) -> str:
    def human_bytes(size: int) -> str:
        n = float(size)
        for unit in ("B", "KiB", "MiB", "GiB"):
            if n < 1024 or unit == "GiB":
                return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
            n /= 1024
        return f"{n:.1f} GiB"
    lines = []
    for r in runs:
        lines.append(f"{r.get('name')}  {r.get('path')}")
        for s in r.get("saves", []):
            lines.append(f"  {s.get('name')}  {human_bytes(int(s.get('size') or 0))}")
        for c in r.get("checkpoints", []):
            lines.append(f"  {c.get('name')}  {human_bytes(int(c.get('size') or 0))}  (checkpoint)")
    return "\n".join(lines) or "no saved epochs or steps"


def _download(args, host, out: _Out) -> int:
    from dpgui_qt.core.run.hosts.base import HostError
    cancel = _cancel_on_signals()

    def progress(b, tb, f, tf):
        if out.as_json:
            out.event("progress", bytes=b, total_bytes=tb, files=f)

    try:
        got = host.download(args.paths, args.to, progress=progress, cancel=cancel,
                            include_checkpoints=args.checkpoints)
    except HostError as e:
        out.event("error", f"dpgui remote: {e}", cancelled=cancel.is_set())
        return EXIT_FAILED
    out.event("done", f"downloaded {len(got)} files to {args.to}", files=[str(p) for p in got])
    return EXIT_OK


def _stop_nodes(args, out: _Out) -> int:
    from dpgui_qt.core.run import multinode as mn
    nodes = mn.parse_nodes(args.nodes)
    by_name = {n.name: n for n in nodes}
    for item in args.node_ssh:
        host, _, dest = item.partition("=")
        if host in by_name:
            by_name[host].ssh = dest
    cluster = mn.Cluster(nodes=nodes, master_addr="127.0.0.1")
    res = mn.stop_nodes(cluster, args.run_id, grace=args.grace)
    left = {k: v for k, v in res.items() if not (isinstance(v, tuple) and v[1] == 0)}
    out.event("done" if not left else "error",
              "\n".join(f"{k}: " + (f"{v[0]} process(es) stopped, {v[1]} left" if isinstance(v, tuple)
                                    else str(v)) for k, v in res.items()),
              nodes={k: list(v) if isinstance(v, tuple) else v for k, v in res.items()})
    return EXIT_OK if not left else EXIT_FAILED
