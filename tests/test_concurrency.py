"""Concurrent writers: no lost or torn checkpoints, stale writers fenced, no resurrection."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import FencedWriterError, PersistSaver, ThreadDeletedError
from tests.graphs import chat_graph, human

ROOT = Path(__file__).resolve().parent.parent


def cfg(thread_id: str, **extra: object) -> dict:
    return {"configurable": {"thread_id": thread_id, **extra}}


# -- no resurrection ---------------------------------------------------------------------------


def test_late_put_after_delete_thread_is_refused(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("hello"), cfg("doomed"))
    head = saver.get_tuple(cfg("doomed"))
    assert head is not None
    saver.delete_thread("doomed")
    # a background put of the old run arrives after the deletion
    late = empty_checkpoint()
    with pytest.raises(ThreadDeletedError, match="doomed"):
        saver.put(head.config, late, {"source": "loop", "step": 5}, {})
    with pytest.raises(ThreadDeletedError):
        saver.put_writes(head.config, [("messages", ["late"])], "task")
    assert saver.get_tuple(cfg("doomed")) is None
    # a new run may reuse the thread id
    out = graph.invoke(human("fresh start"), cfg("doomed"))
    assert [m.content for m in out["messages"]] == ["fresh start", "echo: fresh start"]


def test_delete_during_a_running_graph_does_not_resurrect(tmp_path: Path) -> None:
    """durability='async': saves run in the background while the thread is deleted."""
    saver = PersistSaver(tmp_path / "s")
    from tests.graphs import loop_graph

    graph = loop_graph(40).compile(checkpointer=saver)
    deleted = threading.Event()

    def delete_soon() -> None:
        while saver.get_tuple(cfg("racing")) is None:
            pass
        saver.delete_thread("racing")
        deleted.set()

    t = threading.Thread(target=delete_soon)
    t.start()
    try:
        graph.invoke({"n": 0, "trail": []}, cfg("racing"), durability="async")
        finished = True
    except ThreadDeletedError:
        finished = False
    t.join()
    assert deleted.is_set()
    remaining = list(saver.list(cfg("racing")))
    # either the run lost the race cleanly (refused) or it wrote nothing after the deletion
    # that has a deleted parent: every remaining checkpoint's parent chain is intact
    ids = {t.config["configurable"]["checkpoint_id"] for t in remaining}
    for tup in remaining:
        if tup.parent_config:
            assert tup.parent_config["configurable"]["checkpoint_id"] in ids
    assert finished or remaining == []


# -- fencing -----------------------------------------------------------------------------------


def test_stale_writer_is_fenced_but_forks_still_work(tmp_path: Path) -> None:
    store = tmp_path / "s"
    worker_a = chat_graph().compile(checkpointer=PersistSaver(store, fencing=True))
    worker_b = chat_graph().compile(checkpointer=PersistSaver(store, fencing=True))
    worker_a.invoke(human("one"), cfg("shared"))
    stale_view = worker_a.get_state(cfg("shared"))  # A remembers the head
    worker_b.invoke(human("two"), cfg("shared"))  # B moves the thread on
    # A continues from the head it remembers: refused instead of silently forking
    with pytest.raises(FencedWriterError, match="stale writer"):
        worker_a.invoke(human("three"), stale_view.config)
    # time travel / update_state on an old checkpoint are explicit forks: allowed
    old = next(s for s in worker_a.get_state_history(cfg("shared")) if s.values.get("turns") == 1)
    forked = worker_a.update_state(old.config, human("fork"), as_node="__start__")
    out = worker_a.invoke(None, forked)
    assert out["messages"][-1].content == "echo: fork"
    replay = worker_a.invoke(None, old.config)  # replay from a past checkpoint: not fenced
    assert replay["turns"] >= 1
    # and the normal flow keeps working after reloading the thread
    out = worker_b.invoke(human("four"), cfg("shared"))
    assert out["messages"][-1].content == "echo: four"


def test_without_fencing_concurrent_forks_are_allowed(tmp_path: Path) -> None:
    store = tmp_path / "s"
    a = chat_graph().compile(checkpointer=PersistSaver(store))
    b = chat_graph().compile(checkpointer=PersistSaver(store))
    a.invoke(human("one"), cfg("t"))
    stale = a.get_state(cfg("t"))
    b.invoke(human("two"), cfg("t"))
    a.invoke(human("three"), stale.config)  # LangGraph's default: a silent fork
    assert len(list(a.get_state_history(cfg("t")))) > 6


# -- many writers at once ----------------------------------------------------------------------

_WORKER = """
import asyncio, json, sys
from langgraph_persist import PersistSaver
from tests.graphs import chat_graph, human
store, worker, mode = sys.argv[1], sys.argv[2], sys.argv[5]
threads, turns = int(sys.argv[3]), int(sys.argv[4])
redis = sys.argv[6] if len(sys.argv) > 6 else None
def conf(t):
    return {"configurable": {"thread_id": f"{worker}-{t}"}}
graph = chat_graph().compile(checkpointer=PersistSaver(store, redis=redis))
async def run_async():
    async def one(t):
        for turn in range(turns):
            await graph.ainvoke(human(f"{worker}-{t}-{turn}"), conf(t))
    await asyncio.gather(*(one(t) for t in range(threads)))
if mode == "async":
    asyncio.run(run_async())
else:
    for turn in range(turns):
        for t in range(threads):
            graph.invoke(human(f"{worker}-{t}-{turn}"), conf(t))
print(json.dumps({"worker": worker, "ok": True}))
"""


@pytest.mark.parametrize("tier", ["file", "tiered"])
def test_processes_by_threads_sync_and_async_at_once(
    tmp_path: Path, tier: str, request: pytest.FixtureRequest
) -> None:
    store = tmp_path / "s"
    redis = request.getfixturevalue("redis_url") if tier == "tiered" else None
    PersistSaver(store)
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                _WORKER,
                str(store),
                f"w{i}",
                "4",
                "5",
                "async" if i % 2 else "sync",
                *([redis] if redis else []),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]
    # meanwhile, this process writes too, through the async API from several tasks
    saver = PersistSaver(store, redis=redis)
    graph = chat_graph().compile(checkpointer=saver)

    async def local() -> None:
        await asyncio.gather(
            *(graph.ainvoke(human(f"local-{i}"), cfg(f"local-{i}")) for i in range(6))
        )

    asyncio.run(local())
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["ok"]
    assert saver.verify().ok
    reader = chat_graph().compile(checkpointer=PersistSaver(store, redis=redis))
    total = 0
    for i in range(4):
        for t in range(4):
            state = reader.get_state(cfg(f"w{i}-{t}"))
            assert state.values["turns"] == 5
            contents = [m.content for m in state.values["messages"]]
            assert contents[::2] == [f"w{i}-{t}-{turn}" for turn in range(5)]
            total += len(list(reader.get_state_history(cfg(f"w{i}-{t}"))))
    assert total == 16 * 15  # 3 checkpoints per turn, none lost or duplicated


# -- writers sharing threads and content -------------------------------------------------------

_SHARING_WORKER = """
import json, sys, threading, traceback
from tests.fork_killer import Options, acknowledgement
from tests.graphs import chat_graph
root, worker, layout, spec = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
threads, turns = int(sys.argv[5]), int(sys.argv[6])
saver = Options(root, layout, None, spec or None).saver()
graph = chat_graph().compile(checkpointer=saver)
printing = threading.Lock()
errors = []

def turn_on(thread, text):
    line = json.dumps({**acknowledgement(graph, thread, text), "w": worker})
    with printing:
        print(line, flush=True)

def run(k):
    try:
        for turn in range(turns):
            shared = f"shared-{(k + turn) % 2}"
            if turn % 2 == 0:  # every writer says exactly this: the same blobs, at once
                text = f"turn {turn}: " + "the same words " * 20
            else:
                text = f"{worker}-{k} turn {turn}: " + "words of my own " * 20
            turn_on(shared, text)
            if k == 0:  # copy the thread others are writing to, and continue the copy
                copy = f"copy-{worker}-{turn}"
                saver.copy_thread(shared, copy)
                turn_on(copy, f"{copy} goes on: " + "w" * 200)
    except BaseException:
        errors.append(traceback.format_exc())

pool = [threading.Thread(target=run, args=(k,)) for k in range(threads)]
for t in pool:
    t.start()
for t in pool:
    t.join()
if errors:
    print(errors[0], file=sys.stderr)
    sys.exit(3)
"""


def check_shared_writers(
    root: Path, layout: str, store: str = "", processes: int = 3, threads: int = 3, turns: int = 4
) -> None:
    """Processes x threads on the same thread ids with identical content, copying threads
    others write to. Raises AssertionError if anything acknowledged is lost or differs,
    or the store does not verify."""
    from tests.fork_killer import Options, check_ack

    Options(str(root), layout, None, store or None).saver().close()
    args = [str(root), layout, store, str(threads), str(turns)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _SHARING_WORKER, args[0], f"w{i}", *args[1:]],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]
    acks: list[dict] = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"a writer failed:\n{err}"
        acks += [json.loads(line) for line in out.splitlines()]
    assert len(acks) == processes * (threads * turns + turns), "a writer stopped early"
    made = [cid for a in acks for cid, _state in a["chain"]]
    assert len(set(made)) == len(made), "two writers were told they made the same checkpoint"
    for shared in ("shared-0", "shared-1"):  # the sharing really happened
        assert len({a["w"] for a in acks if a["ack"] == shared}) == processes
    saver = Options(str(root), layout, None, store or None).saver()
    report = saver.verify()
    assert report.ok, report.damaged
    for ack in acks:
        check_ack(saver, ack)  # exactly what the writer was told it stored
    for thread in saver.threads():  # every copy too: whole, readable, chains intact
        tuples = list(saver.list(cfg(thread)))
        ids = [t.config["configurable"]["checkpoint_id"] for t in tuples]
        assert len(ids) == len(set(ids)), thread
        for tup in tuples:
            if tup.parent_config:
                assert tup.parent_config["configurable"]["checkpoint_id"] in ids, thread


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_writers_sharing_threads_and_content(tmp_path: Path, layout: str) -> None:
    check_shared_writers(tmp_path / "s", layout)
