"""Heads: the record that makes rolling a thread back visible.

Nothing references a namespace's newest checkpoint or its pending writes,
so deleting them would roll the thread back unnoticed. A namespace's head,
``{"latest": newest checkpoint id, "writes": its write records}``, is written
in the same transaction as each put and put_writes (sealed when the store is
encrypted); ``verify`` checks that the checkpoint it names exists, with at
least that many write records.

Concurrent writers can make a head lag, never lead, what is stored, so it
never raises a false alarm. Heads cost a read and a listing per put: they are
kept where that is cheap (an indexed local store) or where they matter most
(encrypted stores, whose heads cannot be forged).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from langgraph_persist import keys
from langgraph_persist.address import Address
from langgraph_persist.engine.reader import Reader
from langgraph_persist.engine.shapes import Head
from langgraph_persist.errors import CorruptRecordError
from langgraph_persist.records import Kind


class Heads:
    """Reads and writes namespace heads, one read-modify-write at a time per process."""

    def __init__(self, reader: Reader, *, kept: bool) -> None:
        self.reader = reader
        self.kept = kept
        self._locks: dict[tuple[str, str], threading.Lock] = {}
        self._locks_guard = threading.Lock()

    @contextlib.contextmanager
    def updating(self, a: Address) -> Iterator[None]:
        """Serializes this process's read-modify-write of a namespace's head (a put and
        the pending writes LangGraph saves beside it run on different threads). Across
        processes the head can lag, never lead (see the module docstring)."""
        if not self.kept:
            yield
            return
        with self._locks_guard:
            lock = self._locks.setdefault((a.t, a.n), threading.Lock())
        with lock:
            yield

    def decode(self, a: Address, data: bytes | None) -> Head | None:
        """The namespace's head from ``data``, the bytes a writer read with its other
        state in one call; one that cannot be read is treated as absent (``verify``
        reports it; a writer must not fail on bookkeeping)."""
        if data is None or not self.kept:
            return None
        key = keys.head(a.t, a.n)
        try:
            head: Head = self.reader.records.decode(data, Kind.HEAD, key)
        except CorruptRecordError:
            return None
        return head

    def item(self, a: Address, head: Head) -> tuple[keys.Key, bytes]:
        """The (key, record) that sets the head, for the writer's transaction."""
        key = keys.head(a.t, a.n)
        return key, self.reader.records.encode(Kind.HEAD, head, key)

    def after_put(
        self, a: Address, checkpoint_id: str, head: Head | None
    ) -> list[tuple[keys.Key, bytes]]:
        """What a put of ``checkpoint_id`` writes to the head (``head``, read under
        ``updating``): nothing when it already names a newer checkpoint (a fork of
        an older one)."""
        if not self.kept:
            return []
        if head is not None and head["latest"] > checkpoint_id:
            return []
        # writes may have arrived first (LangGraph saves checkpoints in the background)
        found = self.reader.store.count(keys.writes_dir(a.t, a.n, checkpoint_id))
        return [self.item(a, {"latest": checkpoint_id, "writes": found})]

    def after_writes(
        self, a: Address, checkpoint_id: str, head: Head | None
    ) -> list[tuple[keys.Key, bytes]]:
        """What one more write record of ``checkpoint_id`` writes to the head."""
        if head is None or head["latest"] != checkpoint_id:
            return []
        return [self.item(a, {"latest": head["latest"], "writes": head["writes"] + 1})]

    def rebuild(self, a: Address) -> None:
        """After a deliberate deletion (prune, drop, delete_for_runs, copy): the head
        names what is now the newest checkpoint."""
        if not self.kept:
            return
        store = self.reader.store
        with self.updating(a):
            latest = self.reader.latest_id(a)
            if latest is None:
                store.delete_many([keys.head(a.t, a.n)])
                return
            writes = len(store.list(keys.writes_dir(a.t, a.n, latest)))
            store.write_many([self.item(a, {"latest": latest, "writes": writes})])
