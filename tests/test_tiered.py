"""TieredStore: the semantics ``docs/tiers.md`` promises, each tested on a real redis-server.

Layout: the port contract (both modes), then reads, write-behind, deletes
and consistency, faults (Redis killed, unreachable, restarted), several OS
processes, LangGraph's conformance suite, and the core real-graph tests
re-run on the tiered saver.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncGenerator, Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist import PersistSaver, keys, records
from langgraph_persist.errors import ConfigurationError, StoreError, TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.hot_auth import store_secret
from langgraph_persist.store.redis import RedisStore
from langgraph_persist.store.tiered import HotTierOptions, TieredStore, _intact, build_tiered
from langgraph_persist.testing.store_contract import (
    CP1,
    CP2,
    CP3,
    OTHER,
    S1,
    StoreContract,
    T,
    ck,
    rec,
)
from tests.graphs import chat_graph, human, loop_graph
from tests.redis_server import RedisServer, free_port
from tests.test_conformance import assert_conforms
from tests.test_graphs import GraphTests, MakeSaver
from tests.test_redis_store import advance_clock

MODES = ["write-through", "write-behind"]
ROOT = Path(__file__).resolve().parent.parent
MakeTiered = Callable[..., TieredStore]


def options(mode: str, prefix: str, **extra: Any) -> HotTierOptions:
    """Fast probes and short leases, so fault tests take a fraction of a second."""
    base: dict[str, Any] = {
        "mode": mode,
        "key_prefix": prefix,
        "timeout": timedelta(seconds=1),
        "probe_interval": timedelta(milliseconds=100),
        "flush_lease": timedelta(seconds=1),
    }
    return HotTierOptions(**{**base, **extra})


@pytest.fixture
def make_tiered(tmp_path: Path, redis_url: str, redis_prefix: str) -> Iterator[MakeTiered]:
    """Tiered stores over ONE cold directory and ONE Redis prefix: each is 'a process'."""
    made: list[TieredStore] = []

    def make(
        mode: str = "write-through", cold: Store | None = None, url: str | None = None, **extra: Any
    ) -> TieredStore:
        store = build_tiered(
            cold if cold is not None else FileStore(tmp_path / "cold", durability="none"),
            url or redis_url,
            options(mode, redis_prefix, **extra),
        )
        made.append(store)
        return store

    yield make
    for store in made:
        with_errors_ignored(store.close)


def with_errors_ignored(call: Callable[[], None]) -> None:
    with contextlib.suppress(StoreError):  # a test left the cold tier failing on purpose
        call()


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def cfg(thread_id: str) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}}


class GatedStore(FileStore):
    """A FileStore whose writes wait for a gate and are recorded in call order."""

    def __init__(self, root: Path, gate: threading.Event) -> None:
        super().__init__(root, durability="none")
        store_secret(FileStore(root))  # made before the gate: the tier reads it at construction
        self.gate = gate
        self.calls: list[tuple[str, list[Key]]] = []

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self.gate.wait()
        self.calls.append(("w", [k for k, _ in items]))
        super().write_many(items)

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self.gate.wait()
        self.calls.append(("c", [k for k, _ in items]))
        super().create_many(items)


# -- the port contract, both modes -----------------------------------------------------------


class TestTieredWriteThroughContract(StoreContract):
    @pytest.fixture
    def store(self, make_tiered: MakeTiered) -> Iterator[Store]:
        yield make_tiered("write-through")


class TestTieredWriteBehindContract(StoreContract):
    @pytest.fixture
    def store(self, make_tiered: MakeTiered) -> Iterator[Store]:
        yield make_tiered("write-behind")


# -- options ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad",
    [
        {"mode": "write-around"},
        {"ttl": 3600},
        {"ttl": timedelta(0)},
        {"key_prefix": "{x}"},
        {"max_pending_bytes": 0},
        {"probe_interval": timedelta(microseconds=5)},
    ],
)
def test_options_are_validated(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        HotTierOptions(**bad)


def test_hot_store_must_match_options(tmp_path: Path, redis_url: str) -> None:
    hot = RedisStore(redis_url, ttl=timedelta(minutes=5))
    with pytest.raises(ConfigurationError):
        TieredStore(FileStore(tmp_path / "c"), hot, HotTierOptions(ttl=timedelta(minutes=6)))
    with pytest.raises(ConfigurationError):
        TieredStore(FileStore(tmp_path / "c"), RedisStore(redis_url))  # no TTL: unbounded
    hot.close()


def test_intact_verifies_digest_without_decoding() -> None:
    good = records.encode(Kind.CHECKPOINT, {"x": list(range(100))})
    assert _intact(good)

    class Reverse:  # a stand-in Sealer: the tier never needs the real key
        def seal(self, payload: bytes, aad: bytes) -> bytes:
            return payload[::-1] + b"tag"

        def open(self, sealed: bytes, aad: bytes) -> bytes:
            return sealed[:-3][::-1]

    encrypted = records.frame(Kind.BLOB, b"\x91\x01", sealer=Reverse(), aad=b"here")
    assert _intact(encrypted)  # verifiable without the key
    for i in (0, 5, 20, len(good) - 1):
        flipped = bytearray(good)
        flipped[i] ^= 0x01
        assert not _intact(bytes(flipped))
    assert not _intact(good[:-1]) and not _intact(b"") and not _intact(b"x" * 40)


# -- writes and reads ------------------------------------------------------------------------


def test_write_through_reaches_both_tiers(make_tiered: MakeTiered) -> None:
    store = make_tiered()
    store.write_many([(ck(T, CP1), rec("a"))])
    assert store.cold.read(ck(T, CP1)) == rec("a")
    assert store.hot.read(ck(T, CP1)) == rec("a")
    assert 0 < store.hot.client.pttl(store.hot.keys.value(ck(T, CP1))) <= 86_400_000


def test_miss_reads_cold_and_backfills(make_tiered: MakeTiered) -> None:
    store = make_tiered()
    store.cold.write_many([(ck(T, CP1), rec("cold only"))])
    assert store.read(ck(T, CP1)) == rec("cold only")
    assert store.hot.read(ck(T, CP1)) == rec("cold only")
    assert store.read(ck(T, CP1)) == rec("cold only")
    stats = store.stats()
    assert (stats["misses"], stats["backfills"], stats["hits"]) == (1, 1, 1)


def test_damaged_hot_entry_is_served_from_cold_and_rewritten(make_tiered: MakeTiered) -> None:
    store = make_tiered()
    store.write_many([(ck(T, CP1), rec("precious"))])
    hot_key = store.hot.keys.value(ck(T, CP1))
    damaged = bytearray(rec("precious"))
    damaged[-1] ^= 0xFF
    store.hot.client.set(hot_key, bytes(damaged), keepttl=True)
    assert store.read(ck(T, CP1)) == rec("precious")
    assert store.hot.client.get(hot_key) == store.auth.seal(ck(T, CP1), rec("precious"))
    assert store.stats()["corrupt"] == 1


@pytest.mark.parametrize("mode", MODES)
def test_tombstones_live_in_the_cold_tier_only(make_tiered: MakeTiered, mode: str) -> None:
    """Read on every put, almost never present: Redis would only add a round trip."""
    store = make_tiered(mode)
    store.write_many([(keys.tombstone(T), rec("stone")), (ck(T, CP1), rec("a"))])
    assert store.cold.read(keys.tombstone(T)) == rec("stone")  # synchronous in both modes
    assert store.hot.read(keys.tombstone(T)) is None
    assert store.read_many([ck(T, CP1), keys.tombstone(T), keys.tombstone(OTHER)]) == [
        rec("a"),
        rec("stone"),
        None,
    ]
    assert store.stats()["misses"] == 0


def test_exists_never_trusts_redis_alone(make_tiered: MakeTiered) -> None:
    """A Redis copy the cold tier lacks must not make the engine skip writing content."""
    store = make_tiered()
    blob = keys.blob(bytes(20))
    store.hot.write_many([(blob, rec("only in redis"))])
    assert store.exists_many([blob]) == [False]


def test_ttl_then_backfill(make_tiered: MakeTiered) -> None:
    store = make_tiered(ttl=timedelta(minutes=1))
    store.write_many([(ck(T, CP1), rec("a"))])
    assert isinstance(store.hot, RedisStore)
    advance_clock(store.hot, 2 * 60_000)  # two minutes pass, as far as Redis can tell
    assert store.hot.read(ck(T, CP1)) is None  # bounded: expired from Redis ...
    assert store.read(ck(T, CP1)) == rec("a")  # ... still served from the cold tier
    assert store.hot.read(ck(T, CP1)) == rec("a")


def test_pin_and_unpin_thread(make_tiered: MakeTiered) -> None:
    store = make_tiered()
    t = keys.encode_name("user-42")
    store.write_many([(ck(t, CP1), rec("a"))])
    store.pin_thread("user-42")
    assert store.is_pinned("user-42")
    store.write_many([(ck(t, CP2), rec("b"))])
    for cid in (CP1, CP2):
        assert store.hot.client.pttl(store.hot.keys.value(ck(t, cid))) == -1
    store.unpin_thread("user-42")
    assert not store.is_pinned("user-42")
    assert store.hot.client.pttl(store.hot.keys.value(ck(t, CP2))) > 0


def test_recover_repairs_either_tier(make_tiered: MakeTiered) -> None:
    store = make_tiered()
    good = rec("good")
    store.write_many([(ck(T, CP1), good), (ck(T, CP2), good)])
    store.hot.client.set(store.hot.keys.value(ck(T, CP1)), b"junk")
    store.cold.write_many([(ck(T, CP2), b"junk")])
    assert store.recover(ck(T, CP1), _intact) and store.hot.read(ck(T, CP1)) == good
    assert store.recover(ck(T, CP2), _intact) and store.cold.read(ck(T, CP2)) == good
    assert not store.recover(ck(T, CP3), _intact)


# -- write-behind ----------------------------------------------------------------------------


def test_write_behind_acknowledges_first_and_flushes_in_order(
    make_tiered: MakeTiered, tmp_path: Path
) -> None:
    gate = threading.Event()
    cold = GatedStore(tmp_path / "cold", gate)
    store = make_tiered("write-behind", cold=cold)
    blob = keys.blob(bytes(range(20)))
    store.create_many([(blob, rec("content"))])
    store.commit(write=[(ck(T, CP1), rec("one"))])  # how the engine puts: commit
    store.commit(write=[(ck(T, CP2), rec("two"))])
    # acknowledged but not in the cold tier: readable, listed, existing, for every process
    assert FileStore(tmp_path / "cold").read(ck(T, CP1)) is None
    assert store.read(ck(T, CP2)) == rec("two")
    assert store.list(keys.checkpoints_dir(T, "=")) == [CP1, CP2]
    assert store.list(keys.threads_root()) == [T]
    assert store.exists_many([blob, ck(T, CP1), ck(T, CP3)]) == [True, True, False]
    other = make_tiered("write-behind")
    assert other.read(ck(T, CP1)) == rec("one")
    assert other.list_many([keys.checkpoints_dir(T, "=")]) == [[CP1, CP2]]
    assert [k for k, _, _ in store.walk(keys.thread_dir(T))] == [ck(T, CP1), ck(T, CP2)]
    gate.set()
    store.flush()
    # in call order, and create-only: a flush never overwrites what the cold tier holds
    assert cold.calls == [("c", [blob]), ("c", [ck(T, CP1)]), ("c", [ck(T, CP2)])]
    assert FileStore(tmp_path / "cold").read(ck(T, CP2)) == rec("two")
    assert store.hot.pending_flags([blob, ck(T, CP1), ck(T, CP2)]) == [False] * 3
    assert store.hot.client.pttl(store.hot.keys.value(ck(T, CP2))) > 0  # bounded again
    assert store.stats()["flushed"] == 3


def test_write_behind_back_pressure(make_tiered: MakeTiered, tmp_path: Path) -> None:
    gate = threading.Event()
    store = make_tiered(
        "write-behind", cold=GatedStore(tmp_path / "cold", gate), max_pending_bytes=1
    )
    store.commit(write=[(ck(T, CP1), rec("a"))])
    second = threading.Thread(target=store.commit, kwargs={"write": [(ck(T, CP2), rec("b"))]})
    second.start()
    second.join(0.3)
    assert second.is_alive()  # waits for the flusher instead of growing the buffer
    gate.set()
    second.join(5)
    assert not second.is_alive()


def test_write_behind_flush_reports_a_failing_cold_tier(
    make_tiered: MakeTiered, tmp_path: Path
) -> None:
    class Failing(FileStore):
        broken = False

        def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
            if self.broken:
                raise StoreError("disk full (simulated)")
            super().create_many(items)

    cold = Failing(tmp_path / "cold", durability="none")
    store = make_tiered("write-behind", cold=cold)
    cold.broken = True  # after the store secret was made
    store.commit(write=[(ck(T, CP1), rec("a"))])
    with pytest.raises(StoreError, match="keeps failing"):
        store.flush(timeout=timedelta(seconds=5))
    assert store.read(ck(T, CP1)) == rec("a")  # still acknowledged, still in Redis
    cold.broken = False
    store.flush()
    assert cold.read(ck(T, CP1)) == rec("a")


def test_delete_wins_over_an_in_flight_flush(make_tiered: MakeTiered, tmp_path: Path) -> None:
    """A record deleted while its flush is under way does not come back in the cold tier."""
    gate = threading.Event()
    writer = make_tiered("write-behind", cold=GatedStore(tmp_path / "cold", gate))
    writer.commit(write=[(ck(T, CP1), rec("doomed"))])
    wait_for(lambda: writer._behind.flush_lock.locked())  # the flusher is blocked in the cold write
    deleter = make_tiered("write-through")
    deleter.delete_tree(keys.thread_dir(T))
    gate.set()
    writer.flush()
    assert FileStore(tmp_path / "cold").read(ck(T, CP1)) is None
    assert writer.read(ck(T, CP1)) is None and deleter.read(ck(T, CP1)) is None
    assert writer.stats()["compensated"] == 1


def test_gc_in_write_behind_mode(make_saver: Callable[[], PersistSaver]) -> None:
    """gc holds the maintenance lock and deletes through the tier, which flushes first:
    no deadlock, and nothing an unflushed checkpoint references is collected."""
    saver = make_saver()
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("a", "b", "c"):
        graph.invoke(human(text * 500), cfg("gc"))  # large enough to be stored as blobs
    saver.delete_thread("gc")
    fresh = "fresh" * 100
    graph.invoke(human(fresh), cfg("gc-2"))
    done = threading.Event()
    result: list[Any] = []
    worker = threading.Thread(target=lambda: (result.append(saver.gc()), done.set()))
    worker.start()
    assert done.wait(20), "gc deadlocked"
    assert result[0].blobs_deleted > 0
    state = chat_graph().compile(checkpointer=make_saver()).get_state(cfg("gc-2"))
    assert [m.content for m in state.values["messages"]] == [fresh, f"echo: {fresh}"]


def test_a_delete_under_the_gc_lock_can_flush(make_tiered: MakeTiered) -> None:
    """The deadlock gc would hit if flushes took the maintenance lock: gc holds it
    exclusively and deletes through the tier, which flushes the buffer first."""
    store = make_tiered("write-behind")
    store._stop.set()  # no background flusher: the record stays buffered
    store._worker.join()
    store.commit(write=[(ck(T, CP1), rec("buffered"))])
    assert store.stats()["pending"] == 1
    done: list[str] = []

    def like_gc() -> None:
        with store.maintenance_lock(exclusive=True):
            store.delete_many([ck(T, CP2)])
        done.append("deleted")

    thread = threading.Thread(target=like_gc, daemon=True)
    thread.start()
    thread.join(5)
    if done != ["deleted"]:
        store._closed = True  # close() would wait for the stuck flush forever
        pytest.fail("deadlock: the flush waited for the lock gc holds")
    assert store.cold.read(ck(T, CP1)) == rec("buffered")


# -- deletes and consistency -----------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_delete_is_seen_by_every_process(make_tiered: MakeTiered, mode: str) -> None:
    a, b = make_tiered(mode), make_tiered(mode)
    a.write_many([(ck(T, CP1), rec("a")), (keys.write(T, "=", CP1, S1), rec("w"))])
    assert b.read(ck(T, CP1)) == rec("a")
    a.delete_tree(keys.thread_dir(T))
    assert b.read_many([ck(T, CP1), keys.write(T, "=", CP1, S1)]) == [None, None]
    assert b.list(keys.threads_root()) == []
    assert list(a.hot.walk(keys.thread_dir(T))) == []


def test_backfill_racing_a_delete_is_fenced(make_tiered: MakeTiered) -> None:
    """The exact interleaving: miss in Redis, read cold, delete, write back."""
    reader, deleter = make_tiered(), make_tiered()
    reader.cold.write_many([(ck(T, CP1), rec("old"))])
    seen = reader.hot.fetch([ck(T, CP1)])
    from_cold = reader.cold.read(ck(T, CP1))
    assert seen.values == [None] and from_cold is not None
    deleter.delete_tree(keys.thread_dir(T))
    late = reader.hot.put_values([(ck(T, CP1), from_cold)], old="-", fence=seen.gens)
    assert late.fenced
    assert reader.read(ck(T, CP1)) is None


def test_concurrent_backfills_never_resurrect_deleted_records(make_tiered: MakeTiered) -> None:
    deleter = make_tiered()
    readers = [make_tiered(), make_tiered()]
    wanted = [ck(T, f"1ef-{i:04d}") for i in range(8)]
    for _round in range(15):
        deleter.cold.write_many([(k, rec(k[-1])) for k in wanted])  # cold only: reads backfill
        stop = threading.Event()

        reading = [threading.Event() for _ in readers]

        def read_loop(
            store: TieredStore, started: threading.Event, stop: threading.Event = stop
        ) -> None:
            while not stop.is_set():
                store.read_many(wanted)
                started.set()

        threads = [
            threading.Thread(target=read_loop, args=(r, e))
            for r, e in zip(readers, reading, strict=True)
        ]
        for th in threads:
            th.start()
        assert all(e.wait(30) for e in reading)  # both readers are in their loops
        deleter.delete_tree(keys.thread_dir(T))
        stop.set()
        for th in threads:
            th.join()
        assert deleter.hot.read_many(wanted) == [None] * len(wanted)
        assert readers[0].read_many(wanted) == [None] * len(wanted)
    assert sum(r.stats()["backfills"] for r in readers) > 0


# -- faults ----------------------------------------------------------------------------------


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]


@pytest.mark.parametrize("mode", MODES)
def test_redis_killed_mid_graph_then_back(
    mode: str,
    tmp_path: Path,
    private_redis: Callable[..., RedisServer],
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = private_redis()
    store = build_tiered(
        FileStore(tmp_path / "cold", durability="none"), server.url, options(mode, "lgp:")
    )
    saver = PersistSaver(store=store)
    graph = chat_graph().compile(checkpointer=saver)
    reference = chat_graph().compile(checkpointer=InMemorySaver())

    def turn(text: str) -> None:
        assert graph.invoke(human(text), cfg("chat")) == reference.invoke(human(text), cfg("chat"))

    turn("one")
    turn("two")
    caplog.set_level(logging.WARNING, logger="langgraph_persist.tiered")
    server.kill()
    for text in ("three", "four", "five"):
        turn(text)  # Redis is gone: the cold tier carries on
    stats = store.stats()
    assert stats["degraded"] and stats["errors"] >= 1 and stats["outages"] == 1
    assert len(_warnings(caplog)) == 1  # one warning per outage, not one per call
    server.start()  # same port, empty (a crash loses Redis's memory)
    wait_for(lambda: not store.stats()["degraded"])
    turn("six")
    latest = saver.get_tuple(cfg("chat"))
    assert latest is not None
    t = keys.encode_name("chat")
    key = keys.checkpoint(t, "=", latest.config["configurable"]["checkpoint_id"])
    assert store.hot.read(key) is not None  # the hot tier is in use again
    assert graph.get_state(cfg("chat")).values == reference.get_state(cfg("chat")).values
    saver.close()
    # everything reached the durable tier: a file-only saver sees the same state
    cold_only = chat_graph().compile(checkpointer=PersistSaver(tmp_path / "cold"))
    assert cold_only.get_state(cfg("chat")).values == reference.get_state(cfg("chat")).values


def test_redis_unreachable_at_start(
    make_tiered: MakeTiered, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="langgraph_persist.tiered")
    port = free_port()
    store = make_tiered(url=f"redis://127.0.0.1:{port}/0")
    assert store.stats()["degraded"]
    store.write_many([(ck(T, CP1), rec("a"))])
    assert store.read(ck(T, CP1)) == rec("a")
    assert store.list(keys.checkpoints_dir(T, "=")) == [CP1]
    with pytest.raises(TierUnavailableError):
        store.pin_thread("x")
    assert len(_warnings(caplog)) == 1
    server = RedisServer(port=port)
    try:
        server.start()
        wait_for(lambda: not store.stats()["degraded"])
        assert store.read(ck(T, CP1)) == rec("a")
        assert store.hot.read(ck(T, CP1)) == rec("a")  # backfilled: the hot tier resumed
    finally:
        store.close()
        server.stop()


def test_tls_url(tmp_path: Path, private_redis: Callable[..., RedisServer]) -> None:
    """``rediss://``: the hot tier over TLS (self-signed certificate, CA given in the URL)."""
    server = private_redis(tls=True)
    store = build_tiered(
        FileStore(tmp_path / "cold", durability="none"), server.url, options("write-through", "l:")
    )
    assert not store.stats()["degraded"]
    assert store.describe().count("rediss://") == 1
    store.write_many([(ck(T, CP1), rec("over tls"))])
    assert store.hot.read(ck(T, CP1)) == rec("over tls")
    store.close()
    plain = build_tiered(
        FileStore(tmp_path / "cold2", durability="none"),
        server.url.replace("rediss://", "redis://").split("?")[0],
        options("write-through", "l:"),
    )
    assert plain.stats()["degraded"]  # a plaintext client cannot talk to a TLS port
    plain.close()


def test_changes_made_while_redis_was_away_are_invalidated(
    tmp_path: Path, private_redis: Callable[..., RedisServer]
) -> None:
    """A partition (Redis alive, unreachable): stale entries are dropped when it is back."""
    server = private_redis()
    cold = FileStore(tmp_path / "cold", durability="none")
    store = build_tiered(cold, server.url, options("write-through", "lgp:"))
    store.write_many([(ck(T, CP1), rec("v1")), (ck(OTHER, CP1), rec("x"))])
    real_hot = store.hot.client
    store.hot.client = RedisStore(f"redis://127.0.0.1:{free_port()}/0").client  # partition
    store.write_many([(ck(T, CP1), rec("v2"))])
    store.delete_tree(keys.thread_dir(OTHER))
    assert store.stats()["degraded"]
    store.hot.client = real_hot
    wait_for(lambda: not store.stats()["degraded"])
    assert store.read(ck(T, CP1)) == rec("v2")
    assert store.read(ck(OTHER, CP1)) is None
    store.close()


# -- several processes -----------------------------------------------------------------------

_PROCESS = textwrap.dedent(
    """
    import json, sys
    from datetime import timedelta
    from langgraph_persist import PersistSaver
    from langgraph_persist.store.files import FileStore
    from langgraph_persist.store.tiered import HotTierOptions, build_tiered
    from tests.graphs import chat_graph, human
    cold, url, prefix, mode, text = sys.argv[1:6]
    opts = HotTierOptions(mode=mode, key_prefix=prefix, flush_lease=timedelta(seconds=1))
    store = build_tiered(FileStore(cold, durability="none"), url, opts)
    saver = PersistSaver(store=store)
    graph = chat_graph().compile(checkpointer=saver)
    cfg = {"configurable": {"thread_id": "shared"}}
    out = graph.invoke(human(text), cfg)
    stats = store.stats()
    saver.close()
    print(json.dumps({"messages": [m.content for m in out["messages"]], "hits": stats["hits"]}))
    """
)


def _run_process(*args: str) -> dict[str, Any]:
    import json

    done = subprocess.run(
        [sys.executable, "-c", _PROCESS, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_two_processes_share_a_thread_through_redis(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    cold = str(tmp_path / "cold")
    first = _run_process(cold, redis_url, redis_prefix, "write-through", "one")
    assert first["messages"] == ["one", "echo: one"]
    second = _run_process(cold, redis_url, redis_prefix, "write-behind", "two")
    assert second["messages"] == ["one", "echo: one", "two", "echo: two"]
    assert second["hits"] > 0  # process 2 read process 1's checkpoint from Redis
    store = build_tiered(FileStore(cold), redis_url, options("write-through", redis_prefix))
    graph = chat_graph().compile(checkpointer=PersistSaver(store=store))
    state = graph.get_state(cfg("shared"))
    assert [m.content for m in state.values["messages"]][-1] == "echo: two"
    assert store.stats()["hits"] > 0
    store.close()


_KILLED_WRITER = textwrap.dedent(
    """
    import sys, time
    from datetime import timedelta
    from langgraph_persist import PersistSaver
    from langgraph_persist.store.files import FileStore
    from langgraph_persist.store.tiered import HotTierOptions, build_tiered
    from tests.graphs import loop_graph

    class NeverWrites(FileStore):
        # the flusher blocks forever: nothing acknowledged reaches the cold tier
        def write_many(self, items):
            time.sleep(3600)
        def create_many(self, items):
            time.sleep(3600)

    cold, url, prefix = sys.argv[1:4]
    opts = HotTierOptions(mode="write-behind", key_prefix=prefix,
                          flush_lease=timedelta(seconds=1))
    saver = PersistSaver(store=build_tiered(NeverWrites(cold, durability="none"), url, opts))
    graph = loop_graph(6).compile(checkpointer=saver)
    out = graph.invoke({"n": 0, "trail": []}, {"configurable": {"thread_id": "wb"}},
                       durability="sync")
    print("ACKNOWLEDGED", out["n"], flush=True)
    time.sleep(3600)
    """
)


def test_write_behind_survives_a_killed_writer(
    tmp_path: Path, redis_url: str, redis_prefix: str
) -> None:
    cold = str(tmp_path / "cold")
    store_secret(FileStore(cold))  # NeverWrites could not create it
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, cold, redis_url, redis_prefix],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().split() == ["ACKNOWLEDGED", "6"]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    expected = {"n": 6, "trail": [0, 1, 2, 3, 4, 5]}
    assert PersistSaver(cold).get_tuple(cfg("wb")) is None  # nothing reached the cold tier
    # another process (same mode: it lists unflushed records) reads everything at once ...
    store = build_tiered(FileStore(cold), redis_url, options("write-behind", redis_prefix))
    graph = loop_graph(6).compile(checkpointer=PersistSaver(store=store))
    assert graph.get_state(cfg("wb")).values == expected
    # ... and completes the dead writer's flush once its lease has expired
    wait_for(lambda: store.stats()["recovered"] > 0 and not store.hot.writers())
    store.close()
    durable = loop_graph(6).compile(checkpointer=PersistSaver(cold))
    assert durable.get_state(cfg("wb")).values == expected
    assert len(list(durable.get_state_history(cfg("wb")))) == 8


# -- LangGraph conformance, both modes -------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
async def test_conformance(mode: str, tmp_path: Path, redis_url: str) -> None:
    counter = itertools.count()

    @checkpointer_test(name=f"PersistSaver[tiered, {mode}]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        n = next(counter)
        cold = FileStore(tmp_path / f"cold-{n}", durability="none")
        saver = PersistSaver(store=build_tiered(cold, redis_url, options(mode, f"c{n}:")))
        yield saver
        await asyncio.to_thread(saver.close)

    assert_conforms(await validate(factory))


# -- the core real-graph tests, re-run on the tiered saver -----------------------------------


@pytest.fixture(params=MODES)
def make_saver(
    request: pytest.FixtureRequest, tmp_path: Path, redis_url: str, redis_prefix: str
) -> Iterator[Callable[[], PersistSaver]]:
    """Overrides ``tests/test_graphs.py``'s fixture: savers on one tiered configuration."""
    made: list[PersistSaver] = []

    def make() -> PersistSaver:
        cold = FileStore(tmp_path / "store", durability="none")
        store = build_tiered(cold, redis_url, options(request.param, redis_prefix))
        saver = PersistSaver(store=store)
        made.append(saver)
        return saver

    yield make
    for saver in made:
        saver.close()


class TestGraphsTiered(GraphTests):
    """``tests/test_graphs.py``'s graph tests on this module's tiered savers (both modes)."""

    @pytest.fixture
    def make_saver(self, make_saver: MakeSaver) -> MakeSaver:
        return make_saver  # the module's fixture above (other tests here use it too)


def test_tiered_stats_surface_in_saver_stats(make_saver: Callable[[], PersistSaver]) -> None:
    saver = make_saver()
    graph = loop_graph(2).compile(checkpointer=saver)
    graph.invoke({"n": 0, "trail": []}, cfg("s"))
    tiers = saver.stats().tiers
    assert tiers["mode"] in MODES and "hits" in tiers and tiers["degraded"] is False


def test_hashlib_sha1_matches_redis_sha1hex(make_tiered: MakeTiered) -> None:
    """Repairs compare Python's sha1 with Lua's redis.sha1hex: they must agree."""
    store = make_tiered()
    data = rec("x") + bytes(range(256))
    sha = store.hot.client.eval("return redis.sha1hex(ARGV[1])", 0, data)
    assert sha.decode() == hashlib.sha1(data).hexdigest()


def test_verify_checks_the_cold_tier_behind_a_good_hot_copy(tmp_path: Path, redis_url: str) -> None:
    """Damage in the source of truth must not hide behind an intact Redis copy."""
    from langgraph_persist import PersistSaver
    from tests.graphs import chat_graph, human

    saver = PersistSaver(tmp_path / "s", redis=redis_url)
    chat_graph().compile(checkpointer=saver).invoke(
        human("hi"), {"configurable": {"thread_id": "v"}}
    )
    cold = saver.store.cold  # type: ignore[attr-defined]
    latest = cold.list_desc(keys.checkpoints_dir("v", "="), limit=1)[0]
    record = keys.checkpoint("v", "=", latest)
    good = cold.read(record)
    cold.write_many([(record, good[:-1] + bytes([good[-1] ^ 1]))])  # damage the cold copy only
    report = saver.verify()
    assert [d.location.rsplit("/", 1)[-1] for d in report.damaged] == [latest]
    repaired = saver.verify(repair=True)
    assert repaired.ok and cold.read(record) == good  # restored from the Redis copy
    saver.close()
