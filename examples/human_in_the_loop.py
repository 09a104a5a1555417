"""Human in the loop across processes: pause for approval today, resume tomorrow.

    python examples/human_in_the_loop.py request "refund order 1234"   # pauses
    python examples/human_in_the_loop.py pending                       # what waits?
    python examples/human_in_the_loop.py approve yes                   # resumes

Each command is a separate process; the pause survives restarts because the
interrupted checkpoint (and the question it asked) is in the store.
"""

from __future__ import annotations

import argparse
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver


class State(TypedDict):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def draft(state: State) -> dict[str, Any]:
    return {"log": [f"drafted a plan for: {state['request']}"]}


def review(state: State) -> dict[str, Any]:
    decision = interrupt({"question": f"Approve '{state['request']}'?"})
    return {"decision": decision, "log": [f"human said: {decision}"]}


def act(state: State) -> dict[str, Any]:
    done = "executed" if state["decision"] == "yes" else "cancelled"
    return {"log": [f"{done}: {state['request']}"]}


def build(store: str) -> Any:
    builder = StateGraph(State)
    for name, fn in (("draft", draft), ("review", review), ("act", act)):
        builder.add_node(name, fn)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "act")
    builder.add_edge("act", END)
    return builder.compile(checkpointer=PersistSaver(store))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["request", "pending", "approve"])
    parser.add_argument("text", nargs="?", default="")
    parser.add_argument("--store", default="./checkpoints")
    parser.add_argument("--thread", default="approvals-1")
    args = parser.parse_args()
    graph = build(args.store)
    config = {"configurable": {"thread_id": args.thread}}
    if args.command == "request":
        out = graph.invoke({"request": args.text, "log": []}, config)
        print(f"paused: {out['__interrupt__'][0].value['question']}")
    elif args.command == "pending":
        state = graph.get_state(config)
        waiting = [i.value["question"] for t in state.tasks for i in t.interrupts]
        print(f"waiting at {state.next}: {waiting}" if waiting else "nothing is waiting")
    else:
        out = graph.invoke(Command(resume=args.text or "yes"), config)
        print("\n".join(out["log"]))


if __name__ == "__main__":
    main()
