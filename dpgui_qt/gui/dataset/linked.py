"""Dataset documents linked to a main config.

:class:`DatasetSession` is a :class:`DocumentSession` that is always validated as a
dataset config, model-aware when a main config is open (its ``context`` callable
returns the main config's values). :func:`dataset_references` lists the dataset
files a main config names (``dataset`` and ``eval_datasets[*].config``) resolved
the way diffusion-pipe will: from its checkout when one is known (else next to the
main config). :func:`dataset_template` is the text of a new dataset.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from dpgui_qt.core.config.document import DocKind
from dpgui_qt.gui.session import DocumentSession, trainer_cwd, validation_options


def checkout_dirs() -> list[Path]:
    """The diffusion-pipe checkout, if one is configured (relative paths in a config
    are read from there when training runs); see :func:`session.trainer_cwd`."""
    cwd = trainer_cwd()
    return [cwd] if cwd is not None else []


class DatasetSession(DocumentSession):
    """A dataset TOML. ``context()`` -> ``(model_type, main_values)`` or None."""

    def __init__(self, registry=None, parent=None,
                 context: Callable[[], tuple[Any, ...] | None] | None = None, role: str = "dataset"):
        super().__init__(registry, parent)
        self.context = context
        self.role = role  # "dataset" or "eval dataset 'name'"

    @property
    def kind(self) -> DocKind:
        return DocKind.DATASET

    def validate_now(self) -> list[Any]:
        self._timer.stop()
        if self._warmup is not None and self._warmup.is_alive():
            self._timer.start(30)
            return self.findings
        from dpgui_qt.core.config.validate import Validator

        if self._validator is None:
            self._validator = Validator(self.registry)
        ctx = self.context() if self.context is not None else None
        model_type, main_values = ctx if ctx else (None, None)
        t0 = time.perf_counter()
        try:
            findings = self._validator.validate(
                self.doc, DocKind.DATASET, validation_options(),
                model_type=model_type, main_values=main_values)
        except Exception as exc:  # noqa: BLE001 - a validator bug must not kill editing
            from dpgui_qt.core.config.findings import ERROR, Finding

            findings = [Finding(ERROR, (), f"validation failed inside dpgui: {exc}",
                                "internal", file=str(self.doc.path or "<text>"))]
        self.last_validation_ms = (time.perf_counter() - t0) * 1000
        self.findings = findings
        self.findingsChanged.emit(findings)
        self.validated.emit(self.last_validation_ms)
        return findings


@dataclass
class DatasetRef:
    path: tuple[Any, ...]  # key path in the main config: ("dataset",) or ("eval_datasets", i, "config")
    raw: str  # as written
    file: Path | None  # resolved, None when not found
    label: str  # "dataset" / "eval 'name'"


def dataset_references(main_doc, registry=None) -> list[DatasetRef]:
    """The dataset files ``main_doc`` names, resolved like ``dpgui validate`` does."""
    from dpgui_qt.core.config.schema import default_registry
    from dpgui_qt.core.config.validate import Validator

    v = Validator(registry or default_registry())
    out = []
    for path, found in v.dataset_references(main_doc, validation_options()):
        raw = main_doc.get(path)
        if path == ("dataset",):
            label = "dataset"
        else:
            name = main_doc.get(("eval_datasets", path[1], "name"))
            label = f"eval '{name}'" if isinstance(name, str) and name else f"eval #{path[1] + 1}"
        out.append(DatasetRef(path, raw if isinstance(raw, str) else "",
                              found.resolve() if found is not None else None, label))
    return out


def relative_reference(target: Path, main_path: Path | None) -> str:
    """How the main config should name ``target``: relative to the main config's folder
    when it is inside it, else absolute."""
    target = Path(target).resolve()
    if main_path is not None:
        try:
            return target.relative_to(Path(main_path).resolve().parent).as_posix()
        except ValueError:
            pass
    return str(target)


def dataset_template(image_dir: str | None = None) -> str:
    """A small, valid dataset config: 512 px, AR bucketing on, one directory."""
    from dpgui_qt.core.config.placeholders import IMAGE_DIR_PLACEHOLDER, MARK

    # absolute: diffusion-pipe reads a relative folder from its own working directory
    path = os.path.abspath(os.path.expanduser(image_dir)) if image_dir else IMAGE_DIR_PLACEHOLDER
    quoted = f"'{path}'" if "'" not in path else '"' + path.replace("\\", "\\\\").replace('"', '\\"') + '"'
    mark = "" if image_dir else f"  # {MARK}"
    return f"""\
# Dataset config for diffusion-pipe, written by dpgui.

# Training resolutions: 512 means 512x512 pixels worth of area; the aspect ratio
# comes from the aspect-ratio buckets below.
resolutions = [512]

# Aspect-ratio buckets: non-square images train without heavy cropping.
enable_ar_bucket = true
min_ar = 0.5
max_ar = 2.0
num_ar_buckets = 7

# How many times each image is seen per epoch.
num_repeats = 1

[[directory]]
# Folder with the images and their same-named .txt caption files.
path = {quoted}{mark}
"""


def default_base_dir(session) -> str | None:
    """Folder relative ``[[directory]] path`` values are read from: diffusion-pipe's
    working directory (its checkout) when known, else the dataset file's folder."""
    cwd = trainer_cwd()
    if cwd is not None:
        return str(cwd)
    p = session.doc.path
    return str(p.parent) if p is not None else os.getcwd()
