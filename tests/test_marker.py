"""The FORMAT marker is read strictly: a hostile or future marker is a typed, explained error."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import ConfigurationError, PersistSaver, UnsupportedFormatError
from langgraph_persist.cli import cli
from langgraph_persist.errors import CorruptStoreError
from langgraph_persist.store.files import UPGRADE_STAGING, FileStore
from langgraph_persist.store.marker import MARKER, marker_body
from langgraph_persist.store.sqlite import DATABASE, SqliteStore
from langgraph_persist.upgrade import upgrade

pytestmark = pytest.mark.timeout(60)

HOSTILE = [
    b"not json",
    b"[1, 2]",
    b'{"format": "langgraph-persist", "version": "2"}',
    b'{"format": "langgraph-persist", "version": null}',
    b'{"format": "langgraph-persist", "version": 1, "layout": 7}',
    b'{"format": "someone-else", "version": 1}',
    b"{" + b" " * 10_000 + b"}",
]


@pytest.fixture(params=["sqlite", "files"])
def store_dir(request: pytest.FixtureRequest, tmp_path: str) -> str:
    path = os.path.join(tmp_path, "store")
    saver = PersistSaver(path, layout=request.param)
    saver.close()
    return path


def _write_marker(path: str, body: bytes) -> None:
    with open(os.path.join(path, MARKER), "wb") as fh:
        fh.write(body)


@pytest.mark.parametrize("body", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_marker_is_a_configuration_error(store_dir: str, body: bytes) -> None:
    _write_marker(store_dir, body)
    with pytest.raises(ConfigurationError):
        PersistSaver(store_dir)


def test_future_version_is_refused_by_name(store_dir: str) -> None:
    _write_marker(store_dir, marker_body(99, "sqlite"))
    with pytest.raises(UnsupportedFormatError, match="format version 99"):
        PersistSaver(store_dir)


def test_control_the_marker_the_store_wrote_opens(store_dir: str) -> None:
    """Negative control: the tests above fail for the marker, not for the store."""
    with open(os.path.join(store_dir, MARKER), "rb") as fh:
        _write_marker(store_dir, fh.read())
    PersistSaver(store_dir).close()


# -- a marker that disagrees with the database beside it ----------------------------------------


def _sqlite_store_with_a_thread(path: str) -> dict:
    """A real SQLite store holding one acknowledged checkpoint; returns its config."""
    saver = PersistSaver(path)
    config = saver.put(
        {"configurable": {"thread_id": "u1", "checkpoint_ns": ""}},
        empty_checkpoint(),
        {"source": "input", "step": -1},
        {},
    )
    saver.close()
    return config


def _refused(path: str, match: str, **options: Any) -> None:
    """Opening ``path`` (read-write, read-only, and from the CLI) is ``CorruptStoreError``."""
    for read_only in (False, True):
        with pytest.raises(CorruptStoreError, match=match):
            PersistSaver(path, read_only=read_only, **options).close()
    result = CliRunner().invoke(cli, ["--store", path, "threads"])
    assert result.exit_code not in (0, 1), result.output
    assert "Traceback" not in result.output and re.search(match, result.output)


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_an_sqlite_marker_without_its_database_is_corrupt(tmp_path: Path, how: str) -> None:
    """Truncated to 0 bytes (the tester's case) or deleted, ``store.db`` once opened as
    a new, empty store: the acknowledged checkpoint silently gone."""
    path = str(tmp_path / "s")
    _sqlite_store_with_a_thread(path)
    database = os.path.join(path, DATABASE)
    if how == "empty":
        os.truncate(database, 0)
    else:
        os.remove(database)
    _refused(path, f"store.db is {how} but FORMAT says it is an SQLite store")
    assert not os.path.exists(database) or os.path.getsize(database) == 0  # nothing written


def test_a_new_store_never_has_a_marker_without_a_database(tmp_path: Path) -> None:
    """Why the refusal above cannot hit a new store: the marker is written last, after
    the database's first page. A store killed before its marker is simply new again."""
    path = str(tmp_path / "s")
    PersistSaver(path).close()
    assert os.path.getsize(os.path.join(path, DATABASE)) > 0
    os.remove(os.path.join(path, MARKER))  # as if killed before the marker
    os.truncate(os.path.join(path, DATABASE), 0)
    saver = PersistSaver(path)
    assert saver.get_tuple({"configurable": {"thread_id": "u1"}}) is None
    saver.close()


def test_a_files_marker_over_an_sqlite_store_is_refused(tmp_path: Path) -> None:
    """A FORMAT rewritten to say the file layout (version 1) once opened a file store
    that ignored ``store.db``; whichever layout is asked for, it is refused."""
    path = str(tmp_path / "s")
    _sqlite_store_with_a_thread(path)
    _write_marker(path, marker_body(1))
    _refused(path, r"holds an SQLite database \(store.db\) but its FORMAT says the file layout")
    with pytest.raises(CorruptStoreError, match=r"store\.db"):
        PersistSaver(path, layout="files")


def test_an_upgrade_interrupted_at_its_switch_still_opens_and_finishes(tmp_path: Path) -> None:
    """The one legitimate version-1 marker beside a ``store.db``: the upgrade moved the
    database in and died before replacing the marker (its staging directory is there)."""
    path = str(tmp_path / "s")
    saver = PersistSaver(path, layout="files")
    config = saver.put(
        {"configurable": {"thread_id": "u1", "checkpoint_ns": ""}},
        empty_checkpoint(),
        {"source": "input", "step": -1},
        {},
    )
    saver.close()
    staging = os.path.join(path, UPGRADE_STAGING)
    SqliteStore(staging).close()
    os.replace(os.path.join(staging, DATABASE), os.path.join(path, DATABASE))
    saver = PersistSaver(path)
    assert saver.get_tuple(config) is not None
    saver.close()
    upgrade(path)
    saver = PersistSaver(path)
    assert saver.get_tuple(config) is not None
    saver.close()


def test_negative_control_without_the_checks_the_stores_open_silently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With both checks off, each damaged store opens without an error and has lost
    its checkpoint: the tests above catch exactly that."""
    monkeypatch.setattr(SqliteStore, "_refuse_lost_database", lambda self: None)
    monkeypatch.setattr(FileStore, "_refuse_sqlite_database", lambda self: None)
    for name, damage in (
        ("empty", lambda p: os.truncate(os.path.join(p, DATABASE), 0)),
        ("files", lambda p: _write_marker(p, marker_body(1))),
    ):
        path = str(tmp_path / name)
        config = _sqlite_store_with_a_thread(path)
        damage(path)
        with pytest.raises(pytest.fail.Exception, match="DID NOT RAISE"):
            _refused(path, r"store\.db")
        saver = PersistSaver(path)
        assert saver.get_tuple(config) is None  # the acknowledged checkpoint: gone, silently
        saver.close()
