"""Turn what the probe saw into findings: what is wrong, why it matters for
training, the exact fix and a severity.

``parse_probe`` reads the probe's output (the last marker line; anything the
environment's imports printed before it is ignored).  ``analyse`` takes the
parsed facts plus optional extras (the host, whose own findings it adds --
:meth:`~dpgui_qt.core.run.hosts.Host.doctor_checks` -- and the model types the
checkout knows) and returns a :class:`Report`.  Nothing here depends on which
host the trainer runs on; the host words what is its own.
"""
from __future__ import annotations

from typing import Any

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field

from dpgui_qt import DIFFUSION_PIPE_COMMIT
from dpgui_qt.core.doctor.probe import MARKER
from dpgui_qt.core.run.hosts.base import (
    DoctorContext,
    Host,
    HostFinding,
    probe_memory_wording,
)

ERROR, WARNING, INFO, OK = "error", "warning", "info", "ok"
SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2, OK: 3}

REF_COMMIT = DIFFUSION_PIPE_COMMIT   # the one place it is written: dpgui_qt/__init__.py
MIN_PYTHON = (3, 10)
RECOMMENDED_PYTHON = "3.12"         # diffusion-pipe README.md:63 (conda create ... python=3.12)
MIN_FREE_GB = 20.0
RAM_BASE_GB = 16.0     # data loader, text encoders while caching, the Python processes
GIB = 1024 ** 3

# CUDA major -> the oldest Linux driver that runs it with minor-version
# compatibility; CUDA major.minor -> the driver it was released with (NVIDIA CUDA
# Toolkit release notes, table 3). Below the latter new PTX cannot be JIT-compiled.
CUDA_MIN_DRIVER = {11: (450, 80, 2), 12: (525, 60, 13), 13: (580, 65, 6)}
CUDA_RELEASE_DRIVER = {
    (11, 8): (520, 61, 5), (12, 1): (530, 30, 2), (12, 4): (550, 54, 14),
    (12, 6): (560, 28, 3), (12, 8): (570, 26, 0), (12, 9): (575, 51, 3), (13, 0): (580, 65, 6),
}
# torch wheel index by CUDA version: the first CUDA whose torch builds include an arch
ARCH_CUDA = {(12, 0): "12.8", (10, 0): "12.8", (9, 0): "11.8", (8, 9): "11.8", (8, 6): "11.8",
             (8, 0): "11.8", (7, 5): "11.8"}
# models that cannot run without flash-attn / that use it when present
FLASH_REQUIRED = {"hunyuan_image": "models/hunyuan_image_modeling.py:32 (only flash attention is implemented)"}
FLASH_OPTIONAL = {"wan": "models/wan/attention.py:10 (uses flash-attn when it imports)"}


class ProbeError(RuntimeError):
    """The probe produced no usable result (message is user-facing)."""


@dataclass
class DoctorFinding:
    code: str            # stable id, e.g. "torch.missing"
    severity: str        # error | warning | info | ok
    title: str           # what is wrong (or what is fine)
    why: str = ""        # why it matters for training
    fix: str = ""        # the exact fix: a command and where to run it
    detail: str = ""

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def format(self) -> str:
        mark = {ERROR: "✖", WARNING: "!", INFO: "·", OK: "✔"}[self.severity]
        out = f"{mark} {self.severity:7} {self.title}"
        if self.why:
            out += f"\n            why: {self.why}"
        if self.fix:
            out += f"\n            fix: {self.fix}"
        return out


@dataclass
class Report:
    target: str
    facts: dict[str, Any]
    findings: list[DoctorFinding] = field(default_factory=list)

    @property
    def errors(self) -> list[DoctorFinding]:
        return [f for f in self.findings if f.severity == ERROR]

    @property
    def warnings(self) -> list[DoctorFinding]:
        return [f for f in self.findings if f.severity == WARNING]

    def codes(self) -> set[str]:
        return {f.code for f in self.findings}

    def find(self, code: str) -> DoctorFinding | None:
        return next((f for f in self.findings if f.code == code), None)

    def vram_gb(self) -> float | None:
        """Total memory of the largest GPU the probe saw (GiB), for preselecting a tier."""
        best = None
        for d in (self.facts.get("torch") or {}).get("devices") or []:
            if d.get("total"):
                best = max(best or 0, d["total"] / GIB)
        for g in (self.facts.get("nvidia_smi") or {}).get("gpus") or []:
            try:
                best = max(best or 0, float(g["total_mib"]) / 1024)
            except (KeyError, TypeError, ValueError):
                pass
        return best

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "errors": len(self.errors), "warnings": len(self.warnings),
                "vram_gb": self.vram_gb(),
                "findings": [f.to_json() for f in self.findings], "facts": self.facts}

    def format_text(self) -> str:
        lines = [f"dpgui doctor: {self.target}"]
        for f in self.findings:
            lines.append("  " + f.format().replace("\n", "\n  "))
        e, w = len(self.errors), len(self.warnings)
        lines.append(f"{e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}")
        return "\n".join(lines)


# --------------------------------------------------------------------------- parsing
def parse_probe(stdout: str | bytes, stderr: str | bytes = "", rc: int | None = 0) -> dict[str, Any]:
    if isinstance(stdout, bytes):
        stdout = stdout.decode("utf-8", "replace")
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                data = json.loads(line[len(MARKER):])
            except json.JSONDecodeError as e:
                raise ProbeError(f"the probe's result is not valid JSON ({e})") from None
            if not isinstance(data, dict):
                raise ProbeError("the probe's result is not a JSON object")
            return data
    tail = (stderr or stdout or "").strip().splitlines()[-3:]
    raise ProbeError("the probe printed no result (exit status %s)%s" % (
        rc, (": " + " | ".join(tail)) if tail else ""))


def version_tuple(text: str | None) -> tuple[int, ...]:
    nums = []
    for part in re.split(r"[.+-]", str(text or "")):
        m = re.match(r"\d+", part)
        if not m:
            break
        nums.append(int(m.group()))
    return tuple(nums)


def _vstr(v: tuple[Any, ...]) -> str:
    return ".".join(str(x) for x in v)


# --------------------------------------------------------------------------- analysis
def _from_host(hf: HostFinding) -> DoctorFinding:
    sev = hf.severity if hf.severity in SEVERITY_ORDER else INFO
    return DoctorFinding(hf.code, sev, hf.title, hf.why, hf.fix, hf.detail)


def _pip(python: str, what: str) -> str:
    return f"{python} -m pip install {what}"


def _arch_supported(cap: tuple[int, int], arch_list: list[str]) -> tuple[bool, bool]:
    """(native kernels for this GPU, only via PTX JIT)."""
    major, minor = cap
    sms: list[tuple[int, int]] = []
    ptx: list[tuple[int, int]] = []
    for a in arch_list:
        m = re.fullmatch(r"(sm|compute)_(\d+)(\d)([af]?)", a)
        if not m:
            continue
        v = (int(m.group(2)), int(m.group(3)))
        (sms if m.group(1) == "sm" else ptx).append(v)
    native = any(v[0] == major and v[1] <= minor for v in sms)
    jit = any(v <= (major, minor) for v in ptx)
    return native, (jit and not native)


def _torch_index(cap: tuple[int, int] | None, current: str | None) -> str:
    need = ARCH_CUDA.get(cap) if cap else None
    cuda = need or (current if current else "12.8")
    tag = "cu" + cuda.replace(".", "")
    return f"--index-url https://download.pytorch.org/whl/{tag}"


def analyse(facts: dict[str, Any], *, python: str = "python3", target: str = "",
            model_type: str | None = None, uses_flash: bool = False,
            known_types: dict[str, Any] | None = None, schema_types: set[str] | None = None,
            ref_commit: str = REF_COMMIT, host: Host | None = None,
            host_results: Mapping[str, tuple[int | None, bytes, bytes]] | None = None,
            environ: Mapping[str, str] | None = None,
            blocks_to_swap: int | None = None, swap_gb: float | None = None,
            min_free_gb: float = MIN_FREE_GB) -> Report:
    """Findings for the parsed probe ``facts``.

    ``host`` is where the probe ran: its :meth:`~Host.doctor_checks` (given
    ``host_results``, the outputs of its ``diagnostic_commands``, and ``environ``,
    this machine's environment) are added, and it words the RAM findings.  Without
    a host only the probe's generic findings are made.

    ``swap_gb`` is what the config's swapped blocks occupy in RAM (core.memory.swapped_gb).
    ``known_types`` is the checkout's model types (from the schema audit) and
    ``schema_types`` the ones dpgui's schemas describe; ``model_type`` and
    ``uses_flash`` say what the open config asks for.
    """
    F: list[DoctorFinding] = []

    def add(*a: Any, **k: Any) -> None:
        F.append(DoctorFinding(*a, **k))

    py = (facts.get("python") or {})
    pyv = version_tuple(py.get("version"))
    python = py.get("executable") or python

    # -- Python
    if pyv and pyv[:2] < MIN_PYTHON:
        add("python.old", ERROR, f"Python {py.get('version')} is too old for diffusion-pipe",
            "diffusion-pipe and its requirements (diffusers, deepspeed) need Python "
            f"{_vstr(MIN_PYTHON)} or newer; imports fail at start.",
            f"conda create -n diffusion-pipe python={RECOMMENDED_PYTHON} (then install torch and "
            "the requirements into it and choose it in Run ▸ Environment)")
    elif pyv:
        add("python.ok", OK, f"Python {py.get('version')} ({python})")

    # -- torch
    torch = facts.get("torch") or {}
    devices = torch.get("devices") or []
    smi = facts.get("nvidia_smi") or {}
    caps = []
    for g in smi.get("gpus") or []:
        try:
            a, b = str(g.get("compute_cap", "")).split(".")
            caps.append((g.get("name", "GPU"), (int(a), int(b))))
        except ValueError:
            pass
    for d in devices:
        if d.get("capability") and not any(c[1] == tuple(d["capability"]) for c in caps):
            caps.append((d.get("name", "GPU"), tuple(d["capability"])))
    first_cap = caps[0][1] if caps else None
    if not torch.get("importable"):
        add("torch.missing", ERROR, "PyTorch is not installed in this environment",
            "diffusion-pipe trains with PyTorch; train.py fails at its first import. torch is "
            "not in requirements.txt, so it has to be installed first (diffusion-pipe README).",
            _pip(python, "torch torchvision " + _torch_index(first_cap, None)),
            torch.get("error", ""))
    else:
        tv, tc = torch.get("version", "?"), torch.get("cuda")
        if not tc:
            add("torch.cpu_build", ERROR, f"torch {tv} is a CPU-only build",
                "It cannot use the GPU: training would not start (deepspeed needs CUDA).",
                _pip(python, "--force-reinstall torch torchvision " + _torch_index(first_cap, None)))
        else:
            add("torch.ok", OK, f"torch {tv}, built for CUDA {tc}")
        if tc and torch.get("available") is False:
            why = torch.get("available_error") or ("nvidia-smi found no GPU either"
                                                    if not smi.get("gpus") else "")
            add("cuda.unavailable", ERROR, "torch cannot use CUDA (torch.cuda.is_available() is False)",
                "No GPU is visible to the trainer: no driver, a driver too old for this torch, "
                "or (WSL) the Windows NVIDIA driver is missing.",
                "Install or update the NVIDIA driver (on WSL: the Windows driver, not a Linux one), "
                "then run nvidia-smi in the same environment to check.", why)
        arch_list = torch.get("arch_list") or []
        if tc and arch_list:
            for name, cap in caps:
                native, jit_only = _arch_supported(cap, arch_list)
                sm = f"sm_{cap[0]}{cap[1]}"
                if not native and not jit_only:
                    add("torch.arch", ERROR,
                        f"torch {tv} has no kernels for {name} ({sm}); it was built for "
                        f"{', '.join(arch_list)}",
                        "Every CUDA kernel fails with 'no kernel image is available for execution "
                        "on the device' as soon as training starts.",
                        _pip(python, "--force-reinstall torch torchvision "
                             + _torch_index(cap, None)) + "  (torch 2.7 or newer for sm_120 cards)")
                elif jit_only:
                    add("torch.arch_ptx", WARNING,
                        f"torch {tv} runs on {name} ({sm}) only through PTX JIT compilation",
                        "The first steps are very slow while kernels compile, and some "
                        "extensions (flash-attn, bitsandbytes) may not work at all.",
                        _pip(python, "--force-reinstall torch torchvision " + _torch_index(cap, tc)))
        # driver against the torch build
        drivers = [version_tuple(g.get("driver")) for g in smi.get("gpus") or [] if g.get("driver")]
        if tc and drivers:
            drv = min(drivers)
            cv = version_tuple(tc)
            need = CUDA_MIN_DRIVER.get(cv[0]) if cv else None
            rel = CUDA_RELEASE_DRIVER.get((cv[0], cv[1])) if len(cv) >= 2 else None
            if need and drv < need:
                add("driver.old", ERROR,
                    f"NVIDIA driver {_vstr(drv)} is too old for torch's CUDA {tc} (needs {_vstr(need)} or newer)",
                    "CUDA fails to initialise, so torch sees no GPU.",
                    "Update the NVIDIA driver (on WSL: the Windows driver from nvidia.com), or "
                    "install a torch built for an older CUDA: "
                    + _pip(python, "--force-reinstall torch torchvision --index-url "
                           "https://download.pytorch.org/whl/cu118"))
            elif rel and drv < rel:
                add("driver.minor_compat", WARNING,
                    f"NVIDIA driver {_vstr(drv)} is older than CUDA {tc}'s own ({_vstr(rel)})",
                    "It runs through CUDA minor-version compatibility, but extensions that JIT "
                    "PTX (triton kernels, some flash-attn paths) can fail with "
                    "'the provided PTX was compiled with an unsupported toolchain'.",
                    "Update the NVIDIA driver to the newest for your card.")
            else:
                add("driver.ok", OK, f"NVIDIA driver {_vstr(drv)}")
    if not smi.get("found") and not devices:
        add("gpu.none", WARNING if torch.get("importable") is False else ERROR,
            "No NVIDIA GPU found (nvidia-smi is missing)",
            "diffusion-pipe trains on NVIDIA GPUs only.",
            "Install the NVIDIA driver (on WSL: install the Windows driver; WSL provides nvidia-smi).")
    elif smi.get("error"):
        add("gpu.smi_error", ERROR, "nvidia-smi fails: " + smi["error"].splitlines()[0][:160],
            "The driver is not loaded or does not match its kernel module; CUDA will not start.",
            "Reboot after a driver update, or reinstall the NVIDIA driver.")
    # free VRAM per GPU
    for d in devices:
        if d.get("total") and d.get("free") is not None:
            free, total = d["free"] / GIB, d["total"] / GIB
            label = f"GPU {d['index']} {d.get('name', '')}: {free:.1f} of {total:.1f} GiB free"
            if free < total * 0.8 and total - free > 1.0:
                add(f"vram.busy.{d['index']}", WARNING, label,
                    f"Other processes hold {total - free:.1f} GiB; training may run out of memory "
                    "where it otherwise would fit.",
                    "nvidia-smi lists the processes using it; close them before training.")
            else:
                add(f"vram.{d['index']}", OK, label)
    if not devices:
        for g in smi.get("gpus") or []:
            try:
                free, total = float(g["free_mib"]) / 1024, float(g["total_mib"]) / 1024
                add(f"vram.{g['index']}", INFO,
                    f"GPU {g['index']} {g['name']}: {free:.1f} of {total:.1f} GiB free (nvidia-smi)")
            except (KeyError, TypeError, ValueError):
                pass

    # -- deepspeed, flash-attn
    ds = facts.get("deepspeed") or {}
    if not ds.get("importable"):
        add("deepspeed.missing", ERROR, "deepspeed does not import",
            "diffusion-pipe is built on DeepSpeed pipeline parallelism; it is both the launcher "
            "and the training engine.",
            (f"cd {(facts.get('checkout') or {}).get('path')} && " if (facts.get("checkout") or {}).get("path")
             else "in the diffusion-pipe checkout: ") + _pip(python, "-r requirements.txt"),
            ds.get("error", ""))
    else:
        add("deepspeed.ok", OK, f"deepspeed {ds.get('version') or '(unknown version)'}")
    fa = facts.get("flash_attn") or {}
    wanted = model_type in FLASH_REQUIRED or uses_flash
    if not fa.get("importable"):
        broken = fa.get("error", "")
        failed = broken and "No module named" not in broken
        if model_type in FLASH_REQUIRED:
            add("flash_attn.required", ERROR,
                f"flash-attn is {'broken' if failed else 'missing'} and {model_type} needs it",
                f"diffusion-pipe {FLASH_REQUIRED[model_type]}: the model cannot run without it.",
                _pip(python, "flash-attn --no-build-isolation")
                + "  (needs nvcc matching torch's CUDA; prebuilt wheels avoid a long build)", broken)
        elif failed:
            add("flash_attn.broken", WARNING, "flash-attn is installed but fails to import",
                "Usually built against another torch; models that use it fall back or fail.",
                _pip(python, "--force-reinstall --no-build-isolation flash-attn"), broken)
        else:
            note = f" ({model_type} uses it when present: {FLASH_OPTIONAL[model_type]})" \
                if model_type in FLASH_OPTIONAL else ""
            add("flash_attn.missing", INFO, "flash-attn is not installed" + note,
                "Optional (diffusion-pipe README); some models need it or run faster with it.",
                _pip(python, "flash-attn --no-build-isolation"))
    else:
        add("flash_attn.ok", OK, f"flash-attn {fa.get('version') or ''}".strip()
            + (" (the config uses it)" if wanted else ""))

    # -- checkout
    co = facts.get("checkout")
    if co is None:
        add("checkout.unset", WARNING, "No diffusion-pipe checkout configured",
            "The doctor cannot check the code, its submodules and requirements.",
            "git clone --recurse-submodules https://github.com/tdrussell/diffusion-pipe, then "
            "choose it in Run ▸ Environment (or pass --checkout DIR)")
    elif not co.get("exists") or not co.get("train_py"):
        add("checkout.missing", ERROR, f"{co.get('path')} is not a diffusion-pipe checkout"
            + (" (it does not exist)" if not co.get("exists") else " (no train.py)"),
            "Training runs train.py from the checkout.",
            "git clone --recurse-submodules https://github.com/tdrussell/diffusion-pipe "
            f"{co.get('path')}")
    else:
        path = co["path"]
        commit = co.get("commit")
        if not co.get("is_git"):
            add("checkout.not_git", WARNING, f"{path} is not a git work tree",
                "Its version cannot be told, and 'git submodule update' cannot fetch the "
                "submodules several models import.",
                f"git clone --recurse-submodules https://github.com/tdrussell/diffusion-pipe {path}")
        elif commit and commit != ref_commit:
            add("checkout.commit", INFO,
                f"checkout at {commit[:10]}; dpgui's schemas were checked against {ref_commit[:7]}",
                "Keys added or removed since then are not known to dpgui's validation.",
                f"dpgui schema-audit {path}  (lists the keys that drifted)")
        elif commit:
            add("checkout.ok", OK, f"checkout at {commit[:10]} (the commit dpgui's schemas describe)")
        subs = co.get("submodules") or []
        missing = [s["path"] for s in subs if not s.get("initialised")]
        if missing:
            add("checkout.submodules", ERROR,
                f"{len(missing)} of {len(subs)} submodules are not initialised: "
                + ", ".join(missing),
                "Models such as HunyuanVideo, Cosmos, Lumina 2, HiDream, LTX-Video and the "
                "ComfyUI-based ones import code from them; train.py fails at start.",
                f"git -C {path} submodule update --init --recursive")
        elif subs:
            add("checkout.submodules_ok", OK, f"{len(subs)} submodules initialised")
        reqs = co.get("requirements")
        if reqs is not None:
            absent = [r["name"] for r in reqs if not r.get("installed")]
            wrong = []
            for r in reqs:
                m = re.search(r"(==|>=)\s*([\w.]+)", r["line"])
                if r.get("installed") and m:
                    have, want = version_tuple(r["installed"]), version_tuple(m.group(2))
                    if (m.group(1) == "==" and have != want) or (m.group(1) == ">=" and have < want):
                        wrong.append(f"{r['name']} {r['installed']} (wants {m.group(1)}{m.group(2)})")
            if absent or wrong:
                add("requirements.missing", ERROR if absent else WARNING,
                    "requirements.txt not satisfied: "
                    + ", ".join(([f"missing {', '.join(absent)}"] if absent else [])
                                + ([f"different {', '.join(wrong)}"] if wrong else [])),
                    "train.py or a model module fails to import (or behaves differently from "
                    "what the checkout was written for).",
                    f"cd {path} && {_pip(python, '-r requirements.txt')}")
            else:
                add("requirements.ok", OK, f"all {len(reqs)} packages of requirements.txt installed")
    if known_types is not None and schema_types is not None:
        unknown = sorted(set(known_types) - set(schema_types))
        if unknown:
            add("schemas.drift", WARNING,
                "this checkout has model types dpgui does not know: " + ", ".join(unknown),
                "dpgui cannot validate or template configs for them (it edits them as plain keys).",
                "dpgui schema-audit " + (co or {}).get("path", "DIR") + "  (full report), or "
                "check out the commit in ref/README.md")

    # -- disk and memory
    for dk in facts.get("disk") or []:
        if dk.get("free") is None:
            continue
        free = dk["free"] / GIB
        if free < min_free_gb:
            add(f"disk.low.{dk['label'].replace(' ', '_')}", WARNING,
                f"only {free:.1f} GiB free at {dk.get('checked') or dk['path']} ({dk['label']})",
                "Latent caches, checkpoints (optimizer state included) and saved models need "
                "tens of GB; a full disk ends a run at its next save.",
                "Free space there or point output_dir / HF_HOME at a larger disk.")
        else:
            add(f"disk.{dk['label'].replace(' ', '_')}", OK, f"{free:.0f} GiB free at {dk.get('checked') or dk['path']} ({dk['label']})")
    mem = facts.get("memory") or {}
    ram = mem.get("MemTotal")
    ram_need = (swap_gb or 0) + RAM_BASE_GB
    if ram:
        words = host.memory_wording(facts) if host is not None else probe_memory_wording(facts)
        add("ram", INFO, f"{ram / GIB:.1f} GiB RAM" + (f" {words.visible}" if words.visible else ""))
        if blocks_to_swap and ram / GIB < ram_need:
            add("ram.block_swap", WARNING,
                f"blocks_to_swap = {blocks_to_swap} needs about {ram_need:.0f} GiB RAM; "
                f"{ram / GIB:.0f} GiB {words.visible or 'installed'}",
                f"The swapped blocks (about {swap_gb or 0:.0f} GiB) live in RAM beside the data "
                f"loader and the text encoders ({RAM_BASE_GB:.0f} GiB assumed); when RAM runs "
                "out the kernel kills the trainer.", words.fix)

    # -- what only the host can tell (its own setup, limits and advice); they go
    # first within their severity: a host error (no Linux, WSL 1) is the root cause
    if host is not None:
        context = DoctorContext(facts=facts, results=dict(host_results or {}),
                                ram_need_gb=ram_need if blocks_to_swap else None,
                                blocks_to_swap=blocks_to_swap, environ=dict(environ or {}))
        F[:0] = [_from_host(hf) for hf in host.doctor_checks(context)]
    for e in facts.get("errors") or []:
        add("probe.partial", WARNING, "part of the probe failed: " + e[:200],
            "That part of the environment could not be checked.", "")
    F.sort(key=lambda f: SEVERITY_ORDER[f.severity])
    return Report(target=target, facts=facts, findings=F)
