"""Time travel: list a thread's history, replay a past state, fork a new branch.

python examples/time_travel.py [--store DIR]
"""

from __future__ import annotations

import argparse
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver


class State(TypedDict):
    topic: str
    steps: Annotated[list[str], operator.add]


def outline(state: State) -> dict[str, Any]:
    return {"steps": [f"outline about {state['topic']}"]}


def write(state: State) -> dict[str, Any]:
    return {"steps": [f"draft about {state['topic']}"]}


def polish(state: State) -> dict[str, Any]:
    return {"steps": [f"polished text about {state['topic']}"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="./checkpoints")
    args = parser.parse_args()
    builder = StateGraph(State)
    for name, fn in (("outline", outline), ("write", write), ("polish", polish)):
        builder.add_node(name, fn)
    builder.add_edge(START, "outline")
    builder.add_edge("outline", "write")
    builder.add_edge("write", "polish")
    builder.add_edge("polish", END)
    saver = PersistSaver(args.store)
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "essay"}}
    saver.delete_thread("essay")

    graph.invoke({"topic": "tides", "steps": []}, config)
    history = list(graph.get_state_history(config))
    print(f"{len(history)} checkpoints, newest first:")
    for snap in history:
        done = len(snap.values.get("steps", []))
        print(f"  step {snap.metadata['step']:>2}  next={list(snap.next)}  steps so far={done}")

    # replay: the state as it was before "write" ran
    before_write = next(s for s in history if s.next == ("write",))
    print("replayed:", graph.get_state(before_write.config).values["steps"])

    # fork: change the topic at that point and run the rest again
    fork = graph.update_state(before_write.config, {"topic": "volcanoes"})
    out = graph.invoke(None, fork)
    print("forked result:", out["steps"])
    print("latest state is the fork:", graph.get_state(config).values["topic"])
    branches = {s.values.get("topic") for s in graph.get_state_history(config)}
    print("both branches are kept:", sorted(b for b in branches if b))


if __name__ == "__main__":
    main()
