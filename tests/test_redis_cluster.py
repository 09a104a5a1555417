"""RedisClusterStore on a real local Redis Cluster (three primaries the tests start),
alone and as the hot tier of a TieredStore over S3 (moto over HTTP).

What is checked: the port contract, every key of a thread in one slot,
conformance 81/81 on (cluster hot + S3 cold), a graph resumed by another
process, MOVED after a slot migration, write-behind flushing to S3, and a
node killed mid-run (the saver keeps working from S3, typed errors only).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Iterator
from datetime import timedelta
from typing import Any

import pytest
import redis
from langgraph.checkpoint.conformance import checkpointer_test, validate
from redis.crc import key_slot
from redis.exceptions import RedisError

from langgraph_persist import PersistSaver, keys
from langgraph_persist.errors import TierUnavailableError
from langgraph_persist.store.base import Store
from langgraph_persist.store.redis_cluster import RedisClusterStore, build_cluster_tiered
from langgraph_persist.store.s3 import S3Store
from langgraph_persist.store.tiered import HotTierOptions, TieredStore
from langgraph_persist.testing.store_contract import CP1, StoreContract, T, ck, rec
from tests.graphs import approval_graph, chat_graph, human
from tests.redis_cluster_server import RedisClusterServer
from tests.redis_server import free_port
from tests.s3_server import S3Server, shared_server
from tests.test_conformance import assert_conforms
from tests.test_graphs import GraphTests, MakeSaver
from tests.test_s3 import S3LockSemantics, cfg, new_prefix, run_elsewhere


@pytest.fixture(scope="module")
def cluster() -> Iterator[RedisClusterServer]:
    server = RedisClusterServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def s3_server() -> S3Server:
    return shared_server()


@pytest.fixture(scope="module")
def s3_bucket(s3_server: S3Server) -> str:
    return s3_server.new_bucket()


@pytest.fixture(scope="module")
def s3_client(s3_server: S3Server) -> Any:
    return s3_server.client()


def redis_prefix() -> str:
    return f"c{uuid.uuid4().hex[:10]}:"


Options = HotTierOptions


@pytest.fixture
def make_tiered(cluster: RedisClusterServer, s3_bucket: str, s3_client: Any) -> Iterator[Any]:
    """TieredStores over one S3 prefix and one Redis prefix per test (= several hosts)."""
    s3_prefix, prefix = new_prefix(), redis_prefix()
    made: list[TieredStore] = []

    def make(mode: str = "write-through", target: Any = None, **options: Any) -> TieredStore:
        opts = HotTierOptions(mode=mode, key_prefix=prefix, ttl=timedelta(minutes=10), **options)  # type: ignore[arg-type]
        hot = RedisClusterStore(
            target or cluster.url, key_prefix=prefix, ttl=opts.ttl, timeout=opts.timeout
        )
        store = TieredStore(S3Store(s3_bucket, prefix=s3_prefix, client=s3_client), hot, opts)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


# -- the port contract -------------------------------------------------------------------------


class TestRedisClusterStoreContract(StoreContract):
    @pytest.fixture
    def store(self, cluster: RedisClusterServer) -> Iterator[Store]:
        nodes = [f"127.0.0.1:{p}" for p in cluster.ports]  # startup nodes, not a URL
        s = RedisClusterStore(nodes, key_prefix=redis_prefix())
        yield s
        s.close()


class TestTieredClusterS3Contract(S3LockSemantics, StoreContract):
    @pytest.fixture
    def store(self, make_tiered: Any) -> Iterator[Store]:
        yield make_tiered()


# -- isolation: a Redis ACL user restricted to the prefix (docs/tiers.md) ------------------------

CLUSTER_ACL = ("+cluster|slots", "+command", "+scan")
"""What a cluster user needs beyond the standalone line of docs/tiers.md (which names them)."""


@pytest.mark.parametrize("mode", ["write-through", "write-behind"])
def test_a_restricted_acl_user_runs_the_cluster_tier(
    cluster: RedisClusterServer, s3_bucket: str, s3_client: Any, mode: str
) -> None:
    from tests.test_hot_tier_trust import TIERS_MD, acl_user

    assert all(rule in TIERS_MD.read_text() for rule in CLUSTER_ACL)
    prefix, user = redis_prefix(), f"app-{mode}"
    for port in cluster.ports:  # ACL users are per node
        with contextlib.closing(redis.Redis(port=port)) as admin:
            acl_user(admin, user, "pw", prefix, *CLUSTER_ACL)
    url = f"redis://{user}:pw@127.0.0.1:{cluster.ports[0]}"
    saver = PersistSaver(
        s3=S3Store(s3_bucket, prefix=new_prefix(), client=s3_client),
        redis_cluster=url,
        hot=HotTierOptions(mode=mode, key_prefix=prefix),  # type: ignore[arg-type]
    )
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("one", "two"):
        graph.invoke(human(text), cfg("alice"))
    saver.pin_thread("alice")
    saver.unpin_thread("alice")
    saver.flush()
    assert saver.store.list(keys.threads_root()) == ["alice"]
    assert len(list(saver.list(cfg("alice")))) == 6
    saver.delete_thread("alice")
    stats = saver.store.stats()  # type: ignore[attr-defined]
    assert (stats["errors"], stats["degraded"]) == (0, False)  # no NOPERM anywhere
    saver.close()
    node = redis.Redis(port=cluster.ports[0], username=user, password="pw")
    with pytest.raises(redis.exceptions.NoPermissionError):
        node.get("lgp:{threads/alice}:g")  # another prefix
    node.close()


# -- slots -------------------------------------------------------------------------------------


def _stats(cluster: RedisClusterServer) -> dict[str, int]:
    """Calls per command, summed over the nodes."""
    total: dict[str, int] = {}
    for port in cluster.ports:
        with redis.Redis(port=port) as node:
            for name, stat in node.info("commandstats").items():
                total[name] = total.get(name, 0) + int(stat["calls"])
    return total


def test_thread_keys_share_one_slot(cluster: RedisClusterServer, make_tiered: Any) -> None:
    """Every Redis key of a thread lands in one slot; hot paths never scan or ask the
    server where keys are (no COMMAND GETKEYS round trips)."""
    store = make_tiered()
    prefix = store.hot.keys.prefix
    saver = PersistSaver(store=store)
    graph = chat_graph().compile(checkpointer=saver)
    before = _stats(cluster)
    for text in ("one", "two", "three"):
        graph.invoke(human(text), cfg("slot-test"))
    assert graph.get_state(cfg("slot-test")).values["turns"] == 3
    after = _stats(cluster)
    grew = {k for k in after if after[k] > before.get(k, 0)}
    assert not grew & {"cmdstat_scan", "cmdstat_keys", "cmdstat_command|getkeys"}, grew

    client = redis.RedisCluster(startup_nodes=cluster.startup_nodes)
    t = keys.encode_name("slot-test")
    names = [n.decode() for n in client.scan_iter(match=f"{prefix}*", count=1000)]
    mine = [n for n in names if f"{{threads/{t}}}" in n]
    assert len(mine) >= 8  # checkpoint and write values, info, registry, generation, ...
    assert len({key_slot(n.encode()) for n in mine}) == 1
    assert any(":v:ns/=/c/" in n for n in mine) and any(":v:ns/=/w/" in n for n in mine)
    # what is not the thread's is shared content or a run index, each in its own tag
    others = {n[len(prefix) :].split("}")[0].lstrip("{").split("/")[0] for n in names}
    assert others <= {"threads", "blobs", "runs"}
    client.close()


def test_slot_migration_is_followed(cluster: RedisClusterServer) -> None:
    """Move a thread's slot to another node behind the client's back: the next calls
    get MOVED and redis-py follows it (single scripts and pipelines alike)."""
    store = RedisClusterStore(cluster.url, key_prefix=redis_prefix())
    blob = keys.blob(bytes(range(20)))
    store.write_many([(ck(T, CP1), rec("a")), (blob, rec("blob"))])
    slot = key_slot(store.keys.registry(store.keys.tag_of(ck(T, CP1))).encode())
    nodes = {p: redis.Redis(port=p) for p in cluster.ports}
    ids = {p: n.execute_command("CLUSTER MYID").decode() for p, n in nodes.items()}
    owner = next(
        p for p, n in nodes.items() if n.execute_command("CLUSTER COUNTKEYSINSLOT", slot) > 0
    )
    target = next(p for p in cluster.ports if p != owner)
    nodes[target].execute_command("CLUSTER SETSLOT", slot, "IMPORTING", ids[owner])
    nodes[owner].execute_command("CLUSTER SETSLOT", slot, "MIGRATING", ids[target])
    while moving := nodes[owner].execute_command("CLUSTER GETKEYSINSLOT", slot, 100):
        nodes[owner].execute_command("MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *moving)
    for node in nodes.values():
        node.execute_command("CLUSTER SETSLOT", slot, "NODE", ids[target])
    assert store.read(ck(T, CP1)) == rec("a")  # one script: MOVED, then the new owner
    assert store.read_many([blob, ck(T, CP1)]) == [rec("blob"), rec("a")]  # a pipeline
    store.write_many([(ck(T, "1ef-0009"), rec("b")), (blob, rec("blob2"))])
    assert store.list(keys.checkpoints_dir(T, "=")) == [CP1, "1ef-0009"]
    for node in nodes.values():
        node.close()
    store.close()


def test_scripts_lost_by_a_node_are_reloaded(cluster: RedisClusterServer) -> None:
    """A node restarted empty has no scripts: the calls it refuses (NOSCRIPT) in a
    pipeline spanning all nodes are re-sent once the scripts are loaded."""
    store = RedisClusterStore(cluster.url, key_prefix=redis_prefix())
    items = [(keys.blob(bytes([i]) * 20), rec(f"b{i}")) for i in range(12)]  # many shards
    store.create_many(items[:6])
    with redis.Redis(port=cluster.ports[0]) as node:
        node.script_flush()
    store.create_many([(k, rec("second")) for k, _ in items[:6]] + items[6:])
    assert store.read_many([k for k, _ in items]) == [v for _, v in items]
    store.close()


# -- conformance and real graphs ---------------------------------------------------------------


async def test_conformance_cluster_hot_s3_cold(
    cluster: RedisClusterServer, s3_bucket: str, s3_client: Any
) -> None:
    @checkpointer_test(name="PersistSaver[redis-cluster + s3]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        opts = HotTierOptions(key_prefix=redis_prefix(), ttl=timedelta(minutes=10))
        cold = S3Store(s3_bucket, prefix=new_prefix(), client=s3_client)
        saver = PersistSaver(store=build_cluster_tiered(cold, cluster.url, opts))
        yield saver
        await asyncio.to_thread(saver.close)

    assert_conforms(await validate(factory))


RESUME_ON_THE_CLUSTER = """
import json, sys
from datetime import timedelta
from langgraph.types import Command
from langgraph_persist import PersistSaver
from langgraph_persist.store.redis_cluster import RedisClusterStore
from langgraph_persist.store.s3 import S3Store
from langgraph_persist.store.tiered import HotTierOptions, TieredStore
from tests.graphs import approval_graph, chat_graph, human

endpoint, bucket, s3_prefix, nodes, prefix = sys.argv[1:6]
cold = S3Store(bucket, prefix=s3_prefix, endpoint_url=endpoint, region="us-east-1",
               access_key_id="testing", secret_access_key="testing")
opts = HotTierOptions(key_prefix=prefix, ttl=timedelta(minutes=10))
hot = RedisClusterStore(nodes.split(","), key_prefix=prefix, ttl=opts.ttl)
saver = PersistSaver(store=TieredStore(cold, hot, opts))
chat = chat_graph().compile(checkpointer=saver)
config = {"configurable": {"thread_id": "chat"}}
before = [m.content for m in chat.get_state(config).values["messages"]]
out = chat.invoke(human("from the other process"), config)
approval = approval_graph().compile(checkpointer=saver)
done = approval.invoke(Command(resume="approved"), {"configurable": {"thread_id": "hitl"}})
print(json.dumps({"before": before, "turns": out["turns"], "log": done["log"]}))
saver.close()
"""


def test_graph_resumed_by_another_process(
    cluster: RedisClusterServer, s3_server: S3Server, s3_bucket: str, s3_client: Any
) -> None:
    s3_prefix, prefix = new_prefix(), redis_prefix()
    opts = HotTierOptions(key_prefix=prefix, ttl=timedelta(minutes=10))
    hot = RedisClusterStore(cluster.url, key_prefix=prefix, ttl=opts.ttl)
    cold = S3Store(s3_bucket, prefix=s3_prefix, client=s3_client)
    saver = PersistSaver(store=TieredStore(cold, hot, opts))  # type: ignore[arg-type]
    chat = chat_graph().compile(checkpointer=saver)
    chat.invoke(human("hello"), cfg("chat"))
    chat.invoke(human("again"), cfg("chat"))
    approval = approval_graph().compile(checkpointer=saver)
    approval.invoke({"request": "refund", "log": []}, cfg("hitl"))

    nodes = ",".join(f"127.0.0.1:{p}" for p in cluster.ports)
    other = run_elsewhere(
        RESUME_ON_THE_CLUSTER, s3_server.endpoint, s3_bucket, s3_prefix, nodes, prefix
    )
    assert other["before"] == ["hello", "echo: hello", "again", "echo: again"]
    assert other["turns"] == 3
    assert other["log"] == ["drafted refund", "reviewed: approved", "acted on approved"]
    state = chat.get_state(cfg("chat"))
    assert state.values["turns"] == 3
    assert state.values["messages"][-1].content == "echo: from the other process"
    assert approval.get_state(cfg("hitl")).next == ()
    assert saver.store.stats()["hits"] > 0  # type: ignore[attr-defined]
    saver.close()


def test_write_behind_reaches_s3(make_tiered: Any, s3_bucket: str, s3_client: Any) -> None:
    """Write-behind on the cluster: puts return from Redis, the flush lands in S3, and
    the writer's queue and registration are cleaned up."""
    store = make_tiered("write-behind")
    saver = PersistSaver(store=store)
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("one", "two", "three"):
        graph.invoke(human(text), cfg("wb"))
    saver.flush(timedelta(seconds=20))
    s3_only = PersistSaver(store=S3Store(s3_bucket, prefix=store.cold.prefix, client=s3_client))
    assert s3_only.get_tuple(cfg("wb")).checkpoint == saver.get_tuple(cfg("wb")).checkpoint  # type: ignore[union-attr]
    assert len(list(s3_only.list(cfg("wb")))) == 9
    hot: RedisClusterStore = store.hot  # type: ignore[assignment]
    writer = store._writer
    assert hot.queue_length(writer) == 0
    assert (
        hot.pending_flags(
            [
                keys.checkpoint(
                    keys.encode_name("wb"), "=", c.config["configurable"]["checkpoint_id"]
                )
                for c in saver.list(cfg("wb"))
            ]
        )
        == [False] * 9
    )
    saver.close()
    assert writer not in hot.writers()  # forgotten at close (hot reconnects to look)
    hot.close()
    s3_only.close()


# -- faults ------------------------------------------------------------------------------------


def test_cluster_down_at_start_is_lazy_and_typed(make_tiered: Any) -> None:
    nowhere = f"redis://127.0.0.1:{free_port()}"
    store = RedisClusterStore(nowhere)  # no connection yet: nothing to fail
    with pytest.raises(TierUnavailableError) as info:
        store.ping()
    assert not isinstance(info.value, RedisError)  # ours only; redis-py's error is the cause
    assert info.value.__cause__ is not None
    assert "redis-cluster://127.0.0.1" in str(info.value)
    tiered = make_tiered(target=nowhere)  # starts degraded, serves from S3
    saver = PersistSaver(store=tiered)
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("hello"), cfg("down"))
    assert graph.get_state(cfg("down")).values["turns"] == 1
    assert tiered.stats()["degraded"]


@pytest.mark.parametrize("mode", ["write-through", "write-behind"])
def test_node_killed_mid_run_keeps_working_from_s3(
    mode: str,
    cluster: RedisClusterServer,
    make_tiered: Any,
    s3_bucket: str,
    s3_client: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kill one primary between turns: every call still succeeds (from S3), the store
    says degraded; bring the node back (empty): the hot tier resumes, the state is
    exact, and everything acknowledged is in S3 (write-behind included). Last in the
    module: the node comes back empty (other tests' prefixes are their own anyway)."""
    private = cluster
    store = make_tiered(
        mode,
        target=private.url,
        timeout=timedelta(milliseconds=500),
        probe_interval=timedelta(milliseconds=50),
    )
    saver = PersistSaver(store=store)
    graph = chat_graph().compile(checkpointer=saver)
    threads = [f"user-{i}" for i in range(3)]  # their blobs span every node
    for thread in threads:
        graph.invoke(human("before"), cfg(thread))
    assert not store.stats()["degraded"]

    hot: RedisClusterStore = store.hot  # type: ignore[assignment]
    on_victim = next(  # a key whose slot the node we kill serves
        key
        for key in (ck(keys.encode_name(f"probe-{i}"), CP1) for i in range(1000))
        if hot.client.get_node_from_key(hot.keys.value(key)).port == private.ports[1]
    )
    private.kill(1)
    try:
        with caplog.at_level(logging.WARNING, logger="langgraph_persist.tiered"):
            for thread in threads:
                graph.invoke(human("during"), cfg(thread))
                assert graph.get_state(cfg(thread)).values["turns"] == 2
        assert store.stats()["degraded"] and store.stats()["outages"] >= 1
        assert any("unavailable" in r.getMessage() for r in caplog.records)
        with pytest.raises(TierUnavailableError):
            hot.read(on_victim)  # the adapter alone: a typed error
    finally:
        private.restart(1)
    deadline = time.monotonic() + 20
    while store.stats()["degraded"] and time.monotonic() < deadline:
        graph.get_state(cfg(threads[0]))
        time.sleep(0.05)
    assert not store.stats()["degraded"]
    expected = ["before", "echo: before", "during", "echo: during", "after", "echo: after"]
    for thread in threads:
        graph.invoke(human("after"), cfg(thread))
        state = graph.get_state(cfg(thread))
        assert [m.content for m in state.values["messages"]] == expected
    assert store.stats()["hits"] > 0
    saver.close()  # write-behind: flushes what is left
    s3_only = PersistSaver(store=S3Store(s3_bucket, prefix=store.cold.prefix, client=s3_client))
    for thread in threads:
        state = s3_only.get_tuple(cfg(thread))
        assert state is not None
        messages = state.checkpoint["channel_values"]["messages"]
        assert [m.content for m in messages] == expected
    s3_only.close()


def test_saver_kwargs_compose_cluster_over_s3(
    cluster: RedisClusterServer, s3_bucket: str, s3_client: Any, tmp_path: Any
) -> None:
    """PersistSaver(s3=..., redis_cluster=...) is the scale-out deployment in one line."""
    from langgraph_persist import ConfigurationError, PersistSaver
    from tests.graphs import chat_graph, human

    s3 = S3Store(s3_bucket, prefix=new_prefix(), client=s3_client)
    hot = HotTierOptions(key_prefix=redis_prefix())
    saver = PersistSaver(s3=s3, redis_cluster=cluster.url, hot=hot)
    assert isinstance(saver.store, TieredStore) and saver.store.cold is s3
    out = (
        chat_graph()
        .compile(checkpointer=saver)
        .invoke(human("hi"), {"configurable": {"thread_id": "k"}})
    )
    assert out["turns"] == 1
    cold_only = PersistSaver(s3=s3)  # S3 alone: another host, no hot tier
    assert cold_only.get_tuple({"configurable": {"thread_id": "k"}}) is not None
    with pytest.raises(ConfigurationError):
        PersistSaver(tmp_path / "x", redis="redis://127.0.0.1:1/0", redis_cluster=cluster.url)
    saver.close()


# -- the core real-graph tests, on Redis Cluster + S3 --------------------------------------


class TestGraphsClusterS3(GraphTests):
    """``tests/test_graphs.py``'s graph tests on a Cluster hot tier over S3 (several hosts)."""

    @pytest.fixture
    def make_saver(
        self, cluster: RedisClusterServer, s3_bucket: str, s3_client: Any
    ) -> Iterator[MakeSaver]:
        s3_prefix, prefix = new_prefix(), redis_prefix()
        made: list[PersistSaver] = []

        def make() -> PersistSaver:
            saver = PersistSaver(
                s3=S3Store(s3_bucket, prefix=s3_prefix, client=s3_client),
                redis_cluster=cluster.url,
                hot=HotTierOptions(key_prefix=prefix, ttl=timedelta(minutes=10)),
            )
            made.append(saver)
            return saver

        yield make
        for saver in made:
            saver.close()
