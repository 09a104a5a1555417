"""Internal randomness never consumes ``uuid.uuid4``, which LangGraph's tests and users patch.

LangGraph's own test suite (``tests/test_large_cases.py::test_root_graph``)
and many users' snapshot tests replace ``uuid.uuid4`` with a deterministic
sequence so that message and run ids are stable. A saver that draws from it
for temp files or write keys shifts every later id.
"""

from __future__ import annotations

import itertools
import uuid
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import START, MessagesState, StateGraph

from langgraph_persist import PersistSaver


def _graph() -> StateGraph[Any]:
    def bot(state: MessagesState) -> dict[str, Any]:
        # no id: LangGraph's add_messages assigns one from uuid.uuid4()
        return {"messages": [("ai", f"reply {len(state['messages'])}")]}

    builder = StateGraph(MessagesState)
    builder.add_node("bot", bot)
    builder.add_edge(START, "bot")
    return builder


def _ids_with_patched_uuid4(saver: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    counter = itertools.count()
    monkeypatch.setattr(uuid, "uuid4", lambda: uuid.UUID(int=next(counter)))
    graph = _graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "t"}}
    for turn in range(3):
        graph.invoke({"messages": [HumanMessage(content=f"turn {turn}")]}, config)
    ids = [m.id for m in graph.get_state(config).values["messages"]]
    monkeypatch.undo()
    return ids


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_patched_uuid4_gives_the_same_ids_as_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, layout: str
) -> None:
    expected = _ids_with_patched_uuid4(InMemorySaver(), monkeypatch)
    saver = PersistSaver(tmp_path / "s", layout=layout)  # type: ignore[arg-type]
    assert _ids_with_patched_uuid4(saver, monkeypatch) == expected


def test_negative_control_a_saver_drawing_uuid4_shifts_the_ids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A saver that calls uuid4 per write (as 0.1 did) fails the comparison above."""

    class Drawing(InMemorySaver):
        def put_writes(self, *args: Any, **kwargs: Any) -> None:
            uuid.uuid4()
            super().put_writes(*args, **kwargs)

    expected = _ids_with_patched_uuid4(InMemorySaver(), monkeypatch)
    assert _ids_with_patched_uuid4(Drawing(), monkeypatch) != expected
