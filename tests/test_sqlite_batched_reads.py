"""SqliteStore's batched reads: one statement per batch, the same answers as one read per key.

``read_many`` and ``read_children`` answer a batch with one statement per
``_BATCH`` keys or prefixes (a read transaction around them when there are
more), so these check every shape a batch can take against single reads:
absent keys, directory rows, duplicates, several directories, batches larger
than one statement.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from langgraph_persist import keys
from langgraph_persist.store import sqlite as sqlite_module
from langgraph_persist.store.sqlite import SqliteStore

T = "t1"


def ck(cid: str) -> keys.Key:
    return keys.checkpoint(T, "=", cid)


def cid(i: int) -> str:
    return f"1ef00000-0000-6000-8000-{i:012d}"


@pytest.fixture(params=[256, 3], ids=["batch-256", "batch-3"])
def store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Also with batches of 3, so a few keys already take several statements."""
    monkeypatch.setattr(sqlite_module, "_BATCH", request.param)
    s = SqliteStore(tmp_path / "s", durability="none")
    s.commit(write=[(ck(cid(i)), b"rec%d" % i) for i in range(0, 40, 2)])
    s.commit(
        write=[
            (keys.write(T, "=", cid(i), f"{j:04d}"), b"w%d.%d" % (i, j))
            for i in range(0, 40, 4)
            for j in range(3)
        ]
    )
    yield s
    s.close()


def test_read_many_equals_one_read_per_key(store: SqliteStore) -> None:
    wanted = [ck(cid(i)) for i in (5, 4, 4, 0, 38, 39, 2)] + [
        keys.checkpoints_dir(T, "="),  # a directory row: no record
        ("blobs", "ab", "ab" * 20),
    ]
    assert store.read_many(wanted) == [store.read(k) for k in wanted]
    assert store.read_many(wanted)[:3] == [None, b"rec4", b"rec4"]
    many = [ck(cid(i)) for i in range(600)]
    assert store.read_many(many) == [
        b"rec%d" % i if i % 2 == 0 and i < 40 else None for i in range(600)
    ]


def test_read_children_equals_a_listing_then_reads(store: SqliteStore) -> None:
    prefixes = [keys.writes_dir(T, "=", cid(i)) for i in (8, 1, 0, 8, 36, 37)]
    got = store.read_children(prefixes)
    for prefix, children in zip(prefixes, got, strict=True):
        names = store.list(prefix)
        assert children == [((*prefix, n), store.read((*prefix, n))) for n in names]
    assert [len(c) for c in got] == [3, 0, 3, 3, 3, 0]
    assert got[0][0] == ((*prefixes[0], "0000"), b"w8.0")
    assert store.read_children([]) == []
    assert store.read_many([]) == []


def test_remembered_answers_never_hide_a_commit(tmp_path: Path) -> None:
    """Answers are kept only while SQLite's data_version is unchanged: every commit,
    by this store's writer or by another connection (another process), is seen by
    the very next read of each kind."""
    mine = SqliteStore(tmp_path / "s", durability="none")
    other = SqliteStore(tmp_path / "s", durability="none")
    try:
        wdir = keys.writes_dir(T, "=", cid(1))

        def everything() -> tuple:
            return (
                mine.read(ck(cid(1))),
                mine.read_many([ck(cid(1)), ck(cid(2))]),
                mine.read_children([wdir]),
                mine.list_desc(keys.checkpoints_dir(T, "="), limit=1),
            )

        assert everything() == (None, [None, None], [[]], [])
        assert everything() == (None, [None, None], [[]], [])  # answered from the memo
        for writer, n in ((other, 1), (mine, 2), (other, 3)):
            writer.commit(write=[(ck(cid(1)), b"v%d" % n), (keys.write(T, "=", cid(1), "0"), b"w")])
            assert everything() == (
                b"v%d" % n,
                [b"v%d" % n, None],
                [[((*wdir, "0"), b"w")]],
                [cid(1)],
            )
        other.delete_tree(keys.checkpoints_dir(T, "="))
        assert mine.read(ck(cid(1))) is None
        assert mine.list_desc(keys.checkpoints_dir(T, "="), limit=1) == []
        assert mine.read_many([ck(cid(1)), ck(cid(2))]) == [None, None]
    finally:
        mine.close()
        other.close()
