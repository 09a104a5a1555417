"""Writing: what a ``put`` and a ``put_writes`` store, in one commit each.

Write order (why a killed writer never leaves a dangling reference): a put's
new content (blobs, the thread's info record, the run index), its checkpoint
record and the namespace's head go to the store in ONE ``Store.commit``: a
transactional store (SQLite) makes them atomic; the others store the content
durably before the record that references it. A crash in between leaves at
worst unreferenced content, which ``gc`` reclaims; never a record pointing at
nothing.

Only what changed is serialized into new content: a channel whose version did
not change keeps its parent's reference, and a growing list re-uses the
segments its parent stored (values.py, segments.py).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_checkpoint_metadata,
)

from langgraph_persist import facets, keys
from langgraph_persist.address import Address
from langgraph_persist.engine import delta
from langgraph_persist.engine.heads import Heads
from langgraph_persist.engine.reader import Reader
from langgraph_persist.engine.shapes import (
    CheckpointRecord,
    Head,
    RunIndexRecord,
    ThreadInfoRecord,
    WritesRecord,
)
from langgraph_persist.errors import (
    CorruptRecordError,
    FencedWriterError,
    InvalidIdError,
    ThreadDeletedError,
)
from langgraph_persist.records import Kind
from langgraph_persist.segments import NewBlobs
from langgraph_persist.values import Ref, ValueCodec

_CONTINUATIONS = frozenset({"loop", "input"})
"""Checkpoint sources that continue a thread (fenced); "fork" and "update" branch it."""
_SPLIT_OFF = frozenset({"channel_values", "channel_versions"})
"""Checkpoint fields stored outside the serialized body (see docs/format.md)."""

Items = list[tuple[keys.Key, bytes]]


def _seq() -> str:
    """Sortable, unique name for a pending-write record: arrival order across processes."""
    return f"{time.time_ns():020d}-{os.getpid():07d}-{secrets.token_hex(6)}"


class Writer:
    """``put`` and ``put_writes`` over a reader's store (see module docstring)."""

    def __init__(self, reader: Reader, heads: Heads, *, fencing: bool = False) -> None:
        self.reader = reader
        self.store = reader.store
        self.records = reader.records
        self.values = reader.values
        self.heads = heads
        self.fencing = fencing

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        r = self.reader
        a = r.address_of(config)
        hash_key = r.hash_key_for(a.t)
        checkpoint_id = keys.check_checkpoint_id(checkpoint["id"])
        parent_id = config["configurable"].get("checkpoint_id")
        # channel_versions live in ``refs`` (one copy), the values in blobs
        body = {k: v for k, v in checkpoint.items() if k not in _SPLIT_OFF}
        values = checkpoint.get("channel_values", {})
        parent = self._parent_record(a, parent_id)
        parent_refs: dict[str, list[Any]] = parent["refs"] if parent else {}
        known = frozenset(
            d for _ver, ref in parent_refs.values() for d in ValueCodec.direct_digests(ref)
        )
        new: NewBlobs = {}
        refs: dict[str, list[Any]] = {}
        for channel, version in checkpoint["channel_versions"].items():
            ref: Ref = None
            inherited = parent_refs.get(channel)
            if channel not in new_versions and inherited is not None and inherited[0] == version:
                ref = inherited[1]
            elif channel in values:
                ref = self.values.encode(
                    values[channel], new, known, hint=(a.t, a.n, channel), hash_key=hash_key
                )
            refs[channel] = [version, ref]
        for digest in known.intersection(new):
            del new[digest]
        full_metadata = get_checkpoint_metadata(config, metadata)
        run_id = full_metadata.get("run_id")
        run = run_id if isinstance(run_id, str) else None
        record: CheckpointRecord = {
            "ns": a.checkpoint_ns,
            "parent": parent_id,
            "ckpt": list(r.serde.dumps_typed(body)),
            "meta": list(r.serde.dumps_typed(full_metadata)),
            "refs": refs,
            "run": run,
        }
        if seeds := delta.seed_hints(full_metadata, parent_id, parent):
            record["dseed"] = seeds
        key = keys.checkpoint(a.t, a.n, checkpoint_id)
        fenced = self.fencing and metadata.get("source") in _CONTINUATIONS
        parent_key = keys.checkpoint(a.t, a.n, parent_id) if known and parent_id else None
        with self.writing(a, exclusive=fenced), self.heads.updating(a):
            head = self._check_thread(a, parent_id)
            if fenced:
                self._refuse_stale_writer(a, parent_id, checkpoint_id)
            content, parent_present = self._content(a, new, run, parent_key)
            if parent_key is not None and not parent_present:
                # The parent is gone (deleted by another process): what it referenced
                # may have been collected, so trust only what the store says exists.
                content = self.content(a, self._reencode(checkpoint, hash_key), run)
            items = [(key, self.records.encode(Kind.CHECKPOINT, record, key))]
            items += self.heads.after_put(a, checkpoint_id, head)
            described = self._facets(key, full_metadata)
            self.store.commit(create=content, write=items, facets=described)
        r.remember(a, checkpoint_id, record)
        return a.config(checkpoint_id)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        a = self.reader.address_of(config)
        checkpoint_id = config["configurable"]["checkpoint_id"]
        hash_key = self.reader.hash_key_for(a.t)
        new: NewBlobs = {}
        entries = [
            [
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                self.values.encode(value, new, split_min=1, hash_key=hash_key),
            ]
            for idx, (channel, value) in enumerate(writes)
        ]
        record: WritesRecord = {"task": task_id, "path": task_path, "w": entries}
        key = keys.write(a.t, a.n, checkpoint_id, _seq())
        with self.writing(a, exclusive=False), self.heads.updating(a):
            head = self._check_thread(a, checkpoint_id)
            # Power-safe with the next put's sync (docs/reliability.md): pending writes
            # only spare a resumed step from re-running tasks, and a step ends in a put.
            content = self.content(a, new, None)
            items = [(key, self.records.encode(Kind.WRITES, record, key))]
            items += self.heads.after_writes(a, checkpoint_id, head)
            self.store.commit(create=content, write=items, defer_sync=True)

    def _facets(self, key: keys.Key, metadata: Mapping[str, Any]) -> dict[keys.Key, str]:
        """What a store may filter this checkpoint on (facets.py): nothing when
        records are sealed, since plaintext facets would leak the metadata."""
        if self.records.sealer is not None:
            return {}
        found = facets.facets_of(metadata)
        return {} if found is None else {key: found}

    @contextlib.contextmanager
    def writing(self, a: Address, *, exclusive: bool) -> Iterator[None]:
        """The locks a write into thread ``a`` holds, always in this order.

        The store-wide maintenance lock (shared) keeps ``gc`` from collecting
        blobs this write is about to reference. The thread's lock (shared, or
        exclusive when fencing) makes "is this thread deleted?" and "is my
        parent still the head?" atomic with the write: ``delete_thread`` takes
        it exclusively.
        """
        with (
            self.store.maintenance_lock(exclusive=False),
            self.store.lock(keys.thread_dir(a.t), exclusive=exclusive),
        ):
            yield

    def _check_thread(self, a: Address, parent_id: str | None) -> Head | None:
        """The namespace's head, after refusing a write into a deleted thread; both
        read in one store call (the writer's hot path)."""
        tombstone = keys.tombstone(self.reader.tombstone_name(a.thread_id))
        wanted = [tombstone, keys.head(a.t, a.n)] if self.heads.kept else [tombstone]
        found = self.store.read_many(wanted)
        self._refuse_resurrection(a, parent_id, tombstone, found[0])
        return self.heads.decode(a, found[1]) if self.heads.kept else None

    def _refuse_resurrection(
        self, a: Address, parent_id: str | None, key: keys.Key, data: bytes | None
    ) -> None:
        """A write that continues a checkpoint deleted with its thread is refused.

        ``delete_thread`` leaves a tombstone (``data`` at ``key``) holding a
        checkpoint-id-shaped boundary (uuid6, so ids sort by creation time). A put
        whose parent, or writes whose checkpoint, is missing and older than the
        boundary belong to a run that began before the deletion.
        """
        if not parent_id or data is None:
            return
        boundary = self.records.decode(data, Kind.TOMBSTONE, key)["boundary"]
        if (
            parent_id < boundary
            and not self.store.exists_many([keys.checkpoint(a.t, a.n, parent_id)])[0]
        ):
            raise ThreadDeletedError(
                f"thread {a.thread_id!r} was deleted after checkpoint {parent_id} was made; "
                "refusing to bring it back (start a new run to reuse the thread id)"
            )

    def _refuse_stale_writer(self, a: Address, parent_id: str | None, checkpoint_id: str) -> None:
        """With fencing: a continuation must extend the namespace's latest checkpoint."""
        latest = self.reader.latest_id(a)
        if latest is None or latest in (parent_id, checkpoint_id):
            return
        raise FencedWriterError(
            f"stale writer on thread {a.thread_id!r}: it continues from {parent_id}, but "
            f"{latest} was written since by another writer; reload the thread and retry"
        )

    def _reencode(self, checkpoint: Checkpoint, hash_key: bytes) -> NewBlobs:
        """Every blob this checkpoint's values need, without trusting the parent."""
        new: NewBlobs = {}
        values = checkpoint.get("channel_values", {})
        for channel in checkpoint["channel_versions"]:
            if channel in values:
                self.values.encode(values[channel], new, hash_key=hash_key)
        return new

    def _parent_record(self, a: Address, parent_id: str | None) -> CheckpointRecord | None:
        """The parent's record: its refs are reused for channels this put did not change."""
        if not parent_id:
            return None
        try:
            return self.reader.checkpoint_record(a, parent_id, cached=True)
        except (CorruptRecordError, InvalidIdError):
            return None  # fall back to the values in the checkpoint itself

    def content(self, a: Address, new: NewBlobs, run_id: str | None) -> Items:
        """Everything a record will reference that the store lacks, framed for ``commit``.

        ``Store.commit`` makes it durable with (transactional stores) or before
        (the others) the record that references it.

        Asks the store, on every write, which of it exists (one batched call):
        the thread's info record and the run index may have been removed by
        another process's ``delete_thread``, and blobs by its ``gc``; a cache of
        "known to exist" would then leave a dangling reference. Existence checks
        are cheap next to the fsyncs they save.
        """
        return self._content(a, new, run_id, None)[0]

    def _content(
        self, a: Address, new: NewBlobs, run_id: str | None, also: keys.Key | None
    ) -> tuple[Items, bool]:
        """``content``, and whether ``also`` exists, asked in the same store call."""
        wanted: dict[keys.Key, Callable[[], bytes]] = {}
        for digest, (kind, payload) in new.items():
            key = keys.blob(digest)
            wanted[key] = _framing(self.records.frame, kind, payload, key)
        info_key = keys.thread_info(a.t)
        info: ThreadInfoRecord = {"thread_id": a.thread_id, "created": time.time()}
        wanted[info_key] = _framing(self.records.encode, Kind.THREAD_INFO, info, info_key)
        if run_id is not None:
            run_key = keys.run_index(self.reader.name(run_id), a.t)
            entry: RunIndexRecord = {"run_id": run_id, "thread_id": a.thread_id}
            wanted[run_key] = _framing(self.records.encode, Kind.RUN_INDEX, entry, run_key)
        candidates = list(wanted)
        present = self.store.exists_many(candidates if also is None else [*candidates, also])
        items = [
            (key, wanted[key]())
            for key, there in zip(candidates, present, strict=False)
            if not there
        ]
        return items, also is not None and present[-1]


def _framing(
    encode: Callable[[Kind, Any, keys.Key], bytes], kind: Kind, obj: Any, key: keys.Key
) -> Callable[[], bytes]:
    """Deferred framing: content the store already holds is never compressed or sealed."""
    return lambda: encode(kind, obj, key)
