"""Bounded decoding: every malformed or hostile input is a typed error, fast, in bounded memory.

The security finding's three bombs are here as they were reported (a 2.35 MB
record expanding to 600 MB, 100 M tiny items, a 426-byte snapshot declaring
2^40 bytes); memory is what is asserted (``tracemalloc`` peaks, or a process
capped at 1 GiB with ``RLIMIT_AS``), never time. Each comes with its negative
control: the same bytes decoded the way the last release did run out of
memory, so the bombs are live. The fuzzers (``tests/fuzz_decoders.py``) run
under the same cap.
"""

from __future__ import annotations

import contextlib
import copy
import math
import resource
import struct
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lz4.block
import msgpack
import ormsgpack
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from langgraph_persist import (
    CorruptRecordError,
    PersistSaver,
    RecordTooLargeError,
    SnapshotError,
    bounded,
    records,
    snapshot,
)
from langgraph_persist.cli import cli
from langgraph_persist.records import Kind
from langgraph_persist.untrusted import MAX_VALUE_ITEMS, UntrustedSerializer
from tests.forge import array_header, lz4_bomb, lz4_record, raw_record, read_body, snapshot_bytes
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


@pytest.fixture
def peak() -> Iterator[Callable[[], float]]:
    """Peak traced allocation (MiB) since the test started."""
    tracemalloc.start()
    yield lambda: tracemalloc.get_traced_memory()[1] / MiB
    tracemalloc.stop()


def _cap() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def run_module(*args: str, cap: bool) -> str:
    """``python -m ARGS`` (capped at 1 GiB of address space if ``cap``); its last line."""
    done = subprocess.run(
        [sys.executable, "-m", *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        preexec_fn=_cap if cap else None,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


# -- the finding's bombs -----------------------------------------------------------------------


def test_record_expanding_to_600_mb_is_refused_before_decompressing(
    peak: Callable[[], float],
) -> None:
    bomb = lz4_record(Kind.BLOB, b"", 0, 600 * 1000 * 1000)
    assert len(bomb) < 2_400_000  # 2.35 MB, as reported
    with pytest.raises(CorruptRecordError, match="over the 536870912-byte limit"):
        records.decode(bomb, location="blobs/aa/bomb")
    assert peak() < 64


def test_negative_control_the_600_mb_bomb_is_a_real_lz4_stream() -> None:
    """The same construction, 100x smaller, decompresses to exactly what it declares."""
    small = lz4_bomb(b"", 0, 6 * 1000 * 1000)
    assert lz4.block.decompress(small) == bytes(6 * 1000 * 1000)


BOMBS = ["record-100m", "snapshot-100m", "snapshot-2e40", "record-many-arrays"]


@pytest.mark.parametrize("scenario", BOMBS)
def test_bombs_are_refused_with_our_error_in_a_1_gib_process(scenario: str) -> None:
    assert run_module("tests.bombs", scenario, "ours", cap=False).startswith("REFUSED ")


@pytest.mark.parametrize("scenario", BOMBS)
def test_negative_control_the_last_release_runs_out_of_memory_on_them(scenario: str) -> None:
    assert run_module("tests.bombs", scenario, "naive", cap=False) == "MEMORY"


def test_snapshot_declaring_2_to_the_40_is_refused_in_bounded_memory(
    tmp_path: Path, peak: Callable[[], float]
) -> None:
    path = tmp_path / "bomb.lgps"
    path.write_bytes(
        snapshot_bytes({"values": [], "checkpoints": []}, header={"uncompressed_size": 2**40})
    )
    assert path.stat().st_size < 500
    for read in (snapshot.get_metadata, snapshot.verify_snapshot):
        with pytest.raises(SnapshotError, match="invalid uncompressed_size"):
            read(path)
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 5 and "invalid uncompressed_size" in result.stderr
    assert peak() < 64


def test_declared_size_beyond_what_lz4_can_produce_is_refused_unallocated(
    tmp_path: Path, peak: Callable[[], float]
) -> None:
    """Within the 2 GiB limit, but 255x more than the body could expand to: impossible."""
    path = tmp_path / "liar.lgps"
    path.write_bytes(
        snapshot_bytes({"values": [], "checkpoints": []}, header={"uncompressed_size": 2**30})
    )
    with pytest.raises(SnapshotError, match="more than lz4 can produce"):
        snapshot.verify_snapshot(path)
    liar = raw_record(Kind.BLOB, struct.pack("<I", 2**28) + b"\x10abc", records.FLAG_LZ4)
    with pytest.raises(CorruptRecordError, match="more than lz4 can produce"):
        records.decode(liar)
    assert peak() < 64


def test_a_value_bomb_is_refused_by_the_strict_serializer(peak: Callable[[], float]) -> None:
    """ormsgpack has no limits: the strict serializer walks a value (extensions too) first."""
    deep = b"\xc0"
    for _ in range(1000):  # extension payloads nested 1000 deep
        deep = b"\xc9" + struct.pack(">I", len(deep)) + b"\x00" + deep
    n = MAX_VALUE_ITEMS + 1
    bombs = {
        "more items than bytes": array_header(2**31) + b"\x80" * 8192,
        "over MAX_VALUE_ITEMS": array_header(n) + b"\x90" * n,
        "nested too deep": deep,
    }
    json_bomb = b"[" + b"0," * n + b"0]"  # the legacy JSON type: same limit

    strict = UntrustedSerializer()
    for what, data in bombs.items():
        with pytest.raises(CorruptRecordError, match="undecodable value"):
            strict.loads_typed(("msgpack", data))
        assert peak() < 64, what
    with pytest.raises(CorruptRecordError, match="JSON values"):
        strict.loads_typed(("json", json_bomb))
    assert peak() < 64
    # a legitimate value of many small extensions still decodes
    many = ormsgpack.packb([ormsgpack.Ext(0, ormsgpack.packb(["builtins", "set", [1]]))] * 4000)
    assert strict.loads_typed(("msgpack", many)) == [{1}] * 4000


# -- snapshot headers and bodies: typed errors, never OverflowError/ValueError/KeyError ----------


@pytest.fixture
def real_body(tmp_path: Path) -> dict[str, Any]:
    saver = PersistSaver(tmp_path / "src")
    chat_graph().compile(checkpointer=saver).invoke(
        human("hi"), {"configurable": {"thread_id": "t"}}
    )
    snapshot.snapshot(saver, "t", tmp_path / "ok.lgps")
    return read_body((tmp_path / "ok.lgps").read_bytes())


BAD_HEADERS: list[tuple[dict[str, Any], tuple[str, ...], str]] = [
    ({"created": math.nan}, (), "invalid created"),
    ({"created": math.inf}, (), "invalid created"),
    ({"created": 1e20}, (), "invalid created"),
    ({"created": -1.0}, (), "invalid created"),
    ({"created": True}, (), "invalid created"),
    ({"checkpoints": True}, (), "invalid checkpoints"),
    ({"checkpoints": -1}, (), "invalid checkpoints"),
    ({"writes": 2**40}, (), "invalid writes"),
    ({"thread_id": 42}, (), "invalid thread_id"),
    ({"digest": "md5:00"}, (), "invalid digest"),
    ({"description": b"bytes"}, (), "invalid description"),
    ({}, ("thread_id",), "missing thread_id"),
    ({}, ("created", "digest"), "missing created, digest"),
    ({"latest": 1}, ("writes",), "missing writes; invalid latest"),
]


@pytest.mark.parametrize(("header", "drop", "why"), BAD_HEADERS)
def test_malformed_headers_are_snapshot_errors(
    header: dict[str, Any],
    drop: tuple[str, ...],
    why: str,
    real_body: dict[str, Any],
    tmp_path: Path,
) -> None:
    path = tmp_path / "bad.lgps"
    path.write_bytes(snapshot_bytes(real_body, header=header, drop=drop))
    for read in (snapshot.get_metadata, snapshot.verify_snapshot):
        with pytest.raises(SnapshotError, match=f"malformed snapshot header \\({why}\\)"):
            read(path)
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 5, result.output  # was 1, with a raw OverflowError / KeyError


def test_a_checkpoint_without_channel_versions_is_a_snapshot_error(
    real_body: dict[str, Any], tmp_path: Path
) -> None:
    from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

    serde = JsonPlusSerializer()
    entry = real_body["checkpoints"][-1]
    checkpoint = serde.loads_typed(tuple(entry["checkpoint"]))
    del checkpoint["channel_versions"]
    entry["checkpoint"] = list(serde.dumps_typed(checkpoint))
    path = tmp_path / "bad.lgps"
    path.write_bytes(snapshot_bytes(real_body))
    target = PersistSaver(tmp_path / "target")
    with pytest.raises(SnapshotError, match="missing or invalid channel_versions"):
        snapshot.restore(path, target)
    assert list(target.list(None)) == []
    result = CliRunner().invoke(cli, ["--store", str(tmp_path / "t2"), "import", str(path)])
    assert result.exit_code == 5, result.output  # was 1, with a raw KeyError


def _repeat_last(body: dict[str, Any]) -> None:
    body["checkpoints"].append(copy.deepcopy(body["checkpoints"][-1]))


def test_a_checkpoint_twice_is_a_snapshot_error(real_body: dict[str, Any], tmp_path: Path) -> None:
    """Valid digests, but one checkpoint twice: which copy would restore keep?"""
    _repeat_last(real_body)
    path = tmp_path / "bad.lgps"
    path.write_bytes(snapshot_bytes(real_body))
    with pytest.raises(SnapshotError, match="appears twice"):
        snapshot.verify_snapshot(path)
    target = PersistSaver(tmp_path / "target")
    with pytest.raises(SnapshotError, match="appears twice"):
        snapshot.restore(path, target)
    assert list(target.list(None)) == []


def test_negative_control_without_the_check_a_repeated_checkpoint_imports(
    real_body: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the check above prevents: the file says one checkpoint more than is stored."""
    _repeat_last(real_body)
    path = tmp_path / "bad.lgps"
    path.write_bytes(snapshot_bytes(real_body))
    monkeypatch.setattr(snapshot, "_check_unique", lambda checkpoints, bad: None)
    target = PersistSaver(tmp_path / "target")
    snapshot.restore(path, target)
    assert len(list(target.list(None))) == len(real_body["checkpoints"]) - 1


# -- writers refuse what readers would refuse ----------------------------------------------------


def test_writers_refuse_what_readers_would_refuse(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(records, "MAX_RECORD_ITEMS", 1000)
    with pytest.raises(RecordTooLargeError, match="1000"):
        records.encode(Kind.CHECKPOINT, {"refs": {f"channel-{i}": [1, None] for i in range(600)}})
    saver = PersistSaver(tmp_path / "s")
    chat_graph().compile(checkpointer=saver).invoke(
        human("hi"), {"configurable": {"thread_id": "t"}}
    )
    monkeypatch.setattr(snapshot, "MAX_SNAPSHOT_ITEMS", 20)
    with pytest.raises(SnapshotError, match="--latest"):
        snapshot.snapshot(saver, "t", tmp_path / "t.lgps")
    assert not (tmp_path / "t.lgps").exists()


# -- the scanner agrees with msgpack -------------------------------------------------------------

objects = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**63), 2**64 - 1),
        st.floats(allow_nan=False),
        st.text(max_size=300),
        st.binary(max_size=300),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=40),
        st.dictionaries(st.text(max_size=5), children, max_size=20),
    ),
    max_leaves=150,
)


def count(obj: Any) -> int:
    if isinstance(obj, list):
        return 1 + sum(count(x) for x in obj)
    if isinstance(obj, dict):
        return 1 + sum(count(k) + count(v) for k, v in obj.items())
    return 1


@settings(derandomize=True, max_examples=200, deadline=None)
@given(objects)
def test_scan_counts_exactly_what_msgpack_builds(obj: Any) -> None:
    data = msgpack.packb(obj, use_bin_type=True)
    assert bounded.scan(data, 10**9) == count(obj)
    assert bounded.unpack(data, 10**9) == obj
    if count(obj) > 1:
        with pytest.raises(bounded.LimitError):
            bounded.scan(data, count(obj) - 1)


@settings(derandomize=True, max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_scan_of_any_bytes_raises_only_its_own_errors(data: bytes) -> None:
    with contextlib.suppress(bounded.LimitError, bounded.MalformedError):
        bounded.scan(data, 10**6, extensions=True)


# -- the fuzzers, in a process capped at 1 GiB ---------------------------------------------------


@pytest.mark.parametrize(("target", "examples"), [("records", 300), ("snapshots", 300)])
def test_fuzzed_decoders_raise_only_our_errors_in_bounded_memory(
    target: str, examples: int
) -> None:
    line = run_module("tests.fuzz_decoders", target, str(examples), cap=True)
    assert line == f"fuzzed {target}: {examples} examples, only our errors"


def test_the_memory_cap_is_real() -> None:
    """A capped process cannot allocate 2 GiB (else the fuzz tests would prove nothing)."""
    code = "try:\n    bytearray(2 << 30)\nexcept MemoryError:\n    print('capped')\n"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, preexec_fn=_cap
    )
    assert done.stdout.strip() == "capped"
