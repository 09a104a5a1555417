"""A damaged index entry is reported as damage, never as a KeyError.

SQLite keeps ``dir`` and ``name`` twice: in the table's row and in the
primary-key index that every read seeks, and reads them back from the index.
A byte flipped in the index's copy leaves the entry where it was among its
neighbours; a scan of its directory walks onto it and answers a row of a
directory nobody asked for. That once surfaced as a raw ``KeyError`` from
``read_children`` and a traceback from the CLI (``history``, ``export``); it is
``CorruptStoreError``, and so is a byte SQLite cannot decode as UTF-8 there.

The bytes flipped are found by searching the closed database for the index's
cell (``dir`` and ``name`` not followed by the record's value), never by offset.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from langgraph_persist import PersistSaver, keys
from langgraph_persist.cli import cli
from langgraph_persist.errors import CorruptStoreError, StoreError
from langgraph_persist.store import sqlite as sqlite_module
from langgraph_persist.store.sqlite import DATABASE, SqliteStore
from tests.graphs import chat_graph, human

THREAD = "gamma"


def cfg(thread_id: str = THREAD) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def _build(store: Path) -> tuple[keys.Key, keys.Key, dict]:
    """A thread of real graph steps; returns two pending writes of one checkpoint, in
    key order, and that checkpoint's config."""
    saver = PersistSaver(store)
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("hello"), cfg())
    latest = graph.get_state(cfg()).config
    for task in ("task-a", "task-b"):  # two records in one directory, as parallel tasks write
        saver.put_writes(latest, [("note", task)], task_id=task)
    writes = sorted(
        k
        for k, _size, _mtime in saver.store.walk(keys.threads_root())
        if len(k) == 7 and k[4] == "w"
    )
    first, second = next((a, b) for a, b in itertools.pairwise(writes) if a[:-1] == b[:-1])
    config = {
        "configurable": {"thread_id": THREAD, "checkpoint_ns": "", "checkpoint_id": first[-2]}
    }
    saver.close()
    return first, second, config


THREAD_BYTE = len("threads/")
"""Where the thread's name starts in ``dir``."""


def _flip_index_entry(
    store: Path, key: keys.Key, where: int, new_byte: Callable[[int], int]
) -> None:
    """Rewrite one byte of the *index's* copy of ``key``'s ``dir`` and ``name`` (``where``
    counts from the start of ``dir``; ``name`` follows it directly).

    They are stored twice: in the table's cell, followed by the value, and in
    the index's cell, followed by the rowid. The index's is the occurrence not
    followed by the value. The entry keeps its place among its neighbours, so a
    seek by the key before it walks onto it and reads the damaged copy (SQLite
    reads ``dir`` and ``name`` from the index it seeks).
    """
    with contextlib.closing(SqliteStore(store, read_only=True)) as s:
        value = s.read(key)
    assert value is not None
    both = "/".join(key[:-1]).encode() + key[-1].encode()  # dir, then name
    db = store / DATABASE
    data = bytearray(db.read_bytes())
    found, at = [], data.find(both)
    while at >= 0:
        found.append(at)
        at = data.find(both, at + 1)
    table = [i for i in found if data.startswith(value[:16], i + len(both))]
    index = [i for i in found if i not in table]
    assert len(table) == 1 and len(index) == 1, (table, index)
    i = index[0] + where
    data[i] = new_byte(data[i])
    db.write_bytes(bytes(data))


def _every_read_path(store: Path, config: dict) -> Iterator[str]:
    """Each read path that reaches the damaged row, as a label once it failed typed."""
    saver = PersistSaver(store)
    try:
        for label, read in (
            ("get_tuple", lambda: saver.get_tuple(config)),
            ("list", lambda: list(saver.list(cfg()))),
        ):
            with pytest.raises(CorruptStoreError, match="damaged") as info:
                read()
            assert info.value.store == saver.store.describe() or info.value.store
            yield label
    finally:
        saver.close()
    for command in (["history", THREAD], ["export", THREAD, "-o", str(store.parent / "x.lgps")]):
        result = CliRunner().invoke(cli, ["--store", str(store), *command])
        assert result.exit_code not in (0, 1), (command, result.output, result.exception)
        assert "damaged" in result.output and "Traceback" not in result.output, result.output
        assert not isinstance(result.exception, KeyError)
        yield command[0]


def _check_reports_damage(store: Path, config: dict) -> None:
    assert list(_every_read_path(store, config)) == ["get_tuple", "list", "history", "export"]


def _damaged(store: Path, case: str) -> tuple[keys.Key, keys.Key, dict]:
    """The store with the index entry of a checkpoint's second pending write damaged:
    ``"other-dir"`` makes its ``dir`` name thread ``famma``, ``"not-utf8"`` puts a
    byte no UTF-8 text holds at the start of its ``name``."""
    first, second, config = _build(store)
    if case == "other-dir":
        _flip_index_entry(store, second, THREAD_BYTE, lambda b: b ^ 0x01)
    else:
        _flip_index_entry(store, second, len("/".join(second[:-1])), lambda b: 0xFF)
    return first, second, config


CASES = ["other-dir", "not-utf8"]


@pytest.mark.parametrize("case", CASES)
def test_table_and_index_disagreeing_is_corrupt_store(tmp_path: Path, case: str) -> None:
    store = tmp_path / "s"
    _first, _second, config = _damaged(store, case)
    _check_reports_damage(store, config)


def test_undamaged_store_reads_through_every_path(tmp_path: Path) -> None:
    """The checks above pass nothing on a sound store: it is the damage they report."""
    store = tmp_path / "s"
    first, second, config = _build(store)
    saver = PersistSaver(store)
    assert len(saver.get_tuple(config).pending_writes) >= 2  # type: ignore[union-attr]
    assert list(saver.list(cfg()))
    assert saver.store.read_many([first, second]) == [
        saver.store.read(first),
        saver.store.read(second),
    ]
    saver.close()
    with pytest.raises(pytest.fail.Exception):  # and the check fails when nothing is damaged
        _check_reports_damage(store, config)


def test_negative_control_without_the_check_a_stray_row_is_a_keyerror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``_only_asked`` a no-op, the same damage is the raw KeyError the tester
    met, and the check above fails."""
    store = tmp_path / "s"
    first, _second, config = _damaged(store, "other-dir")
    monkeypatch.setattr(SqliteStore, "_only_asked", lambda self, answered, asked: None)
    with pytest.raises(KeyError):
        _check_reports_damage(store, config)
    with contextlib.closing(SqliteStore(store, read_only=True)) as s, pytest.raises(KeyError):
        s.read_children([first[:-1]])


def test_negative_control_undecodable_text_was_a_plain_store_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the UTF-8 words in ``_CORRUPT_WORDS`` the damage is a plain
    ``StoreError`` ("could not read"), and the check above fails."""
    store = tmp_path / "s"
    _first, _second, config = _damaged(store, "not-utf8")
    monkeypatch.setattr(sqlite_module, "_CORRUPT_WORDS", ("malformed", "not a database", "corrupt"))
    with pytest.raises(StoreError, match="decode") as info:
        _check_reports_damage(store, config)
    assert not isinstance(info.value, CorruptStoreError)
