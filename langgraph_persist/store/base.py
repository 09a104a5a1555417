"""The storage port: what the engine needs from a tier, and nothing more.

Keys are tuples of safe names built by ``keys.py``; values are opaque bytes
(records, see ``records.py``). The contract every adapter keeps:

* ``write_many`` makes each item visible atomically (a reader sees the old
  bytes or the new bytes, never a mix) and, when it returns, durable as the
  adapter's durability policy promises. Items of one call may become visible
  in any order: callers that need an order (content before the record that
  references it) make two calls, or one ``commit``.
* ``create_many`` is ``write_many`` for content-addressed keys: an existing
  key is left as it is (same address, same content).
* ``commit`` is what one checkpoint write needs: new content plus the record
  that references it. Transactional stores (``SqliteStore``) apply it as one
  transaction, so no crash can leave half of it; the default applies the
  content first and the record second, so a crash leaves at worst
  unreferenced content, never a record pointing at nothing.
* ``list`` returns the child names under a prefix, sorted, one level deep;
  ``list_desc`` a page of them, newest (greatest) first, which indexed stores
  answer without listing everything (latest checkpoint, ``list(limit=10)``).
* ``delete_tree`` makes a whole prefix disappear at once (as far as the
  medium allows) and then removes it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from typing import Any, Protocol

from langgraph_persist.errors import ConfigurationError
from langgraph_persist.facets import Scalar
from langgraph_persist.keys import Key

_NO_PINS = "{method} needs a Redis hot tier (PersistSaver(..., redis=...)); {store} has none"

Names = list[str]
Listings = list[Names]
Children = list[list[tuple[Key, bytes]]]
"""(key, record) pairs per prefix (``read_children``)."""
"""Child names per prefix (module-level: inside the class ``list`` is the method)."""


class Store(Protocol):
    """A key -> bytes store with atomic writes.

    Adapters subclass it explicitly, so they inherit the default ``commit``
    and ``list_desc`` below and override them only where the medium can do
    better (one transaction, an index).
    """

    seeks_pages: bool = False
    """Whether ``list_desc`` seeks an index (its cost grows with ``limit``, not with
    the listing). Callers walking a long listing then ask for pages; otherwise
    they ask once for everything."""

    def describe(self) -> str:
        """A short human-readable name for logs and errors (``file:/path``)."""
        ...

    def read(self, key: Key) -> bytes | None:
        """The bytes at ``key``, or ``None`` when absent."""
        ...

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        """``read`` for several keys, in one round trip where the medium allows."""
        ...

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Atomically replace each key's value; durable when this returns."""
        ...

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Write content-addressed items whose keys are absent."""
        ...

    def commit(
        self,
        *,
        create: Sequence[tuple[Key, bytes]] = (),
        write: Sequence[tuple[Key, bytes]] = (),
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        """``create_many(create)`` and ``write_many(write)`` as one durable step.

        The default makes ``create`` durable before ``write`` starts (two steps);
        a transactional store overrides it with one atomic transaction.

        ``defer_sync``: the caller accepts that this step survives a killed
        process at once but a power cut only once the store's *next* synced
        commit is done. Only a store whose log makes a later sync cover every
        earlier commit (SQLite's WAL) uses it; the others sync as always.

        ``facets``: JSON facets of some of the records (facets.py), for a store
        that can filter on them (``list_desc(facets=...)``); the others drop them.
        """
        if create:
            self.create_many(create)
        if write:
            self.write_many(write)

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        """Whether each key is present."""
        ...

    def list(self, prefix: Key) -> list[str]:
        """Sorted child names directly under ``prefix`` (empty when absent)."""
        ...

    def list_desc(
        self,
        prefix: Key,
        *,
        before: str | None = None,
        limit: int | None = None,
        facets: Mapping[str, Scalar] | None = None,
    ) -> Names:
        """Up to ``limit`` child names under ``prefix`` that sort below ``before``,
        greatest first. The default slices ``list``; indexed stores seek.

        ``facets`` may narrow the answer to the records whose facets can match
        (facets.py); the answer stays a superset of those, so a store that cannot
        evaluate them ignores them, as this default does."""
        names = self.list(prefix)
        if before is not None:
            names = names[: bisect.bisect_left(names, before)]
        return names[::-1][:limit]

    def delete_many(self, keys: Sequence[Key]) -> None:
        """Remove keys; absent keys are ignored."""
        ...

    def delete_tree(self, prefix: Key) -> None:
        """Remove everything under ``prefix``."""
        ...

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Make each destination hold the source's bytes, sharing storage if possible."""
        ...

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        """``list`` for several prefixes, in one round trip where the medium allows."""
        ...

    def count(self, prefix: Key) -> int:
        """How many names ``list(prefix)`` would return, without returning them (a
        thread's checkpoint count in listings); an indexed store counts in place."""
        return len(self.list(prefix))

    def read_children(self, prefixes: Sequence[Key]) -> Children:
        """(key, record) of every record directly under each prefix, in name order.

        What ``list_many`` then ``read_many`` give (the default), in one round
        trip where the medium allows: a checkpoint's pending writes, or those
        of a page of checkpoints, are read with one query. A key deleted
        between the listing and the read is left out.
        """
        listings = self.list_many(prefixes)
        flat = [(*p, n) for p, names in zip(prefixes, listings, strict=True) for n in names]
        values = self.read_many(flat)
        out: Children = []
        start = 0
        for p, names in zip(prefixes, listings, strict=True):
            mine = values[start : start + len(names)]
            start += len(names)
            out.append([((*p, n), v) for n, v in zip(names, mine, strict=True) if v is not None])
        return out

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every key under ``prefix`` (recursively) with its size and mtime; admin only."""
        ...

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """Replace a damaged ``key`` with another copy for which ``good`` holds.

        Tiered stores look in the other tier; single stores return ``False``.
        """
        ...

    def lock(
        self, key: Key, exclusive: bool = True, *, wait: bool = True
    ) -> AbstractContextManager[None]:
        """A lock named by ``key`` across processes: writers of a thread share it;
        deleting the thread (and fencing) takes it exclusively.

        ``wait=False`` makes one attempt: entering raises ``LockBusyError`` instead
        of waiting when another holder keeps the lock (tools, and the store
        contract's lock tests, which must not order events by sleeping)."""
        ...

    def maintenance_lock(
        self, exclusive: bool, *, wait: bool = True
    ) -> AbstractContextManager[None]:
        """Shared for writers, exclusive for garbage collection (see maintenance.py);
        ``wait`` as for ``lock``."""
        ...

    def size_of(self, prefix: Key) -> int:
        """Bytes of every value under ``prefix`` (a thread's size); admin path."""
        return sum(size for _key, size, _mtime in self.walk(prefix))

    def stats(self) -> dict[str, Any]:
        """Facts per tier for ``PersistSaver.stats``: the store itself by default; a
        tiered store adds its hot tier, mode and counters."""
        return {"cold": self.describe()}

    def local_root(self) -> str | None:
        """The local directory the store lives in (home of the default audit log), or
        ``None`` for a store that has none (S3)."""
        return None

    # -- thread pinning: a hot tier's capability -------------------------------------------------

    @property
    def pins_threads(self) -> bool:
        """Whether ``pin_thread`` works here: a store that can keep a thread hot
        overrides the three pinning methods below (the Redis tiered store does)."""
        return type(self).pin_thread is not Store.pin_thread

    def pin_thread(self, thread_name: str) -> None:
        """Keep a thread (its encoded name) in the hot tier regardless of its TTL."""
        raise ConfigurationError(_NO_PINS.format(method="pin_thread", store=self.describe()))

    def unpin_thread(self, thread_name: str) -> None:
        raise ConfigurationError(_NO_PINS.format(method="unpin_thread", store=self.describe()))

    def is_pinned(self, thread_name: str) -> bool:
        raise ConfigurationError(_NO_PINS.format(method="is_pinned", store=self.describe()))

    def disk_bytes(self) -> int | None:
        """What the store takes on the local disk, medium overhead included (admin
        path: ``stats``); ``None`` for a store that is not on a local disk."""
        return None

    def source_of_truth(self) -> Store:
        """The store that holds the durable copy: itself, or a tiered store's cold tier.

        ``verify`` checks it, because a good hot copy would hide damage there."""
        return self

    def flush(self, timeout: timedelta | None = None) -> None:
        """Wait until every acknowledged write is in the source of truth (write-behind);
        nothing to wait for in a store that writes through."""
        return None

    def integrity_check(self) -> Names:
        """Problems the medium itself reports beyond single records (a damaged
        database file); empty when there are none or the medium has no such check."""
        return []

    def salvage(self) -> int | None:
        """Rebuild a store whose medium is damaged from what can still be read (and,
        for a tiered store, from the other tier); returns the records kept, or
        ``None`` when the store has no such repair (the default)."""
        return None

    def scrub(self) -> None:
        """Make bytes that were deleted or overwritten unrecoverable from the medium.

        For stores that keep old copies beside the live ones (SQLite's write-ahead
        log); ``gc`` and ``reencrypt`` call it last. Others have nothing to do.
        """
        return None

    def close(self) -> None:
        """Release resources (connections, file handles)."""
        ...
