"""Rolling a thread back (deleting its newest checkpoint or pending writes) is detected.

Nothing references a thread's newest checkpoint, so its deletion used to
pass ``verify``. Each namespace now has a head record, written in the same
transaction as every put and put_writes (sealed in encrypted stores).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langgraph.types import Command

from langgraph_persist import Encryption, PersistSaver, keys
from langgraph_persist import verify as verify_module
from tests.damage import checkpoint_key
from tests.graphs import approval_graph, chat_graph, delta_graph, human, subgraph_graph

KEY = Encryption.from_keys({"k1": bytes(range(32))})


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


@pytest.fixture(params=["sqlite", "files", "encrypted"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> PersistSaver:
    if request.param == "encrypted":
        return PersistSaver(tmp_path / "s", encryption=KEY)
    return PersistSaver(tmp_path / "s", layout=request.param)


def _chat(saver: PersistSaver, thread: str = "t", turns: int = 3) -> list[str]:
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(turns):
        graph.invoke(human(f"turn {turn}"), cfg(thread))
    return [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(cfg(thread))]


def test_deleting_the_newest_checkpoint_is_detected(saver: PersistSaver) -> None:
    ids = _chat(saver)
    assert saver.verify().ok
    saver.store.delete_many([checkpoint_key("t", ids[0], saver=saver)])  # rolled back
    report = saver.verify()
    assert [d.reason for d in report.damaged] == [
        f"the newest checkpoint {ids[0]} is missing: the thread was rolled back"
    ]
    assert report.damaged[0].thread_id == "t"


def test_removing_pending_writes_is_detected(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s", encryption=KEY)
    graph = approval_graph().compile(checkpointer=saver)
    graph.invoke({"request": "refund", "log": []}, cfg("hitl"))  # waits on an interrupt
    latest = graph.get_state(cfg("hitl")).config["configurable"]["checkpoint_id"]
    a = saver.engine.address("hitl")
    wdir = keys.writes_dir(a.t, a.n, latest)
    names = saver.store.list(wdir)
    assert names  # the interrupt is a pending write
    assert saver.verify().ok
    saver.store.delete_many([(*wdir, names[-1])])
    reasons = [d.reason for d in saver.verify().damaged]
    assert len(reasons) == 1 and reasons[0].startswith(f"pending writes of checkpoint {latest}")


def test_deliberate_deletions_keep_the_store_verifying(saver: PersistSaver) -> None:
    """prune, drop_checkpoint, delete_for_runs, copy_thread, forks and subgraphs update
    the head: no false alarm."""
    ids = _chat(saver, "a", 4)
    saver.copy_thread("a", "copy")
    saver.drop_checkpoint("a", ids[0])  # the newest: the head moves back to ids[1]
    assert saver.verify().ok
    saver.prune(["copy"], strategy="keep_latest")
    graph = chat_graph().compile(checkpointer=saver)
    fork = graph.get_state_history(cfg("a"))
    old = list(fork)[-1].config
    graph.invoke(human("from the past"), old)  # a fork: a newer branch
    subgraph_graph().compile(checkpointer=saver).invoke({"items": []}, cfg("sub"))
    delta_graph(4).compile(checkpointer=saver).invoke({"events": [], "n": 0}, cfg("delta"))
    hitl = approval_graph().compile(checkpointer=saver)
    hitl.invoke({"request": "refund", "log": []}, cfg("hitl"))
    hitl.invoke(Command(resume="approved"), cfg("hitl"))
    run = {"configurable": {"thread_id": "run", "run_id": "r-1"}}
    chat_graph().compile(checkpointer=saver).invoke(human("x"), run)
    saver.delete_for_runs(["r-1"])
    report = saver.verify()
    assert report.ok, report.damaged


def test_negative_control_without_the_head_check_a_rollback_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the head check the same rollback goes unnoticed: the tests above can fail."""
    monkeypatch.setattr(verify_module._Verifier, "_check_heads", lambda self, keys: None)
    saver = PersistSaver(tmp_path / "s")
    ids = _chat(saver)
    saver.store.delete_many([checkpoint_key("t", ids[0], saver=saver)])
    assert saver.verify().ok
