"""Record framing: every damage is detected and reported with our own error types."""

from __future__ import annotations

import contextlib
import os
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from langgraph_persist import records
from langgraph_persist.errors import CorruptRecordError, RecordError, UnsupportedFormatError
from langgraph_persist.records import HEADER_SIZE, Kind

SAMPLE = {"ns": "", "parent": None, "refs": {"messages": [1, ["i", "msgpack", b"\x90"]]}}


def test_round_trip_small_and_compressed() -> None:
    small = records.encode(Kind.CHECKPOINT, SAMPLE)
    assert records.decode(small, expect=Kind.CHECKPOINT) == SAMPLE
    big = {"text": "the same words again and again " * 200}
    data = records.encode(Kind.BLOB, big)
    assert data[6] & records.FLAG_LZ4
    assert len(data) < len("the same words again and again " * 200)
    assert records.decode(data) == big


def test_header_layout_is_stable() -> None:
    data = records.encode(Kind.WRITES, [1, 2, 3])
    magic, version, kind, flags, reserved, length, _digest = struct.unpack_from("<4sBBBBI16s", data)
    assert (magic, version, kind, flags, reserved) == (b"LGPR", 1, 2, 0, 0)
    assert length == len(data) - HEADER_SIZE == len(records.pack([1, 2, 3]))


def test_every_single_bit_flip_is_detected() -> None:
    data = records.encode(Kind.CHECKPOINT, SAMPLE)
    for i in range(len(data) * 8):
        damaged = bytearray(data)
        damaged[i // 8] ^= 1 << (i % 8)
        with pytest.raises(CorruptRecordError):
            records.decode(bytes(damaged), expect=Kind.CHECKPOINT, location="x")


def test_every_truncation_is_detected() -> None:
    data = records.encode(Kind.BLOB, {"text": "abc " * 100})
    for n in range(len(data)):
        with pytest.raises(CorruptRecordError) as info:
            records.decode(data[:n], location="file.rec")
        assert "file.rec" in str(info.value)


def test_newer_format_version_is_refused_not_guessed() -> None:
    payload = records.pack({"a": 1})
    head = struct.pack("<4sBBBBI", b"LGPR", 2, int(Kind.BLOB), 0, 0, len(payload))
    data = head + records._digest(head, payload) + payload
    with pytest.raises(UnsupportedFormatError):
        records.decode(data)


def test_wrong_kind_is_reported() -> None:
    data = records.encode(Kind.BLOB, [1])
    with pytest.raises(CorruptRecordError, match="expected a CHECKPOINT"):
        records.decode(data, expect=Kind.CHECKPOINT)


def test_valid_digest_over_garbage_payload_is_corruption() -> None:
    payload = b"\xc1\xc1\xc1"  # never valid msgpack
    head = struct.pack("<4sBBBBI", b"LGPR", 1, int(Kind.BLOB), 0, 0, len(payload))
    with pytest.raises(CorruptRecordError, match="undecodable"):
        records.decode(head + records._digest(head, payload) + payload)
    head = struct.pack("<4sBBBBI", b"LGPR", 1, int(Kind.BLOB), records.FLAG_LZ4, 0, 3)
    with pytest.raises(CorruptRecordError, match="undecodable"):
        records.decode(head + records._digest(head, b"abc") + b"abc")


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_only_raise_our_errors(data: bytes) -> None:
    # any exception that is not one of ours propagates and fails the test
    with contextlib.suppress(RecordError):
        records.decode(data)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=1, max_size=200), st.integers(min_value=0))
def test_arbitrary_payload_behind_a_valid_digest_only_raises_our_errors(
    payload: bytes, flags: int
) -> None:
    """Even a forged record with a correct digest cannot crash the decoder."""
    head = struct.pack("<4sBBBBI", b"LGPR", 1, int(Kind.BLOB), flags % 4, 0, len(payload))
    with contextlib.suppress(RecordError):
        records.decode(head + records._digest(head, payload) + payload)


def test_record_size_limit_is_a_typed_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from langgraph_persist import RecordTooLargeError

    monkeypatch.setattr(records, "MAX_RECORD_SIZE", 1000)
    with pytest.raises(RecordTooLargeError, match="1000-byte limit"):
        records.encode(Kind.BLOB, os.urandom(5000))  # incompressible
