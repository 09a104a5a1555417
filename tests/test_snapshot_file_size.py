"""Reading a snapshot file costs what its verified header allows, never what the file holds.

The tester's finding: ``inspect FILE --no-verify`` and ``import FILE`` read
the whole file before looking at its header, so a 4 GiB sparse file starting
with the snapshot magic raised ``MemoryError`` and ``/dev/zero`` ate 24 GB.
Now the header is read first (``snapshot._read``): a file that is not a
snapshot, or larger than its header declares, is a ``SnapshotError`` having
read a few bytes; a pipe or a device is read in chunks, never past one byte
beyond the declared body. Memory is asserted as ``tracemalloc``'s peak (every
byte read is a Python ``bytes``), like ``test_bounded.py``.
"""

from __future__ import annotations

import contextlib
import os
import struct
import threading
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from langgraph_persist import PersistSaver, SnapshotError, records, snapshot
from langgraph_persist.cli import cli
from langgraph_persist.snapshot import (
    MAGIC,
    PREFIX,
    SNAPSHOT_FORMAT,
    get_metadata,
    verify_snapshot,
)
from tests.forge import snapshot_bytes
from tests.graphs import chat_graph, human

MiB = 1024 * 1024
GiB = 1024 * MiB
BOUND_MIB = 16
"""What reading any of these files may cost: far below the sizes they claim or hold."""


@contextlib.contextmanager
def _peak_mib() -> Iterator[Callable[[], float]]:
    tracemalloc.start()
    try:
        yield lambda: tracemalloc.get_traced_memory()[1] / MiB
    finally:
        tracemalloc.stop()


def _sparse(path: Path, start: bytes, size: int) -> Path:
    """``start``, then zeros up to ``size`` bytes: a hole, taking no disk space."""
    path.write_bytes(start)
    os.truncate(path, size)
    return path


def _refused_in_bounded_memory(path: Path, match: str) -> None:
    """Every way to read a snapshot file refuses ``path`` with ``SnapshotError`` (exit 5
    from the CLI) and never holds more than ``BOUND_MIB`` at once."""
    store = path.parent / "target"
    with _peak_mib() as peak:
        for read in (verify_snapshot, get_metadata):
            with pytest.raises(SnapshotError, match=match):
                read(path)
            assert peak() < BOUND_MIB, f"{read.__name__}: peak {peak():.0f} MiB"
        with pytest.raises(SnapshotError, match=match):
            snapshot.restore(path, PersistSaver(store))
        for args in (["inspect", str(path), "--no-verify"], ["--store", str(store), "import"]):
            if args[-1] == "import":
                args = [*args, str(path)]
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 5, (args, result.output, result.exception)
        assert peak() < BOUND_MIB, f"peak {peak():.0f} MiB"


@pytest.fixture
def snap(tmp_path: Path) -> bytes:
    """A real snapshot of a real graph's thread."""
    saver = PersistSaver(tmp_path / "source")
    chat_graph().compile(checkpointer=saver).invoke(
        human("hello"), {"configurable": {"thread_id": "t"}}
    )
    snapshot.snapshot(saver, "t", tmp_path / "good.lgps")
    saver.close()
    return (tmp_path / "good.lgps").read_bytes()


def test_a_4_gib_sparse_file_with_the_magic_is_refused_having_read_its_header(
    tmp_path: Path,
) -> None:
    path = _sparse(tmp_path / "sparse.lgps", MAGIC + bytes([SNAPSHOT_FORMAT]), 4 * GiB)
    _refused_in_bounded_memory(path, "damaged snapshot header")


def test_a_valid_snapshot_with_4_gib_of_trailing_bytes_is_refused_unread(
    snap: bytes, tmp_path: Path
) -> None:
    """The header is sound: the file's size (``fstat``) refuses it before the body is read."""
    path = _sparse(tmp_path / "long.lgps", snap, 4 * GiB)
    _refused_in_bounded_memory(path, "trailing bytes")


def _header_end(data: bytes) -> int:
    """Where a snapshot's body starts (after the prefix and the framed header)."""
    length = struct.unpack_from("<I", data, PREFIX.size + 8)[0]
    return PREFIX.size + records.HEADER_SIZE + length


def test_a_header_declaring_a_body_larger_than_the_format_allows_is_refused(
    tmp_path: Path,
) -> None:
    """A forged header whose body is the rest of a 4 GiB file: no valid snapshot is
    that large, so it is refused for the size it declares, before its file's size."""
    empty = {"values": [], "checkpoints": []}
    forged = snapshot_bytes(empty, header={"compressed_size": 3 * GiB})
    end = _header_end(forged)  # as long as 4 GiB - end: both are 32-bit integers
    forged = snapshot_bytes(empty, header={"compressed_size": 4 * GiB - end})
    assert _header_end(forged) == end and 4 * GiB - end > snapshot.MAX_STORED_SIZE
    path = _sparse(tmp_path / "huge.lgps", forged[:end], 4 * GiB)
    _refused_in_bounded_memory(path, "invalid compressed_size")


def test_dev_zero_is_refused_having_read_its_first_bytes() -> None:
    with _peak_mib() as peak:
        for read in (get_metadata, verify_snapshot):
            with pytest.raises(SnapshotError, match="bad magic"):
                read("/dev/zero")
        assert peak() < BOUND_MIB


def _fifo_feeding(path: Path, data: bytes, then_zeros: int) -> threading.Thread:
    """A FIFO at ``path`` that a thread fills with ``data`` then ``then_zeros`` zero bytes;
    the reader may stop early (the writer then sees a broken pipe and stops)."""
    os.mkfifo(path)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(path, "wb") as fh:
            fh.write(data)
            for _ in range(then_zeros // MiB):
                fh.write(bytes(MiB))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    return writer


def test_a_snapshot_read_from_a_fifo_verifies(snap: bytes, tmp_path: Path) -> None:
    """A pipe is not refused for being a pipe: read in chunks, it is the same file."""
    writer = _fifo_feeding(tmp_path / "pipe", snap, 0)
    info = verify_snapshot(tmp_path / "pipe")
    writer.join(5)
    assert info.thread_id == "t" and info.file_size == len(snap)


def test_a_fifo_feeding_more_than_declared_is_refused_in_bounded_memory(
    snap: bytes, tmp_path: Path
) -> None:
    """256 MiB follow the snapshot: the reader stops one byte past the declared body."""
    writer = _fifo_feeding(tmp_path / "pipe", snap, 256 * MiB)
    with _peak_mib() as peak:
        with pytest.raises(SnapshotError, match="trailing bytes"):
            verify_snapshot(tmp_path / "pipe")
        assert peak() < BOUND_MIB
    writer.join(5)
    assert not writer.is_alive()


def _read_whole_file(path: str | os.PathLike[str], *, body: bool = True) -> Any:
    """The last release's ``_read``: the whole file, before its header is looked at."""
    name = os.fspath(path)
    with open(name, "rb") as fh:
        data = fh.read()
    header, end = snapshot._read_header(name, data)
    snapshot._check_body_size(name, header, len(data) - end)
    return snapshot._File(name, header, data[end:], len(data))


def test_negative_control_reading_the_whole_file_is_caught(
    snap: bytes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the last release's read, the check above fails on the same kind of file
    (256 MiB of trailing bytes here, not 4 GiB: the broken read would hold them all)."""
    path = _sparse(tmp_path / "long.lgps", snap, 256 * MiB)
    _refused_in_bounded_memory(path, "trailing bytes")  # the fix passes it
    monkeypatch.setattr(snapshot, "_read", _read_whole_file)
    with pytest.raises(AssertionError, match="peak"):
        _refused_in_bounded_memory(path, "trailing bytes")
