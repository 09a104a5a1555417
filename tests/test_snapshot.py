"""Portable snapshots: exact round trips with real graphs, and every kind of damage refused."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver, CheckpointTuple
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.types import Command

from langgraph_persist import PersistSaver, SnapshotError, records
from langgraph_persist.migrate import NotFoundError, ThreadExistsError
from langgraph_persist.records import Kind
from langgraph_persist.snapshot import (
    PREFIX,
    SnapshotVersionError,
    get_metadata,
    restore,
    snapshot,
    verify_snapshot,
)
from tests.graphs import approval_graph, chat_graph, delta_graph, human, subgraph_graph


def cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


def without_thread(snapshot_state: Any) -> Any:
    """A StateSnapshot with the thread id blanked, to compare a thread restored under a new id."""

    def strip(config: Any) -> Any:
        if not config:
            return config
        return {**config, "configurable": {**config["configurable"], "thread_id": "*"}}

    return snapshot_state._replace(
        config=strip(snapshot_state.config), parent_config=strip(snapshot_state.parent_config)
    )


def content(state: Any) -> tuple[Any, ...]:
    return state.values, state.next, state.metadata


def history(graph: Any, thread_id: str) -> list[Any]:
    return list(graph.get_state_history(cfg(thread_id)))


@pytest.fixture
def chat_store(tmp_path: Path) -> PersistSaver:
    saver = PersistSaver(tmp_path / "source")
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("hello", "how are you", "bye"):
        graph.invoke(human(text), cfg("user-42"))
    return saver


# -- exact round trips ------------------------------------------------------------------------


def test_round_trip_history_equal_and_resumes(chat_store: PersistSaver, tmp_path: Path) -> None:
    info = snapshot(chat_store, "user-42", tmp_path / "t.lgps", description="d", agent_id="bot-1")
    assert (info.thread_id, info.checkpoint_count, info.description, info.agent_id) == (
        "user-42",
        9,
        "d",
        "bot-1",
    )
    target = PersistSaver(tmp_path / "target")
    restored = restore(tmp_path / "t.lgps", target)
    assert restored.digest == info.digest

    original = chat_graph().compile(checkpointer=chat_store)
    copy = chat_graph().compile(checkpointer=target)
    assert history(copy, "user-42") == history(original, "user-42")
    # the restored thread resumes exactly like the original
    assert copy.invoke(human("again"), cfg("user-42")) == original.invoke(
        human("again"), cfg("user-42")
    )
    # new checkpoints get fresh ids and times on each side; their content is the same
    assert [content(s) for s in history(copy, "user-42")] == [
        content(s) for s in history(original, "user-42")
    ]


def test_restore_under_another_id_in_the_same_store(
    chat_store: PersistSaver, tmp_path: Path
) -> None:
    snapshot(chat_store, "user-42", tmp_path / "t.lgps")
    restore(tmp_path / "t.lgps", chat_store, thread_id="user-42-copy")
    graph = chat_graph().compile(checkpointer=chat_store)
    assert [without_thread(s) for s in history(graph, "user-42-copy")] == [
        without_thread(s) for s in history(graph, "user-42")
    ]
    with pytest.raises(ThreadExistsError):
        restore(tmp_path / "t.lgps", chat_store)  # user-42 exists: never merged


def test_interrupted_thread_resumes_after_restore(tmp_path: Path) -> None:
    source = PersistSaver(tmp_path / "a")
    graph = approval_graph().compile(checkpointer=source)
    assert "__interrupt__" in graph.invoke({"request": "refund", "log": []}, cfg("hitl"))
    snapshot(source, "hitl", tmp_path / "hitl.lgps")

    target = PersistSaver(tmp_path / "b")
    restore(tmp_path / "hitl.lgps", target)
    other = approval_graph().compile(checkpointer=target)
    state = other.get_state(cfg("hitl"))
    assert state.next == ("review",)
    assert state.tasks[0].interrupts[0].value == {"question": "approve refund?"}
    assert history(other, "hitl") == history(graph, "hitl")
    final = other.invoke(Command(resume="yes"), cfg("hitl"))
    assert final["log"] == ["drafted refund", "reviewed: yes", "acted on yes"]
    assert final == graph.invoke(Command(resume="yes"), cfg("hitl"))


def test_subgraph_namespaces_round_trip(tmp_path: Path) -> None:
    source = PersistSaver(tmp_path / "a")
    graph = subgraph_graph().compile(checkpointer=source)
    graph.invoke({"items": []}, cfg("sub"))
    info = snapshot(source, "sub", tmp_path / "sub.lgps")
    assert info.namespace_count == 2
    target = PersistSaver(tmp_path / "b")
    restore(tmp_path / "sub.lgps", target)
    copy = subgraph_graph().compile(checkpointer=target)
    assert history(copy, "sub") == history(graph, "sub")
    tuples = {t.config["configurable"]["checkpoint_id"]: t for t in source.list(cfg("sub"))}
    for t in target.list(cfg("sub")):
        assert_same_tuple(t, tuples[t.config["configurable"]["checkpoint_id"]])


def assert_same_tuple(a: CheckpointTuple, b: CheckpointTuple) -> None:
    assert a.config == b.config
    assert a.parent_config == b.parent_config
    assert a.checkpoint == b.checkpoint
    assert a.metadata == b.metadata
    assert a.pending_writes == b.pending_writes


@pytest.mark.parametrize("latest", [False, True])
def test_delta_channel_thread(tmp_path: Path, latest: bool) -> None:
    source = PersistSaver(tmp_path / "a")
    graph = delta_graph(10).compile(checkpointer=source)
    out = graph.invoke({"events": [], "n": 0}, cfg("d"))
    info = snapshot(source, "d", tmp_path / "d.lgps", latest=latest)
    target = PersistSaver(tmp_path / "b")
    restore(tmp_path / "d.lgps", target)
    copy = delta_graph(10).compile(checkpointer=target)
    assert copy.get_state(cfg("d")).values == out
    if latest:
        # the newest checkpoint plus the ancestors its delta channel is rebuilt from
        assert 1 < info.checkpoint_count < len(history(graph, "d"))
    else:
        assert history(copy, "d") == history(graph, "d")


def test_latest_only_keeps_the_newest_checkpoint(chat_store: PersistSaver, tmp_path: Path) -> None:
    info = snapshot(chat_store, "user-42", tmp_path / "l.lgps", latest=True)
    assert info.latest and info.checkpoint_count == 1
    target = PersistSaver(tmp_path / "b")
    restore(tmp_path / "l.lgps", target)
    original = chat_graph().compile(checkpointer=chat_store).get_state(cfg("user-42"))
    copy = chat_graph().compile(checkpointer=target)
    state = copy.get_state(cfg("user-42"))
    # the same state; the kept checkpoint is a root: its parent is not in the file
    assert state._replace(parent_config=None) == original._replace(parent_config=None)
    assert state.parent_config is None and original.parent_config is not None
    assert copy.invoke(human("more"), cfg("user-42"))["turns"] == 4


@pytest.mark.parametrize("latest", [False, True])
def test_restore_a_backup_after_the_thread_was_deleted(
    chat_store: PersistSaver, tmp_path: Path, latest: bool
) -> None:
    """The backup use case: delete_thread leaves a tombstone against late writers;
    a restore is not one, and its copy names no checkpoint outside itself."""
    snapshot(chat_store, "user-42", tmp_path / "b.lgps", latest=latest)
    expected = chat_graph().compile(checkpointer=chat_store).get_state(cfg("user-42")).values
    chat_store.delete_thread("user-42")
    restore(tmp_path / "b.lgps", chat_store)
    graph = chat_graph().compile(checkpointer=chat_store)
    assert graph.get_state(cfg("user-42")).values == expected
    assert graph.invoke(human("back"), cfg("user-42"))["turns"] == 4


def test_pruned_thread_round_trip(chat_store: PersistSaver, tmp_path: Path) -> None:
    chat_store.prune(["user-42"], strategy="keep_latest")
    info = snapshot(chat_store, "user-42", tmp_path / "p.lgps")
    assert info.checkpoint_count == 1
    chat_store.delete_thread("user-42")
    restore(tmp_path / "p.lgps", chat_store)
    assert (
        chat_graph().compile(checkpointer=chat_store).invoke(human("x"), cfg("user-42"))["turns"]
        == 4
    )


def test_any_saver_as_source_and_target(tmp_path: Path) -> None:
    """InMemorySaver -> file -> SqliteSaver and PersistSaver: one history everywhere."""
    memory = InMemorySaver()
    graph = approval_graph().compile(checkpointer=memory)
    graph.invoke({"request": "deploy", "log": []}, cfg("x"))
    snapshot(memory, "x", tmp_path / "x.lgps")
    expected = history(graph, "x")
    with SqliteSaver.from_conn_string(str(tmp_path / "x.db")) as sqlite:
        targets: list[BaseCheckpointSaver[Any]] = [sqlite, PersistSaver(tmp_path / "p")]
        for target in targets:
            restore(tmp_path / "x.lgps", target)
            copy = approval_graph().compile(checkpointer=target)
            assert history(copy, "x") == expected, type(target).__name__
            assert copy.invoke(Command(resume="no"), cfg("x"))["decision"] == "no"


def test_same_content_same_digest(chat_store: PersistSaver, tmp_path: Path) -> None:
    a = snapshot(chat_store, "user-42", tmp_path / "a.lgps")
    b = snapshot(chat_store, "user-42", tmp_path / "b.lgps", description="another")
    assert a.digest == b.digest  # content digest: independent of header and creation time
    assert get_metadata(tmp_path / "b.lgps").description == "another"


def test_missing_thread(chat_store: PersistSaver, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        snapshot(chat_store, "nobody", tmp_path / "n.lgps")
    assert not (tmp_path / "n.lgps").exists()


def test_written_atomically(chat_store: PersistSaver, tmp_path: Path) -> None:
    out = tmp_path / "snaps"
    out.mkdir()
    (out / "t.lgps").write_bytes(b"old")
    snapshot(chat_store, "user-42", out / "t.lgps")
    assert os.listdir(out) == ["t.lgps"]  # replaced in place, no temporary left behind
    verify_snapshot(out / "t.lgps")


# -- damage -----------------------------------------------------------------------------------


@pytest.fixture
def snap(chat_store: PersistSaver, tmp_path: Path) -> bytes:
    snapshot(chat_store, "user-42", tmp_path / "good.lgps")
    return (tmp_path / "good.lgps").read_bytes()


def test_every_truncation_is_detected(snap: bytes, tmp_path: Path) -> None:
    bad = tmp_path / "bad.lgps"
    for length in sorted({0, 3, 7, 8, 20, 36, 60, len(snap) // 2, len(snap) - 1}):
        bad.write_bytes(snap[:length])
        with pytest.raises(SnapshotError):
            verify_snapshot(bad)
        with pytest.raises(SnapshotError):
            get_metadata(bad)  # even the header-only read checks the file's size


def test_every_flipped_byte_is_detected(snap: bytes, tmp_path: Path) -> None:
    bad = tmp_path / "bad.lgps"
    for pos in range(len(snap)):
        damaged = bytearray(snap)
        damaged[pos] ^= 0x10
        bad.write_bytes(bytes(damaged))
        with pytest.raises(SnapshotError):
            verify_snapshot(bad)


def test_damaged_file_restores_nothing(snap: bytes, tmp_path: Path) -> None:
    damaged = bytearray(snap)
    damaged[-10] ^= 0xFF
    (tmp_path / "bad.lgps").write_bytes(bytes(damaged))
    target = PersistSaver(tmp_path / "t")
    with pytest.raises(SnapshotError):
        restore(tmp_path / "bad.lgps", target)
    assert list(target.list(None)) == []


def test_trailing_bytes_and_wrong_magic(snap: bytes, tmp_path: Path) -> None:
    bad = tmp_path / "bad.lgps"
    bad.write_bytes(snap + b"\0")
    with pytest.raises(SnapshotError, match="trailing"):
        verify_snapshot(bad)
    bad.write_bytes(b"PK\x03\x04" + snap[4:])
    with pytest.raises(SnapshotError, match="magic"):
        verify_snapshot(bad)
    # a store record is not a snapshot either
    bad.write_bytes(records.encode(Kind.CHECKPOINT, {"x": 1}))
    with pytest.raises(SnapshotError):
        get_metadata(bad)


def test_newer_format_is_refused_with_upgrade_hint(snap: bytes, tmp_path: Path) -> None:
    start = PREFIX.size
    length = struct.unpack_from("<I", snap, start + 8)[0]
    header = records.decode(snap[start : start + records.HEADER_SIZE + length])
    header["format"] = 2
    newer = PREFIX.pack(b"LGPSNAP", 2) + records.encode(Kind.SNAPSHOT_ENTRY, header)
    newer += snap[start + records.HEADER_SIZE + length :]
    (tmp_path / "new.lgps").write_bytes(newer)
    with pytest.raises(SnapshotVersionError, match="upgrade"):
        get_metadata(tmp_path / "new.lgps")


def _with_header(snap: bytes, change: Any) -> bytes:
    """The same file with its header edited (and re-framed, so its digest is valid)."""
    start = PREFIX.size
    length = struct.unpack_from("<I", snap, start + 8)[0]
    header = records.decode(snap[start : start + records.HEADER_SIZE + length])
    change(header)
    edited = PREFIX.pack(b"LGPSNAP", 1) + records.encode(Kind.SNAPSHOT_ENTRY, header)
    return edited + snap[start + records.HEADER_SIZE + length :]


@pytest.mark.parametrize(
    "skipped",
    [
        "not a list",
        [["", "1f0"]],  # two fields, not three
        [["", "1f0", 42]],  # a reason that is not text
        [["", "1f0", "x" * 10_000]],  # a reason over the limit
        [["", "1f0", "why"]] * 1001,  # more entries than a header names
        [],
    ],
    ids=["not-a-list", "short-entry", "reason-type", "long-reason", "too-many", "empty"],
)
def test_a_forged_skipped_list_is_refused(snap: bytes, tmp_path: Path, skipped: Any) -> None:
    """The damaged-checkpoint list of a partial snapshot is untrusted input like any field."""

    def forge(header: dict[str, Any]) -> None:
        header["skipped"], header["skipped_count"] = skipped, 1

    bad = tmp_path / "bad.lgps"
    bad.write_bytes(_with_header(snap, forge))
    with pytest.raises(SnapshotError, match="invalid skipped"):
        get_metadata(bad)
    # control: the same edit with a well-formed list is read back as written
    bad.write_bytes(
        _with_header(snap, lambda h: h.update(skipped=[["", "1f0", "why"]], skipped_count=3))
    )
    info = get_metadata(bad)
    assert info.partial and info.skipped_count == 3
    bad.write_bytes(_with_header(snap, lambda h: h.update(skipped=[["", "1f0", "why"]])))
    assert get_metadata(bad).skipped_count == 1  # a list without a count still counts
    assert [(s.checkpoint_ns, s.checkpoint_id, s.reason) for s in info.skipped] == [
        ("", "1f0", "why")
    ]
