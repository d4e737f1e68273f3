"""``dpgui launch --hostfile FILE`` / ``--nodes a:2,b:2``: multi-node DeepSpeed (issue #15).

Its options live in their own argparse group of ``dpgui launch`` (added by
:func:`add_arguments`); ``launch.run`` hands over to :func:`run` when a hostfile
or ``--nodes`` is given.  ``--dry-run`` prints the generated hostfile, the env file
and the command for the first node; ``--check`` runs the per-node pre-flight over
SSH (same commit, same config bytes, dataset present, GPUs >= slots, master
reachable from the others).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import posixpath
import sys
import time

from dpgui_qt.core.run import multinode as mn

EXIT_OK, EXIT_FAILED, EXIT_SETUP = 0, 1, 2


def add_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "multi-node (DeepSpeed's hostfile launcher)",
        "Train on several SSH hosts at once. The first host runs the deepspeed launcher and "
        "starts the others (pdsh over SSH from that host); the checkout, the environment and "
        "the uploaded configs sit at the same paths on every host.")
    g.add_argument("--hostfile", metavar="FILE", help="DeepSpeed hostfile: one 'HOST slots=GPUS' "
                   "line per node, the first is the master")
    g.add_argument("--nodes", metavar="H:N,...", help="the nodes inline instead of a hostfile, "
                   "e.g. gpu1:2,gpu2:2")
    g.add_argument("--node-ssh", action="append", default=[], metavar="HOST=DEST",
                   help="how dpgui reaches HOST when it differs from the hostfile name "
                   "(a host profile, an ssh alias or user@host[:port]); repeatable")
    g.add_argument("--master-addr", metavar="ADDR", help="the first node's address as the "
                   "others reach it (DeepSpeed's --master_addr)")
    g.add_argument("--launcher", default="pdsh", choices=mn.LAUNCHERS,
                   help="DeepSpeed's multi-node backend (default pdsh)")
    g.add_argument("--launcher-args", default="", metavar="ARGS",
                   help="extra arguments for the backend (DeepSpeed's --launcher_args)")
    g.add_argument("--ssh-port", type=int, metavar="P", help="SSH port the first node uses to "
                   "reach the others (DeepSpeed's --ssh_port)")
    g.add_argument("--nccl", action="append", default=[], metavar="VAR=VALUE",
                   help="an NCCL setting for every rank, e.g. NCCL_SOCKET_IFNAME=eth0 "
                   "(defaults: NCCL_IB_DISABLE=1 NCCL_P2P_DISABLE=1; VAR= unsets one)")
    g.add_argument("--node-checkout", metavar="DIR", help="the diffusion-pipe checkout on "
                   "every node (default: --remote-checkout, then the first node's host profile)")
    g.add_argument("--node-deepspeed", metavar="PATH", help="deepspeed on the first node (a "
                   "venv/conda dir or the executable; default: --remote-deepspeed, then the first "
                   "node's host profile, then PATH)")
    g.add_argument("--node-workdir", metavar="DIR", help="dpgui's folder on every node for "
                   "configs and run state (default: --remote-workdir, then the first node's host "
                   "profile; '~' is resolved on the first node)")
    g.add_argument("--node-config", metavar="PATH", help="where the main config sits on the "
                   "nodes (default: <workdir>/configs/<file name>)")
    g.add_argument("--node-dataset", action="append", default=[], metavar="DIR",
                   help="a dataset folder every node must have (checked by --check); repeatable")


def wants_multinode(args) -> bool:
    return bool(getattr(args, "hostfile", None) or getattr(args, "nodes", None))


def _err(msg: str) -> None:
    print(f"dpgui launch: error: {msg}", file=sys.stderr)


def cluster_from_args(args) -> mn.Cluster:
    if args.hostfile and args.nodes:
        raise mn.MultiNodeError("give --hostfile or --nodes, not both")
    if args.hostfile:
        try:
            with open(args.hostfile, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            raise mn.MultiNodeError(f"cannot read the hostfile {args.hostfile}: "
                                    f"{e.strerror or e}") from None
        except UnicodeDecodeError:
            raise mn.MultiNodeError(f"{args.hostfile} is not a text file") from None
        nodes = mn.parse_hostfile(text)
    else:
        nodes = mn.parse_nodes(args.nodes)
    by_name = {n.name: n for n in nodes}
    for item in args.node_ssh:
        host, sep, dest = item.partition("=")
        if not sep or not dest:
            raise mn.MultiNodeError(f"--node-ssh expects HOST=DEST, not {item!r}")
        if host not in by_name:
            raise mn.MultiNodeError(f"--node-ssh: {host} is not one of the nodes "
                                    f"({', '.join(by_name)})")
        by_name[host].ssh = dest
    cluster = mn.Cluster(nodes=nodes, master_addr=args.master_addr or "",
                         master_port=args.master_port or mn.DEFAULT_MASTER_PORT,
                         launcher=args.launcher, launcher_args=args.launcher_args,
                         ssh_port=args.ssh_port)
    for item in args.nccl:
        k, sep, v = item.partition("=")
        if not sep or not k.startswith("NCCL_"):
            raise mn.MultiNodeError(f"--nccl expects NCCL_VAR=VALUE, not {item!r}")
        if v:
            cluster.nccl[k] = v
        else:
            cluster.nccl.pop(k, None)
    if getattr(args, "no_nccl_workaround", False):
        for k in ("NCCL_IB_DISABLE", "NCCL_P2P_DISABLE"):
            cluster.nccl.pop(k, None)
    cluster.check()
    return cluster


def _first(*vals):
    return next((v for v in vals if v), None)


def node_paths(args, cluster: mn.Cluster, resolve: bool = True) -> tuple[str, str, str, str]:
    """(checkout, deepspeed, workdir, config) on the nodes: the options, else the first
    node's host profile; a leading ``~`` is resolved on the first node (``resolve``; the
    pre-flight lets each node resolve it and reports a node where it lands elsewhere)."""
    prof = mn.profile_for(cluster.master.destination)
    checkout = _first(args.node_checkout, getattr(args, "remote_checkout", None),
                      prof.checkout if prof else None)
    if not checkout:
        raise mn.MultiNodeError("--node-checkout DIR (the diffusion-pipe checkout on the nodes) "
                                "is required, or make the first node a host profile")
    ds = _first(args.node_deepspeed, getattr(args, "remote_deepspeed", None),
                (prof.deepspeed or prof.env) if prof else None) or ""
    if ds and posixpath.basename(ds.rstrip("/")) != "deepspeed":
        ds = posixpath.join(ds.rstrip("/"), "bin", "deepspeed")
    workdir = _first(args.node_workdir, getattr(args, "remote_workdir", None),
                     prof.workdir if prof else None)
    if not workdir:
        raise mn.MultiNodeError("--node-workdir DIR (dpgui's folder on the nodes) is required, "
                                "or make the first node a host profile")
    config = args.node_config or ""
    paths = [checkout, ds, workdir, config]
    if not resolve:
        return paths[0], paths[1] or "deepspeed", paths[2], paths[3] or _uploaded_config(args, cluster, paths[2])
    if any(p.startswith("~") for p in paths):
        home = _remote_home(cluster.master.destination)
        paths = [home + p[1:] if p == "~" or p.startswith("~/") else p for p in paths]
    for label, p in zip(("checkout", "deepspeed", "work folder", "config"), paths):
        if p and not p.startswith("/"):
            raise mn.MultiNodeError(f"the {label} on the nodes must be an absolute path: {p!r}")
    return paths[0], paths[1] or "deepspeed", paths[2], paths[3] or _uploaded_config(args, cluster, paths[2])


def _uploaded_config(args, cluster: mn.Cluster, workdir: str) -> str:
    return mn.uploaded_config_path(args.config, workdir, local_checkout=args.checkout)


def _remote_home(dest: str) -> str:
    from dpgui_qt.core.run.hosts.sshtransport import SshError
    try:
        r = mn.transport_for(dest).run('printf %s "$HOME"', timeout=60)
    except SshError as e:
        raise mn.MultiNodeError(f"cannot resolve '~' on {dest}: {e} (give absolute paths)") from None
    home = r.text.strip() if hasattr(r, "text") else ""
    if r.returncode != 0 or not home.startswith("/"):
        raise mn.MultiNodeError(f"cannot resolve '~' on {dest} (give absolute paths)")
    return home


def _train_args(args, node_config: str) -> list[str]:
    """train.py's arguments on the nodes: the config, the run folder to resume, the switches
    of the one table (paths as given: they are paths on the nodes), the master port."""
    from dpgui_qt.core.run import switches as sw
    out = ["train.py", "--deepspeed", "--config", node_config]
    if args.resume:
        out += ["--resume_from_checkpoint", posixpath.basename(args.resume.rstrip("/"))]
    out += sw.train_args({s.name: getattr(args, s.name, s.default) for s in sw.TRAIN_SWITCHES},
                         lambda p: os.fspath(p))
    if args.master_port:
        out += ["--master_port", str(args.master_port)]
    return out


def _ends_early(args) -> bool:
    from dpgui_qt.core.run import switches as sw
    return sw.ends_early({s.name: getattr(args, s.name, s.default) for s in sw.TRAIN_SWITCHES})


def _extra_env(args) -> dict[str, str]:
    env = {}
    for item in args.env:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise mn.MultiNodeError(f"--env expects VAR=VALUE, not {item!r}")
        env[k] = v
    if args.expandable_segments:
        env["PYTORCH_CUDA_ALLOC_CONF"] = "expandable_segments:True"
    return env


def build(args) -> tuple[mn.Cluster, mn.MultiNodeLaunch]:
    cluster = cluster_from_args(args)
    _apply_host(args, cluster)
    checkout, ds, workdir, config = node_paths(args, cluster)
    run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    state = posixpath.join(workdir, "multinode", run_id)      # as start() places it
    launch = mn.build_launch(cluster, deepspeed=ds, checkout=checkout,
                             train_args=_train_args(args, config), state_dir=state,
                             run_id=run_id, extra_env=_extra_env(args))
    return cluster, launch


def _apply_host(args, cluster: mn.Cluster) -> None:
    """``--host DEST`` with a hostfile: how dpgui reaches the first node."""
    host = getattr(args, "host", None)
    if host and not cluster.master.ssh:
        cluster.master.ssh = host


def run(args) -> int:
    if not args.config:
        _err("CONFIG is required")
        return EXIT_SETUP
    try:
        cluster, launch = build(args)
    except mn.MultiNodeError as e:
        _err(str(e))
        return EXIT_SETUP
    if args.dry_run:
        if args.json:
            from dpgui_qt.core.run.spec import masked_env
            print(json.dumps({"hostfile": launch.hostfile_text, "hostfile_path": launch.hostfile_path,
                              "master": launch.master, "argv": launch.argv, "cwd": launch.cwd,
                              "env": masked_env(launch.env), "command": launch.preview(),
                              "nodes": [n.__dict__ for n in cluster.active]}, indent=2))
        else:
            sys.stdout.write(mn.dry_run_text(launch, cluster))
        return EXIT_OK
    if args.check:
        return check(args, cluster)
    from dpgui_qt.core.run.hosts.base import HostError
    try:
        return start(args, cluster)
    except (HostError, mn.MultiNodeError) as e:
        _err(str(e))
        return EXIT_SETUP


def check(args, cluster: mn.Cluster) -> int:
    try:
        checkout, ds, _workdir, config = node_paths(args, cluster, resolve=False)
    except mn.MultiNodeError as e:
        _err(str(e))
        return EXIT_SETUP
    hashes = {}
    try:
        with open(args.config, "rb") as f:
            if args.node_config:      # the user placed the config: its bytes must be these
                hashes[config] = hashlib.sha256(f.read()).hexdigest()
    except OSError as e:
        _err(f"cannot read {args.config}: {e.strerror or e}")
        return EXIT_SETUP
    from dpgui_qt import DIFFUSION_PIPE_COMMIT
    req = mn.PreflightRequest(checkout=checkout, deepspeed=ds if ds != "deepspeed" else "",
                              configs=[config], datasets=list(args.node_dataset),
                              expected_hashes=hashes, known_commit=DIFFUSION_PIPE_COMMIT)
    checks = mn.run_preflight(cluster, req)
    if args.json:
        print(json.dumps([c.__dict__ for c in checks], indent=2))
    else:
        sys.stdout.write(mn.checks_text(checks))
        n = sum(c.is_error for c in checks)
        print(f"{len(cluster.active)} node(s): " + (f"{n} problem(s)" if n else "ready"))
    return EXIT_FAILED if mn.has_errors(checks) else EXIT_OK


def start(args, cluster: mn.Cluster) -> int:
    """Upload to every node, check every node, write the hostfile and the env file on the
    first node, start DeepSpeed's launcher there under dpgui's detached supervisor, follow
    it; when it ends stopped or failed, make sure no rank is left on any node."""
    import hashlib as _h

    from dpgui_qt import DIFFUSION_PIPE_COMMIT
    from dpgui_qt.commands import launch_ssh
    from dpgui_qt.core.run.launch import default_state_dir
    from dpgui_qt.core.run.hosts import sync
    from dpgui_qt.core.run.hosts.ssh import host_for

    if not os.path.isfile(args.config):
        _err(f"config not found: {args.config}")
        return EXIT_SETUP
    master_node = cluster.master
    hosts = {}
    for n in cluster.active:
        h = host_for(n.destination, checkout=getattr(args, "remote_checkout", None) or args.node_checkout,
                     deepspeed=getattr(args, "remote_deepspeed", None) or args.node_deepspeed,
                     workdir=getattr(args, "remote_workdir", None) or args.node_workdir)
        h.connect()
        hosts[n.name] = h
    master = hosts[master_node.name]
    if not master.checkout:
        raise mn.MultiNodeError("the diffusion-pipe checkout on the nodes is not known: make the "
                                "first node a host profile or give --node-checkout")
    plans = {name: sync.make_plan(args.config, h, local_checkout=args.checkout)
             for name, h in hosts.items()}
    ref = plans[master_node.name]
    errors = [f for f in ref.findings if f.level == "error"]
    for f in ref.findings:
        print(f"{f.level}: {f.message}", file=sys.stderr)
    for name, plan in plans.items():
        if plan.remote_config != ref.remote_config or [d.remote for d in plan.dirs] != [
                d.remote for d in ref.dirs]:
            raise mn.MultiNodeError(f"{name}: the work folder resolves to another path there "
                                    f"({plan.remote_config} instead of {ref.remote_config}); "
                                    "every node needs the same absolute work folder")
    if errors and not args.force:
        _err(f"{len(errors)} error(s) in the sync plan; nothing was started")
        return EXIT_SETUP
    for name, plan in plans.items():
        diff = sync.plan_uploads(plan, hosts[name])
        for line in diff.lines():
            print(f"dpgui: {name}: {line}", file=sys.stderr)
        stats = sync.upload(plan, diff, hosts[name])
        print(f"dpgui: {name}: uploaded {stats.files_sent} dataset files ({stats.bytes_sent} bytes)",
              file=sys.stderr)
    main_bytes = next((f.data for f in ref.files if f.remote == ref.remote_config), None)
    req = mn.PreflightRequest(
        checkout=master.checkout, deepspeed=master.deepspeed() if "/" in master.deepspeed() else "",
        configs=[f.remote for f in ref.files], datasets=[d.remote for d in ref.dirs],
        expected_hashes={ref.remote_config: _h.sha256(main_bytes).hexdigest()} if main_bytes else {},
        known_commit=DIFFUSION_PIPE_COMMIT)
    checks = mn.run_preflight(cluster, req)
    for c in checks:
        if c.level != "ok":
            print(f"{c.level}: {c.message}" + (f" ({c.fix})" if c.fix else ""), file=sys.stderr)
    if mn.has_errors(checks) and not args.force:
        _err(f"the per-node pre-flight found {sum(c.is_error for c in checks)} error(s); nothing "
             "was started. Fix them, or use --force to launch anyway.")
        return EXIT_SETUP
    run_id = time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + f"-{os.getpid()}"
    state = posixpath.join(master.workdir, "multinode", run_id)
    launch = mn.build_launch(cluster, deepspeed=master.deepspeed(), checkout=master.checkout,
                             train_args=_train_args(args, ref.remote_config), state_dir=state,
                             run_id=run_id, extra_env=_extra_env(args))
    master.write_bytes(launch.hostfile_path, launch.hostfile_text.encode())
    master.write_bytes(launch.env_file_path, launch.env_file_text.encode())
    state_root = args.state_dir if args.state_dir else default_state_dir()
    st = master.start_supervisor(launch.argv, state_root, env=launch.env, cwd=launch.cwd,
                                 config=ref.remote_config, output_dir=ref.remote_output_dir,
                                 resume_from=posixpath.basename(args.resume) if args.resume else None)
    print(f"dpgui: multi-node run id {run_id}", file=sys.stderr)
    print(f"dpgui: started run {st['run_id']} on {master.describe()} (pid {st.get('pid')})",
          file=sys.stderr)
    print(f"dpgui: command: {launch.preview()}", file=sys.stderr)
    print(f"dpgui: hostfile: {launch.hostfile_path}", file=sys.stderr)
    print(f"dpgui: it keeps running if this command or the connection ends; follow it again "
          f"with: dpgui launch --attach {os.path.join(str(state_root), st['run_id'])}", file=sys.stderr)
    rc = launch_ssh.follow(master, st["state_dir"], args.stop_grace,
                           exits_early_ok=_ends_early(args))
    if rc != EXIT_OK:
        # the launcher's own pdsh kill may not have reached every node: end what is left
        res = mn.stop_nodes(cluster, run_id, grace=min(args.stop_grace, 20.0))
        for name, v in res.items():
            if isinstance(v, tuple) and v[0]:
                print(f"dpgui: {name}: stopped {v[0]} process(es) left of the run"
                      + (f", {v[1]} still there" if v[1] else ""), file=sys.stderr)
            elif not isinstance(v, tuple):
                print(f"dpgui: {name}: could not check for processes left: {v}", file=sys.stderr)
    return rc
