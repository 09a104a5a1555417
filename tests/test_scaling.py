"""Cost must not grow with history: O(1) reads for the latest, O(limit) for list(limit)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.base.id import uuid6

from langgraph_persist import PersistSaver
from langgraph_persist.engine import reader as reader_module
from tests.counting import CountingFileStore

N = 10_000


@pytest.fixture(scope="module")
def long_thread(tmp_path_factory: pytest.TempPathFactory) -> tuple[PersistSaver, CountingFileStore]:
    """One thread with 10,000 checkpoints (fsync off: this is about reads, not durability)."""
    store = CountingFileStore(tmp_path_factory.mktemp("long") / "s", durability="none")
    saver = PersistSaver(store=store)
    config: dict = {"configurable": {"thread_id": "long", "checkpoint_ns": ""}}
    version = None
    for step in range(N):
        version = saver.get_next_version(version, None)
        ckpt = empty_checkpoint()
        ckpt["id"] = str(uuid6(clock_seq=step))
        ckpt["channel_values"] = {"counter": step, "log": ["entry"] * 3}
        ckpt["channel_versions"] = {"counter": version, "log": version}
        config = saver.put(
            config, ckpt, {"source": "loop", "step": step, "parents": {}}, {"counter": version}
        )
        if step % 1000 == 0:
            saver.put_writes(config, [("counter", step)], f"task-{step}")
    # a second, short thread so listing all threads has something else to see
    saver.put(
        {"configurable": {"thread_id": "short", "checkpoint_ns": ""}}, empty_checkpoint(), {}, {}
    )
    return saver, store


def test_latest_get_tuple_reads_one_checkpoint_record(long_thread: tuple) -> None:
    saver, store = long_thread
    store.reset()
    tup = saver.get_tuple({"configurable": {"thread_id": "long"}})
    assert tup is not None and tup.metadata["step"] == N - 1
    assert tup.checkpoint["channel_values"]["counter"] == N - 1
    assert store.records_read("c") == 1
    assert store.calls["read"] + store.calls["read_many"] <= 3


def test_historical_get_tuple_reads_one_checkpoint_record(long_thread: tuple) -> None:
    saver, store = long_thread
    some = next(saver.list({"configurable": {"thread_id": "long"}}, limit=5000))
    store.reset()
    tup = saver.get_tuple(some.config)
    assert tup is not None
    assert store.records_read("c") == 1


@pytest.mark.parametrize("limit", [1, 10])
def test_list_with_limit_reads_limit_records(long_thread: tuple, limit: int) -> None:
    saver, store = long_thread
    store.reset()
    got = list(saver.list({"configurable": {"thread_id": "long"}}, limit=limit))
    assert [t.metadata["step"] for t in got] == list(range(N - 1, N - 1 - limit, -1))
    assert store.records_read("c") == limit


def _reads_of_a_page(saver: PersistSaver, store: CountingFileStore) -> int:
    store.reset()
    got = list(saver.list({"configurable": {"thread_id": "long"}}, limit=10))
    assert len(got) == 10
    return int(store.calls["read"] + store.calls["read_many"])


def test_a_page_of_list_is_read_in_a_few_batches(long_thread: tuple) -> None:
    """Records, their pending writes and their content: one batch each (values.py
    needs two for segmented lists), not a few reads per checkpoint."""
    saver, store = long_thread
    assert _reads_of_a_page(saver, store) <= 4


def test_control_reading_one_checkpoint_at_a_time_fails_the_bound(
    long_thread: tuple, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Negative control: pages of one checkpoint (no batching) break the bound above."""
    saver, store = long_thread
    monkeypatch.setattr(reader_module, "_PAGE", 1)
    assert _reads_of_a_page(saver, store) > 4


def test_list_before_reads_only_what_it_returns(long_thread: tuple) -> None:
    saver, store = long_thread
    first = list(saver.list({"configurable": {"thread_id": "long"}}, limit=10))
    store.reset()
    page = list(
        saver.list({"configurable": {"thread_id": "long"}}, before=first[-1].config, limit=10)
    )
    assert [t.metadata["step"] for t in page] == list(range(N - 11, N - 21, -1))
    assert store.records_read("c") == 10


def test_listing_all_threads_latest_does_not_decode_history(long_thread: tuple) -> None:
    saver, store = long_thread
    store.reset()
    latest = {}
    for t in saver.engine.thread_names():
        thread_id = saver.engine.thread_id_of(t)
        for address in saver.engine.namespaces(thread_id):
            latest[thread_id] = saver.engine.latest_id(address)
    assert set(latest) == {"long", "short"}
    assert store.records_read("c") == 0


def test_listing_cache_never_hides_another_writer(tmp_path: Path) -> None:
    """A reader's cached directory listing sees every checkpoint another saver adds."""

    config: dict = {"configurable": {"thread_id": "shared", "checkpoint_ns": ""}}
    writer = PersistSaver(tmp_path / "s", durability="none", layout="files")
    reader = PersistSaver(tmp_path / "s")  # its own FileStore, its own cache: "another process"
    checkpoints = tmp_path / "s" / "threads" / "shared" / "ns" / "=" / "c"
    for step in range(30):
        config = writer.put(config, empty_checkpoint(), {"step": step}, {})
        if step % 3 == 0:
            # age the directory past the trust window, so its listing is cached
            old = time.time_ns() - 1_000_000_000
            os.utime(checkpoints, ns=(old, old))
        latest = reader.get_tuple({"configurable": {"thread_id": "shared"}})
        assert latest is not None and latest.metadata["step"] == step
        # and immediately, within the same clock tick as the write after a cached read
        config = writer.put(config, empty_checkpoint(), {"step": step + 1000}, {})
        latest = reader.get_tuple({"configurable": {"thread_id": "shared"}})
        assert latest is not None and latest.metadata["step"] == step + 1000
    writer.delete_thread("shared")
    assert reader.get_tuple({"configurable": {"thread_id": "shared"}}) is None
