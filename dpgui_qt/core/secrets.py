"""Secrets: which names hold one, masking them for display, and a private store.

Shared by everything that shows or stores configuration and environment values (the TOML
and Changes tabs, the settings file, launch previews). Qt-free.

* :func:`is_secret_name` says whether a variable or key name looks like it holds a
  credential (``WANDB_API_KEY``, ``wandb_api_key``, ``HF_TOKEN``, ``..._PASSWORD``).
* :func:`mask_toml_text` hides the values of such keys in TOML text shown on screen; the
  text that is saved is never the masked one.
* :class:`SecretStore` keeps values out of the world-readable settings file: a JSON file
  created with mode 0600 (and forced back to 0600 on every write) next to it.
"""
from __future__ import annotations

from typing import Any

import json
import os
import re
import secrets as _stdlib_secrets
import stat
from pathlib import Path

MASK = "••••••••"

_SECRET_WORDS = re.compile(
    r"(?i)(api[_-]?key|apikey|token|secret|passw(?:or)?d|passphrase|credential|"
    r"private[_-]?key|access[_-]?key|(?:^|[_.-])auth(?:[_.-]|$))")


def is_secret_name(name: str) -> bool:
    """True for names that conventionally hold credentials."""
    return bool(_SECRET_WORDS.search(str(name)))


def mask_value(value: str) -> str:
    """``value`` hidden (an empty value stays empty, so 'not set' remains visible)."""
    return MASK if value else value


def mask_distinct(value: str) -> str:
    """Like :func:`mask_value`, but a long value keeps its last four characters, so that a
    changed key still shows as changed (in a diff) without revealing it."""
    if len(value) >= 16:
        return MASK + value[-4:]
    return mask_value(value)


def mask_env(env: dict[str, str]) -> dict[str, str]:
    return {k: (mask_value(v) if is_secret_name(k) else v) for k, v in env.items()}


# key = "value" / key = 'value', with the key bare or quoted, anywhere on a line (inline
# tables included); the key must contain one of the secret words
_TOML_SECRET = re.compile(
    r"""(?P<key>(?:[A-Za-z0-9_-]+|"[^"\n]*"|'[^'\n]*'))(?P<eq>[ \t]*=[ \t]*)"""
    r"""(?:(?P<q1>")(?P<v1>(?:[^"\\\n]|\\.)*)"|(?P<q2>')(?P<v2>[^'\n]*)')""")


def mask_toml_text(text: str) -> str:
    """``text`` with the string values of secret-named keys replaced by :data:`MASK`."""
    if not _SECRET_WORDS.search(text):
        return text

    def repl(m: re.Match[str]) -> str:
        if not is_secret_name(m.group("key")):
            return m.group(0)
        q = m.group("q1") or m.group("q2")
        value = m.group("v1") if m.group("q1") else m.group("v2")
        return f"{m.group('key')}{m.group('eq')}{q}{mask_distinct(value)}{q}"

    return _TOML_SECRET.sub(repl, text)


class SecretStore:
    """A small JSON object in a file only its owner can read (mode 0600)."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)

    def load(self) -> dict[str, Any]:
        try:
            st = os.stat(self.path)
        except OSError:
            return {}
        if not stat.S_ISREG(st.st_mode) or st.st_size > 1 << 20:
            return {}
        if st.st_mode & 0o077 and hasattr(os, "chmod"):
            try:  # someone loosened it: tighten before reading
                os.chmod(self.path, 0o600)
            except OSError:
                pass
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def save(self, data: dict[str, Any]) -> None:
        """Write atomically; the file is created 0600 and never readable by others."""
        folder = self.path.parent
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{self.path.name}.{_stdlib_secrets.token_hex(4)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0),
                     0o600)
        replaced = False
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fd = -1
                json.dump(data, fh, indent=1, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)  # whatever the umask or the folder's default ACL said
            os.replace(tmp, self.path)
            replaced = True
        finally:
            if fd >= 0:
                os.close(fd)
            if not replaced:
                try:
                    os.unlink(tmp)
                except OSError:
                    pass

    def get(self, key: str, default: Any = None) -> Any:
        return self.load().get(key, default)

    def put(self, key: str, value: Any) -> None:
        data = self.load()
        if value in (None, {}, ""):
            if key not in data:
                if not self.path.exists():
                    return
            data.pop(key, None)
        else:
            data[key] = value
        self.save(data)


def mask(value: object) -> str:
    """A secret value for previews and logs (:func:`mask_distinct` of its text)."""
    return mask_distinct("" if value is None else str(value))
