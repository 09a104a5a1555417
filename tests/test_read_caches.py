"""Reads of a long conversation: what the joined-segment cache may skip, and what it may not.

``ValueCodec`` keeps each closed segment of a list as one msgpack body once
its elements were fetched and verified (values.py, ``decode_many``). These
tests pin down what that buys (a repeated latest ``get_tuple`` reads no
content at all) and what it must never change: results stay equal to a cold
read, decoded objects are fresh at every read, and a deleted checkpoint is
never returned.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.base import empty_checkpoint

from langgraph_persist import CorruptRecordError, PersistSaver
from tests.counting import CountingFileStore
from tests.damage import checkpoint_key, damage

STEPS = 60


def cfg(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


def _conversation(saver: PersistSaver, thread_id: str, steps: int = STEPS) -> None:
    """A growing message list, one message per checkpoint (long enough to be segmented)."""
    config = cfg(thread_id)
    messages: list = []
    version = None
    for step in range(steps):
        cls = HumanMessage if step % 2 == 0 else AIMessage
        messages = [*messages, cls(content=f"message {step} " + "x" * 300, id=f"m{step}")]
        version = saver.get_next_version(version, None)
        ckpt = empty_checkpoint()
        ckpt["channel_values"] = {"messages": messages, "step": step}
        ckpt["channel_versions"] = {"messages": version, "step": version}
        config = saver.put(config, ckpt, {"step": step}, {"messages": version, "step": version})
        if step % 7 == 0:
            saver.put_writes(config, [("messages", [messages[-1]])], f"task-{step}")


@pytest.fixture
def counted(tmp_path: Path) -> tuple[PersistSaver, CountingFileStore]:
    store = CountingFileStore(tmp_path / "s", durability="none")
    saver = PersistSaver(store=store)
    _conversation(saver, "chat")
    return saver, store


def test_a_repeated_latest_read_fetches_only_the_open_tail(
    counted: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once a list's segments were read, reading it again asks for no segment and
    no element of them, not even from the blob cache: only the open tail's
    elements (a handful, however long the list) are fetched."""
    saver, store = counted
    reader = saver.engine.reader
    first = saver.get_tuple(cfg("chat"))
    ref = reader.checkpoint_record(reader.address_of(cfg("chat")), first.checkpoint["id"])
    segments, tail = ref["refs"]["messages"][1][1:]
    assert len(segments) >= 2  # the conversation is long enough to be segmented
    asked: list[bytes] = []
    real = reader.fetch_blobs

    def counting(digests, hash_key=None):  # type: ignore[no-untyped-def]
        digests = list(digests)
        asked.extend(digests)
        return real(digests, hash_key)

    monkeypatch.setattr(reader, "fetch_blobs", counting)
    store.reset()
    again = saver.get_tuple(cfg("chat"))
    assert again == first
    assert not set(asked) & set(segments)
    assert len(asked) <= len(tail) + 1  # the tail, and the pending write's element
    assert store.records_read("c") == 1  # the record itself is still read: deletions show


def test_cached_reads_equal_a_cold_reader(counted: tuple, tmp_path: Path) -> None:
    saver, store = counted
    warm = [list(saver.list(cfg("chat"), limit=10)) for _ in range(2)][-1]
    cold = list(
        PersistSaver(store=CountingFileStore(store.root, durability="none")).list(
            cfg("chat"), limit=10
        )
    )
    assert warm == cold
    assert len(warm[0].checkpoint["channel_values"]["messages"]) == STEPS


def test_every_read_decodes_fresh_objects(counted: tuple) -> None:
    """The cache holds bytes: a caller mutating what it got changes no later read."""
    saver, _store = counted
    first = saver.get_tuple(cfg("chat"))
    messages = first.checkpoint["channel_values"]["messages"]
    messages[0].content = "changed"
    messages.append(HumanMessage(content="extra"))
    again = saver.get_tuple(cfg("chat"))
    got = again.checkpoint["channel_values"]["messages"]
    assert got is not messages and got[0] is not messages[0]
    assert len(got) == STEPS and got[0].content.startswith("message 0 ")


def test_a_deleted_thread_is_gone_however_warm_the_cache(counted: tuple) -> None:
    saver, _store = counted
    assert saver.get_tuple(cfg("chat")) is not None
    saver.delete_thread("chat")
    assert saver.get_tuple(cfg("chat")) is None
    assert list(saver.list(cfg("chat"), limit=10)) == []


def test_a_list_not_decodable_in_one_piece_falls_back_element_wise(
    counted: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the serializer does not give a joined array back as that list, the elements
    are fetched and decoded one by one, and the result is still the same."""
    saver, _store = counted
    expected = saver.get_tuple(cfg("chat"))
    serde = saver.engine.values.serde
    real = serde.loads_typed

    def no_arrays(data: tuple[str, bytes]) -> object:
        value = real(data)
        return tuple(value) if type(value) is list and len(value) > 1 else value

    monkeypatch.setattr(serde, "loads_typed", no_arrays)
    got = saver.get_tuple(cfg("chat"))
    assert got is not None
    assert (
        got.checkpoint["channel_values"]["messages"]
        == expected.checkpoint["channel_values"]["messages"]
    )


@pytest.mark.parametrize("how", ["flip", "truncate", "empty"])
def test_a_record_damaged_after_it_was_read_is_refused(counted: tuple, how: str) -> None:
    """Records verified before are still checked at every read: damage since then raises,
    naming the checkpoint, instead of answering from the earlier decoding."""
    saver, _store = counted
    latest = saver.get_tuple(cfg("chat"))
    assert saver.get_tuple(cfg("chat")) == latest
    damage(saver, checkpoint_key("chat", latest.checkpoint["id"]), how)
    with pytest.raises(CorruptRecordError, match=latest.checkpoint["id"]):
        saver.get_tuple(cfg("chat"))


def test_a_rewritten_record_is_decoded_anew(counted: tuple) -> None:
    """A checkpoint put again under the same id (other bytes at the same key) is read as
    it is now, not as it was verified before."""
    saver, _store = counted
    latest = saver.get_tuple(cfg("chat"))
    saver.put(latest.parent_config, latest.checkpoint, {"step": -1, "note": "again"}, {})
    again = saver.get_tuple(cfg("chat"))
    assert again.metadata["note"] == "again"
    assert again.checkpoint == latest.checkpoint


def test_a_list_page_equals_single_reads_when_warm(counted: tuple) -> None:
    saver, _store = counted
    page = list(saver.list(cfg("chat"), limit=10))
    assert page == [saver.get_tuple(t.config) for t in page]
    assert list(saver.list(cfg("chat"), limit=10)) == page
