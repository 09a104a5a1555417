"""Online backup: consistent while writers run, verified, incremental, restorable."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from langgraph_persist import Encryption, PersistSaver, keys
from langgraph_persist import backup as backup_module
from langgraph_persist.store.sqlite import SqliteStore
from tests.graphs import chat_graph, human


def cfg(thread_id: str, checkpoint_id: str | None = None) -> dict:
    c: dict = {"thread_id": thread_id}
    if checkpoint_id:
        c["checkpoint_id"] = checkpoint_id
    return {"configurable": c}


def _acknowledged(saver: PersistSaver) -> dict[str, dict]:
    return {
        t.config["configurable"]["thread_id"] + "/" + t.config["configurable"]["checkpoint_id"]: (
            t.checkpoint
        )
        for t in saver.list(None)
    }


@pytest.mark.parametrize("layout", ["sqlite", "files"])
def test_backup_while_writers_run(tmp_path: Path, layout: str) -> None:
    saver = PersistSaver(tmp_path / "s", layout=layout)  # type: ignore[arg-type]
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(6):
        graph.invoke(human(f"before {i} " + "x" * 300), cfg(f"t{i % 3}"))
    before = _acknowledged(saver)
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            turn = 0
            while not stop.is_set():
                graph.invoke(human(f"during {n}.{turn} " + "y" * 300), cfg(f"w{n}"))
                turn += 1
        except BaseException as exc:  # reported, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    try:
        report = saver.backup(tmp_path / "backup")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert report.verified and report.records > 0
    copy = PersistSaver(tmp_path / "backup")
    assert copy.verify().ok
    got = _acknowledged(copy)
    assert {k: got.get(k) for k in before} == before  # everything acknowledged before it began


def test_a_write_between_the_passes_leaves_a_consistent_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A put lands exactly between the record pass and the content pass."""
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("first " + "x" * 300), cfg("t"))
    monkeypatch.setattr(
        backup_module,
        "_between_passes",
        lambda: graph.invoke(human("sneaky " + "z" * 300), cfg("t")),
    )
    assert saver.backup(tmp_path / "backup").verified
    assert PersistSaver(tmp_path / "backup").verify().ok


def test_negative_control_content_before_records_is_inconsistent(tmp_path: Path) -> None:
    """The passes in the wrong order, with the same put between them, give a copy that
    fails to verify: the ordering, not luck, makes the test above pass."""
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("first " + "x" * 300), cfg("t"))
    source, target = saver.store, SqliteStore(tmp_path / "broken")
    blobs = [k for k, _s, _m in source.walk((keys.BLOBS,))]
    backup_module._copy(source, target, blobs, replace=False, progress=None)
    graph.invoke(human("between " + "q" * 300), cfg("t"))
    records = [k for k, _s, _m in source.walk(()) if k[0] != keys.BLOBS]
    backup_module._copy(source, target, records, replace=True, progress=None)
    target.close()
    report = PersistSaver(tmp_path / "broken").verify()
    assert not report.ok
    assert {d.reason for d in report.damaged} == {"referenced content is missing"}


def test_steps_right_after_the_heads_are_copied_leave_a_consistent_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Graph steps (puts and pending writes) land exactly between copying the heads and
    listing the other records: the copied heads lag the copied records, which verify
    accepts. A thread deleted at that point leaves no head behind in the copy."""
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("first " + "x" * 300), cfg("t"))
    graph.invoke(human("doomed " + "y" * 300), cfg("gone"))

    def meanwhile() -> None:
        graph.invoke(human("meanwhile " + "z" * 300), cfg("t"))
        saver.delete_thread("gone")

    monkeypatch.setattr(backup_module, "_after_heads", meanwhile)
    assert saver.backup(tmp_path / "backup").verified
    copy = PersistSaver(tmp_path / "backup")
    assert copy.verify().ok and copy.threads() == ["t"]


def test_negative_control_heads_copied_after_the_records_lead_them(tmp_path: Path) -> None:
    """Heads read after the records, with the same steps in between, lead the copied
    records and the copy fails to verify: the order, not luck, makes the test above pass."""
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    graph.invoke(human("first " + "x" * 300), cfg("t"))
    source, target = saver.store, SqliteStore(tmp_path / "broken")
    walked = [k for k, _s, _m in source.walk(())]
    others = [k for k in walked if not backup_module._is_head(k)]
    backup_module._copy(source, target, others, replace=True, progress=None)
    graph.invoke(human("between " + "q" * 300), cfg("t"))
    heads = [k for k, _s, _m in source.walk(()) if backup_module._is_head(k)]
    backup_module._copy(source, target, heads, replace=True, progress=None)
    target.close()
    report = PersistSaver(tmp_path / "broken").verify()
    assert not report.ok
    assert any("newest checkpoint" in d.reason for d in report.damaged)


def test_incremental_backup_copies_only_what_is_new(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    graph = chat_graph().compile(checkpointer=saver)
    for i in range(5):
        graph.invoke(human(f"turn {i} " + "x" * 300), cfg("a"))
    first = saver.backup(tmp_path / "backup")
    graph.invoke(human("one more " + "x" * 300), cfg("a"))
    second = saver.backup(tmp_path / "backup")
    assert 0 < second.blobs_copied < first.blobs_copied
    assert second.blobs_reused >= first.blobs_copied
    saver.delete_thread("a")
    third = saver.backup(tmp_path / "backup")
    assert third.records_dropped > 0
    assert PersistSaver(tmp_path / "backup").threads() == []


def test_encrypted_backup_stays_encrypted_and_restores(tmp_path: Path) -> None:
    key = Encryption.from_keys({"k1": bytes(range(32))})
    saver = PersistSaver(tmp_path / "s", encryption=key)
    chat_graph().compile(checkpointer=saver).invoke(human("the secret 4111-1111"), cfg("t"))
    saver.backup(tmp_path / "backup")
    saver.close()
    raw = b"".join(p.read_bytes() for p in (tmp_path / "backup").rglob("*") if p.is_file())
    assert b"4111-1111" not in raw
    restored = PersistSaver(tmp_path / "restored", encryption=key)
    report = restored.restore(tmp_path / "backup")
    assert report.verified
    state = chat_graph().compile(checkpointer=restored).get_state(cfg("t"))
    assert state.values["messages"][0].content == "the secret 4111-1111"


def test_restore_refuses_a_store_that_holds_threads(tmp_path: Path) -> None:
    saver = PersistSaver(tmp_path / "s")
    chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
    saver.backup(tmp_path / "backup")
    with pytest.raises(Exception, match="empty store"):
        saver.restore(tmp_path / "backup")
