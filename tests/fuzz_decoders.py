"""Fuzz targets for the record and snapshot decoders, run in a memory-capped process.

``tests/test_bounded.py`` runs ``python -m tests.fuzz_decoders TARGET EXAMPLES``
with ``RLIMIT_AS`` set, so an input that makes a decoder allocate without
bound dies with ``MemoryError`` and fails the test, as does any exception that
is not one of ours. Hypothesis is derandomized: every run tries the same
inputs, and a failure reproduces.

The inputs are forged the way an attacker would (``tests/forge.py``): digests
are correct, so every example reaches lz4, msgpack and the structure checks
instead of stopping at the digest. Lengths are drawn from a range that
includes the huge (2^32 - 1 items, 2^40 bytes), the boundary values and the
small.
"""

from __future__ import annotations

import copy
import struct
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

from langgraph_persist import PersistError, records
from langgraph_persist.errors import RecordError
from langgraph_persist.records import FLAG_LZ4, Kind
from langgraph_persist.snapshot import get_metadata, restore, verify_snapshot
from tests.forge import lz4_repeat, raw_record, snapshot_bytes

SETTINGS = settings(
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)

counts = st.one_of(
    st.integers(0, 20),
    st.sampled_from(
        [15, 16, 255, 256, 65535, 65536, 2**21, 2**21 + 1, 2**24, 2**27, 2**30, 2**31, 2**32 - 1]
    ),
)


@st.composite
def msgpack_tokens(draw: Any) -> bytes:
    """A run of msgpack headers and scalars whose declared lengths need not be honest."""
    out = bytearray()
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["array", "map", "bin", "str", "ext", "scalar", "fix"]))
        n = draw(counts)
        if kind == "array":
            out += b"\xdd" + struct.pack(">I", n % 2**32)
        elif kind == "map":
            out += b"\xdf" + struct.pack(">I", n % 2**32)
        elif kind == "bin":
            out += b"\xc6" + struct.pack(">I", n % 2**32)
        elif kind == "str":
            out += b"\xdb" + struct.pack(">I", n % 2**32)
        elif kind == "ext":
            out += b"\xc9" + struct.pack(">I", n % 2**32) + bytes([n % 256])
        elif kind == "scalar":
            out += draw(st.sampled_from([b"\xc0", b"\xc3", b"\x7f", b"\xcb" + b"\0" * 8, b"\xa1a"]))
        else:
            out += bytes([draw(st.integers(0x80, 0x9F))])
        out += draw(st.binary(max_size=8))
    return bytes(out)


@st.composite
def hostile_payloads(draw: Any) -> tuple[bytes, int]:
    """(stored payload, flags) for a record: raw or lz4, honest or lying, huge or small."""
    body = draw(st.one_of(msgpack_tokens(), st.binary(max_size=64)))
    shape = draw(st.sampled_from(["raw", "lz4", "lz4-bomb", "lz4-prefix"]))
    if shape == "raw":
        return body, 0
    if shape == "lz4":
        import lz4.block

        return lz4.block.compress(body, store_size=True), FLAG_LZ4
    if shape == "lz4-bomb":  # a real stream expanding ``body`` + up to 64 MiB of one byte
        size = draw(st.sampled_from([20, 1000, 2**20, 2**27]))
        return struct.pack("<I", len(body) + size) + lz4_repeat(body, draw(counts) % 256, size), (
            FLAG_LZ4
        )
    declared = draw(st.one_of(counts, st.sampled_from([2**29 + 1, 2**30, 2**31, 2**32 - 1])))
    return struct.pack("<I", declared % 2**32) + body, FLAG_LZ4  # a lying size prefix


@given(hostile_payloads(), st.sampled_from(list(Kind)))
def fuzz_records(payload: tuple[bytes, int], kind: Kind) -> None:
    stored, flags = payload
    try:
        records.decode(raw_record(kind, stored, flags))
    except RecordError as exc:  # ours, and not a MemoryError in disguise
        assert "MemoryError" not in str(exc), exc


header_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.binary(max_size=8),
    st.lists(st.integers(-(2**63), 2**64 - 1), max_size=3),
)
HEADER_FIELDS = [
    "format",
    "thread_id",
    "created",
    "checkpoints",
    "writes",
    "namespaces",
    "latest",
    "uncompressed_size",
    "compressed_size",
    "digest",
    "stored_digest",
    "description",
    "agent_id",
    "serde",
    "producer",
]
SERDE = JsonPlusSerializer()


def _valid_body() -> dict[str, Any]:
    checkpoint = empty_checkpoint()
    body = {k: v for k, v in checkpoint.items() if k != "channel_values"}
    body["channel_versions"] = {"a": "1"}
    return {
        "values": [list(SERDE.dumps_typed([1, 2]))],
        "checkpoints": [
            {
                "ns": "",
                "id": checkpoint["id"],
                "parent": None,
                "checkpoint": list(SERDE.dumps_typed(body)),
                "values": {"a": 0},
                "metadata": list(SERDE.dumps_typed({"step": 1})),
                "writes": [["task", "", 0, "a", *SERDE.dumps_typed(3)]],
            }
        ],
    }


VALID_BODY = _valid_body()
CHECKPOINT_KEYS = ["v", "id", "ts", "channel_versions", "versions_seen", "updated_channels"]

typed = st.one_of(
    st.tuples(
        st.sampled_from(["msgpack", "json", "null", "bytes", "bytearray", "pickle", "x+aes"]),
        st.one_of(msgpack_tokens(), st.binary(max_size=16)),
    ),
    # well-formed values of the wrong shape: a "checkpoint" missing channel_versions, ...
    st.dictionaries(st.sampled_from(CHECKPOINT_KEYS), header_values, max_size=6).map(
        SERDE.dumps_typed
    ),
    header_values.map(SERDE.dumps_typed),
)


@st.composite
def bodies(draw: Any) -> Any:
    shape = draw(st.sampled_from(["valid", "mutated", "mutated", "random"]))
    if shape == "random":
        return draw(
            st.recursive(
                st.one_of(
                    st.none(), st.integers(-5, 5), st.text(max_size=8), st.binary(max_size=8)
                ),
                lambda c: st.one_of(
                    st.lists(c, max_size=4), st.dictionaries(st.text(max_size=8), c, max_size=4)
                ),
                max_leaves=12,
            )
        )
    body = copy.deepcopy(VALID_BODY)
    if shape == "mutated":
        entry = body["checkpoints"][0]
        where = draw(st.sampled_from(["checkpoint", "metadata", "value", "write", "field"]))
        value = list(draw(typed))
        if where == "value":
            body["values"][0] = value
        elif where == "write":
            entry["writes"][0][4:] = value
        elif where == "field":
            entry[draw(st.sampled_from(sorted(entry)))] = draw(header_values)
        else:
            entry[where] = value
    return body


@given(
    bodies(),
    st.dictionaries(st.sampled_from(HEADER_FIELDS), header_values, max_size=2),
    st.lists(st.sampled_from(HEADER_FIELDS), max_size=1),
    st.one_of(st.none(), st.none(), st.none(), msgpack_tokens()),
)
def fuzz_snapshots(body: Any, header: dict[str, Any], drop: list[str], raw: bytes | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "f.lgps"
        path.write_bytes(snapshot_bytes(body, raw=raw, header=header, drop=tuple(drop)))
        for read in (get_metadata, verify_snapshot, lambda p: restore(p, InMemorySaver())):
            try:
                read(path)
            except PersistError as exc:  # ours, and not a MemoryError in disguise
                assert "MemoryError" not in str(exc), exc


if __name__ == "__main__":
    target, examples = sys.argv[1], int(sys.argv[2])
    fuzz = {"records": fuzz_records, "snapshots": fuzz_snapshots}[target]
    settings(SETTINGS, max_examples=examples)(fuzz)()
    print(f"fuzzed {target}: {examples} examples, only our errors")
