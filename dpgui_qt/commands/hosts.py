"""``dpgui hosts``: SSH host profiles (issue #15) -- list, add, remove, check.

    dpgui hosts list [--json]
    dpgui hosts add NAME DEST --checkout DIR [--env DIR] [--workdir DIR] [--python CMD]
                    [--deepspeed PATH] [--ssh-config FILE]
    dpgui hosts remove NAME
    dpgui hosts check NAME|DEST [--checkout DIR ...]   reach the host and print its pre-flight facts

Profiles live in ``hosts.json`` in dpgui's settings folder (see
:mod:`dpgui_qt.core.run.hosts.profiles`).  Exit status: 0 ok, 1 check found errors, 2 usage.
"""
from __future__ import annotations

import json
import sys
from dataclasses import asdict


def add_parser(subparsers, name: str = "hosts"):
    p = subparsers.add_parser(name, help="SSH host profiles: list, add, remove, check",
                              description="Manage the SSH hosts dpgui can train on.")
    sub = p.add_subparsers(dest="hosts_cmd", metavar="{list,add,remove,check}")
    ls = sub.add_parser("list", help="list the profiles")
    ls.add_argument("--json", action="store_true")
    add = sub.add_parser("add", help="add or replace a profile")
    add.add_argument("name")
    add.add_argument("destination", help="alias of ~/.ssh/config or user@host[:port]")
    for flag, h in (("--checkout", "diffusion-pipe checkout on the host (required)"),
                    ("--env", "venv/conda environment on the host"),
                    ("--workdir", "work folder on the host (default ~/dpgui)"),
                    ("--python", "Python command on the host (default python3)"),
                    ("--deepspeed", "deepspeed on the host, if not the environment's"),
                    ("--ssh-config", "an ssh_config file to use instead of ~/.ssh/config")):
        add.add_argument(flag, help=h)
    rm = sub.add_parser("remove", help="remove a profile")
    rm.add_argument("name")
    ck = sub.add_parser("check", help="reach a host and run its pre-flight")
    ck.add_argument("dest", metavar="NAME|DEST")
    ck.add_argument("--checkout", dest="remote_checkout")
    ck.add_argument("--deepspeed", dest="remote_deepspeed")
    ck.add_argument("--workdir", dest="remote_workdir")
    ck.add_argument("--env", dest="remote_env")
    ck.add_argument("--gpus", type=int)
    return p


def _err(msg: str) -> int:
    print(f"dpgui hosts: error: {msg}", file=sys.stderr)
    return 2


def run(args) -> int:
    from dpgui_qt.core.run.hosts import profiles as pr
    from dpgui_qt.core.run.hosts.base import HostError

    try:
        if args.hosts_cmd in (None, "list"):
            items = pr.load_profiles()
            if getattr(args, "json", False):
                print(json.dumps([asdict(p) for p in items], indent=2))
            elif not items:
                print(f"no host profiles ({pr.profiles_path()}); add one with: dpgui hosts add NAME DEST --checkout DIR")
            for p in items if not getattr(args, "json", False) else ():
                print(f"{p.name}\t{p.destination}\tcheckout {p.checkout}\twork {p.workdir}"
                      + (f"\tenv {p.env}" if p.env else ""))
            return 0
        if args.hosts_cmd == "add":
            if not args.checkout:
                return _err("--checkout DIR (the diffusion-pipe checkout on the host) is required")
            prof = pr.HostProfile(args.name, args.destination, args.checkout, env=args.env or "",
                                  workdir=args.workdir or "~/dpgui", python=args.python or "python3",
                                  deepspeed=args.deepspeed or "", ssh_config=args.ssh_config or "")
            pr.upsert_profile(prof)
            print(f"saved host {prof.name} in {pr.profiles_path()}")
            return 0
        if args.hosts_cmd == "remove":
            if not pr.remove_profile(args.name):
                return _err(f"no host profile named {args.name!r}")
            print(f"removed host {args.name}")
            return 0
        if args.hosts_cmd == "check":
            return _check(args)
    except (pr.ProfileError, HostError) as e:
        return _err(str(e))
    return _err(f"unknown hosts command {args.hosts_cmd!r}")


def _check(args) -> int:
    from dpgui_qt.core.run import ssh_preflight
    from dpgui_qt.core.run.hosts.base import HostError
    from dpgui_qt.core.run.hosts.ssh import host_for

    host = host_for(args.dest, checkout=args.remote_checkout, deepspeed=args.remote_deepspeed,
                    workdir=args.remote_workdir, env=args.remote_env)
    print(f"host: {host.describe()}")
    try:
        host.connect()
        facts = host.probe(disk=[host.workdir])
    except HostError as e:
        print(f"error: {e}")
        return 1
    for line in ssh_preflight.facts_lines(facts):
        print(line)
    found = ssh_preflight.check(host, None, gpus=args.gpus)
    for f in found:
        print(f"{f.level}: {f.message}" + (f" ({f.fix})" if f.fix else ""))
    errors = [f for f in found if f.level == "error"]
    print("ok" if not errors else f"{len(errors)} error(s)")
    return 1 if errors else 0
