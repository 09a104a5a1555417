"""LangGraph's own conformance suite (langgraph-checkpoint-conformance), all capabilities."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from pathlib import Path

from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.report import ProgressCallbacks

from langgraph_persist import PersistSaver


async def test_conformance_filesystem(tmp_path: Path) -> None:
    counter = iter(range(1000))

    @checkpointer_test(name="PersistSaver[file]")
    async def factory() -> AsyncGenerator[PersistSaver, None]:
        yield PersistSaver(tmp_path / f"store-{next(counter)}")

    report = await validate(factory, progress=ProgressCallbacks.verbose())
    report.print_report()
    failures = {k: v.failures for k, v in report.results.items() if not v.passed}
    assert not failures, failures
    assert sum(r.tests_passed for r in report.results.values()) == 81
