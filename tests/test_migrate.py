"""Moving threads between LangGraph savers: graphs run on one saver resume on another."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from langgraph_persist import ConfigurationError, PersistSaver, StoreError
from langgraph_persist.migrate import (
    MigrationError,
    NotFoundError,
    ThreadExistsError,
    compare_threads,
    copy_thread_between,
    migrate_all,
    open_saver,
    read_thread,
    thread_ids,
)
from tests.graphs import approval_graph, chat_graph, delta_graph, human, subgraph_graph
from tests.postgres_server import PostgresServer


def cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id}}


def run_graphs(saver: BaseCheckpointSaver[Any]) -> None:
    """A conversation, an interrupted approval, a subgraph and a DeltaChannel loop."""
    chat = chat_graph().compile(checkpointer=saver)
    chat.invoke(human("hi"), cfg("chat"))
    chat.invoke(human("more"), cfg("chat"))
    approval_graph().compile(checkpointer=saver).invoke({"request": "r", "log": []}, cfg("hitl"))
    subgraph_graph().compile(checkpointer=saver).invoke({"items": []}, cfg("sub"))
    delta_graph(9).compile(checkpointer=saver).invoke({"events": [], "n": 0}, cfg("delta"))


GRAPHS = {
    "chat": chat_graph,
    "hitl": approval_graph,
    "sub": subgraph_graph,
    "delta": lambda: delta_graph(9),
}


def assert_same_histories(a: BaseCheckpointSaver[Any], b: BaseCheckpointSaver[Any]) -> None:
    for thread_id, make in GRAPHS.items():
        ga, gb = make().compile(checkpointer=a), make().compile(checkpointer=b)
        ha = list(ga.get_state_history(cfg(thread_id)))
        hb = list(gb.get_state_history(cfg(thread_id)))
        assert ha and ha == hb, thread_id


def assert_resumes(saver: BaseCheckpointSaver[Any]) -> None:
    final = approval_graph().compile(checkpointer=saver).invoke(Command(resume="ok"), cfg("hitl"))
    assert final["log"] == ["drafted r", "reviewed: ok", "acted on ok"]
    chat = chat_graph().compile(checkpointer=saver).invoke(human("third"), cfg("chat"))
    assert chat["turns"] == 3


def test_sqlite_to_persist_and_back(tmp_path: Path) -> None:
    with SqliteSaver.from_conn_string(str(tmp_path / "old.db")) as old:
        run_graphs(old)
        ours = PersistSaver(tmp_path / "store")
        report = migrate_all(old, ours)
        assert sorted(report.copied) == sorted(GRAPHS)
        assert report.checkpoints == sum(len(list(old.list(cfg(t)))) for t in GRAPHS)
        assert_same_histories(old, ours)
        # and out again, into a fresh SQLite file
        with SqliteSaver.from_conn_string(str(tmp_path / "new.db")) as new:
            migrate_all(ours, new)
            assert_same_histories(ours, new)
        assert_resumes(ours)


def test_in_memory_round_trip_keeps_task_paths(tmp_path: Path) -> None:
    memory = InMemorySaver()
    run_graphs(memory)
    ours = PersistSaver(tmp_path / "store")
    counts = copy_thread_between(memory, ours, "hitl")
    assert counts.checkpoints == len(list(memory.list(cfg("hitl"))))
    # task paths come along from savers that expose them (InMemorySaver, PersistSaver)
    paths = {w.task_path for c in read_thread(ours, "hitl") for w in c.writes}
    assert (
        paths
        and all(paths)
        and paths == {w.task_path for c in read_thread(memory, "hitl") for w in c.writes}
    )
    back = InMemorySaver()
    copy_thread_between(ours, back, "hitl", target_thread_id="hitl-2")
    graph = approval_graph().compile(checkpointer=back)
    assert graph.get_state(cfg("hitl-2")).next == ("review",)
    assert graph.invoke(Command(resume="y"), cfg("hitl-2"))["decision"] == "y"


def test_thread_listing_per_saver(tmp_path: Path) -> None:
    memory = InMemorySaver()
    run_graphs(memory)
    ours = PersistSaver(tmp_path / "store")
    migrate_all(memory, ours)
    with SqliteSaver.from_conn_string(str(tmp_path / "x.db")) as sqlite:
        migrate_all(ours, sqlite)
        assert thread_ids(memory) == thread_ids(ours) == thread_ids(sqlite) == sorted(GRAPHS)


def test_conflicts_are_refused_before_anything_is_written(tmp_path: Path) -> None:
    memory = InMemorySaver()
    run_graphs(memory)
    ours = PersistSaver(tmp_path / "store")
    copy_thread_between(memory, ours, "sub")
    with pytest.raises(ThreadExistsError):
        migrate_all(memory, ours)
    assert thread_ids(ours) == ["sub"]
    report = migrate_all(memory, ours, skip_existing=True)
    assert report.skipped == ["sub"] and sorted(report.copied) == ["chat", "delta", "hitl"]
    with pytest.raises(NotFoundError):
        copy_thread_between(memory, ours, "nobody")


def test_compare_threads_names_the_difference(tmp_path: Path) -> None:
    memory = InMemorySaver()
    run_graphs(memory)
    items = read_thread(memory, "chat")
    compare_threads(items, read_thread(memory, "chat"))
    changed = list(items)
    meta = {**changed[-1].metadata, "step": 99}
    changed[-1] = dataclasses.replace(changed[-1], metadata=meta)  # type: ignore[arg-type]
    with pytest.raises(MigrationError, match="metadata"):
        compare_threads(items, changed)
    with pytest.raises(MigrationError, match="checkpoints"):
        compare_threads(items, items[:-1])
    no_writes = [dataclasses.replace(c, writes=()) for c in items]
    with pytest.raises(MigrationError, match="pending writes"):
        compare_threads(items, no_writes)


def test_failed_copy_leaves_nothing_behind(tmp_path: Path) -> None:
    class FullDisk(InMemorySaver):
        """A real saver whose storage fills up after three checkpoints."""

        def put(self, config: Any, checkpoint: Any, metadata: Any, new_versions: Any) -> Any:
            if sum(len(ns) for ns in self.storage.get("chat", {}).values()) >= 3:
                raise OSError("no space left on device")
            return super().put(config, checkpoint, metadata, new_versions)

    memory = InMemorySaver()
    run_graphs(memory)
    target = FullDisk()
    with pytest.raises(OSError, match="no space"):
        copy_thread_between(memory, target, "chat")
    assert list(target.list(cfg("chat"))) == []


def test_open_saver_by_connection_string(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError), open_saver(f"sqlite:///{tmp_path}/missing.db"):
        pass
    with pytest.raises(NotFoundError), open_saver(str(tmp_path / "no-store")):
        pass
    with pytest.raises(ConfigurationError, match="unsupported"), open_saver("mysql://x/y"):
        pass
    with open_saver(f"sqlite:///{tmp_path}/new.db", create=True) as created:
        run_graphs(created)
    with open_saver(f"sqlite:///{tmp_path}/new.db") as again:
        assert thread_ids(again) == sorted(GRAPHS)


# -- PostgreSQL (a database of our own, dropped afterwards) -----------------------------------


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL of the tests' own (``LGP_TEST_POSTGRES`` points at another one)."""
    if "LGP_TEST_POSTGRES" in os.environ:
        yield os.environ["LGP_TEST_POSTGRES"]
        return
    server = PostgresServer()
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    import psycopg

    name = f"lgp_migrate_{uuid.uuid4().hex[:10]}"
    admin = psycopg.connect(postgres_server, autocommit=True, connect_timeout=5)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield postgres_server.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_postgres_errors_are_store_errors(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="PostgreSQL"), open_saver(postgres_url) as empty:
        thread_ids(empty)  # a database without LangGraph's tables
    with pytest.raises(StoreError, match="PostgreSQL"), open_saver(postgres_url + "_missing"):
        pass


def test_postgres_to_persist_and_back(postgres_url: str, tmp_path: Path) -> None:
    with open_saver(postgres_url, create=True) as pg:
        run_graphs(pg)
        ours = PersistSaver(tmp_path / "store")
        report = migrate_all(pg, ours)
        assert sorted(report.copied) == sorted(GRAPHS)
        assert_same_histories(pg, ours)
        assert_resumes(ours)
    # and back into PostgreSQL under new ids
    with open_saver(postgres_url, create=True) as pg:
        copy_thread_between(ours, pg, "hitl", target_thread_id="hitl-back")
        back = approval_graph().compile(checkpointer=pg).get_state(cfg("hitl-back"))
        resumed = approval_graph().compile(checkpointer=ours).get_state(cfg("hitl"))
        assert back.values == resumed.values and back.values["decision"] == "ok"


def test_readers_are_found_by_class_not_by_name(tmp_path: Path) -> None:
    """A saver class that merely shares a name with a known one gets no reader of it;
    a reader registered for a class serves its subclasses."""
    from langgraph.checkpoint.memory import InMemorySaver

    from langgraph_persist.readers import SaverReader, reader_for, register_reader

    class SqliteSaver(InMemorySaver):  # the name of LangGraph's, not its class
        pass

    impostor = SqliteSaver()
    chat_graph().compile(checkpointer=impostor).invoke(human("hi"), cfg("t"))
    assert reader_for(impostor) is reader_for(InMemorySaver())  # by MRO: the in-memory reader
    assert thread_ids(impostor) == ["t"]

    class Custom(InMemorySaver):
        pass

    class CustomChild(Custom):
        pass

    seen: list[str] = []

    def listing(saver: Any) -> list[str]:
        seen.append(type(saver).__name__)
        return ["listed-by-reader"]

    register_reader(Custom, SaverReader(thread_ids=listing))
    assert thread_ids(CustomChild()) == ["listed-by-reader"]
    assert seen == ["CustomChild"]
    assert thread_ids(impostor) == ["t"]  # a registration never leaks to unrelated classes
