"""Reading: where a thread lives, and what its records and content say.

The one reading API of the engine. The writer, the lifecycle operations,
DeltaChannel support, ``verify`` and ``gc`` all read through it, so what is
checked on a read (digest, seal, the content's address) is checked the same
way everywhere.

Caches hold *stored bytes* decoded, which are immutable, never user objects:
a value mutated in place between two puts is re-serialized and stored as it is.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal, NamedTuple, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    Checkpoint,
    CheckpointTuple,
    PendingWrite,
    get_checkpoint_id,
    writes_sort_key,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import facets, keys, records
from langgraph_persist.address import Address, address_of
from langgraph_persist.engine.codec import RecordCodec, location
from langgraph_persist.engine.shapes import CheckpointRecord, WritesRecord
from langgraph_persist.errors import CorruptRecordError, DanglingReferenceError
from langgraph_persist.facets import Scalar
from langgraph_persist.lru import LRU
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store
from langgraph_persist.values import Ref, ValueCodec

BLOB_CACHE_BYTES = 64 * 1024 * 1024
RECORD_CACHE_ENTRIES = 4096
VERIFIED_RECORD_ENTRIES = 4096
"""Records whose stored bytes were verified and decoded (see ``Reader.decode_record``)."""
ADDRESS_CACHE_ENTRIES = 1024
"""Addresses of string ids remembered by ``Reader.address_of``."""
ShareContent = Literal["store", "thread"]
"""Which writes equal content is stored once for (see ``Reader.hash_key_for``)."""

_TOMBSTONE_KEY = b"lgp-tombstone-names"
"""Keys tombstone names in stores whose names are not keyed (see ``tombstone_name``)."""
_PAGE = 16
"""Checkpoints ``list`` reads and decodes together."""
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


class Reader:
    """Names, records and content of one store, verified on every read."""

    def __init__(
        self,
        store: Store,
        serde: SerializerProtocol,
        records: RecordCodec,
        *,
        hash_key: bytes = b"",
        name_key: bytes = b"",
        check_addresses: bool = True,
        share_content: ShareContent = "store",
    ) -> None:
        self.store = store
        self.serde = serde
        self.records = records
        self.values = ValueCodec(serde, hash_key)
        self.name_key = name_key
        self.check_addresses = check_addresses
        """Content read is re-hashed against its address (off only for stores whose
        address key changed with a key rotation before storemeta.py existed)."""
        self.share_content = share_content
        self._blob_cache = LRU(BLOB_CACHE_BYTES)
        self._records = LRU(RECORD_CACHE_ENTRIES)
        self._verified = LRU(VERIFIED_RECORD_ENTRIES)
        self._addresses = LRU(ADDRESS_CACHE_ENTRIES)

    # -- names ------------------------------------------------------------------------------------

    def address(self, thread_id: str, checkpoint_ns: str = "") -> Address:
        """Where a thread's namespace lives in this store (names keyed if it hides ids)."""
        return Address.of(str(thread_id), checkpoint_ns, self.name_key)

    def address_of(self, config: RunnableConfig) -> Address:
        """The address a config names; string ids are remembered (an ``Address`` is
        immutable, and encoding a name costs a few regex matches at every read)."""
        configurable = config.get("configurable") or {}
        thread_id = configurable.get("thread_id")
        ns = configurable.get("checkpoint_ns") or ""
        if type(thread_id) is not str or type(ns) is not str:
            return address_of(config, self.name_key)
        hit: Address | None = self._addresses.get((thread_id, ns))
        if hit is None:
            hit = address_of(config, self.name_key)
            self._addresses.put((thread_id, ns), hit)
        return hit

    def name(self, value: str) -> str:
        """The store name of an id (thread, namespace, run) in this store."""
        return keys.encode_name(value, self.name_key)

    def tombstone_name(self, thread_id: str) -> str:
        """A deleted thread's tombstone is named by a digest of its id, never the id:
        after ``delete_thread`` and ``gc`` the store must not spell a deleted id out."""
        return keys.encode_name(thread_id, self.name_key or _TOMBSTONE_KEY)

    def hash_key_for(self, t: str) -> bytes:
        """The address key of content written for thread ``t``.

        ``share_content="store"`` (default): one key, so equal content is stored
        once store-wide. ``"thread"``: a key per thread, so no thread's writes
        reveal (by what they do not add) what another thread stored; the price is
        that threads share nothing, and ``copy_thread`` copies content.
        """
        if self.share_content == "store":
            return self.values.hash_key
        return hashlib.blake2b(
            t.encode(), digest_size=32, key=self.values.hash_key, person=b"lgp-thread-addr"
        ).digest()

    # -- records ----------------------------------------------------------------------------------

    def checkpoint_record(
        self, a: Address, checkpoint_id: str, *, cached: bool = False
    ) -> CheckpointRecord | None:
        """A checkpoint's decoded record (references, not values), or None when absent.

        ``cached`` may answer from records read or written earlier (a writer's
        parent); otherwise the store is asked, so a deletion is always seen."""
        if cached:
            hit: CheckpointRecord | None = self._records.get((a.t, a.n, checkpoint_id))
            if hit is not None:
                return hit
        key = keys.checkpoint(a.t, a.n, checkpoint_id)
        data = self.store.read(key)
        if data is None:
            return None
        rec = self.decode_checkpoint(a, checkpoint_id, data)
        self.remember(a, checkpoint_id, rec)
        return rec

    def decode_checkpoint(self, a: Address, checkpoint_id: str, data: bytes) -> CheckpointRecord:
        """A checkpoint record's bytes, verified; damage names the checkpoint."""
        key = keys.checkpoint(a.t, a.n, checkpoint_id)
        try:
            rec: CheckpointRecord = self.decode_record(data, Kind.CHECKPOINT, key)
        except CorruptRecordError as exc:
            raise exc.with_context(
                thread_id=a.thread_id, checkpoint_ns=a.checkpoint_ns, checkpoint_id=checkpoint_id
            ) from None
        return rec

    def decode_record(self, data: bytes, kind: Kind, key: keys.Key) -> Any:
        """A checkpoint or writes record just read from the store, verified.

        Its digest is checked at every read (``records.intact``). When its bytes
        are also exactly the bytes verified and decoded at ``key`` before, that
        decoding is returned instead of being redone (decompression, decryption,
        msgpack: most of a small read's cost). The store was asked for the
        bytes, so a deleted or rewritten record is always seen; what is cached
        was verified, and is shared read-only like ``checkpoint_record``'s.
        """
        hit: tuple[bytes, Any] | None = self._verified.get((kind, key))
        if hit is not None and hit[0] == data and records.intact(data):
            return hit[1]
        obj = self.records.decode(data, kind, key)
        self._verified.put((kind, key), (data, obj))
        return obj

    def remember(self, a: Address, checkpoint_id: str, record: CheckpointRecord) -> None:
        """Keep a record just written, so the next put (its child) need not read it."""
        self._records.put((a.t, a.n, checkpoint_id), record)

    def metadata(self, a: Address, checkpoint_id: str) -> dict[str, Any] | None:
        """A checkpoint's metadata, decoding no channel value (cheap listings, filters)."""
        rec = self.checkpoint_record(a, checkpoint_id)
        return None if rec is None else dict(self.serde.loads_typed(tuple(rec["meta"])))

    # -- content ----------------------------------------------------------------------------------

    def fetch_for(self, a: Address) -> Callable[[Iterable[bytes]], dict[bytes, Any]]:
        """``fetch_blobs`` checking addresses with thread ``a``'s key."""
        hash_key = self.hash_key_for(a.t)
        return lambda digests: self.fetch_blobs(digests, hash_key)

    def fetch_blobs(
        self, digests: Iterable[bytes], hash_key: bytes | None = None
    ) -> dict[bytes, Any]:
        """Verified blob payloads, from the cache or the store (one batched read).

        Content is re-hashed against its address with ``hash_key``; ``None`` skips
        that check (gc, which only follows references and knows no thread)."""
        out, missing = self._blob_cache.get_many(digests)
        if missing:
            blob_keys = [keys.blob(d) for d in missing]
            for d, data in zip(missing, self.store.read_many(blob_keys), strict=True):
                out[d] = self._verified_blob(d, data, hash_key)
        return out

    def _verified_blob(self, digest: bytes, data: bytes | None, hash_key: bytes | None) -> Any:
        obj, _kind = self.check_content(digest, data, hash_key)
        assert data is not None  # check_content raised otherwise
        self._blob_cache.put(digest, obj, len(data) + 64)
        return obj

    def check_content(
        self, digest: bytes, data: bytes | None, hash_key: bytes | None
    ) -> tuple[Any, Kind]:
        """(payload, kind) of the content stored at address ``digest``, verified:
        present, intact, a blob or segment, and (unless ``hash_key`` is None)
        what its address names. The one check every reader, ``verify`` included,
        applies to content."""
        key = keys.blob(digest)
        if data is None:
            raise DanglingReferenceError("referenced content is missing", location=location(key))
        obj, kind = self.records.decode_any(data, key)
        if kind not in (Kind.BLOB, Kind.SEGMENT):
            raise CorruptRecordError(
                f"{kind.name} record in the blob store", location=location(key)
            )
        if (
            self.check_addresses
            and hash_key is not None
            and records.content_digest(kind, records.pack(obj), hash_key) != digest
        ):
            # intact, but not what this address names: swapped or planted
            raise CorruptRecordError("content does not match its address", location=location(key))
        return obj, kind

    # -- pending writes ---------------------------------------------------------------------------

    def raw_writes(self, a: Address, checkpoint_id: str) -> list[RawWrite]:
        """Merged pending writes of one checkpoint (see ``merge_writes``)."""
        return self.raw_writes_of(a, [checkpoint_id])[0]

    def raw_writes_of(self, a: Address, checkpoint_ids: Sequence[str]) -> list[list[RawWrite]]:
        """``raw_writes`` of several checkpoints of one namespace, read in one batch."""
        found = self.store.read_children([keys.writes_dir(a.t, a.n, c) for c in checkpoint_ids])
        return [
            self.merge_writes(a, cid, items) if items else []
            for cid, items in zip(checkpoint_ids, found, strict=True)
        ]

    def merge_writes(
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
                rec: WritesRecord = self.decode_record(data, Kind.WRITES, key)
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

    def decode_writes(self, a: Address, raw: Sequence[RawWrite]) -> list[PendingWrite]:
        """Pending writes with their values, blobs fetched in one batch."""
        values = self.values.decode_many(dict(enumerate(w.ref for w in raw)), self.fetch_for(a))
        return [(w.task, w.channel, values.get(i)) for i, w in enumerate(raw)]

    def stored_writes(self, a: Address, checkpoint_id: str) -> list[StoredWrite]:
        """A checkpoint's pending writes with everything stored: task path and index too.

        ``get_tuple``'s ``pending_writes`` drop those (LangGraph's tuple shape);
        migration and snapshots keep them so a copy replays in the same order.
        """
        raw = self.raw_writes(a, checkpoint_id)
        decoded = self.decode_writes(a, raw)
        return [
            StoredWrite(w.task, w.idx, w.channel, value, w.path)
            for w, (_task, _channel, value) in zip(raw, decoded, strict=True)
        ]

    # -- checkpoints ------------------------------------------------------------------------------

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
            rec = self.checkpoint_record(a, cid)
            if rec is not None:
                return self.checkpoint_tuple(a, cid, rec)
            if checkpoint_id:
                return None
            # the latest was deleted between listing and reading: list again
        return None

    def checkpoint_tuple(
        self, a: Address, checkpoint_id: str, rec: CheckpointRecord
    ) -> CheckpointTuple:
        """The checkpoint tuple of a record (see ``checkpoint_tuples``)."""
        return next(self.checkpoint_tuples(a, [(checkpoint_id, rec)]))

    def checkpoint_tuples(
        self, a: Address, found: Sequence[tuple[str, CheckpointRecord]]
    ) -> Iterator[CheckpointTuple]:
        """Checkpoint tuples of records of one namespace, decoded together.

        Their pending writes are read in one batch, and the content that channel
        values and writes reference in one batched fetch, so a page of ``list``
        costs a few store calls, not a few per checkpoint. When something is
        damaged, each checkpoint is decoded on its own, so the error names the
        one that is.
        """
        if len(found) > 1:
            try:
                yield from self._tuples(a, found)
            except CorruptRecordError:
                for cid, rec in found:  # the newer ones first, then the damaged one raises
                    yield self.checkpoint_tuple(a, cid, rec)
            return
        try:
            yield from self._tuples(a, found)
        except CorruptRecordError as exc:
            raise exc.with_context(
                thread_id=a.thread_id, checkpoint_ns=a.checkpoint_ns, checkpoint_id=found[0][0]
            ) from None

    def _tuples(
        self, a: Address, found: Sequence[tuple[str, CheckpointRecord]]
    ) -> list[CheckpointTuple]:
        writes = self.raw_writes_of(a, [cid for cid, _rec in found])
        refs: dict[tuple[int, str, Any], Ref] = {}
        for i, ((_cid, rec), raw) in enumerate(zip(found, writes, strict=True)):
            refs.update({(i, "c", ch): ref for ch, (_ver, ref) in rec["refs"].items()})
            refs.update({(i, "w", j): w.ref for j, w in enumerate(raw)})
        decoded = self.values.decode_many(refs, self.fetch_for(a))
        out = []
        for i, ((cid, rec), raw) in enumerate(zip(found, writes, strict=True)):
            body = self.serde.loads_typed(tuple(rec["ckpt"]))
            body["channel_versions"] = {ch: ver for ch, (ver, _ref) in rec["refs"].items()}
            values = {ch: decoded[(i, "c", ch)] for ch in rec["refs"] if (i, "c", ch) in decoded}
            parent = rec["parent"]
            out.append(
                CheckpointTuple(
                    config=a.config(cid),
                    checkpoint=cast(Checkpoint, {**body, "channel_values": values}),
                    metadata=self.serde.loads_typed(tuple(rec["meta"])),
                    parent_config=a.config(parent) if parent else None,
                    pending_writes=[
                        (w.task, w.channel, decoded.get((i, "w", j))) for j, w in enumerate(raw)
                    ],
                )
            )
        return out

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
        info = self.records.decode(data, Kind.THREAD_INFO, key)
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
                return str(self.records.decode(data, Kind.CHECKPOINT, key)["ns"])
        return None

    def checkpoints(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Newest first per thread; records are read lazily, only as far as ``limit`` needs.

        A ``filter`` is matched on the metadata alone, before any channel value
        or pending write is read or decoded."""
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
            narrow = facets.pushable(filter)
            streams = [self.newest_first(x, before_id, narrow) for x in addresses]
            merged = heapq.merge(*streams, key=lambda item: item[0], reverse=True)
            wanted = ((cid, x) for cid, x in merged if not only_id or cid == only_id)
            while page := list(itertools.islice(wanted, min(remaining or _PAGE, _PAGE))):
                for found in self._read_page(page, filter):
                    yield found
                    if remaining is not None:
                        remaining -= 1
                        if remaining <= 0:
                            return

    def _read_page(
        self, page: Sequence[tuple[str, Address]], filter: dict[str, Any] | None
    ) -> Iterator[CheckpointTuple]:
        """Tuples of a page of (id, address), newest first: records in one batched read,
        the metadata filter applied before any value or write is read, then each
        namespace's tuples decoded together (``checkpoint_tuples``). A damaged
        checkpoint raises after every newer one of the page was yielded, as it
        would without the batching."""
        rec_keys = [keys.checkpoint(x.t, x.n, cid) for cid, x in page]
        kept: list[tuple[str, Address, CheckpointRecord]] = []
        failure: CorruptRecordError | None = None
        for (cid, x), data in zip(page, self.store.read_many(rec_keys), strict=True):
            if data is None:
                continue  # deleted since it was listed
            try:
                rec = self.decode_checkpoint(x, cid, data)
            except CorruptRecordError as exc:
                failure = exc
                break
            self.remember(x, cid, rec)
            if filter:
                metadata = self.serde.loads_typed(tuple(rec["meta"]))
                if not all(metadata.get(k) == v for k, v in filter.items()):
                    continue
            kept.append((cid, x, rec))
        for x, group in itertools.groupby(kept, key=lambda item: item[1]):
            yield from self.checkpoint_tuples(x, [(cid, rec) for cid, _x, rec in group])
        if failure is not None:
            raise failure

    def newest_first(
        self, a: Address, before: str | None = None, narrow: Mapping[str, Scalar] | None = None
    ) -> Iterator[tuple[str, Address]]:
        """(checkpoint id, address) pairs of one namespace, newest first, read in pages.

        Pages grow (8, 16, ... 1024 ids) so ``list(limit=10)`` reads one small page
        of an indexed store while a full listing still takes few calls. A store
        that cannot seek lists once: a page would cost it a full listing each.
        ``narrow`` (facets.py) lets the store skip checkpoints whose metadata
        cannot match the filter; what it returns is still filtered after decoding.
        """
        prefix = keys.checkpoints_dir(a.t, a.n)
        if not self.store.seeks_pages:
            for cid in self.store.list_desc(prefix, before=before, facets=narrow):
                yield cid, a
            return
        page = _FIRST_PAGE
        while True:
            ids = self.store.list_desc(prefix, before=before, limit=page, facets=narrow)
            for cid in ids:
                yield cid, a
            if len(ids) < page:
                return
            before, page = ids[-1], min(page * 2, _LAST_PAGE)
