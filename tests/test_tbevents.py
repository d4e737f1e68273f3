"""TensorBoard event reader: CRC-32C, framing, simple and tensor scalars, incremental reads."""
from __future__ import annotations

import struct

import pytest

from dpgui_qt.core.monitor import tbevents as tb


def test_crc32c_known_vectors():
    assert tb.crc32c(b"") == 0
    assert tb.crc32c(b"123456789") == 0xE3069283           # the standard check value
    assert tb.crc32c(bytes(32)) == 0x8A9136AA                # RFC 3720 B.4
    assert tb.crc32c(b"\xff" * 32) == 0x62A8AB43
    assert tb.crc32c(bytes(range(32))) == 0x46DD794E
    # masking as TensorFlow defines it
    c = tb.crc32c(b"abc")
    assert tb.masked_crc32c(b"abc") == ((((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF)


def test_record_framing_checksums():
    rec = tb.encode_record(b"hello")
    assert struct.unpack("<Q", rec[:8])[0] == 5
    assert struct.unpack("<I", rec[8:12])[0] == tb.masked_crc32c(rec[:8])
    assert rec[12:17] == b"hello"
    assert struct.unpack("<I", rec[17:21])[0] == tb.masked_crc32c(b"hello")


def _write(path, *chunks):
    with open(path, "ab") as f:
        for c in chunks:
            f.write(c)


def test_scalars_simple_and_tensor(tmp_path):
    p = tmp_path / "events.out.tfevents.1700000000.host.123.0"
    _write(p, tb.encode_file_version(1.0),
           tb.encode_scalar_event("train/loss", 0.25, 1, 10.0),
           tb.encode_scalar_event("train/grad_norm", 1.5, 1, 10.0),
           tb.encode_tensor_scalar_event("eval/loss", 0.125, 50, 11.0),
           tb.encode_tensor_scalar_event("eval/eval_time_sec", 12.5, 50, 11.0, dtype="double_content"),
           tb.encode_tensor_scalar_event("train/int", 7, 3, dtype="int64"),
           tb.encode_scalar_event("train/loss", float("nan"), 2, 12.0))
    rows = tb.read_scalars(tmp_path)
    got = [(r.tag, r.step, r.value) for r in rows]
    assert got[:5] == [("train/loss", 1, 0.25), ("train/grad_norm", 1, 1.5),
                       ("eval/loss", 50, 0.125), ("eval/eval_time_sec", 50, 12.5),
                       ("train/int", 3, 7.0)]
    assert got[5][0] == "train/loss" and got[5][2] != got[5][2]   # nan survives
    assert rows[0].wall_time == 10.0
    assert list(rows[0]) == ["train/loss", 1, 0.25, 10.0]


def test_partial_last_record_is_read_when_complete(tmp_path):
    p = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    recs = [tb.encode_scalar_event("train/loss", 0.5 / i, i) for i in range(1, 6)]
    blob = tb.encode_file_version() + b"".join(recs)
    reader = tb.EventDirReader(tmp_path)
    for cut in (len(blob) - 3, len(blob) - len(recs[-1]) + 5, len(blob) - len(recs[-1]) + 11):
        p.write_bytes(blob[:cut])
        reader = tb.EventDirReader(tmp_path)
        rows = reader.poll()
        assert [r.step for r in rows] == [1, 2, 3, 4]
        assert reader.poll() == []
        p.write_bytes(blob)                      # the writer finishes the record
        assert [r.step for r in reader.poll()] == [5]
        assert reader.corrupt == 0 and reader.problems == []


def test_incremental_offsets_and_new_files(tmp_path):
    p1 = tmp_path / "events.out.tfevents.1700000000.host.1.0"
    _write(p1, tb.encode_file_version(), tb.encode_scalar_event("train/loss", 1.0, 1))
    reader = tb.EventDirReader(tmp_path)
    assert [(r.step) for r in reader.poll()] == [1]
    _write(p1, tb.encode_scalar_event("train/loss", 0.9, 2))
    assert [r.step for r in reader.poll()] == [2]
    # a resumed run adds a second file
    p2 = tmp_path / "events.out.tfevents.1700009999.host.2.0"
    _write(p2, tb.encode_file_version(), tb.encode_scalar_event("train/loss", 0.8, 3))
    _write(p1, tb.encode_scalar_event("train/loss", 0.85, 2))
    assert [r.step for r in reader.poll()] == [2, 3]       # oldest file first
    assert reader.poll() == []
    assert reader.files[p1.name].offset == p1.stat().st_size


def test_bad_data_crc_skipped_and_bad_length_crc_stops(tmp_path):
    p = tmp_path / "events.out.tfevents.1.host"
    good = tb.encode_scalar_event("a", 1.0, 1)
    bad = bytearray(tb.encode_scalar_event("a", 2.0, 2))
    bad[20] ^= 0xFF                                        # damage the payload
    _write(p, good, bytes(bad), tb.encode_scalar_event("a", 3.0, 3))
    r = tb.EventFileReader(p)
    assert [x.step for x in r.poll()] == [1, 3]
    assert r.corrupt == 1
    # without data verification the damaged record parses (to whatever it holds)
    r2 = tb.EventFileReader(p, verify_data=False)
    assert len(r2.poll()) >= 2
    q = tmp_path / "events.out.tfevents.2.host"
    hdr = bytearray(tb.encode_scalar_event("a", 1.0, 1))
    hdr[9] ^= 0x01                                         # damage the length checksum
    _write(q, tb.encode_scalar_event("a", 0.5, 0), bytes(hdr))
    r3 = tb.EventFileReader(q)
    assert [x.step for x in r3.poll()] == [0]
    assert r3.broken and "checksum" in r3.broken
    assert r3.poll() == []


def test_truncated_or_replaced_file_restarts(tmp_path):
    p = tmp_path / "events.out.tfevents.5.host"
    _write(p, tb.encode_scalar_event("a", 1.0, 1), tb.encode_scalar_event("a", 2.0, 2))
    r = tb.EventFileReader(p)
    assert len(r.poll()) == 2
    p.write_bytes(tb.encode_scalar_event("b", 9.0, 9))
    assert [(x.tag, x.step) for x in r.poll()] == [("b", 9)]


def test_non_scalar_values_are_skipped():
    # a Summary.Value with a histogram (field 5) and a 2-element tensor
    val_histo = tb._enc_field(1, 2, b"h") + tb._enc_field(5, 2, b"\x09" + bytes(8))
    tensor = tb._enc_field(1, 0, b"\x01") + tb._enc_field(
        2, 2, tb._enc_field(2, 2, tb._enc_field(1, 0, b"\x02"))) + tb._enc_field(
        5, 2, struct.pack("<2f", 1, 2))
    val_vec = tb._enc_field(1, 2, b"v") + tb._enc_field(8, 2, tensor)
    summary = tb._enc_field(1, 2, val_histo) + tb._enc_field(1, 2, val_vec)
    _wall, step, values = tb.parse_event(tb._event(1.0, 4, summary))
    assert step == 4 and values == []


@pytest.mark.parametrize("n", [2000])
def test_many_records_quickly(tmp_path, n):
    p = tmp_path / "events.out.tfevents.9.host"
    p.write_bytes(b"".join(tb.encode_scalar_event("train/loss", i * 0.5, i) for i in range(n)))
    rows = tb.read_scalars(p)
    assert len(rows) == n and rows[-1].value == (n - 1) * 0.5


def test_bytes_reader_parses_pieces_as_they_arrive_and_asks_only_for_new_bytes():
    from dpgui_qt.core.monitor.tbevents import (
        EventBytesReader,
        encode_file_version,
        encode_scalar_event,
    )
    blob = encode_file_version() + b"".join(
        encode_scalar_event("eval/loss", 1.0 / (i + 1), i, wall=100.0 + i) for i in range(40))
    for cut in (1, 5, 12, 17, 64, len(blob)):
        r = EventBytesReader()
        rows = []
        while r.received < len(blob):
            rows += r.feed(r.received, blob[r.received:r.received + cut])
        assert [(x.tag, x.step) for x in rows] == [("eval/loss", i) for i in range(40)], cut
        assert rows[3].value == pytest.approx(0.25) and rows[3].wall_time == 103.0
        assert r.received == len(blob) and r.pending == b"" and r.records == 41
    r = EventBytesReader()
    r.feed(0, blob[:10])
    with pytest.raises(ValueError):
        r.feed(0, blob[:10])                 # bytes already received are refused
    r.restart()
    assert r.received == 0 and len(r.feed(0, blob)) == 40


def test_bytes_reader_stops_at_a_damaged_header_and_counts_a_bad_record():
    from dpgui_qt.core.monitor.tbevents import EventBytesReader, encode_scalar_event
    good = encode_scalar_event("a", 1.0, 1)
    bad_data = bytearray(encode_scalar_event("a", 2.0, 2))
    bad_data[-6] ^= 0xFF                     # the payload no longer matches its checksum
    r = EventBytesReader()
    rows = r.feed(0, good + bytes(bad_data) + good)
    assert [x.step for x in rows] == [1, 1] and r.corrupt == 1
    broken = bytearray(good)
    broken[9] ^= 0xFF                        # the length's checksum
    r = EventBytesReader()
    assert r.feed(0, good + bytes(broken) + good) and r.broken
    assert r.feed(r.received, good) == []
