"""Multi-node training through DeepSpeed's own launcher (issue #15, deliverable 7).

DeepSpeed scales one run over several machines with a *hostfile* (MPI style, one
``host slots=N`` line per machine) read by the ``deepspeed`` launcher on the first
node.  With the default ``pdsh`` launcher that node reaches every other host over
SSH and starts ``python -u -m deepspeed.launcher.launch`` there after
``cd <the same checkout path>``, with the same interpreter path, and with only the
variables whose names start with ``NCCL``, ``PYTHON``, ``UCX``, ``MV2`` or
``MLFLOW`` (plus the lines of the file named by ``DS_ENV_FILE``) exported.  So:

- the checkout, the interpreter and the (uploaded) configs must sit at the same
  paths on every node, and the commit and config bytes must match;
- the hosts in the hostfile are names *the first node* resolves (its
  ``~/.ssh/config`` or DNS), which need not be how dpgui reaches them: a
  :class:`Node` carries both (``name`` for the hostfile, ``ssh`` for dpgui);
- ``master_addr`` is the first node's address *as the others reach it*.

This module is Qt-free and does no I/O of its own except in the small
``run_preflight``/``stop_nodes`` drivers (``subprocess`` over the caller's ``ssh``
argv); the GUI runs the same scripts as QProcess children.

Public API
----------
``Node``, ``Cluster`` (hostfile model + DeepSpeed launcher options),
``parse_hostfile``/``Cluster.hostfile_text`` (DeepSpeed's syntax and rules),
``parse_nodes`` (``a:2,b:2`` on the command line), ``NCCL_SETTINGS`` (the NCCL
variables worth setting, with explanations), ``MultiNodeLaunch`` /
``build_launch`` (argv on the first node, hostfile and env file to place there,
``dry_run_text``), ``probe_script``/``listener_script``/``evaluate`` (per-node
pre-flight), ``stop_script`` (stops every process of the run on one node), and
``run_preflight``/``stop_nodes`` (drivers over ``subprocess``).
"""
from __future__ import annotations

import json
import posixpath
import re
import shlex
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from dpgui_qt.core.run.hosts.profiles import HostProfile
    from dpgui_qt.core.run.hosts.sshtransport import SshTransport

Json = dict[str, Any]

DEFAULT_MASTER_PORT = 29500
LAUNCHERS = ("pdsh", "openmpi", "mvapich", "mpich", "impi", "slurm")
RUN_MARKER = "DPGUI_RUN_ID"          # exported to every rank; Stop finds the run's processes by it
PROBE_TAG = "DPGUI-PROBE "
LISTEN_TAG = "DPGUI-LISTEN "
# DeepSpeed exports these prefixes to the other nodes by itself (runner.py EXPORT_ENVS + CUDA's).
EXPORTED_PREFIXES = ("NCCL", "PYTHON", "UCX", "MV2", "MLFLOW")

_HOST_RE = re.compile(r"^[A-Za-z0-9_.\-\[\]:]+$")
_HOSTFILE_LINE = re.compile(r"^(\S+)\s+slots=(\d+)")   # DeepSpeed's own pattern
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MultiNodeError(ValueError):
    """The multi-node setup cannot be launched (message is user-facing)."""


# --------------------------------------------------------------------------
# NCCL settings
@dataclass(frozen=True)
class NcclSetting:
    name: str
    label: str
    help: str
    choices: tuple[str, ...] = ()      # empty: free text
    default: str = ""                  # "" = not set


NCCL_SETTINGS: tuple[NcclSetting, ...] = (
    NcclSetting(
        "NCCL_SOCKET_IFNAME", "Network interface",
        "Which network interface NCCL uses between nodes, e.g. eth0, ens5 or a prefix such as "
        "'eth' ('^docker,lo' excludes). Set it when the nodes have several interfaces (Docker "
        "bridges, a VPN, a public and a private NIC) and NCCL picks one the other nodes cannot "
        "reach: the symptom is a hang at start-up or 'connection refused/timed out' in NCCL "
        "messages. Use the interface that carries master_addr."),
    NcclSetting(
        "NCCL_IB_DISABLE", "Disable InfiniBand",
        "1 makes NCCL use plain TCP sockets instead of InfiniBand/RoCE. Rented boxes and most "
        "cloud VMs have no InfiniBand between them, and NCCL probing a half-configured IB device "
        "can hang; keep 1 unless the nodes share an IB fabric (then 0 is much faster).",
        ("1", "0"), "1"),
    NcclSetting(
        "NCCL_P2P_DISABLE", "Disable GPU peer-to-peer",
        "1 stops direct GPU-to-GPU copies inside one node. diffusion-pipe's README sets it for "
        "consumer RTX 4000-series cards, whose P2P support is broken; data-centre GPUs "
        "(A100/H100 with NVLink) are faster with 0.", ("1", "0"), "1"),
    NcclSetting(
        "NCCL_DEBUG", "NCCL log level",
        "INFO prints which interfaces and transports NCCL chose on every rank: the first thing "
        "to read when nodes cannot connect. WARN prints only problems.", ("WARN", "INFO")),
)


def nccl_setting(name: str) -> NcclSetting | None:
    return next((s for s in NCCL_SETTINGS if s.name == name), None)


# --------------------------------------------------------------------------
# the hostfile model
@dataclass
class Node:
    """One machine of the run.

    ``name``: the host as the *first node* reaches it (the hostfile entry, pdsh's
    ``-w``); ``slots``: the GPUs DeepSpeed may use there; ``ssh``: how dpgui reaches
    it (a host profile name, an ``~/.ssh/config`` alias or ``user@host[:port]``;
    default ``name``); ``enabled``: unticked nodes stay in the editor but not in
    the generated hostfile.
    """
    name: str
    slots: int = 1
    ssh: str = ""
    enabled: bool = True

    @property
    def destination(self) -> str:
        return self.ssh or self.name


@dataclass
class Cluster:
    """A multi-node launch: the nodes (first = master) and DeepSpeed's launcher options."""
    nodes: list[Node] = field(default_factory=list)
    master_addr: str = ""
    master_port: int = DEFAULT_MASTER_PORT
    launcher: str = "pdsh"
    launcher_args: str = ""
    ssh_port: int | None = None          # DeepSpeed's --ssh_port (pdsh; the same on every node)
    nccl: dict[str, str] = field(default_factory=lambda: {
        s.name: s.default for s in NCCL_SETTINGS if s.default})

    @property
    def active(self) -> list[Node]:
        return [n for n in self.nodes if n.enabled]

    @property
    def master(self) -> Node:
        act = self.active
        if not act:
            raise MultiNodeError("no node is selected")
        return act[0]

    @property
    def world_size(self) -> int:
        return sum(n.slots for n in self.active)

    def problems(self) -> list[str]:
        """Everything that stops a launch, in words (empty = fine)."""
        out: list[str] = []
        act = self.active
        if len(act) < 1:
            out.append("add at least one node")
        seen: set[str] = set()
        for n in self.nodes:
            if not n.name.strip():
                out.append("a node has no host name")
                continue
            if not _HOST_RE.match(n.name):
                out.append(f"{n.name!r} is not a host name DeepSpeed's hostfile accepts "
                           "(no spaces or '#')")
            if n.name in seen:
                out.append(f"{n.name} is listed twice (DeepSpeed refuses duplicate hosts)")
            seen.add(n.name)
            if not isinstance(n.slots, int) or n.slots < 1:
                out.append(f"{n.name}: slots must be at least 1")
        if len(act) > 1 and not self.master_addr.strip():
            out.append("set the master address: the first node's IP or name as the other "
                       "nodes reach it")
        if self.master_addr and (" " in self.master_addr.strip() or "/" in self.master_addr):
            out.append(f"{self.master_addr!r} is not an address")
        if not 1 <= int(self.master_port) <= 65535:
            out.append(f"master port {self.master_port} is outside 1-65535")
        if self.launcher not in LAUNCHERS:
            out.append(f"unknown launcher {self.launcher!r} (DeepSpeed knows {', '.join(LAUNCHERS)})")
        if self.ssh_port is not None and not 1 <= int(self.ssh_port) <= 65535:
            out.append(f"SSH port {self.ssh_port} is outside 1-65535")
        for k, v in self.nccl.items():
            if not _ENV_NAME.match(k):
                out.append(f"invalid environment variable name {k!r}")
            if '"' in v or "\n" in v:
                out.append(f"{k}: the value may not contain quotes or line breaks "
                           "(DeepSpeed exports it in double quotes)")
        return out

    def check(self) -> None:
        probs = self.problems()
        if probs:
            raise MultiNodeError("; ".join(probs))

    def hostfile_text(self) -> str:
        """The hostfile in DeepSpeed's syntax (``host slots=N``; ``#`` comments)."""
        lines = ["# DeepSpeed hostfile written by dpgui: host slots=GPUs; the first host is the master"]
        lines += [f"{n.name} slots={n.slots}" for n in self.active]
        return "\n".join(lines) + "\n"

    def uniform_slots(self) -> int | None:
        counts = {n.slots for n in self.active}
        return counts.pop() if len(counts) == 1 else None

    # -- persistence (the GUI keeps setups in its settings folder) ---------
    def to_dict(self) -> Json:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Cluster:
        try:
            nodes = [Node(name=str(n.get("name", "")), slots=int(n.get("slots", 1)),
                          ssh=str(n.get("ssh", "") or ""), enabled=bool(n.get("enabled", True)))
                     for n in d.get("nodes", [])]
            port = d.get("ssh_port")
            return cls(nodes=nodes, master_addr=str(d.get("master_addr", "") or ""),
                       master_port=int(d.get("master_port", DEFAULT_MASTER_PORT)),
                       launcher=str(d.get("launcher", "pdsh")),
                       launcher_args=str(d.get("launcher_args", "") or ""),
                       ssh_port=int(port) if port not in (None, "") else None,
                       nccl={str(k): str(v) for k, v in dict(d.get("nccl", {})).items()})
        except (TypeError, ValueError, AttributeError) as e:
            raise MultiNodeError(f"not a multi-node setup: {e}") from None


def parse_hostfile(text: str) -> list[Node]:
    """Nodes from a DeepSpeed hostfile, with DeepSpeed's rules: blank lines and ``#``
    comments skipped, ``host slots=N`` (text after it ignored), a host at most once."""
    nodes: list[Node] = []
    seen: set[str] = set()
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = _HOSTFILE_LINE.search(line)
        if not m:
            raise MultiNodeError(f"hostfile line {lineno}: {line!r} is not 'HOST slots=N'")
        host, slots = m.group(1), int(m.group(2))
        if host in seen:
            raise MultiNodeError(f"hostfile line {lineno}: {host} is listed twice")
        if slots < 1:
            raise MultiNodeError(f"hostfile line {lineno}: {host} has no slots")
        seen.add(host)
        nodes.append(Node(host, slots))
    if not nodes:
        raise MultiNodeError("the hostfile names no host (lines look like 'worker-1 slots=4')")
    return nodes


def parse_nodes(spec: str) -> list[Node]:
    """``a:2,b:2`` or ``a=2,b`` (1 slot) -> nodes (the ``--nodes`` option)."""
    nodes: list[Node] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, slots = part.rpartition(":") if ":" in part else part.rpartition("=")
        if not sep:
            name, slots = part, "1"
        try:
            n = int(slots)
        except ValueError:
            raise MultiNodeError(f"--nodes: {part!r} is not HOST:GPUS") from None
        nodes.append(Node(name.strip(), n))
    if not nodes:
        raise MultiNodeError("--nodes names no host")
    return nodes


# --------------------------------------------------------------------------
# the launch
@dataclass(frozen=True)
class MultiNodeLaunch:
    """What runs on the first node, and the two files placed there before it."""
    argv: list[str]               # run from ``cwd`` on the first node
    env: dict[str, str]           # set for the launcher on the first node
    cwd: str                      # the checkout (the same path on every node)
    hostfile_path: str
    hostfile_text: str
    env_file_path: str            # DS_ENV_FILE: variables DeepSpeed would not export itself
    env_file_text: str
    master: str                   # dpgui's SSH destination of the first node
    run_id: str

    def preview(self) -> str:
        parts = [f"{k}={shlex.quote(v)}" for k, v in self.env.items()]
        return (f"cd {shlex.quote(self.cwd)} && " + " ".join(parts + [shlex.quote(a) for a in self.argv]))


def launcher_options(cluster: Cluster, hostfile_path: str) -> list[str]:
    """DeepSpeed launcher options for ``cluster`` (runner.py's names)."""
    cluster.check()
    act = cluster.active
    args = [f"--hostfile={hostfile_path}"]
    if cluster.master_addr:
        args.append(f"--master_addr={cluster.master_addr.strip()}")
    args.append(f"--master_port={int(cluster.master_port)}")
    args.append(f"--num_nodes={len(act)}")
    uni = cluster.uniform_slots()
    if uni is not None:
        # --num_gpus overrides every host's slots with [0, N): only when they agree
        args.append(f"--num_gpus={uni}")
    args.append(f"--launcher={cluster.launcher}")
    if cluster.launcher_args.strip():
        args.append(f"--launcher_args={cluster.launcher_args.strip()}")
    if cluster.ssh_port is not None:
        args.append(f"--ssh_port={int(cluster.ssh_port)}")
    if len(act) == 1:
        args.append("--force_multi")   # one remote host named in a hostfile: still go through it
    return args


def build_launch(cluster: Cluster, *, deepspeed: str, checkout: str, train_args: Sequence[str],
                 state_dir: str, run_id: str, extra_env: Mapping[str, str] | None = None,
                 ) -> MultiNodeLaunch:
    """The command for the first node.

    ``deepspeed``, ``checkout`` and the paths inside ``train_args`` are paths on the
    nodes (POSIX; the same on every node).  ``state_dir``: a folder on the first node
    for the hostfile and the env file.  ``extra_env``: the user's variables
    (``PYTORCH_CUDA_ALLOC_CONF``, ``WANDB_API_KEY``...); the ones DeepSpeed would not
    carry to the other nodes go through ``DS_ENV_FILE`` so every rank sees them.
    """
    cluster.check()
    for label, p in (("checkout", checkout), ("state folder", state_dir)):
        if not p.startswith("/"):
            raise MultiNodeError(f"the {label} on the nodes must be an absolute path, not {p!r} "
                                 "(DeepSpeed expands no '~' and changes into the checkout on "
                                 "every node)")
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", run_id):
        raise MultiNodeError(f"invalid run id {run_id!r}")
    hostfile = posixpath.join(state_dir, "hostfile")
    env_file = posixpath.join(state_dir, "deepspeed_env")
    env: dict[str, str] = {k: v for k, v in cluster.nccl.items() if v != ""}
    env["PYTHONUNBUFFERED"] = "1"
    carried: dict[str, str] = {RUN_MARKER: run_id}
    for k, v in (extra_env or {}).items():
        if not _ENV_NAME.match(k):
            raise MultiNodeError(f"invalid environment variable name {k!r}")
        if '"' in v or "\n" in v:
            raise MultiNodeError(f"{k}: DeepSpeed cannot pass a value with quotes or line "
                                 "breaks to the other nodes")
        env[k] = v                 # the launcher's own environment on the first node
        if not k.startswith(EXPORTED_PREFIXES):
            carried[k] = v         # and every rank's, through DS_ENV_FILE
    env["DS_ENV_FILE"] = env_file
    env[RUN_MARKER] = run_id
    argv = [deepspeed, *launcher_options(cluster, hostfile), *train_args]
    env_text = "".join(f"{k}={v}\n" for k, v in carried.items())
    return MultiNodeLaunch(argv=argv, env=env, cwd=checkout, hostfile_path=hostfile,
                           hostfile_text=cluster.hostfile_text(), env_file_path=env_file,
                           env_file_text=env_text, master=cluster.master.destination,
                           run_id=run_id)


def dry_run_text(launch: MultiNodeLaunch, cluster: Cluster, reveal_secrets: bool = False) -> str:
    """What ``--dry-run`` prints: the hostfile, the env file and the command."""
    from dpgui_qt.core.run.spec import masked_env
    env_lines = {}
    for line in launch.env_file_text.splitlines():
        k, _, v = line.partition("=")
        env_lines[k] = v
    shown_env = env_lines if reveal_secrets else masked_env(env_lines)
    out = [f"nodes: {len(cluster.active)}, GPUs: {cluster.world_size} "
           f"(master {cluster.master.name}, reached by dpgui as {cluster.master.destination})",
           f"--- hostfile on {launch.master}: {launch.hostfile_path}",
           launch.hostfile_text.rstrip("\n"),
           f"--- DS_ENV_FILE on {launch.master}: {launch.env_file_path}"]
    out += [f"{k}={v}" for k, v in shown_env.items()]
    for k in sorted(k for k in cluster.nccl if cluster.nccl[k]):
        s = nccl_setting(k)
        if s:
            out.append(f"# {k}={cluster.nccl[k]}: {s.label}")
    lc = launch if reveal_secrets else MultiNodeLaunch(**{**launch.__dict__,
                                                          "env": masked_env(launch.env)})
    out += [f"--- command on {launch.master}", lc.preview()]
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# per-node pre-flight
_PROBE = r'''
import hashlib, json, os, shutil, socket, subprocess, sys
P = json.loads(%(params)r)
ex = lambda p: os.path.expanduser(p)
out = {"host": socket.gethostname()}
co = ex(P["checkout"])
out["checkout"] = co
out["train_py"] = os.path.isfile(os.path.join(co, "train.py"))
commit = dirty = None
if os.path.isdir(co):
    try:
        r = subprocess.run(["git", "-C", co, "rev-parse", "HEAD"], capture_output=True, text=True, timeout=20)
        commit = r.stdout.strip() or None
        if commit:
            r = subprocess.run(["git", "-C", co, "status", "--porcelain", "-uno"], capture_output=True, text=True, timeout=20)
            dirty = bool(r.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        commit = None
out["commit"], out["dirty"] = commit, dirty
def sha(p):
    try:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for b in iter(lambda: f.read(1 << 20), b""):
                h.update(b)
        return h.hexdigest()
    except OSError as e:
        return "!" + (e.strerror or str(e))
out["files"] = {p: sha(os.path.join(co, ex(p))) for p in P["files"]}
def count(d):
    d = os.path.join(co, ex(d))
    if not os.path.isdir(d):
        return -1
    return sum(len(f) for _, _, f in os.walk(d))
out["dirs"] = {d: count(d) for d in P["dirs"]}
ds = ex(P["deepspeed"]) if P["deepspeed"] else (shutil.which("deepspeed") or "")
out["deepspeed"] = ds if ds and os.access(ds, os.X_OK) else None
py = None
if out["deepspeed"]:
    try:
        with open(ds, "rb") as f:
            first = f.readline(512).decode("utf-8", "replace")
        if first.startswith("#!"):
            py = first[2:].strip().split()[0] if first[2:].strip() else None
            if py and py.endswith("/env"):
                py = shutil.which(first[2:].split()[1]) if len(first[2:].split()) > 1 else None
    except OSError:
        pass
out["python"] = py
out["python_ok"] = bool(py and os.access(py, os.X_OK))
gpus = None
smi = shutil.which("nvidia-smi")
if smi:
    try:
        r = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
        if r.returncode == 0:
            gpus = sum(1 for l in r.stdout.splitlines() if l.startswith("GPU "))
    except (OSError, subprocess.SubprocessError):
        pass
out["gpus"] = gpus
if P.get("connect"):
    a, port = P["connect"]
    try:
        socket.create_connection((a, port), timeout=P.get("timeout", 8)).close()
        out["connect"] = "ok"
    except socket.timeout:
        out["connect"] = "timed out"
    except OSError as e:
        out["connect"] = e.strerror or str(e)
print(%(tag)r + json.dumps(out), flush=True)
'''

_LISTEN = r'''
import json, socket, sys, time
port, expect, wait = %(port)d, %(expect)d, %(wait)f
try:
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("", port))
    s.listen(16)
except OSError as e:
    print(%(tag)r + json.dumps({"error": e.strerror or str(e)}), flush=True)
    sys.exit(0)
print(%(tag)r + json.dumps({"ready": True}), flush=True)
peers = []
end = time.monotonic() + wait
while len(peers) < expect and time.monotonic() < end:
    s.settimeout(max(0.1, end - time.monotonic()))
    try:
        c, addr = s.accept()
        peers.append(addr[0])
        c.close()
    except socket.timeout:
        break
    except OSError:
        break
print(%(tag)r + json.dumps({"peers": peers}), flush=True)
'''


def probe_script(*, checkout: str, deepspeed: str = "", files: Sequence[str] = (),
                 dirs: Sequence[str] = (), connect: tuple[str, int] | None = None,
                 timeout: float = 8.0) -> str:
    """Python source for ``python3 -`` on one node: prints one ``DPGUI-PROBE {json}`` line.

    ``files`` (configs) are hashed, ``dirs`` (datasets) counted; relative paths are
    relative to the checkout, ``~`` is the node's home.  ``connect``: the master's
    address and port, tried from this node."""
    params = json.dumps({"checkout": checkout, "deepspeed": deepspeed, "files": list(files),
                         "dirs": list(dirs), "connect": list(connect) if connect else None,
                         "timeout": timeout})
    return _PROBE % {"params": params, "tag": PROBE_TAG}


def listener_script(port: int, expect: int, wait: float = 30.0) -> str:
    """Python source for the master: listen on ``port`` until ``expect`` nodes connected
    or ``wait`` seconds passed; prints ``DPGUI-LISTEN`` lines (ready / error, then peers)."""
    return _LISTEN % {"port": int(port), "expect": int(expect), "wait": float(wait),
                      "tag": LISTEN_TAG}


def parse_tagged(text: str, tag: str) -> list[Json]:
    """The JSON objects a probe or listener printed (login banners and noise skipped)."""
    out = []
    for line in text.splitlines():
        if line.startswith(tag):
            try:
                obj = json.loads(line[len(tag):])
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
    return out


@dataclass(frozen=True)
class NodeCheck:
    """One pre-flight result for one node (``node`` = the hostfile name, "" = all)."""
    node: str
    level: str            # "ok" | "warning" | "error"
    code: str             # reach, checkout, commit, config, dataset, deepspeed, python, gpus, master
    message: str
    fix: str = ""

    @property
    def is_error(self) -> bool:
        return self.level == "error"


@dataclass
class PreflightRequest:
    """What every node must have (paths on the nodes)."""
    checkout: str
    deepspeed: str = ""
    configs: list[str] = field(default_factory=list)     # the uploaded configs
    datasets: list[str] = field(default_factory=list)    # dataset folders
    expected_hashes: dict[str, str] = field(default_factory=dict)   # config -> sha256 we sent
    known_commit: str = ""                               # the commit dpgui's schemas follow
    connect_timeout: float = 8.0
    # DeepSpeed changes into the first node's checkout path on every node, so a '~' that
    # resolves elsewhere on another node is an error; off only where several "nodes" share
    # one file system (tests: two sshd servers with a home each)
    same_paths: bool = True


def evaluate(cluster: Cluster, req: PreflightRequest, probes: Mapping[str, Json | str],
             listener: Json | str | None = None) -> list[NodeCheck]:
    """Turn each node's probe (its JSON, or an error text when SSH failed) into checks.

    The first node is the reference for the commit and config bytes; ``listener``
    is the master's listener result (``{"peers": [...]}`` or ``{"error": ...}``)."""
    act = cluster.active
    out: list[NodeCheck] = []
    ref_name = act[0].name if act else ""
    ref = probes.get(ref_name)
    ref = ref if isinstance(ref, dict) else None
    for n in act:
        p = probes.get(n.name)
        if not isinstance(p, dict):
            out.append(NodeCheck(n.name, "error", "reach",
                                 f"{n.name}: cannot run the check over SSH ({n.destination}): "
                                 f"{(p or 'no answer').strip()[-300:]}",
                                 "check the host profile / ssh destination and that python3 "
                                 "is installed there"))
            continue
        out.append(NodeCheck(n.name, "ok", "reach", f"{n.name}: reached ({p.get('host')})"))
        out += _node_checks(n, p, ref if n.name != ref_name else None, req)
    if len(act) > 1:
        out += _master_checks(cluster, probes, listener)
    return out


def _node_checks(n: Node, p: Json, ref: Json | None, req: PreflightRequest) -> list[NodeCheck]:
    out: list[NodeCheck] = []
    co = p.get("checkout") or req.checkout
    if not p.get("train_py"):
        out.append(NodeCheck(n.name, "error", "checkout",
                             f"{n.name}: no diffusion-pipe checkout at {co} (train.py missing)",
                             "every node needs the checkout at the same path: DeepSpeed starts "
                             "the ranks after 'cd' into the first node's checkout path"))
    if req.same_paths and ref is not None and ref.get("checkout") and p.get("checkout") != ref["checkout"]:
        out.append(NodeCheck(n.name, "error", "checkout",
                             f"{n.name}: {req.checkout} is {p.get('checkout')} there, "
                             f"{ref['checkout']} on the first node",
                             "DeepSpeed changes into the first node's path on every node: use "
                             "an absolute path that exists on all of them"))
    commit = p.get("commit")
    if ref is not None and ref.get("commit") and commit != ref.get("commit"):
        out.append(NodeCheck(n.name, "error", "commit",
                             f"{n.name}: the checkout is at {(commit or 'no git commit')[:12]}, "
                             f"the first node's at {ref['commit'][:12]}",
                             f"run 'git -C {co} checkout {ref['commit'][:12]}' there so every "
                             "rank runs the same code"))
    elif commit and req.known_commit and commit != req.known_commit and ref is None:
        out.append(NodeCheck(n.name, "warning", "commit",
                             f"{n.name}: checkout at {commit[:12]}; dpgui's settings follow "
                             f"{req.known_commit[:12]}", "options may differ from what dpgui knows"))
    elif commit:
        out.append(NodeCheck(n.name, "ok", "commit", f"{n.name}: checkout at {commit[:12]}"))
    if p.get("dirty"):
        out.append(NodeCheck(n.name, "warning", "commit",
                             f"{n.name}: the checkout has uncommitted changes",
                             "the ranks may run different code"))
    for path, h in (p.get("files") or {}).items():
        if isinstance(h, str) and h.startswith("!"):
            out.append(NodeCheck(n.name, "error", "config",
                                 f"{n.name}: config {path} is missing ({h[1:]})",
                                 "upload the configs to every node"))
            continue
        want = req.expected_hashes.get(path) or (
            (ref.get("files") or {}).get(path) if ref is not None else None)
        if want and h != want:
            out.append(NodeCheck(n.name, "error", "config",
                                 f"{n.name}: config {path} differs (sha256 {str(h)[:12]} "
                                 f"instead of {want[:12]})", "upload the same configs to every node"))
        else:
            out.append(NodeCheck(n.name, "ok", "config", f"{n.name}: config {path} matches"))
    for d, cnt in (p.get("dirs") or {}).items():
        if not isinstance(cnt, int) or cnt < 0:
            out.append(NodeCheck(n.name, "error", "dataset",
                                 f"{n.name}: dataset folder {d} is missing",
                                 "upload the dataset to every node"))
        elif cnt == 0:
            out.append(NodeCheck(n.name, "error", "dataset", f"{n.name}: dataset folder {d} is empty"))
        else:
            out.append(NodeCheck(n.name, "ok", "dataset", f"{n.name}: dataset {d}: {cnt} files"))
    if ref is None:       # the first node runs the deepspeed launcher itself
        if not p.get("deepspeed"):
            out.append(NodeCheck(n.name, "error", "deepspeed",
                                 f"{n.name}: deepspeed not found"
                                 + (f" at {req.deepspeed}" if req.deepspeed else " on PATH"),
                                 "set the environment of the first node's host profile"))
        elif not p.get("python_ok"):
            out.append(NodeCheck(n.name, "warning", "python",
                                 f"{n.name}: cannot tell which Python {p['deepspeed']} runs"))
        else:
            out.append(NodeCheck(n.name, "ok", "deepspeed", f"{n.name}: deepspeed {p['deepspeed']}"))
    else:                 # the others run the first node's interpreter path
        want = ref.get("python")
        if want and (p.get("python") != want or not p.get("python_ok")):
            out.append(NodeCheck(n.name, "error", "python",
                                 f"{n.name}: no environment at the first node's path ({want})",
                                 "DeepSpeed starts every rank with the first node's interpreter "
                                 "path: install the environment at the same path on every node"))
        elif want:
            out.append(NodeCheck(n.name, "ok", "python", f"{n.name}: environment {want} present"))
    gpus = p.get("gpus")
    if gpus is None:
        out.append(NodeCheck(n.name, "warning", "gpus",
                             f"{n.name}: could not count GPUs (no nvidia-smi)"))
    elif gpus < n.slots:
        out.append(NodeCheck(n.name, "error", "gpus",
                             f"{n.name}: {gpus} GPU(s), the hostfile gives it {n.slots} slots",
                             f"set slots={gpus} or fewer"))
    elif gpus > n.slots:
        out.append(NodeCheck(n.name, "ok", "gpus", f"{n.name}: uses {n.slots} of {gpus} GPUs"))
    else:
        out.append(NodeCheck(n.name, "ok", "gpus", f"{n.name}: {gpus} GPU(s) = slots"))
    return out


def _master_checks(cluster: Cluster, probes: Mapping[str, Json | str],
                   listener: Json | str | None) -> list[NodeCheck]:
    out: list[NodeCheck] = []
    addr = f"{cluster.master_addr}:{cluster.master_port}"
    master = cluster.master.name
    if isinstance(listener, dict) and listener.get("error"):
        out.append(NodeCheck(master, "error", "master",
                             f"{master}: port {cluster.master_port} cannot be opened there "
                             f"({listener['error']})", "another run may hold it: pick another "
                             "master port"))
        return out
    for n in cluster.active[1:]:
        p = probes.get(n.name)
        if not isinstance(p, dict):
            continue
        res = p.get("connect")
        if res == "ok":
            out.append(NodeCheck(n.name, "ok", "master", f"{n.name}: reaches the master at {addr}"))
        else:
            out.append(NodeCheck(n.name, "error", "master",
                                 f"{n.name}: cannot reach the master at {addr} ({res or 'not tried'})",
                                 "use the first node's address on the network the nodes share, "
                                 "and open the port in its firewall"))
    return out


def has_errors(checks: Iterable[NodeCheck]) -> bool:
    return any(c.is_error for c in checks)


def checks_text(checks: Iterable[NodeCheck]) -> str:
    sym = {"ok": "ok  ", "warning": "warn", "error": "FAIL"}
    lines = []
    for c in checks:
        lines.append(f"{sym.get(c.level, c.level)} {c.message}" + (f"  ({c.fix})" if c.fix and c.level != "ok" else ""))
    return "\n".join(lines) + ("\n" if lines else "")


# --------------------------------------------------------------------------
# stop on every node
_STOP = r'''
import os, signal, sys, time
marker = (%(marker)r + "=" + %(run_id)r).encode()
grace = %(grace)f
me = os.getpid()
def mine():
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == me:
            continue
        try:
            with open("/proc/%%s/environ" %% d, "rb") as f:
                if marker in f.read().split(b"\0"):
                    pids.append(int(d))
        except OSError:
            pass
    return pids
found = mine()
for sig in (signal.SIGTERM, signal.SIGKILL):
    for pid in mine():
        try:
            os.kill(pid, sig)
        except OSError:
            pass
    end = time.monotonic() + (grace if sig == signal.SIGTERM else 10)
    while mine() and time.monotonic() < end:
        time.sleep(0.2)
    if not mine():
        break
left = mine()
print("DPGUI-STOP %%d %%d" %% (len(found), len(left)), flush=True)
'''


def stop_script(run_id: str, grace: float = 20.0) -> str:
    """Python source for one node: SIGTERM every process carrying this run's marker
    (``DPGUI_RUN_ID=<run_id>`` in its environment: the launcher, pdsh, and every rank
    DeepSpeed started there), SIGKILL what is left after ``grace`` seconds; prints
    ``DPGUI-STOP <found> <left>``."""
    return _STOP % {"marker": RUN_MARKER, "run_id": run_id, "grace": float(grace)}


def parse_stop(text: str) -> tuple[int, int] | None:
    for line in text.splitlines():
        if line.startswith("DPGUI-STOP "):
            a, _, b = line[11:].partition(" ")
            try:
                return int(a), int(b)
            except ValueError:
                return None
    return None


# --------------------------------------------------------------------------
# drivers over subprocess (the CLI and tests; the GUI runs the same scripts as QProcesses)
SshArgv = Callable[[str], list[str]]     # destination -> ssh argv before the remote command


class _WorkdirOnly:
    """The part of a host the sync's planning reads for paths: its work folder.  Planning
    with it reads only local files and never connects (``~`` is left as written)."""

    def __init__(self, workdir: str):
        self.workdir = workdir

    def expand(self, host_path: str | None) -> str | None:
        return host_path


def uploaded_config_path(config: str, workdir: str, local_checkout: str | None = None) -> str:
    """Where the upload puts the main ``config`` under ``workdir`` on a node (the sync's own
    mapping), computed from local files only; ``<workdir>/configs/<name>`` when the config
    cannot be read."""
    from dpgui_qt.core.run.hosts import sync
    from dpgui_qt.core.run.hosts.base import HostError
    try:
        return str(sync.make_plan(config, _WorkdirOnly(workdir), local_checkout=local_checkout)
                   .remote_config)
    except (HostError, OSError, ValueError):
        return posixpath.join(workdir, "configs", posixpath.basename(config.replace("\\", "/")))


def profile_for(destination: str) -> HostProfile | None:
    """The host profile named ``destination``, or None (a plain ssh destination)."""
    from dpgui_qt.core.run.hosts.profiles import ProfileError, get_profile
    try:
        return get_profile(destination)
    except ProfileError:
        return None


def transport_for(destination: str) -> SshTransport:
    """An :class:`~dpgui_qt.core.run.hosts.sshtransport.SshTransport` for a node: a host
    profile name (its destination and ssh_config) or an ssh destination."""
    from dpgui_qt.core.run.hosts.sshtransport import SshError, SshTransport
    prof = profile_for(destination)
    try:
        if prof is not None:
            return SshTransport(prof.destination, config_file=prof.ssh_config or None)
        return SshTransport(destination)
    except SshError as e:
        raise MultiNodeError(str(e)) from None


def ssh_argv_for(destination: str) -> list[str]:
    """``ssh OPTIONS HOST`` for a node (the default :data:`SshArgv`)."""
    return list(transport_for(destination).base_argv())


def python_argv(ssh_argv: SshArgv, destination: str) -> list[str]:
    """``ssh ... DEST python3 -``: the script goes on standard input."""
    return [*ssh_argv(destination), "python3 -"]


def run_preflight(cluster: Cluster, req: PreflightRequest, ssh_argv: SshArgv = ssh_argv_for,
                  timeout: float = 120.0) -> list[NodeCheck]:
    """Probe every node in parallel (the master first opens a listener on master_port so
    the others' connection test means something) and evaluate."""
    cluster.check()
    act = cluster.active
    multi = len(act) > 1
    listener = None
    lproc = None
    timer = None
    if multi:
        lproc = subprocess.Popen(python_argv(ssh_argv, act[0].destination), stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert lproc.stdin is not None and lproc.stdout is not None
        lproc.stdin.write(listener_script(cluster.master_port, len(act) - 1,
                                          wait=req.connect_timeout * 3))
        lproc.stdin.close()
        timer = threading.Timer(req.connect_timeout * 3 + timeout, lproc.kill)
        timer.daemon = True
        timer.start()
        first = ""
        for line in lproc.stdout:       # until the listener is ready (or failed)
            first = line
            if line.startswith(LISTEN_TAG):
                break
        found = parse_tagged(first, LISTEN_TAG)
        listener = found[0] if found else {"error": "the listener did not start: " + first.strip()}
    procs = {}
    for i, n in enumerate(act):
        conn = (cluster.master_addr.strip(), int(cluster.master_port)) if multi and i > 0 else None
        script = probe_script(checkout=req.checkout, deepspeed=req.deepspeed, files=req.configs,
                              dirs=req.datasets, connect=conn if (listener or {}).get("ready") else None,
                              timeout=req.connect_timeout)
        if conn and not (listener or {}).get("ready"):
            script = probe_script(checkout=req.checkout, deepspeed=req.deepspeed,
                                  files=req.configs, dirs=req.datasets)
        p = subprocess.Popen(python_argv(ssh_argv, n.destination), stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs[n.name] = (p, script)
    results: dict[str, Json | str] = {}
    for name, (p, script) in procs.items():
        try:
            so, se = p.communicate(script, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            so, se = p.communicate()
            results[name] = f"no answer within {timeout:g} s"
            continue
        got = parse_tagged(so, PROBE_TAG)
        results[name] = got[0] if got else (se.strip() or so.strip() or f"exit {p.returncode}")
    if lproc is not None:
        assert lproc.stdout is not None
        rest = lproc.stdout.read()      # the listener ends by itself; the timer covers a dead link
        lproc.wait()
        if timer is not None:
            timer.cancel()
        if listener and listener.get("ready"):
            done = parse_tagged(rest, LISTEN_TAG)
            listener = done[-1] if done else listener
    return evaluate(cluster, req, results, listener)


def stop_nodes(cluster: Cluster, run_id: str, ssh_argv: SshArgv = ssh_argv_for, grace: float = 20.0,
               timeout: float = 120.0) -> dict[str, tuple[int, int] | str]:
    """Stop the run on every node at once; per node ``(found, left)`` or an error text."""
    script = stop_script(run_id, grace)
    procs = {n.name: subprocess.Popen(python_argv(ssh_argv, n.destination), stdin=subprocess.PIPE,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in cluster.active}
    out: dict[str, tuple[int, int] | str] = {}
    for name, p in procs.items():
        try:
            so, se = p.communicate(script, timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()
            out[name] = "no answer"
            continue
        res = parse_stop(so)
        out[name] = res if res is not None else (se.strip() or f"exit {p.returncode}")
    return out
