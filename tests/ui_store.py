"""A store written by real LangGraph graphs, for the web UI's tests (tests/test_ui*.py).

Threads:
- ``chat-alice``: a chat with tool calls and tool results, a message holding
  ``<script>``, a long multi-line message, an image, and a fork (``update_state``
  on an older checkpoint, then a run from there): two branches in one thread;
- ``approval-1``: human in the loop, waiting on an interrupt;
- ``subgraph-1``: a parent graph whose middle node is a subgraph (two namespaces);
- ``bulk-NN``: small chats, so the thread list has more than one page.
"""

from __future__ import annotations

import base64
import socket
import struct
import time
import zlib
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

from langgraph_persist import PersistSaver
from tests.graphs import ChatState, approval_graph, chat_graph, human, subgraph_graph

SCRIPT = "<script>document.title='pwned'</script>"
LONG = "\n".join(f"line {i}: the quick brown fox jumps over the lazy dog" for i in range(40))


def _png(size: int = 48) -> str:
    """A small striped PNG, base64 (made here: nothing is fetched)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes((47, 91, 211) if (x // 6 + y // 6) % 2 else (250, 176, 5)) for x in range(size)
        )
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
    return base64.b64encode(png + chunk(b"IEND", b"")).decode()


PNG = _png()
BULK = 55


def tool_chat_graph() -> StateGraph[Any]:
    """An agent that calls a ``lookup`` tool once per human turn, then answers."""

    def agent(state: ChatState) -> dict[str, Any]:
        last = state["messages"][-1]
        if isinstance(last, ToolMessage):
            answer = AIMessage(content=f"the answer is {last.content}", id=f"ai-final-{last.id}")
            return {"messages": [answer], "turns": state.get("turns", 0) + 1}
        call = {
            "name": "lookup",
            "args": {"query": str(last.content)[:40]},
            "id": f"call-{last.id}",
        }
        return {"messages": [AIMessage(content="", tool_calls=[call], id=f"ai-call-{last.id}")]}

    def tools(state: ChatState) -> dict[str, Any]:
        call = state["messages"][-1].tool_calls[0]  # type: ignore[union-attr]
        result = ToolMessage(
            content=f"42 ({call['args']['query'][:10]})",
            tool_call_id=call["id"],
            name=call["name"],
            id=f"tool-{call['id']}",
        )
        return {"messages": [result]}

    def route(state: ChatState) -> str:
        last = state["messages"][-1]
        return "tools" if getattr(last, "tool_calls", None) else END

    builder = StateGraph(ChatState)
    builder.add_node("agent", agent)
    builder.add_node("tools", tools)
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    builder.add_edge("tools", "agent")
    return builder


def build_store(saver: PersistSaver, *, bulk: int = BULK) -> dict[str, Any]:
    """Write the threads above (the bulk ones first: the others are the newest, on page 1);
    returns facts the tests assert on."""
    echo = chat_graph().compile(checkpointer=saver)
    for n in range(bulk):
        echo.invoke(human(f"hello {n}"), {"configurable": {"thread_id": f"bulk-{n:02d}"}})
    chat = tool_chat_graph().compile(checkpointer=saver)
    cfg: Any = {"configurable": {"thread_id": "chat-alice"}}

    def run(n: int) -> Any:  # LangGraph Server records each run's id in the metadata
        return {**cfg, "metadata": {"user": "alice", "run_id": f"run-{n}"}}

    chat.invoke(human("what is the answer?"), run(1))
    fork_from = chat.get_state(cfg).config
    chat.invoke({"messages": [HumanMessage(content=SCRIPT, id="human-script")]}, run(2))
    image = HumanMessage(
        content=[
            {"type": "text", "text": "and this picture?"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}},
        ],
        id="human-image",
    )
    chat.invoke({"messages": [image, HumanMessage(content=LONG, id="human-long")]}, run(3))
    # the fork: a different question asked after the first turn, run from there
    forked = chat.update_state(
        fork_from,
        {"messages": [HumanMessage(content="a forked question", id="human-fork")]},
        as_node="tools",  # the agent runs next: a tool call, its result, an answer
    )
    chat.invoke(None, {**forked, "metadata": {"user": "alice", "run_id": "run-4"}})

    approval = approval_graph().compile(checkpointer=saver)
    acfg: Any = {"configurable": {"thread_id": "approval-1"}, "metadata": {"user": "bob"}}
    approval.invoke({"request": "refund", "log": []}, acfg)

    sub = subgraph_graph().compile(checkpointer=saver)
    scfg: Any = {"configurable": {"thread_id": "subgraph-1"}, "metadata": {"user": "carol"}}
    sub.invoke({"items": []}, scfg)

    return {"fork_from": fork_from["configurable"]["checkpoint_id"], "bulk": bulk}


def resume_approval(saver: PersistSaver) -> None:
    """Resume the interrupted thread (tests that need no interrupt left)."""
    approval = approval_graph().compile(checkpointer=saver)
    approval.invoke(Command(resume="yes"), {"configurable": {"thread_id": "approval-1"}})


def free_port() -> int:
    """A free loopback port for a test server."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_ready(url: str, *, attempts: int = 400) -> None:
    """Poll until the server answers (each try is a real request; no fixed sleep)."""
    import httpx

    for _ in range(attempts):
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.025)
    raise AssertionError(f"{url} never answered")
