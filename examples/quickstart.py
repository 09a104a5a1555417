"""Quickstart: a graph persists its state, a second process resumes it and walks history.

    python examples/quickstart.py [--store DIR]

Process 1 (this one) runs a small support agent on thread "quickstart" until
it pauses for a human's approval (``interrupt``). It then starts process 2
(this file again, with ``--resume``), which opens the same directory, sees
the paused thread, approves, finishes the run, and walks the checkpoint
history (time travel). Nothing needs a server: the store is a directory.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver

THREAD = {"configurable": {"thread_id": "quickstart"}}


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    refund: float


def agent(state: State) -> dict[str, Any]:
    """A stand-in for an LLM call: proposes a refund for the customer's order."""
    question = state["messages"][-1].content
    return {
        "messages": [AIMessage(content=f"I can refund 42.50 EUR for: {question!r}")],
        "refund": 42.50,
    }


def approve(state: State) -> dict[str, Any]:
    """Human in the loop: the run pauses here until someone answers."""
    decision = interrupt({"approve refund of": state["refund"]})
    verdict = "approved" if decision == "yes" else "rejected"
    return {"messages": [AIMessage(content=f"Refund {verdict} by a human.")]}


def build(store: str) -> Any:
    builder = StateGraph(State)
    builder.add_node("agent", agent)
    builder.add_node("approve", approve)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", "approve")
    builder.add_edge("approve", END)
    return builder.compile(checkpointer=PersistSaver(store))


def first_process(store: str) -> None:
    graph = build(store)
    graph.checkpointer.delete_thread("quickstart")  # start the demo fresh each run
    print(f"[process 1] persisting to {store}/ (no server needed)")
    out = graph.invoke(
        {"messages": [HumanMessage(content="My order #1234 arrived broken")]}, THREAD
    )
    print(f"[process 1] agent said: {out['messages'][-1].content}")
    print(f"[process 1] paused, waiting for a human: {out['__interrupt__'][0].value}")
    print("[process 1] exiting; starting a separate process to resume the thread ...\n")
    subprocess.run([sys.executable, __file__, "--store", store, "--resume"], check=True)


def second_process(store: str) -> None:
    graph = build(store)
    state = graph.get_state(THREAD)
    print(f"[process 2] found thread 'quickstart' paused before {state.next}")
    out = graph.invoke(Command(resume="yes"), THREAD)
    print(f"[process 2] resumed: {out['messages'][-1].content}")
    print("[process 2] checkpoint history, newest first (time travel):")
    history = list(graph.get_state_history(THREAD))
    for snap in history:
        step, source = snap.metadata["step"], snap.metadata["source"]
        last = snap.values["messages"][-1].content if snap.values.get("messages") else "-"
        print(
            f"  step {step:>2} {source:<6} next={list(snap.next)!s:<12} last message: {last[:48]}"
        )
    before_approval = next(s for s in history if s.next == ("approve",))
    replay = graph.get_state(before_approval.config)
    replayed_id = before_approval.config["configurable"]["checkpoint_id"]
    print(
        f"[process 2] replayed checkpoint {replayed_id}:"
        f" {len(replay.values['messages'])} messages, refund {replay.values['refund']}"
    )
    report = graph.checkpointer.verify()
    print(
        f"[process 2] store verified: {report.records_checked} records, "
        f"{report.blobs_checked} blobs, {len(report.damaged)} damaged"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", default="./checkpoints", help="store directory")
    parser.add_argument("--resume", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.resume:
        second_process(args.store)
    else:
        first_process(args.store)


if __name__ == "__main__":
    main()
