"""Several worker processes serve the same conversations through one Redis.

    python examples/redis_workers.py --redis redis://localhost:6379/0 [--workers 3]

Each worker is a separate OS process with its own PersistSaver over the same
directory and the same Redis (the hot tier). Turns of each conversation are
handed from worker to worker; every worker sees what the others wrote.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Annotated, Any

from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from langgraph_persist import PersistSaver


class State(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]
    served_by: Annotated[list[str], lambda a, b: a + b]


def build(store: str, redis: str, worker: str) -> Any:
    def answer(state: State) -> dict[str, Any]:
        text = state["messages"][-1].content
        return {"messages": [AIMessage(content=f"[{worker}] got: {text}")], "served_by": [worker]}

    builder = StateGraph(State)
    builder.add_node("answer", answer)
    builder.add_edge(START, "answer")
    return builder.compile(checkpointer=PersistSaver(store, redis=redis))


def worker_main(store: str, redis: str, worker: str, thread: str, text: str) -> None:
    graph = build(store, redis, worker)
    out = graph.invoke(
        {"messages": [HumanMessage(content=text)]}, {"configurable": {"thread_id": thread}}
    )
    count, served = len(out["messages"]), out["served_by"]
    print(f"{worker}: thread {thread} now has {count} messages, served by {served}")
    graph.checkpointer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--redis", required=True)
    parser.add_argument("--store", default="./checkpoints")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--as-worker", nargs=3, metavar=("NAME", "THREAD", "TEXT"))
    args = parser.parse_args()
    if args.as_worker:
        worker_main(args.store, args.redis, *args.as_worker)
        return
    saver = PersistSaver(args.store, redis=args.redis)
    for thread in ("conv-a", "conv-b"):
        saver.delete_thread(thread)
    for turn in range(args.workers):
        procs = [
            subprocess.Popen(
                [
                    sys.executable,
                    __file__,
                    "--redis",
                    args.redis,
                    "--store",
                    args.store,
                    "--as-worker",
                    f"worker-{(turn + i) % args.workers}",
                    thread,
                    f"turn {turn}",
                ]
            )
            for i, thread in enumerate(("conv-a", "conv-b"))
        ]
        for proc in procs:
            if proc.wait() != 0:
                raise SystemExit(f"worker failed with exit code {proc.returncode}")
    for thread in ("conv-a", "conv-b"):
        tup = saver.get_tuple({"configurable": {"thread_id": thread}})
        assert tup is not None
        print(
            f"{thread}: {len(tup.checkpoint['channel_values']['messages'])} messages, "
            f"served by {tup.checkpoint['channel_values']['served_by']}"
        )
    print(
        "hot tier:",
        {k: v for k, v in saver.stats().tiers.items() if k in ("hits", "misses", "degraded")},
    )
    saver.close()


if __name__ == "__main__":
    main()
