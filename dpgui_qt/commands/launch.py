"""``dpgui launch``: print or run a diffusion-pipe training headless (e.g. over SSH).

The run is started through the detached supervisor, so it keeps going if this
command (or the SSH session) dies; ``dpgui launch --attach STATE_DIR`` follows
it again.  Ctrl-C asks for save-and-stop; a second Ctrl-C stops at once
(SIGTERM, then SIGKILL after --stop-grace); a third kills.

Before anything starts, the launch gate (:mod:`dpgui_qt.core.run.gate`) checks
every file the run reads; its errors stop the launch unless ``--force`` is given.
``--check`` runs the gate alone.

Exit status: 0 finished (``TRAINING COMPLETE!`` seen, or exit 0 for
--cache_only/--dump_dataset), 1 failed, 2 setup/usage error or the gate found
errors, 3 stopped before completion (save-and-stop, Stop or Kill).  With
``--check``: 0 no errors, 1 errors.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from dpgui_qt.commands.launch_common import (EXIT_FAILED, EXIT_OK, EXIT_SETUP, EXIT_STOPPED,
                                             ConsolePrinter, spec_from_args)
from dpgui_qt.core.run import switches as sw
from dpgui_qt.core.run.launch import default_state_dir
from dpgui_qt.core.run.follow import RunFollower




def add_parser(subparsers, name: str = "launch") -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        name, help="launch a training run (or print its command with --dry-run)",
        description="Start diffusion-pipe training for CONFIG through a detached supervisor "
        "and follow its console, or print the command with --dry-run.",
        epilog="Exit status: 0 finished, 1 failed, 2 setup error, 3 stopped before completion.")
    p.add_argument("config", nargs="?", metavar="CONFIG", help="main training config (.toml)")
    p.add_argument("--dry-run", action="store_true", help="print argv, added environment and "
                   "working directory instead of running")
    p.add_argument("--json", action="store_true", help="with --dry-run: print JSON")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--gpus", type=int, metavar="N", help="number of GPUs (--num_gpus=N; default 1)")
    g.add_argument("--include", metavar="IDS", help="GPU ids to use, e.g. 0,2 (--include localhost:0,2)")
    g.add_argument("--all-gpus", action="store_true", help="let DeepSpeed use every visible GPU")
    p.add_argument("--resume", metavar="RUN", help="resume from this run folder in output_dir "
                   "('latest' = newest run with a checkpoint)")
    p.add_argument("--master-port", type=int, metavar="P", help="rendezvous port (train.py and launcher)")
    p.add_argument("--checkout", metavar="DIR", help="diffusion-pipe checkout (default: "
                   "$DPGUI_DIFFUSION_PIPE, then <repo>/ref/diffusion-pipe)")
    p.add_argument("--deepspeed", metavar="PATH", help="venv/conda env dir or deepspeed executable "
                   "(default: $DPGUI_DEEPSPEED, then PATH)")
    for switch in sw.TRAIN_SWITCHES:        # train.py's switches, from the one table
        if switch.kind == "bool":
            p.add_argument(*switch.cli_flags, dest=switch.name, action="store_true",
                           help=f"{switch.help} (train.py {switch.train_flag})")
        else:
            p.add_argument(*switch.cli_flags, dest=switch.name, metavar=switch.metavar,
                           help=f"{switch.help} (train.py {switch.train_flag} {switch.metavar})")
    p.add_argument("--no-nccl-workaround", action="store_true",
                   help="do not set NCCL_P2P_DISABLE=1 / NCCL_IB_DISABLE=1")
    p.add_argument("--expandable-segments", action="store_true",
                   help="set PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True")
    p.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                   help="extra environment variable (repeatable)")
    p.add_argument("--state-dir", metavar="DIR", help="where run state is kept "
                   "(default: $DPGUI_STATE_DIR or the user state folder)")
    p.add_argument("--log", metavar="FILE", help="console log file (default: "
                   "<output_dir>/.dpgui-logs/dpgui-<UTC stamp>.log)")
    p.add_argument("--stop-grace", type=float, default=20.0, metavar="S",
                   help="seconds between SIGTERM and SIGKILL on Stop (default 20)")
    p.add_argument("--check", action="store_true",
                   help="run the launch gate only: check every file the run reads (main, "
                   "dataset and eval dataset configs, the media) with the GPU count and "
                   "checkout known, print what it found and exit (0 = no errors, 1 = errors)")
    p.add_argument("--force", action="store_true",
                   help="launch even though the launch gate found errors")
    p.add_argument("--attach", metavar="STATE_DIR", help="follow an already started run (with "
                   "--host: 'latest', a run id or the host's state folder)")
    from dpgui_qt.commands import launch_multinode, launch_ssh
    launch_ssh.add_arguments(p)
    launch_multinode.add_arguments(p)
    return p


def _err(msg: str) -> None:
    print(f"dpgui launch: error: {msg}", file=sys.stderr)



def run(args) -> int:
    from dpgui_qt.core.run import preflight as envmod
    from dpgui_qt.core.run.spec import SpecError

    from dpgui_qt.commands import launch_multinode
    if args.config and not args.attach and launch_multinode.wants_multinode(args):
        return launch_multinode.run(args)            # several SSH hosts (issue #15)
    if getattr(args, "host", None) or (args.attach and _remote_pointer(args.attach)):
        from dpgui_qt.commands import launch_ssh       # a run on an SSH host (issue #15)
        return launch_ssh.run(args)
    if args.attach:
        return _follow(Path(args.attach), args.stop_grace, exits_early_ok=False)
    if not args.config:
        _err("CONFIG is required (or --attach STATE_DIR)")
        return EXIT_SETUP
    try:
        values = envmod.load_config(args.config)
        checkout = envmod.find_checkout(args.checkout)
    except envmod.SetupError as e:
        _err(str(e))
        return EXIT_SETUP
    ds_note = None
    try:
        deepspeed = envmod.find_deepspeed(args.deepspeed)
    except envmod.SetupError as e:
        if not (args.dry_run or args.check):
            _err(str(e))
            return EXIT_SETUP
        deepspeed, ds_note = None, str(e)
    try:
        spec = spec_from_args(args, checkout, deepspeed)
        if spec.resume_from_checkpoint == "latest":
            from dpgui_qt.core.run.runs import resume_candidates
            od = envmod.output_dir_on_host(spec, values)
            cands = resume_candidates(od) if od else []
            if not cands:
                _err(f"--resume latest: no run folder with a checkpoint in {od}")
                return EXIT_SETUP
            spec.resume_from_checkpoint = cands[0].name
        cmd = spec.command()
    except (SpecError, ValueError) as e:
        _err(str(e))
        return EXIT_SETUP
    from dpgui_qt.core.run.gate import run_gate
    gate = run_gate(spec)
    findings = gate.findings
    if args.dry_run:
        findings = [f for f in findings if not (ds_note and f.code == "deepspeed")]
        return _dry_run(cmd, findings, ds_note, args.json)
    if args.check:
        return _print_check(gate, args.json)

    for line in gate.lines():
        print(line, file=sys.stderr)
    if gate.errors:
        keys = sorted({f.key for f in gate.errors if f.key})
        named = f" ({', '.join(keys[:8])}{', ...' if len(keys) > 8 else ''})" if keys else ""
        if not args.force:
            _err(f"the launch gate found {len(gate.errors)} error(s){named}; the trainer was "
                 "not started. Fix them, or use --force to launch anyway.")
            return EXIT_SETUP
        print(f"dpgui launch: --force: launching despite {len(gate.errors)} error(s){named}.",
              file=sys.stderr)

    state_root = Path(args.state_dir) if args.state_dir else default_state_dir()
    try:
        st = cmd.host.start_supervisor(
            cmd.argv, state_root, env=cmd.env, cwd=cmd.cwd, config=str(spec.config),
            output_dir=envmod.output_dir_on_host(spec, values), resume_from=spec.resume_name,
            log_path=args.log)
    except (OSError, RuntimeError) as e:
        _err(str(e))
        return EXIT_FAILED
    print(f"dpgui: started run {st['run_id']} (pid {st.get('pid')})", file=sys.stderr)
    print(f"dpgui: command: {cmd.preview()}", file=sys.stderr)
    print(f"dpgui: log: {st['log_path']}", file=sys.stderr)
    print(f"dpgui: it keeps running if this command ends; follow it again with: "
          f"dpgui launch --attach {st['state_dir']}", file=sys.stderr)
    return _follow(Path(st["state_dir"]), args.stop_grace,
                   exits_early_ok=spec.exits_early_ok)


def _remote_pointer(path: str) -> bool:
    from dpgui_qt.core.run.hosts.ssh import POINTER_FILE
    return os.path.isfile(os.path.join(path, POINTER_FILE))


def _print_check(gate, as_json: bool) -> int:
    """``--check``: what the gate found, also when nothing is wrong."""
    if as_json:
        print(json.dumps({"files": gate.files, "errors": len(gate.errors),
                          "warnings": len(gate.warnings),
                          "findings": [{k: v for k, v in f.__dict__.items() if k != "action"}
                                       for f in gate.findings]}, indent=2))
    else:
        for f in gate.files:
            print(f"checked: {f}")
        for line in gate.lines():
            print(line)
        print(gate.summary())
    return EXIT_FAILED if gate.errors else EXIT_OK


def _dry_run(cmd, findings, ds_note, as_json: bool) -> int:
    from dpgui_qt.core.run.spec import masked_env
    env = masked_env(cmd.env)         # secrets (WANDB_API_KEY=...) are never printed
    if as_json:
        print(json.dumps({"argv": cmd.argv, "env": env, "cwd": cmd.cwd,
                          "trainer_cwd": cmd.trainer_cwd, "host": cmd.host.spec.to_dict(),
                          "command": cmd.preview(),
                          "findings": [{k: v for k, v in f.__dict__.items() if k != "action"}
                                       for f in findings],
                          "notes": [ds_note] if ds_note else []}, indent=2))
    else:
        if not cmd.host.is_this_machine:
            print(f"host: {cmd.host.describe()}")
        print(f"cwd: {cmd.cwd}")
        for k, v in env.items():
            print(f"env: {k}={v}")
        print("argv:")
        for a in cmd.argv:
            print(f"  {a}")
        print(f"command: {cmd.preview()}")
    if ds_note:
        print(f"note: {ds_note}", file=sys.stderr)
    for f in findings:
        print(f"{f.level}: {f.message}" + (f" ({f.fix})" if f.fix else ""), file=sys.stderr)
    return EXIT_OK



def _follow(state_dir: Path, stop_grace: float, exits_early_ok: bool) -> int:
    """Print the run's console as it grows (a progress line in place of each step
    line) until it ends; Ctrl-C asks it to stop.  Reading, parsing and the phase are
    the core's RunFollower; this keeps the terminal and the signals."""
    from dpgui_qt.core.run.phase import Phase
    from dpgui_qt.core.run.runs import attach

    try:
        handle = attach(state_dir)
    except FileNotFoundError as e:
        _err(str(e))
        return EXIT_SETUP
    reader = handle.follower()
    run = RunFollower(exits_early_ok=exits_early_ok)
    printer = ConsolePrinter(sys.stdout, run)
    interrupts = [0]

    def on_sigint(signum, frame):
        interrupts[0] += 1

    prev = signal.signal(signal.SIGINT, on_sigint)
    handled = 0
    try:
        while True:
            data = reader.read()
            printer.show(*run.split(data))
            printer.flush()
            cur = handle.state()
            while handled < interrupts[0]:
                handled += 1
                _interrupt(handled, cur, run, stop_grace)
            if handle.effective_status(cur) not in ("starting", "running"):
                printer.show(*run.split(reader.read_available()))
                printer.show(*run.flush())
                run.end_events()
                printer.flush()
                break
            if not data:
                time.sleep(0.1)
    finally:
        signal.signal(signal.SIGINT, prev)

    final = handle.state()
    eff = handle.effective_status(final)
    if eff == "failed_to_start":
        _err(final.get("error") or "the trainer could not be started")
        return EXIT_FAILED
    if eff == "lost":
        _err("the run's processes are gone and its supervisor did not record an exit code")
        return EXIT_FAILED
    run.conclude(final, eff)
    rc = run.exit_code
    if final.get("exit_inferred"):
        print(f"dpgui: note: {final['exit_inferred']}.", file=sys.stderr)
    if run.status.phase == Phase.FINISHED:
        print("dpgui: training finished.", file=sys.stderr)
        return EXIT_OK
    if run.status.phase == Phase.STOPPED:
        print(f"dpgui: run stopped before completion (exit code {rc}){_checkpoint_note(final)}.",
              file=sys.stderr)
        return EXIT_STOPPED
    if final.get("error"):
        _err(final["error"])
    print(f"dpgui: run failed (exit code {rc}); log: {final.get('log_path')}", file=sys.stderr)
    return EXIT_FAILED



def _interrupt(n: int, state: dict, run: RunFollower, stop_grace: float) -> None:
    """The n-th Ctrl-C: save-and-stop, then Stop (in the background), then Kill."""
    from dpgui_qt.core.run import control
    from dpgui_qt.core.run.supervisor import locate_run_dir

    try:
        if n == 1 and locate_run_dir(state):
            control.save_and_stop(state)
            run.request_stop("save_quit")
            print("\ndpgui: Ctrl-C: asked the trainer to save a checkpoint and stop at the "
                  "next step (save_quit). Ctrl-C again stops it now.", file=sys.stderr)
        elif n <= 2:
            print(f"\ndpgui: stopping (SIGTERM, SIGKILL after {stop_grace:g} s). "
                  "Ctrl-C again kills at once.", file=sys.stderr)
            run.request_stop("stop")
            _background(control.stop, state, stop_grace)
        else:
            print("\ndpgui: killing the run (SIGKILL).", file=sys.stderr)
            run.request_stop("kill")
            _background(control.kill, state)
    except control.ControlError as e:
        print(f"dpgui: {e}", file=sys.stderr)


def _background(fn, *args) -> None:
    threading.Thread(target=fn, args=args, daemon=True).start()


def _checkpoint_note(state: dict) -> str:
    """Where the checkpoint to resume from is -- only when there is one."""
    from dpgui_qt.core.run.runs import read_run_folder
    rd = state.get("run_dir")
    if not rd or not os.path.isdir(rd):
        return "; no checkpoint was saved"
    folder = read_run_folder(rd, with_sizes=False)
    if folder.resumable:
        return (f"; checkpoint {folder.latest_tag or '(latest)'} in {rd} "
                f"(continue with --resume {folder.name})")
    return f"; no checkpoint was saved in {rd}"
