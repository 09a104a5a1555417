"""``share_content="thread"``: content is addressed per thread, so equal values written
by two threads are stored twice, and no writer can learn from the store whether a value
it guesses is already stored by another thread."""

from __future__ import annotations

from pathlib import Path

import pytest

from langgraph_persist import Encryption, PersistSaver, keys
from tests.graphs import chat_graph, human

KEY = Encryption.from_keys({"k1": bytes(range(32))})
GUESS = "the board approved the merger with acme " * 10  # over the inline limit


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def _blobs(saver: PersistSaver) -> set[keys.Key]:
    return {k for k, _s, _m in saver.store.walk((keys.BLOBS,))}


def _added_by_guess(saver: PersistSaver) -> int:
    """How many blobs a writer's thread adds when it stores the guessed value."""
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human(GUESS), cfg("victim"))  # the victim stored it first
    before = _blobs(saver)
    graph.invoke(human(GUESS), cfg("attacker"))
    return len(_blobs(saver) - before)


@pytest.mark.parametrize("encryption", [None, KEY])
def test_per_thread_content_reveals_nothing(tmp_path: Path, encryption: Encryption | None) -> None:
    shared = PersistSaver(tmp_path / "store-wide", encryption=encryption)
    private = PersistSaver(tmp_path / "per-thread", encryption=encryption, share_content="thread")
    # store-wide sharing: the attacker's identical message adds nothing (it was there);
    # per thread: it is stored again, exactly as if nobody had it
    assert _added_by_guess(shared) < _added_by_guess(private)
    assert private.verify().ok


def test_per_thread_threads_copy_fork_and_verify(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s", encryption=KEY, share_content="thread")
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(3):
        graph.invoke(human(f"turn {turn} " + "x" * 300), cfg("a"))
    saver.copy_thread("a", "b")
    a = [s.values for s in graph.get_state_history(cfg("a"))]
    b = [s.values for s in graph.get_state_history(cfg("b"))]
    assert a == b
    graph.invoke(human("more " + "y" * 300), cfg("b"))
    saver.delete_thread("a")
    saver.gc()
    assert graph.get_state(cfg("b")).values["turns"] == 4
    assert saver.verify().ok


def test_a_blob_of_another_thread_is_caught(tmp_path: Path) -> None:
    """Per-thread addresses are checked per thread: moving a thread's reference onto
    another thread's copy of the same content fails the address check."""
    saver = PersistSaver(tmp_path / "s", share_content="thread")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human(GUESS), cfg("one"))
    one = _blobs(saver)
    graph.invoke(human(GUESS), cfg("two"))
    two = _blobs(saver) - one
    assert one and two and one.isdisjoint(two)
