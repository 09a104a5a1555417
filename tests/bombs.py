"""The security finding's decompression bombs, decoded in a process capped at 1 GiB.

``python -m tests.bombs SCENARIO MODE`` builds the bomb, caps its own address
space (``RLIMIT_AS``), then decodes it and prints one line:

* ``REFUSED <error>``: our typed error came out (what ``MODE=ours`` must print);
* ``MEMORY``: the decoder ran out of memory (what ``MODE=naive`` prints: the
  negative control, decoding the same bytes the way the last release did).

Scenarios: ``record-100m`` (a record holding 100 M tiny items, ~0.4 MB of
lz4), ``snapshot-100m`` (the same as a snapshot body), ``snapshot-2e40``
(a 426-byte snapshot declaring ``uncompressed_size=2^40``) and
``record-many-arrays`` (no header is large: 64 arrays of 262,144 empty maps,
16 M items, refused once the running total passes the limit).
"""

from __future__ import annotations

import gc
import resource
import sys
import tempfile
from pathlib import Path

import lz4.block
import lz4.frame
import msgpack

from langgraph_persist import PersistError, records
from langgraph_persist.records import FLAG_LZ4, Kind
from langgraph_persist.snapshot import PREFIX, verify_snapshot
from tests.forge import array_header, lz4_record, raw_record, snapshot_bytes

LIMIT = 1 << 30
ITEMS = 100_000_000


def build(scenario: str, tmp: Path) -> bytes | Path:
    if scenario == "record-100m":
        return lz4_record(Kind.BLOB, array_header(ITEMS), 0x80, ITEMS)
    if scenario == "record-many-arrays":
        inner = array_header(1 << 18) + b"\x80" * (1 << 18)
        payload = lz4.block.compress(array_header(64) + inner * 64, store_size=True)
        return raw_record(Kind.BLOB, payload, FLAG_LZ4)
    path = tmp / "bomb.lgps"
    if scenario == "snapshot-100m":
        raw = array_header(ITEMS) + b"\x80" * ITEMS
        path.write_bytes(snapshot_bytes(raw=raw))
        del raw
    else:
        path.write_bytes(snapshot_bytes({"values": [], "checkpoints": []},
                                        header={"uncompressed_size": 2**40}))  # fmt: skip
    gc.collect()
    return path


def naive(scenario: str, bomb: bytes | Path) -> None:
    """What the last release did with these bytes."""
    if isinstance(bomb, bytes):
        msgpack.unpackb(lz4.block.decompress(bomb[records.HEADER_SIZE :]))
        return
    data = bomb.read_bytes()
    start = PREFIX.size
    length = int.from_bytes(data[start + 8 : start + 12], "little")
    header = records.decode(data[start : start + records.HEADER_SIZE + length])
    body = data[start + records.HEADER_SIZE + length :]
    raw = lz4.frame.LZ4FrameDecompressor().decompress(
        body, max_length=header["uncompressed_size"] + 1
    )
    msgpack.unpackb(raw)


def ours(bomb: bytes | Path) -> None:
    if isinstance(bomb, bytes):
        records.decode(bomb)
    else:
        verify_snapshot(bomb)


def main(scenario: str, mode: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        bomb = build(scenario, Path(tmp))
        resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))
        try:
            if mode == "ours":
                ours(bomb)
            else:
                naive(scenario, bomb)
        except PersistError as exc:
            return f"REFUSED {type(exc).__name__}: {exc}"
        except MemoryError:
            return "MEMORY"
        return "DECODED"


if __name__ == "__main__":
    print(main(sys.argv[1], sys.argv[2]))
