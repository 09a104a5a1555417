"""One damaged checkpoint does not hide a thread: history lists the rest, remedies apply."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from langgraph_persist import CorruptRecordError, PersistSaver
from langgraph_persist.cli import cli
from tests.damage import checkpoint_key, damage
from tests.graphs import chat_graph, human


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def run(store: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["--store", str(store), *args], input=stdin, prog_name="langgraph-persist"
    )
    return result.exit_code, result.output


@pytest.fixture(params=["sqlite", "files"])
def damaged(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[str], str]:
    """A 4-turn thread whose second-newest checkpoint is damaged."""
    store = tmp_path / "s"
    saver = PersistSaver(store, layout=request.param)
    graph = chat_graph().compile(checkpointer=saver)
    for turn in range(4):
        graph.invoke(human(f"turn {turn} " + "x" * 200), cfg("t"))
    graph.invoke(human("other"), cfg("bystander"))
    ids = [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(cfg("t"))]
    victim = ids[1]
    damage(saver, checkpoint_key("t", victim), "flip")
    saver.close()
    return store, ids, victim


def test_history_lists_what_is_good_and_marks_what_is_not(
    damaged: tuple[Path, list[str], str],
) -> None:
    store, ids, victim = damaged
    with pytest.raises(CorruptRecordError):  # a reader must not get a wrong history
        list(PersistSaver(store).list(cfg("t")))
    entries = list(PersistSaver(store).history("t"))
    assert [e.config["configurable"]["checkpoint_id"] for e in entries] == ids
    assert [e.config["configurable"]["checkpoint_id"] for e in entries if e.error] == [victim]
    code, out = run(store, "history", "t", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [r["checkpoint_id"] for r in rows] == ids
    assert [r["checkpoint_id"] for r in rows if "damaged" in r] == [victim]
    code, out = run(store, "history", "t")
    assert code == 0 and "DAMAGED" in out and "drop t CHECKPOINT" in out


def test_drop_the_damaged_checkpoint_then_the_store_verifies(
    damaged: tuple[Path, list[str], str],
) -> None:
    store, ids, victim = damaged
    code, out = run(store, "verify")
    assert code == 1 and victim in out
    code, out = run(store, "drop", "t", victim[:20], stdin="n\n")
    assert code == 1  # declined: nothing dropped
    assert len(list(PersistSaver(store).history("t"))) == len(ids)
    code, out = run(store, "drop", "t", victim, "--yes", "--json")
    assert code == 0 and json.loads(out) == {"dropped": victim, "children_unreadable": []}
    assert run(store, "verify")[0] == 0
    saver = PersistSaver(store)
    assert [t.config["configurable"]["checkpoint_id"] for t in saver.list(cfg("t"))] == [
        i for i in ids if i != victim
    ]
    state = chat_graph().compile(checkpointer=saver).get_state(cfg("t"))
    assert state.values["turns"] == 4  # the newest checkpoint, child of the dropped one


def test_delete_a_thread_from_the_cli(damaged: tuple[Path, list[str], str]) -> None:
    store, _ids, _victim = damaged
    code, out = run(store, "delete", "t", "--yes")
    assert code == 0 and "deleted thread 't'" in out
    saver = PersistSaver(store)
    assert saver.threads() == ["bystander"]
    assert saver.verify().ok
    assert run(store, "delete", "t", "--yes")[0] == 3  # not found
