"""Convert a version-1 store (one file per record) into the SQLite layout, in place.

``langgraph-persist upgrade STORE`` (and ``upgrade(path)``). Nothing is
decoded or re-encoded: every record's bytes move as they are, so encrypted
stores upgrade without the key and digests keep proving the bytes are the
ones written.

The steps, and why each can be interrupted and run again:

1. **Stage.** Records are copied into a staging store, ``upgrade/`` inside
   the store directory, in batches of one transaction each. A key already
   staged is skipped, so a re-run continues where a killed one stopped.
2. **Verify.** Every key of the old layout is read back from the staging
   database and compared byte for byte; then every record's framing and
   digest are checked. Any difference stops the upgrade before the switch.
3. **Switch.** The staging database is checkpointed and moved to
   ``store.db``, then ``FORMAT`` is atomically replaced by the version-2
   marker. That rename is the commit point: before it the directory is a
   version-1 store (a staged ``store.db`` beside it is moved back to staging
   by a re-run), after it a version-2 store.
4. **Clean.** The old ``threads/``, ``blobs/``, ``runs/`` and ``tombstones/``
   trees are removed. A version-2 store ignores them, and a re-run of
   ``upgrade`` finishes the removal.

Writers must be stopped. The upgrade holds the store's maintenance lock
exclusively (a version-1 writer holds it shared for every put, so no put is
in flight while it runs), but ``delete_thread`` does not take it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from langgraph_persist import keys, records
from langgraph_persist.errors import ConfigurationError, CorruptRecordError, StoreError
from langgraph_persist.keys import Key
from langgraph_persist.store.files import UPGRADE_STAGING as STAGING
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.local import FILES, SQLITE, layout_of
from langgraph_persist.store.marker import MARKER
from langgraph_persist.store.sqlite import DATABASE, SqliteStore, marker_body

_OLD_TREES = (keys.THREADS, keys.BLOBS, keys.RUNS, keys.TOMBSTONES, "tmp", "trash")
_BATCH = 500

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class UpgradeReport:
    """What ``upgrade`` did."""

    records_copied: int
    records_already_staged: int
    records_verified: int
    already_upgraded: bool = False


def upgrade(path: str | os.PathLike[str], *, progress: Progress | None = None) -> UpgradeReport:
    """Convert the version-1 store at ``path`` into the SQLite layout (module docstring)."""
    root = os.path.abspath(os.fspath(path))
    found = layout_of(root)
    if found is None:
        raise ConfigurationError(f"{root} is not a langgraph-persist store")
    if found == SQLITE:
        _remove_old_trees(root)
        return UpgradeReport(0, 0, 0, already_upgraded=True)
    assert found == FILES
    old = FileStore(root)
    staging_dir = os.path.join(root, STAGING)
    with old.maintenance_lock(exclusive=True):
        _unswitch(root, staging_dir)
        staged = SqliteStore(staging_dir)
        try:
            copied, skipped = _stage(old, staged, progress)
            verified = _verify(old, staged)
        finally:
            staged.close()
        _switch(root, staging_dir)
    _remove_old_trees(root)
    return UpgradeReport(copied, skipped, verified)


def _old_keys(old: FileStore) -> Iterator[Key]:
    for top in (keys.THREADS, keys.BLOBS, keys.RUNS, keys.TOMBSTONES):
        for key, _size, _mtime in old.walk((top,)):
            if keys.is_layout_key(key):  # .DS_Store and the like stay behind
                yield key


def _stage(old: FileStore, staged: SqliteStore, progress: Progress | None) -> tuple[int, int]:
    copied = skipped = 0
    batch: list[Key] = []

    def flush() -> None:
        nonlocal copied, skipped
        present = staged.exists_many(batch)
        todo = [k for k, p in zip(batch, present, strict=True) if not p]
        skipped += len(batch) - len(todo)
        items = [(k, v) for k, v in zip(todo, old.read_many(todo), strict=True) if v is not None]
        staged.commit(create=items)
        copied += len(items)
        if progress is not None:
            progress(copied + skipped, 0)
        batch.clear()

    for key in _old_keys(old):
        batch.append(key)
        if len(batch) >= _BATCH:
            flush()
    if batch:
        flush()
    return copied, skipped


def _verify(old: FileStore, staged: SqliteStore) -> int:
    """Byte-for-byte equality for every old key, and every staged record intact."""
    checked = 0
    old_keys = list(_old_keys(old))
    for start in range(0, len(old_keys), _BATCH):
        chunk = old_keys[start : start + _BATCH]
        for key, a, b in zip(chunk, old.read_many(chunk), staged.read_many(chunk), strict=True):
            if a is None:
                continue  # a foreign or vanished file: nothing to carry over
            if a != b:
                raise StoreError(
                    f"upgrade stopped before switching: {'/'.join(key)} differs in the new "
                    "database; the store is unchanged, run upgrade again"
                )
            if not records.intact(a):
                raise CorruptRecordError(
                    "damaged record found while upgrading; run `langgraph-persist verify` "
                    "first (the store is unchanged)",
                    location="/".join(key),
                )
            checked += 1
    return checked


def _unswitch(root: str, staging_dir: str) -> None:
    """A ``store.db`` beside a version-1 marker is a staged copy from an interrupted switch."""
    db = os.path.join(root, DATABASE)
    if os.path.exists(db):
        os.makedirs(staging_dir, mode=0o700, exist_ok=True)
        os.replace(db, os.path.join(staging_dir, DATABASE))


def _switch(root: str, staging_dir: str) -> None:
    """Move the database into place, then replace the marker: the commit point."""
    os.replace(os.path.join(staging_dir, DATABASE), os.path.join(root, DATABASE))
    tmp = os.path.join(root, f".{MARKER}.upgrade")
    with open(tmp, "wb") as fh:
        fh.write(marker_body())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, os.path.join(root, MARKER))
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_old_trees(root: str) -> None:
    for name in (*_OLD_TREES, STAGING):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(os.path.join(root, name))
