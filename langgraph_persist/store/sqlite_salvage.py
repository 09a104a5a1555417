"""Salvage: rebuild a damaged SQLite database from every row that can still be read.

Rows are copied by rowid range into a new database; a range that fails is
halved until single rows, so one damaged page costs only its rows. The
damaged file is kept beside the store (``store.db.damaged-<time>``), never
deleted. What the rows held is not trusted: ``verify`` checks every record
afterwards, and repairs from another tier what was lost.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable


def salvage_database(database: str, create_schema: Callable[[sqlite3.Connection], None]) -> int:
    """Replace ``database`` by a copy of its readable rows; returns how many were kept.

    The caller's connections must be closed: the file is replaced under them.
    """
    old = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    target = database + ".salvage"
    for leftover in (target, target + "-wal", target + "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(leftover)
    new = sqlite3.connect(target, isolation_level=None)
    try:
        new.execute("PRAGMA journal_mode = WAL")
        create_schema(new)
        try:
            top = int(old.execute("SELECT max(rowid) FROM entries").fetchone()[0] or 0)
        except sqlite3.Error:  # the table's root is damaged: no row is smaller than 16 bytes
            top = max(1, os.path.getsize(database) // 16)
        new.execute("BEGIN")
        kept = _copy_rows(old, new, 1, top)
        new.execute("COMMIT")
        new.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        new.close()
        old.close()
    stamp = time.strftime("%Y%m%dT%H%M%S")
    os.replace(database, f"{database}.damaged-{stamp}")
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.replace(database + suffix, f"{database}.damaged-{stamp}{suffix}")
    os.replace(target, database)
    return kept


def _copy_rows(old: sqlite3.Connection, new: sqlite3.Connection, low: int, high: int) -> int:
    """Copy the readable rows with rowid in [low, high]; halve ranges that fail to read."""
    try:
        rows = old.execute(
            "SELECT dir, name, value FROM entries WHERE rowid BETWEEN ? AND ?", (low, high)
        ).fetchall()
    except sqlite3.Error:
        if low >= high:
            return 0  # this row's page is gone
        mid = (low + high) // 2
        return _copy_rows(old, new, low, mid) + _copy_rows(old, new, mid + 1, high)
    new.executemany("INSERT OR IGNORE INTO entries (dir, name, value) VALUES (?, ?, ?)", rows)
    return len(rows)
