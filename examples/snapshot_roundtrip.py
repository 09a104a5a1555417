"""Export one agent's thread to a portable file, verify it, import it elsewhere, resume.

python examples/snapshot_roundtrip.py [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver
from langgraph_persist.snapshot import get_metadata, restore, snapshot, verify_snapshot


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


def reply(state: State) -> dict[str, Any]:
    return {"messages": [AIMessage(content=f"noted: {state['messages'][-1].content}")]}


def build(store: str) -> Any:
    builder = StateGraph(State)
    builder.add_node("reply", reply)
    builder.add_edge(START, "reply")
    return builder.compile(checkpointer=PersistSaver(store))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workdir", default=".")
    args = parser.parse_args()
    source_dir = os.path.join(args.workdir, "agent-store")
    target_dir = os.path.join(args.workdir, "other-machine-store")
    path = os.path.join(args.workdir, "agent-7.lgps")
    config = {"configurable": {"thread_id": "agent-7"}}

    graph = build(source_dir)
    graph.checkpointer.delete_thread("agent-7")
    for text in ("remember the blue door", "and the code 1234"):
        graph.invoke({"messages": [HumanMessage(content=text)]}, config)

    if os.path.exists(path):
        os.remove(path)
    info = snapshot(graph.checkpointer, "agent-7", path, description="demo", agent_id="agent-7")
    print(f"exported {info.checkpoint_count} checkpoints to {path} ({info.file_size} bytes)")
    print("verified:", verify_snapshot(path).digest[:16], "...")
    print(
        "header:",
        {
            k: v
            for k, v in get_metadata(path).as_dict().items()
            if k in ("thread_id", "checkpoint_count", "description")
        },
    )

    other = build(target_dir)
    other.checkpointer.delete_thread("agent-7")
    restore(path, other.checkpointer)
    out = other.invoke({"messages": [HumanMessage(content="what do you remember?")]}, config)
    print("restored agent continues:", [m.content for m in out["messages"]][-4:])
    original = [s.values for s in graph.get_state_history(config)]
    restored = [s.values for s in other.get_state_history(config)]
    # the restored thread has three more checkpoints (the new turn): the rest is identical
    print("history identical before the new turn:", original == restored[3:])


if __name__ == "__main__":
    main()
