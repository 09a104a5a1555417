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


@pytest.fixture(params=["sqlite", "files"])
def latest_damaged(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, list[str]]:
    """A 3-turn thread whose latest checkpoint has one flipped byte, and an intact twin."""
    store = tmp_path / "s"
    saver = PersistSaver(store, layout=request.param)
    graph = chat_graph().compile(checkpointer=saver)
    for thread in ("t", "intact"):
        for turn in range(3):
            graph.invoke(human(f"turn {turn}"), cfg(thread))
    ids = [s.config["configurable"]["checkpoint_id"] for s in graph.get_state_history(cfg("t"))]
    damage(saver, checkpoint_key("t", ids[0]), "flip")
    saver.close()
    return store, ids


def test_export_of_a_damaged_thread_keeps_what_is_good_and_names_what_is_not(
    latest_damaged: tuple[Path, list[str]], tmp_path: Path
) -> None:
    from langgraph_persist.snapshot import snapshot

    store, ids = latest_damaged
    victim = ids[0]
    out = tmp_path / "t.lgps"
    with pytest.raises(CorruptRecordError):  # the library fails unless asked to skip
        snapshot(PersistSaver(store), "t", tmp_path / "strict.lgps")
    result = CliRunner().invoke(cli, ["--store", str(store), "export", "t", "-o", str(out)])
    assert result.exit_code == 9, (result.stdout, result.stderr)  # "partial", documented
    warnings = [line for line in result.stderr.splitlines() if victim in line]
    assert len(warnings) == 1 and warnings[0].startswith("warning: checkpoint")
    assert "damaged and not in the snapshot" in warnings[0] and "digest" in warnings[0]
    assert result.stderr.strip().splitlines()[-1].startswith(f"warning: {out} is partial")
    # inspect names the skipped checkpoint and the reason; the file itself verifies (exit 0)
    code, text = run(store, "inspect", str(out), "--json")
    info = json.loads(text)
    assert code == 0 and info["verified"] and info["partial"]
    assert [s["checkpoint_id"] for s in info["skipped"]] == [victim]
    assert info["skipped_count"] == 1 and info["checkpoint_count"] == len(ids) - 1
    code, text = run(store, "inspect", str(out))
    assert code == 0 and f"skipped      {victim}: corrupt record" in text
    # import restores every good checkpoint and repeats the warning
    result = CliRunner().invoke(
        cli, ["--store", str(tmp_path / "other"), "import", str(out), "--as", "t2"]
    )
    assert result.exit_code == 0 and victim in result.stderr
    saver = PersistSaver(tmp_path / "other")
    restored = [t.config["configurable"]["checkpoint_id"] for t in saver.list(cfg("t2"))]
    assert restored == ids[1:]
    state = chat_graph().compile(checkpointer=saver).get_state(cfg("t2"))
    assert state.values["turns"] == 3  # the newest good checkpoint: turn 3 done, input pending
    # --latest keeps the newest checkpoint that reads
    result = CliRunner().invoke(
        cli, ["--store", str(store), "export", "t", "--latest", "-o", str(tmp_path / "l.lgps")]
    )
    assert result.exit_code == 9
    code, text = run(store, "inspect", str(tmp_path / "l.lgps"), "--json")
    assert json.loads(text)["checkpoint_count"] == 1
    restored_latest = PersistSaver(tmp_path / "latest")
    assert run(tmp_path / "latest", "import", str(tmp_path / "l.lgps"))[0] == 0
    assert [t.config["configurable"]["checkpoint_id"] for t in restored_latest.list(cfg("t"))] == [
        ids[1]
    ]


def test_export_of_an_intact_thread_is_not_partial(
    latest_damaged: tuple[Path, list[str]], tmp_path: Path
) -> None:
    """Negative control: the same store, the thread without damage exports whole, exit 0."""
    store, _ids = latest_damaged
    out = tmp_path / "intact.lgps"
    result = CliRunner().invoke(cli, ["--store", str(store), "export", "intact", "-o", str(out)])
    assert result.exit_code == 0 and result.stderr == ""
    code, text = run(store, "inspect", str(out), "--json")
    info = json.loads(text)
    assert (
        code == 0
        and info["partial"] is False
        and info["skipped"] == []
        and info["skipped_count"] == 0
    )


def test_show_of_the_damaged_latest_points_to_what_still_reads(
    latest_damaged: tuple[Path, list[str]],
) -> None:
    store, ids = latest_damaged
    result = CliRunner().invoke(cli, ["--store", str(store), "show", "t"])
    assert result.exit_code == 5 and len(result.stderr.strip().splitlines()) == 1
    assert "history t` lists the checkpoints that still read" in result.stderr
    assert f"drop t {ids[0]}` removes this one" in result.stderr
    older = CliRunner().invoke(cli, ["--store", str(store), "show", "t", ids[1]])
    assert older.exit_code == 0 and "turns" in older.stdout  # the rest of the thread reads
