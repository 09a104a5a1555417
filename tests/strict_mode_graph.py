"""A real graph with pydantic, dataclass and enum state over PersistSaver, in a fresh process.

``LANGGRAPH_STRICT_MSGPACK`` is read when LangGraph is imported, so
``tests/test_untrusted.py`` runs this module as a script with and without it
and reads the JSON report it prints:

* ``strict``: whether LangGraph saw the variable;
* ``round_trip``: the state read back by a *new* saver and a *new* compiled
  graph (so through the store, with the allowlist LangGraph derived from the
  state schema and handed to ``PersistSaver.with_allowlist``) has its types;
* ``plain_types``: the same checkpoint read by a saver no graph configured:
  under strict mode the custom types are refused (so the allowlist is what
  made ``round_trip`` work, and strict mode really is on);
* ``original_untouched``: ``with_allowlist`` gave the graph a clone, the saver
  the user passed keeps its own serializer;
* ``evidence``: whether a crafted constructor payload stored in another
  thread ran when the graph read that thread.

Usage: ``python -m tests.strict_mode_graph STORE MARKER_DIR``
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sys
from typing import Any

from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from pydantic import BaseModel
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver
from tests.forge import MARKER, Forging, attack


class Priority(enum.Enum):
    LOW = "low"
    HIGH = "high"


@dataclasses.dataclass
class Point:
    x: int
    y: int


class Order(BaseModel):
    id: str
    qty: int


class State(TypedDict):
    order: Order
    where: Point
    priority: Priority
    count: int


def build() -> StateGraph[Any]:
    def step(state: State) -> dict[str, Any]:
        order = state["order"]
        return {
            "order": Order(id=order.id, qty=order.qty + 1),
            "where": Point(state["where"].x + 1, state["where"].y),
            "priority": Priority.HIGH,
            "count": state["count"] + 1,
        }

    builder = StateGraph(State)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    return builder


def main(store: str, marker_dir: str) -> dict[str, Any]:
    from langgraph.checkpoint.serde import _msgpack

    report: dict[str, Any] = {"strict": _msgpack.STRICT_MSGPACK_ENABLED}
    cfg: Any = {"configurable": {"thread_id": "t"}}
    saver = PersistSaver(store)
    original_serde = saver.serde
    graph = build().compile(checkpointer=saver)
    start = {"order": Order(id="a", qty=1), "where": Point(1, 2), "priority": Priority.LOW}
    graph.invoke({**start, "count": 0}, cfg)
    graph.invoke({**start, "count": 10}, cfg)  # reads the first run's checkpoint back
    report["original_untouched"] = saver.serde is original_serde

    again = build().compile(checkpointer=PersistSaver(store))
    values = again.get_state(cfg).values
    report["round_trip"] = (
        values["order"] == Order(id="a", qty=2)
        and values["where"] == Point(2, 2)
        and values["priority"] is Priority.HIGH
        and values["count"] == 11
    )
    plain = PersistSaver(store).get_tuple(cfg)
    assert plain is not None
    channel_values = plain.checkpoint["channel_values"]
    report["plain_types"] = sorted(
        type(channel_values[k]).__name__ for k in ("order", "where", "priority")
    )

    # someone with write access stores a crafted constructor payload in thread "evil"
    target = os.path.join(marker_dir, "pwned")
    forger = PersistSaver(store, serde=Forging(attack("ext0", target)))
    checkpoint = empty_checkpoint()
    checkpoint["channel_values"] = {"count": MARKER}
    checkpoint["channel_versions"] = {"count": "1"}
    forger.put({"configurable": {"thread_id": "evil", "checkpoint_ns": ""}}, checkpoint, {}, {})
    evil = build().compile(checkpointer=PersistSaver(store))
    try:
        evil.get_state({"configurable": {"thread_id": "evil"}})
    except Exception as exc:  # what the graph makes of the refused value is not the point
        report["evil_error"] = type(exc).__name__
    report["evidence"] = os.path.exists(target)
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
