"""A writer process for crash tests: runs a chat graph forever, acknowledging each turn.

    python -m tests.crash_writer STORE THREAD [--gc]

After each ``invoke`` (durability="sync") returns, prints one JSON line:
{"checkpoint_id": ..., "turns": n, "last": "echo: ..."}. Everything printed
was acknowledged, so it must survive a SIGKILL at any later moment.
"""

from __future__ import annotations

import json
import sys

from langgraph_persist import PersistSaver
from tests.graphs import chat_graph, human


def main() -> None:
    store, thread = sys.argv[1], sys.argv[2]
    saver = PersistSaver(store)
    if "--gc" in sys.argv:
        saver.gc()
        print(json.dumps({"gc": "done"}), flush=True)
        return
    graph = chat_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": thread}}
    turn = 0
    while True:
        out = graph.invoke(
            human(f"{thread} turn {turn} " + "words " * 60), config, durability="sync"
        )
        state = graph.get_state(config)
        print(
            json.dumps(
                {
                    "checkpoint_id": state.config["configurable"]["checkpoint_id"],
                    "turns": out["turns"],
                    "last": out["messages"][-1].content,
                }
            ),
            flush=True,
        )
        turn += 1


if __name__ == "__main__":
    main()
