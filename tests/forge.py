"""Hostile inputs built the way an attacker would: valid framing and digests, bad content.

An attacker who can write a snapshot file, a Redis key or a file in the store
can also compute our digests (they are not keyed without encryption), so
every forged input here passes the integrity checks and reaches the decoders.
"""

from __future__ import annotations

import hashlib
import json
import struct
import time
from pathlib import Path
from typing import Any

import lz4.frame
import ormsgpack
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph_persist import records
from langgraph_persist.records import FLAG_LZ4, Kind
from langgraph_persist.snapshot import DIGEST_PREFIX, MAGIC, PREFIX, SNAPSHOT_FORMAT

# -- payloads that would run code (os.mkdir of a path: harmless, and leaves evidence) ---------

ATTACKS = ["ext0", "ext1", "ext2", "ext3", "json-lc2"]
"""LangGraph's msgpack extension codes 0-3 (EXT_CONSTRUCTOR_SINGLE_ARG, _POS_ARGS,
_KW_ARGS, EXT_METHOD_SINGLE_ARG) and the JSON ``lc: 2`` constructor envelope."""


def attack(kind: str, target: Path) -> tuple[str, bytes]:
    """A ``[type, bytes]`` value that calls ``os.mkdir(target)`` if its type is built."""
    p = str(target)
    if kind == "json-lc2":
        envelope = {"lc": 2, "type": "constructor", "id": ["os", "mkdir"], "args": [p]}
        return "json", json.dumps(envelope).encode()
    code = int(kind[-1])
    args: Any = {
        0: ["os", "mkdir", p],
        1: ["os", "mkdir", [p]],
        2: ["os", "mkdir", {"path": p}],
        3: ["os", "mkdir", p, "__call__"],  # getattr(os.mkdir, "__call__")(p)
    }[code]
    return "msgpack", ormsgpack.packb(ormsgpack.Ext(code, ormsgpack.packb(args)))


def naive_ext_hook(code: int, data: bytes) -> Any:
    """What a decoder without an allowlist does (LangGraph before 4.1 for every code)."""
    import importlib

    tup = ormsgpack.unpackb(data, ext_hook=naive_ext_hook)
    obj = getattr(importlib.import_module(tup[0]), tup[1])
    if code == 0:
        return obj(tup[2])
    if code == 1:
        return obj(*tup[2])
    if code == 2:
        return obj(**tup[2])
    return getattr(obj, tup[3])(tup[2])


def permissive(kind: str) -> JsonPlusSerializer:
    """The negative control: a decoder that builds whatever a payload names."""
    if kind == "json-lc2":
        return JsonPlusSerializer(allowed_json_modules=True)
    if kind == "ext3":  # LangGraph >= 4.1 blocks method calls even when permissive
        return JsonPlusSerializer(__unpack_ext_hook__=naive_ext_hook)
    return JsonPlusSerializer(allowed_msgpack_modules=True)  # today's default without the env


MARKER = "__hostile value__"


class Forging(JsonPlusSerializer):
    """Writes ``MARKER`` as a hostile payload: what someone with write access stores."""

    def __init__(self, payload: tuple[str, bytes]) -> None:
        super().__init__(allowed_msgpack_modules=True)
        self.payload = payload

    def dumps_typed(self, obj: Any) -> tuple[str, bytes]:
        if obj == MARKER:
            return self.payload
        return super().dumps_typed(obj)


# -- lz4 streams built by hand (the output is never materialised) ---------------------------


def _length(value: int) -> bytes:
    """lz4's length extension: 255 per full step, then the remainder (0 included)."""
    return b"\xff" * (value // 255) + bytes([value % 255])


def lz4_repeat(head: bytes, byte: int, count: int) -> bytes:
    """An lz4 block (no size prefix) that decompresses to ``head + bytes([byte]) * count``.

    One literal run (``head`` and one ``byte``), one match of offset 1 repeating
    it, and the five trailing literals lz4 requires: about ``count / 255`` bytes,
    so a 600 MB output costs a 2.35 MB input, as in the security finding.
    """
    assert count >= 20
    literals = head + bytes([byte])
    match = count - 6  # 1 literal + match + 5 trailing literals
    lit_nib, match_nib = min(len(literals), 15), min(match - 4, 15)
    out = bytearray([lit_nib << 4 | match_nib])
    if lit_nib == 15:
        out += _length(len(literals) - 15)
    out += literals + b"\x01\x00"  # offset 1
    if match_nib == 15:
        out += _length(match - 4 - 15)
    out += bytes([5 << 4]) + bytes([byte]) * 5
    return bytes(out)


def lz4_bomb(head: bytes, byte: int, count: int) -> bytes:
    """``lz4_repeat`` with the 4-byte size prefix our records use (``store_size=True``)."""
    return struct.pack("<I", len(head) + count) + lz4_repeat(head, byte, count)


def raw_record(kind: Kind, stored: bytes, flags: int = 0) -> bytes:
    """A record around ``stored`` exactly as given, with a correct digest (no writer checks)."""
    head = struct.pack("<4sBBBBI", b"LGPR", 1, int(kind), flags, 0, len(stored))
    return head + records._digest(head, stored) + stored


def lz4_record(kind: Kind, head: bytes, byte: int, count: int) -> bytes:
    return raw_record(kind, lz4_bomb(head, byte, count), FLAG_LZ4)


def array_header(n: int) -> bytes:
    """msgpack array32 header declaring ``n`` items."""
    return b"\xdd" + struct.pack(">I", n)


# -- snapshots ---------------------------------------------------------------------------------


def header_for(raw: bytes, compressed: bytes, body: Any = None) -> dict[str, Any]:
    entries = body.get("checkpoints") if isinstance(body, dict) else None
    entries = entries if isinstance(entries, list) else []
    writes = [e.get("writes") for e in entries if isinstance(e, dict)]
    return {
        "format": SNAPSHOT_FORMAT,
        "thread_id": "forged",
        "created": time.time(),
        "checkpoints": len(entries),
        "writes": sum(len(w) for w in writes if isinstance(w, list)),
        "namespaces": 1,
        "latest": False,
        "uncompressed_size": len(raw),
        "compressed_size": len(compressed),
        "digest": DIGEST_PREFIX + hashlib.blake2b(raw, digest_size=32).hexdigest(),
        "stored_digest": DIGEST_PREFIX + hashlib.blake2b(compressed, digest_size=32).hexdigest(),
        "description": None,
        "agent_id": None,
        "serde": "forged",
        "producer": "tests/forge.py",
    }


def snapshot_bytes(
    body: Any = None,
    *,
    raw: bytes | None = None,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> bytes:
    """A snapshot with valid digests of ``body`` (or ``raw`` msgpack); header fields overridden."""
    raw = records.pack(body) if raw is None else raw
    compressed = lz4.frame.compress(raw, content_checksum=False, store_size=True)
    fields = {**header_for(raw, compressed, body), **(header or {})}
    for name in drop:
        fields.pop(name, None)
    framed = raw_record(Kind.SNAPSHOT_ENTRY, records.pack(fields))
    return PREFIX.pack(MAGIC, SNAPSHOT_FORMAT) + framed + compressed


def read_body(snapshot: bytes) -> dict[str, Any]:
    """The decoded body of a real snapshot (to edit it and forge it again)."""
    start = PREFIX.size
    length = struct.unpack_from("<I", snapshot, start + 8)[0]
    raw = lz4.frame.decompress(snapshot[start + records.HEADER_SIZE + length :])
    body: dict[str, Any] = records.unpack(raw)
    return body
