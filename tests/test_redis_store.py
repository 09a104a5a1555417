"""The Store port contract (shared by every adapter) and RedisStore's own guarantees.

``StoreContract`` is the one contract test class: ``FileStore``, ``RedisStore``
(and, in ``test_tiered.py``, both ``TieredStore`` modes) subclass it and only
say how to build the store. Values are real records, because a tiered store
verifies what it reads from Redis.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from langgraph_persist import keys, records
from langgraph_persist.errors import ConfigurationError, InvalidIdError, TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.redis import (
    RedisKeys,
    RedisStore,
    Tag,
    connect,
    decode_entry,
    describe_client,
    encode_entry,
)
from langgraph_persist.store.sqlite import SqliteStore
from tests.redis_server import RedisServer


def rec(text: str) -> bytes:
    return records.encode(Kind.BLOB, text)


T = keys.encode_name("user-42")
OTHER = keys.encode_name("Ünïcode/../thread:{x}")
CP1, CP2, CP3 = "1ef-0001", "1ef-0002", "1EF-0003_x"
S1, S2 = "00000000000000000001-0000001-00000000000a", "00000000000000000002-0000001-00000000000b"
"""Pending-write sequence names as the engine makes them (time, pid, random)."""


def ck(t: str, cid: str, n: str = "=") -> Key:
    return keys.checkpoint(t, n, cid)


class StoreContract:
    """Behaviour every ``Store`` adapter must share (subclasses provide ``store``)."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        raise NotImplementedError

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
        store.write_many([(ck(T, CP1, n="child%3Aab"), rec("sub"))])
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

    def test_list_tricky_siblings(self, store: Store) -> None:
        """Names that share prefixes and sort around '/' (``%`` and ``-`` sort before it)."""
        names = ["ab", "ab-x", "ab%2E", "ab_z", "abc", "a", "b%2F"]
        for name in names:
            store.write_many([(ck(T, CP1, n=name), rec(name))])
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
        order: list[str] = []
        held = threading.Event()

        def holder() -> None:
            with store.lock(keys.thread_dir(T)):
                held.set()
                time.sleep(0.2)
                order.append("first released")

        thread = threading.Thread(target=holder)
        thread.start()
        held.wait(5)
        with store.lock(keys.thread_dir(OTHER)):  # another name: not blocked
            order.append("other name")
        with store.lock(keys.thread_dir(T)):
            order.append("second acquired")
        thread.join()
        assert order == ["other name", "first released", "second acquired"]

    def test_shared_locks_share_and_exclude_exclusive(self, store: Store) -> None:
        order: list[str] = []
        with store.lock(keys.thread_dir(T), exclusive=False):
            with store.lock(keys.thread_dir(T), exclusive=False):
                order.append("two shared holders")
            waiter = threading.Thread(
                target=lambda: self._exclusive(store, order), name="exclusive-waiter"
            )
            waiter.start()
            time.sleep(0.2)
            order.append("shared released")
        waiter.join(5)
        assert order == ["two shared holders", "shared released", "exclusive acquired"]

    @staticmethod
    def _exclusive(store: Store, order: list[str]) -> None:
        with store.lock(keys.thread_dir(T), exclusive=True):
            order.append("exclusive acquired")

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


class TestFileStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = FileStore(tmp_path / "store", durability="none")
        yield s
        s.close()


class TestSqliteStoreContract(StoreContract):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[Store]:
        s = SqliteStore(tmp_path / "store", durability="none")
        yield s
        s.close()


class TestRedisStoreContract(StoreContract):
    @pytest.fixture
    def store(self, redis_url: str, redis_prefix: str) -> Iterator[Store]:
        s = RedisStore(redis_url, key_prefix=redis_prefix)
        yield s
        s.close()


class TestRedisStoreWithTTLContract(StoreContract):
    """With a TTL (the hot-tier configuration) nothing changes within the TTL."""

    @pytest.fixture
    def store(self, redis_url: str, redis_prefix: str) -> Iterator[Store]:
        s = RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(hours=1))
        yield s
        s.close()


# -- keys ------------------------------------------------------------------------------------

_component = st.text(alphabet="abcxyzAZ09_-.%=~", min_size=1, max_size=12)


@given(st.lists(_component, min_size=1, max_size=8).map(tuple))
@settings(max_examples=300, deadline=None)
def test_value_keys_round_trip(key: Key) -> None:
    rk = RedisKeys("lgp:")
    name = rk.value(key)
    assert rk.parse(name) == key
    assert rk.parse(name.encode()) == key
    # the hash tag is exactly the first two components
    assert name[name.index("{") + 1 : name.index("}")] == "/".join(key[:2])


def test_real_ids_round_trip_through_keys_py() -> None:
    """Ids with ':', '{', '}', '/', unicode and bytes are escaped before they reach Redis."""
    rk = RedisKeys("app:v1:")
    for thread_id in ["a:b", "{tag}", "x}y{", "../..", "\x00\xff", "é/ü", "", "x" * 500]:
        for ns in ["", "parent:child|grand:1"]:
            key = keys.write(keys.encode_name(thread_id), keys.encode_name(ns), "1ef-01", S1)
            assert rk.parse(rk.value(key)) == key
            assert rk.value(key).count("{") == 1 and rk.value(key).count("}") == 1


def test_one_slot_per_thread() -> None:
    """Every Redis key that holds or indexes a thread's data hashes to one cluster slot."""
    rk = RedisKeys("lgp:")
    tag = Tag(keys.THREADS, T)
    names = [
        rk.value(ck(T, CP1)),
        rk.value(keys.write(T, "child%3A1", CP2, S1)),
        rk.value(keys.thread_info(T)),
        rk.registry(tag),
        rk.pending(tag),
        rk.gen(tag),
        rk.pin(tag),
        rk.sweep(tag),
    ]
    assert len({key_slot(n.encode()) for n in names}) == 1
    other = rk.value(ck(OTHER, CP1))
    assert key_slot(other.encode()) != key_slot(names[0].encode()) or OTHER == T


@pytest.mark.parametrize("prefix", ["a{b", "a}b", "sp ace", "glob*", "x" * 65, "é"])
def test_bad_prefixes_are_refused(prefix: str) -> None:
    with pytest.raises(ConfigurationError):
        RedisKeys(prefix)


@pytest.mark.parametrize("part", ["a{b", "a}b", "a/b", "a:b", "", "a b", "\xff"])
def test_unsafe_components_are_refused(part: str) -> None:
    with pytest.raises(InvalidIdError):
        RedisKeys("lgp:").value(("threads", part, "info"))


def test_queue_entries_round_trip() -> None:
    entry_keys = [ck(T, CP1), keys.blob(bytes(20))]
    assert decode_entry(encode_entry(7, True, entry_keys)) == (True, entry_keys)
    assert decode_entry(encode_entry(8, False, entry_keys))[0] is False


# -- connections -----------------------------------------------------------------------------


def test_urls_and_clients() -> None:
    tls = connect("rediss://alice:s3cret@cache.example:6390/4", timeout=timedelta(seconds=1))
    assert issubclass(tls.connection_pool.connection_class, redis.SSLConnection)
    kwargs = tls.connection_pool.connection_kwargs
    assert (kwargs["username"], kwargs["password"], kwargs["db"]) == ("alice", "s3cret", 4)
    assert describe_client(tls) == "rediss://alice@cache.example:6390/4"  # never the password
    mirrored = connect(
        redis.asyncio.Redis.from_url("rediss://bob:pw@h:1/2"), timeout=timedelta(seconds=1)
    )
    assert issubclass(mirrored.connection_pool.connection_class, redis.SSLConnection)
    assert mirrored.connection_pool.connection_kwargs["username"] == "bob"
    ready = redis.Redis()
    assert connect(ready, timeout=timedelta(seconds=1)) is ready
    with pytest.raises(ConfigurationError):
        connect("http://nope", timeout=timedelta(seconds=1))
    with pytest.raises(ConfigurationError):
        connect(42, timeout=timedelta(seconds=1))  # type: ignore[arg-type]


def test_acl_user_in_url(redis_server: RedisServer, redis_url: str, redis_prefix: str) -> None:
    admin = redis_server.client()
    user = f"lgp-{redis_prefix.rstrip(':')}"
    admin.acl_setuser(user, enabled=True, passwords=["+pw-123"], keys=["*"], commands=["+@all"])
    try:
        url = redis_url.replace("redis://", f"redis://{user}:pw-123@")
        store = RedisStore(url, key_prefix=redis_prefix)
        store.write_many([(ck(T, CP1), rec("a"))])
        assert store.read(ck(T, CP1)) == rec("a")
        assert "pw-123" not in store.describe()
        store.close()
        with pytest.raises(TierUnavailableError) as info:  # only our errors
            RedisStore(url.replace("pw-123", "wrong"), key_prefix=redis_prefix).ping()
        assert isinstance(info.value.__cause__, redis.AuthenticationError)
    finally:
        admin.acl_deluser(user)
        admin.close()


# -- Redis-specific guarantees ---------------------------------------------------------------


@pytest.fixture
def rstore(redis_url: str, redis_prefix: str) -> Iterator[RedisStore]:
    s = RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(hours=1))
    yield s
    s.close()


def _round_trips(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts socket sends: one per round trip (a pipeline is one send)."""
    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counting(self: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(self, command, check_health)

    monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counting)
    return sent


def test_one_round_trip_per_call(rstore: RedisStore, monkeypatch: pytest.MonkeyPatch) -> None:
    rstore.write_many([(ck(T, CP1), rec("warm-up"))])  # loads the scripts
    rstore.list(keys.checkpoints_dir(T, "="))
    rstore.delete_many([ck(T, CP3)])
    sent = _round_trips(monkeypatch)
    blobs = [(keys.blob(bytes([i]) * 20), rec(f"b{i}")) for i in range(20)]
    calls = {
        "write_many": lambda: rstore.write_many([(ck(T, CP2), rec("x")), *blobs]),
        "create_many": lambda: rstore.create_many(blobs),
        "read_many": lambda: rstore.read_many([ck(T, CP2)] + [k for k, _ in blobs]),
        "exists_many": lambda: rstore.exists_many([k for k, _ in blobs]),
        "list": lambda: rstore.list(keys.checkpoints_dir(T, "=")),
        "list_many": lambda: rstore.list_many([keys.writes_dir(T, "=", c) for c in (CP1, CP2)]),
        "delete_many": lambda: rstore.delete_many([ck(T, CP2), *(k for k, _ in blobs[:5])]),
        "delete_tree": lambda: rstore.delete_tree(keys.thread_dir(T)),
    }
    for name, call in calls.items():
        before = sent[0]
        call()
        assert sent[0] - before == 1, name


def test_never_keys_or_scan(redis_server: RedisServer, rstore: RedisStore) -> None:
    admin = redis_server.client()
    admin.config_resetstat()
    for i in range(5):
        rstore.write_many([(ck(T, f"1ef-{i:04d}"), rec(str(i)))])
    rstore.list(keys.checkpoints_dir(T, "="))
    rstore.list(keys.threads_root())
    rstore.list(())
    rstore.delete_tree(keys.thread_dir(T))
    rstore.delete_tree(keys.threads_root())
    list(rstore.walk(()))
    used = admin.info("commandstats")
    admin.close()
    assert not any(name in used for name in ("cmdstat_keys", "cmdstat_scan"))


def test_ttl_expires_and_reads_refresh(redis_url: str, redis_prefix: str) -> None:
    # generous margins: a loaded machine may wake a sleeper late
    store = RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(milliseconds=1200))
    store.write_many([(ck(T, CP1), rec("kept")), (ck(T, CP2), rec("dropped"))])
    value_ttl = store.client.pttl(store.keys.value(ck(T, CP1)))
    assert 0 < value_ttl <= 1200
    for _ in range(6):  # 1.8 s in all, well past the TTL: reads keep CP1 alive
        time.sleep(0.3)
        assert store.read(ck(T, CP1)) == rec("kept")
    assert store.read(ck(T, CP2)) is None
    # the registry outlives every value it lists (why deletes never miss one)
    tag = Tag(keys.THREADS, T)
    assert store.client.pttl(store.keys.registry(tag)) >= store.client.pttl(
        store.keys.value(ck(T, CP1))
    )
    time.sleep(1.3)
    assert store.read(ck(T, CP1)) is None
    assert not store.client.exists(store.keys.registry(tag))
    assert store.list(keys.threads_root()) == []  # the level-1 entry expired too
    store.close()


def test_registry_sweep_bounds_dead_members(redis_url: str, redis_prefix: str) -> None:
    store = RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(milliseconds=50))
    store.write_many([(ck(T, f"1ef-{i:04d}"), rec("x")) for i in range(40)])
    time.sleep(0.1)  # all 40 expired; the registry would otherwise keep them (until idle)
    for i in range(10):
        store.write_many([(ck(T, f"1eg-{i:04d}"), rec("y"))])
    members = store.client.zcard(store.keys.registry(Tag(keys.THREADS, T)))
    assert members < 40
    store.close()


def test_pin_removes_and_unpin_restores_ttl(rstore: RedisStore) -> None:
    tag = Tag(keys.THREADS, T)
    rstore.write_many([(ck(T, CP1), rec("a"))])
    rstore.pin(tag, True)
    assert rstore.pinned(tag)
    rstore.write_many([(ck(T, CP2), rec("b"))])
    for cid in (CP1, CP2):
        assert rstore.client.pttl(rstore.keys.value(ck(T, cid))) == -1
    assert rstore.client.pttl(rstore.keys.registry(tag)) == -1
    rstore.pin(tag, False)
    assert not rstore.pinned(tag)
    for cid in (CP1, CP2):
        assert rstore.client.pttl(rstore.keys.value(ck(T, cid))) > 0
    assert rstore.client.pttl(rstore.keys.registry(tag)) > 0


def test_fenced_write_and_backfill(rstore: RedisStore) -> None:
    """A write or backfill that observed a generation before a delete is refused."""
    tag = Tag(keys.THREADS, T)
    seen = rstore.fetch([ck(T, CP1)])  # a reader misses ...
    assert seen.values == [None]
    rstore.invalidate(prefixes=[keys.thread_dir(T)])  # ... a delete runs ...
    # ... it backfills
    late = rstore.put_values([(ck(T, CP1), rec("stale"))], old="-", fence=seen.gens)
    assert late.fenced == {tag}
    assert rstore.read(ck(T, CP1)) is None
    fresh = rstore.fetch([ck(T, CP1)])
    ok = rstore.put_values([(ck(T, CP1), rec("good"))], old="-", fence=fresh.gens)
    assert not ok.fenced and rstore.read(ck(T, CP1)) == rec("good")
    # a repair only replaces the damaged bytes it saw, never a newer write
    rstore.write_many([(ck(T, CP2), b"damaged")])
    rstore.write_many([(ck(T, CP2), rec("newer"))])
    import hashlib

    rstore.put_values([(ck(T, CP2), rec("older"))], old=hashlib.sha1(b"damaged").hexdigest())
    assert rstore.read(ck(T, CP2)) == rec("newer")


def test_level1_pending_listing(rstore: RedisStore) -> None:
    from langgraph_persist.store.redis import PendingEntry

    rstore.write_many([(ck(T, CP1), rec("flushed"))])
    entry = encode_entry(1, False, [ck(OTHER, CP1)])
    rstore.put_values([(ck(OTHER, CP1), rec("pending"))], pending=PendingEntry("w1", entry))
    assert rstore.children(keys.threads_root(), pending_only=True) == [OTHER]
    assert rstore.children(keys.checkpoints_dir(OTHER, "="), pending_only=True) == [CP1]
    assert rstore.pending_flags([ck(T, CP1), ck(OTHER, CP1)]) == [False, True]
    assert rstore.client.pttl(rstore.keys.value(ck(OTHER, CP1))) == -1  # never expires
    assert rstore.queue_head("w1", 10) == [entry]
    assert list(rstore.pending_keys(())) == [ck(OTHER, CP1)]
