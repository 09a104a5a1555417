"""Regenerate the golden stores. Run ONLY when introducing a new format version:

    python -m tests.golden.make_golden v1    # the file-per-record store (0.1)
    python -m tests.golden.make_golden v2    # store-v1 upgraded to the SQLite layout
    python -m tests.golden.make_golden v2s2  # the same graphs, SQLite schema 2 (facets)

The committed store-v1/ and store-v2/ must stay readable by every future
release. store-v2 is store-v1 after ``upgrade``, so one expected description
(expected-v1.json) pins both formats and the conversion between them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from langgraph.types import Command

from langgraph_persist import PersistSaver
from langgraph_persist.upgrade import upgrade
from tests.golden.describe import describe
from tests.graphs import approval_graph, chat_graph, delta_graph, human, subgraph_graph

HERE = Path(__file__).parent


def main() -> None:
    store = HERE / "store-v1"
    shutil.rmtree(store, ignore_errors=True)
    saver = PersistSaver(store, layout="files")
    run_graphs(saver)
    (HERE / "expected-v1.json").write_text(json.dumps(describe(saver), indent=1, sort_keys=True))
    for leftover in ("tmp", "trash", "locks"):
        shutil.rmtree(store / leftover, ignore_errors=True)


def run_graphs(saver: PersistSaver) -> None:
    """The graphs every golden store holds: a chat, an interrupt, a subgraph, a delta."""
    chat = chat_graph().compile(checkpointer=saver)
    chat.invoke(human("hello"), {"configurable": {"thread_id": "chat/../Ünïcode user"}})
    chat.invoke(human("x" * 400), {"configurable": {"thread_id": "chat/../Ünïcode user"}})
    approval = approval_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "hitl"}}
    approval.invoke({"request": "refund", "log": []}, config)
    approval.invoke(Command(resume="approved"), config)
    subgraph_graph().compile(checkpointer=saver).invoke(
        {"items": []}, {"configurable": {"thread_id": "sub"}}
    )
    delta_graph(6).compile(checkpointer=saver).invoke(
        {"events": [], "n": 0}, {"configurable": {"thread_id": "delta"}}
    )


def main_v2() -> None:
    store = HERE / "store-v2"
    shutil.rmtree(store, ignore_errors=True)
    shutil.copytree(HERE / "store-v1", store)
    upgrade(store)
    saver = PersistSaver(store)
    assert describe(saver) == json.loads((HERE / "expected-v1.json").read_text())
    saver.close()
    shutil.rmtree(store / "locks", ignore_errors=True)


def main_v2s2() -> None:
    """Schema 2 of the SQLite layout: checkpoint rows carry facets (facets.py)."""
    store = HERE / "store-v2s2"
    shutil.rmtree(store, ignore_errors=True)
    saver = PersistSaver(store)
    run_graphs(saver)
    (HERE / "expected-v2s2.json").write_text(json.dumps(describe(saver), indent=1, sort_keys=True))
    saver.close()
    shutil.rmtree(store / "locks", ignore_errors=True)


if __name__ == "__main__":
    {"v1": main, "v2": main_v2, "v2s2": main_v2s2}[sys.argv[1]]()
