"""Directory rows a write need not insert: the ones this process saw committed.

Every key needs a row for each of its ancestors (sqlite.py), and every write
used to insert all of them (``INSERT OR IGNORE``): a thread's hundredth
checkpoint re-inserted the same five directory rows, and a blob's two. That
was 13 of a graph step's 33 SQLite statements, each one more release and
retake of the GIL for the threads that write at once.

``KnownDirs`` remembers the directory rows this process's writer connection
committed or found, and lets a write insert only the others. What it
remembers is true only while no row was deleted since, and it forgets
everything whenever that may have happened:

* another connection committed (another process, another ``SqliteStore`` on
  the same file, a ``salvage``): ``PRAGMA data_version`` on the writer
  connection changes, and it is read *inside* the write transaction, where
  no other connection can commit until this one ends;
* this process deleted something (``forget`` from ``delete_many`` and
  ``delete_tree``, in their own transaction's work, so before any later
  write's work runs);
* a transaction or a call's savepoint was rolled back (``forget`` from the
  group commit's rollback hook): the rows it inserted are gone again;
* the writer connection is another one (reopened, forked).

Only the group-commit leader calls it, on the writer connection, one call's
work after another: no lock is needed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

DirRow = tuple[str, str]
"""``(dir, name)`` of a directory row."""

MAX_KNOWN = 4096
"""Rows remembered at most. Each checkpoint with pending writes has a directory of
its own, so a long-running process would otherwise remember one row per
checkpoint it ever wrote; past this, it starts again from nothing (a few
redundant inserts, never a missing row)."""


class KnownDirs:
    """Directory rows known to exist, valid for one writer connection and data version."""

    def __init__(self) -> None:
        self._known: set[DirRow] = set()
        self._conn: sqlite3.Connection | None = None
        self._version: int | None = None

    def missing(self, conn: sqlite3.Connection, wanted: Iterable[DirRow]) -> list[DirRow]:
        """The rows of ``wanted`` to insert (sorted), inside ``conn``'s write transaction.

        They count as known from now on: the caller inserts them in this
        transaction, and a rollback makes the group commit call ``forget``.
        """
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if conn is not self._conn or version != self._version or len(self._known) > MAX_KNOWN:
            self._known.clear()
            self._conn = conn
            self._version = version
        new = sorted(set(wanted) - self._known)
        self._known.update(new)
        return new

    def forget(self) -> None:
        """Know nothing: the next write inserts every directory row it needs."""
        self._known.clear()
        self._conn = None
        self._version = None
