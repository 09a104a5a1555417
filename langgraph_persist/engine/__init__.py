"""The checkpointer's logic over a ``Store``: what to write, in which order, and how to read it.

It knows LangGraph's shapes (checkpoints, metadata, pending writes, channel
versions) and the record layout; it does not know files, SQLite or Redis. It
is synchronous and thread-safe; ``saver.py`` gives it both the sync and the
async face.

One module per job, each depending only on those above it::

    codec.py      RecordCodec: framing, sealing, the associated-data rule
    reader.py     Reader: names, records, content, tuples, listings (verified reads)
    delta.py      DeltaChannel seeds, history and prune-safe chains (reads only)
    heads.py      Heads: the per-namespace record that makes rollback visible
    writer.py     Writer: put and put_writes, one commit each
    lifecycle.py  Lifecycle: delete, copy, prune

``Engine`` wires them together for one store and is what the saver holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist.address import Address
from langgraph_persist.engine import delta
from langgraph_persist.engine.codec import RecordCodec
from langgraph_persist.engine.heads import Heads
from langgraph_persist.engine.lifecycle import Lifecycle
from langgraph_persist.engine.reader import RawWrite, Reader, ShareContent, StoredWrite
from langgraph_persist.engine.shapes import CheckpointRecord
from langgraph_persist.engine.writer import Writer
from langgraph_persist.records import Sealer
from langgraph_persist.store.base import Store
from langgraph_persist.values import ValueCodec

__all__ = ["Engine", "RawWrite", "Reader", "RecordCodec", "ShareContent", "StoredWrite"]


class Engine:
    """The engine of one store: a reader, a writer and the lifecycle operations.

    The methods below are the engine's whole API; each is one call into the
    part that owns it.
    """

    def __init__(
        self,
        store: Store,
        serde: SerializerProtocol,
        *,
        sealer: Sealer | None = None,
        hash_key: bytes = b"",
        name_key: bytes = b"",
        fencing: bool = False,
        check_addresses: bool = True,
        share_content: ShareContent = "store",
    ) -> None:
        self.store = store
        self.serde = serde
        self.records = RecordCodec(sealer)
        self.reader = Reader(
            store,
            serde,
            self.records,
            hash_key=hash_key,
            name_key=name_key,
            check_addresses=check_addresses,
            share_content=share_content,
        )
        # Heads are kept where they are cheap (an indexed store) or matter most
        # (an encrypted store, where they cannot be forged): see heads.py.
        kept = sealer is not None or store.source_of_truth().seeks_pages
        self.heads = Heads(self.reader, kept=kept)
        self.writer = Writer(self.reader, self.heads, fencing=fencing)
        self.lifecycle = Lifecycle(self.writer, self.heads)

    @property
    def sealer(self) -> Sealer | None:
        return self.records.sealer

    @property
    def values(self) -> ValueCodec:
        return self.reader.values

    # -- LangGraph's operations -------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        return self.writer.put(config, checkpoint, metadata, new_versions)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        self.writer.put_writes(config, writes, task_id, task_path)

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        return self.reader.get_tuple(config)

    def checkpoints(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        return self.reader.checkpoints(config, filter=filter, before=before, limit=limit)

    def get_delta_channel_history(
        self, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return delta.channel_history(self.reader, config, channels)

    def delete_thread(self, thread_id: str) -> None:
        self.lifecycle.delete_thread(thread_id)

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        self.lifecycle.delete_for_runs(run_ids)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        self.lifecycle.copy_thread(source_thread_id, target_thread_id)

    def prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        self.lifecycle.prune(thread_ids, strategy)

    # -- what tools read and edit (saver's admin API, verify, gc, migration) ----------------------

    def address(self, thread_id: str, checkpoint_ns: str = "") -> Address:
        return self.reader.address(thread_id, checkpoint_ns)

    def address_of(self, config: RunnableConfig) -> Address:
        return self.reader.address_of(config)

    def name(self, value: str) -> str:
        return self.reader.name(value)

    def hash_key_for(self, t: str) -> bytes:
        return self.reader.hash_key_for(t)

    def fetch_for(self, a: Address) -> Callable[[Iterable[bytes]], dict[bytes, Any]]:
        return self.reader.fetch_for(a)

    def thread_names(self) -> list[str]:
        return self.reader.thread_names()

    def thread_id_of(self, t: str) -> str | None:
        return self.reader.thread_id_of(t)

    def namespaces(self, thread_id: str) -> list[Address]:
        return self.reader.namespaces(thread_id)

    def latest_id(self, a: Address) -> str | None:
        return self.reader.latest_id(a)

    def newest_first(self, a: Address, before: str | None = None) -> Iterator[tuple[str, Address]]:
        return self.reader.newest_first(a, before)

    def checkpoint_record(self, a: Address, checkpoint_id: str) -> CheckpointRecord | None:
        return self.reader.checkpoint_record(a, checkpoint_id)

    def metadata(self, a: Address, checkpoint_id: str) -> dict[str, Any] | None:
        return self.reader.metadata(a, checkpoint_id)

    def stored_writes(self, a: Address, checkpoint_id: str) -> list[StoredWrite]:
        return self.reader.stored_writes(a, checkpoint_id)

    def pending_channels(self, a: Address, checkpoint_id: str) -> list[str]:
        """The channels a checkpoint's pending writes go to, decoding no value
        (``thread_info``'s "waits at an interrupt" reads the write records only)."""
        return [w.channel for w in self.reader.raw_writes(a, checkpoint_id)]

    def delta_safe_chain(self, a: Address, checkpoint_id: str) -> set[str]:
        return delta.safe_chain(self.reader, a, checkpoint_id)

    def delete_checkpoints(self, a: Address, checkpoint_ids: Iterable[str]) -> None:
        self.lifecycle.delete_checkpoints(a, checkpoint_ids)
