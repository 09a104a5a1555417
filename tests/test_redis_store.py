"""RedisStore: the store contract (``langgraph_persist.testing``) and its own guarantees.

The contract runs here on a plain ``RedisStore`` and on one with a TTL (the
hot-tier configuration); the other stores run it in their own test files
(``test_store_contract.py``: files and SQLite; ``test_s3.py``,
``test_tiered.py``, ``test_redis_cluster.py``).

TTL behaviour is tested without waiting for a clock: ``advance_clock`` moves
the test's keys forward in time exactly as Redis would (every TTL shortened,
expired keys removed, the level-1 index's expiry scores shifted), so expiry
is a deterministic step and the assertions are about PTTL values.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis
import redis.asyncio
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from langgraph_persist import keys
from langgraph_persist.errors import ConfigurationError, InvalidIdError, TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Store
from langgraph_persist.store.hot import scripts
from langgraph_persist.store.redis import (
    PendingEntry,
    RedisKeys,
    RedisStore,
    Tag,
    connect,
    decode_entry,
    describe_client,
    encode_entry,
)
from langgraph_persist.testing.store_contract import (
    CP1,
    CP2,
    CP3,
    OTHER,
    S1,
    S2,
    StoreContract,
    T,
    ck,
    rec,
)
from tests.redis_server import RedisServer

# Re-exported for test modules that still import the contract from here.
__all__ = ["CP1", "CP2", "CP3", "OTHER", "S1", "S2", "StoreContract", "T", "ck", "rec"]


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


MINUTE = 60_000
"""One minute in ms: TTL tests think in minutes, so the milliseconds the test itself
takes never matter."""


def advance_clock(store: RedisStore, ms: int) -> None:
    """Move this store's keys ``ms`` milliseconds into the future, as Redis would.

    Every key under the store's prefix with a TTL gets ``ms`` less of it (those
    with no more left are removed: they expired), and the level-1 indexes, whose
    scores are expiry times compared with Redis' clock, are shifted back by
    ``ms``. Keys without a TTL (pinned, pending, the global indexes) keep theirs.
    """
    client = store.client
    level1 = {store.keys.level1(c0.decode()) for c0 in client.zrange(store.keys.top(), 0, -1)}
    for raw in list(client.scan_iter(match=f"{store.keys.prefix}*")):
        name = raw.decode()
        if name in level1:
            shifted = {
                member: score - ms
                for member, score in client.zrange(name, 0, -1, withscores=True)
                if score != float("inf")
            }
            if shifted:
                client.zadd(name, shifted)
            continue
        left = client.pttl(name)
        if left > ms:
            client.pexpire(name, left - ms)
        elif left > 0:
            client.delete(name)


def _pttls(store: RedisStore, *names: str) -> list[int]:
    """The PTTLs of ``names`` at one instant (one MULTI)."""
    pipe = store.client.pipeline(transaction=True)
    for name in names:
        pipe.pttl(name)
    return [int(ms) for ms in pipe.execute()]


def test_ttl_expires_and_reads_refresh(redis_url: str, redis_prefix: str) -> None:
    _ttl_story(RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(minutes=60)))


class ReadsWithoutRefresh(RedisStore):
    """Negative control: reads that bypass the script, so they never extend a TTL."""

    def read_many(self, keys_: Sequence[Key]) -> list[bytes | None]:
        return [self.client.get(self.keys.value(k)) for k in keys_]

    def read(self, key: Key) -> bytes | None:
        return self.read_many([key])[0]


def test_ttl_story_fails_when_reads_do_not_refresh(redis_url: str, redis_prefix: str) -> None:
    store = ReadsWithoutRefresh(redis_url, key_prefix=redis_prefix, ttl=timedelta(minutes=60))
    with pytest.raises(AssertionError):
        _ttl_story(store)
    store.close()


def _ttl_story(store: RedisStore) -> None:
    """Values get the TTL, reads give it back, idle threads vanish whole (60 min TTL)."""
    tag = Tag(keys.THREADS, T)
    kept, dropped = store.keys.value(ck(T, CP1)), store.keys.value(ck(T, CP2))
    registry = store.keys.registry(tag)
    store.write_many([(ck(T, CP1), rec("kept")), (ck(T, CP2), rec("dropped"))])
    assert all(59 * MINUTE < ms <= 60 * MINUTE for ms in _pttls(store, kept, dropped, registry))

    advance_clock(store, 40 * MINUTE)
    assert store.read(ck(T, CP1)) == rec("kept")  # a read gives CP1 (only) its full TTL back
    kept_ms, dropped_ms, registry_ms = _pttls(store, kept, dropped, registry)
    assert 59 * MINUTE < kept_ms <= 60 * MINUTE
    assert dropped_ms <= 20 * MINUTE
    assert registry_ms >= kept_ms  # the registry outlives every value it lists

    advance_clock(store, 40 * MINUTE)  # 80 min after the write, 40 after the read
    assert store.read(ck(T, CP2)) is None
    assert store.read(ck(T, CP1)) == rec("kept")
    assert store.list(keys.threads_root()) == [T]

    advance_clock(store, 61 * MINUTE)  # idle past the TTL: the whole thread is gone
    assert store.read(ck(T, CP1)) is None
    assert not store.client.exists(registry)
    assert store.list(keys.threads_root()) == []  # the level-1 entry expired too
    store.close()


def test_registry_sweep_bounds_dead_members(redis_url: str, redis_prefix: str) -> None:
    """Values that expired while their thread stayed busy leave the registry, a few
    per write, instead of piling up until the thread goes idle."""
    store = RedisStore(redis_url, key_prefix=redis_prefix, ttl=timedelta(minutes=60))
    registry = store.keys.registry(Tag(keys.THREADS, T))
    store.write_many([(ck(T, f"1ef-{i:04d}"), rec("x")) for i in range(40)])
    advance_clock(store, 40 * MINUTE)
    store.write_many([(ck(T, "1eg-0000"), rec("y"))])  # the thread stays busy
    advance_clock(store, 30 * MINUTE)  # the first 40 expired, the registry did not
    assert store.client.zcard(registry) == 41
    writes = 20
    found = re.search(r"local SWEEP_BATCH = (\d+)", scripts.source("tag"))
    assert found is not None
    sweep_batch = int(found.group(1))
    assert writes * sweep_batch >= 2 * (41 + writes)  # the sweep goes round twice
    for i in range(1, writes + 1):
        store.write_many([(ck(T, f"1eg-{i:04d}"), rec("y"))])
    assert store.client.zcard(registry) == 1 + writes  # only live values are left
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
    rstore.put_values([(ck(T, CP2), rec("older"))], old=hashlib.sha1(b"damaged").hexdigest())
    assert rstore.read(ck(T, CP2)) == rec("newer")


def test_level1_pending_listing(rstore: RedisStore) -> None:
    rstore.write_many([(ck(T, CP1), rec("flushed"))])
    entry = encode_entry(1, False, [ck(OTHER, CP1)])
    rstore.put_values([(ck(OTHER, CP1), rec("pending"))], pending=PendingEntry("w1", entry))
    assert rstore.children(keys.threads_root(), pending_only=True) == [OTHER]
    assert rstore.children(keys.checkpoints_dir(OTHER, "="), pending_only=True) == [CP1]
    assert rstore.pending_flags([ck(T, CP1), ck(OTHER, CP1)]) == [False, True]
    assert rstore.client.pttl(rstore.keys.value(ck(OTHER, CP1))) == -1  # never expires
    assert rstore.queue_head("w1", 10) == [entry]
    assert list(rstore.pending_keys(())) == [ck(OTHER, CP1)]
