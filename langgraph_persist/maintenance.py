"""Whole-store operations: verify (and repair), garbage collection, statistics.

These walk the store, so they are admin paths (the CLI's ``verify``, ``gc``
and ``stats``), never called by LangGraph itself.

Garbage collection is mark-and-sweep and crash-safe by construction:

1. take the store's maintenance lock *exclusively*: every put holds it
   shared from "which blobs exist?" until its record is written, so no put
   can reference a blob that the sweep is about to delete;
2. mark: every blob reachable from any checkpoint record (directly, or
   through a list segment);
3. sweep: delete blobs that are not marked.

Killing it anywhere leaves only garbage that the next run removes; it never
deletes a blob that a record references, because deletion only ever
follows a complete mark. A record that cannot be read during the mark
aborts the collection (we cannot know what it references).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from langgraph_persist import keys, records
from langgraph_persist.engine import Engine
from langgraph_persist.errors import (
    ConfigurationError,
    CorruptRecordError,
    InvalidIdError,
    PersistError,
    RecordError,
)
from langgraph_persist.records import Kind
from langgraph_persist.values import ValueCodec

Progress = Callable[[int, int], None]
"""``progress(done, total)``; total is 0 while unknown."""


@dataclass(frozen=True)
class Damage:
    """One record that failed verification."""

    location: str
    reason: str
    thread_id: str | None = None
    checkpoint_ns: str | None = None
    checkpoint_id: str | None = None
    repaired: bool = False


@dataclass
class VerifyReport:
    """What ``verify`` looked at and what it found."""

    records_checked: int = 0
    blobs_checked: int = 0
    damaged: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged, or everything damaged was repaired."""
        return all(d.repaired for d in self.damaged)


@dataclass(frozen=True)
class GcReport:
    blobs_checked: int
    blobs_deleted: int
    bytes_freed: int


@dataclass(frozen=True)
class StoreStats:
    threads: int
    checkpoints: int
    write_records: int
    blobs: int
    bytes_total: int
    bytes_blobs: int
    tiers: dict[str, Any]


def _expected_kind(key: keys.Key) -> Kind | None:
    """The kind of record a key must hold, from where it sits in the layout."""
    if key[0] == keys.BLOBS:
        return None  # BLOB or SEGMENT
    if key[0] == keys.RUNS:
        return Kind.RUN_INDEX
    if key[0] == keys.THREADS:
        if len(key) == 3 and key[2] == keys.INFO:
            return Kind.THREAD_INFO
        if len(key) == 6 and key[4] == "c":
            return Kind.CHECKPOINT
        if len(key) == 7 and key[4] == "w":
            return Kind.WRITES
    return None


def _identify(engine: Engine, key: keys.Key) -> tuple[str | None, str | None, str | None]:
    """(thread, namespace, checkpoint) a key belongs to, as far as it can be told."""
    if key[0] != keys.THREADS or len(key) < 2:
        return None, None, None
    try:
        thread_id = engine.thread_id_of(key[1])
    except PersistError:
        thread_id = None
    ns = checkpoint_id = None
    if len(key) >= 6:
        ns = None if keys.is_hashed(key[3]) else keys.decode_name(key[3])
        checkpoint_id = key[5]
    return thread_id, ns, checkpoint_id


def verify(
    engine: Engine, *, repair: bool = False, progress: Progress | None = None
) -> VerifyReport:
    """Check every record's digest and every reference; optionally repair.

    Repair asks the store to restore a damaged key from another copy that
    verifies (the other tier of a tiered store); what has no good copy is
    reported, never deleted.
    """
    report = VerifyReport()
    flush = getattr(engine.store, "flush", None)
    if callable(flush):
        flush()  # write-behind: what is acknowledged belongs in the cold tier
    # Verify the source of truth: through a tiered store, a good hot copy would
    # hide damage in the cold tier. Repair still goes through the tiered store.
    store = getattr(engine.store, "cold", engine.store)
    all_keys = [k for k, _size, _mtime in store.walk(())]
    total = len(all_keys)
    referenced: set[bytes] = set()
    present: set[bytes] = set()
    for done, key in enumerate(all_keys, 1):
        if progress:
            progress(done, total)
        try:
            data = store.read(key)
        except InvalidIdError:  # a file no version of us wrote (a stray, a typo'd copy)
            report.damaged.append(Damage("/".join(key), "unexpected file in the store"))
            continue
        if data is None:
            continue  # deleted while we walked
        location = "/".join(key)
        expect = _expected_kind(key)
        if key[0] == keys.BLOBS:
            report.blobs_checked += 1
            present.add(keys.blob_digest(key))
        else:
            report.records_checked += 1
        try:
            obj, kind = records.decode_with_kind(
                data, expect=expect, location=location, sealer=engine.sealer, aad=location.encode()
            )
            for ref in _refs_of(kind, obj):
                referenced.update(ValueCodec.direct_digests(ref))
            if kind is Kind.SEGMENT:
                referenced.update(ValueCodec.segment_digests(obj))
        except RecordError as exc:
            repaired = repair and _recover(engine, key, expect)
            thread_id, ns, checkpoint_id = _identify(engine, key)
            report.damaged.append(
                Damage(location, str(exc), thread_id, ns, checkpoint_id, repaired=repaired)
            )
    for digest in sorted(referenced - present):
        key = keys.blob(digest)
        repaired = repair and _recover(engine, key, None)
        report.damaged.append(
            Damage("/".join(key), "referenced content is missing", repaired=repaired)
        )
    return report


def _recover(engine: Engine, key: keys.Key, expect: Kind | None) -> bool:
    def good(data: bytes) -> bool:
        try:
            records.decode_with_kind(
                data, expect=expect, sealer=engine.sealer, aad="/".join(key).encode()
            )
        except RecordError:
            return False
        return True

    return engine.store.recover(key, good)


def _refs_of(kind: Kind, obj: Any) -> Iterator[Any]:
    """The value references a checkpoint or writes record holds."""
    if kind is Kind.CHECKPOINT:
        for _ver, ref in obj["refs"].values():
            yield ref
    elif kind is Kind.WRITES:
        for _idx, _channel, ref in obj["w"]:
            yield ref


def _reachable(engine: Engine) -> Iterator[bytes]:
    """Every blob digest a checkpoint or writes record references, segments followed."""
    store = engine.store
    for key, _size, _mtime in store.walk((keys.THREADS,)):
        kind = _expected_kind(key)
        if kind not in (Kind.CHECKPOINT, Kind.WRITES):
            continue
        data = store.read(key)
        if data is None:
            continue
        location = "/".join(key)
        rec = records.decode(
            data, expect=kind, location=location, sealer=engine.sealer, aad=location.encode()
        )
        for ref in _refs_of(kind, rec):
            direct = ValueCodec.direct_digests(ref)
            yield from direct
            if ref is not None and ref[0] == "l":
                segments = engine._fetch_blobs(ref[1])
                for seg in ref[1]:
                    yield from ValueCodec.segment_digests(segments[seg])


def gc(engine: Engine, *, progress: Progress | None = None) -> GcReport:
    """Delete blobs no checkpoint references (see module docstring for why it is safe)."""
    store = engine.store
    with store.maintenance_lock(exclusive=True):
        try:
            marked = set(_reachable(engine))
        except CorruptRecordError as exc:
            raise CorruptRecordError(
                f"garbage collection stopped before deleting anything: {exc.reason}; "
                "run verify --repair first",
                location=exc.location,
            ) from None
        blobs = list(store.walk((keys.BLOBS,)))
        doomed: list[keys.Key] = []
        freed = 0
        for done, (key, size, _mtime) in enumerate(blobs, 1):
            if progress:
                progress(done, len(blobs))
            if keys.blob_digest(key) not in marked:
                doomed.append(key)
                freed += size
        store.delete_many(doomed)
    return GcReport(blobs_checked=len(blobs), blobs_deleted=len(doomed), bytes_freed=freed)


def stats(engine: Engine) -> StoreStats:
    """Counts and sizes from one walk of the store."""
    threads = checkpoints = writes = blobs = total = blob_bytes = 0
    for key, size, _mtime in engine.store.walk(()):
        total += size
        kind = _expected_kind(key)
        if key[0] == keys.BLOBS:
            blobs += 1
            blob_bytes += size
        elif kind is Kind.THREAD_INFO:
            threads += 1
        elif kind is Kind.CHECKPOINT:
            checkpoints += 1
        elif kind is Kind.WRITES:
            writes += 1
    tier_stats = getattr(engine.store, "stats", None)
    return StoreStats(
        threads=threads,
        checkpoints=checkpoints,
        write_records=writes,
        blobs=blobs,
        bytes_total=total,
        bytes_blobs=blob_bytes,
        tiers=tier_stats() if callable(tier_stats) else {"cold": engine.store.describe()},
    )


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
    all_keys = [k for k, _size, _mtime in store.walk(())]
    rewritten = 0
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
            location = "/".join(key)
            obj, kind = records.decode_with_kind(
                data, location=location, sealer=sealer, aad=location.encode(), allow_plaintext=True
            )
            store.write_many(
                [(key, records.encode(kind, obj, sealer=sealer, aad=location.encode()))]
            )
            rewritten += 1
    return rewritten
