"""Whatever a graph stores comes back exactly as LangGraph's reference saver returns it.

PersistSaver splits lists element by element and deduplicates content, so it
is checked against InMemorySaver on arbitrary values (hypothesis), including
the types LangGraph's serializer handles specially.
"""

from __future__ import annotations

import datetime
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist import PersistSaver

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.binary(max_size=300),
    st.builds(lambda s: HumanMessage(content=s, id=f"h-{len(s)}"), st.text(max_size=600)),
    st.builds(lambda s: AIMessage(content=s), st.text(max_size=50)),
    st.builds(
        lambda s: ToolMessage(content=s, tool_call_id="call-1", name="search"),
        st.text(max_size=40),
    ),
    st.datetimes(timezones=st.just(datetime.timezone.utc)),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False, places=3),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=25),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=10), inner, max_size=6),
        st.frozensets(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=5),
    ),
    max_leaves=30,
)


def store_sequence(saver: Any, thread_id: str, states: list[dict[str, Any]]) -> list[Any]:
    """Put each state as a checkpoint (all channels new), as a graph would."""
    config: dict = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    out = []
    for step, state in enumerate(states):
        ckpt = empty_checkpoint()
        ckpt["channel_values"] = state
        ckpt["channel_versions"] = {k: step + 1 for k in state}
        config = saver.put(config, ckpt, {"step": step}, dict(ckpt["channel_versions"]))
        out.append(config)
    return out


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(["a", "b", "messages"]), values, max_size=3),
        min_size=1,
        max_size=4,
    )
)
def test_round_trip_equals_in_memory_saver(tmp_path: Path, states: list[dict[str, Any]]) -> None:
    ours = PersistSaver(tmp_path / f"s-{uuid.uuid4().hex}", durability="none")
    reference = InMemorySaver()
    mine = store_sequence(ours, "t", states)
    theirs = store_sequence(reference, "t", states)
    for a, b in zip(mine, theirs, strict=True):
        got, want = ours.get_tuple(a), reference.get_tuple(b)
        assert got is not None and want is not None
        assert got.checkpoint["channel_values"] == want.checkpoint["channel_values"]
        assert got.metadata == want.metadata
    # a fresh saver (cold caches, "another process") reads the same
    fresh = PersistSaver(ours.store.root)  # type: ignore[attr-defined]
    for a, b in zip(mine, theirs, strict=True):
        assert (
            fresh.get_tuple(a).checkpoint["channel_values"]
            == reference.get_tuple(b).checkpoint["channel_values"]
        )  # type: ignore[union-attr]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ch", "messages", "__error__", "__interrupt__"]), values),
        max_size=5,
    )
)
def test_pending_writes_equal_in_memory_saver(
    tmp_path: Path, writes: list[tuple[str, Any]]
) -> None:
    ours = PersistSaver(tmp_path / f"s-{uuid.uuid4().hex}", durability="none")
    reference = InMemorySaver()
    results = []
    for saver in (ours, reference):
        config = saver.put(
            {"configurable": {"thread_id": "t", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
        )
        saver.put_writes(config, writes, "task-1", "path-a")
        saver.put_writes(config, writes[:1], "task-1", "path-a")  # duplicate: insert-if-absent
        results.append(saver.get_tuple(config).pending_writes)  # type: ignore[union-attr]
    assert results[0] == results[1]


def test_decimal_and_sets_inside_lists_survive_splitting(tmp_path: Path) -> None:
    value = [Decimal("1.10"), frozenset({1, 2}), (1, "a"), {"k": [1, 2]}, b"\x00", None]
    ours = PersistSaver(tmp_path / "s")
    reference = InMemorySaver()
    a = store_sequence(ours, "t", [{"v": value}])[0]
    b = store_sequence(reference, "t", [{"v": value}])[0]
    assert (
        ours.get_tuple(a).checkpoint["channel_values"]
        == reference.get_tuple(b).checkpoint["channel_values"]
    )  # type: ignore[union-attr]
