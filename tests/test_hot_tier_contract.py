"""The hot-tier contract (``HotTier``, ``store/hot/port.py``) on both adapters.

``TieredStore`` relies on more than the ``Store`` port: fenced writes,
invalidation that replaces a tag's generation, pins, TTLs (set on write,
refreshed on read, absent for pinned and pending values) and the write-behind
queue (entries, leases, acks, compensation after a delete). Each guarantee is
one ``check_*`` function; ``HotTierContract`` runs them all against a
standalone Redis and against a Redis Cluster (both real, started by the
tests). TTLs are checked by reading ``PTTL`` values, never by waiting.

Negative controls at the end: each check must fail on a standalone adapter
with one deliberate defect (the fence or the write condition ignored, a
delete that keeps the generation, a replay that drops pending values, a pin
that does nothing, no refresh-on-read, an ack that leaves the entry queued or
never compensates, redis-py errors let through), or it has gone blind.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
import redis
from redis.exceptions import RedisError

from langgraph_persist import keys, records
from langgraph_persist.errors import TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store.hot.entries import encode_entry
from langgraph_persist.store.hot.layout import Tag
from langgraph_persist.store.hot.port import HotTier
from langgraph_persist.store.hot.primitives import Ack, Invalidation, PendingEntry, Put, sha1_hex
from langgraph_persist.store.redis import RedisStore
from langgraph_persist.store.redis_cluster import RedisClusterStore
from tests.redis_cluster_server import RedisClusterServer
from tests.redis_server import free_port

TTL = timedelta(minutes=10)
TTL_MS = int(TTL.total_seconds() * 1000)
T, OTHER = keys.encode_name("alice"), keys.encode_name("bob")
CP1, CP2 = "1ef-0001", "1ef-0002"
WRITER = "0123456789abcdef0123456789abcdef"

PTTL = Callable[[str], int]
"""Reads the PTTL of a Redis key name (-1: no TTL, -2: no key)."""

Check = Callable[[HotTier, PTTL], None]
MakeHot = Callable[..., HotTier]


def rec(text: str) -> bytes:
    return records.encode(Kind.BLOB, text)


def ck(thread: str, cid: str) -> Key:
    return keys.checkpoint(thread, "=", cid)


def tag_of(hot: HotTier, key: Key) -> Tag:
    return hot.keys.tag_of(key)


# -- the checks ------------------------------------------------------------------------------


def check_fenced_write(hot: HotTier, pttl: PTTL) -> None:
    """A backfill that observed a generation before a delete writes nothing after it."""
    key = ck(T, CP1)
    seen = hot.fetch([key])  # a miss: with the generation a backfill is fenced on
    assert seen.values == [None] and tag_of(hot, key) in seen.gens
    hot.invalidate(prefixes=[keys.thread_dir(T)])  # a delete runs meanwhile
    late = hot.put_values([(key, rec("stale"))], old="-", fence=seen.gens)
    assert late.fenced == {tag_of(hot, key)}
    assert hot.read(key) is None
    fresh = hot.fetch([key])
    ok = hot.put_values([(key, rec("good"))], old="-", fence=fresh.gens)
    assert ok.fenced == frozenset() and hot.read(key) == rec("good")


def check_write_conditions(hot: HotTier, pttl: PTTL) -> None:
    """``old``: "-" creates only, a sha1 replaces exactly those bytes, "*" overwrites."""
    key = ck(T, CP1)
    hot.put_values([(key, rec("a"))], old="-")
    hot.put_values([(key, rec("b"))], old="-")
    assert hot.read(key) == rec("a")
    hot.put_values([(key, rec("c"))], old=sha1_hex(b"not what Redis holds"))
    assert hot.read(key) == rec("a")
    hot.put_values([(key, rec("c"))], old=sha1_hex(rec("a")))  # no auth: stored as given
    assert hot.read(key) == rec("c")
    hot.put_values([(key, rec("d"))], old="*")
    assert hot.read(key) == rec("d")


def check_invalidation(hot: HotTier, pttl: PTTL) -> None:
    """Exact keys, subtrees and whole tags go; the generation changes; others stay."""
    one, two, other = ck(T, CP1), ck(T, CP2), ck(OTHER, CP1)
    hot.write_many([(one, rec("1")), (two, rec("2")), (other, rec("o"))])
    tag = tag_of(hot, one)
    before = hot.gens([tag])[tag]
    assert hot.invalidate(keys=[one]) == 1
    after = hot.gens([tag])[tag]
    assert after not in ("", before)
    assert hot.read_many([one, two, other]) == [None, rec("2"), rec("o")]
    assert hot.invalidate(prefixes=[keys.thread_dir(T)]) == 1
    assert hot.gens([tag])[tag] != after
    assert hot.read_many([two, other]) == [None, rec("o")]
    assert hot.children(keys.thread_dir(T)) == []
    assert hot.invalidate(tags=[tag_of(hot, other)]) == 1
    assert hot.read(other) is None


def check_invalidation_spares_pending(hot: HotTier, pttl: PTTL) -> None:
    """``keep_pending`` (a replay after an outage) never drops an unflushed value."""
    flushed, pending = ck(T, CP1), ck(T, CP2)
    hot.write_many([(flushed, rec("flushed"))])
    entry = encode_entry(1, False, [pending])
    hot.put_values([(pending, rec("pending"))], pending=PendingEntry(WRITER, entry))
    assert hot.invalidate(tags=[tag_of(hot, pending)], keep_pending=True) == 1
    assert hot.read_many([flushed, pending]) == [None, rec("pending")]


def check_pins(hot: HotTier, pttl: PTTL) -> None:
    """A pinned tag's values (and its registry) have no TTL; unpinned, they get it back."""
    key, later = ck(T, CP1), ck(T, CP2)
    tag = tag_of(hot, key)
    hot.write_many([(key, rec("a"))])
    assert 0 < pttl(hot.keys.value(key)) <= TTL_MS
    assert not hot.pinned(tag)
    hot.pin(tag, True)
    assert hot.pinned(tag)
    hot.write_many([(later, rec("b"))])  # written while pinned
    assert pttl(hot.keys.value(key)) == -1 and pttl(hot.keys.value(later)) == -1
    assert pttl(hot.keys.registry(tag)) == -1
    hot.pin(tag, False)
    assert not hot.pinned(tag)
    for name in (hot.keys.value(key), hot.keys.value(later), hot.keys.registry(tag)):
        assert 0 < pttl(name) <= TTL_MS


def check_ttl(hot: HotTier, pttl: PTTL) -> None:
    """Writes set the TTL (the registry's covers the values'); a read refreshes a value
    whose TTL is more than 10% gone, and ``refresh=False`` does not."""
    key = ck(T, CP1)
    name, registry = hot.keys.value(key), hot.keys.registry(tag_of(hot, key))
    hot.write_many([(key, rec("a"))])
    assert 0 < pttl(name) <= TTL_MS and pttl(registry) >= pttl(name)  # registry first
    half = TTL_MS // 2
    shorten(hot, name, half)
    assert hot.fetch([key], refresh=False).values == [rec("a")]
    assert 0 < pttl(name) <= half
    assert hot.read(key) == rec("a")  # due: refreshed to the full TTL
    assert pttl(name) > half and pttl(registry) > half


def check_queue(hot: HotTier, pttl: PTTL) -> None:
    """A pending write queues its entry; leases exclude; an ack ends the pending state."""
    key = ck(T, CP1)
    entry = encode_entry(1, False, [key])
    written = hot.put_values([(key, rec("p"))], pending=PendingEntry(WRITER, entry))
    assert hot.writers() == [WRITER]
    assert hot.queue_length(WRITER) == 1 and hot.queue_head(WRITER, 10) == [entry]
    assert hot.pending_flags([key, ck(OTHER, CP1)]) == [True, False]
    assert pttl(hot.keys.value(key)) == -1  # pending values never expire
    assert list(hot.pending_keys(keys.thread_dir(T))) == [key]
    assert hot.pending_under([keys.threads_root(), keys.thread_dir(T)]) == [[key], [key]]
    assert hot.children(keys.threads_root(), pending_only=True) == [T]
    assert hot.take_lease(WRITER, "flusher-a", TTL)
    assert not hot.take_lease(WRITER, "flusher-b", TTL)
    assert not hot.forget_writer(WRITER)  # queued and leased: kept
    flushed = [(key, written.digests[0])]
    assert hot.ack(WRITER, entry, flushed, written.gens, written.epoch) == []
    assert hot.queue_length(WRITER) == 0 and hot.pending_flags([key]) == [False]
    assert 0 < pttl(hot.keys.value(key)) <= TTL_MS  # flushed: an ordinary cached copy
    hot.release_lease(WRITER, "flusher-a")
    assert hot.forget_writer(WRITER) and hot.writers() == []


def check_ack_after_delete(hot: HotTier, pttl: PTTL) -> None:
    """A value deleted while its flush was in flight is named for a second cold delete."""
    key = ck(T, CP1)
    entry = encode_entry(1, False, [key])
    written = hot.put_values([(key, rec("doomed"))], pending=PendingEntry(WRITER, entry))
    hot.invalidate(keys=[key])
    flushed = [(key, written.digests[0])]
    assert hot.ack(WRITER, entry, flushed, written.gens, written.epoch) == [key]


def check_only_our_errors(dead: HotTier) -> None:
    """A hot tier that cannot reach Redis raises ``TierUnavailableError``, never redis-py's."""
    for op in (dead.ping, lambda: dead.read(ck(T, CP1)), dead.writers):
        with pytest.raises(TierUnavailableError) as info:
            op()
        assert not isinstance(info.value, RedisError)


CHECKS = [
    check_fenced_write,
    check_write_conditions,
    check_invalidation,
    check_invalidation_spares_pending,
    check_pins,
    check_ttl,
    check_queue,
    check_ack_after_delete,
]


def shorten(hot: HotTier, name: str, ms: int) -> None:
    """Make a value's TTL look older than it is (what time would do, without waiting)."""
    client: Any = hot.client  # type: ignore[attr-defined]
    client.pexpire(name, ms)


# -- both adapters -----------------------------------------------------------------------------


class HotTierContract:
    """Every check on one adapter; subclasses give ``make_hot`` and ``pttl``."""

    @pytest.fixture
    def hot(self, make_hot: Callable[..., HotTier]) -> HotTier:
        return make_hot(ttl=TTL)

    @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
    def test_contract(self, check: Check, hot: HotTier, pttl: PTTL) -> None:
        check(hot, pttl)

    def test_without_a_ttl_nothing_expires(self, make_hot: MakeHot, pttl: PTTL) -> None:
        hot = make_hot(ttl=None)
        hot.write_many([(ck(T, CP1), rec("a"))])
        assert pttl(hot.keys.value(ck(T, CP1))) == -1

    def test_a_dead_server_raises_only_our_error(self, dead: HotTier) -> None:
        check_only_our_errors(dead)


class TestStandalone(HotTierContract):
    @pytest.fixture
    def make_hot(self, redis_url: str, redis_prefix: str) -> Iterator[Callable[..., HotTier]]:
        made: list[HotTier] = []

        def make(ttl: timedelta | None) -> HotTier:
            made.append(RedisStore(redis_url, key_prefix=redis_prefix, ttl=ttl))
            return made[-1]

        yield make
        for hot in made:
            hot.close()

    @pytest.fixture
    def pttl(self, redis_url: str) -> Iterator[PTTL]:
        client = redis.Redis.from_url(redis_url)
        yield lambda name: int(client.pttl(name))
        client.close()

    @pytest.fixture
    def dead(self) -> Iterator[HotTier]:
        hot = RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout=timedelta(seconds=1))
        yield hot
        hot.close()


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServer]:
    server = RedisClusterServer()
    server.start()
    yield server
    server.stop()


class TestCluster(HotTierContract):
    @pytest.fixture
    def make_hot(
        self, cluster: RedisClusterServer, redis_prefix: str
    ) -> Iterator[Callable[..., HotTier]]:
        made: list[HotTier] = []

        def make(ttl: timedelta | None) -> HotTier:
            made.append(RedisClusterStore(cluster.url, key_prefix=redis_prefix, ttl=ttl))
            return made[-1]

        yield make
        for hot in made:
            hot.close()

    @pytest.fixture
    def pttl(self, cluster: RedisClusterServer) -> Iterator[PTTL]:
        client = cluster.client()
        yield lambda name: int(client.pttl(name))
        client.close()

    @pytest.fixture
    def dead(self) -> Iterator[HotTier]:
        hot = RedisClusterStore(f"redis://127.0.0.1:{free_port()}", timeout=timedelta(seconds=1))
        yield hot
        hot.close()


# -- negative controls: each check fails on an adapter with one defect -----------------------


class FenceBlind(RedisStore):
    """Writes whatever generation the tag has now: the fence is ignored."""

    def _write(self, put: Put) -> tuple[str, list[tuple[Any, Any]]]:
        return super()._write(dataclasses.replace(put, fence=None))


class DeleteKeepsGeneration(RedisStore):
    """Deletes values but leaves the generation token (and the registry) alone."""

    def invalidate(
        self,
        *,
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
        tags: Iterable[Tag] = (),
        keep_pending: bool = False,
    ) -> int:
        names = [self.keys.value(k) for k in keys]
        for prefix in prefixes:
            names += [self.keys.value(k) for k, _size, _mtime in self.walk(prefix)]
        return sum(int(n) for n in self._pipeline([("DEL", n) for n in names]))


class PinIgnored(RedisStore):
    """Records nothing and changes no TTL."""

    def pin(self, tag: Tag, pinned: bool) -> None:
        return None


class NoRefreshOnRead(RedisStore):
    """Reads never extend a TTL."""

    def _refresh(self, seen: Sequence[tuple[Key, str]]) -> None:
        return None


class AckLeavesTheEntry(RedisStore):
    """Ends the pending state but never pops the queue entry."""

    def _ack(self, ack: Ack) -> list[Any]:
        return super()._ack(dataclasses.replace(ack, entry=b""))


class OverwritesAlways(RedisStore):
    """Ignores the write condition (create-only, replace-these-bytes)."""

    def _write(self, put: Put) -> tuple[str, list[tuple[Any, Any]]]:
        return super()._write(dataclasses.replace(put, olds=["*"] * len(put.keys)))


class ReplayDropsPending(RedisStore):
    """Deletes unflushed values even when asked to keep them."""

    def _invalidate(self, plan: Invalidation, keep_pending: bool) -> int:
        return super()._invalidate(plan, False)


class AckNeverCompensates(RedisStore):
    """Never reports a value deleted during its flush."""

    def _ack(self, ack: Ack) -> list[Any]:
        super()._ack(ack)
        return []


class LeaksRedisErrors(RedisStore):
    """Lets redis-py's exceptions through."""

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        yield


def test_the_error_check_fails_when_redis_errors_leak() -> None:
    dead = LeaksRedisErrors(f"redis://127.0.0.1:{free_port()}/0", timeout=timedelta(seconds=1))
    try:
        with pytest.raises(RedisError):  # what the check's pytest.raises does not catch
            check_only_our_errors(dead)
    finally:
        dead.close()


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (FenceBlind, check_fenced_write),
        (DeleteKeepsGeneration, check_invalidation),
        (DeleteKeepsGeneration, check_fenced_write),
        (PinIgnored, check_pins),
        (NoRefreshOnRead, check_ttl),
        (AckLeavesTheEntry, check_queue),
        (OverwritesAlways, check_write_conditions),
        (ReplayDropsPending, check_invalidation_spares_pending),
        (AckNeverCompensates, check_ack_after_delete),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_each_check_fails_on_a_broken_adapter(
    broken: type[RedisStore],
    check: Callable[[HotTier, PTTL], None],
    redis_url: str,
    redis_prefix: str,
) -> None:
    hot = broken(redis_url, key_prefix=redis_prefix, ttl=TTL)
    client = redis.Redis.from_url(redis_url)
    try:
        with pytest.raises(AssertionError):
            check(hot, lambda name: int(client.pttl(name)))
    finally:
        client.close()
        hot.close()
