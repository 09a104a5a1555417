"""Whole-store operations: garbage collection, statistics, re-encryption (``verify.py``
checks a store).

These walk the store, so they are admin paths (the CLI's ``gc``, ``stats``
and the saver's ``reencrypt``), never called by LangGraph itself.

Garbage collection is mark-and-sweep and crash-safe by construction:

1. take the store's maintenance lock *exclusively*: every put holds it
   shared from "which blobs exist?" until its record is written, so no put
   can reference a blob that the sweep is about to delete;
2. mark: every blob reachable from any checkpoint record (directly, or
   through a list segment);
3. sweep: delete blobs that are not marked, list segments before the
   elements they name, so an interrupted sweep never leaves a segment whose
   elements are gone (in the file layout; SQLite deletes them in one
   transaction).

Killing it anywhere leaves only garbage that the next run removes; it never
deletes a blob that a record references, because deletion only ever
follows a complete mark. A record that cannot be read during the mark
aborts the collection (we cannot know what it references).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

from langgraph_persist import keys, records
from langgraph_persist.admin import StoreStats
from langgraph_persist.crypto import Encryption
from langgraph_persist.engine import Engine
from langgraph_persist.errors import (
    ConfigurationError,
    CorruptRecordError,
    RecordError,
)
from langgraph_persist.records import Kind
from langgraph_persist.store.base import Store
from langgraph_persist.storemeta import reseal
from langgraph_persist.values import ValueCodec
from langgraph_persist.verify import Progress, expected_kind

TOMBSTONE_GRACE = timedelta(hours=1)
"""How long a deleted thread's tombstone outlives it (see ``_sweep_bookkeeping``)."""

_REWRITE_BATCH = 256
"""Records re-sealed per write (one transaction each in an SQLite store)."""


@dataclass(frozen=True)
class GcReport:
    blobs_checked: int
    blobs_deleted: int
    bytes_freed: int
    bookkeeping_deleted: int = 0
    """Run index entries of deleted threads and expired tombstones removed."""


def fault_point(where: str) -> None:
    """A seam for crash tests; does nothing.

    ``gc`` calls it at exact points: ``"mark"`` after each record it reads
    while marking, ``"sweep"`` before each of its two deletions (segments,
    then the rest). ``tests/fork_killer.py`` replaces it in a forked child to
    SIGKILL itself at the Nth call, so a kill lands inside the mark or between
    the deletions instead of, mostly, during imports.
    """


def _reachable(engine: Engine, *, skip_damaged: bool = False) -> Iterator[bytes]:
    """Every blob digest a checkpoint or writes record references, segments followed.

    A damaged record raises (gc must not sweep what it might reference) unless
    ``skip_damaged`` (statistics: ``verify`` is what reports damage)."""
    store = engine.store
    for key, _size, _mtime in store.walk((keys.THREADS,)):
        if not keys.is_layout_key(key):
            continue  # a foreign file (.DS_Store, notes.txt) references nothing
        kind = expected_kind(key)
        if kind not in (Kind.CHECKPOINT, Kind.WRITES):
            continue
        data = store.read(key)
        if data is None:
            continue
        fault_point("mark")
        try:
            reached = _reached_by(engine, kind, key, data)
        except RecordError:
            if skip_damaged:
                continue
            raise
        yield from reached


def _reached_by(engine: Engine, kind: Kind, key: keys.Key, data: bytes) -> list[bytes]:
    """The content one record reaches: its references, and the elements of its segments."""
    rec = engine.records.decode(data, kind, key)
    out: list[bytes] = []
    for ref in ValueCodec.record_refs(kind, rec):
        out += ValueCodec.direct_digests(ref)
        if ref is not None and ref[0] == "l":
            segments = engine.reader.fetch_blobs(ref[1])
            for seg in ref[1]:
                out += ValueCodec.segment_digests(segments[seg])
    return out


def gc(
    engine: Engine,
    *,
    progress: Progress | None = None,
    tombstone_grace: timedelta = TOMBSTONE_GRACE,
) -> GcReport:
    """Delete blobs no checkpoint references (see module docstring for why it is safe),
    then the bookkeeping of deleted threads (``_sweep_bookkeeping``)."""
    store = engine.store
    forgotten = _sweep_bookkeeping(engine, tombstone_grace)
    with store.maintenance_lock(exclusive=True):
        try:
            marked = set(_reachable(engine))
        except CorruptRecordError as exc:
            raise CorruptRecordError(
                f"garbage collection stopped before deleting anything: {exc.reason}; "
                "run verify --repair first",
                location=exc.location,
            ) from None
        blobs = [b for b in store.walk((keys.BLOBS,)) if keys.is_layout_key(b[0])]
        doomed: list[keys.Key] = []
        freed = 0
        for done, (key, size, _mtime) in enumerate(blobs, 1):
            if progress:
                progress(done, len(blobs))
            if keys.blob_digest(key) not in marked:
                doomed.append(key)
                freed += size
        segments = _segments_among(store, doomed)
        fault_point("sweep")
        store.delete_many(sorted(segments))
        fault_point("sweep")
        store.delete_many([k for k in doomed if k not in segments])
        store.scrub()  # deleted bytes leave the medium too (erasure, docs/security.md)
    return GcReport(
        blobs_checked=len(blobs),
        blobs_deleted=len(doomed),
        bytes_freed=freed,
        bookkeeping_deleted=forgotten,
    )


def _sweep_bookkeeping(engine: Engine, tombstone_grace: timedelta) -> int:
    """Erase what a deleted thread left outside its own tree.

    * run index entries (``runs/<run>/<thread>``) of threads that no longer exist;
    * tombstones older than ``tombstone_grace``: a tombstone only stops runs that
      began before the deletion from writing the thread back, and after the grace
      period (an hour by default) no such run is expected to be alive.

    With both gone, ``delete_thread`` + ``gc`` leave nothing derived from the id
    in the store (docs/security.md, "Erasure").
    """
    store = engine.store
    doomed: list[keys.Key] = []
    for r in store.list((keys.RUNS,)):
        threads = store.list(keys.runs_dir(r))
        alive = store.exists_many([keys.thread_info(t) for t in threads])
        doomed += [keys.run_index(r, t) for t, ok in zip(threads, alive, strict=True) if not ok]
    cutoff = time.time() - tombstone_grace.total_seconds()
    for name in store.list((keys.TOMBSTONES,)):
        key = keys.tombstone(name)
        data = store.read(key)
        if data is None:
            continue
        stone = engine.records.decode(data, Kind.TOMBSTONE, key)
        if float(stone.get("at", 0)) <= cutoff:
            doomed.append(key)
    store.delete_many(doomed)
    return len(doomed)


def _segments_among(store: Store, blob_keys: list[keys.Key]) -> set[keys.Key]:
    """Which of these blobs are list segments (the kind byte of their header)."""
    out: set[keys.Key] = set()
    for start in range(0, len(blob_keys), 256):
        chunk = blob_keys[start : start + 256]
        for key, data in zip(chunk, store.read_many(chunk), strict=True):
            if data is not None and len(data) > 5 and data[5] == Kind.SEGMENT:
                out.add(key)
    return out


def stats(engine: Engine, *, dedup: bool = False) -> StoreStats:
    """Counts and sizes from one walk of the store; with ``dedup``, also what content
    sharing saves (one more pass, over every record: see ``_dedup_ratio``)."""
    threads = checkpoints = writes = blobs = total = blob_bytes = 0
    sizes: dict[bytes, int] = {}
    for key, size, _mtime in engine.store.walk(()):
        if not keys.is_layout_key(key):
            continue
        total += size
        kind = expected_kind(key)
        if keys.in_blobs(key):
            blobs += 1
            blob_bytes += size
            if dedup:
                sizes[bytes.fromhex(key[-1])] = size
        elif kind is Kind.THREAD_INFO:
            threads += 1
        elif kind is Kind.CHECKPOINT:
            checkpoints += 1
        elif kind is Kind.WRITES:
            writes += 1
    return StoreStats(
        threads=threads,
        checkpoints=checkpoints,
        write_records=writes,
        blobs=blobs,
        bytes_total=total,
        bytes_blobs=blob_bytes,
        tiers=engine.store.stats(),
        bytes_on_disk=engine.store.source_of_truth().disk_bytes(),
        dedup_ratio=_dedup_ratio(engine, sizes) if dedup else None,
    )


def _dedup_ratio(engine: Engine, sizes: dict[bytes, int]) -> float | None:
    """Bytes of content each record reaches (segments followed), summed over records,
    over the bytes of content stored. Records reaching the same blob count it each
    time: that is what storing every checkpoint whole would cost."""
    stored = sum(sizes.values())
    if not stored:
        return None
    reached = sum(sizes.get(digest, 0) for digest in _reachable(engine, skip_damaged=True))
    return reached / stored


def reencrypt(engine: Engine, *, progress: Progress | None = None) -> int:
    """Re-seal every record whose payload is not under the current key.

    Each record is rewritten atomically in place (same key, so the same
    associated data); an interrupted run leaves a mix of old and new keys,
    all readable, and can simply be run again.
    """
    sealer = engine.sealer
    if sealer is None:
        raise ConfigurationError("reencrypt needs a saver configured with encryption")
    current = getattr(sealer, "current", None)
    store = engine.store
    # meta/store stays readable without a key: it says the store is encrypted
    all_keys = [k for k, _size, _mtime in store.walk(()) if not keys.in_meta(k)]
    rewritten = 0
    batch: list[tuple[keys.Key, bytes]] = []
    with store.maintenance_lock(exclusive=True):
        for done, key in enumerate(all_keys, 1):
            if progress:
                progress(done, len(all_keys))
            data = store.read(key)
            if data is None:
                continue
            flags = data[6] if len(data) > 6 else 0
            key_id_of = getattr(sealer, "key_id_of", None)
            payload = data[records.HEADER_SIZE :]
            if flags & records.FLAG_ENCRYPTED and key_id_of and key_id_of(payload) == current:
                continue
            obj, kind = engine.records.decode_any(data, key, allow_plaintext=True)
            batch.append((key, engine.records.encode(kind, obj, key)))
            rewritten += 1
            if len(batch) >= _REWRITE_BATCH:
                store.write_many(batch)
                batch.clear()
        store.write_many(batch)
        if isinstance(sealer, Encryption):
            reseal(store, sealer)
        store.scrub()  # the plaintext and the old key's copies leave the medium too
    return rewritten
