"""``dpgui launch CONFIG --host DEST``: a training run on an SSH host (issue #15).

DEST is a host profile's name (``dpgui hosts add``) or an SSH destination (an alias of
``~/.ssh/config`` or ``user@host[:port]``).  Steps: reach the host and install dpgui's helper;
plan the sync (rewritten copies of the configs, dataset folders mapped to the host's work
folder); pre-flight on the host; upload what differs (progress on stderr, Ctrl-C cancels);
start the run under a detached supervisor there; follow its log.  The run keeps going when
this command, the connection or the laptop goes away: ``dpgui launch --host DEST --attach
latest`` (or ``--attach <local pointer folder>`` / a run id / the host's state folder)
follows it again, from the start of its log ('latest': the newest run still going, else
the newest run there).  When the connection drops while following, it
reconnects and goes on from the last byte received, so no line is lost.

``--dry-run`` prints what would be uploaded, the command on the host and the pre-flight, and
exits.  Ctrl-C: save and stop, then Stop, then Kill -- as for local runs, done on the host.
Exit status as for local runs.
"""
from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
from typing import Any, cast
from pathlib import Path

from dpgui_qt.commands.launch_common import (EXIT_FAILED, EXIT_OK, EXIT_SETUP, EXIT_STOPPED,
                                             ConsolePrinter, spec_from_args)
from dpgui_qt.core.run.launch import default_state_dir
from dpgui_qt.core.run.follow import RunFollower


def add_arguments(p) -> None:
    g = p.add_argument_group("SSH host (issue #15)")
    g.add_argument("--host", metavar="DEST", help="run on this SSH host: a profile name (dpgui "
                   "hosts) or an SSH destination (alias, user@host[:port])")
    g.add_argument("--remote-checkout", metavar="DIR", help="diffusion-pipe checkout on the host")
    g.add_argument("--remote-deepspeed", metavar="PATH", help="deepspeed on the host (default: "
                   "the environment's, or deepspeed on PATH)")
    g.add_argument("--remote-workdir", metavar="DIR", help="work folder on the host for uploaded "
                   "configs, datasets and outputs (default ~/dpgui)")
    g.add_argument("--remote-env", metavar="DIR", help="venv/conda environment on the host")


def _err(msg: str) -> None:
    print(f"dpgui launch: error: {msg}", file=sys.stderr)


def _host(args, dest: str | None = None, spec: dict | None = None):
    from dpgui_qt.core.run.hosts import HostSpec, make
    from dpgui_qt.core.run.hosts.ssh import host_for

    if spec is not None:
        return make(HostSpec.from_dict(spec))
    return host_for(dest or args.host, checkout=args.remote_checkout,
                    deepspeed=args.remote_deepspeed, workdir=args.remote_workdir,
                    env=args.remote_env)


def pointer(path: str | None) -> dict | None:
    """The remote-run pointer in a local state folder, if that is what ``path`` is."""
    from dpgui_qt.core.run.hosts.ssh import POINTER_FILE

    if not path:
        return None
    p = Path(path) / POINTER_FILE
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None


def run(args) -> int:
    from dpgui_qt.core.run.hosts.base import HostError

    try:
        if args.attach:
            return _attach(args)
        return _launch(args)
    except HostError as e:
        _err(str(e))
        return EXIT_SETUP


def _attach(args) -> int:
    ptr = pointer(args.attach)
    host = _host(args, spec=ptr["host"]) if ptr else _host(args)
    host.connect()
    if ptr:
        state_dir = ptr["state_dir"]
    elif args.attach == "latest":
        active = host.active_runs() or host.active_runs(include_ended=True)
        if not active:
            _err(f"no run on {host.describe()} under {host.remote_state_root}")
            return EXIT_SETUP
        state_dir = active[0]["state_dir"]
    elif "/" in args.attach:
        state_dir = host.expand(args.attach)
    else:
        state_dir = f"{host.remote_state_root}/{args.attach}"
    if host.run_info(state_dir) is None:
        _err(f"no run state in {state_dir} on {host.describe()}")
        return EXIT_SETUP
    print(f"dpgui: following {state_dir} on {host.describe()}", file=sys.stderr)
    return follow(host, state_dir, args.stop_grace, exits_early_ok=False)


def _launch(args) -> int:
    from dpgui_qt.core.run import ssh_preflight
    from dpgui_qt.core.run.hosts import sync
    from dpgui_qt.core.run.spec import SpecError

    if not args.config:
        _err("CONFIG is required (or --attach)")
        return EXIT_SETUP
    if not os.path.isfile(args.config):
        _err(f"config not found: {args.config}")
        return EXIT_SETUP
    host = _host(args)
    if not host.checkout:
        _err("the diffusion-pipe checkout on the host is not known: give --remote-checkout DIR "
             "or use a host profile (dpgui hosts add)")
        return EXIT_SETUP
    host.connect()
    plan = sync.make_plan(args.config, host, local_checkout=args.checkout)
    try:
        spec = spec_from_args(args, host.checkout, host.deepspeed())
        spec.config = plan.remote_config
        spec.host = host.spec          # host paths stay as they are (no ~ left in them)
        cmd = spec.command()
    except (SpecError, ValueError) as e:
        _err(str(e))
        return EXIT_SETUP
    # the folders' manifests and the pre-flight's facts: one round trip
    diff = sync.plan_uploads(plan, host, extra_ops=[ssh_preflight.probe_op(host, plan)])
    findings = [f for f in plan.findings]
    pre = ssh_preflight.check(host, plan, gpus=spec.gpu_count, upload_bytes=diff.bytes,
                              facts=diff.extra[0])
    errors = [f for f in findings if f.level == "error"] + [f for f in pre if f.level == "error"]
    command = host.preview(cmd.argv, cmd.env, cmd.trainer_cwd)
    if args.dry_run:
        if args.json:
            print(json.dumps({"host": host.spec.to_dict(), "argv": cmd.argv, "env": cmd.env,
                              "cwd": cmd.trainer_cwd, "command": command,
                              "remote_config": plan.remote_config,
                              "remote_output_dir": plan.remote_output_dir,
                              "upload": {"files": diff.file_count, "bytes": diff.bytes,
                                         "lines": diff.lines()},
                              "findings": [{"level": f.level, "message": f.message} for f in findings + pre]},
                             indent=2))
        else:
            print(f"host: {host.describe()}")
            print("upload plan:")
            for line in diff.lines():
                print(f"  {line}")
            print(f"command: {command}")
        for f in findings + pre:
            fix = getattr(f, "fix", "")  # pre-flight issues have one, validator findings not
            print(f"{f.level}: {f.message}" + (f" ({fix})" if fix else ""), file=sys.stderr)
        return EXIT_OK
    for f in findings + pre:
        fix = getattr(f, "fix", "")
        print(f"{f.level}: {f.message}" + (f" ({fix})" if fix else ""), file=sys.stderr)
    if errors and not args.force:
        _err(f"the pre-flight found {len(errors)} error(s); nothing was started. Fix them, or use "
             "--force to launch anyway.")
        return EXIT_SETUP
    cancel = threading.Event()
    prev = signal.signal(signal.SIGINT, lambda s, f: cancel.set())
    tty = sys.stderr.isatty()

    def progress(b, tb, f, tf):
        if tty:
            sys.stderr.write(f"\rdpgui: upload {f}/{tf} files, {b}/{tb} bytes")

    try:
        for line in diff.lines():
            print(f"dpgui: {line}", file=sys.stderr)
        stats = sync.upload(plan, diff, host, progress=progress, cancel=cancel,
                            write_configs=False)        # they go with the start
    except sync.SyncError as e:
        _err(str(e))
        return EXIT_SETUP
    finally:
        signal.signal(signal.SIGINT, prev)
    if tty:
        sys.stderr.write("\n")
    print(f"dpgui: uploaded {stats.files_sent} dataset files ({stats.bytes_sent} bytes"
          + (f", by {stats.method}" if stats.files_sent else "") + ")", file=sys.stderr)
    state_root = Path(args.state_dir) if args.state_dir else default_state_dir()

    def on_started(st: dict) -> None:
        host.write_pointer(state_root, st)
        print(f"dpgui: started run {st['run_id']} on {host.describe()} (pid {st.get('pid')})",
              file=sys.stderr)
        print(f"dpgui: command: {command}", file=sys.stderr)
        print(f"dpgui: log on the host: {st['log_path']}", file=sys.stderr)
        print(f"dpgui: it keeps running if this command or the connection ends; follow it again "
              f"with: dpgui launch --attach {state_root / st['run_id']}", file=sys.stderr)

    # the configs, the start and the first log bytes: one round trip
    start = host.start_args(cmd.argv, env=cmd.env, cwd=cmd.cwd, config=plan.remote_config,
                            output_dir=plan.remote_output_dir, resume_from=spec.resume_name)
    return follow(host, None, args.stop_grace,
                  exits_early_ok=spec.exits_early_ok,
                  start=start, files=sync.config_files(diff), on_started=on_started)


def follow(host, state_dir: str | None, stop_grace: float, exits_early_ok: bool, out=None,
           start: dict | None = None, files: dict | None = None, on_started=None) -> int:
    """Follow a run on ``host`` to its end, reconnecting after a dropped connection.  With
    ``start`` (``SshHost.start_args``) the run is started by the first connection (never
    again on reconnecting) and ``on_started(state)`` is called."""
    from dpgui_qt.core.run import phase as ph
    from dpgui_qt.core.run.hosts.base import HostError

    out = out or sys.stdout
    run = RunFollower(exits_early_ok=exits_early_ok)     # the core's pipeline, as for local runs
    printer = ConsolePrinter(out, run)
    q: queue.Queue = queue.Queue()
    interrupts = [0]
    handled = 0
    last: dict[str, Any] = {"info": None, "offset": 0, "ended": False, "connected": True}
    stop_follow = threading.Event()

    where = {"state_dir": state_dir}

    def reader():
        backoff = 0.5
        pending_start = start
        while not stop_follow.is_set():
            got_end = False
            try:
                for item in host.follow(where["state_dir"], last["offset"], start=pending_start,
                                        files=files if pending_start else None):
                    last["connected"] = True
                    if item[0] == "started":
                        where["state_dir"] = item[1]["state_dir"]
                        pending_start = None
                    q.put(item)
                    if item[0] == "log":
                        last["offset"] = item[1] + len(item[2])
                        backoff = 0.5
                    elif item[0] == "reset":
                        last["offset"] = 0
                    elif item[0] == "end":
                        got_end = True
                        break
            except (HostError, OSError) as e:
                if pending_start is not None:
                    q.put(("fatal", str(e)))
                    return
                q.put(("note", f"dpgui: {e}"))
            if got_end or stop_follow.is_set():
                return
            if pending_start is not None:
                # never start twice: whether it started is for --attach to find out
                q.put(("fatal", f"the connection to {host.describe()} broke while the run was "
                                f"being started; see: dpgui launch --host "
                                f"{host.spec.get('profile') or host.transport.destination} --attach latest"))
                return
            last["connected"] = False
            q.put(("note", "dpgui: the connection to the host broke; reconnecting (Ctrl-C stops "
                           "following; the run goes on there)"))
            stop_follow.wait(backoff)
            backoff = min(backoff * 2, 10.0)

    def act(action: str):
        def go():
            try:
                host.control(where["state_dir"], action, stop_grace)
            except HostError as e:
                print(f"dpgui: {e}", file=sys.stderr)
        threading.Thread(target=go, daemon=True).start()

    prev = signal.signal(signal.SIGINT, lambda s, f: interrupts.__setitem__(0, interrupts[0] + 1))
    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        while True:
            try:
                item = q.get(timeout=0.1)
            except queue.Empty:
                item = None
            if interrupts[0] > handled and where["state_dir"] is None:
                handled = interrupts[0]
                print("\ndpgui: the run is being started; Ctrl-C acts once it has.", file=sys.stderr)
            if interrupts[0] > handled and not last["connected"]:
                # nothing can reach the run now: stop following, it goes on there
                print(f"\ndpgui: not connected to {host.describe()}; the run goes on there. "
                      f"Follow it again with: dpgui launch --host {host.spec.get('profile') or host.transport.destination} "
                      f"--attach {where['state_dir']}", file=sys.stderr)
                return EXIT_FAILED
            while handled < interrupts[0]:
                handled += 1
                quit_asked = False
                if handled == 1:
                    # the host finds the run folder itself (the state we hold may predate it)
                    try:
                        host.control(where["state_dir"], "save_quit")
                        quit_asked = True
                    except HostError as e:
                        print(f"\ndpgui: {e}", file=sys.stderr)
                if quit_asked:
                    print("\ndpgui: Ctrl-C: asked the trainer on the host to save a checkpoint and "
                          "stop at the next step (save_quit). Ctrl-C again stops it now.", file=sys.stderr)
                    run.request_stop("save_quit")
                elif handled <= 2:
                    print(f"\ndpgui: stopping the run on the host (SIGTERM, SIGKILL after "
                          f"{stop_grace:g} s). Ctrl-C again kills at once.", file=sys.stderr)
                    run.request_stop("stop")
                    act("stop")
                else:
                    print("\ndpgui: killing the run on the host (SIGKILL).", file=sys.stderr)
                    run.request_stop("kill")
                    act("kill")
            if item is None:
                continue
            if item[0] == "log":
                printer.show(*run.split(item[2]))
                printer.flush()
            elif item[0] == "started":
                if on_started is not None:
                    on_started(item[1])
            elif item[0] == "fatal":
                _err(item[1])
                return EXIT_FAILED
            elif item[0] == "state":
                last["info"] = item[1]
            elif item[0] == "note":
                print(item[1], file=sys.stderr)
            elif item[0] == "end":
                printer.show(*run.flush())
                run.end_events()
                printer.flush()
                break
    finally:
        stop_follow.set()
        signal.signal(signal.SIGINT, prev)
    info = last["info"] or host.run_info(where["state_dir"]) or {}
    final: dict[str, Any] = info.get("state") or {}
    eff = final.get("status")
    if eff in ("running", "starting"):
        eff = "lost"
    if eff == "failed_to_start":
        _err(final.get("error") or "the trainer could not be started")
        return EXIT_FAILED
    if eff == "lost":
        _err("the run's processes on the host are gone and its supervisor did not record an exit code")
        return EXIT_FAILED
    run.conclude(final, cast(str, eff))
    rc = run.exit_code
    if run.status.phase == ph.Phase.FINISHED:
        print("dpgui: training finished.", file=sys.stderr)
        return EXIT_OK
    if run.status.phase == ph.Phase.STOPPED:
        print(f"dpgui: run stopped before completion (exit code {rc}).", file=sys.stderr)
        return EXIT_STOPPED
    print(f"dpgui: run failed (exit code {rc}); log on the host: {final.get('log_path')}", file=sys.stderr)
    return EXIT_FAILED
