"""Group commit: many threads' writes share one SQLite transaction, and so one fsync.

Callers queue their work. One of them, the *leader*, takes everything queued
and runs it in one ``BEGIN IMMEDIATE`` transaction, each call in its own
savepoint so one failing call does not fail the others, and commits once;
the others wait for it and return its verdict on their call. When nothing
else is queued, the call runs alone and needs no savepoint (the transaction
isolates it). 16 threads writing at once share fsyncs, and a single writer
pays nothing for the machinery.

Why a leader among the callers, not a background thread: nothing outlives
the store, a call's exceptions surface in the caller's own thread, and
``fork()`` needs only ``reset`` (a child starts with an empty queue).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

Work = Callable[[sqlite3.Connection], None]
"""One call's share of a group commit: statements run inside a savepoint."""


@dataclass
class _Call:
    work: Work
    sync: bool = True
    done: bool = False
    error: BaseException | None = None


class GroupCommit:
    """Runs queued ``Work`` in shared transactions (see module docstring)."""

    def __init__(
        self,
        connect: Callable[[bool], sqlite3.Connection],
        error: Callable[[sqlite3.Error, str], BaseException],
        rolled_back: Callable[[], None] = lambda: None,
    ) -> None:
        """``connect(sync)`` gives the write connection, set to sync the commit or
        not; ``error`` turns an SQLite error into the store's own; ``rolled_back``
        runs (in the leader, before any other work) whenever a call's statements
        were undone, so state kept beside the database can be dropped with them."""
        self._connect = connect
        self._error = error
        self._rolled_back = rolled_back
        self.calls = 0
        """Write calls committed by this process."""
        self.transactions = 0
        """Transactions that committed them: fewer than ``calls`` when calls were grouped."""
        self.reset()

    def reset(self) -> None:
        """Forget every queued call (a forked child inherits none)."""
        self._cv = threading.Condition()
        self._queue: list[_Call] = []
        self._leading = False

    def run(self, work: Work, doing: str, *, sync: bool = True) -> None:
        """Run ``work`` in a group commit; raise its own error, if it had one."""
        call = _Call(work, sync)
        with self._cv:
            self._queue.append(call)
            while self._leading and not call.done:
                self._cv.wait()
            if not call.done:
                self._leading = True
                batch, self._queue = self._queue, []
                self.calls += len(batch)
                self.transactions += 1
            else:
                batch = []
        if batch:
            try:
                self._commit(batch, doing)
            except BaseException:  # interrupted mid-transaction: nothing is known of it
                self._rolled_back()
                raise
            finally:
                with self._cv:
                    for c in batch:
                        c.done = True
                    self._leading = False
                    self._cv.notify_all()
        if call.error is not None:
            raise call.error

    def _failed(self, exc: BaseException, doing: str) -> BaseException:
        return self._error(exc, doing) if isinstance(exc, sqlite3.Error) else exc

    def _commit(self, batch: Sequence[_Call], doing: str) -> None:
        """One transaction for the whole batch; a savepoint per call isolates failures."""
        try:
            conn = self._connect(any(c.sync for c in batch))
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            error = self._error(exc, doing)
            for c in batch:
                c.error = error
            return
        try:
            if len(batch) == 1:  # alone: the transaction itself isolates the call
                try:
                    batch[0].work(conn)
                except BaseException as exc:
                    conn.execute("ROLLBACK")
                    self._rolled_back()
                    batch[0].error = self._failed(exc, doing)
                    return
            else:
                for c in batch:
                    conn.execute("SAVEPOINT call")
                    try:
                        c.work(conn)
                    except BaseException as exc:
                        conn.execute("ROLLBACK TO call")
                        self._rolled_back()
                        c.error = self._failed(exc, doing)
                    conn.execute("RELEASE call")
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self._rolled_back()
            error = self._error(exc, doing)
            for c in batch:
                c.error = c.error or error
