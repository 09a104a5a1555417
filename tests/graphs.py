"""Real LangGraph graphs the tests run on every saver configuration."""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.channels.delta import DeltaChannel
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt
from typing_extensions import TypedDict


class ChatState(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    turns: int


def chat_graph() -> StateGraph[Any]:
    """An agent-like loop: the bot answers each human message, counting turns."""

    def bot(state: ChatState) -> dict[str, Any]:
        last = state["messages"][-1]
        return {
            "messages": [AIMessage(content=f"echo: {last.content}", id=f"ai-{last.id}")],
            "turns": state.get("turns", 0) + 1,
        }

    builder = StateGraph(ChatState)
    builder.add_node("bot", bot)
    builder.add_edge(START, "bot")
    builder.add_edge("bot", END)
    return builder


def human(text: str) -> dict[str, Any]:
    """A human turn with a deterministic id, so runs on two savers compare equal."""
    return {"messages": [HumanMessage(content=text, id=f"human-{text}")]}


class ApprovalState(TypedDict):
    request: str
    decision: str
    log: Annotated[list[str], operator.add]


def approval_graph() -> StateGraph[Any]:
    """Human in the loop: ``review`` interrupts until resumed with a decision."""

    def draft(state: ApprovalState) -> dict[str, Any]:
        return {"log": [f"drafted {state['request']}"]}

    def review(state: ApprovalState) -> dict[str, Any]:
        decision = interrupt({"question": f"approve {state['request']}?"})
        return {"decision": decision, "log": [f"reviewed: {decision}"]}

    def act(state: ApprovalState) -> dict[str, Any]:
        return {"log": [f"acted on {state['decision']}"]}

    builder = StateGraph(ApprovalState)
    builder.add_node("draft", draft)
    builder.add_node("review", review)
    builder.add_node("act", act)
    builder.add_edge(START, "draft")
    builder.add_edge("draft", "review")
    builder.add_edge("review", "act")
    builder.add_edge("act", END)
    return builder


class ParentState(TypedDict):
    items: Annotated[list[str], operator.add]


def subgraph_graph() -> StateGraph[Any]:
    """A parent whose middle node is a compiled subgraph (a checkpoint namespace)."""

    def child_a(state: ParentState) -> dict[str, Any]:
        return {"items": ["child-a"]}

    def child_b(state: ParentState) -> dict[str, Any]:
        return {"items": ["child-b"]}

    child = StateGraph(ParentState)
    child.add_node("child_a", child_a)
    child.add_node("child_b", child_b)
    child.add_edge(START, "child_a")
    child.add_edge("child_a", "child_b")
    child.add_edge("child_b", END)

    def before(state: ParentState) -> dict[str, Any]:
        return {"items": ["before"]}

    def after(state: ParentState) -> dict[str, Any]:
        return {"items": ["after"]}

    parent = StateGraph(ParentState)
    parent.add_node("before", before)
    parent.add_node("child", child.compile())
    parent.add_node("after", after)
    parent.add_edge(START, "before")
    parent.add_edge("before", "child")
    parent.add_edge("child", "after")
    parent.add_edge("after", END)
    return parent


class CounterState(TypedDict):
    n: int
    trail: Annotated[list[int], operator.add]


def loop_graph(steps: int) -> StateGraph[Any]:
    """Loops ``steps`` super-steps: the shape of a long agent run."""

    def tick(state: CounterState) -> dict[str, Any]:
        return {"n": state["n"] + 1, "trail": [state["n"]]}

    def route(state: CounterState) -> str:
        return "tick" if state["n"] < steps else END

    builder = StateGraph(CounterState)
    builder.add_node("tick", tick)
    builder.add_edge(START, "tick")
    builder.add_conditional_edges("tick", route)
    return builder


def _extend(state: list[str], batches: Sequence[list[str]]) -> list[str]:
    """A batching-invariant reducer, as DeltaChannel requires."""
    out = list(state or [])
    for batch in batches:
        out.extend(batch)
    return out


class DeltaState(TypedDict):
    events: Annotated[list[str], DeltaChannel(_extend, snapshot_frequency=4)]
    n: int


def delta_graph(steps: int) -> StateGraph[Any]:
    """A loop whose ``events`` channel is a DeltaChannel (only deltas are stored)."""

    def step(state: DeltaState) -> dict[str, Any]:
        return {"events": [f"event-{state['n']}"], "n": state["n"] + 1}

    def route(state: DeltaState) -> str:
        return "step" if state["n"] < steps else END

    builder = StateGraph(DeltaState)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_conditional_edges("step", route)
    return builder
