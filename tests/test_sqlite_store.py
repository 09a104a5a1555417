"""What the SQLite layout promises beyond the store contract (langgraph_persist.testing).

* one transaction per call, shared by concurrent callers (group commit);
* the durability settings reach SQLite, and a durable put really fsyncs;
* a damaged database file is a typed error naming the store, never a raw
  ``sqlite3`` exception;
* a store is a handful of files, and opening one never writes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import CorruptRecordError, PersistSaver, StoreError
from langgraph_persist.errors import CorruptStoreError
from langgraph_persist.store.group_commit import GroupCommit
from langgraph_persist.store.sqlite import SqliteStore
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def _put_many(saver: PersistSaver, thread_id: str, n: int) -> None:
    config = cfg(thread_id)
    for step in range(n):
        ckpt = empty_checkpoint()
        ckpt["channel_values"] = {"count": step}
        ckpt["channel_versions"] = {"count": saver.get_next_version(None, None)}
        config = saver.put(config, ckpt, {"step": step, "source": "loop"}, {"count": 1})


def _sixteen_writers(saver: PersistSaver) -> None:
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            _put_many(saver, f"t{i}", 25)
        except BaseException as exc:  # reported to the test, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    for i in range(16):
        tup = saver.get_tuple(cfg(f"t{i}"))
        assert tup is not None and tup.checkpoint["channel_values"] == {"count": 24}


def test_concurrent_writers_share_commits(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    store = saver.store
    assert isinstance(store, SqliteStore)
    _sixteen_writers(saver)
    assert store.calls >= 16 * 25  # every put committed ...
    assert store.transactions < store.calls  # ... and some shared a transaction (one fsync)


def test_group_commit_negative_control(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A store that commits every call on its own fails the assertion above."""
    saver = PersistSaver(tmp_path / "s")
    store = saver.store
    assert isinstance(store, SqliteStore)
    real_commit = GroupCommit._commit

    def one_at_a_time(self: GroupCommit, batch: list, doing: str) -> None:
        for call in batch:
            real_commit(self, [call], doing)
            self.transactions += 1
        self.transactions -= 1

    monkeypatch.setattr(GroupCommit, "_commit", one_at_a_time)
    _sixteen_writers(saver)
    assert store.transactions == store.calls  # no sharing: the real test would fail


@pytest.mark.parametrize(("durability", "level"), [("fsync", 2), ("none", 1)])
def test_durability_reaches_sqlite(tmp_path: Path, durability: str, level: int) -> None:
    """FULL (2) syncs the WAL at every commit; NORMAL (1) only at checkpoints."""
    store = SqliteStore(tmp_path / "s", durability=durability)  # type: ignore[arg-type]
    conn = store._writer()
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == level
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    store.close()


_WRITER = """
import sys
from langgraph.checkpoint.base import empty_checkpoint
from langgraph_persist import PersistSaver
saver = PersistSaver(sys.argv[1], durability=sys.argv[2])
config = {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}
for step in range(40):
    if step:
        saver.put_writes(config, [("count", step)], f"task-{step}")
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"count": step}
    ckpt["channel_versions"] = {"count": saver.get_next_version(None, None)}
    config = saver.put(config, ckpt, {"step": step}, {"count": 1})
"""


_STRACE = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync"]


def _fsyncs(tmp_path: Path, durability: str) -> int:
    """fsync/fdatasync calls a process makes for 40 puts, counted by strace."""
    store = tmp_path / durability
    PersistSaver(store).close()  # creating the store is not what we count
    out = tmp_path / f"{durability}.strace"
    subprocess.run(
        [*_STRACE, "-o", str(out), sys.executable, "-c", _WRITER, str(store), durability],
        check=True,
        cwd=ROOT,
        timeout=120,
    )
    return len(re.findall(r"\b(fsync|fdatasync)\(", out.read_text()))


def test_a_durable_put_syncs_and_at_most_once(tmp_path: Path) -> None:
    """40 steps (put_writes + put): a sync per put, and about one per step, not eight.

    put_writes defers its sync to the next put (docs/reliability.md), so a step
    is one fsync of the WAL."""
    durable = _fsyncs(tmp_path, "fsync")
    assert 40 <= durable <= 40 + 10, durable
    # negative control: the opt-out syncs only when the WAL is checkpointed
    assert _fsyncs(tmp_path, "none") < 40


def _flip_database_page(db: Path, page: int) -> None:
    data = bytearray(db.read_bytes())
    start = 4096 * (page - 1)
    data[start : start + 64] = b"\xa5" * 64
    db.write_bytes(bytes(data))


def _populated(tmp_path: Path) -> Path:
    store = tmp_path / "s"
    saver = PersistSaver(store)
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(30):
        graph.invoke(human(f"hello {i} " * 60), cfg(f"t{i}"))
    saver.close()  # the last close checkpoints the WAL into store.db
    assert not (store / "store.db-wal").exists()
    return store


def test_a_damaged_database_page_is_a_typed_error_naming_the_store(tmp_path: Path) -> None:
    store = _populated(tmp_path)
    pages = (store / "store.db").stat().st_size // 4096
    assert pages > 4
    for page in range(2, pages + 1):
        _flip_database_page(store / "store.db", page)
    saver = PersistSaver(store, read_only=True)  # what verify and the CLI's views use
    with pytest.raises((CorruptStoreError, CorruptRecordError)) as info:
        for i in range(30):
            saver.get_tuple(cfg(f"t{i}"))
    if isinstance(info.value, CorruptStoreError):
        assert str(store) in str(info.value) and "damaged" in str(info.value)
    report = saver.verify()
    assert not report.ok
    assert any(str(store) in d.location for d in report.damaged), report.damaged


def test_a_destroyed_header_is_a_typed_error(tmp_path: Path) -> None:
    store = _populated(tmp_path)
    _flip_database_page(store / "store.db", 1)
    with pytest.raises((CorruptStoreError, StoreError)) as info:
        PersistSaver(store).get_tuple(cfg("t0"))
    assert "damaged" in str(info.value) or "not a" in str(info.value)


def test_a_store_is_a_handful_of_files(tmp_path: Path) -> None:
    store = _populated(tmp_path)
    assert sorted(p.name for p in store.iterdir()) == ["FORMAT", "locks", "store.db"]


def test_os_litter_in_a_new_directory_is_not_a_foreign_store(tmp_path: Path) -> None:
    target = tmp_path / "new"
    target.mkdir()
    (target / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    (target / "Thumbs.db").write_bytes(b"junk")
    saver = PersistSaver(target)
    chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
    assert saver.verify().ok
    (target / "notes.txt").write_text("a user's notes beside the store")
    assert PersistSaver(target).get_tuple(cfg("t")) is not None
    assert PersistSaver(target).verify().ok


def test_forked_child_opens_its_own_connections(tmp_path: Path) -> None:
    """A connection must never cross fork(): the child writes through its own."""
    saver = PersistSaver(tmp_path / "s")
    _put_many(saver, "parent", 3)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through its exit status
        code = 1
        try:
            _put_many(saver, "child", 3)
            tup = saver.get_tuple(cfg("child"))
            code = 0 if tup and tup.checkpoint["channel_values"] == {"count": 2} else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    _put_many(saver, "parent", 3)
    assert saver.get_tuple(cfg("child")) is not None
    assert saver.verify().ok


def test_backup_copies_a_consistent_database(tmp_path: Path) -> None:
    store = _populated(tmp_path)
    saver = PersistSaver(store)
    dest = tmp_path / "copy"
    dest.mkdir()
    shutil.copy(store / "FORMAT", dest / "FORMAT")
    assert isinstance(saver.store, SqliteStore)
    saver.store.backup(str(dest / "store.db"))
    copy = PersistSaver(dest)
    assert copy.verify().ok
    for i in range(30):
        assert copy.get_tuple(cfg(f"t{i}")) == saver.get_tuple(cfg(f"t{i}"))


def test_a_damaged_database_is_rebuilt_from_the_hot_tier(tmp_path: Path, redis_url: str) -> None:
    """verify(repair=True) salvages the readable rows and restores the rest from Redis."""
    store = tmp_path / "s"
    saver = PersistSaver(store, redis=redis_url)
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(30):
        graph.invoke(human(f"hello {i} " * 60), cfg(f"t{i}"))
    expected = {t.config["configurable"]["checkpoint_id"]: t.checkpoint for t in saver.list(None)}
    saver.close()
    pages = (store / "store.db").stat().st_size // 4096
    for page in range(pages // 2, pages + 1):  # the second half of the database is gone
        _flip_database_page(store / "store.db", page)
    repaired = PersistSaver(store, redis=redis_url)
    report = repaired.verify(repair=True)
    assert report.ok, report.damaged
    assert any("store damaged" in d.reason and d.repaired for d in report.damaged)
    got = {t.config["configurable"]["checkpoint_id"]: t.checkpoint for t in repaired.list(None)}
    assert got == expected
    assert PersistSaver(store).verify().ok  # the cold tier alone is whole again
    assert list(store.glob("store.db.damaged-*"))  # the damaged file is kept, not deleted


def test_negative_control_salvage_alone_loses_the_damaged_rows(tmp_path: Path) -> None:
    """Without a hot tier the same damage is only partly repairable: verify says so."""
    store = _populated(tmp_path)
    pages = (store / "store.db").stat().st_size // 4096
    for page in range(pages // 2, pages + 1):
        _flip_database_page(store / "store.db", page)
    saver = PersistSaver(store)
    report = saver.verify(repair=True)
    assert any("store damaged" in d.reason and d.repaired for d in report.damaged)
    assert len(list(saver.list(None))) < 30 * 2  # rows on the damaged pages are gone
