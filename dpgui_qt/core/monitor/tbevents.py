"""Incremental reader of TensorBoard event files (Qt-free, stdlib only).

diffusion-pipe writes ``events.out.tfevents.*`` straight into the run folder
(``SummaryWriter(log_dir=run_dir)``, train.py): ``train/loss`` and
``train/grad_norm`` every ``logging_steps``, ``<eval name>/loss`` and
``<eval name>/loss_quantile_<q>`` per eval, ``eval/eval_time_sec``,
``train/epoch_loss`` (x = epoch number) and a few optimizer-specific scalars.
The x value is the step, or the number of examples when ``x_axis_examples``
is set. The eval losses never reach the console, so this is the only place
to get them.

Why a self-written reader
-------------------------
The alternatives are ``tensorboard`` (its ``EventAccumulator``; pulls in
``protobuf``, ``grpcio``, ``markdown``, ``werkzeug`` ... ~30-60 MB installed and a
few hundred ms of imports) and ``tbparse`` (needs ``tensorboard`` *and*
``pandas``). All the monitor needs is scalars, and the format is small and
frozen: TFRecord framing plus three protobuf messages. This module is ~300
lines, has no dependency (good for the frozen build), reads files
incrementally by offset -- which ``EventAccumulator`` does not expose -- and
can stop in front of a record that is still being written.

Format
------
TFRecord framing, repeated: ``uint64 length`` (little-endian), ``uint32
masked_crc32c(length bytes)``, ``data[length]``, ``uint32 masked_crc32c(data)``;
``masked = ((crc >> 15 | crc << 17) + 0xa282ead8) mod 2**32`` with CRC-32C
(Castagnoli). ``data`` is a ``tensorflow.Event`` protobuf::

    Event    { double wall_time = 1; int64 step = 2; string file_version = 3;
               Summary summary = 5; ... }
    Summary  { repeated Value value = 1; }
    Value    { string tag = 1; float simple_value = 2; SummaryMetadata metadata = 9;
               TensorProto tensor = 8; (histo = 5, image = 4, audio = 6: skipped) }
    TensorProto { DataType dtype = 1; TensorShapeProto tensor_shape = 2;
                  bytes tensor_content = 4; repeated float float_val = 5;
                  repeated double double_val = 6; repeated int32 int_val = 7;
                  repeated int64 int64_val = 10; repeated int32 half_val = 13; ... }

Scalars come as ``simple_value`` (torch's ``add_scalar`` default) or as a
one-element ``tensor`` (``new_style=True``, TF2 ``tf.summary.scalar``): both are
read; tensors with more than one element (histograms, text, images) are skipped.

CRC: the length CRC is always checked (it guards the framing: a bad one means
the file is damaged there and reading that file stops). The data CRC is
checked too unless ``verify_data=False`` (pure-Python CRC-32C costs ~0.1 µs per
byte; event records are ~50-100 bytes). A record whose data CRC is wrong is
skipped and counted in ``corrupt``.

A partially written last record (the writer is still flushing) is left
alone: the offset stays in front of it and the next ``poll`` reads it once it
is complete.
"""
from __future__ import annotations

import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = ["crc32c", "masked_crc32c", "ScalarRow", "EventFileReader", "EventDirReader", "EventBytesReader",
           "parse_event", "encode_record", "encode_scalar_event", "encode_tensor_scalar_event",
           "EVENT_GLOB", "read_scalars"]

EVENT_GLOB = "events.out.tfevents.*"


# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78
def _make_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _make_table()


def crc32c(data: bytes, crc: int = 0) -> int:
    t = _TABLE
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


# ---------------------------------------------------------------------------
# protobuf wire format (only what Event/Summary/TensorProto need)
def _varint(buf: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, Any]]:
    """(field number, wire type, value): int for varint/fixed, bytes for length-delimited
    (typed Any: which one is said by the wire type, which the callers test)."""
    i, n = 0, len(buf)
    v: int | bytes
    while i < n:
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 2:
            ln, i = _varint(buf, i)
            v = buf[i:i + ln]
            i += ln
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:  # groups (3/4) are not used by these messages
            raise ValueError(f"unsupported wire type {wt}")
        if i > n:
            raise ValueError("truncated message")
        yield fn, wt, v


_DT_FLOAT, _DT_DOUBLE, _DT_INT32, _DT_INT64, _DT_HALF, _DT_BFLOAT16 = 1, 2, 3, 9, 19, 14
_DT_UINT8, _DT_INT16, _DT_INT8, _DT_BOOL = 4, 5, 6, 10


def _packed(v: Any, wt: int, fmt: str, size: int) -> list[Any]:
    if wt == 2:  # packed
        b = bytes(v)
        return list(struct.unpack(f"<{len(b) // size}{fmt}", b[:len(b) // size * size]))
    if wt in (1, 5):
        return [struct.unpack("<" + fmt, v)[0]]
    return [v]


def _varints(v: Any, wt: int) -> list[int]:
    if wt == 0:
        return [v]
    out: list[int] = []
    i, b = 0, bytes(v)
    while i < len(b):
        x, i = _varint(b, i)
        out.append(x)
    return out


def _signed64(x: int) -> int:
    return x - (1 << 64) if x >= 1 << 63 else x


def _half(bits: int) -> float:
    return float(struct.unpack("<e", struct.pack("<H", bits & 0xFFFF))[0])


def _tensor_scalar(buf: bytes) -> float | None:
    """The value of a one-element numeric TensorProto, else None."""
    dtype = _DT_FLOAT
    dims: list[int] = []
    content = b""
    vals: list[float] = []
    for fn, wt, v in _fields(buf):
        if fn == 1 and wt == 0:
            dtype = v
        elif fn == 2 and wt == 2:
            for f2, w2, v2 in _fields(v):
                if f2 == 2 and w2 == 2:  # Dim { int64 size = 1 }
                    size = 1
                    for f3, w3, v3 in _fields(v2):
                        if f3 == 1 and w3 == 0:
                            size = _signed64(v3)
                    dims.append(size)
        elif fn == 4 and wt == 2:
            content = bytes(v)
        elif fn == 5:
            vals += _packed(v, wt, "f", 4)
        elif fn == 6:
            vals += _packed(v, wt, "d", 8)
        elif fn == 13:  # half_val: float16 / bfloat16 bit patterns in int32s
            vals += [_half(x) if dtype == _DT_HALF else
                     struct.unpack("<f", struct.pack("<I", (x & 0xFFFF) << 16))[0]
                     for x in _varints(v, wt)]
        elif fn == 7:  # int_val (negative int32s are sign-extended to 64 bits)
            vals += [_signed64(x) for x in _varints(v, wt)]
        elif fn == 10:
            vals += [_signed64(x) for x in _varints(v, wt)]
        elif fn == 11:
            vals += [float(bool(x)) for x in _varints(v, wt)]
    count = 1
    for d in dims:
        count *= d
    if count != 1:
        return None
    if content:
        fmt = {_DT_FLOAT: "<f", _DT_DOUBLE: "<d", _DT_INT32: "<i", _DT_INT64: "<q",
               _DT_HALF: "<e", _DT_UINT8: "<B", _DT_INT16: "<h", _DT_INT8: "<b",
               _DT_BOOL: "<?"}.get(dtype)
        if dtype == _DT_BFLOAT16 and len(content) >= 2:
            return float(struct.unpack("<f", b"\0\0" + content[:2])[0])
        if fmt is None or len(content) < struct.calcsize(fmt):
            return None
        return float(struct.unpack(fmt, content[:struct.calcsize(fmt)])[0])
    if vals:
        return float(vals[0])
    return None


@dataclass(slots=True)
class ScalarRow:
    tag: str
    step: int
    value: float
    wall_time: float

    def __iter__(self) -> Iterator[Any]:  # (tag, step, value, wall_time), what RunMetrics.feed_scalars takes
        return iter((self.tag, self.step, self.value, self.wall_time))


def parse_event(data: bytes) -> tuple[float, int, list[tuple[str, float]]]:
    """(wall_time, step, [(tag, value), ...]) of one serialized Event (scalars only)."""
    wall, step = 0.0, 0
    values: list[tuple[str, float]] = []
    for fn, wt, v in _fields(data):
        if fn == 1 and wt == 1:
            wall = struct.unpack("<d", v)[0]
        elif fn == 2 and wt == 0:
            step = _signed64(v)
        elif fn == 5 and wt == 2:
            for f2, w2, val in _fields(v):
                if f2 != 1 or w2 != 2:
                    continue
                tag, simple, tensor, plugin = None, None, None, None
                for f3, w3, x in _fields(val):
                    if f3 == 1 and w3 == 2:
                        tag = bytes(x).decode("utf-8", "replace")
                    elif f3 == 2 and w3 == 5:
                        simple = struct.unpack("<f", x)[0]
                    elif f3 == 8 and w3 == 2:
                        tensor = x
                    elif f3 == 9 and w3 == 2:  # SummaryMetadata.plugin_data.plugin_name
                        for f4, w4, pd in _fields(x):
                            if f4 == 1 and w4 == 2:
                                for f5, w5, nm in _fields(pd):
                                    if f5 == 1 and w5 == 2:
                                        plugin = bytes(nm).decode("utf-8", "replace")
                if tag is None:
                    continue
                if simple is not None:
                    values.append((tag, float(simple)))
                elif tensor is not None and plugin in (None, "scalars"):
                    sv = _tensor_scalar(tensor)
                    if sv is not None:
                        values.append((tag, sv))
    return wall, step, values


# ---------------------------------------------------------------------------
class EventFileReader:
    """Reads one event file incrementally; ``offset`` is where the next record starts."""

    def __init__(self, path: str | os.PathLike[str], verify_data: bool = True, offset: int = 0):
        self.path = Path(path)
        self.offset = offset
        self.verify_data = verify_data
        self.records = 0
        self.corrupt = 0
        self.broken: str | None = None   # why reading stopped for good
        self._ino: int | None = None

    def poll(self, max_bytes: int = 8 << 20) -> list[ScalarRow]:
        """Scalars in the records completed since the last call."""
        if self.broken:
            return []
        try:
            with open(self.path, "rb") as f:
                st = os.fstat(f.fileno())
                if (self._ino is not None and st.st_ino != self._ino) or st.st_size < self.offset:
                    self.offset = 0  # replaced or truncated: start over
                self._ino = st.st_ino
                if st.st_size <= self.offset:
                    return []
                f.seek(self.offset)
                buf = f.read(min(max_bytes, st.st_size - self.offset))
        except OSError:
            return []
        out: list[ScalarRow] = []
        i, n = 0, len(buf)
        unpack_from = struct.unpack_from
        while n - i >= 12:
            header = buf[i:i + 8]
            (length,) = unpack_from("<Q", buf, i)
            (hcrc,) = unpack_from("<I", buf, i + 8)
            if masked_crc32c(header) != hcrc:
                self.broken = f"bad length checksum at byte {self.offset + i}"
                break
            end = i + 12 + length + 4
            if end > n:
                if length + 16 > max_bytes:  # one huge record (an image): skip it when complete
                    try:
                        if os.path.getsize(self.path) >= self.offset + i + length + 16:
                            i += length + 16
                            self.records += 1
                            continue
                    except OSError:
                        pass
                break  # partially written (or past this read): next poll
            data = buf[i + 12:i + 12 + length]
            if self.verify_data:
                (dcrc,) = unpack_from("<I", buf, i + 12 + length)
                if masked_crc32c(data) != dcrc:
                    self.corrupt += 1
                    i = end
                    continue
            i = end
            self.records += 1
            try:
                wall, step, values = parse_event(data)
            except (ValueError, IndexError, struct.error):
                self.corrupt += 1
                continue
            for tag, v in values:
                out.append(ScalarRow(tag, step, v, wall))
        self.offset += i
        return out


class EventDirReader:
    """All event files of a run folder, polled incrementally; new files are found
    on every poll. Rows come file by file, oldest file first (TensorBoard names
    files ``events.out.tfevents.<unix time>.<host>...``; a resumed run adds one)."""

    def __init__(self, folder: str | os.PathLike[str], verify_data: bool = True):
        self.folder = Path(folder)
        self.verify_data = verify_data
        self.files: dict[str, EventFileReader] = {}

    @staticmethod
    def _order(name: str) -> tuple[float, str]:
        parts = name.split(".")
        try:
            return float(parts[3]), name
        except (IndexError, ValueError):
            return math.inf, name

    def scan(self) -> list[str]:
        try:
            names = [e.name for e in os.scandir(self.folder)
                     if e.name.startswith("events.out.tfevents.") and e.is_file()]
        except OSError:
            return []
        new = []
        for name in sorted(names, key=self._order):
            if name not in self.files:
                self.files[name] = EventFileReader(self.folder / name, self.verify_data)
                new.append(name)
        return new

    def poll(self) -> list[ScalarRow]:
        self.scan()
        out: list[ScalarRow] = []
        for name in sorted(self.files, key=self._order):
            out += self.files[name].poll()
        return out

    @property
    def corrupt(self) -> int:
        return sum(r.corrupt for r in self.files.values())

    @property
    def problems(self) -> list[str]:
        return [f"{n}: {r.broken}" for n, r in self.files.items() if r.broken]


class EventBytesReader:
    """One event file whose bytes arrive in pieces from elsewhere (a host over SSH):
    ``feed(offset, data)`` takes the bytes read at ``offset`` and returns the scalars of
    the records they complete.  ``received`` is where the next read should start, so
    nothing already read is asked for again; a record cut by a read waits in ``pending``
    until the rest comes."""

    MAX_PENDING = 64 << 20      # one record bigger than this (an image) is dropped

    def __init__(self, verify_data: bool = True):
        self.verify_data = verify_data
        self.received = 0           # bytes of the file received so far
        self.pending = b""          # the start of a record not yet complete
        self.skip = 0               # bytes of an oversized record still to drop
        self.records = 0
        self.corrupt = 0
        self.broken: str | None = None

    def restart(self) -> None:
        """The file was replaced or truncated: read it again from its start."""
        self.received, self.pending, self.skip = 0, b"", 0
        self.broken = None

    def feed(self, offset: int, data: bytes) -> list[ScalarRow]:
        if self.broken or not data:
            return []
        if offset != self.received:
            raise ValueError(f"bytes at {offset}, expected {self.received}")
        self.received += len(data)
        if self.skip:
            dropped = min(self.skip, len(data))
            self.skip -= dropped
            data = data[dropped:]
        buf = self.pending + data
        base = self.received - len(buf)       # file offset of buf[0]
        out: list[ScalarRow] = []
        i, n = 0, len(buf)
        unpack_from = struct.unpack_from
        while n - i >= 12:
            (length,) = unpack_from("<Q", buf, i)
            (hcrc,) = unpack_from("<I", buf, i + 8)
            if masked_crc32c(buf[i:i + 8]) != hcrc:
                self.broken = f"bad length checksum at byte {base + i}"
                self.pending = b""
                return out
            end = i + 12 + length + 4
            if end > n:
                if length + 16 > self.MAX_PENDING:
                    self.skip = end - n
                    self.records += 1
                    i = n
                break
            data_ = buf[i + 12:i + 12 + length]
            i = end
            if self.verify_data:
                (dcrc,) = unpack_from("<I", buf, end - 4)
                if masked_crc32c(data_) != dcrc:
                    self.corrupt += 1
                    continue
            self.records += 1
            try:
                wall, step, values = parse_event(data_)
            except (ValueError, IndexError, struct.error):
                self.corrupt += 1
                continue
            for tag, v in values:
                out.append(ScalarRow(tag, step, v, wall))
        self.pending = buf[i:]
        return out


def read_scalars(folder_or_file: str | os.PathLike[str]) -> list[ScalarRow]:
    """Everything in a run folder's event files (or in one event file)."""
    p = Path(folder_or_file)
    if p.is_file():
        return EventFileReader(p).poll(max_bytes=1 << 62)
    r = EventDirReader(p)
    out: list[ScalarRow] = []
    while True:
        rows = r.poll()
        if not rows:
            return out
        out += rows


# ---------------------------------------------------------------------------
# a minimal writer (tests, demos and bug reports; diffusion-pipe uses torch's)
def _enc_varint(x: int) -> bytes:
    x &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = x & 0x7F
        x >>= 7
        if x:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _enc_field(fn: int, wt: int, payload: bytes) -> bytes:
    key = _enc_varint(fn << 3 | wt)
    if wt == 2:
        return key + _enc_varint(len(payload)) + payload
    return key + payload


def encode_record(data: bytes) -> bytes:
    """TFRecord framing with masked CRC-32C checksums."""
    header = struct.pack("<Q", len(data))
    return (header + struct.pack("<I", masked_crc32c(header)) + data
            + struct.pack("<I", masked_crc32c(data)))


def _event(wall: float, step: int, summary: bytes | None = None, file_version: str | None = None) -> bytes:
    out = _enc_field(1, 1, struct.pack("<d", wall)) + _enc_field(2, 0, _enc_varint(step))
    if file_version is not None:
        out += _enc_field(3, 2, file_version.encode())
    if summary is not None:
        out += _enc_field(5, 2, summary)
    return out


def encode_file_version(wall: float = 0.0) -> bytes:
    return encode_record(_event(wall, 0, file_version="brain.Event:2"))


def encode_scalar_event(tag: str, value: float, step: int, wall: float = 0.0) -> bytes:
    """One ``simple_value`` scalar, framed (torch ``add_scalar``'s default form)."""
    val = _enc_field(1, 2, tag.encode()) + _enc_field(2, 5, struct.pack("<f", value))
    return encode_record(_event(wall, step, _enc_field(1, 2, val)))


def encode_tensor_scalar_event(tag: str, value: float, step: int, wall: float = 0.0,
                               dtype: str = "float") -> bytes:
    """One scalar as a rank-0 tensor with ``scalars`` plugin metadata (new-style)."""
    if dtype == "float":
        tensor = _enc_field(1, 0, _enc_varint(_DT_FLOAT)) + _enc_field(2, 2, b"") \
            + _enc_field(5, 2, struct.pack("<f", value))
    elif dtype == "double_content":
        tensor = _enc_field(1, 0, _enc_varint(_DT_DOUBLE)) + _enc_field(2, 2, b"") \
            + _enc_field(4, 2, struct.pack("<d", value))
    elif dtype == "int64":
        tensor = _enc_field(1, 0, _enc_varint(_DT_INT64)) + _enc_field(2, 2, b"") \
            + _enc_field(10, 2, _enc_varint(int(value)))
    else:
        raise ValueError(dtype)
    plugin = _enc_field(1, 2, _enc_field(1, 2, b"scalars"))
    val = _enc_field(1, 2, tag.encode()) + _enc_field(9, 2, plugin) + _enc_field(8, 2, tensor)
    return encode_record(_event(wall, step, _enc_field(1, 2, val)))
