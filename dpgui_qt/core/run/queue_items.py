"""Turning configs into run-queue items (Qt-free; used by ``dpgui queue add`` and the GUI).

Each item carries the command exactly as ``dpgui launch`` builds it
(:class:`spec.RunSpec` -> argv/env/cwd) for a snapshot of the main config
taken now, in ``<queue>/configs/<id>/``, after the launch gate
(:func:`gate.run_gate`) has checked it: errors refuse the item unless forced.
The gate runs when the run is queued; the detached runner only starts it.  A sweep writes one variant per value
of one key, each with its own ``output_dir`` (``<output_dir>/<config stem>-<key>-<value>``),
with dpgui's comment-preserving document so everything else stays as written.
"""
from __future__ import annotations

from typing import Any

import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dpgui_qt.core.run import preflight as envmod
from dpgui_qt.core.run.runqueue import RunQueue
from dpgui_qt.core.run.spec import RunSpec, SpecError

__all__ = ["QueueSetupError", "Prepared", "prepare_items", "sweep_dir_name"]


class QueueSetupError(ValueError):
    """A config cannot be queued (message is user-facing)."""


@dataclass
class Prepared:
    items: list[dict[str, Any]] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)     # pre-flight findings of every variant


def sweep_dir_name(stem: str, key: str, raw_value: str) -> str:
    v = re.sub(r"[^A-Za-z0-9._-]+", "_", raw_value.strip().strip("'\"")).strip("_") or "x"
    k = re.sub(r"[^A-Za-z0-9._-]+", "_", key)
    return f"{stem}-{k}-{v}"


def prepare_items(config: str | os.PathLike[str], queue: RunQueue, *, checkout: str | None = None,
                  deepspeed: str | None = None,
                  gpus: int | list[int] | None = 1, sweep_key: str | None = None,
                  sweep_values: list[str] | None = None, force: bool = False,
                  spec_options: dict[str, Any] | None = None) -> Prepared:
    """Snapshot ``config`` (or its sweep variants) into the queue folder and build
    each item's command.  Raises QueueSetupError; pre-flight errors too unless
    ``force``."""
    from dpgui_qt.core.config import keypath as kp
    from dpgui_qt.core.config.document import ConfigDocument, DocumentError, RawValue

    src = Path(config).resolve()
    try:
        envmod.load_config(src)
        co = envmod.find_checkout(checkout)
        ds = envmod.find_deepspeed(deepspeed)
    except envmod.SetupError as e:
        raise QueueSetupError(str(e)) from None
    variants: list[tuple[str, str | None]] = [(src.stem, None)]
    if sweep_key:
        if not sweep_values:
            raise QueueSetupError("a sweep needs at least one value")
        try:
            kp.parse(sweep_key)
        except kp.KeyPathError as e:
            raise QueueSetupError(f"sweep key {sweep_key!r}: {e}") from None
        variants = [(f"{src.stem} {sweep_key}={v}", v) for v in sweep_values]
    out = Prepared()
    made: list[Path] = []
    try:
        for label, value in variants:
            iid = queue.new_id()
            folder = queue.dir / "configs" / iid
            folder.mkdir(parents=True, exist_ok=True)
            made.append(folder)
            target = folder / src.name
            if value is None:
                shutil.copyfile(src, target)
            else:
                try:
                    doc = ConfigDocument.load(src)
                    assert sweep_key is not None  # a value comes with its key
                    doc.set(kp.parse(sweep_key), RawValue(value))
                    values0 = envmod.load_config(src)
                    base_out = values0.get("output_dir")
                    if not isinstance(base_out, str):
                        raise QueueSetupError(f"{src} has no output_dir to put the sweep's runs in")
                    sub = sweep_dir_name(src.stem, sweep_key, value)
                    doc.set(("output_dir",), base_out.rstrip("/\\") + "/" + sub)
                    doc.save(target)
                except DocumentError as e:
                    raise QueueSetupError(f"{sweep_key}={value}: {e}") from None
            values = envmod.load_config(target)
            spec = RunSpec(config=str(target), checkout=str(co) if co else None, deepspeed=ds,
                           gpus=gpus, **(spec_options or {}))
            try:
                cmd = spec.command()
            except SpecError as e:
                raise QueueSetupError(str(e)) from None
            # the launch gate, as for every start: the snapshot, its dataset files, the environment
            from dpgui_qt.core.run.gate import run_gate
            findings = run_gate(spec).findings
            out.findings += [(label, f) for f in findings]
            if envmod.has_errors(findings) and not force:
                msgs = "; ".join(f.message for f in findings if f.is_error)
                raise QueueSetupError(f"{label}: the launch gate found errors: {msgs} "
                                      "(queue anyway with --force)")
            out.items.append({
                "id": iid, "label": label, "config": str(target), "source_config": str(src),
                "argv": cmd.argv, "env": cmd.env, "cwd": cmd.cwd,
                "host": cmd.host.spec.to_dict(),
                "output_dir": envmod.output_dir_on_host(spec, values),
                "sweep": {"key": sweep_key, "value": value} if value is not None else None,
            })
    except BaseException:
        for f in made:
            shutil.rmtree(f, ignore_errors=True)
        raise
    return out
