"""Sending a training's configs and dataset folders to an SSH host (issue #15), Qt-free.

The user's files are never modified: the configs the host reads are *copies*, rewritten with
tomlkit (comments and layout kept), with local paths mapped to host paths:

* main config: ``dataset``, ``eval_datasets[].config`` -> the uploaded dataset configs;
  ``output_dir`` -> ``<workdir>/output/<name>-<hash>``;
* dataset configs: ``[[directory]]`` ``path``, ``mask_path``, ``control_path`` (folders) and
  ``default_mask_file`` -> ``<workdir>/datasets/<name>-<hash>``.

``<hash>`` comes from the local absolute path, so the same local folder always lands in the
same host folder and a second launch sends only what changed.  Model paths (``[model]``,
``[adapter] init_from_existing``) are host paths: they are checked on the host, and one that
exists only on this machine is a pre-flight error.  Relative local paths are relative to the
config's own folder (or, when not found there, to ``local_checkout``: given, or the
folder above the config that holds ``train.py``).

Public API::

    plan = make_plan(config_path, host, local_checkout=None)    # SyncPlan: what goes where
    diff = plan_uploads(plan, host)         # remote manifests -> UploadPlan (files, bytes)
    print("\\n".join(diff.lines()))          # "what will be uploaded" (CLI --dry-run)
    stats = upload(plan, diff, host, progress=cb, cancel=event)   # UploadStats
    plan.remote_config                        # host path of the main config to train with

Folders go by ``rsync`` over the same ``ssh`` argv when both ends have it (only the files that
differ, listed with ``--files-from``), else by a tar stream of those files; nothing is sent for
an unchanged folder.  Files deleted locally are deleted from the host copy.  A ``cache``
folder at the top of a dataset folder (diffusion-pipe's latent cache) is neither sent nor
deleted.
"""
from __future__ import annotations

import hashlib
import os
import posixpath
import re
import shutil
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Protocol

import tomlkit

from dpgui_qt.core.run.hosts.base import HostError

if TYPE_CHECKING:
    from dpgui_qt.core.run.hosts.ssh import SshHost


class PlanHost(Protocol):
    """What planning reads of a host: its work folder and how it spells a path."""

    @property
    def workdir(self) -> str: ...

    def expand(self, host_path: str | None) -> str | None: ...

EXCLUDE_TOP = ("cache",)
DIR_KEYS = ("path", "mask_path", "control_path")
FILE_KEYS = ("default_mask_file",)
Progress = Callable[[int, int, int, int], None]


class SyncError(HostError):
    """The configs cannot be prepared for the host (message is user-facing)."""


@dataclass
class DirMap:
    local: Path
    remote: str


@dataclass
class FileUpload:
    local: Path           # the user's file (read only)
    remote: str
    data: bytes           # what the host gets


@dataclass
class Finding:
    level: str            # "error" | "warning"
    message: str
    key: str = ""


@dataclass
class SyncPlan:
    config: Path
    remote_config: str
    remote_output_dir: str | None
    files: list[FileUpload] = field(default_factory=list)
    dirs: list[DirMap] = field(default_factory=list)
    model_paths: dict[str, str] = field(default_factory=dict)    # key -> host path
    findings: list[Finding] = field(default_factory=list)


@dataclass
class DirUpload:
    dir: DirMap
    send: list[tuple[str, int]]        # (relpath, size)
    delete: list[str]
    total_files: int

    @property
    def bytes(self) -> int:
        return sum(s for _, s in self.send)


@dataclass
class UploadPlan:
    dirs: list[DirUpload]
    files: list[FileUpload]
    host_rsync: bool = False
    extra: list[Any] = field(default_factory=list)      # answers to plan_uploads' extra_ops

    @property
    def bytes(self) -> int:
        return sum(d.bytes for d in self.dirs)

    @property
    def file_count(self) -> int:
        return sum(len(d.send) for d in self.dirs)

    def lines(self) -> list[str]:
        out = []
        for f in self.files:
            out.append(f"config  {f.local} -> {f.remote} ({len(f.data)} bytes, rewritten copy)")
        for d in self.dirs:
            out.append(f"dataset {d.dir.local} -> {d.dir.remote}: {len(d.send)} of {d.total_files} "
                       f"files to send ({_human(d.bytes)})"
                       + (f", {len(d.delete)} to delete on the host" if d.delete else ""))
        out.append(f"total: {self.file_count} dataset files, {_human(self.bytes)}")
        return out


@dataclass
class UploadStats:
    bytes_sent: int = 0          # dataset file bytes sent
    files_sent: int = 0
    deleted: int = 0
    method: str = ""


def _human(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _slug(p: Path) -> str:
    h = hashlib.sha256(str(p).encode("utf-8", "surrogateescape")).hexdigest()[:10]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", p.name or "root")[:40]
    return f"{name}-{h}"


def _load(path: Path) -> Any:  # a tomlkit document, read and changed like a dict
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise SyncError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        return tomlkit.parse(text)
    except Exception as e:  # noqa: BLE001 - tomlkit raises several kinds of parse errors
        raise SyncError(f"{path} is not valid TOML: {e}") from None


class _Resolver:
    def __init__(self, config: Path, local_checkout: Path | None):
        if local_checkout is None:      # a config inside a local checkout (examples/x.toml)
            local_checkout = next((d for d in config.parents if (d / "train.py").is_file()), None)
        self.bases = [config.parent] + ([local_checkout] if local_checkout else [])

    def __call__(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        if p.is_absolute():
            return p
        for b in self.bases:
            if (b / p).exists():
                return (b / p).resolve()
        return (self.bases[-1] / p).resolve()


def make_plan(config_path: str | os.PathLike[str], host: PlanHost, local_checkout: str | os.PathLike[str] | None = None) -> SyncPlan:
    """What to send where (reads the local files, writes nothing)."""
    config = Path(config_path).resolve()
    workdir = host.workdir
    resolve = _Resolver(config, Path(local_checkout).resolve() if local_checkout else None)
    doc = _load(config)
    cfg_dir = posixpath.join(workdir, "configs", _slug(config))
    plan = SyncPlan(config, posixpath.join(cfg_dir, config.name), None)
    dirs: dict[Path, DirMap] = {}

    def map_dir(local: Path) -> str:
        if local not in dirs:
            dirs[local] = DirMap(local, posixpath.join(workdir, "datasets", _slug(local)))
        return dirs[local].remote

    def dataset_copy(value: str, key: str) -> str:
        local = resolve(value)
        if not local.is_file():
            plan.findings.append(Finding("error", f"{key}: dataset config not found: {local}", key))
            return value
        ddoc = _load(local)
        for i, d in enumerate(ddoc.get("directory") or []):
            for k in DIR_KEYS:
                v = d.get(k)
                if isinstance(v, str) and v:
                    lp = resolve(v)
                    if not lp.is_dir():
                        plan.findings.append(Finding("error", f"{local}: directory[{i}].{k}: "
                                                     f"folder not found on this machine: {lp}", k))
                        continue
                    d[k] = map_dir(lp)
            for k in FILE_KEYS:
                v = d.get(k)
                if isinstance(v, str) and v:
                    lp = resolve(v)
                    if not lp.is_file():
                        plan.findings.append(Finding("error", f"{local}: directory[{i}].{k}: "
                                                     f"file not found on this machine: {lp}", k))
                        continue
                    remote = posixpath.join(workdir, "datasets", "files", _slug(lp.parent), lp.name)
                    plan.files.append(FileUpload(lp, remote, lp.read_bytes()))
                    d[k] = remote
        remote = posixpath.join(cfg_dir, f"{local.stem}-{_slug(local)[-10:]}{local.suffix}")
        plan.files.append(FileUpload(local, remote, tomlkit.dumps(ddoc).encode("utf-8")))
        return remote

    ds = doc.get("dataset")
    if isinstance(ds, str) and ds:
        doc["dataset"] = dataset_copy(ds, "dataset")
    else:
        plan.findings.append(Finding("error", "the config has no dataset file", "dataset"))
    for i, ev in enumerate(doc.get("eval_datasets") or []):
        c = ev.get("config") if hasattr(ev, "get") else None
        if isinstance(c, str) and c:
            ev["config"] = dataset_copy(c, f"eval_datasets[{i}].config")
    od = doc.get("output_dir")
    if isinstance(od, str) and od:
        plan.remote_output_dir = posixpath.join(workdir, "output", _slug(resolve(od)))
        doc["output_dir"] = plan.remote_output_dir
    else:
        plan.findings.append(Finding("error", "the config has no output_dir", "output_dir"))
    model = doc.get("model")
    if hasattr(model, "items"):
        for k, v in model.items():
            if isinstance(v, str) and v and (k.endswith("path") or k.endswith("_ckpt") or k == "ckpt"):
                plan.model_paths[f"model.{k}"] = host.expand(str(v)) or str(v)
    adapter = doc.get("adapter")
    if hasattr(adapter, "get"):
        v = adapter.get("init_from_existing")
        if isinstance(v, str) and v:
            plan.model_paths["adapter.init_from_existing"] = host.expand(str(v)) or str(v)
    plan.files.insert(0, FileUpload(config, plan.remote_config, tomlkit.dumps(doc).encode("utf-8")))
    plan.dirs = list(dirs.values())
    return plan


def local_manifest(root: Path) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in EXCLUDE_TOP]
            rel_dir = ""
        for n in filenames:
            p = os.path.join(dirpath, n)
            try:
                st = os.stat(p)
            except OSError:
                continue
            rel = (rel_dir + "/" + n) if rel_dir else n
            out[rel.replace(os.sep, "/")] = (st.st_size, int(st.st_mtime))
    return out


def plan_uploads(plan: SyncPlan, host: SshHost, extra_ops: list[Any] | None = None) -> UploadPlan:
    """Compare each folder with its host copy: one round trip for every folder's manifest
    (plus ``extra_ops``, helper operations whose answers land in ``UploadPlan.extra``)."""
    ops = [("manifest", {"root": d.remote, "exclude": list(EXCLUDE_TOP)}) for d in plan.dirs]
    answers = host.batch(ops + list(extra_ops or [])) if (ops or extra_ops) else []
    dirs = []
    rsync = False
    for d, ans in zip(plan.dirs, answers):
        remote = ans["files"]
        rsync = rsync or bool(ans.get("rsync"))
        local = local_manifest(d.local)
        send = [(rel, sz) for rel, (sz, mt) in sorted(local.items())
                if rel not in remote or tuple(remote[rel]) != (sz, mt)]
        delete = sorted(r for r in remote if r not in local)
        dirs.append(DirUpload(d, send, delete, len(local)))
    return UploadPlan(dirs, plan.files, rsync, answers[len(plan.dirs):])


def config_files(diff: UploadPlan) -> dict[str, bytes]:
    """{host path: bytes} of the rewritten configs (for ``SshHost.write_files``)."""
    return {f.remote: f.data for f in diff.files}


def upload(plan: SyncPlan, diff: UploadPlan, host: SshHost, progress: Progress | None = None,
           cancel: threading.Event | None = None, method: str | None = None,
           write_configs: bool = True) -> UploadStats:
    """Send what differs in the dataset folders, and the rewritten configs unless
    ``write_configs`` is False (a caller that sends them with the start, see
    :func:`config_files`).  ``method``: "rsync" / "tar" / None (rsync when both ends have it)."""
    stats = UploadStats()
    total_b, total_f = diff.bytes, diff.file_count
    if write_configs:
        host.write_files(config_files(diff))
    if method is None:
        method = "rsync" if (diff.host_rsync and shutil.which("rsync") and os.name != "nt") else "tar"
    stats.method = method
    for d in diff.dirs:
        if cancel is not None and cancel.is_set():
            raise SyncError("upload cancelled")
        if d.delete:
            stats.deleted += len(host.agent("remove", {"root": d.dir.remote, "files": d.delete})["removed"])
        if not d.send:
            continue
        base_b, base_f = stats.bytes_sent, stats.files_sent

        def prog(b: int, f: int, base_b: int = base_b, base_f: int = base_f) -> None:  # this folder's
            if progress:
                progress(base_b + b, total_b, base_f + f, total_f)

        if method == "rsync":
            _rsync(d, host, prog, cancel)
        else:
            _tar(d, host, prog, cancel)
        stats.bytes_sent += d.bytes
        stats.files_sent += len(d.send)
        if progress:
            progress(stats.bytes_sent, total_b, stats.files_sent, total_f)
    return stats


_PROGRESS2 = re.compile(rb"^\s*([\d,]+)\s+\d+%.*?xfr#(\d+)")


def _rsync(d: DirUpload, host: SshHost, prog: Callable[[int, int], None],
           cancel: threading.Event | None) -> None:
    argv = ["rsync", "-a", "--files-from=-", "--info=progress2", "--no-inc-recursive",
            f"--rsync-path=mkdir -p {_q(d.dir.remote)} && rsync",
            "-e", host.transport.ssh_command(), str(d.dir.local) + "/",
            f"{host.transport.destination.host}:{d.dir.remote}/"]
    host.transport.ensure_master()
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    listing = "".join(rel + "\n" for rel, _ in d.send).encode("utf-8", "surrogateescape")
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None  # PIPEs
    stdin, stdout, stderr = proc.stdin, proc.stdout, proc.stderr

    def feed() -> None:
        try:
            stdin.write(listing)
            stdin.close()
        except OSError:
            pass

    threading.Thread(target=feed, daemon=True).start()
    err: list[bytes] = []
    threading.Thread(target=lambda: err.append(stderr.read()), daemon=True).start()
    buf = b""
    while True:
        if cancel is not None and cancel.is_set():
            proc.kill()
            proc.wait()
            raise SyncError("upload cancelled")
        chunk = stdout.read1(65536) if hasattr(stdout, "read1") else stdout.read(65536)
        if not chunk:
            break
        buf += chunk
        parts = re.split(rb"[\r\n]", buf)
        buf = parts.pop()
        for p in parts:
            m = _PROGRESS2.match(p)
            if m:
                prog(int(m.group(1).replace(b",", b"")), int(m.group(2)))
    rc = proc.wait()
    if rc != 0:
        raise SyncError(f"rsync to the host failed (exit {rc}): "
                        f"{b''.join(err).decode('utf-8', 'replace').strip()[-500:]}")


def _tar(d: DirUpload, host: SshHost, prog: Callable[[int, int], None],
         cancel: threading.Event | None) -> None:
    line = f"mkdir -p {_q(d.dir.remote)} && tar -xf - -C {_q(d.dir.remote)}"
    proc = host.transport.popen(line, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stderr is not None  # PIPEs
    sent_b = sent_f = 0
    try:
        with tarfile.open(fileobj=proc.stdin, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            for rel, _size in d.send:
                if cancel is not None and cancel.is_set():
                    raise SyncError("upload cancelled")
                p = d.dir.local / rel
                info = tar.gettarinfo(str(p), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                with open(p, "rb") as f:
                    tar.addfile(info, f)
                sent_b += info.size
                sent_f += 1
                prog(sent_b, sent_f)
        proc.stdin.close()
    except (BrokenPipeError, SyncError):
        proc.kill()
        proc.wait()
        raise
    rc = proc.wait()
    if rc != 0:
        raise SyncError(f"copying to the host failed (exit {rc}): "
                        f"{proc.stderr.read().decode('utf-8', 'replace').strip()[-500:]}")


def _q(s: str) -> str:
    import shlex
    return shlex.quote(s)
