"""Reading diffusion-pipe's source: which config keys its code reads and which types it
dispatches on.

:func:`extract` parses the checkout's Python files with :mod:`ast` (nothing is imported or
executed) and returns an :class:`Extraction`: the ``[model]``/``[adapter]``/``[optimizer]``
``type`` strings ``train.py`` dispatches on (with the module and class handling each), the
keys read per table, and per model type for ``[model]``. No schema is involved here.

The code is read through :mod:`.codemodel`, whose docstring lists the heuristics.
"""
from __future__ import annotations

import os
from typing import Any

from dataclasses import dataclass
from pathlib import Path

from dpgui_qt.core.audit.checkout import NotACheckout
from dpgui_qt.core.audit.codemodel import DISPATCH_TABLES, DispatchType, Program, Read

# --------------------------------------------------------------------------- extraction


@dataclass
class Extraction:
    """What the code says, without schemas."""

    checkout: str
    commit: str | None
    dispatch: dict[str, dict[str, DispatchType]]  # table -> type -> info
    table_reads: dict[str, dict[str, list[str]]]  # table -> key -> sources
    model_type_keys: dict[str, dict[str, dict[str, list[str]]]]  # type -> table -> key -> sources
    common_model_reads: dict[str, dict[str, list[str]]]  # table (model...) -> key -> sources
    passthrough: set[str]
    optimizer_ctor_keys: dict[str, dict[str, Any]]  # type -> {"keys": [...], "open": bool, "source": str}
    parse_errors: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "checkout": self.checkout,
            "commit": self.commit,
            "dispatch": {t: {n: d.to_json() for n, d in v.items()} for t, v in self.dispatch.items()},
            "tables": {t: sorted(v) for t, v in sorted(self.table_reads.items())},
            "model_type_keys": {
                t: {tab: sorted(keys) for tab, keys in v.items()} for t, v in self.model_type_keys.items()
            },
            "passthrough_tables": sorted(self.passthrough),
            "optimizer_constructor_keys": self.optimizer_ctor_keys,
        }


def _git_commit(root: Path) -> str | None:
    git = root / ".git"
    try:
        if git.is_file():  # worktree / submodule: "gitdir: <path>"
            text = git.read_text().strip()
            if text.startswith("gitdir:"):
                git = (root / text.split(":", 1)[1].strip()).resolve()
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref:"):
            return head
        ref = head.split(":", 1)[1].strip()
        for base in (git, git.parent.parent if git.parent.name == "worktrees" else git):
            p = base / ref
            if p.exists():
                return p.read_text().strip()
        packed = git / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0]
    except OSError:
        return None
    return None


def _check_checkout(checkout_dir: str | os.PathLike[str]) -> Path:
    root = Path(checkout_dir).expanduser()
    if not (root / "train.py").is_file():
        raise NotACheckout(
            f"{root} is not a diffusion-pipe checkout: it has no train.py "
            "(clone https://github.com/tdrussell/diffusion-pipe and pass its folder)"
        )
    return root


Sources = dict[str, list[str]]  # key -> diffusion-pipe file:line where it is read


def _add_source(into: dict[str, Sources], table: str, read: Read) -> None:
    src = into.setdefault(table, {}).setdefault(read.key, [])
    if read.source not in src:
        src.append(read.source)


def _dispatch(prog: Program) -> dict[str, dict[str, DispatchType]]:
    """table -> dispatched type -> where (rule 7)."""
    dispatch: dict[str, dict[str, DispatchType]] = {t: {} for t in DISPATCH_TABLES}
    for d in prog.dispatch():
        if d.table == "model" and d.source.split(":")[0] != "train.py":
            continue  # the model type is chosen in train.py only
        cur = dispatch[d.table].get(d.name)
        # several chains may test the same type (train.py tests 'genericoptim' twice):
        # keep the branch that names an implementation, else the first one
        if cur is None or (cur.module is None and d.module is not None):
            dispatch[d.table][d.name] = d
    return dispatch


def _model_reads(prog: Program, models: dict[str, DispatchType], reads: list[Read]
                 ) -> tuple[dict[str, dict[str, Sources]], dict[str, Sources]]:
    """``[model]`` reads per model type, and the common ones no model class reaches (rule 8)."""
    reach: dict[str, set[int]] = {}
    for name, d in models.items():
        mod = prog.modules.get(d.module or "")
        if mod is None or d.cls is None or d.cls not in mod.classes:
            continue
        reach[name] = prog.reachable_from_class(mod.classes[d.cls])
    any_model = set().union(*reach.values()) if reach else set()
    per_type: dict[str, dict[str, Sources]] = {n: {} for n in reach}
    common: dict[str, Sources] = {}
    for r in reads:
        if not (r.table == "model" or r.table.startswith("model.")):
            continue
        if r.unit in any_model:
            for name, units in reach.items():
                if r.unit in units:
                    _add_source(per_type[name], r.table, r)
        else:
            _add_source(common, r.table, r)
    return per_type, common


def _optimizer_constructors(prog: Program, optimizers: dict[str, DispatchType],
                            set_by_code: set[str]) -> dict[str, dict[str, Any]]:
    """Keyword parameters of the optimizer classes implemented in the checkout (rule 9)."""
    ctor: dict[str, dict[str, Any]] = {}
    for name, d in optimizers.items():
        if not d.module or not d.cls:
            continue
        mod = prog.modules.get(d.module)
        if mod is None or d.cls not in mod.classes:
            continue
        init = prog.constructor(mod.classes[d.cls])
        if init is None:
            continue
        pos = init.params[: len(init.params) - len(init.node.args.kwonlyargs)]  # type: ignore[attr-defined]
        keys = pos[1:] + init.params[len(pos):]  # first positional is the parameter list
        ctor[name] = {
            "keys": sorted(k for k in keys if k not in set_by_code),
            "set_by_diffusion_pipe": sorted(k for k in keys if k in set_by_code),
            "open": init.kwarg,  # **kwargs: forwards unknown keys to a base class
            "source": f"{init.module.rel}:{init.node.lineno}",  # type: ignore[attr-defined]  # a def
        }
    return ctor


def extract(checkout_dir: str | os.PathLike[str]) -> Extraction:
    """Read the config surface of a checkout (no schemas involved)."""
    root = _check_checkout(checkout_dir)
    prog = Program(root)
    reads, wholesale, stored = prog.collect_reads()
    dispatch = _dispatch(prog)

    reads.sort(key=lambda r: (r.file != "train.py", r.file, r.line))
    table_reads: dict[str, Sources] = {}
    for r in reads:
        _add_source(table_reads, r.table, r)
    model_type_keys, common = _model_reads(prog, dispatch["model"], reads)
    set_by_code = stored.get("optimizer", set()) - set(table_reads.get("optimizer", {}))

    return Extraction(
        checkout=str(root),
        commit=_git_commit(root),
        dispatch=dispatch,
        table_reads=table_reads,
        model_type_keys=model_type_keys,
        common_model_reads=common,
        # only tables count (a label with keyed reads, or a known table); dict-valued
        # scalars such as micro_batch_size_per_gpu are not config tables
        passthrough={t for t in wholesale
                     if t in table_reads or t in ("main", "model", "adapter", "optimizer",
                                                  "monitoring", "dataset", "directory")},
        optimizer_ctor_keys=_optimizer_constructors(prog, dispatch["optimizer"], set_by_code),
        parse_errors=prog.parse_errors,
    )


def known_model_types(checkout_dir: str | os.PathLike[str]) -> dict[str, str | None]:
    """``[model] type`` strings ``train.py`` dispatches on, in dispatch order, mapped to the
    module that implements each (``models/flux.py``; ``None`` if it cannot be told).

    The GUI uses this to offer types that have no schema yet (with a generic key/value
    editor) instead of hiding them. Raises :class:`NotACheckout` without a ``train.py``.
    """
    root = _check_checkout(checkout_dir)
    prog = Program(root)
    out: dict[str, str | None] = {}
    for d in prog.dispatch():
        if d.table == "model" and d.source.startswith("train.py:"):
            out.setdefault(d.name, d.module)
    return out
