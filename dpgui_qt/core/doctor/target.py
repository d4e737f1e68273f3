"""Which environment the doctor examines and the commands that probe it.

A :class:`Target` is a host (a :class:`~dpgui_qt.core.run.hosts.HostSpec` of any kind the
hosts registry knows), the Python of the training environment, the diffusion-pipe checkout
and the folders outputs go to.
:func:`probe_steps` turns it into :class:`Step` s -- argv, stdin and a timeout --
that the CLI runs with :mod:`subprocess` and the GUI with ``QProcess``; the
results go to :func:`dpgui_qt.core.doctor.checks.analyse`.  Nothing here runs a
process; the host gives the command forms, so they are unit-testable anywhere.
"""
from __future__ import annotations

import configparser
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dpgui_qt.core.doctor.probe import PROBE_SOURCE
from dpgui_qt.core.run import hosts
from dpgui_qt.core.run.hosts import Host, HostError, HostSpec

PROBE_TIMEOUT_S = 120.0


class TargetError(ValueError):
    """A target that cannot be probed (message is user-facing)."""


@dataclass
class Step:
    key: str                  # "env" (the probe) or a key of the host's diagnostic_commands
    argv: list[str]
    stdin: bytes = b""
    timeout_s: float = PROBE_TIMEOUT_S
    label: str = ""


@dataclass
class Target:
    host: HostSpec = field(default_factory=HostSpec)   # where the trainer runs (a kind name is accepted)
    python: str = ""                    # interpreter of the training environment
    checkout: str = ""                  # as the host sees it (a Linux path on a Linux host)
    checkout_host: str = ""             # the same folder as this machine sees it (drift check)
    outputs: list[str] = field(default_factory=list)
    places: list[tuple[str, str]] = field(default_factory=list)   # (label, path): dataset caches
    platform: str | None = None         # sys.platform-style; None = this machine's
    python_source: str = ""             # where the python choice came from (for messages)

    def __post_init__(self) -> None:
        if not isinstance(self.host, HostSpec):
            self.host = HostSpec(check_host(self.host))

    def host_of(self) -> Host:
        """The host this target names."""
        return hosts.make(self.host)

    def describe(self) -> str:
        return f"{self.python or 'python3'} on {self.host_of().describe()}"


def host_choices() -> list[str]:
    """The host kinds the doctor can examine: every kind the hosts registry knows."""
    return hosts.kinds()


def check_host(name: str | None) -> str:
    """A host kind as typed (``--host``) -> the registered kind; TargetError lists them."""
    h = (name or "local").strip().lower()
    if h in ("", "localhost"):
        h = "local"
    known = host_choices()
    if h not in known:
        def what(kind: str) -> str:
            try:
                return f"'{kind}' ({hosts.make(HostSpec(kind)).describe()})"
            except (HostError, ValueError, TypeError, KeyError):    # needs fields to be built
                return f"'{kind}'"
        raise TargetError(f"unknown host {name!r}: dpgui can examine "
                          + ", ".join(what(k) for k in known)
                          + ". Or run 'dpgui doctor' on the machine that trains.")
    return h


def parse_host_fields(items: list[str] | None) -> dict[str, str]:
    """``["distro=Ubuntu", ...]`` (``--host-field``) -> {"distro": "Ubuntu"}."""
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TargetError(f"--host-field {item!r}: write NAME=VALUE, e.g. distro=Ubuntu")
        out[key.strip()] = value.strip()
    return out


def python_of_env(value: str, platform: str | None = None) -> tuple[str, str]:
    """The interpreter for the "Python environment" setting: a venv/conda folder
    (its bin/python), a deepspeed launcher (the interpreter in its ``#!`` line),
    or an interpreter itself.  Returns (python, how it was found)."""
    if not value:
        found = shutil.which("python3") or shutil.which("python") or "python3"
        return found, "python3 on PATH (no Python environment set)"
    p = Path(value).expanduser()
    if p.is_dir():
        for cand in (p / "bin" / "python", p / "bin" / "python3", p / "python.exe",
                     p / "Scripts" / "python.exe"):
            if cand.is_file():
                return str(cand), f"the environment folder {p}"
        return str(p / "bin" / "python"), f"the environment folder {p} (it has no bin/python)"
    if p.is_file():
        try:
            with open(p, "rb") as f:
                head = f.readline(400)
        except OSError:
            head = b""
        if head.startswith(b"#!"):
            parts = head[2:].decode("utf-8", "replace").strip().split()
            if parts and parts[0].endswith("/env") and len(parts) > 1:
                return parts[1], f"the #! line of {p}"
            if parts:
                return parts[0], f"the #! line of {p}"
        return str(p), "the setting"
    return str(p), "the setting (it does not exist here)"


def host_python(host: Host, value: str) -> tuple[str, str]:
    """The interpreter on a host for the environment setting (a path there that this
    machine may not inspect): an interpreter as is, a deepspeed launcher's
    neighbour, else the environment folder's bin/python."""
    if not value:
        return "python3", f"python3 on the PATH of {host.describe()}"
    return host.executable(value, "python"), "the Python environment setting"


def probe_args(target: Target) -> str:
    data: dict[str, Any] = {"checkout": target.checkout, "outputs": list(target.outputs)}
    if target.places:
        data["places"] = [list(p) for p in target.places]
    return json.dumps(data)


def probe_steps(target: Target) -> list[Step]:
    """The commands that examine ``target`` (the probe first)."""
    host = target.host_of()
    python = target.python or "python3"
    argv = [python, "-", probe_args(target)]
    if host.is_this_machine:
        return [Step("env", argv, PROBE_SOURCE.encode(), label=f"probe with {python}")]
    why = host.unavailable_reason(target.platform)
    if why:
        raise TargetError(f"--host {target.host.kind}: {why}")
    steps = [Step("env", host.wrap(argv, {}, target.checkout or "~"), PROBE_SOURCE.encode(),
                  label=f"probe in {host.describe()} with {python}")]
    steps += [Step(key, cmd, b"", 30.0, label=label)
              for key, cmd, label in host.diagnostic_commands()]
    return steps


# --------------------------------------------------------------------------- settings
def settings_file() -> Path:
    override = os.environ.get("DPGUI_CONFIG_DIR")
    if override:
        return Path(override) / "dpgui.ini"
    import platformdirs

    return Path(platformdirs.user_config_dir("dpgui", appauthor=False)) / "dpgui.ini"


_INI_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r", "0": "\0", "a": "\a",
                "b": "\b", "f": "\f", "v": "\v", "'": "'", ";": ";", ",": ",", "=": "="}


def _ini_value(raw: str) -> str:
    r"""A QSettings INI string value: optional double quotes, backslash escapes
    (``\\``, ``\"``, ``\xHHHH``), a leading ``@@`` for a literal ``@``."""
    v = raw.strip()
    out, i, quoted = [], 0, False
    while i < len(v):
        c = v[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and i + 1 < len(v):
            n = v[i + 1]
            if n == "x":
                j = i + 2
                while j < len(v) and j < i + 6 and v[j] in "0123456789abcdefABCDEF":
                    j += 1
                if j > i + 2:
                    out.append(chr(int(v[i + 2:j], 16)))
                    i = j
                    continue
            out.append(_INI_ESCAPES.get(n, n))
            i += 2
            continue
        else:
            out.append(c)
        i += 1
    text = "".join(out)
    return text[1:] if text.startswith("@@") else text


def saved_environment(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The Run page's environment settings (checkout, deepspeed, wsl_distro) from
    dpgui's settings file, read without Qt; missing file or keys give ""."""
    p = Path(path) if path else settings_file()
    cp = configparser.ConfigParser(interpolation=None, strict=False)
    cp.optionxform = str  # type: ignore[assignment, method-assign]  # keys keep their case
    try:
        cp.read(p, encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        return {}
    if not cp.has_section("run"):
        return {}
    return {k: _ini_value(v) for k, v in cp.items("run") if k in ("checkout", "deepspeed", "wsl_distro")}


def saved_host_fields(saved: Mapping[str, str]) -> dict[str, str]:
    """The host fields the saved environment settings hold (the distribution chosen in
    Run ▸ Environment is the ``distro`` field of the hosts that have one)."""
    return {"distro": saved["wsl_distro"]} if saved.get("wsl_distro") else {}


def default_target(*, checkout: str | None = None, python: str | None = None,
                   host: str | HostSpec | None = None,
                   host_fields: Mapping[str, str] | None = None,
                   outputs: list[str] | None = None, platform: str | None = None,
                   saved: dict[str, str] | None = None,
                   environ: Mapping[str, str] | None = None) -> Target:
    """A target from explicit options, falling back to dpgui's saved settings,
    then $DPGUI_DIFFUSION_PIPE / $DPGUI_DEEPSPEED, then ref/diffusion-pipe and python3.

    ``host`` is a kind (``--host``; its fields are ``host_fields``, else the saved
    settings') or a complete :class:`HostSpec`."""
    from dpgui_qt.core.run import preflight as envmod

    environ = os.environ if environ is None else environ
    saved = saved_environment() if saved is None else saved
    if isinstance(host, HostSpec):
        spec = HostSpec(check_host(host.kind), host.fields)
    else:
        fields = saved_host_fields(saved) if host_fields is None else dict(host_fields)
        spec = HostSpec.of(check_host(host), **fields)
    co = checkout or saved.get("checkout") or environ.get(envmod.ENV_CHECKOUT) or ""
    if not co:
        default = envmod.REPO_ROOT / "ref" / "diffusion-pipe"
        co = str(default) if (default / "train.py").is_file() else ""
    if python:
        py, why = python, "--python"
    else:
        env_value = saved.get("deepspeed") or environ.get(envmod.ENV_DEEPSPEED) or ""
        py, why = python_of_env(env_value, platform)
    t = Target(host=spec, python=py, outputs=list(outputs or []),
               platform=platform, python_source=why)
    where = t.host_of()
    if where.is_this_machine:
        t.checkout = str(Path(co).expanduser()) if co else ""
        t.checkout_host = t.checkout
    else:
        t.checkout = where.to_host_path(co) if co else ""
        t.checkout_host = (where.to_local_path(t.checkout) or "") if co else ""
        env_value = saved.get("deepspeed") or environ.get(envmod.ENV_DEEPSPEED) or ""
        if not python:
            t.python, t.python_source = host_python(where, env_value)
    return t
