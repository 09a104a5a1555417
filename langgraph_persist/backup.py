"""Online backup and restore of a whole store: consistent while writers run, verified.

``PersistSaver.backup(dest)`` (CLI: ``langgraph-persist backup DEST``) copies
the store's source of truth into an SQLite store at ``dest``. Why it is
consistent without stopping writers, in two passes under the store's
maintenance lock (shared, as every writer holds it):

1. **records** (checkpoints, writes, thread info, runs, tombstones), then
2. **content** (blobs), that is, everything stored *after* pass 1 began.

A put commits its content no later than its record, so every record copied in
pass 1 had its content in the store before pass 2 started; and ``gc``, which
alone deletes content, is excluded by the lock. The copy therefore never holds
a record whose content is missing. A checkpoint acknowledged before the backup
began is in the copy; one written during it may or may not be.

Pass 1 copies the namespaces' **heads** first (engine/heads.py): a head names a
namespace's newest checkpoint and counts its write records, and ``verify``
accepts a head that lags the records, never one that leads them. Read before
the records it describes, a head can only lag them; read after, it could name
a checkpoint or count a write record that arrived too late to be listed. A
namespace emptied meanwhile (its thread deleted during the backup) keeps no
head in the copy.

Bytes are copied as they are: an encrypted store stays encrypted, and every
digest keeps proving the bytes. The copy is verified before ``backup`` returns.

Incremental: backing up into an existing backup copies only the content it
lacks (content is immutable under its address), rewrites the records (they
are small), drops the records the source no longer has, and collects the
content nothing references any more.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langgraph_persist import keys
from langgraph_persist.errors import ConfigurationError, CorruptRecordError
from langgraph_persist.store.base import Store
from langgraph_persist.store.local import layout_of
from langgraph_persist.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from langgraph_persist.saver import PersistSaver

Progress = Callable[[int, int], None]
_BATCH = 256


@dataclass(frozen=True)
class BackupReport:
    """What a backup (or restore) copied, and that the copy verified."""

    records: int
    blobs_copied: int
    blobs_reused: int
    records_dropped: int
    verified: bool


def _between_passes() -> None:
    """A seam for tests: runs after the record pass, before the content pass."""


def _after_heads() -> None:
    """A seam for tests: runs after the heads are copied, before the other records."""


def backup(
    saver: PersistSaver, dest: str | os.PathLike[str], *, progress: Progress | None = None
) -> BackupReport:
    """Copy the saver's store into an SQLite store at ``dest`` (see module docstring)."""
    from langgraph_persist.saver import PersistSaver

    dest = os.path.abspath(os.fspath(dest))
    if layout_of(dest) not in (None, "sqlite"):
        raise ConfigurationError(f"{dest} holds a store in the file layout; back up elsewhere")
    saver.store.flush()  # write-behind: what is acknowledged belongs in the source of truth
    source = saver.store.source_of_truth()
    target = SqliteStore(dest)
    try:
        with source.maintenance_lock(exclusive=False):
            heads = [k for k, _s, _m in source.walk((keys.THREADS,)) if _is_head(k)]
            copied_heads = _copy(source, target, heads, replace=True, progress=progress)
            _after_heads()
            walked = [k for k, _s, _m in source.walk(()) if keys.is_layout_key(k)]
            records = [k for k in walked if not keys.in_blobs(k) and not _is_head(k)]
            copied_records = _copy(source, target, records, replace=True, progress=progress)
            copied_records += _heads_with_checkpoints(target, copied_heads)
            _between_passes()
            blobs = [k for k, _s, _m in source.walk((keys.BLOBS,)) if keys.is_layout_key(k)]
            missing = [
                k for k, present in zip(blobs, _exists(target, blobs), strict=True) if not present
            ]
            _copy(source, target, missing, replace=False, progress=progress)
        stale = sorted(
            {k for k, _s, _m in target.walk(()) if not keys.in_blobs(k)} - set(copied_records)
        )
        target.delete_many(stale)
    finally:
        target.close()
    copy = PersistSaver(dest, encryption=saver.encryption, audit_log=False)
    try:
        copy.gc()  # content the dropped records alone referenced
        report = copy.verify()
    finally:
        copy.close()
    if not report.ok:
        first = report.damaged[0]
        raise CorruptRecordError(
            f"the backup at {dest} does not verify ({len(report.damaged)} damaged): {first.reason}",
            location=first.location,
        )
    return BackupReport(
        records=len(copied_records),
        blobs_copied=len(missing),
        blobs_reused=len(blobs) - len(missing),
        records_dropped=len(stale),
        verified=True,
    )


def _is_head(key: keys.Key) -> bool:
    parsed = keys.parse(key)
    return parsed is not None and parsed.place == "head"


def _heads_with_checkpoints(target: Store, heads: Sequence[keys.Key]) -> list[keys.Key]:
    """The copied heads whose namespace has checkpoints in the copy; the others (their
    thread was deleted during the backup) are removed from it."""
    kept: list[keys.Key] = []
    emptied: list[keys.Key] = []
    for key in heads:
        parsed = keys.parse(key)
        assert parsed is not None and parsed.t is not None and parsed.n is not None
        (kept if target.list(keys.checkpoints_dir(parsed.t, parsed.n)) else emptied).append(key)
    target.delete_many(emptied)
    return kept


def restore(
    source: str | os.PathLike[str],
    saver: PersistSaver,
    *,
    progress: Progress | None = None,
) -> BackupReport:
    """Put a backup back: copy it into ``saver``'s store, which must hold no thread yet."""
    from langgraph_persist.saver import PersistSaver

    if saver.threads():
        raise ConfigurationError(
            "restore needs an empty store: this one already holds threads (restore into a "
            "new directory, then move it into place)"
        )
    backup_saver = PersistSaver(source, encryption=saver.encryption, read_only=True)
    try:
        report = backup_saver.verify()
        if not report.ok:
            raise CorruptRecordError(
                f"the backup at {os.fspath(source)} does not verify; nothing was restored",
                location=report.damaged[0].location,
            )
        store = backup_saver.store
        walked = [k for k, _s, _m in store.walk(()) if keys.is_layout_key(k)]
        target = saver.store
        blobs = [k for k in walked if keys.in_blobs(k)]
        records = [k for k in walked if not keys.in_blobs(k)]
        _copy(store, target, blobs, replace=False, progress=progress)  # content first
        _copy(store, target, records, replace=True, progress=progress)  # meta/store included
    finally:
        backup_saver.close()
    verified = PersistSaver(store=saver.store, encryption=saver.encryption, audit_log=False)
    return BackupReport(len(records), len(blobs), 0, 0, verified=verified.verify().ok)


def _exists(store: Store, items: Sequence[keys.Key]) -> list[bool]:
    out: list[bool] = []
    for start in range(0, len(items), _BATCH):
        out += store.exists_many(items[start : start + _BATCH])
    return out


def _copy(
    source: Store,
    target: Store,
    items: Sequence[keys.Key],
    *,
    replace: bool,
    progress: Progress | None,
) -> list[keys.Key]:
    """Copy ``items`` in batches (one transaction each); returns the keys that existed."""
    copied: list[keys.Key] = []
    for start in range(0, len(items), _BATCH):
        chunk = items[start : start + _BATCH]
        batch = [(k, v) for k, v in zip(chunk, source.read_many(chunk), strict=True) if v]
        if replace:
            target.write_many(batch)
        else:
            target.create_many(batch)
        copied += [k for k, _v in batch]
        if progress is not None:
            progress(start + len(chunk), len(items))
    return copied
