"""PersistSaver's read and admin API (admin.py), on real LangGraph graphs.

Every answer is checked against what LangGraph itself reads back
(``get_state``, ``get_state_history``, ``list``), so a wrong count, order,
chain or size fails. The negative controls at the end run the same checks on
deliberately wrong answers and must fail.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from langgraph.types import Command

from langgraph_persist import (
    ConfigurationError,
    Encryption,
    NotFoundError,
    PersistSaver,
    RecordError,
    StoreStats,
    ThreadExistsError,
    ThreadInfo,
)
from langgraph_persist import admin as admin_module
from langgraph_persist.migrate import read_checkpoints, write_thread
from langgraph_persist.store.sqlite import DATABASE
from tests.damage import checkpoint_key, damage
from tests.graphs import approval_graph, chat_graph, delta_graph, human, loop_graph, subgraph_graph


def cfg(thread_id: str, **extra: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **extra}}


@pytest.fixture(params=["sqlite", "files"])
def saver(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PersistSaver]:
    with PersistSaver(tmp_path / "s", layout=request.param, durability="none") as s:
        yield s


def ids_by_ns(saver: PersistSaver, thread_id: str) -> dict[str, list[str]]:
    """Checkpoint ids per namespace, newest first, as LangGraph's ``list`` reads them."""
    out: dict[str, list[str]] = {}
    for t in saver.list(cfg(thread_id)):
        c = t.config["configurable"]
        out.setdefault(c["checkpoint_ns"], []).append(c["checkpoint_id"])
    return out


# -- the checks (also run on wrong answers by the negative controls) ----------------------------


def check_thread_info(saver: PersistSaver, thread_id: str, info: ThreadInfo) -> None:
    """``info`` says what LangGraph reads back for the thread."""
    by_ns = ids_by_ns(saver, thread_id)
    assert info.thread_id == thread_id
    assert info.checkpoints == sum(len(v) for v in by_ns.values())
    assert info.namespaces == tuple(sorted(by_ns))
    latest = saver.get_tuple(cfg(thread_id, checkpoint_ns=""))
    assert latest is not None
    assert info.latest_checkpoint_id == latest.config["configurable"]["checkpoint_id"]
    assert info.latest_time == datetime.fromisoformat(latest.checkpoint["ts"])
    assert info.latest_step == latest.metadata["step"]
    assert info.latest_metadata == latest.metadata
    assert info.interrupted == any(w[1] == "__interrupt__" for w in latest.pending_writes or ())
    assert info.stored_bytes >= sum(saver.record_sizes(thread_id).values()) > 0


def check_chain(saver: PersistSaver, thread_id: str, checkpoint_id: str, got: list[str]) -> None:
    """``got`` follows LangGraph's parent links from ``checkpoint_id`` to the root."""
    expected = []
    config: Any = cfg(thread_id, checkpoint_ns="", checkpoint_id=checkpoint_id)
    while config is not None:
        t = saver.get_tuple(config)
        assert t is not None
        expected.append(t.config["configurable"]["checkpoint_id"])
        config = t.parent_config
    assert got == expected


def check_fork(saver: PersistSaver, source: str, checkpoint_id: str, fork: str) -> None:
    """The fork reads exactly as the source did at ``checkpoint_id``, and nothing newer."""
    at = saver.get_tuple(cfg(source, checkpoint_ns="", checkpoint_id=checkpoint_id))
    head = saver.get_tuple(cfg(fork, checkpoint_ns=""))
    assert at is not None and head is not None
    assert head.config["configurable"]["checkpoint_id"] == checkpoint_id
    assert head.checkpoint["channel_values"] == at.checkpoint["channel_values"]
    assert head.pending_writes == at.pending_writes
    forked = [t.config["configurable"]["checkpoint_id"] for t in saver.list(cfg(fork))]
    assert forked == saver.chain(source, checkpoint_id)


# -- thread_info / thread_infos ----------------------------------------------------------------


def test_thread_info_matches_what_langgraph_reads(saver: PersistSaver) -> None:
    graph = chat_graph().compile(checkpointer=saver)
    for text in ("hi", "how are you", "bye"):
        graph.invoke(human(text), cfg("chat"))
    info = saver.thread_info("chat")
    check_thread_info(saver, "chat", info)
    assert info.checkpoints == len(list(graph.get_state_history(cfg("chat"))))
    assert info.interrupted is False
    with pytest.raises(AttributeError):
        info.checkpoints = 0  # type: ignore[misc]  # frozen


def test_thread_info_of_an_interrupted_thread_then_resumed(saver: PersistSaver) -> None:
    graph = approval_graph().compile(checkpointer=saver)
    graph.invoke({"request": "refund", "log": []}, cfg("ask"))
    waiting = saver.thread_info("ask")
    assert waiting.interrupted is True
    check_thread_info(saver, "ask", waiting)
    graph.invoke(Command(resume="yes"), cfg("ask"))
    done = saver.thread_info("ask")
    assert done.interrupted is False
    check_thread_info(saver, "ask", done)
    assert done.checkpoints > waiting.checkpoints


def test_thread_info_with_subgraph_namespaces(saver: PersistSaver) -> None:
    graph = subgraph_graph().compile(checkpointer=saver)
    graph.invoke({"items": []}, cfg("parent"))
    info = saver.thread_info("parent")
    check_thread_info(saver, "parent", info)
    assert len(info.namespaces) == 2 and info.namespaces[0] == ""
    assert saver.namespaces("parent") == list(info.namespaces)


def test_unknown_thread_is_not_found(saver: PersistSaver) -> None:
    with pytest.raises(NotFoundError):
        saver.thread_info("nobody")
    assert saver.namespaces("nobody") == []
    assert list(saver.checkpoint_ids("nobody")) == []
    assert saver.record_sizes("nobody") == {}


@pytest.mark.parametrize("how", ["flip", "truncate"])
def test_damaged_latest_checkpoint_does_not_raise(
    saver: PersistSaver, tmp_path: Path, how: str
) -> None:
    graph = loop_graph(3).compile(checkpointer=saver)
    graph.invoke({"n": 0, "trail": []}, cfg("t"))
    latest = next(saver.checkpoint_ids("t"))
    good = saver.thread_info("t")
    damage(saver, checkpoint_key("t", latest, saver=saver), how)
    with PersistSaver(tmp_path / "s", read_only=True) as reader:  # no cached good bytes
        with pytest.raises(RecordError):
            reader.get_tuple(cfg("t"))  # the damage is real: LangGraph's read raises
        info = reader.thread_info("t")
        assert info.latest_checkpoint_id == latest
        assert info.checkpoints == good.checkpoints
        assert info.stored_bytes > 0
        assert info.latest_step is None and info.latest_metadata == {}
        assert info.latest_time == admin_module.checkpoint_time(latest)  # from the uuid6 id
        assert [i.thread_id for i in reader.thread_infos()] == ["t"]  # a listing goes on


def test_thread_infos_newest_first_and_prefix(saver: PersistSaver) -> None:
    graph = chat_graph().compile(checkpointer=saver)
    for thread_id in ("user-1", "user-2", "bot-1", "user-3"):
        graph.invoke(human(thread_id), cfg(thread_id))
    graph.invoke(human("again"), cfg("user-1"))  # now the most recent
    infos = saver.thread_infos()
    assert [i.thread_id for i in infos] == ["user-1", "user-3", "bot-1", "user-2"]
    times = [i.latest_time for i in infos]
    assert times == sorted(times, reverse=True)  # type: ignore[type-var]
    assert [i.thread_id for i in saver.thread_infos(prefix="user-")] == [
        "user-1",
        "user-3",
        "user-2",
    ]
    assert saver.thread_infos(prefix="zzz") == []
    for info in infos:
        check_thread_info(saver, info.thread_id, info)


# -- namespaces, ids, sizes ---------------------------------------------------------------------


def test_checkpoint_ids_newest_first_per_namespace(saver: PersistSaver) -> None:
    graph = subgraph_graph().compile(checkpointer=saver)
    graph.invoke({"items": []}, cfg("p"))
    by_ns = ids_by_ns(saver, "p")
    for ns in saver.namespaces("p"):
        assert list(saver.checkpoint_ids("p", checkpoint_ns=ns)) == by_ns[ns]


def test_record_sizes_cover_every_checkpoint(saver: PersistSaver) -> None:
    graph = subgraph_graph().compile(checkpointer=saver)
    graph.invoke({"items": []}, cfg("p"))
    sizes = saver.record_sizes("p")
    expected = {(ns, cid) for ns, ids in ids_by_ns(saver, "p").items() for cid in ids}
    assert set(sizes) == expected
    assert all(size > 0 for size in sizes.values())
    # a checkpoint with pending writes weighs its record plus theirs
    graph2 = approval_graph().compile(checkpointer=saver)
    graph2.invoke({"request": "x", "log": []}, cfg("a"))
    latest = next(saver.checkpoint_ids("a"))
    before = saver.record_sizes("a")[("", latest)]
    saver.put_writes(cfg("a", checkpoint_ns="", checkpoint_id=latest), [("log", ["z"])], "t1")
    assert saver.record_sizes("a")[("", latest)] > before


# -- chain and fork -----------------------------------------------------------------------------


def test_chain_follows_parents_not_siblings(saver: PersistSaver) -> None:
    graph = loop_graph(4).compile(checkpointer=saver)
    graph.invoke({"n": 0, "trail": []}, cfg("t"))
    history = list(graph.get_state_history(cfg("t")))
    latest = history[0].config["configurable"]["checkpoint_id"]
    check_chain(saver, "t", latest, saver.chain("t", latest))
    assert saver.chain("t", latest) == [h.config["configurable"]["checkpoint_id"] for h in history]
    # time travel: a new branch from the middle; its chain skips the old tip's branch
    middle = history[2].config
    branched = graph.update_state(middle, {"n": 100})
    tip = branched["configurable"]["checkpoint_id"]
    got = saver.chain("t", tip)
    check_chain(saver, "t", tip, got)
    assert latest not in got and got[1] == middle["configurable"]["checkpoint_id"]
    with pytest.raises(NotFoundError):
        saver.chain("t", "1f0000000-0000-6000-8000-000000000000")


def test_fork_copies_up_to_a_checkpoint(saver: PersistSaver) -> None:
    graph = loop_graph(5).compile(checkpointer=saver)
    graph.invoke({"n": 0, "trail": []}, cfg("src"))
    history = list(graph.get_state_history(cfg("src")))
    at = history[3].config["configurable"]["checkpoint_id"]
    saver.fork("src", at, "copy")
    check_fork(saver, "src", at, "copy")
    pinned = cfg("copy", checkpoint_ns="", checkpoint_id=at)
    assert graph.get_state(pinned).values == graph.get_state(history[3].config).values
    # the fork runs on from there, and the source is untouched
    graph.invoke(None, cfg("copy"))
    assert graph.get_state(cfg("copy")).values == graph.get_state(cfg("src")).values
    assert [h.config for h in graph.get_state_history(cfg("src"))] == [h.config for h in history]


def test_fork_of_delta_channels_reads_the_same(saver: PersistSaver) -> None:
    graph = delta_graph(9).compile(checkpointer=saver)
    graph.invoke({"events": [], "n": 0}, cfg("d"))
    history = list(graph.get_state_history(cfg("d")))
    for entry in history[1:4]:  # some need ancestors' writes (snapshot_frequency=4)
        at = entry.config["configurable"]["checkpoint_id"]
        saver.fork("d", at, f"d-{at}")
        check_fork(saver, "d", at, f"d-{at}")
        pinned = cfg(f"d-{at}", checkpoint_ns="", checkpoint_id=at)
        assert graph.get_state(pinned).values == graph.get_state(entry.config).values


def test_fork_of_an_interrupted_thread_resumes(saver: PersistSaver) -> None:
    graph = approval_graph().compile(checkpointer=saver)
    graph.invoke({"request": "refund", "log": []}, cfg("ask"))
    at = next(saver.checkpoint_ids("ask"))
    saver.fork("ask", at, "ask-2")
    assert saver.thread_info("ask-2").interrupted
    out = graph.invoke(Command(resume="no"), cfg("ask-2"))
    assert out["decision"] == "no"
    assert saver.thread_info("ask").interrupted  # the source still waits


def test_fork_refuses_an_existing_target_and_an_unknown_checkpoint(saver: PersistSaver) -> None:
    graph = loop_graph(2).compile(checkpointer=saver)
    graph.invoke({"n": 0, "trail": []}, cfg("a"))
    graph.invoke({"n": 0, "trail": []}, cfg("b"))
    at = next(saver.checkpoint_ids("a"))
    before = ids_by_ns(saver, "b")
    with pytest.raises(ThreadExistsError):
        saver.fork("a", at, "b")
    assert ids_by_ns(saver, "b") == before
    with pytest.raises(NotFoundError):
        saver.fork("a", "1f0000000-0000-6000-8000-000000000000", "c")
    assert "c" not in saver.threads()


# -- stats ------------------------------------------------------------------------------------


def test_stats_bytes_on_disk(tmp_path: Path) -> None:
    with PersistSaver(tmp_path / "s", durability="none") as saver:
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        stats = saver.stats()
        assert isinstance(stats, StoreStats)
        on_disk = sum(
            os.stat(tmp_path / "s" / name).st_size
            for name in (DATABASE, DATABASE + "-wal")
            if (tmp_path / "s" / name).exists()
        )
        assert stats.bytes_on_disk == on_disk
        assert stats.bytes_on_disk >= stats.bytes_total > 0


def test_stats_bytes_on_disk_counts_linked_files_once(tmp_path: Path) -> None:
    with PersistSaver(tmp_path / "s", layout="files", durability="none") as saver:
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        before = saver.stats()
        assert before.bytes_on_disk is not None and before.bytes_on_disk >= before.bytes_total
        saver.copy_thread("t", "t2")  # links every record: the disk holds them once
        after = saver.stats()
        assert after.bytes_on_disk is not None
        records_grew = after.bytes_total - before.bytes_total
        disk_grew = after.bytes_on_disk - before.bytes_on_disk
        assert records_grew >= saver.thread_info("t").stored_bytes // 2 > 0
        assert disk_grew < records_grew


def test_dedup_ratio_doubles_when_a_copy_shares_every_blob(tmp_path: Path) -> None:
    """copy_thread links every record to the same content: twice the references to the
    same stored bytes, so exactly twice the ratio. With content kept per thread, the
    copy stores its own content (the control): the ratio does not double."""
    for share in ("store", "thread"):
        with PersistSaver(tmp_path / share, durability="none", share_content=share) as saver:
            graph = chat_graph().compile(checkpointer=saver)
            for turn in range(4):
                graph.invoke(human(f"turn {turn} " + "x" * 300), cfg("t"))
            assert saver.stats().dedup_ratio is None  # not asked for: no extra pass
            before = saver.stats(dedup=True).dedup_ratio
            assert before is not None and before > 1  # a growing chat shares its history
            saver.copy_thread("t", "t2")
            after = saver.stats(dedup=True).dedup_ratio
            assert after is not None
            if share == "store":
                assert after == pytest.approx(2 * before)
            else:
                assert after < 1.5 * before


# -- negative controls: the checks above must fail on wrong answers -----------------------------


def _wrong_infos(info: ThreadInfo) -> list[ThreadInfo]:
    return [
        dataclasses.replace(info, checkpoints=info.checkpoints - 1),
        dataclasses.replace(info, namespaces=()),
        dataclasses.replace(info, latest_checkpoint_id="other"),
        dataclasses.replace(info, latest_step=(info.latest_step or 0) + 1),
        dataclasses.replace(info, interrupted=not info.interrupted),
        dataclasses.replace(info, stored_bytes=0),
    ]


def _fails(check: Callable[[], None]) -> bool:
    try:
        check()
    except AssertionError:
        return True
    return False


def test_negative_controls_fail_the_checks(saver: PersistSaver) -> None:
    graph = approval_graph().compile(checkpointer=saver)
    graph.invoke({"request": "r", "log": []}, cfg("ask"))
    info = saver.thread_info("ask")
    for wrong in _wrong_infos(info):
        assert _fails(lambda w=wrong: check_thread_info(saver, "ask", w)), wrong  # type: ignore[misc]
    latest = next(saver.checkpoint_ids("ask"))
    right = saver.chain("ask", latest)
    for wrong_chain in (right[:-1], right[::-1], [*right, right[0]]):
        assert _fails(lambda c=wrong_chain: check_chain(saver, "ask", latest, c))  # type: ignore[misc]
    # a "fork" that copies the whole thread, then forgets the pending writes
    middle = right[1]
    saver.copy_thread("ask", "whole")
    assert _fails(lambda: check_fork(saver, "ask", middle, "whole"))
    # a fork that loses the pending writes (the interrupt)
    picked = admin_module.fork_selection(saver.engine, "ask", latest)
    items = [dataclasses.replace(i, writes=()) for i in read_checkpoints(saver, "ask", picked)]
    write_thread(saver, "nowrites", items)
    assert _fails(lambda: check_fork(saver, "ask", latest, "nowrites"))
    check_fork_right = saver.fork("ask", latest, "right")
    assert check_fork_right is None
    check_fork(saver, "ask", latest, "right")


# -- capabilities are declared, not sniffed ----------------------------------------------------


def test_a_local_store_declares_no_pinning(saver: PersistSaver, tmp_path: Path) -> None:
    assert saver.store.pins_threads is False
    with pytest.raises(ConfigurationError, match="needs a Redis hot tier"):
        saver.pin_thread("t")
    with pytest.raises(ConfigurationError, match="needs a Redis hot tier"):
        saver.is_pinned("t")
    assert saver.stats().tiers == {"cold": saver.store.describe()}
    assert (
        saver.store.local_root() == str(saver.store.source_of_truth().describe()).split(":", 1)[1]
    )


def test_a_redis_tier_declares_pinning(tmp_path: Path, redis_url: str) -> None:
    with PersistSaver(tmp_path / "s", redis=redis_url) as saver:
        assert saver.store.pins_threads is True
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        saver.pin_thread("t")
        assert saver.is_pinned("t")
        saver.unpin_thread("t")
        assert not saver.is_pinned("t")
        tiers = saver.stats().tiers
        assert tiers["cold"] == saver.store.source_of_truth().describe() and "hot" in tiers
        assert saver.stats().bytes_on_disk == saver.store.source_of_truth().disk_bytes() > 0


def test_encrypted_tells_without_the_key(tmp_path: Path) -> None:
    key = Encryption.from_keys({"k1": Encryption.generate_key()})
    with PersistSaver(tmp_path / "e", encryption=key) as saver:
        chat_graph().compile(checkpointer=saver).invoke(human("hi"), cfg("t"))
        assert saver.encrypted
    with PersistSaver(tmp_path / "e", read_only=True) as keyless:
        assert keyless.encrypted  # what the CLI checks before browsing
    with PersistSaver(tmp_path / "plain") as plain:
        assert not plain.encrypted


@pytest.mark.parametrize("share", ["thread", "store"])
def test_fork_under_each_share_mode_and_encryption(tmp_path: Path, share: str) -> None:
    key = Encryption.from_keys({"k1": Encryption.generate_key()})
    with PersistSaver(tmp_path / "s", encryption=key, share_content=share) as saver:  # type: ignore[arg-type]
        graph = delta_graph(6).compile(checkpointer=saver)
        graph.invoke({"events": [], "n": 0}, cfg("d"))
        at = saver.chain("d", next(saver.checkpoint_ids("d")))[2]
        saver.fork("d", at, "d2")
        check_fork(saver, "d", at, "d2")
        info = saver.thread_info("d2")
        assert info.latest_checkpoint_id == at and info.checkpoints == len(saver.chain("d", at))
