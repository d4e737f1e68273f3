"""The train.py switches dpgui can pass, declared once.

Each :class:`Switch` row says everything the three places that show or use a
switch need:

* ``dpgui launch`` adds one argparse option per row (:meth:`Switch.cli_flags`,
  ``help``, ``metavar``);
* :class:`~dpgui_qt.core.run.spec.RunSpec` keeps the chosen values in
  ``RunSpec.switches`` (keyed by :attr:`Switch.name`) and appends the train.py
  arguments in table order (:func:`train_args`);
* the Run page makes a check box (``kind == "bool"``) or a folder field
  (``kind == "path"``) per row, labelled ``label``, with ``help`` as tooltip.

The help texts follow diffusion-pipe's train.py.  ``--resume_from_checkpoint``
and ``--master_port`` are not rows: the first is chosen from the run folders
(and always passed by name), the second is shared with the DeepSpeed launcher.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Iterable, Mapping

__all__ = ["Switch", "TRAIN_SWITCHES", "switch", "by_name", "train_args",
           "check_values", "ends_early", "argv_ends_early"]



@dataclass(frozen=True)
class Switch:
    name: str                # train.py's flag without "--"; the key in RunSpec.switches
    label: str               # the Run page's check box / field label
    help: str                # CLI help and Run page tooltip
    kind: str = "bool"       # "bool": a bare flag; "path": a flag followed by a path
    metavar: str = "DIR"     # kind "path": what the CLI help calls the value
    ends_early: bool = False  # the trainer stops before training on purpose: exit 0 = done

    @property
    def train_flag(self) -> str:
        """The flag as train.py reads it: ``--cache_only``."""
        return "--" + self.name

    @property
    def cli_flags(self) -> tuple[str, ...]:
        """``dpgui launch`` spellings: the dashed form first, then train.py's own."""
        dashed = "--" + self.name.replace("_", "-")
        return (dashed, self.train_flag) if dashed != self.train_flag else (dashed,)

    @property
    def default(self) -> bool | None:
        return False if self.kind == "bool" else None

    def is_set(self, value: object) -> bool:
        if self.kind == "bool":
            return bool(value)
        return value not in (None, "")

    def tooltip(self) -> str:
        arg = f" {self.metavar}" if self.kind == "path" else ""
        return f"{self.train_flag}{arg}: {self.help}"


TRAIN_SWITCHES: tuple[Switch, ...] = (
    Switch("reset_dataloader", "Reset data loader",
           "When resuming, restart the data order from the start of the saved epoch."),
    Switch("reset_optimizer", "Reset optimizer",
           "When resuming, do not load the optimizer and LR-scheduler state."),
    Switch("reset_optimizer_params", "Reset optimizer params",
           "When resuming, load the optimizer state but take lr etc. from the current config."),
    Switch("regenerate_cache", "Regenerate cache",
           "Rebuild the latent and text-embedding caches from scratch."),
    Switch("cache_only", "Cache only",
           "Run only the caching phase, then exit (counts as finished when it exits cleanly).",
           ends_early=True),
    Switch("trust_cache", "Trust cache",
           "Reuse cached metadata without re-checking file fingerprints (faster start; misses "
           "changed files)."),
    Switch("i_know_what_i_am_doing", "I know what I am doing",
           "Skip diffusion-pipe's dataset sanity checks (more than 3 resolutions, Cosmos sizes)."),
    Switch("dump_dataset", "Dump dataset",
           "Write the processed dataset into this folder and exit.", kind="path",
           ends_early=True),
)


def by_name() -> dict[str, Switch]:
    return {s.name: s for s in TRAIN_SWITCHES}


def switch(name: str) -> Switch:
    """The row for ``name`` (KeyError for a switch dpgui does not know)."""
    return by_name()[name]


def check_values(values: Mapping[str, object]) -> list[str]:
    """Problems with a ``{name: value}`` mapping (unknown names, wrong value types),
    as user-facing sentences; [] when it is fine."""
    table = by_name()
    problems = []
    for name, value in values.items():
        sw = table.get(name)
        if sw is None:
            problems.append(f"unknown train.py switch: {name!r}")
        elif sw.kind == "bool" and not isinstance(value, bool):
            problems.append(f"--{name} is on or off, not {value!r}")
        elif sw.kind == "path" and value is not None and not isinstance(value, (str, os.PathLike)):
            problems.append(f"--{name} takes a folder, not {value!r}")
    return problems


def train_args(values: Mapping[str, object],
               path: Callable[[str | os.PathLike[str]], str]) -> list[str]:
    """train.py arguments for the switches set in ``values``, in table order;
    ``path`` turns a path value into the trainer's spelling."""
    args: list[str] = []
    for sw in TRAIN_SWITCHES:
        value = values.get(sw.name, sw.default)
        if not sw.is_set(value):
            continue
        args.append(sw.train_flag)
        if sw.kind == "path":
            args.append(path(value))  # type: ignore[arg-type]
    return args


def ends_early(values: Mapping[str, object]) -> bool:
    """Is a switch set that makes the trainer stop before training on purpose
    (``--cache_only``, ``--dump_dataset``)?  Then exit status 0 means done."""
    return any(sw.ends_early and sw.is_set(values.get(sw.name, sw.default))
               for sw in TRAIN_SWITCHES)


def argv_ends_early(argv: Iterable[object]) -> bool:
    """:func:`ends_early` for a recorded command line (a run's ``state.json`` argv,
    plain or wrapped for WSL, where a word may carry a shell quote)."""
    flags = tuple(sw.train_flag for sw in TRAIN_SWITCHES if sw.ends_early)
    quoted = tuple("'" + f for f in flags)
    return any(a in flags or str(a).startswith(quoted) for a in argv)
