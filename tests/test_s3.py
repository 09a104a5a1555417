"""S3Store against a real S3-compatible server (moto, over HTTP, in its own process).

What is checked: the port contract (``StoreContract``), LangGraph's conformance
suite, a real graph resumed by another process, conditional creates, lease
locks, error mapping (a killed server is a typed error), and the request
cost of each saver operation (the figures in docs/scaling.md).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import uuid
from collections import Counter
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.types import Command

from langgraph_persist import PersistSaver, keys
from langgraph_persist.errors import (
    ConfigurationError,
    FencedWriterError,
    InvalidIdError,
    PersistError,
    StoreError,
    TierUnavailableError,
    UnsupportedFormatError,
)
from langgraph_persist.store import s3
from langgraph_persist.store.base import Store
from langgraph_persist.store.s3 import S3Store
from langgraph_persist.testing.store_contract import CP1, OTHER, StoreContract, T, ck, rec
from tests.graphs import approval_graph, chat_graph, human
from tests.s3_server import S3Server, shared_server
from tests.test_conformance import assert_conforms
from tests.test_graphs import GraphTests, MakeSaver

ROOT = Path(__file__).resolve().parent.parent


def new_prefix() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


@pytest.fixture(scope="module")
def s3_server() -> S3Server:
    return shared_server()


@pytest.fixture(scope="module")
def s3_bucket(s3_server: S3Server) -> str:
    """One bucket for the module; every store in it gets its own prefix."""
    return s3_server.new_bucket()


class RequestLog:
    """Counts the HTTP requests a boto3 client sends (botocore's ``before-send`` event)."""

    def __init__(self, client: Any) -> None:
        self.ops: Counter[str] = Counter()
        self.list_prefixes: list[str] = []
        self.max_keys: list[str] = []
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request: Any, event_name: str, **_: Any) -> None:
        op = event_name.rsplit(".", 1)[-1]
        self.ops[op] += 1
        if op == "ListObjectsV2":
            query = parse_qs(urlparse(request.url).query)
            self.list_prefixes.append(query.get("prefix", [""])[0])
            self.max_keys.append(query.get("max-keys", [""])[0])

    def reset(self) -> None:
        self.ops.clear()
        self.list_prefixes.clear()
        self.max_keys.clear()

    @property
    def total(self) -> int:
        return sum(self.ops.values())


@pytest.fixture(scope="module")
def s3_client(s3_server: S3Server) -> Any:
    """One boto3 client for the module (building one costs ~50 ms; they are thread-safe)."""
    return s3_server.client()


@pytest.fixture
def make_store(s3_client: Any, s3_bucket: str) -> Iterator[Any]:
    """Stores over one prefix per test (several stores = several hosts on one bucket)."""
    prefix = new_prefix()
    made: list[S3Store] = []

    def make(**kwargs: Any) -> S3Store:
        options: dict[str, Any] = {"prefix": prefix, "client": s3_client, **kwargs}
        store = S3Store(s3_bucket, **options)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


class S3LockSemantics:
    """Replaces one contract test for stores whose locks are S3's (S3Store, and a
    TieredStore over it): a shared lock is a no-op (module docstring of s3.py)."""

    def test_shared_locks_share_and_exclude_exclusive(self, store: Store) -> None:
        order: list[str] = []
        with store.lock(keys.thread_dir(T), exclusive=False):
            with store.lock(keys.thread_dir(T), exclusive=False):
                order.append("two shared holders")
            with store.lock(keys.thread_dir(T), exclusive=True):
                order.append("exclusive not blocked by a shared holder")
        assert order == ["two shared holders", "exclusive not blocked by a shared holder"]


class TestS3StoreContract(S3LockSemantics, StoreContract):
    @pytest.fixture
    def store(self, make_store: Any) -> Iterator[Store]:
        yield make_store()


# -- conformance and real graphs ---------------------------------------------------------------


async def test_conformance_s3(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()

    @checkpointer_test(name="PersistSaver[s3]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        saver = PersistSaver(store=S3Store(s3_bucket, prefix=new_prefix(), client=client))
        yield saver
        await asyncio.to_thread(saver.close)

    assert_conforms(await validate(factory))


def run_elsewhere(script: str, *args: str) -> dict[str, Any]:
    """Run ``script`` in a fresh Python process (another 'host'); its last line is JSON."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_graph_resumed_by_a_second_saver(s3_server: S3Server, s3_bucket: str) -> None:
    """A second saver with its own client and caches (another host, as far as the store
    can tell) resumes a chat and a human-in-the-loop interrupt. The same run across
    two processes is in test_redis_cluster.py, with S3 as its cold tier."""
    prefix = new_prefix()
    first = PersistSaver(store=S3Store(s3_bucket, prefix=prefix, **s3_server.store_kwargs()))
    chat = chat_graph().compile(checkpointer=first)
    chat.invoke(human("hello"), cfg("chat"))
    chat.invoke(human("again"), cfg("chat"))
    approval = approval_graph().compile(checkpointer=first)
    approval.invoke({"request": "refund", "log": []}, cfg("hitl"))
    assert approval.get_state(cfg("hitl")).next == ("review",)

    second = PersistSaver(store=S3Store(s3_bucket, prefix=prefix, **s3_server.store_kwargs()))
    chat2 = chat_graph().compile(checkpointer=second)
    before = [m.content for m in chat2.get_state(cfg("chat")).values["messages"]]
    assert before == ["hello", "echo: hello", "again", "echo: again"]
    assert chat2.invoke(human("from the second saver"), cfg("chat"))["turns"] == 3
    done = (
        approval_graph()
        .compile(checkpointer=second)
        .invoke(Command(resume="approved"), cfg("hitl"))
    )
    assert done["log"] == ["drafted refund", "reviewed: approved", "acted on approved"]

    # and the first saver sees what the second one wrote
    state = chat.get_state(cfg("chat"))
    assert state.values["turns"] == 3
    assert state.values["messages"][-1].content == "echo: from the second saver"
    assert approval.get_state(cfg("hitl")).next == ()
    assert len(list(chat.get_state_history(cfg("chat")))) == 9
    first.close()
    second.close()


# -- conditional creates -----------------------------------------------------------------------


def test_create_is_conditional_and_first_writer_wins(make_store: Any) -> None:
    """Two hosts create the same key with different bytes: exactly one lands, and stays."""
    a, b = make_store(), make_store()
    key = keys.blob(bytes(range(20)))
    barrier = threading.Barrier(2)

    def create(store: S3Store, text: str) -> None:
        barrier.wait()
        store.create_many([(key, rec(text))])

    threads = [threading.Thread(target=create, args=(s, t)) for s, t in ((a, "A"), (b, "B"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winner = a.read(key)
    assert winner in (rec("A"), rec("B"))
    a.create_many([(key, rec("later"))])
    b.create_many([(key, rec("later"))])
    assert b.read(key) == winner


def test_create_issues_one_conditional_put_per_item(s3_server: S3Server, make_store: Any) -> None:
    client = s3_server.client()
    log = RequestLog(client)
    store = make_store(client=client)
    key = keys.blob(bytes(range(20)))
    store.create_many([(key, rec("x"))])
    log.reset()
    store.create_many([(key, rec("y")), (keys.thread_info(T), rec("info"))])
    assert log.ops == {"PutObject": 2}  # no HEAD first: the 412 is the existence check
    assert store.read(key) == rec("x")


def test_server_ignoring_if_none_match_is_refused(s3_server: S3Server, s3_bucket: str) -> None:
    """A server that drops the condition (simulated by stripping the header on the way
    out) would make creates non-atomic: construction refuses it."""
    client = s3_server.client()

    def strip(request: Any, **_: Any) -> None:
        request.headers.pop("If-None-Match", None)

    client.meta.events.register("before-send.s3.PutObject", strip)
    with pytest.raises(ConfigurationError, match="If-None-Match"):
        S3Store(s3_bucket, prefix=new_prefix(), client=client)


# -- locks -------------------------------------------------------------------------------------


class LockRefusals:
    """Counts a client's refused lock attempts (a 412 on a lock object): the exact
    point where a waiter has tried and found the lock held, observed, not slept for."""

    def __init__(self, client: Any) -> None:
        self.count = 0
        self.seen = threading.Event()
        client.meta.events.register("after-call.s3.PutObject", self._after)

    def _after(self, http_response: Any, **_: Any) -> None:
        if http_response.status_code == 412 and "/locks/" in http_response.url:
            self.count += 1
            self.seen.set()


def test_exclusive_lock_excludes_across_stores(s3_server: S3Server, make_store: Any) -> None:
    a = make_store()
    client = s3_server.client()
    refusals = LockRefusals(client)
    b = make_store(client=client)
    order: list[str] = []
    refused_while_held: list[bool] = []
    held = threading.Event()

    def holder() -> None:
        with a.lock(keys.thread_dir(T)):
            held.set()
            # release only once b has tried and been refused
            refused_while_held.append(refusals.seen.wait(30))
            order.append("a released")

    thread = threading.Thread(target=holder)
    thread.start()
    assert held.wait(30)
    with b.lock(keys.thread_dir(T)):
        order.append("b acquired")
    thread.join()
    assert refused_while_held == [True]
    assert order == ["a released", "b acquired"]
    with a.maintenance_lock(exclusive=True), b.lock(keys.thread_dir(T)):
        pass  # gc's lock and a thread's lock are different objects


def test_lock_of_a_crashed_holder_expires(
    s3_server: S3Server, make_store: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A holder that never releases (it "crashed") blocks others only until its lease
    expires: the waiter is refused while the lease runs, then takes the lock over."""
    from datetime import timedelta

    dead = make_store(lock_lease=timedelta(seconds=1))
    client = s3_server.client()
    refusals = LockRefusals(client)
    alive = make_store(client=client, lock_lease=timedelta(seconds=1))
    held = dead.lock(keys.thread_dir(T))
    held.__enter__()  # never released: the holder "crashed" (kept referenced, not collected)
    with caplog.at_level("WARNING", logger="langgraph_persist"), alive.lock(keys.thread_dir(T)):
        pass
    assert refusals.count >= 1  # it was held when alive first tried ...
    assert "took over the expired S3 lock" in caplog.text  # ... and taken over, not released
    del held


def test_overrunning_holder_does_not_release_its_successor(make_store: Any) -> None:
    from datetime import timedelta

    slow = make_store(lock_lease=timedelta(seconds=1))
    fast = make_store(lock_lease=timedelta(seconds=60))
    acquired = threading.Event()
    release = threading.Event()

    def successor() -> None:
        with fast.lock(keys.thread_dir(T)):
            acquired.set()
            release.wait(10)

    with slow.lock(keys.thread_dir(T)):
        thread = threading.Thread(target=successor)
        thread.start()
        assert acquired.wait(5)  # took over the expired lease while slow still "held" it
    # slow's release must not have deleted the successor's lock object
    names = [
        n
        for n in slow.client.list_objects_v2(
            Bucket=slow.bucket, Prefix=slow.prefix + "/locks/"
        ).get("Contents", [])
    ]
    assert len(names) == 1
    release.set()
    thread.join()


def test_fencing_across_hosts(s3_server: S3Server, make_store: Any) -> None:
    """Two hosts continue the same head at the same moment, with fencing on: the thread
    lock is then exclusive (a lease object), so exactly one of them wins. Each host
    pauses right after listing the checkpoints (its head check), so without the lock
    both would see the old head and both would continue."""

    armed = [threading.Event(), threading.Event()]
    progress = [threading.Event(), threading.Event()]
    """Host i has checked the head, or has been refused the thread lock."""

    def pauser(i: int) -> Any:
        def pause_after_head_check(parsed: Any, **_: Any) -> None:
            if armed[i].is_set() and "/c/" in str(parsed.get("Prefix", "")):
                armed[i].clear()  # only the first listing of a round: the head check
                progress[i].set()
                # hold the head check open until the other host has got as far as it
                # can: its own head check (no lock: both continue) or a refused lock
                progress[1 - i].wait(30)

        return pause_after_head_check

    def refused(i: int) -> Any:
        def on_put(http_response: Any, **_: Any) -> None:
            if http_response.status_code == 412 and "/locks/" in http_response.url:
                progress[i].set()

        return on_put

    graphs = []
    for i in range(2):
        client = s3_server.client()
        client.meta.events.register("after-call.s3.ListObjectsV2", pauser(i))
        client.meta.events.register("after-call.s3.PutObject", refused(i))
        saver = PersistSaver(store=make_store(client=client), fencing=True)
        graphs.append(chat_graph().compile(checkpointer=saver))
    graphs[0].invoke(human("start"), cfg("fenced"))

    def go(i: int, text: str, head: Any, barrier: threading.Barrier, out: list[str]) -> None:
        barrier.wait()
        try:
            graphs[i].invoke(human(text), head)
            out.append("continued")
        except FencedWriterError:
            out.append("fenced")

    for round_ in range(1):
        head = graphs[0].get_state(cfg("fenced")).config
        for event in progress:
            event.clear()
        for event in armed:
            event.set()
        barrier = threading.Barrier(2)
        outcomes: list[str] = []
        threads = [
            threading.Thread(target=go, args=(i, f"r{round_}-host{i}", head, barrier, outcomes))
            for i in range(2)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(outcomes) == ["continued", "fenced"]
        # and no silent fork: the head has exactly one child (without the lock, both
        # hosts write a child of the head, and one is fenced only at its next step)
        head_id = head["configurable"]["checkpoint_id"]
        children = [
            snap
            for snap in graphs[1].get_state_history(cfg("fenced"))
            if snap.parent_config and snap.parent_config["configurable"]["checkpoint_id"] == head_id
        ]
        assert len(children) == 1
    assert graphs[1].get_state(cfg("fenced")).values["turns"] == 2


def test_shared_locks_cost_no_request(s3_server: S3Server, make_store: Any) -> None:
    client = s3_server.client()
    log = RequestLog(client)
    store = make_store(client=client)
    log.reset()
    with store.maintenance_lock(exclusive=False), store.lock(keys.thread_dir(T), exclusive=False):
        pass
    assert log.total == 0
    with store.maintenance_lock(exclusive=True):
        pass
    assert log.ops == {"PutObject": 1, "DeleteObject": 1}


# -- construction and errors -------------------------------------------------------------------


def test_missing_bucket_is_a_configuration_error(s3_server: S3Server) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        S3Store("no-such-bucket-here", **s3_server.store_kwargs())


def test_unreachable_endpoint_is_a_configuration_error() -> None:
    from tests.redis_server import free_port

    with pytest.raises(ConfigurationError, match="cannot reach"):
        S3Store(
            "bucket",
            endpoint_url=f"http://127.0.0.1:{free_port()}",
            region="us-east-1",
            access_key_id="x",
            secret_access_key="y",
        )


def test_foreign_prefix_and_newer_format_are_refused(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    foreign = new_prefix()
    client.put_object(Bucket=s3_bucket, Key=f"{foreign}/something-else", Body=b"x")
    with pytest.raises(ConfigurationError, match="not a langgraph-persist store"):
        S3Store(s3_bucket, prefix=foreign, client=client)
    newer = new_prefix()
    body = json.dumps({"format": "langgraph-persist", "version": 99}).encode()
    client.put_object(Bucket=s3_bucket, Key=f"{newer}/FORMAT", Body=body)
    with pytest.raises(UnsupportedFormatError):
        S3Store(s3_bucket, prefix=newer, client=client)
    with pytest.raises(ConfigurationError):
        S3Store(s3_bucket, prefix="../escape", client=client)


def test_workers_opening_a_new_store_at_once(s3_client: Any, s3_bucket: str) -> None:
    """Workers starting together on an empty prefix: one creates the marker, none of the
    others mistakes the objects it finds for a foreign store."""
    prefix = new_prefix()
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def open_and_write(i: int) -> None:
        barrier.wait()
        try:
            store = S3Store(s3_bucket, prefix=prefix, client=s3_client)
            store.write_many([(ck(keys.encode_name(f"w{i}"), CP1), rec("x"))])
            store.close()
        except BaseException as exc:  # collected: the assertion below names it
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def test_reserved_and_unsafe_keys_are_refused(make_store: Any) -> None:
    store = make_store()
    for bad in [("locks", "x"), ("FORMAT",), ("threads", "a/b"), ("threads", "..")]:
        with pytest.raises(InvalidIdError):
            store.read(bad)


def test_killed_server_is_a_typed_error(s3_bucket: str) -> None:
    """Kill the server mid-run: every operation raises TierUnavailableError, one line,
    with no botocore exception attached (nothing of botocore's reaches the user)."""
    server = S3Server()
    server.start()
    try:
        bucket = server.new_bucket()
        saver = PersistSaver(store=S3Store(bucket, **server.store_kwargs()))
        graph = chat_graph().compile(checkpointer=saver)
        graph.invoke(human("hello"), cfg("t"))
        server.kill()
        for action in (
            lambda: graph.invoke(human("again"), cfg("t")),
            lambda: saver.get_tuple(cfg("t")),
            lambda: list(saver.list(cfg("t"))),
            lambda: saver.delete_thread("t"),
        ):
            with pytest.raises(TierUnavailableError) as info:
                action()
            exc = info.value
            assert isinstance(exc, StoreError) and isinstance(exc, PersistError)
            assert "unreachable" in str(exc) and "\n" not in str(exc)
            assert exc.__cause__ is None and exc.__suppress_context__
        saver.close()
    finally:
        server.stop()


# -- request cost (docs/scaling.md) ------------------------------------------------------------

STEPS = 10
TEXT = "an assistant's answer of a realistic size. " * 40
"""~1.7 kB per message: large enough to be stored as a blob, as real chat turns are."""


def _conversation(saver: PersistSaver, thread_id: str, steps: int) -> dict[str, Any]:
    """LangGraph's call order per super-step: put_writes, then put of the changed channels."""
    config: dict[str, Any] = cfg(thread_id, checkpoint_ns="")
    msgs: list[Any] = []
    for step in range(steps):
        msgs = [*msgs, HumanMessage(content=f"turn {step}: " + TEXT, id=f"m{step}")]
        if step:
            saver.put_writes(config, [("messages", msgs[-1:]), ("turn", step)], f"task-{step}")
        ckpt = empty_checkpoint()
        ckpt["id"] = str(uuid6(clock_seq=step))
        ckpt["channel_values"] = {"messages": msgs, "turn": step}
        ckpt["channel_versions"] = {"messages": step + 1, "turn": step + 1}
        config = saver.put(
            config,
            ckpt,
            {"source": "loop", "step": step, "parents": {}},
            {"messages": step + 1, "turn": step + 1},
        )
    return config


def measure_requests(store_client: Any, make_saver: Any) -> dict[str, dict[str, int]]:
    """Requests per saver operation on a thread with ``STEPS`` checkpoints."""
    log = RequestLog(store_client)
    saver = make_saver()
    config = _conversation(saver, "doc", STEPS)
    out: dict[str, dict[str, int]] = {}
    log.reset()
    last = saver.get_tuple(config)
    assert last is not None
    reply = HumanMessage(content="reply: " + TEXT, id="reply")
    log.reset()
    saver.put_writes(config, [("messages", [reply]), ("turn", STEPS)], "task-x")
    out["put_writes"] = dict(log.ops)
    ckpt = empty_checkpoint()
    ckpt["id"] = str(uuid6(clock_seq=STEPS))
    ckpt["channel_values"] = {"messages": [*last.checkpoint["channel_values"]["messages"], reply]}
    ckpt["channel_values"]["turn"] = STEPS
    ckpt["channel_versions"] = {"messages": STEPS + 1, "turn": STEPS + 1}
    log.reset()
    saver.put(
        config, ckpt, {"source": "loop", "step": STEPS, "parents": {}}, ckpt["channel_versions"]
    )
    out["put"] = dict(log.ops)
    fresh = make_saver()  # a new process: no caches
    log.reset()
    assert fresh.get_tuple(cfg("doc")) is not None
    out["get_tuple latest (cold caches)"] = dict(log.ops)
    log.reset()
    assert fresh.get_tuple(cfg("doc")) is not None
    out["get_tuple latest (warm caches)"] = dict(log.ops)
    log.reset()
    assert len(list(fresh.list(cfg("doc"), limit=10))) == 10
    out["list(limit=10)"] = dict(log.ops)
    out["_list_prefixes"] = {p: 1 for p in log.list_prefixes}
    saver.close()
    fresh.close()
    return out


def test_request_counts_per_operation(s3_server: S3Server, s3_bucket: str) -> None:
    client = s3_server.client()
    prefix = new_prefix()
    counts = measure_requests(
        client, lambda: PersistSaver(store=S3Store(s3_bucket, prefix=prefix, client=client))
    )
    print("\nS3 requests per operation:", json.dumps(counts, indent=1))
    total = {op: sum(c.values()) for op, c in counts.items() if not op.startswith("_")}
    assert total["put"] <= 6 and counts["put"].get("PutObject", 0) <= 2
    assert total["put_writes"] <= 6
    # a latest read: list the checkpoints, list the pending writes, read the record...
    assert counts["get_tuple latest (warm caches)"] == {"ListObjectsV2": 2, "GetObject": 1}
    # ...and, in a process that has not seen them yet, every value blob once (in parallel)
    cold = counts["get_tuple latest (cold caches)"]
    assert cold["ListObjectsV2"] == 2 and cold["GetObject"] <= 1 + STEPS + 3
    # list(limit=10): namespaces + checkpoints + one writes listing per tuple
    assert counts["list(limit=10)"]["ListObjectsV2"] == 12
    assert counts["list(limit=10)"]["GetObject"] <= 2 * 10
    # never a bucket-wide listing: every LIST stays inside the thread
    assert all(p.startswith(f"{prefix}/threads/doc/") for p in counts["_list_prefixes"])


def test_latest_costs_one_list_per_page_of_checkpoints(
    s3_server: S3Server, make_store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding the latest checkpoint lists the namespace: one request per page, and a
    page is 1000 names (S3's maximum; shrunk here so the test writes 101 objects)."""
    client = s3_server.client()
    log = RequestLog(client)
    store = make_store(client=client)
    store.write_many([(ck(T, CP1), rec("c"))])
    log.reset()
    store.list(keys.checkpoints_dir(T, "="))
    assert log.ops == {"ListObjectsV2": 1} and log.max_keys == ["1000"]
    monkeypatch.setattr(s3, "PAGE", 50)
    ids = [str(uuid6(clock_seq=i)) for i in range(101)]
    store.write_many([(ck(T, cid), rec("c")) for cid in ids])
    store.write_many([(ck(OTHER, CP1), rec("c"))])
    log.reset()
    assert store.list(keys.checkpoints_dir(T, "=")) == sorted([*ids, CP1])
    assert log.ops == {"ListObjectsV2": 3}


# -- the core real-graph tests, on S3 alone -------------------------------------------------


class TestGraphsS3(GraphTests):
    """``tests/test_graphs.py``'s graph tests on savers over one S3 prefix (= hosts)."""

    @pytest.fixture
    def make_saver(self, s3_client: Any, s3_bucket: str) -> Iterator[MakeSaver]:
        prefix = new_prefix()
        made: list[PersistSaver] = []

        def make() -> PersistSaver:
            saver = PersistSaver(s3=S3Store(s3_bucket, prefix=prefix, client=s3_client))
            made.append(saver)
            return saver

        yield make
        for saver in made:
            saver.close()
