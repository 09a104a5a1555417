"""The checkpointer's logic over a ``Store``: what to write, in which order, and how to read it.

It knows LangGraph's shapes (checkpoints, metadata, pending writes, channel
versions) and the record layout; it does not know files or Redis. It is
synchronous and thread-safe; ``saver.py`` gives it both the sync and the
async face.

Write order (why a killed writer never leaves a dangling reference): a put
first stores the content it introduces (blobs, the thread's info record, the
run index), waits for that to be durable, and only then writes the
checkpoint record that references it. A crash in between leaves unreferenced
content, which ``gc`` reclaims; never a record pointing at nothing.

Caches hold *stored bytes*, which are immutable, never user objects: a value
mutated in place between two puts is re-serialized and stored as it is.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import heapq
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    DeltaChannelHistory,
    PendingWrite,
    get_checkpoint_id,
    get_checkpoint_metadata,
    writes_sort_key,
)
from langgraph.checkpoint.base.id import uuid6
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import delta, keys, records
from langgraph_persist.address import Address, address_of
from langgraph_persist.errors import (
    CorruptRecordError,
    DanglingReferenceError,
    FencedWriterError,
    InvalidIdError,
    ThreadDeletedError,
)
from langgraph_persist.lru import LRU
from langgraph_persist.records import Kind, Sealer
from langgraph_persist.segments import NewBlobs
from langgraph_persist.store.base import Store
from langgraph_persist.values import Ref, ValueCodec

BLOB_CACHE_BYTES = 64 * 1024 * 1024
_CONTINUATIONS = frozenset({"loop", "input"})
"""Checkpoint sources that continue a thread (fenced); "fork" and "update" branch it."""
_SPLIT_OFF = frozenset({"channel_values", "channel_versions"})
"""Checkpoint fields stored outside the serialized body (see docs/format.md)."""
RECORD_CACHE_ENTRIES = 4096
ShareContent = Literal["store", "thread"]
"""Which writes equal content is stored once for (see ``Engine.hash_key_for``)."""

_TOMBSTONE_KEY = b"lgp-tombstone-names"
"""Keys tombstone names in stores whose names are not keyed (see ``tombstone_name``)."""
_FIRST_PAGE = 8
_LAST_PAGE = 1024
"""Checkpoint ids listed per store call when walking a namespace newest first."""


class RawWrite(NamedTuple):
    """A pending write as stored: its value still a reference (see values.py)."""

    task: str
    idx: int
    channel: str
    ref: Ref
    path: str


class StoredWrite(NamedTuple):
    """A pending write with its value decoded and its task path and index kept."""

    task: str
    idx: int
    channel: str
    value: Any
    path: str


def _aad(key: keys.Key) -> bytes:
    """Associated data binding an encrypted record to its place in the store."""
    return "/".join(key).encode()


def _seq() -> str:
    """Sortable, unique name for a pending-write record: arrival order across processes."""
    return f"{time.time_ns():020d}-{os.getpid():07d}-{secrets.token_hex(6)}"


class Engine:
    """Checkpoint operations over a store (see module docstring)."""

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
        self.name_key = name_key
        self.check_addresses = check_addresses
        self.share_content = share_content
        # Heads cost a read and a listing per put: kept where that is cheap (an indexed
        # local store) or where they matter most (encrypted stores: they cannot be forged).
        self.keeps_heads = sealer is not None or store.source_of_truth().seeks_pages
        self._head_locks: dict[tuple[str, str], threading.Lock] = {}
        self._head_locks_guard = threading.Lock()
        """Content read is re-hashed against its address (off only for stores whose
        address key changed with a key rotation before storemeta.py existed)."""
        self.serde = serde
        self.codec = ValueCodec(serde, hash_key)
        self.sealer = sealer
        self.fencing = fencing
        self._blob_cache = LRU(BLOB_CACHE_BYTES)
        self._records = LRU(RECORD_CACHE_ENTRIES)

    # -- record helpers ---------------------------------------------------------------------------

    def _encode(self, kind: Kind, obj: Any, key: keys.Key) -> bytes:
        """A record for ``key``; encrypted ones are bound to the key (see crypto.py)."""
        return records.encode(kind, obj, sealer=self.sealer, aad=_aad(key))

    def _decode(self, data: bytes, kind: Kind, key: keys.Key) -> Any:
        return records.decode(
            data, expect=kind, location="/".join(key), sealer=self.sealer, aad=_aad(key)
        )

    def address(self, thread_id: str, checkpoint_ns: str = "") -> Address:
        """Where a thread's namespace lives in this store (names keyed if it hides ids)."""
        return Address.of(str(thread_id), checkpoint_ns, self.name_key)

    def address_of(self, config: RunnableConfig) -> Address:
        return address_of(config, self.name_key)

    def name(self, value: str) -> str:
        """The store name of an id (thread, namespace, run) in this store."""
        return keys.encode_name(value, self.name_key)

    def tombstone_name(self, thread_id: str) -> str:
        """A deleted thread's tombstone is named by a digest of its id, never the id:
        after ``delete_thread`` and ``gc`` the store must not spell a deleted id out."""
        return keys.encode_name(thread_id, self.name_key or _TOMBSTONE_KEY)

    def checkpoint_record(self, a: Address, checkpoint_id: str) -> dict[str, Any] | None:
        """A checkpoint's decoded record (references, not values), or None when absent."""
        return self._read_checkpoint(a, checkpoint_id)

    def _read_checkpoint(self, a: Address, checkpoint_id: str) -> dict[str, Any] | None:
        key = keys.checkpoint(a.t, a.n, checkpoint_id)
        data = self.store.read(key)
        if data is None:
            return None
        try:
            rec: dict[str, Any] = self._decode(data, Kind.CHECKPOINT, key)
        except CorruptRecordError as exc:
            raise exc.with_context(
                thread_id=a.thread_id, checkpoint_ns=a.checkpoint_ns, checkpoint_id=checkpoint_id
            ) from None
        self._records.put((a.t, a.n, checkpoint_id), rec)
        return rec

    def hash_key_for(self, t: str) -> bytes:
        """The address key of content written for thread ``t``.

        ``share_content="store"`` (default): one key, so equal content is stored
        once store-wide. ``"thread"``: a key per thread, so no thread's writes
        reveal (by what they do not add) what another thread stored; the price is
        that threads share nothing, and ``copy_thread`` copies content.
        """
        if self.share_content == "store":
            return self.codec.hash_key
        return hashlib.blake2b(
            t.encode(), digest_size=32, key=self.codec.hash_key, person=b"lgp-thread-addr"
        ).digest()

    def fetch_for(self, a: Address) -> Callable[[Iterable[bytes]], dict[bytes, Any]]:
        """``_fetch_blobs`` checking addresses with thread ``a``'s key."""
        return functools.partial(self._fetch_blobs, hash_key=self.hash_key_for(a.t))

    def _fetch_blobs(
        self, digests: Iterable[bytes], hash_key: bytes | None = None
    ) -> dict[bytes, Any]:
        """Verified blob payloads, from the cache or the store (one batched read).

        Content is re-hashed against its address with ``hash_key``; ``None`` skips
        that check (gc, which only follows references and knows no thread)."""
        out: dict[bytes, Any] = {}
        missing: list[bytes] = []
        for d in digests:
            hit = self._blob_cache.get(d)
            if hit is None:
                missing.append(d)
            else:
                out[d] = hit
        if missing:
            blob_keys = [keys.blob(d) for d in missing]
            for d, key, data in zip(
                missing, blob_keys, self.store.read_many(blob_keys), strict=True
            ):
                if data is None:
                    raise DanglingReferenceError(
                        "referenced content is missing", location="/".join(key)
                    )
                obj, kind = records.decode_with_kind(
                    data, location="/".join(key), sealer=self.sealer, aad=_aad(key)
                )
                if kind not in (Kind.BLOB, Kind.SEGMENT):
                    raise CorruptRecordError(
                        f"{kind.name} record in blob store", location="/".join(key)
                    )
                if (
                    self.check_addresses
                    and hash_key is not None
                    and records.content_digest(kind, records.pack(obj), hash_key) != d
                ):
                    # intact, but not what this address names: swapped or planted
                    raise CorruptRecordError(
                        "content does not match its address", location="/".join(key)
                    )
                out[d] = obj
                self._blob_cache.put(d, obj, len(data) + 64)
        return out

    # -- put ------------------------------------------------------------------------------------

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        a = self.address_of(config)
        hash_key = self.hash_key_for(a.t)
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
                ref = self.codec.encode(
                    values[channel], new, known, hint=(a.t, a.n, channel), hash_key=hash_key
                )
            refs[channel] = [version, ref]
        for digest in known.intersection(new):
            del new[digest]
        full_metadata = get_checkpoint_metadata(config, metadata)
        run_id = full_metadata.get("run_id")
        run = run_id if isinstance(run_id, str) else None
        record = {
            "ns": a.checkpoint_ns,
            "parent": parent_id,
            "ckpt": list(self.serde.dumps_typed(body)),
            "meta": list(self.serde.dumps_typed(full_metadata)),
            "refs": refs,
            "run": run,
        }
        if seeds := delta.seed_hints(full_metadata, parent_id, parent):
            record["dseed"] = seeds
        key = keys.checkpoint(a.t, a.n, checkpoint_id)
        fenced = self.fencing and metadata.get("source") in _CONTINUATIONS
        with self._writing(a, exclusive=fenced):
            self._refuse_resurrection(a, parent_id)
            if fenced:
                self._refuse_stale_writer(a, parent_id, checkpoint_id)
            if (
                known
                and parent_id
                and not self.store.exists_many([keys.checkpoint(a.t, a.n, parent_id)])[0]
            ):
                # The parent is gone (deleted by another process): what it referenced
                # may have been collected, so trust only what the store says exists.
                new = self._reencode(checkpoint, hash_key)
            content = self._content(a, new, run)
            items = [(key, self._encode(Kind.CHECKPOINT, record, key))]
            with self._heads(a):
                head = self._head(a) if self.keeps_heads else None
                if self.keeps_heads and (head is None or head["latest"] <= checkpoint_id):
                    # writes may have arrived first (LangGraph saves checkpoints in the background)
                    found = len(self.store.list(keys.writes_dir(a.t, a.n, checkpoint_id)))
                    items.append(self._head_item(a, {"latest": checkpoint_id, "writes": found}))
                self.store.commit(create=content, write=items)
        self._records.put((a.t, a.n, checkpoint_id), record)
        return a.config(checkpoint_id)

    @contextlib.contextmanager
    def _writing(self, a: Address, *, exclusive: bool) -> Iterator[None]:
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

    def _refuse_resurrection(self, a: Address, parent_id: str | None) -> None:
        """A write that continues a checkpoint deleted with its thread is refused.

        ``delete_thread`` leaves a tombstone holding a checkpoint-id-shaped
        boundary (uuid6, so ids sort by creation time). A put whose parent, or
        writes whose checkpoint, is missing and older than the boundary belong
        to a run that began before the deletion.
        """
        if not parent_id:
            return
        key = keys.tombstone(self.tombstone_name(a.thread_id))
        data = self.store.read(key)
        if data is None:
            return
        boundary = self._decode(data, Kind.TOMBSTONE, key)["boundary"]
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
        latest = self.latest_id(a)
        if latest is None or latest in (parent_id, checkpoint_id):
            return
        raise FencedWriterError(
            f"stale writer on thread {a.thread_id!r}: it continues from {parent_id}, but "
            f"{latest} was written since by another writer; reload the thread and retry"
        )

    # -- heads ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _heads(self, a: Address) -> Iterator[None]:
        """Serializes this process's read-modify-write of a namespace's head (a put and
        the pending writes LangGraph saves beside it run on different threads). Across
        processes the head can lag, never lead (see ``_head``)."""
        if not self.keeps_heads:
            yield
            return
        with self._head_locks_guard:
            lock = self._head_locks.setdefault((a.t, a.n), threading.Lock())
        with lock:
            yield

    def _head(self, a: Address) -> dict[str, Any] | None:
        """The namespace's head: {"latest": newest checkpoint id, "writes": its write records}.

        Nothing references a thread's newest checkpoint or its pending writes,
        so deleting them would roll the thread back unnoticed. The head, written
        in the same transaction as each put and put_writes (sealed when the store
        is encrypted), is what ``verify`` compares against: the checkpoint it
        names must exist, with at least that many write records. Concurrent
        writers can make it lag (never lead) what is stored, so it never raises
        a false alarm. A head that cannot be read is treated as absent.
        """
        key = keys.head(a.t, a.n)
        data = self.store.read(key)
        if data is None:
            return None
        try:
            head: dict[str, Any] = self._decode(data, Kind.HEAD, key)
        except CorruptRecordError:
            return None  # verify reports it; a writer must not fail on bookkeeping
        return head

    def _head_item(self, a: Address, head: dict[str, Any]) -> tuple[keys.Key, bytes]:
        key = keys.head(a.t, a.n)
        return key, self._encode(Kind.HEAD, head, key)

    def rebuild_head(self, a: Address) -> None:
        """After a deliberate deletion (prune, drop, delete_for_runs, copy): the head
        names what is now the newest checkpoint."""
        if not self.keeps_heads:
            return
        with self._heads(a):
            latest = self.latest_id(a)
            if latest is None:
                self.store.delete_many([keys.head(a.t, a.n)])
                return
            writes = len(self.store.list(keys.writes_dir(a.t, a.n, latest)))
            self.store.write_many([self._head_item(a, {"latest": latest, "writes": writes})])

    def _reencode(self, checkpoint: Checkpoint, hash_key: bytes) -> NewBlobs:
        """Every blob this checkpoint's values need, without trusting the parent."""
        new: NewBlobs = {}
        values = checkpoint.get("channel_values", {})
        for channel in checkpoint["channel_versions"]:
            if channel in values:
                self.codec.encode(values[channel], new, hash_key=hash_key)
        return new

    def _parent_record(self, a: Address, parent_id: str | None) -> dict[str, Any] | None:
        """The parent's record: its refs are reused for channels this put did not change."""
        if not parent_id:
            return None
        rec: dict[str, Any] | None = self._records.get((a.t, a.n, parent_id))
        if rec is None:
            try:
                rec = self._read_checkpoint(a, parent_id)
            except (CorruptRecordError, InvalidIdError):
                rec = None  # fall back to the values in the checkpoint itself
        return rec

    def _content(
        self, a: Address, new: NewBlobs, run_id: str | None
    ) -> list[tuple[keys.Key, bytes]]:
        """Everything a record will reference that the store lacks, framed for ``commit``.

        ``Store.commit`` makes it durable with (transactional stores) or before
        (the others) the record that references it.

        Asks the store, on every write, which of it exists (one batched call):
        the thread's info record and the run index may have been removed by
        another process's ``delete_thread``, and blobs by its ``gc``; a cache of
        "known to exist" would then leave a dangling reference. Existence checks
        are cheap next to the fsyncs they save.
        """
        wanted: dict[keys.Key, Callable[[], bytes]] = {}
        for digest, (kind, payload) in new.items():
            key = keys.blob(digest)
            wanted[key] = functools.partial(
                records.frame, kind, payload, sealer=self.sealer, aad=_aad(key)
            )
        info_key = keys.thread_info(a.t)
        info = {"thread_id": a.thread_id, "created": time.time()}
        wanted[info_key] = functools.partial(self._encode, Kind.THREAD_INFO, info, info_key)
        if run_id is not None:
            run_key = keys.run_index(self.name(run_id), a.t)
            entry = {"run_id": run_id, "thread_id": a.thread_id}
            wanted[run_key] = functools.partial(self._encode, Kind.RUN_INDEX, entry, run_key)
        candidates = list(wanted)
        return [
            (key, wanted[key]())
            for key, present in zip(candidates, self.store.exists_many(candidates), strict=True)
            if not present
        ]

    # -- put_writes -------------------------------------------------------------------------------

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        a = self.address_of(config)
        checkpoint_id = config["configurable"]["checkpoint_id"]
        new: NewBlobs = {}
        entries = [
            [
                WRITES_IDX_MAP.get(channel, idx),
                channel,
                self.codec.encode(value, new, split_min=1, hash_key=self.hash_key_for(a.t)),
            ]
            for idx, (channel, value) in enumerate(writes)
        ]
        record = {"task": task_id, "path": task_path, "w": entries}
        key = keys.write(a.t, a.n, checkpoint_id, _seq())
        with self._writing(a, exclusive=False):
            self._refuse_resurrection(a, checkpoint_id)
            # Power-safe with the next put's sync (docs/reliability.md): pending writes
            # only spare a resumed step from re-running tasks, and a step ends in a put.
            content = self._content(a, new, None)
            items = [(key, self._encode(Kind.WRITES, record, key))]
            with self._heads(a):
                head = self._head(a) if self.keeps_heads else None
                if head is not None and head["latest"] == checkpoint_id:
                    items.append(self._head_item(a, {**head, "writes": head["writes"] + 1}))
                self.store.commit(create=content, write=items, defer_sync=True)

    def _raw_writes(self, a: Address, checkpoint_id: str) -> list[RawWrite]:
        """Merged pending writes of one checkpoint (see ``_merge_writes``)."""
        wdir = keys.writes_dir(a.t, a.n, checkpoint_id)
        names = self.store.list(wdir)
        if not names:
            return []
        wkeys = [(*wdir, name) for name in names]
        return self._merge_writes(
            a, checkpoint_id, zip(wkeys, self.store.read_many(wkeys), strict=True)
        )

    def _merge_writes(
        self, a: Address, checkpoint_id: str, items: Iterable[tuple[keys.Key, bytes | None]]
    ) -> list[RawWrite]:
        """Pending writes in ``writes_sort_key`` order, values still references.

        Records are applied in arrival order (their keys sort by it): a regular
        write (idx >= 0) is insert-if-absent per (task, idx); a special one
        (ERROR, INTERRUPT, ...) overwrites, exactly as LangGraph's savers do.
        """
        merged: dict[tuple[str, int], RawWrite] = {}
        for key, data in items:
            if data is None:
                continue
            try:
                rec = self._decode(data, Kind.WRITES, key)
            except CorruptRecordError as exc:
                raise exc.with_context(
                    thread_id=a.thread_id,
                    checkpoint_ns=a.checkpoint_ns,
                    checkpoint_id=checkpoint_id,
                ) from None
            for idx, channel, ref in rec["w"]:
                k = (rec["task"], idx)
                if idx >= 0 and k in merged:
                    continue
                merged[k] = RawWrite(rec["task"], idx, channel, ref, rec["path"])
        return sorted(merged.values(), key=lambda w: writes_sort_key(w.path, w.task, w.idx))

    def _decode_writes(self, a: Address, raw: Sequence[RawWrite]) -> list[PendingWrite]:
        """Pending writes with their values, blobs fetched in one batch."""
        values = self.codec.decode_many(dict(enumerate(w.ref for w in raw)), self.fetch_for(a))
        return [(w.task, w.channel, values.get(i)) for i, w in enumerate(raw)]

    def stored_writes(self, a: Address, checkpoint_id: str) -> list[StoredWrite]:
        """A checkpoint's pending writes with everything stored: task path and index too.

        ``get_tuple``'s ``pending_writes`` drop those (LangGraph's tuple shape);
        migration and snapshots keep them so a copy replays in the same order.
        """
        raw = self._raw_writes(a, checkpoint_id)
        decoded = self._decode_writes(a, raw)
        return [
            StoredWrite(w.task, w.idx, w.channel, value, w.path)
            for w, (_task, _channel, value) in zip(raw, decoded, strict=True)
        ]

    def pending_channels(self, a: Address, checkpoint_id: str) -> list[str]:
        """The channels a checkpoint's pending writes go to, decoding no value
        (``thread_info``'s "waits at an interrupt" reads one record, not its content)."""
        return [w.channel for w in self._raw_writes(a, checkpoint_id)]

    def metadata(self, a: Address, checkpoint_id: str) -> dict[str, Any] | None:
        """A checkpoint's metadata, decoding no channel value (cheap listings, filters)."""
        rec = self._read_checkpoint(a, checkpoint_id)
        return None if rec is None else dict(self.serde.loads_typed(tuple(rec["meta"])))

    def _pending_writes(self, a: Address, checkpoint_id: str) -> list[PendingWrite]:
        try:
            return self._decode_writes(a, self._raw_writes(a, checkpoint_id))
        except CorruptRecordError as exc:
            raise exc.with_context(
                thread_id=a.thread_id, checkpoint_ns=a.checkpoint_ns, checkpoint_id=checkpoint_id
            ) from None

    # -- reads ------------------------------------------------------------------------------------

    def latest_id(self, a: Address) -> str | None:
        names = self.store.list_desc(keys.checkpoints_dir(a.t, a.n), limit=1)
        return names[0] if names else None

    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        a = self.address_of(config)
        checkpoint_id = get_checkpoint_id(config)
        for _attempt in range(3):
            cid = checkpoint_id or self.latest_id(a)
            if cid is None:
                return None
            rec = self._read_checkpoint(a, cid)
            if rec is not None:
                return self._tuple(a, cid, rec)
            if checkpoint_id:
                return None
            # the latest was deleted between listing and reading: list again
        return None

    def _tuple(self, a: Address, checkpoint_id: str, rec: dict[str, Any]) -> CheckpointTuple:
        try:
            body = self.serde.loads_typed(tuple(rec["ckpt"]))
            metadata = self.serde.loads_typed(tuple(rec["meta"]))
            refs = {ch: ref for ch, (_ver, ref) in rec["refs"].items()}
            values = self.codec.decode_many(refs, self.fetch_for(a))
            body["channel_versions"] = {ch: ver for ch, (ver, _ref) in rec["refs"].items()}
        except CorruptRecordError as exc:
            raise exc.with_context(
                thread_id=a.thread_id, checkpoint_ns=a.checkpoint_ns, checkpoint_id=checkpoint_id
            ) from None
        parent = rec["parent"]
        return CheckpointTuple(
            config=a.config(checkpoint_id),
            checkpoint=cast(Checkpoint, {**body, "channel_values": values}),
            metadata=metadata,
            parent_config=a.config(parent) if parent else None,
            pending_writes=self._pending_writes(a, checkpoint_id),
        )

    def thread_names(self) -> list[str]:
        """Encoded names of every thread in the store."""
        return self.store.list(keys.threads_root())

    def thread_id_of(self, t: str) -> str | None:
        """The original thread id behind an encoded name (reads the info record if hashed)."""
        if not keys.is_hashed(t):
            return keys.decode_name(t)
        key = keys.thread_info(t)
        data = self.store.read(key)
        if data is None:
            return None
        info = self._decode(data, Kind.THREAD_INFO, key)
        return str(info["thread_id"])

    def namespaces(self, thread_id: str) -> list[Address]:
        t = self.name(thread_id)
        out = []
        for n in self.store.list(keys.namespaces_dir(t)):
            if keys.is_hashed(n):
                ns = self._namespace_from_records(t, n)
                if ns is None:
                    continue
            else:
                ns = keys.decode_name(n)
            out.append(Address(thread_id, ns, t, n))
        return out

    def _namespace_from_records(self, t: str, n: str) -> str | None:
        """A hashed namespace name is recovered from any of its checkpoint records."""
        for cid in self.store.list(keys.checkpoints_dir(t, n)):
            key = keys.checkpoint(t, n, cid)
            data = self.store.read(key)
            if data is not None:
                return str(self._decode(data, Kind.CHECKPOINT, key)["ns"])
        return None

    def checkpoints(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Newest first per thread; records are read lazily, only as far as ``limit`` needs."""
        if limit is not None and limit <= 0:
            return
        configurable = (config or {}).get("configurable") or {}
        if config is not None and "thread_id" in configurable:
            thread_ids: Iterable[str | None] = [self.address_of(config).thread_id]
        else:
            thread_ids = (self.thread_id_of(t) for t in self.thread_names())
        only_ns = configurable.get("checkpoint_ns")
        only_id = configurable.get("checkpoint_id")
        before_id = get_checkpoint_id(before) if before else None
        remaining = limit
        for thread_id in thread_ids:
            if thread_id is None:
                continue
            addresses = self.namespaces(thread_id)
            if only_ns is not None:
                addresses = [x for x in addresses if x.checkpoint_ns == only_ns]
            streams = [self.newest_first(x, before_id) for x in addresses]
            for cid, x in heapq.merge(*streams, key=lambda item: item[0], reverse=True):
                if only_id and cid != only_id:
                    continue
                rec = self._read_checkpoint(x, cid)
                if rec is None:
                    continue
                if filter:
                    metadata = self.serde.loads_typed(tuple(rec["meta"]))
                    if not all(metadata.get(k) == v for k, v in filter.items()):
                        continue
                yield self._tuple(x, cid, rec)
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return

    def newest_first(self, a: Address, before: str | None = None) -> Iterator[tuple[str, Address]]:
        """(checkpoint id, address) pairs of one namespace, newest first, read in pages.

        Pages grow (8, 16, ... 1024 ids) so ``list(limit=10)`` reads one small page
        of an indexed store while a full listing still takes few calls. A store
        that cannot seek lists once: a page would cost it a full listing each.
        """
        prefix = keys.checkpoints_dir(a.t, a.n)
        if not self.store.seeks_pages:
            for cid in self.store.list_desc(prefix, before=before):
                yield cid, a
            return
        page = _FIRST_PAGE
        while True:
            ids = self.store.list_desc(prefix, before=before, limit=page)
            for cid in ids:
                yield cid, a
            if len(ids) < page:
                return
            before, page = ids[-1], min(page * 2, _LAST_PAGE)

    # -- delta channels (logic in delta.py) --------------------------------------------------------

    def get_delta_channel_history(
        self, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, DeltaChannelHistory]:
        return delta.channel_history(self, config, channels)

    def delta_safe_chain(self, a: Address, checkpoint_id: str) -> set[str]:
        return delta.safe_chain(self, a, checkpoint_id)

    # -- deletion, copy, prune --------------------------------------------------------------------

    def delete_thread(self, thread_id: str) -> None:
        """Tombstone first (durable), then remove: late writes cannot resurrect it."""
        t = self.name(str(thread_id))
        with self.store.lock(keys.thread_dir(t), exclusive=True):
            if self.store.list(keys.thread_dir(t)):
                key = keys.tombstone(self.tombstone_name(str(thread_id)))
                stone = {"boundary": str(uuid6()), "at": time.time()}  # no id: erasure
                self.store.write_many([(key, self._encode(Kind.TOMBSTONE, stone, key))])
            self.store.delete_tree(keys.thread_dir(t))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        for run_id in run_ids:
            r = self.name(run_id)
            thread_names = self.store.list(keys.runs_dir(r))
            for t in thread_names:
                thread_id = self.thread_id_of(t)
                if thread_id is None:
                    continue
                for x in self.namespaces(thread_id):
                    doomed = []
                    for cid in self.store.list(keys.checkpoints_dir(x.t, x.n)):
                        rec = self._read_checkpoint(x, cid)
                        if rec is not None and rec.get("run") == run_id:
                            doomed.append(cid)
                    self.delete_checkpoints(x, doomed)
            self.store.delete_many([keys.run_index(r, t) for t in thread_names])

    def delete_checkpoints(self, a: Address, checkpoint_ids: Iterable[str]) -> None:
        """Delete records first, then their writes.

        A crash in between leaves orphan writes (removed by the next prune), never
        a checkpoint without its writes.
        """
        ids = list(checkpoint_ids)
        self.store.delete_many([keys.checkpoint(a.t, a.n, cid) for cid in ids])
        for cid in ids:
            self.store.delete_tree(keys.writes_dir(a.t, a.n, cid))
        self.rebuild_head(a)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Link every record into the target thread: no content is copied.

        Records never name their thread (the key does), so the same immutable
        file serves both threads, and blobs are shared by address. With
        encryption on, a record is bound to its key, so it is re-sealed for its
        new place instead of linked.
        """
        target_t = self.name(target_thread_id)
        sources = self.namespaces(source_thread_id)
        if not sources:
            return
        with self.store.maintenance_lock(exclusive=False):
            self.store.commit(create=self._content(self.address(target_thread_id), {}, None))
            writes: list[tuple[keys.Key, keys.Key]] = []
            checkpoints: list[tuple[keys.Key, keys.Key]] = []
            runs: set[str] = set()
            for x in sources:
                for cid in self.store.list(keys.writes_root(x.t, x.n)):
                    wdir = keys.writes_dir(x.t, x.n, cid)
                    for name in self.store.list(wdir):
                        writes.append(((*wdir, name), keys.write(target_t, x.n, cid, name)))
                for cid in self.store.list(keys.checkpoints_dir(x.t, x.n)):
                    checkpoints.append(
                        (keys.checkpoint(x.t, x.n, cid), keys.checkpoint(target_t, x.n, cid))
                    )
                    rec = self._read_checkpoint(x, cid)
                    if rec is not None and rec.get("run"):
                        runs.add(rec["run"])
            # writes first: a checkpoint is never visible without its writes
            self._copy_records(writes, Kind.WRITES)
            self._copy_records(checkpoints, Kind.CHECKPOINT)
            target = self.address(target_thread_id)
            for run_id in sorted(runs):
                self.store.commit(create=self._content(target, {}, run_id))
            for x in sources:
                self.rebuild_head(self.address(target_thread_id, x.checkpoint_ns))

    def _copy_records(self, pairs: Sequence[tuple[keys.Key, keys.Key]], kind: Kind) -> None:
        if self.sealer is None:
            self.store.link(pairs)
            return
        items = []
        for src, dst in pairs:
            data = self.store.read(src)
            if data is not None:
                items.append((dst, self._encode(kind, self._decode(data, kind, src), dst)))
        self.store.write_many(items)

    def prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy == "delete":
            for thread_id in thread_ids:
                self.delete_thread(thread_id)
            return
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
        for thread_id in thread_ids:
            for x in self.namespaces(thread_id):
                ids = self.store.list(keys.checkpoints_dir(x.t, x.n))
                if not ids:
                    continue
                keep = self.delta_safe_chain(x, ids[-1])
                self.delete_checkpoints(x, [cid for cid in ids if cid not in keep])
                orphans = set(self.store.list(keys.writes_root(x.t, x.n))) - set(ids)
                for cid in orphans - keep:
                    self.store.delete_tree(keys.writes_dir(x.t, x.n, cid))
