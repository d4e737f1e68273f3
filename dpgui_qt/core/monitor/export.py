"""Hand a saved LoRA to ComfyUI (Qt-free): a readable name, copy or link, run
settings in the copy's safetensors metadata.  The original file is never
written to.

The safetensors format: 8 bytes little-endian header length N, then N bytes of
JSON (``{"__metadata__": {str: str}, "<tensor>": {"dtype", "shape",
"data_offsets": [begin, end]}}`` with offsets relative to the end of the
header), then the tensor data.  Offsets do not depend on the header length, so
metadata can be changed by writing a new header and copying the data bytes as
they are.  The header may be padded with spaces (the reference writer pads to
a multiple of 8); metadata values must be strings.
"""
from __future__ import annotations

from typing import Any

import json
import os
import re
import shutil
import struct
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

__all__ = ["SafetensorsError", "read_header", "write_with_metadata", "export_name",
           "run_metadata", "export_lora", "ExportResult", "MAX_HEADER"]

MAX_HEADER = 100 << 20        # the reference implementation refuses larger headers
_CHUNK = 16 << 20


class SafetensorsError(ValueError):
    """The file is not a readable safetensors file (message is user-facing)."""


def read_header(path: str | os.PathLike[str]) -> tuple[dict[str, Any], int]:
    """(header JSON, offset of the data section)."""
    if not os.path.isfile(path):
        raise SafetensorsError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            raw = f.read(8)
            if len(raw) < 8:
                raise SafetensorsError(f"{path}: too short to be a safetensors file")
            (n,) = struct.unpack("<Q", raw)
            if n > MAX_HEADER:
                raise SafetensorsError(f"{path}: header length {n} is implausible; not a "
                                       "safetensors file")
            text = f.read(n)
    except OSError as e:
        raise SafetensorsError(f"{path}: {e.strerror or e}") from e
    if len(text) < n:
        raise SafetensorsError(f"{path}: truncated header")
    try:
        header = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from e
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header, 8 + n


def _encode_header(header: dict[str, Any]) -> bytes:
    data = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    data += b" " * (-len(data) % 8)
    return struct.pack("<Q", len(data)) + data


def write_with_metadata(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                        metadata: dict[str, str]) -> dict[str, Any]:
    """Copy ``src`` to ``dst`` (atomically) with ``metadata`` merged into its
    ``__metadata__``.  Returns the new header."""
    header, data_start = read_header(src)
    meta = dict(header.get("__metadata__") or {})
    meta.update({str(k): str(v) for k, v in metadata.items()})
    header = {"__metadata__": meta, **{k: v for k, v in header.items() if k != "__metadata__"}}
    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(prefix="." + dst.name + ".", suffix=".part", dir=dst.parent)
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as f:
            out.write(_encode_header(header))
            f.seek(data_start)
            while chunk := f.read(_CHUNK):
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dst)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return header


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def export_name(run_name: str, model_type: str | None, number: int, kind: str = "epoch") -> str:
    """``<run>-<model>-e<N>.safetensors`` (``-s<N>`` for a step save), file-system safe."""
    tag = ("e" if kind == "epoch" else "s") + str(number)
    parts = [run_name, model_type or "model", tag]
    return "-".join(_SAFE.sub("_", p).strip("_") or "x" for p in parts) + ".safetensors"


def run_metadata(config_path: Path | None, run_name: str, save_name: str) -> dict[str, str]:
    """Key settings of a run for the safetensors metadata (kohya-style ``ss_`` keys that
    ComfyUI and LoRA managers show, plus ``dpgui_`` keys)."""
    meta = {"dpgui_run": run_name, "dpgui_save": save_name}
    data: dict[str, Any] = {}
    if config_path is not None:
        try:
            with open(config_path, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
            data = {}
    def table(name: str) -> dict[str, Any]:
        v = data.get(name)
        return v if isinstance(v, dict) else {}

    model, adapter, opt = table("model"), table("adapter"), table("optimizer")
    pairs = {
        "ss_base_model_version": model.get("type"),
        "ss_network_module": adapter.get("type"),
        "ss_network_dim": adapter.get("rank"),
        "ss_learning_rate": opt.get("lr"),
        "ss_optimizer": opt.get("type"),
        "ss_num_epochs": data.get("epochs"),
        "ss_training_comment": "trained with diffusion-pipe",
        "dpgui_dtype": model.get("dtype"),
        "dpgui_adapter_dtype": adapter.get("dtype"),
        "dpgui_micro_batch_size_per_gpu": data.get("micro_batch_size_per_gpu"),
        "dpgui_gradient_accumulation_steps": data.get("gradient_accumulation_steps"),
    }
    for k, v in pairs.items():
        if v is not None and not isinstance(v, (dict, list)):
            meta[k] = str(v)
    if config_path is not None:
        try:
            meta["dpgui_config"] = Path(config_path).read_text(encoding="utf-8", errors="replace")
        except OSError:
            pass
    return meta


@dataclass
class ExportResult:
    path: Path
    mode: str            # copy | hardlink | symlink
    metadata_written: bool
    note: str = ""


def export_lora(weights: str | os.PathLike[str], dest_dir: str | os.PathLike[str], name: str,
                mode: str = "copy", metadata: dict[str, str] | None = None,
                overwrite: bool = False) -> ExportResult:
    """Put ``weights`` into ``dest_dir`` as ``name``.

    ``copy`` writes a new file with ``metadata`` in its header; ``link`` makes a
    hard link (falling back to a symbolic link across devices) and cannot
    carry metadata, since the linked file *is* the original.  Raises
    FileExistsError when the target exists and not ``overwrite``."""
    src = Path(weights)
    dest_dir = Path(dest_dir)
    if not dest_dir.is_dir():
        raise FileNotFoundError(f"the ComfyUI loras folder {dest_dir} does not exist")
    dst = dest_dir / name
    if os.path.lexists(dst):
        try:
            same = dst.resolve() == src.resolve() or os.path.samefile(dst, src)
        except OSError:
            same = False
        if not overwrite and not same:
            raise FileExistsError(f"{dst} exists")
    if mode == "copy":
        if metadata:
            try:
                write_with_metadata(src, dst, metadata)
                return ExportResult(dst, "copy", True)
            except SafetensorsError as e:
                note = f"metadata not written: {e}"
        else:
            note = ""
        fd, tmp = tempfile.mkstemp(prefix="." + dst.name + ".", suffix=".part", dir=dest_dir)
        os.close(fd)
        try:
            shutil.copyfile(src, tmp)
            os.replace(tmp, dst)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        return ExportResult(dst, "copy", False, note)
    if mode != "link":
        raise ValueError(f"mode must be 'copy' or 'link', not {mode!r}")
    if os.path.lexists(dst):
        try:
            if os.path.samefile(dst, src):
                return ExportResult(dst, "hardlink" if not dst.is_symlink() else "symlink", False,
                                    "already exported")
        except OSError:
            pass
        dst.unlink()
    try:
        os.link(src, dst)
        return ExportResult(dst, "hardlink", False, "a link shares the original file, so no "
                            "metadata was added")
    except OSError:
        os.symlink(os.path.abspath(src), dst)
        return ExportResult(dst, "symlink", False, "a link shares the original file, so no "
                            "metadata was added")
