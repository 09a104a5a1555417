"""Negative controls: deliberately broken stores on which the reliability checks must FAIL.

A check that passes on a correct store proves little unless it fails on a
broken one. Each store below has one realistic defect; each test runs the
*same* check function the real test runs (the crash harness, the lock,
fsync, verify and concurrency checks) against it and asserts that the check
raises, with the failure it is meant to catch. If one of these tests starts
failing, the corresponding reliability test has gone blind.

The stores are importable by name (``tests.test_negative_controls:Name``) so
the crash harness's forked writers and the concurrency test's processes use
them too.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest

from langgraph_persist import PersistSaver, StoreError, keys
from langgraph_persist.facets import Scalar
from langgraph_persist.keys import Key
from langgraph_persist.store.files import FileStore
from langgraph_persist.store.sqlite import SqliteStore
from tests import fork_killer
from tests.test_concurrency import check_shared_writers
from tests.test_fsync import check_durable_puts
from tests.test_locks import check_exclusive_excludes, check_gc_waits_for_a_put_in_flight
from tests.test_verify_damage import check_missing_content_is_named

HERE = "tests.test_negative_controls"


# -- the broken stores --------------------------------------------------------------------------


class RecordFirstFileStore(FileStore):
    """Commits a checkpoint's record *before* the content it references.

    The classic ordering bug: a crash between the two writes leaves a record
    pointing at nothing. The crash harness kills writers inside commits, so
    some kill lands after the record and before its content.
    """

    def commit(
        self,
        *,
        create: Sequence[tuple[Key, bytes]] = (),
        write: Sequence[tuple[Key, bytes]] = (),
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        if write:
            self.write_many(write)
        if create:
            self.create_many(create)


class DropsEvery7thWrite(SqliteStore):
    """Acknowledges every commit but silently drops the record of every 7th one.

    A lost write: an error swallowed, a cache that never flushed. Nothing is
    torn and ``verify`` is clean; only re-reading what was acknowledged
    notices.
    """

    commits = 0

    def commit(
        self,
        *,
        create: Sequence[tuple[Key, bytes]] = (),
        write: Sequence[tuple[Key, bytes]] = (),
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        if write:
            self.commits += 1
            if self.commits % 7 == 0:
                write = ()
        super().commit(create=create, write=write, defer_sync=defer_sync, facets=facets)


_FIRST_PROCESS = os.getpid()
"""The process that imported this module first: the crash harness's parent."""


class ResumeAlwaysRaises(SqliteStore):
    """In any process but the one that imported it first (the harness's forked
    writers), reading a thread that already has checkpoints raises: every resume
    fails. The old harness swallowed the writer's exception and passed such a
    run with a handful of acknowledgements."""

    def list_desc(
        self,
        prefix: Key,
        *,
        before: str | None = None,
        limit: int | None = None,
        facets: Mapping[str, Scalar] | None = None,
    ) -> list[str]:
        names = super().list_desc(prefix, before=before, limit=limit, facets=facets)
        if names and os.getpid() != _FIRST_PROCESS:
            raise StoreError(f"cannot resume {'/'.join(prefix)}")
        return names


class _NoLocks:
    """Locks that lock nothing: a store on a file system without working ``flock``
    (some network mounts), or a refactoring that lost the ``with``."""

    def lock(
        self, key: Key, exclusive: bool = True, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def maintenance_lock(
        self, exclusive: bool, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()


class NoLockSqliteStore(_NoLocks, SqliteStore):
    """``SqliteStore`` whose thread and maintenance locks are no-ops."""


class NoLockFileStore(_NoLocks, FileStore):
    """``FileStore`` whose thread and maintenance locks are no-ops."""


class NoDirFsyncFileStore(FileStore):
    """Fsyncs each file but never the directory it was renamed into.

    The rename, hence the new record, can vanish on power loss; no process
    crash test can tell. Only counting the syscalls can.
    """

    def _sync_dirs(self, dirs: set[str]) -> None:
        return None


class ForgetfulWalkFileStore(FileStore):
    """A ``walk`` that misses one thread's records, as an eventually consistent
    listing can: gc then marks from an incomplete view and sweeps what that
    thread still references."""

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        hidden = keys.encode_name("live-1")
        for key, size, mtime in super().walk(prefix):
            if len(key) > 1 and key[0] == keys.THREADS and key[1] == hidden:
                continue
            yield key, size, mtime


class StaleCacheFileStore(FileStore):
    """Serves reads from an in-process cache that deletes never invalidate, so
    content gone from the disk still reads back (and ``verify`` through it sees
    nothing wrong)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.cache: dict[Key, bytes] = {}

    def read(self, key: Key) -> bytes | None:
        if key not in self.cache:
            data = super().read(key)
            if data is None:
                return None
            self.cache[key] = data
        return self.cache[key]

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        return [self.read(k) for k in keys]

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        super().write_many(items)
        self.cache.update(items)

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        super().create_many(items)
        self.cache.update(items)


# -- crash: the fork killer ---------------------------------------------------------------------


def test_crash_check_fails_when_the_record_is_committed_before_its_content(
    tmp_path: Path,
) -> None:
    with pytest.raises(AssertionError, match=r"damaged|unreadable|content is missing"):
        fork_killer.run(
            "writes", tmp_path / "s", 40, 2026, "--layout", "files",
            "--store", f"{HERE}:RecordFirstFileStore",
        )  # fmt: skip


def test_crash_check_fails_when_every_7th_write_is_dropped(tmp_path: Path) -> None:
    """Caught as a lost acknowledgement, or earlier, as a turn that did not continue the
    acknowledged one (the next turn silently built on the checkpoint before)."""
    with pytest.raises(AssertionError, match=r"acknowledged checkpoint lost|does not continue"):
        fork_killer.run("writes", tmp_path / "s", 40, 2026, "--store", f"{HERE}:DropsEvery7thWrite")


def test_crash_check_fails_when_every_resume_raises(tmp_path: Path) -> None:
    """The writer's traceback reaches the test, and its exit status is not a kill."""
    with pytest.raises(AssertionError, match=r"(?s)raised.*StoreError: cannot resume"):
        fork_killer.run("writes", tmp_path / "s", 8, 2026, "--store", f"{HERE}:ResumeAlwaysRaises")


def test_gc_crash_check_fails_when_gc_marks_from_an_incomplete_listing(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match=r"live-1/.* (unreadable|lost|reads back differently)"):
        fork_killer.run(
            "gc", tmp_path / "s", 8, 99, "--layout", "files",
            "--store", f"{HERE}:ForgetfulWalkFileStore",
        )  # fmt: skip


# -- locks ------------------------------------------------------------------------------------


@pytest.mark.parametrize("store_class", [NoLockSqliteStore, NoLockFileStore])
def test_lock_check_fails_when_the_thread_lock_does_nothing(
    tmp_path: Path, store_class: type
) -> None:
    with pytest.raises(AssertionError, match="took the thread lock while we held it"):
        check_exclusive_excludes(store_class(tmp_path / "s"), "process", "thread")


@pytest.mark.parametrize("where", ["thread", "process"])
@pytest.mark.parametrize("store_class", [NoLockSqliteStore, NoLockFileStore])
def test_gc_check_fails_when_the_maintenance_lock_does_nothing(
    tmp_path: Path, store_class: type, where: str
) -> None:
    """The put in flight holds a no-op lock: gc sweeps the blob it decided exists, and
    the put then commits a record pointing at nothing."""
    root = tmp_path / "s"
    with pytest.raises(AssertionError, match="gc deleted content a put in flight had decided"):
        check_gc_waits_for_a_put_in_flight(root, store_class(root), where)


# -- fsync, verify, concurrency -------------------------------------------------------------------


def test_fsync_check_fails_without_directory_fsyncs(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="not made durable"):
        check_durable_puts(tmp_path, store=f"{HERE}:NoDirFsyncFileStore")


def test_verify_check_fails_through_a_stale_cache(tmp_path: Path) -> None:
    saver = PersistSaver(store=StaleCacheFileStore(tmp_path / "s"))
    with pytest.raises(AssertionError, match="verify did not report the deleted"):
        check_missing_content_is_named(saver, "element of a shared segment")


def test_concurrency_check_fails_when_every_7th_write_is_dropped(tmp_path: Path) -> None:
    with pytest.raises(AssertionError, match="acknowledged checkpoint lost"):
        check_shared_writers(tmp_path / "s", "sqlite", store=f"{HERE}:DropsEvery7thWrite")
