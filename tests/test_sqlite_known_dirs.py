"""A write inserts only the directory rows it does not know exist (store/sqlite_dirs.py).

The saving is measured here (no directory row inserted by a warm write), and
so is every way the knowledge can go stale: rows deleted by another
connection, by this process, or undone by a rollback. Each of those has a
negative control: the same test against a ``KnownDirs`` that misses that one
way fails, so the tests can tell.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import PersistSaver
from langgraph_persist.store import sqlite as sqlite_module
from langgraph_persist.store import sqlite_dirs
from langgraph_persist.store.sqlite import SqliteStore
from langgraph_persist.store.sqlite_dirs import KnownDirs

INSERT_DIR = "INSERT OR IGNORE INTO entries (dir, name, value) VALUES"


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def _put(saver: PersistSaver, thread_id: str, config: dict[str, Any] | None = None) -> Any:
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"count": 1}
    ckpt["channel_versions"] = {"count": saver.get_next_version(None, None)}
    return saver.put(config or cfg(thread_id), ckpt, {"source": "loop", "step": 0}, {"count": 1})


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every SQL statement the stores opened from now on run (SQLite's trace callback)."""
    seen: list[str] = []
    real_open = SqliteStore._open

    def traced(self: SqliteStore, uri: str) -> sqlite3.Connection:
        conn = real_open(self, uri)
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(SqliteStore, "_open", traced)
    yield seen


def _forgetting_nothing_on(monkeypatch: pytest.MonkeyPatch, *, version: bool) -> None:
    """Break ``KnownDirs``: ignore ``data_version`` (version=True) or ``forget``."""
    if version:

        def stale(self: KnownDirs, conn: sqlite3.Connection, wanted: Any) -> list[Any]:
            new = sorted(set(wanted) - self._known)
            self._known.update(new)
            return new

        monkeypatch.setattr(KnownDirs, "missing", stale)
    else:
        monkeypatch.setattr(KnownDirs, "forget", lambda self: None)


# -- the saving ---------------------------------------------------------------------------------


def _dir_inserts_of_a_warm_step(tmp_path: Path, statements: list[str]) -> list[str]:
    """The directory-row inserts (SQL with its arguments) of a thread's second step."""
    saver = PersistSaver(tmp_path / "s")
    config = _put(saver, "t")
    saver.put_writes(config, [("count", 2)], "task-1")
    statements.clear()
    config = _put(saver, "t", config)  # the thread's directories exist already
    saver.put_writes(config, [("count", 3)], "task-2")
    saver.close()
    return [sql for sql in statements if sql.startswith(INSERT_DIR)]


def test_a_warm_step_inserts_only_its_new_directory_row(
    tmp_path: Path, statements: list[str]
) -> None:
    """The one directory a second step adds: the new checkpoint's pending-writes folder."""
    inserts = _dir_inserts_of_a_warm_step(tmp_path, statements)
    assert len(inserts) == 1
    assert "VALUES ('threads/t/ns/=/w'," in inserts[0]


def test_negative_control_without_the_cache_every_write_inserts_them(
    tmp_path: Path, statements: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(KnownDirs, "missing", lambda self, conn, wanted: sorted(set(wanted)))
    assert len(_dir_inserts_of_a_warm_step(tmp_path, statements)) > 1


# -- rows deleted behind the cache ----------------------------------------------------------------


def _thread_written_again_after_delete(tmp_path: Path, *, by_other: bool) -> set[str]:
    """Write thread t, delete it (through another store, or this one), write it again:
    the threads a fresh reader then lists."""
    path = tmp_path / "s"
    saver = PersistSaver(path)
    _put(saver, "t")
    deleter = PersistSaver(path) if by_other else saver
    deleter.delete_thread("t")
    _put(saver, "t")  # a new run may reuse the id of a deleted thread
    saver.close()
    deleter.close()
    reader = PersistSaver(path)
    try:
        assert reader.get_tuple(cfg("t")) is not None  # the record is there either way
        return set(reader.threads())
    finally:
        reader.close()


@pytest.mark.parametrize("by_other", [True, False], ids=["other-connection", "this-process"])
def test_directory_rows_deleted_since_are_inserted_again(tmp_path: Path, by_other: bool) -> None:
    assert _thread_written_again_after_delete(tmp_path, by_other=by_other) == {"t"}


@pytest.mark.parametrize("by_other", [True, False], ids=["other-connection", "this-process"])
def test_negative_control_a_cache_that_misses_the_delete_hides_the_thread(
    tmp_path: Path, by_other: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    _forgetting_nothing_on(monkeypatch, version=by_other)
    assert _thread_written_again_after_delete(tmp_path, by_other=by_other) == set()


# -- rows undone by a rollback -------------------------------------------------------------------


def _listed_after_a_rolled_back_write(tmp_path: Path) -> list[str]:
    """A write that inserts a directory row and then fails, then a write below that row."""
    store = SqliteStore(tmp_path / "s")

    def fails_after_inserting(conn: sqlite3.Connection) -> None:
        store._insert_dirs(conn, {("", "d"), ("d", "e")})
        raise RuntimeError("injected: the call fails after its directory rows")

    with pytest.raises(RuntimeError, match="injected"):
        store._transact(fails_after_inserting, "write")
    store.commit(write=[(("d", "e", "k"), b"record")])
    listed = store.list(("d",))
    store.close()
    return listed


def test_directory_rows_of_a_rolled_back_write_are_inserted_again(tmp_path: Path) -> None:
    assert _listed_after_a_rolled_back_write(tmp_path) == ["e"]


def test_negative_control_without_the_rollback_hook_the_row_is_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_init = sqlite_module.GroupCommit.__init__

    def no_hook(self: Any, connect: Callable[..., Any], error: Callable[..., Any], *_: Any) -> None:
        real_init(self, connect, error)

    monkeypatch.setattr(sqlite_module.GroupCommit, "__init__", no_hook)
    assert _listed_after_a_rolled_back_write(tmp_path) == []


def _known_after_many_steps(tmp_path: Path, steps: int) -> int:
    saver = PersistSaver(tmp_path / "s")
    store = saver.store
    assert isinstance(store, SqliteStore)
    config = _put(saver, "t")
    for step in range(steps):
        saver.put_writes(config, [("count", step)], f"task-{step}")
        config = _put(saver, "t", config)
    assert len(list(saver.list(cfg("t")))) == steps + 1
    saver.close()
    return len(store._dirs._known)


def test_what_is_known_stays_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One directory per checkpoint with writes: a long-running writer must not keep them all."""
    monkeypatch.setattr(sqlite_dirs, "MAX_KNOWN", 32)
    assert _known_after_many_steps(tmp_path, 100) <= 32 + 10


def test_negative_control_an_unbounded_cache_grows_with_the_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_dirs, "MAX_KNOWN", 1 << 30)
    assert _known_after_many_steps(tmp_path, 100) > 100
