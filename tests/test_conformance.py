"""LangGraph's own conformance suite (langgraph-checkpoint-conformance), all capabilities."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.report import ProgressCallbacks

from langgraph_persist import PersistSaver

AT_LEAST = 81
"""Tests langgraph-checkpoint-conformance 0.0.2 runs; a newer suite may run more."""


def assert_conforms(report: Any) -> None:
    failures = {k: v.failures for k, v in report.results.items() if not v.passed}
    assert not failures, failures
    assert sum(r.tests_passed for r in report.results.values()) >= AT_LEAST


@pytest.mark.parametrize(
    ("layout", "share"), [("sqlite", "store"), ("files", "store"), ("sqlite", "thread")]
)
async def test_conformance_local(tmp_path: Path, layout: str, share: str) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name=f"PersistSaver[{layout}, share_content={share}]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        saver = PersistSaver(
            tmp_path / f"store-{next(counter)}",
            layout=layout,  # type: ignore[arg-type]
            share_content=share,  # type: ignore[arg-type]
        )
        yield saver
        saver.close()

    report = await validate(factory, progress=ProgressCallbacks.verbose())
    report.print_report()
    assert_conforms(report)


class SyncThroughAsync(PersistSaver):
    """Routes the conformance suite's async calls to the SYNC methods.

    The suite only calls the async API; this adapter makes it exercise
    ``put``/``get_tuple``/``list``/... instead, run in a worker thread as a
    sync caller would (so the engine's sync path sees real concurrency with
    the event loop thread).
    """

    async def aget_tuple(self, config):  # type: ignore[no-untyped-def]
        return await asyncio.to_thread(self.get_tuple, config)

    async def alist(self, config, *, filter=None, before=None, limit=None):  # type: ignore[no-untyped-def]
        items = await asyncio.to_thread(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in items:
            yield item

    async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        return await asyncio.to_thread(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(self.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(self.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id, target_thread_id):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(self.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids, *, strategy="keep_latest"):  # type: ignore[no-untyped-def]
        await asyncio.to_thread(self.prune, thread_ids, strategy=strategy)


async def test_conformance_sync_api(tmp_path: Path) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name="PersistSaver[sqlite, sync API]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        saver = SyncThroughAsync(tmp_path / f"sync-store-{next(counter)}")
        yield saver
        saver.close()

    assert_conforms(await validate(factory))
