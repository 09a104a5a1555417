"""Real StateGraphs on PersistSaver: the behaviours LangGraph users rely on.

``GraphTests`` holds them; each saver configuration is a subclass that provides
``make_saver`` (a factory of savers over ONE store, so a second saver is
"another process"). Here: the SQLite layout (the default) and the file layout;
``test_s3.py``, ``test_tiered.py`` and ``test_redis_cluster.py`` subclass it for
S3, both tiered modes and Redis Cluster over S3. A new graph test added to the
class runs on every configuration without copying it.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from langgraph_persist import PersistSaver
from tests.graphs import approval_graph, chat_graph, human, loop_graph, subgraph_graph

MakeSaver = Callable[[], PersistSaver]


def cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


class GraphTests:
    """The graph behaviours, on the saver configuration a subclass provides."""

    @pytest.fixture
    def make_saver(self) -> Iterator[MakeSaver]:
        """Savers over one store (several calls: several "processes"); closed after."""
        raise NotImplementedError("a GraphTests subclass provides a `make_saver` fixture")
        yield  # a generator, like the fixtures that override it

    def test_invoke_persists_and_resumes(self, make_saver: MakeSaver) -> None:
        graph = chat_graph().compile(checkpointer=make_saver())
        graph.invoke(human("hello"), cfg("user-42"))
        graph.invoke(human("again"), cfg("user-42"))

        resumed = chat_graph().compile(checkpointer=make_saver())
        state = resumed.get_state(cfg("user-42"))
        assert [m.content for m in state.values["messages"]] == [
            "hello",
            "echo: hello",
            "again",
            "echo: again",
        ]
        assert state.values["turns"] == 2
        out = resumed.invoke(human("third"), cfg("user-42"))
        assert out["turns"] == 3 and len(out["messages"]) == 6

    async def test_ainvoke_and_astream(self, make_saver: MakeSaver) -> None:
        graph = chat_graph().compile(checkpointer=make_saver())
        await graph.ainvoke(human("a"), cfg("t-async"))
        chunks = [c async for c in graph.astream(human("b"), cfg("t-async"), stream_mode="values")]
        assert chunks[-1]["turns"] == 2
        state = await graph.aget_state(cfg("t-async"))
        assert [m.content for m in state.values["messages"]][-1] == "echo: b"
        history = [s async for s in graph.aget_state_history(cfg("t-async"))]
        assert len(history) == 6  # (input, loop, bot) x 2 invocations

    def test_same_results_as_in_memory_saver(self, make_saver: MakeSaver) -> None:
        """Every checkpoint of a run equals what LangGraph's reference saver stores."""
        ours = chat_graph().compile(checkpointer=make_saver())
        reference = chat_graph().compile(checkpointer=InMemorySaver())
        for text in ["one", "two", "three"]:
            ours.invoke(human(text), cfg("same"))
            reference.invoke(human(text), cfg("same"))
        mine = list(ours.get_state_history(cfg("same")))
        theirs = list(reference.get_state_history(cfg("same")))
        assert len(mine) == len(theirs) == 9
        for a, b in zip(mine, theirs, strict=True):
            assert a.values == b.values
            assert a.next == b.next
            assert a.metadata["step"] == b.metadata["step"]
            assert a.metadata["source"] == b.metadata["source"]

    def test_interrupt_and_resume_across_savers(self, make_saver: MakeSaver) -> None:
        graph = approval_graph().compile(checkpointer=make_saver())
        out = graph.invoke({"request": "refund", "log": []}, cfg("hitl"))
        assert "__interrupt__" in out
        assert out["__interrupt__"][0].value == {"question": "approve refund?"}

        other = approval_graph().compile(checkpointer=make_saver())
        state = other.get_state(cfg("hitl"))
        assert state.next == ("review",)
        assert state.tasks[0].interrupts[0].value == {"question": "approve refund?"}
        final = other.invoke(Command(resume="yes"), cfg("hitl"))
        assert final["decision"] == "yes"
        assert final["log"] == ["drafted refund", "reviewed: yes", "acted on yes"]

    def test_subgraph_namespaces(self, make_saver: MakeSaver) -> None:
        saver = make_saver()
        graph = subgraph_graph().compile(checkpointer=saver)
        out = graph.invoke({"items": []}, cfg("sub"))
        expected = (
            subgraph_graph().compile(checkpointer=InMemorySaver()).invoke({"items": []}, cfg("x"))
        )
        assert out == expected
        assert out["items"][-3:] == ["child-a", "child-b", "after"]
        namespaces = {t.config["configurable"]["checkpoint_ns"] for t in saver.list(cfg("sub"))}
        assert "" in namespaces
        child_ns = [ns for ns in namespaces if ns.startswith("child:")]
        assert child_ns, namespaces
        child_history = list(saver.list(cfg("sub", checkpoint_ns=child_ns[0])))
        assert child_history and all(
            t.config["configurable"]["checkpoint_ns"] == child_ns[0] for t in child_history
        )
        # the state of the parent at the subgraph step exposes the subgraph's own state
        snapshots = list(graph.get_state_history(cfg("sub")))
        at_child = next(s for s in snapshots if s.next == ("child",))
        assert at_child.values["items"] == ["before"]
        assert graph.get_state(at_child.config, subgraphs=True).values == at_child.values

    def test_history_replay_and_fork(self, make_saver: MakeSaver) -> None:
        graph = chat_graph().compile(checkpointer=make_saver())
        graph.invoke(human("first"), cfg("tt"))
        graph.invoke(human("second"), cfg("tt"))
        history = list(graph.get_state_history(cfg("tt")))
        ids = [s.config["configurable"]["checkpoint_id"] for s in history]
        assert ids == sorted(ids, reverse=True)  # newest first

        # the checkpoint right after the first turn completed
        after_first = next(s for s in history if s.values.get("turns") == 1 and not s.next)
        # replay from it: same state as then
        replayed = graph.get_state(after_first.config)
        assert [m.content for m in replayed.values["messages"]] == ["first", "echo: first"]

        # fork: change the past and continue from there
        forked_cfg = graph.update_state(
            after_first.config, human("alternative"), as_node="__start__"
        )
        assert graph.get_state(forked_cfg).next == ("bot",)
        out = graph.invoke(None, forked_cfg)
        assert [m.content for m in out["messages"]] == [
            "first",
            "echo: first",
            "alternative",
            "echo: alternative",
        ]
        # the original branch is untouched and still in history
        assert any(
            [m.content for m in s.values.get("messages", [])][-1:] == ["echo: second"]
            for s in graph.get_state_history(cfg("tt"))
        )
        # the latest checkpoint is now the fork's
        assert graph.get_state(cfg("tt")).values["messages"][-1].content == "echo: alternative"

    @pytest.mark.parametrize("durability", ["sync", "async", "exit"])
    def test_durability_modes(self, make_saver: MakeSaver, durability: str) -> None:
        graph = loop_graph(5).compile(checkpointer=make_saver())
        out = graph.invoke({"n": 0, "trail": []}, cfg(f"d-{durability}"), durability=durability)
        assert out == {"n": 5, "trail": [0, 1, 2, 3, 4]}
        reader = loop_graph(5).compile(checkpointer=make_saver())
        assert reader.get_state(cfg(f"d-{durability}")).values == out
        n_checkpoints = len(list(reader.get_state_history(cfg(f"d-{durability}"))))
        if durability == "exit":
            assert n_checkpoints == 1
        else:
            assert n_checkpoints == 7  # input + 6 loop steps

    async def test_async_durability_modes(self, make_saver: MakeSaver) -> None:
        graph = loop_graph(3).compile(checkpointer=make_saver())
        for mode in ("sync", "async", "exit"):
            out = await graph.ainvoke({"n": 0, "trail": []}, cfg(f"ad-{mode}"), durability=mode)
            assert out["n"] == 3
            state = await graph.aget_state(cfg(f"ad-{mode}"))
            assert state.values == out


def test_resume_in_fresh_subprocess(tmp_path: Path) -> None:
    """A second OS process resumes the thread the first one wrote."""
    store = tmp_path / "store"
    script = textwrap.dedent(
        f"""
        import sys
        from langgraph_persist import PersistSaver
        from langgraph.types import Command
        from tests.graphs import approval_graph
        graph = approval_graph().compile(checkpointer=PersistSaver({str(store)!r}))
        cfg = {{"configurable": {{"thread_id": "proc"}}}}
        if sys.argv[1] == "start":
            out = graph.invoke({{"request": "deploy", "log": []}}, cfg)
            print("INTERRUPTED" if "__interrupt__" in out else "NO-INTERRUPT")
        else:
            out = graph.invoke(Command(resume="ship it"), cfg)
            print("|".join(out["log"]))
        """
    )
    root = Path(__file__).resolve().parent.parent

    def run(arg: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", script, arg],
            capture_output=True,
            text=True,
            cwd=root,
            timeout=120,
            check=True,
        )
        return done.stdout.strip()

    assert run("start") == "INTERRUPTED"
    assert run("resume") == "drafted deploy|reviewed: ship it|acted on ship it"


def _local_savers(tmp_path: Path, **options: Any) -> Iterator[MakeSaver]:
    """The body of a local ``make_saver``: savers at ``tmp_path / "store"`` with ``options``."""
    made: list[PersistSaver] = []

    def make() -> PersistSaver:
        saver = PersistSaver(tmp_path / "store", **options)
        made.append(saver)
        return saver

    yield make
    for saver in made:
        saver.close()


class TestGraphsSqlite(GraphTests):
    """The default local store: the SQLite layout."""

    @pytest.fixture
    def make_saver(self, tmp_path: Path) -> Iterator[MakeSaver]:
        yield from _local_savers(tmp_path, layout="sqlite")


class TestGraphsFiles(GraphTests):
    """The file-per-record layout (0.1's, still supported)."""

    @pytest.fixture
    def make_saver(self, tmp_path: Path) -> Iterator[MakeSaver]:
        yield from _local_savers(tmp_path, layout="files")
