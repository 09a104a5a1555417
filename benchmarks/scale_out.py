"""Scale-out run: N worker processes x T conversation threads through Redis Cluster + S3.

Each worker is its own process with its own ``PersistSaver`` over
``TieredStore(S3Store, RedisClusterStore)``, as N app servers would be. Every
worker drives T conversations at once (T OS threads, LangGraph's call order:
``put_writes`` then ``put`` of the changed channels per super-step, ~500
character messages that differ per thread, so nothing deduplicates). The parent
starts a private 3-node Redis Cluster and a moto S3 server on loopback (or uses
the ones given), runs each hot-tier mode, then re-reads every thread from S3
alone to check that nothing was lost.

Reported per mode: checkpoints/s over all workers (wall clock from the first
worker's start to the last one's end), put / put_writes / latest get_tuple
latency percentiles, and S3 requests per checkpoint. What it does not measure:
AWS. moto is a single Python process sharing this machine's two cores with the
workers, so absolute numbers are a floor set by the test server; the
comparison between modes and the request counts carry over.

    python -m benchmarks.scale_out                        # 4 workers x 50 threads x 10 steps
    python -m benchmarks.scale_out --workers 2 --threads 10 --steps 5   # quick
    python -m benchmarks.scale_out --s3-endpoint URL --bucket B --cluster h1:p1,h2:p2
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from benchmarks.data import message_text
from benchmarks.stats import percentile

MODES = ("write-through", "write-behind", "cluster-only")
"""Hot-tier modes over S3, and the Redis Cluster alone as the whole store (no S3: what the
hot tier sustains by itself, as a reference for the rows bound by the S3 server)."""


@dataclass(frozen=True)
class Setup:
    """Where the servers are and what one worker does (picklable: sent to each process)."""

    s3_endpoint: str
    bucket: str
    s3_prefix: str
    cluster: str
    redis_prefix: str
    mode: str
    threads: int
    steps: int
    worker: int


def _saver(setup: Setup, *, hot: bool = True) -> tuple[Any, Any]:
    """A saver over the shared stores, and the S3 client whose requests we count."""
    import boto3
    from botocore.config import Config

    from langgraph_persist import PersistSaver
    from langgraph_persist.store.redis_cluster import RedisClusterStore
    from langgraph_persist.store.s3 import S3Store
    from langgraph_persist.store.tiered import HotTierOptions, TieredStore

    client = boto3.client(
        "s3",
        endpoint_url=setup.s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(
            s3={"addressing_style": "path"},
            max_pool_connections=32,
            retries={"max_attempts": 5, "mode": "standard"},
        ),
    )
    if setup.mode == "cluster-only" and hot:
        nodes = setup.cluster.split(",")
        return PersistSaver(store=RedisClusterStore(nodes, key_prefix=setup.redis_prefix)), client
    cold = S3Store(setup.bucket, prefix=setup.s3_prefix, client=client, max_concurrency=16)
    if not hot:
        return PersistSaver(store=cold), client
    options = HotTierOptions(
        mode=setup.mode,  # type: ignore[arg-type]
        key_prefix=setup.redis_prefix,
        ttl=timedelta(hours=1),
    )
    cluster = RedisClusterStore(
        setup.cluster.split(","), key_prefix=options.key_prefix, ttl=options.ttl
    )
    return PersistSaver(store=TieredStore(cold, cluster, options)), client  # type: ignore[arg-type]


def _conversation(saver: Any, setup: Setup, thread: int, timings: dict[str, list[float]]) -> int:
    """One thread's super-steps; returns the checkpoints it wrote."""
    from langchain_core.messages import AIMessage, HumanMessage
    from langgraph.checkpoint.base import empty_checkpoint
    from langgraph.checkpoint.base.id import uuid6

    thread_id = f"w{setup.worker}-t{thread}"
    config: dict[str, Any] = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    seed = setup.worker * 100_003 + thread
    messages: list[Any] = []
    for step in range(setup.steps):
        kind = HumanMessage if step % 2 == 0 else AIMessage
        new = kind(content=message_text(seed, step), id=f"{thread_id}-m{step}")
        messages = [*messages, new]
        version = step + 1
        if step:
            started = time.perf_counter()
            saver.put_writes(config, [("messages", [new])], f"task-{step}")
            timings["put_writes"].append(time.perf_counter() - started)
        ckpt = empty_checkpoint()
        ckpt["id"] = str(uuid6(clock_seq=step))
        ckpt["channel_values"] = {"messages": messages, "step": step}
        ckpt["channel_versions"] = {"messages": version, "step": version}
        started = time.perf_counter()
        config = saver.put(
            config,
            ckpt,
            {"source": "loop", "step": step, "parents": {}},
            {"messages": version, "step": version},
        )
        timings["put"].append(time.perf_counter() - started)
    started = time.perf_counter()
    latest = saver.get_tuple({"configurable": {"thread_id": thread_id}})
    timings["get_tuple"].append(time.perf_counter() - started)
    assert (
        latest is not None and len(latest.checkpoint["channel_values"]["messages"]) == setup.steps
    )
    return setup.steps


def worker(setup: Setup) -> dict[str, Any]:
    """One app server: its own saver, ``setup.threads`` conversations at once."""
    saver, client = _saver(setup)
    requests: Counter[str] = Counter()
    lock = threading.Lock()

    def count(event_name: str, **_: Any) -> None:
        with lock:
            requests[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-send.s3", count)
    timings: dict[str, list[float]] = {"put": [], "put_writes": [], "get_tuple": []}
    started = time.time()
    with ThreadPoolExecutor(setup.threads) as pool:
        written = sum(
            pool.map(lambda t: _conversation(saver, setup, t, timings), range(setup.threads))
        )
    saver.flush(timedelta(minutes=5))  # write-behind: done means durable in S3
    ended = time.time()
    stats = saver.store.stats() if hasattr(saver.store, "stats") else {"hits": 0}
    saver.close()
    return {
        "started": started,
        "ended": ended,
        "checkpoints": written,
        "timings": timings,
        "requests": dict(requests),
        "hot_hits": stats["hits"],
        "adopted": stats.get("recovered", 0),
        "degraded": stats.get("degraded", False),
    }


def verify(setup: Setup, workers: int) -> int:
    """Every thread, read back from S3 alone (no Redis): the latest state is complete.

    (From the cluster, in cluster-only mode: there is no S3 copy.)
    """
    saver, _client = _saver(setup, hot=setup.mode == "cluster-only")
    checked = 0
    for w in range(workers):
        for t in range(setup.threads):
            latest = saver.get_tuple({"configurable": {"thread_id": f"w{w}-t{t}"}})
            assert latest is not None, f"thread w{w}-t{t} missing from S3"
            assert len(latest.checkpoint["channel_values"]["messages"]) == setup.steps
            checked += 1
    saver.close()
    return checked


def run_mode(base: Setup, workers: int) -> dict[str, Any]:
    setups = [
        Setup(**{**base.__dict__, "worker": w, "s3_prefix": base.s3_prefix}) for w in range(workers)
    ]
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(worker, setups))
    wall = max(r["ended"] for r in results) - min(r["started"] for r in results)
    checkpoints = sum(r["checkpoints"] for r in results)
    timings = {k: [v for r in results for v in r["timings"][k]] for k in results[0]["timings"]}
    requests: Counter[str] = Counter()
    for r in results:
        requests.update(r["requests"])
    checked = verify(base, workers)
    return {
        "mode": base.mode,
        "workers": workers,
        "threads_per_worker": base.threads,
        "steps": base.steps,
        "checkpoints": checkpoints,
        "wall_s": round(wall, 2),
        "checkpoints_per_s": round(checkpoints / wall, 1),
        **{
            f"{op}_ms_p{q}": round(percentile(values, q) * 1000, 1)
            for op, values in timings.items()
            for q in (50, 95, 99)
        },
        "s3_requests_per_checkpoint": round(sum(requests.values()) / checkpoints, 2),
        "cpu": "2 cores shared by workers, moto and the cluster",
        "s3_requests": dict(sorted(requests.items())),
        "threads_verified_in_s3": checked,
        "degraded_workers": sum(1 for r in results if r["degraded"]),
        "records_adopted_from_other_workers": sum(r["adopted"] for r in results),
    }


def markdown(rows: list[dict[str, Any]]) -> str:
    head = (
        "| mode | workers x threads | checkpoints | checkpoints/s | put p50 / p95 / p99 ms "
        "| put_writes p50 / p95 ms | latest get_tuple p50 / p95 ms | S3 requests / checkpoint |\n"
        "|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {r['mode']} | {r['workers']} x {r['threads_per_worker']} | {r['checkpoints']} "
        f"| {r['checkpoints_per_s']} | {r['put_ms_p50']} / {r['put_ms_p95']} / {r['put_ms_p99']} "
        f"| {r['put_writes_ms_p50']} / {r['put_writes_ms_p95']} "
        f"| {r['get_tuple_ms_p50']} / {r['get_tuple_ms_p95']} "
        f"| {r['s3_requests_per_checkpoint']} |"
        for r in rows
    ]
    return head + "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=50, help="conversations per worker")
    parser.add_argument("--steps", type=int, default=10, help="super-steps per conversation")
    parser.add_argument("--modes", nargs="+", choices=MODES, default=list(MODES))
    parser.add_argument("--s3-endpoint", help="use this S3 endpoint instead of a local moto")
    parser.add_argument("--bucket", help="bucket at --s3-endpoint (must exist)")
    parser.add_argument("--cluster", help="host:port,... of a running cluster")
    parser.add_argument("--json", action="store_true", help="print JSON rows, not markdown")
    args = parser.parse_args(argv)

    started: list[Any] = []
    try:
        if args.s3_endpoint:
            endpoint, bucket = args.s3_endpoint, args.bucket
        else:
            from tests.s3_server import S3Server

            s3 = S3Server()
            s3.start()
            started.append(s3)
            endpoint, bucket = s3.endpoint, s3.new_bucket()
        if args.cluster:
            cluster = args.cluster
        else:
            from tests.redis_cluster_server import RedisClusterServer

            servers = RedisClusterServer()
            servers.start()
            started.append(servers)
            cluster = ",".join(f"127.0.0.1:{p}" for p in servers.ports)
        rows = []
        for mode in args.modes:
            run = uuid.uuid4().hex[:8]
            base = Setup(
                endpoint, bucket, f"bench-{run}", cluster, f"b{run}:", mode,
                args.threads, args.steps, 0,
            )  # fmt: skip
            rows.append(run_mode(base, args.workers))
            print(f"{mode}: done", file=sys.stderr)
    finally:
        for server in started:
            server.stop()
    print(json.dumps(rows, indent=1) if args.json else markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
