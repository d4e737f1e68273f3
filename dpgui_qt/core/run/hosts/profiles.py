"""SSH host profiles (Qt-free): ``hosts.json`` in dpgui's settings folder (issue #15).

A profile names a machine to train on: its SSH destination, the diffusion-pipe checkout there,
how to activate its Python environment, and a work folder for what dpgui uploads.  The file is
plain JSON (the GUI and the CLI share it), saved atomically through :mod:`dpgui_qt.core.safeio`;
it never holds a password or a key.

Public API::

    HostProfile(name, destination, checkout, env="", workdir="~/dpgui", python="python3",
                deepspeed="", ssh_config="")
    load_profiles(path=None) -> list[HostProfile]      # [] when the file does not exist
    save_profiles(profiles, path=None)
    get_profile(name, path=None) -> HostProfile | None
    upsert_profile(profile, path=None) / remove_profile(name, path=None) -> bool
    profiles_path() -> Path     # $DPGUI_CONFIG_DIR/hosts.json or the user config folder's

``env``: a venv or conda environment folder on the host (``bin/activate`` is sourced when it
exists, else its ``bin`` goes first on PATH); empty = the login environment.  ``deepspeed``: the
launcher on the host when it is not the environment's (empty = ``<env>/bin/deepspeed`` or
``deepspeed`` on PATH).  ``ssh_config``: an ssh_config file to use instead of ``~/.ssh/config``.
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from dpgui_qt.core.run.hosts.sshtransport import SshError, parse_destination

FILE_NAME = "hosts.json"
FORMAT_VERSION = 1
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ProfileError(ValueError):
    """A profile or the profiles file is not usable (message is user-facing)."""


@dataclass
class HostProfile:
    name: str
    destination: str
    checkout: str
    env: str = ""
    workdir: str = "~/dpgui"
    python: str = "python3"
    deepspeed: str = ""
    ssh_config: str = ""

    def validate(self) -> None:
        if not _NAME_RE.match(self.name or ""):
            raise ProfileError(f"invalid profile name {self.name!r}: letters, digits, '.', '_' "
                               "and '-' (at most 64, starting with a letter or digit)")
        try:
            parse_destination(self.destination)
        except SshError as e:
            raise ProfileError(str(e)) from None
        for label, value in (("checkout", self.checkout), ("work folder", self.workdir)):
            if not value or not (value.startswith("/") or value.startswith("~")):
                raise ProfileError(f"the remote {label} must be an absolute path on the host "
                                   f"(or start with ~): {value!r}")
        if self.env and not (self.env.startswith("/") or self.env.startswith("~")):
            raise ProfileError(f"the environment must be an absolute path on the host: {self.env!r}")
        if not self.python.strip():
            raise ProfileError("the host's Python command is empty")


def profiles_path() -> Path:
    override = os.environ.get("DPGUI_CONFIG_DIR")
    if override:
        return Path(override) / FILE_NAME
    import platformdirs

    return Path(platformdirs.user_config_dir("dpgui", appauthor=False)) / FILE_NAME


def load_profiles(path: str | os.PathLike[str] | None = None) -> list[HostProfile]:
    p = Path(path) if path else profiles_path()
    try:
        raw = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as e:
        raise ProfileError(f"cannot read {p}: {e.strerror or e}") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ProfileError(f"{p} is not valid JSON (line {e.lineno}): fix or remove it") from None
    items = data.get("hosts") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ProfileError(f"{p} has no 'hosts' list")
    known = {f.name for f in fields(HostProfile)}
    out = []
    for item in items:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) for k in ("name", "destination", "checkout")):
            raise ProfileError(f"{p}: every host needs name, destination and checkout strings")
        out.append(HostProfile(**{k: str(v) for k, v in item.items() if k in known}))
    return out


def save_profiles(profiles: list[HostProfile], path: str | os.PathLike[str] | None = None) -> Path:
    from dpgui_qt.core.errors import SaveError
    from dpgui_qt.core.safeio import write_file

    p = Path(path) if path else profiles_path()
    names = [pr.name for pr in profiles]
    if len(set(names)) != len(names):
        raise ProfileError("two host profiles have the same name")
    for pr in profiles:
        pr.validate()
    p.parent.mkdir(parents=True, exist_ok=True)
    data = {"version": FORMAT_VERSION, "hosts": [asdict(pr) for pr in profiles]}
    try:
        write_file(p, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
    except SaveError as e:
        raise ProfileError(str(e)) from None
    return p


def get_profile(name: str, path: str | os.PathLike[str] | None = None) -> HostProfile | None:
    return next((pr for pr in load_profiles(path) if pr.name == name), None)


def upsert_profile(profile: HostProfile, path: str | os.PathLike[str] | None = None) -> None:
    profile.validate()
    items = [pr for pr in load_profiles(path) if pr.name != profile.name]
    items.append(profile)
    save_profiles(items, path)


def remove_profile(name: str, path: str | os.PathLike[str] | None = None) -> bool:
    items = load_profiles(path)
    kept = [pr for pr in items if pr.name != name]
    if len(kept) == len(items):
        return False
    save_profiles(kept, path)
    return True
