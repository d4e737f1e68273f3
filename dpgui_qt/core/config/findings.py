"""Findings: what validation reports, with where and what to do."""
from __future__ import annotations

from typing import Any

from dataclasses import dataclass, field

from dpgui_qt.core.config import keypath as kp

ERROR = "error"
WARNING = "warning"


@dataclass
class Finding:
    severity: str  # "error" | "warning"
    path: tuple[Any, ...]  # key path inside ``file``
    message: str  # says what is wrong and what to do
    rule: str  # rule id, e.g. "save_interval_required" or "schema.enum"
    source: str = ""  # diffusion-pipe file:line the rule mirrors
    file: str | None = None
    line: int = 1
    col: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return kp.format(self.path) if self.path else "(file)"

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        return f"{self.file or '<text>'}:{self.line}:{self.col}: {self.severity}: {self.key}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "col": self.col,
            "severity": self.severity,
            "key": self.key,
            "path": list(self.path),
            "message": self.message,
            "rule": self.rule,
            "source": self.source,
        }
