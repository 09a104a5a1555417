"""Deterministic workload data: real LangGraph call traces, recorded once, replayed to every saver.

Why record instead of hand-building checkpoints: the order of calls
(``put_writes`` for each task, then ``put`` of the next checkpoint), the
channel set (``branch:to:*`` triggers, ``__start__``), ``new_versions`` marking
only the channels a step changed, and the metadata are exactly what LangGraph
1.x produces, so no saver is measured on a shape it would never see.

Why one trace per repetition (a different seed each): content-addressed
savers (ours) deduplicate equal bytes; replaying the same messages into a
second thread would make later repetitions cheaper for us and flatter the
numbers. Every saver still receives exactly the same traces.

Versions are the SQL savers' ``"<counter>.<fraction>"`` strings, drawn from
a seeded generator, so the traces are reproducible and valid for every peer.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict, cast

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

_VOCABULARY = (
    "agent tool call result plan step user query answer context memory graph node edge state "
    "channel checkpoint thread version write read store file disk cache latency budget invoice "
    "customer order shipment refund policy ticket escalation summary report draft review "
    "approve reject retry timeout error warning metric dashboard region cluster replica shard "
    "index schema column table migration backup restore snapshot archive compliance audit "
    "token prompt model embedding vector search document chunk citation source evidence "
    "weather flight hotel booking itinerary meeting calendar reminder invoice payment balance "
    "account profile preference language translation recipe ingredient oven minute hour day "
    "week month quarter year north south east west blue green red amber quickly carefully "
    "probably certainly however therefore meanwhile although because unless until whether"
)
_WORDS = _VOCABULARY.split()

MESSAGE_CHARS = 500
"""Target length of every generated message (the issue's "~500 characters of varied text")."""


def message_text(seed: int, index: int, chars: int = MESSAGE_CHARS) -> str:
    """Varied English-like text of about ``chars`` characters, a pure function of its arguments."""
    rng = random.Random(seed * 1_000_003 + index)
    sentences: list[str] = []
    length = 0
    while length < chars:
        words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(2, 99_999)))
        sentence = " ".join(words).capitalize() + rng.choice((".", ".", ".", "?", "!"))
        sentences.append(sentence)
        length += len(sentence) + 1
    return " ".join(sentences)[:chars]


# -- graphs ------------------------------------------------------------------------------------


class ChatState(TypedDict):
    """A chat agent's state: a growing message list plus two small channels."""

    messages: Annotated[list[AnyMessage], add_messages]
    turn: int
    topic: str


class CounterState(TypedDict):
    """Small state, for long histories (the 10,000-checkpoint thread)."""

    counter: int
    note: str


def chat_graph(
    seed: int, messages: int, checkpointer: Any = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """``user`` and ``assistant`` alternate; each super-step appends one ~500-char message.

    Texts are generated before the graph runs so that W4 times LangGraph and the
    saver, not the text generator. ``topic`` changes every 10 turns: a small
    channel that is *not* in most steps' ``new_versions``.
    """
    texts = [message_text(seed, i) for i in range(messages + 2)]

    def user(state: ChatState) -> dict[str, Any]:
        i = len(state["messages"])
        turn = state["turn"] + 1
        update: dict[str, Any] = {"messages": [HumanMessage(texts[i], id=f"m-{seed}-{i}")]}
        update["turn"] = turn
        if turn % 10 == 0:
            update["topic"] = f"topic {seed}-{turn // 10}"
        return update

    def assistant(state: ChatState) -> dict[str, Any]:
        i = len(state["messages"])
        return {"messages": [AIMessage(texts[i], id=f"m-{seed}-{i}")]}

    def route(state: ChatState) -> str:
        return "user" if len(state["messages"]) < messages else END

    builder = StateGraph(ChatState)
    builder.add_node("user", user)
    builder.add_node("assistant", assistant)
    builder.add_edge(START, "user")
    builder.add_edge("user", "assistant")
    builder.add_conditional_edges("assistant", route, ["user", END])
    return builder.compile(checkpointer=checkpointer)


def chat_input(seed: int) -> dict[str, Any]:
    return {"messages": [], "turn": 0, "topic": f"topic {seed}-0"}


def counter_graph(steps: int, checkpointer: Any = None) -> CompiledStateGraph[Any, Any, Any, Any]:
    """One node looping ``steps`` times; ``note`` changes every 100 steps."""

    def tick(state: CounterState) -> dict[str, Any]:
        counter = state["counter"] + 1
        update: dict[str, Any] = {"counter": counter}
        if counter % 100 == 0:
            update["note"] = f"note {counter // 100}"
        return update

    def route(state: CounterState) -> str:
        return "tick" if state["counter"] < steps else END

    builder = StateGraph(CounterState)
    builder.add_node("tick", tick)
    builder.add_edge(START, "tick")
    builder.add_conditional_edges("tick", route, ["tick", END])
    return builder.compile(checkpointer=checkpointer)


def run_config(thread_id: str, steps: int) -> RunnableConfig:
    return {"configurable": {"thread_id": thread_id}, "recursion_limit": steps + 100}


# -- traces ------------------------------------------------------------------------------------


@dataclass
class Step:
    """One super-step as LangGraph calls a saver: its ``put_writes`` calls, then one ``put``."""

    writes: list[tuple[str | None, list[tuple[str, Any]], str, str]]
    """(checkpoint the writes belong to, writes, task_id, task_path) per ``put_writes`` call."""
    parent_id: str | None
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    new_versions: ChannelVersions


@dataclass
class Trace:
    """The calls of one thread, in order; ``steps[i].checkpoint['id']`` is checkpoint ``i``."""

    seed: int
    steps: list[Step] = field(default_factory=list)

    def ids(self) -> list[str]:
        return [s.checkpoint["id"] for s in self.steps]

    def live_state_bytes(self) -> int:
        """Serialized size of the final checkpoint (values included): the "live state"."""
        from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer

        return len(JsonPlusSerializer().dumps_typed(self.steps[-1].checkpoint)[1])


class _Recorder(InMemorySaver):
    """InMemorySaver that records every write call (deep copies: the exact state at the call)."""

    def __init__(self, seed: int) -> None:
        super().__init__()
        self.trace = Trace(seed)
        self._pending: list[tuple[str | None, list[tuple[str, Any]], str, str]] = []
        self._rng = random.Random(seed)

    def put_writes(
        self, config: RunnableConfig, writes: Any, task_id: str, task_path: str = ""
    ) -> None:
        cid = config["configurable"].get("checkpoint_id")
        self._pending.append((cid, copy.deepcopy(list(writes)), task_id, task_path))
        super().put_writes(config, writes, task_id, task_path)

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        step = Step(
            writes=self._pending,
            parent_id=config["configurable"].get("checkpoint_id"),
            checkpoint=copy.deepcopy(checkpoint),
            metadata=cast(CheckpointMetadata, copy.deepcopy(dict(metadata))),
            new_versions=dict(new_versions),
        )
        self._pending = []
        self.trace.steps.append(step)
        return super().put(config, checkpoint, metadata, new_versions)

    def get_next_version(self, current: str | None, channel: None) -> str:
        """The SQL savers' version format, with a seeded random fraction (reproducible)."""
        n = 0 if current is None else int(str(current).split(".")[0])
        return f"{n + 1:032}.{self._rng.random():016}"


def record(
    build: Callable[[Any], CompiledStateGraph[Any, Any, Any, Any]],
    inputs: Any,
    seed: int,
    steps: int,
) -> Trace:
    """Run a graph on a recording saver with ``durability="sync"`` and keep ``steps`` puts.

    ``sync`` durability makes the recorded order deterministic (with the default
    ``async`` LangGraph may interleave the next step with the previous put).
    """
    recorder = _Recorder(seed)
    graph = build(recorder)
    graph.invoke(inputs, run_config(f"record-{seed}", steps), durability="sync")
    trace = recorder.trace
    if len(trace.steps) < steps:
        raise RuntimeError(f"graph produced {len(trace.steps)} checkpoints, wanted {steps}")
    del trace.steps[steps:]
    return trace


def chat_trace(seed: int, steps: int) -> Trace:
    """A growing conversation: ``steps`` checkpoints, about one new message per step."""
    return record(lambda cp: chat_graph(seed, steps + 2, cp), chat_input(seed), seed, steps)


def counter_trace(seed: int, steps: int) -> Trace:
    """A long thread of small checkpoints."""
    return record(lambda cp: counter_graph(steps + 2, cp), {"counter": 0, "note": "n"}, seed, steps)


# -- replay ------------------------------------------------------------------------------------


def config_for(thread_id: str, checkpoint_id: str | None = None) -> RunnableConfig:
    """The config LangGraph passes to a saver (``thread_id`` also lands in metadata, as there)."""
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable, "metadata": {"thread_id": thread_id}}


@dataclass
class Call:
    """A saver call ready to replay: ``("put_writes", args)`` or ``("put", args)``."""

    method: str
    args: tuple[Any, ...]


def calls(trace: Trace, thread_id: str, *, copy_values: bool = True) -> Iterator[Call]:
    """The trace's calls for ``thread_id``.

    ``copy_values``: hand every saver its own deep copy (made here, outside any
    timer, preserving the sharing of message objects between steps as LangGraph
    does), so a saver that mutates its arguments cannot change what the next
    saver receives.
    """
    steps = copy.deepcopy(trace.steps) if copy_values else trace.steps
    for step in steps:
        for cid, writes, task_id, task_path in step.writes:
            yield Call("put_writes", (config_for(thread_id, cid), writes, task_id, task_path))
        yield Call(
            "put",
            (
                config_for(thread_id, step.parent_id),
                step.checkpoint,
                step.metadata,
                step.new_versions,
            ),
        )


def step_calls(trace: Trace, thread_id: str) -> list[list[Call]]:
    """Calls grouped per step (writes then put), all copied up front."""
    grouped: list[list[Call]] = [[]]
    for call in calls(trace, thread_id):
        grouped[-1].append(call)
        if call.method == "put":
            grouped.append([])
    return grouped[:-1]
