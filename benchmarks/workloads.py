"""W1-W7: what one repetition of each workload does to one saver, and what it returns.

``run.py`` decides the order (repetitions interleaved across savers) and
catches failures; the functions here only measure. Timers wrap saver calls
and nothing else: data is generated and copied before the clock starts.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver

from benchmarks import data
from benchmarks.data import Call, Trace
from benchmarks.scale import FULL_SCALE, QUICK_SCALE, ScaleSizes


@dataclass(frozen=True)
class Sizes:
    """Workload sizes; ``FULL`` is what the issue asks for, ``QUICK`` a smoke test."""

    steps: int = 200
    reps: int = 5
    gets: int = 30
    list_full_calls: int = 1
    list_reps: int = 3
    list10_calls: int = 5
    history_short: int = 1_000
    history_long: int = 10_000
    w4_supersteps: int = 100
    w4_reps: int = 5
    w5_marks: tuple[int, ...] = (25, 50, 100, 200)
    w6_threads: int = 16
    w6_steps: int = 50
    w6_reps: int = 3
    w7_reps: int = 3
    w8: ScaleSizes = FULL_SCALE
    """The big store (scale.py)."""


FULL = Sizes()
QUICK = Sizes(
    steps=20,
    reps=2,
    gets=20,
    list_full_calls=1,
    list_reps=1,
    list10_calls=5,
    history_short=30,
    history_long=120,
    w4_supersteps=10,
    w4_reps=2,
    w5_marks=(3, 5, 10, 20),
    w6_threads=4,
    w6_steps=5,
    w6_reps=1,
    w7_reps=1,
    w8=QUICK_SCALE,
)


@dataclass
class Data:
    """Every trace of the run, generated once from ``seed`` and shared by all savers."""

    w1: list[Trace]
    """One conversation per W1 repetition (distinct content: see data.py on deduplication)."""
    w5: Trace
    history: Trace
    w6: list[list[Trace]]
    """Per W6 repetition, one trace per concurrent thread."""

    @classmethod
    def generate(cls, sizes: Sizes, seed: int) -> Data:
        w1 = [data.chat_trace(seed + rep, sizes.steps) for rep in range(sizes.reps)]
        w5 = data.chat_trace(seed + 500, max(sizes.w5_marks))
        history = data.counter_trace(seed + 600, sizes.history_long)
        w6 = [
            [
                data.chat_trace(seed + 1000 + rep * 100 + k, sizes.w6_steps)
                for k in range(sizes.w6_threads)
            ]
            for rep in range(sizes.w6_reps)
        ]
        return cls(w1, w5, history, w6)


class Ops:
    """A saver's API as awaitables, so one workload body serves sync and async savers.

    Sync savers are called directly (no thread hop): the only cost added is a
    coroutine frame, the same for InMemorySaver and for us, so ratios stay fair.
    """

    def __init__(self, saver: Any, is_async: bool) -> None:
        self.saver = saver
        self.is_async = is_async

    async def call(self, call: Call) -> None:
        if self.is_async:
            await getattr(self.saver, "a" + call.method)(*call.args)
        else:
            getattr(self.saver, call.method)(*call.args)

    async def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        if self.is_async:
            return await self.saver.aget_tuple(config)  # type: ignore[no-any-return]
        return self.saver.get_tuple(config)  # type: ignore[no-any-return]

    async def list(
        self,
        config: RunnableConfig,
        limit: int | None = None,
        filter: dict[str, Any] | None = None,
    ) -> int:
        """Consume the whole iterator (a ``list`` call costs what reading its results costs)."""
        if self.is_async:
            return len([t async for t in self.saver.alist(config, limit=limit, filter=filter)])
        return len(list(self.saver.list(config, limit=limit, filter=filter)))


# -- W1: puts --------------------------------------------------------------------------------


async def replay(ops: Ops, steps: list[list[Call]]) -> tuple[float, list[float]]:
    """(wall seconds, per-step seconds) for ``put_writes``... then ``put``, step by step."""
    latencies: list[float] = []
    start = time.perf_counter()
    for step in steps:
        t = time.perf_counter()
        for call in step:
            await ops.call(call)
        latencies.append(time.perf_counter() - t)
    return time.perf_counter() - start, latencies


def replay_sync(saver: Any, steps: list[list[Call]]) -> None:
    """Untimed replay through the sync API (for writing data that is then read)."""
    for step in steps:
        for call in step:
            getattr(saver, call.method)(*call.args)


def reference_tuples(trace: Trace, thread_id: str) -> list[CheckpointTuple]:
    """What InMemorySaver returns for every checkpoint of the trace: the exactness oracle."""
    saver = InMemorySaver()
    for call in data.calls(trace, thread_id):
        getattr(saver, call.method)(*call.args)
    out = []
    for cid in trace.ids():
        found = saver.get_tuple(data.config_for(thread_id, cid))
        assert found is not None
        out.append(found)
    return out


def _canonical(t: CheckpointTuple) -> dict[str, Any]:
    parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return {
        "checkpoint": t.checkpoint,
        "metadata": t.metadata,
        "parent": parent,
        "pending_writes": [tuple(w) for w in t.pending_writes or []],
    }


def _differences(want: dict[str, Any], have: dict[str, Any]) -> list[str]:
    """What differs, named precisely: extra or missing checkpoint keys are not lost values."""
    out = []
    for part in want:
        if want[part] == have[part]:
            continue
        if part != "checkpoint":
            out.append(f"{part} differs")
            continue
        w, h = want[part], have[part]
        if extra := sorted(h.keys() - w.keys()):
            out.append(f"checkpoint has extra keys {extra}")
        if missing := sorted(w.keys() - h.keys()):
            out.append(f"checkpoint lacks keys {missing}")
        if changed := sorted(k for k in w.keys() & h.keys() if w[k] != h[k]):
            out.append(f"checkpoint values differ in {changed}")
    return out


async def exactness(ops: Ops, thread_id: str, reference: list[CheckpointTuple]) -> str | None:
    """``None`` if every historical ``get_tuple`` equals InMemorySaver's; else what differs."""
    bad: dict[str, list[int]] = {}
    for i, ref in enumerate(reference):
        cid = ref.config["configurable"]["checkpoint_id"]
        got = await ops.get_tuple(data.config_for(thread_id, cid))
        if got is None:
            bad.setdefault("missing", []).append(i)
            continue
        for detail in _differences(_canonical(ref), _canonical(got)):
            bad.setdefault(detail, []).append(i)
    if not bad:
        return None
    return "; ".join(
        f"{what} at {len(idx)} of {len(reference)} checkpoints (first: #{idx[0]})"
        for what, idx in bad.items()
    )


# -- W2 / W3: reads --------------------------------------------------------------------------


async def timed_gets(ops: Ops, configs: list[RunnableConfig]) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for config in configs:
        t = time.perf_counter()
        found = await ops.get_tuple(config)
        latencies.append(time.perf_counter() - t)
        if found is None:
            raise LookupError(f"get_tuple returned None for {config['configurable']}")
    return time.perf_counter() - start, latencies


async def timed_lists(
    ops: Ops,
    config: RunnableConfig,
    calls: int,
    limit: int | None,
    expect: int,
    filter: dict[str, Any] | None = None,
) -> tuple[float, list[float]]:
    latencies = []
    start = time.perf_counter()
    for _ in range(calls):
        t = time.perf_counter()
        n = await ops.list(config, limit, filter)
        latencies.append(time.perf_counter() - t)
        if n != expect:
            raise AssertionError(f"list(limit={limit}) returned {n} checkpoints, expected {expect}")
    return time.perf_counter() - start, latencies


def historical_configs(trace: Trace, thread_id: str, n: int, seed: int) -> list[RunnableConfig]:
    rng = random.Random(seed)
    ids = trace.ids()
    return [data.config_for(thread_id, rng.choice(ids)) for _ in range(n)]


def latest_configs(thread_id: str, n: int) -> list[RunnableConfig]:
    return [data.config_for(thread_id) for _ in range(n)]


# -- W4: a real graph ------------------------------------------------------------------------


def graph_seconds(saver: Any, seed: int, supersteps: int, thread_id: str, durability: str) -> float:
    """Wall time of ``invoke`` of the chat graph looping ``supersteps`` super-steps.

    ``supersteps - 1`` messages plus LangGraph's ``__start__`` step. The graph is
    compiled before the clock starts; ``saver=None`` is the no-checkpointer baseline.
    """
    graph = data.chat_graph(seed, supersteps - 1, saver)
    inputs = data.chat_input(seed)
    config = data.run_config(thread_id, supersteps)
    kwargs: dict[str, Any] = {"durability": durability} if saver is not None else {}
    start = time.perf_counter()
    graph.invoke(inputs, config, **kwargs)
    return time.perf_counter() - start


async def agraph_seconds(
    saver: Any, seed: int, supersteps: int, thread_id: str, durability: str
) -> float:
    """``graph_seconds`` through ``ainvoke``, for savers that only have the async API."""
    graph = data.chat_graph(seed, supersteps - 1, saver)
    inputs = data.chat_input(seed)
    config = data.run_config(thread_id, supersteps)
    kwargs: dict[str, Any] = {"durability": durability} if saver is not None else {}
    start = time.perf_counter()
    await graph.ainvoke(inputs, config, **kwargs)
    return time.perf_counter() - start


# -- W6: concurrency -------------------------------------------------------------------------


async def concurrent_threads(
    saver: Any, per_thread: list[list[list[Call]]]
) -> tuple[float, list[float]]:
    """All threads at once through the async API: (wall seconds, per-step seconds)."""
    latencies: list[float] = []

    async def one(steps: list[list[Call]]) -> None:
        for step in steps:
            t = time.perf_counter()
            for call in step:
                await getattr(saver, "a" + call.method)(*call.args)
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(one(steps) for steps in per_thread))
    return time.perf_counter() - start, latencies


# -- W7: cold start --------------------------------------------------------------------------


def cold_start(spec: dict[str, Any], thread_id: str, expect_messages: int) -> dict[str, float]:
    """Run ``benchmarks.cold`` in a fresh interpreter; its open and first-read times (ms)."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.cold", json.dumps({**spec, "thread_id": thread_id})],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"cold-start child failed: {proc.stderr.strip()[-300:]}")
    result: dict[str, float] = json.loads(proc.stdout.strip().splitlines()[-1])
    if result["messages"] != expect_messages:
        raise AssertionError(
            f"fresh process read {result['messages']} messages, expected {expect_messages}"
        )
    return result
