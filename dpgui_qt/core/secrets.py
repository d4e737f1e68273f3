"""Which values are secrets, and how to show one without revealing it (Qt-free).

Used wherever dpgui prints or shows an environment or a setting: command
previews, ``dpgui launch`` output, the run state.  The rule is by name, as
most tools do it: a variable whose name contains KEY, TOKEN, SECRET, PASSWORD,
PASSWD, CREDENTIAL(S) or AUTH (``WANDB_API_KEY``, ``HF_TOKEN``,
``AWS_SECRET_ACCESS_KEY``) holds a secret.
"""
from __future__ import annotations

import re

__all__ = ["is_secret_name", "mask", "MASK"]

MASK = "****"

# words, matched at name-part boundaries (so MONKEY / KEYBOARD_LAYOUT are not secrets)
_SECRET_RX = re.compile(
    r"(?:^|[_\-.])(?:API_?KEY|KEY|KEYS|TOKEN|TOKENS|SECRET|SECRETS|PASSWORD|PASSWD|PASS|PWD"
    r"|CREDENTIAL|CREDENTIALS|AUTH|PRIVATE_KEY|ACCESS_KEY)(?:$|[_\-.])",
    re.IGNORECASE)
_NOT_SECRET = {"PWD", "OLDPWD"}   # the shell's working directory, not a password


def is_secret_name(name: str) -> bool:
    """Does a variable or key of this name hold a secret?"""
    n = str(name).strip()
    if not n or n.upper() in _NOT_SECRET:
        return False
    return _SECRET_RX.search(n) is not None


def mask(value: object) -> str:
    """A secret shown as ``****`` plus, for long values, its last 4 characters
    (enough to tell two keys apart, far too little to use one)."""
    s = "" if value is None else str(value)
    if not s:
        return ""
    return MASK + s[-4:] if len(s) >= 16 else MASK
