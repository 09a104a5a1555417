"""The async face runs the public sync methods on the saver's own bounded pool.

Three guarantees, each with a negative control:

* every async method calls the public sync method of its name (so auditing,
  checks and overrides never differ between the faces);
* at most ``async_workers`` async calls of one saver run at once;
* they never use the loop's default executor, so a saver whose pool is busy
  cannot starve LangGraph's sync nodes (which run there).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import ConfigurationError, PersistSaver, StoreError
from tests.graphs import approval_graph

SYNC_OF = {
    "aget_tuple": "get_tuple",
    "alist": "list",
    "aput": "put",
    "aput_writes": "put_writes",
    "adelete_thread": "delete_thread",
    "adelete_for_runs": "delete_for_runs",
    "acopy_thread": "copy_thread",
    "aprune": "prune",
    "aget_delta_channel_history": "get_delta_channel_history",
}


class Recording(PersistSaver):
    """Records which public sync method ran, and on which thread."""

    calls: list[tuple[str, str]]

    def _record(self, name: str) -> None:
        self.__dict__.setdefault("calls", []).append((name, threading.current_thread().name))

    def get_tuple(self, config: Any) -> Any:
        self._record("get_tuple")
        return super().get_tuple(config)

    def list(self, config: Any, **kwargs: Any) -> Iterator[Any]:
        self._record("list")
        return super().list(config, **kwargs)

    def put(self, *args: Any) -> Any:
        self._record("put")
        return super().put(*args)

    def put_writes(self, *args: Any) -> None:
        self._record("put_writes")
        super().put_writes(*args)

    def delete_thread(self, thread_id: str) -> None:
        self._record("delete_thread")
        super().delete_thread(thread_id)

    def delete_for_runs(self, run_ids: Any) -> None:
        self._record("delete_for_runs")
        super().delete_for_runs(run_ids)

    def copy_thread(self, source: str, target: str) -> None:
        self._record("copy_thread")
        super().copy_thread(source, target)

    def prune(self, thread_ids: Any, *, strategy: str = "keep_latest") -> None:
        self._record("prune")
        super().prune(thread_ids, strategy=strategy)

    def get_delta_channel_history(self, *, config: Any, channels: Any) -> Any:
        self._record("get_delta_channel_history")
        return super().get_delta_channel_history(config=config, channels=channels)


def cfg(thread_id: str, **extra: Any) -> Any:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": "", **extra}}


async def call_each(saver: PersistSaver) -> None:
    """Every async method once, in an order where each has something to work on."""
    config = await saver.aput(cfg("t"), empty_checkpoint(), {"source": "input", "step": -1}, {})
    await saver.aput_writes(config, [("x", 1)], "task-1")
    assert await saver.aget_tuple(config) is not None
    assert [t async for t in saver.alist(cfg("t"))]
    await saver.aget_delta_channel_history(config=config, channels=["x"])
    await saver.acopy_thread("t", "t2")
    await saver.aprune(["t2"], strategy="keep_latest")
    await saver.adelete_for_runs(["no-such-run"])
    await saver.adelete_thread("t2")


def check_each_async_runs_its_sync_method(calls: list[tuple[str, str]]) -> None:
    names = {name for name, _thread in calls}
    assert names == set(SYNC_OF.values()), names
    assert all(thread.startswith("lgp-async") for _name, thread in calls), calls


async def test_every_async_method_runs_its_public_sync_method_on_the_pool(
    tmp_path: Path,
) -> None:
    saver = Recording(tmp_path / "s", durability="none")
    await call_each(saver)
    check_each_async_runs_its_sync_method(saver.calls)
    saver.close()


async def test_a_graph_runs_on_the_pool(tmp_path: Path) -> None:
    saver = Recording(tmp_path / "s", durability="none", async_workers=2)
    graph = approval_graph().compile(checkpointer=saver)
    await graph.ainvoke({"request": "r", "log": []}, cfg("g"))
    state = await graph.aget_state(cfg("g"))
    assert state.next == ("review",)
    assert {"put", "put_writes", "get_tuple"} <= {name for name, _ in saver.calls}
    assert all(thread.startswith("lgp-async") for _, thread in saver.calls)
    assert len({thread for _, thread in saver.calls}) <= 2
    await saver.__aexit__(None, None, None)
    with pytest.raises(StoreError, match="closed"):
        await saver.aget_tuple(cfg("g"))


class Gated(PersistSaver):
    """``get_tuple`` blocks until the test opens ``gate``; ``full`` is set once
    ``open_when`` calls are in flight together."""

    def arm(self, open_when: int) -> None:
        self.gate, self.full = threading.Event(), threading.Event()
        self.lock = threading.Lock()
        self.active = self.most = 0
        self.open_when = open_when

    def get_tuple(self, config: Any) -> Any:
        with self.lock:
            self.active += 1
            self.most = max(self.most, self.active)
            if self.active >= self.open_when:
                self.full.set()
        assert self.gate.wait(timeout=60), "the gate never opened"
        with self.lock:
            self.active -= 1
        return super().get_tuple(config)


async def most_at_once(saver: Gated, calls: int, call: Callable[[], Any]) -> int:
    """Start ``calls`` calls; once ``open_when`` of them are in flight, check from the
    loop's default executor that they still are, open the gate; the most at once."""
    pending = [asyncio.ensure_future(call()) for _ in range(calls)]
    assert await asyncio.to_thread(saver.full.wait, 60)
    # this ran on the default executor while the calls held their threads
    assert await asyncio.to_thread(lambda: saver.active) >= saver.open_when
    saver.gate.set()
    await asyncio.gather(*pending)
    return saver.most


async def test_the_pool_is_bounded_and_leaves_the_default_executor_free(tmp_path: Path) -> None:
    saver = Gated(tmp_path / "s", durability="none", async_workers=2)
    saver.arm(open_when=2)
    assert await most_at_once(saver, 5, lambda: saver.aget_tuple(cfg("t"))) == 2
    saver.close()


def test_async_workers_is_checked(tmp_path: Path) -> None:
    for bad in (0, -1, 2.5, True, "4"):
        with pytest.raises(ConfigurationError, match="async_workers"):
            PersistSaver(tmp_path / "s", async_workers=bad)  # type: ignore[arg-type]


async def test_cancelling_an_awaiting_put_does_not_stop_the_write(tmp_path: Path) -> None:
    """What docs/reliability.md promises: the write completes on its own thread."""
    entered, release, done = threading.Event(), threading.Event(), threading.Event()

    class Slow(PersistSaver):
        def put(self, *args: Any) -> Any:
            entered.set()
            assert release.wait(timeout=60)
            try:
                return super().put(*args)
            finally:
                done.set()

    saver = Slow(tmp_path / "s", durability="none")
    task = asyncio.ensure_future(
        saver.aput(cfg("c"), empty_checkpoint(), {"source": "input", "step": -1}, {})
    )
    await asyncio.to_thread(entered.wait, 60)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert saver.get_tuple(cfg("c")) is None  # not written yet: the thread still waits
    release.set()
    assert await asyncio.to_thread(done.wait, 60)  # the abandoned put ran to its end
    written = saver.get_tuple(cfg("c"))
    assert written is not None and written.metadata["step"] == -1  # whole
    saver.close()


# -- negative controls: the checks above fail on a saver that uses to_thread/the engine --------


class Bypassing(Recording):
    """The pre-0.2 async face: the loop's default executor, straight to the engine."""

    async def aget_tuple(self, config: Any) -> Any:
        return await asyncio.to_thread(self.engine.get_tuple, config)

    async def aput(self, *args: Any) -> Any:
        return await asyncio.to_thread(self.engine.put, *args)


async def test_negative_control_bypassing_the_sync_methods_is_caught(tmp_path: Path) -> None:
    saver = Bypassing(tmp_path / "s", durability="none")
    await call_each(saver)
    with pytest.raises(AssertionError):
        check_each_async_runs_its_sync_method(saver.calls)
    saver.close()


async def test_negative_control_an_unbounded_executor_is_caught(tmp_path: Path) -> None:
    saver = Gated(tmp_path / "s", durability="none", async_workers=2)
    saver.arm(open_when=3)  # reachable only when more than the pool's 2 run at once

    async def on_default_executor() -> Any:
        return await asyncio.to_thread(saver.get_tuple, cfg("t"))

    # the bound check (== 2) fails on a saver that runs its calls on the default executor
    assert await most_at_once(saver, 4, on_default_executor) > 2
    saver.close()
