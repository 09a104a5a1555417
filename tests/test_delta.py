"""DeltaChannel graphs: exact state, cheap history, and pruning that keeps the chain."""

from __future__ import annotations

from pathlib import Path

from langgraph.checkpoint.memory import InMemorySaver

from langgraph_persist import PersistSaver
from tests.counting import CountingFileStore
from tests.graphs import delta_graph


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def test_delta_channel_state_matches_in_memory_saver(tmp_path: Path) -> None:
    ours = delta_graph(11).compile(checkpointer=PersistSaver(tmp_path / "s"))
    reference = delta_graph(11).compile(checkpointer=InMemorySaver())
    out = ours.invoke({"events": [], "n": 0}, cfg("d"))
    assert out == reference.invoke({"events": [], "n": 0}, cfg("d"))
    assert out["events"] == [f"event-{i}" for i in range(11)]
    mine = list(ours.get_state_history(cfg("d")))
    theirs = list(reference.get_state_history(cfg("d")))
    assert [s.values for s in mine] == [s.values for s in theirs]
    # a fresh saver on the same directory (another process) rebuilds the same state
    again = delta_graph(11).compile(checkpointer=PersistSaver(tmp_path / "s"))
    assert again.get_state(cfg("d")).values == out


def test_delta_history_reads_only_small_records(tmp_path: Path) -> None:
    store = CountingFileStore(tmp_path / "s")
    saver = PersistSaver(store=store)
    graph = delta_graph(30).compile(checkpointer=saver)
    graph.invoke({"events": [], "n": 0}, cfg("h"))
    store.reset()
    history = saver.get_delta_channel_history(config=cfg("h"), channels=["events"])
    # snapshot every 4 updates: the walk stops at the nearest snapshot, and the
    # stretch of ancestors is fetched in one batch, not one read per ancestor
    assert store.records_read("c") <= 6
    assert store.calls["read"] + store.calls["read_many"] <= 6
    seed = history["events"].get("seed")
    writes = [w[2] for w in history["events"]["writes"]]
    rebuilt = list(getattr(seed, "value", seed) or [])
    for batch in writes:
        rebuilt.extend(batch)
    assert rebuilt == [f"event-{i}" for i in range(30)]


def test_prune_keep_latest_keeps_delta_chain(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    graph = delta_graph(10).compile(checkpointer=saver)
    out = graph.invoke({"events": [], "n": 0}, cfg("p"))
    before = len(list(saver.list(cfg("p"))))
    saver.prune(["p"], strategy="keep_latest")
    after = len(list(saver.list(cfg("p"))))
    assert after < before
    fresh = delta_graph(10).compile(checkpointer=PersistSaver(tmp_path / "s"))
    assert fresh.get_state(cfg("p")).values == out
