"""The ``Store`` port contract: one pytest class every store adapter must pass.

``StoreContract`` says what the engine relies on from a store (``store/base.py``):
reads and batched reads, content-addressed creates that keep what exists,
sorted one-level listings, subtree deletes, links, walks, the locks, commits,
newest-first pages. The project runs it against every built-in store (files,
SQLite, Redis with and without a TTL, S3, the tiered stores, Redis Cluster);
it ships in the package so that a store you write yourself is held to the
same contract. Subclass it and provide a ``store`` fixture::

    import pytest
    from langgraph_persist.testing import StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        def store(self, tmp_path):
            s = MyStore(tmp_path / "store")
            yield s
            s.close()

Each test gets a fresh, empty store from the fixture. A store whose guarantee
is deliberately weaker overrides that one test (the project's S3 store does
so for shared locks, which are no-ops there) and says why in its docstring.

Values are real records (``rec``), because a tiered store verifies what it
reads back from its hot tier. Names (``T``, ``OTHER``, ``CP1``...) are public:
a store's own tests reuse them next to the contract.

Locks are checked without sleeping: ``try_lock`` makes one attempt that never
waits (the port's ``lock(..., wait=False)``), so "the lock is held" is a fact
the test observes, not a guess that a sleeping thread has run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest

from langgraph_persist import keys, records
from langgraph_persist.errors import LockBusyError
from langgraph_persist.facets import facets_of
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store

__all__ = [
    "CP1",
    "CP2",
    "CP3",
    "OTHER",
    "S1",
    "S2",
    "T",
    "StoreContract",
    "ck",
    "rec",
    "try_lock",
]

LOCK_WAIT = 30.0
"""Upper bound on waiting for another thread's step (a hang fails, it never orders)."""


def rec(text: str) -> bytes:
    """A real record holding ``text``."""
    return records.encode(Kind.BLOB, text)


T = keys.encode_name("user-42")
"""A thread name."""
OTHER = keys.encode_name("Ünïcode/../thread:{x}")
"""A second thread, with every character a key must escape."""
CP1, CP2, CP3 = "1ef-0001", "1ef-0002", "1EF-0003_x"
S1, S2 = "00000000000000000001-0000001-00000000000a", "00000000000000000002-0000001-00000000000b"
"""Pending-write sequence names as the engine makes them (time, pid, random)."""


def ck(thread: str, cid: str, ns: str = "=") -> Key:
    """The key of checkpoint ``cid`` of ``thread`` in namespace ``ns`` (``=``: the root)."""
    return keys.checkpoint(thread, ns, cid)


# -- one lock attempt that never waits ---------------------------------------------------------


def try_lock(store: Store, key: Key, *, exclusive: bool = True) -> bool:
    """One attempt at ``store.lock(key, exclusive)`` that never waits.

    True if the lock was free: it was taken and is released at once. False
    if another holder keeps it: the store's ``lock(..., wait=False)`` raised
    ``LockBusyError`` and took nothing.
    """
    try:
        with store.lock(key, exclusive, wait=False):
            return True
    except LockBusyError:
        return False


def _in_thread(target: Callable[[], None], name: str) -> threading.Thread:
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class StoreContract:
    """Behaviour every ``Store`` adapter must share (subclasses provide ``store``)."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """A fresh, empty store; closed after the test. Subclasses must override it."""
        raise NotImplementedError("a StoreContract subclass provides a `store` fixture")

    def try_lock(self, store: Store, key: Key, *, exclusive: bool = True) -> bool:
        """One attempt at the lock that never waits (see the module function)."""
        return try_lock(store, key, exclusive=exclusive)

    def test_read_absent(self, store: Store) -> None:
        assert store.read(ck(T, CP1)) is None
        assert store.read_many([ck(T, CP1), ck(T, CP2)]) == [None, None]
        assert store.read_many([]) == []

    def test_write_read_overwrite(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a")), (ck(T, CP2), rec("b"))])
        assert store.read_many([ck(T, CP2), ck(T, CP1), ck(T, CP3)]) == [rec("b"), rec("a"), None]
        store.write_many([(ck(T, CP1), rec("a2"))])
        assert store.read(ck(T, CP1)) == rec("a2")

    def test_create_keeps_existing(self, store: Store) -> None:
        blob = keys.blob(bytes(range(20)))
        store.create_many([(blob, rec("first"))])
        store.create_many([(blob, rec("second")), (keys.thread_info(T), rec("info"))])
        assert store.read(blob) == rec("first")
        assert store.read(keys.thread_info(T)) == rec("info")

    def test_exists(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a"))])
        assert store.exists_many([ck(T, CP1), ck(T, CP2), ck(OTHER, CP1)]) == [True, False, False]
        assert store.exists_many([]) == []

    def test_list_one_level_sorted(self, store: Store) -> None:
        store.write_many([(ck(T, cid), rec(cid)) for cid in (CP3, CP2, CP1)])
        store.write_many([(keys.write(T, "=", CP1, S2), rec("w2"))])
        store.write_many([(keys.write(T, "=", CP1, S1), rec("w1"))])
        store.write_many([(ck(T, CP1, ns="child%3Aab"), rec("sub"))])
        store.write_many([(keys.thread_info(T), rec("info"))])
        assert store.list(keys.checkpoints_dir(T, "=")) == sorted([CP1, CP2, CP3])
        assert store.list(keys.writes_dir(T, "=", CP1)) == [S1, S2]
        assert store.list(keys.writes_root(T, "=")) == [CP1]
        assert store.list(keys.namespaces_dir(T)) == ["=", "child%3Aab"]
        assert store.list(keys.thread_dir(T)) == ["info", "ns"]
        assert store.list(keys.checkpoints_dir(OTHER, "=")) == []
        assert store.list_many([keys.writes_dir(T, "=", CP1), keys.writes_dir(T, "=", CP2)]) == [
            [S1, S2],
            [],
        ]
        for prefix in (
            keys.checkpoints_dir(T, "="),
            keys.writes_dir(T, "=", CP1),
            keys.namespaces_dir(T),
            keys.thread_dir(T),
            keys.checkpoints_dir(OTHER, "="),
        ):
            assert store.count(prefix) == len(store.list(prefix))

    def test_list_tricky_siblings(self, store: Store) -> None:
        """Names that share prefixes and sort around '/' (``%`` and ``-`` sort before it)."""
        names = ["ab", "ab-x", "ab%2E", "ab_z", "abc", "a", "b%2F"]
        for name in names:
            store.write_many([(ck(T, CP1, ns=name), rec(name))])
        assert store.list(keys.namespaces_dir(T)) == sorted(names)
        assert store.list(keys.checkpoints_dir(T, "ab")) == [CP1]
        assert store.list_desc(keys.checkpoints_dir(T, "ab")) == [CP1]

    def test_root_listings(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a")), (ck(OTHER, CP1), rec("b"))])
        store.create_many([(keys.run_index("run1", T), rec("r"))])
        assert store.list(keys.threads_root()) == sorted([T, OTHER])
        assert {"threads", "runs"} <= set(store.list(()))
        assert store.list(keys.runs_dir("run1")) == [T]

    def test_delete_many(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a")), (ck(T, CP2), rec("b"))])
        store.delete_many([ck(T, CP1), ck(T, CP3)])
        assert store.read_many([ck(T, CP1), ck(T, CP2)]) == [None, rec("b")]
        assert store.list(keys.checkpoints_dir(T, "=")) == [CP2]
        store.delete_many([ck(T, CP2)])
        assert store.list(keys.checkpoints_dir(T, "=")) == []
        store.delete_many([])

    def test_delete_tree(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a")), (keys.write(T, "=", CP1, S1), rec("w"))])
        store.write_many([(keys.write(T, "=", CP2, S1), rec("w2"))])
        store.write_many([(ck(OTHER, CP1), rec("other"))])
        store.delete_tree(keys.writes_dir(T, "=", CP1))
        assert store.list(keys.writes_root(T, "=")) == [CP2]
        assert store.read(ck(T, CP1)) == rec("a")
        store.delete_tree(keys.thread_dir(T))
        assert store.read_many([ck(T, CP1), keys.write(T, "=", CP2, S1)]) == [None, None]
        assert store.list(keys.thread_dir(T)) == []
        assert T not in store.list(keys.threads_root())
        assert store.read(ck(OTHER, CP1)) == rec("other")
        store.delete_tree(keys.thread_dir(T))  # absent: no error

    def test_link(self, store: Store) -> None:
        store.write_many([(ck(T, CP1), rec("a"))])
        store.link([(ck(T, CP1), ck(OTHER, CP1)), (ck(T, CP2), ck(OTHER, CP2))])
        assert store.read_many([ck(OTHER, CP1), ck(OTHER, CP2)]) == [rec("a"), None]
        assert store.list(keys.checkpoints_dir(OTHER, "=")) == [CP1]

    def test_walk(self, store: Store) -> None:
        items = [(ck(T, CP1), rec("a")), (keys.write(T, "=", CP1, S1), rec("bb"))]
        store.write_many(items)
        store.write_many([(ck(OTHER, CP1), rec("c"))])
        walked = {k: size for k, size, _mtime in store.walk(keys.thread_dir(T))}
        assert walked == {k: len(v) for k, v in items}
        everything = {k for k, _size, _mtime in store.walk(())}
        assert everything >= {ck(T, CP1), ck(OTHER, CP1)}

    def test_two_component_keys(self, store: Store) -> None:
        """Tombstones live at ``tombstones/<thread>``: a value right at a hash tag."""
        store.write_many([(keys.tombstone(T), rec("stone")), (keys.tombstone(OTHER), rec("s2"))])
        assert store.read(keys.tombstone(T)) == rec("stone")
        assert store.list((keys.TOMBSTONES,)) == sorted([T, OTHER])
        assert store.list(keys.tombstone(T)) == []
        store.delete_many([keys.tombstone(T)])
        assert store.list((keys.TOMBSTONES,)) == [OTHER]
        assert store.exists_many([keys.tombstone(T), keys.tombstone(OTHER)]) == [False, True]

    def test_lock_is_exclusive(self, store: Store) -> None:
        """While one holder has a thread's lock, nobody else gets it; a waiter gets it after.

        Ordered by events: the holder keeps the lock until the test has seen it
        refused; the waiter records its turn only once inside the lock.
        """
        key = keys.thread_dir(T)
        order: list[str] = []
        held, release = threading.Event(), threading.Event()

        def holder() -> None:
            with store.lock(key):
                held.set()
                release.wait(LOCK_WAIT)
                order.append("first released")

        def waiter() -> None:
            with store.lock(key):
                order.append("second acquired")

        first = _in_thread(holder, "lock-holder")
        assert held.wait(LOCK_WAIT)
        assert not self.try_lock(store, key)  # held: refused, not granted
        assert self.try_lock(store, keys.thread_dir(OTHER))  # another name: not blocked
        second = _in_thread(waiter, "lock-waiter")
        release.set()
        first.join(LOCK_WAIT)
        second.join(LOCK_WAIT)
        assert order == ["first released", "second acquired"]
        assert self.try_lock(store, key)  # both gone: free again

    def test_shared_locks_share_and_exclude_exclusive(self, store: Store) -> None:
        key = keys.thread_dir(T)
        order: list[str] = []

        def exclusive() -> None:
            with store.lock(key, exclusive=True):
                order.append("exclusive acquired")

        with store.lock(key, exclusive=False):
            assert self.try_lock(store, key, exclusive=False)  # shared holders share
            assert not self.try_lock(store, key, exclusive=True)  # an exclusive one waits
            assert self.try_lock(store, key, exclusive=False)  # and that attempt took nothing
            waiter = _in_thread(exclusive, "exclusive-waiter")
            order.append("shared released")
        waiter.join(LOCK_WAIT)
        assert order == ["shared released", "exclusive acquired"]

    def test_maintenance_lock_and_recover(self, store: Store) -> None:
        with store.maintenance_lock(exclusive=False):
            store.write_many([(ck(T, CP1), rec("a"))])
        # a single store holds one copy: there is nothing to recover from
        assert store.recover(ck(T, CP1), lambda data: True) is False

    def test_commit_creates_content_and_writes_records(self, store: Store) -> None:
        blob = keys.blob(bytes(range(20)))
        store.write_many([(blob, rec("original"))])
        store.commit(
            create=[(blob, rec("ignored")), (keys.blob(bytes(20)), rec("new"))],
            write=[(ck(T, CP1), rec("record"))],
        )
        assert store.read_many([blob, keys.blob(bytes(20)), ck(T, CP1)]) == [
            rec("original"),  # content-addressed: an existing key is kept
            rec("new"),
            rec("record"),
        ]
        store.commit(write=[(ck(T, CP1), rec("replaced"))])
        assert store.read(ck(T, CP1)) == rec("replaced")
        store.commit()  # nothing to do is no error

    def test_list_desc_pages_newest_first(self, store: Store) -> None:
        ids = [f"1ef{i:03d}" for i in range(20)]
        store.write_many([(ck(T, cid), rec(cid)) for cid in ids])
        prefix = keys.checkpoints_dir(T, "=")
        assert store.list_desc(prefix) == ids[::-1]
        assert store.list_desc(prefix, limit=1) == [ids[-1]]
        assert store.list_desc(prefix, before=ids[10], limit=3) == ids[7:10][::-1]
        assert store.list_desc(prefix, before=ids[0]) == []
        assert store.list_desc(keys.checkpoints_dir(OTHER, "="), limit=5) == []

    def test_list_desc_with_facets_is_a_superset(self, store: Store) -> None:
        """``facets`` may narrow a listing (facets.py), never hide a match: a store
        that cannot evaluate them returns every name, one that can returns at
        least the records whose facets match, and records without facets too."""
        ids = [f"1ef{i:03d}" for i in range(8)]
        described = {
            ck(T, cid): facets_of({"source": "input" if i % 3 == 0 else "loop", "step": i})
            for i, cid in enumerate(ids[:-1])
        }
        store.commit(
            write=[(ck(T, cid), rec(cid)) for cid in ids],
            facets={k: v for k, v in described.items() if v is not None},
        )
        prefix = keys.checkpoints_dir(T, "=")
        found = store.list_desc(prefix, facets={"source": "input"})
        assert found == sorted(found, reverse=True)
        assert {ids[0], ids[3], ids[6], ids[7]} <= set(found)  # ids[7]: no facets
        assert set(found) <= set(ids)
        assert ids[5] in store.list_desc(prefix, facets={"step": 5, "absent": None})
        # a page: the newest match below ids[3] (a store that evaluates facets) or the
        # newest name below it (one that does not); never a name that is not a candidate
        page = store.list_desc(prefix, before=ids[3], limit=1, facets={"source": "input"})
        assert page in ([ids[0]], [ids[2]])
