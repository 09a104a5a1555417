"""The record: the one byte format every stored object uses, in every tier.

Layout (all integers little-endian; ``docs/format.md`` is the reference)::

    offset size  field
    0      4     magic  b"LGPR"
    4      1     format version (1)
    5      1     kind   (see ``Kind``)
    6      1     flags  bit 0: payload is lz4-block compressed
                        bit 1: payload is encrypted (AES-256-GCM, see crypto.py)
    7      1     reserved, 0
    8      4     payload length in bytes, as stored
    12     16    blake2b-128 digest of bytes 0..11 and the stored payload
    28     ...   payload: msgpack (after decompression / decryption)

Why this shape: the magic and version let any future reader recognise and
refuse what it does not understand; the length catches truncation before
the digest is even computed; the digest covers the header too, so a flipped
kind or flag bit is caught; compression is decided per record (tiny records
are stored raw, because lz4 would only grow them).

Decoding never lets a msgpack, lz4 or struct exception escape: anything that
is not a well-formed record raises ``CorruptRecordError`` or
``UnsupportedFormatError``. And it is bounded (``bounded.py``): the
decompressed size is checked against ``MAX_RECORD_SIZE`` before lz4 allocates
it, and the payload's msgpack against ``MAX_RECORD_ITEMS`` before msgpack
builds anything, so a small forged record (a shared Redis, a file dropped
into the store) cannot make a reader allocate gigabytes. Writers check the
same limits, so no record we write is one we would refuse to read.
"""

from __future__ import annotations

import enum
import hashlib
import struct
from typing import Any, Protocol

import lz4.block
import msgpack

from langgraph_persist import bounded
from langgraph_persist.errors import (
    CorruptRecordError,
    RecordTooLargeError,
    UnsupportedFormatError,
)

MAGIC = b"LGPR"
FORMAT_VERSION = 1
HEADER = struct.Struct("<4sBBBBI16s")
HEADER_SIZE = HEADER.size  # 28
DIGEST_SIZE = 16

FLAG_LZ4 = 0x01
FLAG_ENCRYPTED = 0x02
_KNOWN_FLAGS = FLAG_LZ4 | FLAG_ENCRYPTED

COMPRESS_MIN = 128
"""Payloads shorter than this are stored raw: lz4 cannot win on them."""

MAX_RECORD_SIZE = 512 * 1024 * 1024
"""Largest payload we write or read, uncompressed (lz4 blocks are limited to ~2 GiB anyway).

Checked on write before compressing, and on read from the lz4 size prefix
before decompressing (``bounded.lz4_block``)."""

MAX_RECORD_ITEMS = 1 << 21
"""Most msgpack objects one record's payload may hold (2,097,152).

Our records are shallow: a value is one ``[type, bytes]`` pair whatever its
size, so only thousands of channels or a list of tens of millions of elements
(one 20-byte digest per 16 elements) come near it. Decoding that many objects
costs at most ~150 MiB; a forged record declaring more is refused unbuilt."""


class Kind(enum.IntEnum):
    """What a record holds. Stored in the header, so it is covered by the digest."""

    CHECKPOINT = 1
    WRITES = 2
    BLOB = 3
    SEGMENT = 4
    THREAD_INFO = 5
    RUN_INDEX = 6
    SNAPSHOT_ENTRY = 7
    TOMBSTONE = 8
    STORE_META = 9
    HEAD = 10


_KINDS = {int(k): k for k in Kind}
"""``Kind`` by header byte: a dict lookup, not the enum's call machinery, on every read."""


class Sealer(Protocol):
    """Authenticated encryption of payloads, bound to associated data (``crypto.py``)."""

    def seal(self, payload: bytes, aad: bytes) -> bytes: ...

    def open(self, sealed: bytes, aad: bytes) -> bytes: ...


def _digest(head: bytes, payload: bytes | memoryview) -> bytes:
    h = hashlib.blake2b(head, digest_size=DIGEST_SIZE)
    h.update(payload)
    return h.digest()


def pack(obj: Any) -> bytes:
    """msgpack with the options every record uses (bin type, no ext types)."""
    return msgpack.packb(obj, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes, *, max_items: int = MAX_RECORD_ITEMS) -> Any:
    """Strict, bounded msgpack decoding: no ext types, no raw strings, at most ``max_items``.

    Raises ``bounded.LimitError``/``ValueError`` (and msgpack's own errors) on
    bad input; ``decode`` turns them into ``CorruptRecordError``.
    """
    return bounded.unpack(data, max_items)


def encode(kind: Kind, obj: Any, *, sealer: Sealer | None = None, aad: bytes = b"") -> bytes:
    """Frame ``obj`` as a record of ``kind``; ``aad`` binds an encrypted payload to its place."""
    return frame(kind, pack(obj), sealer=sealer, aad=aad)


def frame(kind: Kind, payload: bytes, *, sealer: Sealer | None = None, aad: bytes = b"") -> bytes:
    """Frame an already msgpack-encoded payload (so callers can hash it once).

    Refuses (``RecordTooLargeError``) what ``decode`` would refuse: a payload
    over ``MAX_RECORD_SIZE`` before compression, or over ``MAX_RECORD_ITEMS``.
    """
    if len(payload) > MAX_RECORD_SIZE:
        raise RecordTooLargeError(
            f"a {kind.name.lower()} record of {len(payload)} bytes exceeds the "
            f"{MAX_RECORD_SIZE}-byte limit; store large artifacts outside the graph state"
        )
    if len(payload) > bounded.SCAN_MIN:
        try:
            bounded.scan(payload, MAX_RECORD_ITEMS)
        except bounded.LimitError as exc:
            raise RecordTooLargeError(
                f"a {kind.name.lower()} record {exc} (limit {MAX_RECORD_ITEMS}); "
                "split the state into more channels or store it outside the graph"
            ) from None
    flags = 0
    if len(payload) >= COMPRESS_MIN:
        compressed = lz4.block.compress(payload, store_size=True)
        if len(compressed) < len(payload):
            payload, flags = compressed, FLAG_LZ4
    if sealer is not None:
        payload, flags = sealer.seal(payload, aad), flags | FLAG_ENCRYPTED
    if len(payload) > MAX_RECORD_SIZE:
        raise RecordTooLargeError(
            f"a {kind.name.lower()} record of {len(payload)} bytes exceeds the "
            f"{MAX_RECORD_SIZE}-byte limit; store large artifacts outside the graph state"
        )
    head = struct.pack("<4sBBBBI", MAGIC, FORMAT_VERSION, int(kind), flags, 0, len(payload))
    return head + _digest(head, payload) + payload


def intact(data: bytes) -> bool:
    """Whether a record's framing and digest check out, without decoding or decrypting.

    What a tier needs to decide whether a copy can be trusted (an encrypted
    record verifies without the key); the same checks ``decode_with_kind``
    performs first.
    """
    if len(data) < HEADER_SIZE:
        return False
    magic, _version, _kind, _flags, _reserved, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC or length != len(data) - HEADER_SIZE:
        return False
    return bool(_digest(data[:12], memoryview(data)[HEADER_SIZE:]) == digest)


def decode(
    data: bytes,
    *,
    expect: Kind | None = None,
    location: str = "",
    sealer: Sealer | None = None,
    aad: bytes = b"",
) -> Any:
    """Verify and decode a record, returning its msgpack object.

    Raises ``CorruptRecordError`` naming ``location`` for anything damaged.
    """
    obj, _ = decode_with_kind(data, expect=expect, location=location, sealer=sealer, aad=aad)
    return obj


def decode_with_kind(
    data: bytes,
    *,
    expect: Kind | None = None,
    location: str = "",
    sealer: Sealer | None = None,
    aad: bytes = b"",
    allow_plaintext: bool = False,
) -> tuple[Any, Kind]:
    """Like :func:`decode`, also returning the record's kind.

    With a ``sealer``, a plaintext record is refused (its digest is not keyed,
    so anyone could forge one) unless ``allow_plaintext`` (re-encryption of a
    store written before encryption was turned on).
    """
    if len(data) < HEADER_SIZE:
        raise CorruptRecordError(
            f"truncated record ({len(data)} bytes, header needs {HEADER_SIZE})", location=location
        )
    magic, version, kind, flags, _reserved, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CorruptRecordError(f"bad magic {magic!r}", location=location)
    payload = data[HEADER_SIZE:]
    actual = _digest(data[:12], payload)
    if actual != digest:
        # Check the digest before trusting the version byte: a flipped bit in the
        # version must read as corruption, not as "written by a newer release".
        reason = "digest mismatch"
        if len(payload) != length:
            reason = f"truncated record (payload {len(payload)} of {length} bytes)"
        raise CorruptRecordError(
            reason, location=location, expected=digest.hex(), actual=actual.hex()
        )
    if version > FORMAT_VERSION:
        raise UnsupportedFormatError(
            f"record format version {version} is newer than this release reads "
            f"({FORMAT_VERSION}); upgrade langgraph-persist ({location})"
        )
    record_kind = _KINDS.get(kind)
    if record_kind is None:
        raise CorruptRecordError(f"unknown record kind {kind}", location=location)
    if expect is not None and record_kind is not expect:
        raise CorruptRecordError(
            f"expected a {expect.name} record, found {record_kind.name}", location=location
        )
    if flags & ~_KNOWN_FLAGS:
        raise UnsupportedFormatError(f"unknown record flags {flags:#x} at {location}")
    if sealer is not None and not flags & FLAG_ENCRYPTED and not allow_plaintext:
        raise CorruptRecordError(
            "unencrypted record in an encrypted store (run reencrypt to migrate)",
            location=location,
        )
    if flags & FLAG_ENCRYPTED:
        if sealer is None:
            raise CorruptRecordError(
                "record is encrypted but the saver has no encryption key", location=location
            )
        try:
            payload = sealer.open(payload, aad)
        except CorruptRecordError as exc:
            raise CorruptRecordError(exc.reason, location=location) from None
    try:
        if flags & FLAG_LZ4:
            payload = bounded.lz4_block(payload, MAX_RECORD_SIZE)
        elif len(payload) > MAX_RECORD_SIZE:
            raise bounded.LimitError(
                f"holds {len(payload)} bytes, over the {MAX_RECORD_SIZE}-byte limit"
            )
        return unpack(payload), record_kind
    except bounded.LimitError as exc:
        raise CorruptRecordError(f"refused payload: {exc}", location=location) from None
    except MemoryError:  # exhaustion is not damage: the limits exist so it never happens
        raise
    except Exception as exc:  # lz4/msgpack raise many types; all mean "damaged"
        raise CorruptRecordError(
            f"undecodable payload ({type(exc).__name__}: {exc})", location=location
        ) from None


def content_digest(kind: Kind, payload: bytes, key: bytes = b"") -> bytes:
    """The address of a content-addressed record: blake2b-160 of kind + msgpack payload.

    ``key`` keys the hash (with encryption on, so addresses reveal nothing about
    content). 160 bits: a collision needs ~2^80 work, and names stay short.
    """
    h = hashlib.blake2b(bytes([int(kind)]), digest_size=20, key=key)
    h.update(payload)
    return h.digest()
