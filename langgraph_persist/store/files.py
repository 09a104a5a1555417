"""The filesystem tier: the embedded default and the durable source of truth.

A key maps to a path below the root (``root/<c1>/<c2>/...``). Every write
goes to a private temporary file in ``root/tmp``, is fsynced, renamed over
its destination, and the destination directory is fsynced: the POSIX recipe
(as in python-atomicwrites) under which a killed writer leaves either the
old file or the new one, never a torn one, and a power cut loses nothing
that was acknowledged. ``durability="none"`` skips the fsyncs (still atomic
against process crashes, not against power loss), for users who opt out.

Batches: ``write_many`` writes all temporary files first and fsyncs them
together, then renames, then fsyncs each directory once. On ext4 the first
fsync commits the journal for all of them, so a batch of five records costs
little more than one.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Literal

from langgraph_persist import keys
from langgraph_persist.errors import (
    ConfigurationError,
    CorruptStoreError,
    InvalidIdError,
    StoreError,
)
from langgraph_persist.keys import Key
from langgraph_persist.lru import LRU
from langgraph_persist.store.base import Listings, Store
from langgraph_persist.store.locks import LOCKS, FileLocked, FileLocks, os_reason
from langgraph_persist.store.marker import MARKER, marker_body, read_marker

Durability = Literal["fsync", "none"]

STORE_FORMAT = 1
_TMP = "tmp"
_TRASH = "trash"
AUDIT_LOG = "audit.jsonl"
UPGRADE_STAGING = "upgrade"
"""Where ``upgrade.py`` stages the SQLite copy of a version-1 store."""
_DATABASE = "store.db"
"""The SQLite layout's database (store/sqlite.py), which this layout never writes."""
_RESERVED = frozenset({MARKER, _TMP, _TRASH, LOCKS, AUDIT_LOG, UPGRADE_STAGING, _DATABASE})
_SAFE_COMPONENT = re.compile(r"[A-Za-z0-9_.%=~-]{1,255}")
_STALE_TMP_SECONDS = 3600.0
_TRUST_AGE_NS = 50_000_000
"""A directory listing is cached only if the directory was this old (see ``list``)."""
_LISTING_CACHE_NAMES = 1_000_000
"""At most this many cached names (about 100 MB at worst), least recently used first."""
_DIR_MODE = 0o700
_FILE_MODE = 0o600


def _load_syncfs() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn: Callable[[int], int] = libc.syncfs
    except (OSError, AttributeError):  # not Linux/glibc: os.sync() will do
        return None
    return fn


_syncfs = _load_syncfs()
_BULK = 64
"""Above this many links, one syncfs beats a directory fsync per link."""


def fault_point(where: str) -> None:
    """A seam for crash tests; does nothing.

    Called at exact points of a write where a crash leaves a distinct state:
    ``"staged"`` (a batch's temporary files are written and fsynced, none is
    renamed yet), ``"installed"`` (after each rename, before the directory
    fsync) and ``"unlinked"`` (after each file a ``delete_many`` removes).
    ``tests/fork_killer.py`` replaces it in a forked child to SIGKILL itself
    at the Nth call: random timing almost never lands inside one commit.
    """


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _our_entries(path: str, prefix: Key) -> tuple[list[str], bool]:
    """The sorted names in directory ``path`` (key ``prefix``) that are the store's, and
    whether a directory was left out for holding nothing (it may fill later).

    A store directory is a place people and operating systems drop things into,
    and what they drop carries no data, so no read path may see it. An entry is
    the store's when its name is one the layout builds there
    (``keys.is_layout_prefix``: not ``.DS_Store``, ``notes.txt``) and its kind is
    what the layout puts there:

    * at a record's place (``keys.is_layout_key``: a checkpoint, a write, a
      thread's ``info``, a ``HEAD``...) a file; a directory there holds no record
      (reading it would fail with "Is a directory");
    * anywhere else, a directory on the way to records, holding at least one
      name the layout builds there: an empty directory, or one holding only
      litter, holds no record (a thread directory nobody wrote into is no
      thread). SQLite stores agree: a directory row is written with the first
      key below it.

    The kinds come with the directory listing (``d_type``), so only directories
    at directories' places cost one more listing each. One level, not a walk:
    ``threads/x/ns/`` with nothing in ``ns`` still lists ``x``, a thread without
    checkpoints, which every read path answers as such.
    """
    names: list[str] = []
    skipped_empty = False
    with os.scandir(path) as entries:
        for entry in entries:
            key = (*prefix, entry.name)
            if not keys.is_layout_prefix(key):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue  # removed while listing
            if keys.is_layout_key(key):
                if is_dir:
                    continue
            elif not is_dir:
                continue
            elif not _holds_names(entry.path, key):
                skipped_empty = True
                continue
            names.append(entry.name)
    names.sort()
    return names, skipped_empty


def _holds_names(path: str, prefix: Key) -> bool:
    """Whether directory ``path`` (key ``prefix``) holds a name the layout builds there."""
    try:
        with os.scandir(path) as entries:
            return any(keys.is_layout_prefix((*prefix, e.name)) for e in entries)
    except (FileNotFoundError, NotADirectoryError):
        return False


class FileStore(FileLocked, Store):
    """A ``Store`` over a local directory (see module docstring)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        *,
        durability: Durability = "fsync",
        read_only: bool = False,
        premade: Sequence[Key] = (),
    ) -> None:
        if durability not in ("fsync", "none"):
            raise ConfigurationError(f"durability must be 'fsync' or 'none', not {durability!r}")
        self.root = os.path.abspath(os.fspath(root))
        self.durability: Durability = durability
        self.read_only = read_only
        self._fsync = durability == "fsync"
        self._known_dirs: set[str] = set()
        self._dirs_lock = threading.Lock()
        self._listings = LRU(_LISTING_CACHE_NAMES)
        self._locks = FileLocks(self.root, read_only=read_only)
        if read_only:
            self._open_read_only()
        else:
            self._open_root()
            self._premake(premade)

    def _premake(self, prefixes: Sequence[Key]) -> None:
        """Create directories the layout will need, all at once, with one parent fsync each.

        Content-addressed blobs land in 256 shard directories at random: created
        on demand, a young store's first few hundred blobs would each pay a
        ``mkdir`` and an fsync of the parent.
        """
        parents: set[str] = set()
        for prefix in prefixes:
            path = self.path(prefix)
            for depth in range(1, len(prefix) + 1):
                part = self.path(prefix[:depth])
                if not os.path.isdir(part):
                    with contextlib.suppress(FileExistsError):
                        os.mkdir(part, _DIR_MODE)  # not makedirs: its parents ignore the mode
                    parents.add(os.path.dirname(part))
            with self._dirs_lock:
                self._known_dirs.add(path)
        self._sync_dirs(parents)

    def _open_read_only(self) -> None:
        """Inspect a store without writing anything (a backup, a read-only mount)."""
        if read_marker(self.root, readable_up_to=STORE_FORMAT) is None:
            raise ConfigurationError(f"{self.root} is not a langgraph-persist store")
        self._refuse_sqlite_database()

    def _refuse_sqlite_database(self) -> None:
        """A directory holding ``store.db`` is an SQLite store, whatever its marker says.

        This layout never writes a ``store.db``; opened over one, it would answer
        an empty store (or an old one) and ignore every checkpoint in the
        database, silently: a ``FORMAT`` rewritten, or lost and created again as
        version 1. The one legitimate pair is an upgrade interrupted at its
        switch (upgrade.py: the database moved in, the marker not yet replaced;
        its staging directory is still there): the directory is still a
        version-1 store, and the next ``upgrade`` moves the database back.
        """
        database = os.path.join(self.root, _DATABASE)
        if os.path.lexists(database) and not os.path.isdir(
            os.path.join(self.root, UPGRADE_STAGING)
        ):
            raise CorruptStoreError(
                f"checkpoint store {self.root} holds an SQLite database ({_DATABASE}) but "
                f"its {MARKER} says the file layout (version 1); this layout would ignore "
                f"every checkpoint in {_DATABASE}: write {marker_body(2, 'sqlite').decode()} "
                f"back into {MARKER}, or restore the store from a backup",
                store=self.describe(),
            )

    def _check_writable(self) -> None:
        if self.read_only:
            raise StoreError(f"checkpoint store {self.root} was opened read-only")

    # -- set-up -------------------------------------------------------------------------------

    def _open_root(self) -> None:
        """Create or validate the root; fail now, with a clear message, not at first put."""
        root = self.root
        if os.path.exists(root) and not os.path.isdir(root):
            raise ConfigurationError(f"checkpoint store path {root} exists and is not a directory")
        try:
            os.makedirs(root, mode=_DIR_MODE, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(f"cannot create checkpoint store at {root}: {exc}") from exc
        info = read_marker(root, readable_up_to=STORE_FORMAT)
        self._refuse_sqlite_database()
        if info is None:
            entries = [e for e in os.listdir(root) if e not in _RESERVED]
            if entries:
                raise ConfigurationError(
                    f"refusing to use {root}: it is not empty and is not a langgraph-persist "
                    f"store (no {MARKER} file); point the saver at a new or empty directory"
                )
        for sub in (_TMP, _TRASH, LOCKS):
            try:
                os.makedirs(os.path.join(root, sub), mode=_DIR_MODE, exist_ok=True)
            except OSError as exc:
                raise ConfigurationError(f"cannot write to checkpoint store {root}: {exc}") from exc
        # Prove we can write here now, rather than at the first checkpoint.
        probe = os.path.join(root, _TMP, f"probe-{secrets.token_hex(16)}")
        try:
            fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise ConfigurationError(
                f"checkpoint store {root} is not writable ({exc.strerror}); "
                "check permissions and that the file system is not read-only"
            ) from exc
        if info is None:
            self._atomic_write_path(os.path.join(root, MARKER), marker_body(STORE_FORMAT))
        self._clean_stale()

    def _clean_stale(self) -> None:
        """Remove temp files a killed writer left behind, and half-deleted trees."""
        now = time.time()
        tmp = os.path.join(self.root, _TMP)
        for entry in os.scandir(tmp):
            with contextlib.suppress(OSError):
                if now - entry.stat().st_mtime > _STALE_TMP_SECONDS:
                    os.unlink(entry.path)
        trash = os.path.join(self.root, _TRASH)
        for entry in os.scandir(trash):
            shutil.rmtree(entry.path, ignore_errors=True)

    def describe(self) -> str:
        return f"file:{self.root}"

    # -- paths --------------------------------------------------------------------------------

    def path(self, key: Key) -> str:
        """The file behind ``key``. Components are re-checked: defence in depth.

        ``keys.py`` only builds names of ``[A-Za-z0-9_.%=~-]``; anything else, or a
        ``.``/``..`` component, means a bug or an attack, never a path.
        """
        for part in key:
            if not _SAFE_COMPONENT.fullmatch(part) or part in (".", ".."):
                raise InvalidIdError(f"unsafe key component {part!r}")
        if key and key[0] in _RESERVED:
            raise InvalidIdError(f"key {key!r} is reserved")
        return self.root + "/" + "/".join(key) if key else self.root

    def _ensure_dir(self, path: str, *, sync: bool = True) -> None:
        """Create ``path`` and any missing parents, fsyncing each new entry's parent
        (unless ``sync`` is off: a bulk operation then syncs the file system once)."""
        if path in self._known_dirs:
            return
        missing: list[str] = []
        probe = path
        while not os.path.isdir(probe):
            missing.append(probe)
            probe = os.path.dirname(probe)
        for new in reversed(missing):
            with contextlib.suppress(FileExistsError):
                os.mkdir(new, _DIR_MODE)
            if self._fsync and sync:
                _fsync_dir(os.path.dirname(new))
        with self._dirs_lock:
            self._known_dirs.add(path)

    def _forget_dir(self, path: str) -> None:
        with self._dirs_lock:
            self._known_dirs = {d for d in self._known_dirs if not d.startswith(path)}

    def _tmp_path(self) -> str:
        return os.path.join(self.root, _TMP, f"{os.getpid()}-{secrets.token_hex(16)}")

    # -- reads --------------------------------------------------------------------------------

    def read(self, key: Key) -> bytes | None:
        path = self.path(key)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None  # a directory where a record belongs holds no record (_our_entries)
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror}") from exc

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        return [self.read(k) for k in keys]

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        return [os.path.exists(self.path(k)) for k in keys]

    def list(self, prefix: Key) -> list[str]:
        """Sorted names, from a cache when the directory provably did not change.

        Finding a thread's latest checkpoint lists its directory; at 10,000
        checkpoints that is milliseconds per read. A cached listing is reused
        while the directory's (device, inode, mtime) is unchanged, and only
        cached when the mtime was over ``_TRUST_AGE_NS`` old at listing time:
        directory mtimes come from the kernel's coarse clock (one tick, 1 to
        10 ms), so any later change carries a strictly newer mtime. Recently
        written directories are simply listed again.
        """
        path = self.path(prefix)
        started = time.time_ns()
        try:
            st = os.stat(path)
            stamp = (st.st_dev, st.st_ino, st.st_mtime_ns)
            hit = self._listings.get(path)
            if hit is not None and hit[0] == stamp:
                return list(hit[1])
            names, skipped_empty = _our_entries(path, prefix)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as exc:
            raise StoreError(f"cannot list {path}: {exc.strerror}") from exc
        # An empty directory may fill without touching this directory's mtime: a listing
        # that left one out is never cached.
        if st.st_mtime_ns < started - _TRUST_AGE_NS and not skipped_empty:
            self._listings.put(path, (stamp, tuple(names)), len(names) + 1)  # never aliased
        return names

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        return [self.list(p) for p in prefixes]

    def local_root(self) -> str:
        return self.root

    def disk_bytes(self) -> int:
        """Every file under the store's root; a file linked into several threads
        (``copy_thread``) is counted once, as the disk holds it once."""
        seen: set[tuple[int, int]] = set()
        total = 0
        for dirpath, _dirs, files in os.walk(self.root):
            for name in files:
                try:
                    st = os.lstat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue  # removed while walking
                if (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        return total

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        base = self.path(prefix)
        for dirpath, dirs, files in os.walk(base):
            rel = os.path.relpath(dirpath, self.root)
            parts: Key = tuple(p for p in Path(rel).parts if p != ".")
            if not parts:
                dirs[:] = [d for d in dirs if d not in _RESERVED]
                files = [f for f in files if f not in _RESERVED]
            for name in files:
                try:
                    st = os.stat(os.path.join(dirpath, name))
                except FileNotFoundError:
                    continue
                yield (*parts, name), st.st_size, st.st_mtime

    # -- writes -------------------------------------------------------------------------------

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self._commit([(self.path(k), v) for k, v in items])

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        todo = [(p, v) for p, v in ((self.path(k), v) for k, v in items) if not os.path.exists(p)]
        self._commit(todo)

    def _commit(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Stage every item in tmp/, fsync all, rename all, fsync each directory once."""
        if not items:
            return
        self._check_writable()
        staged: list[tuple[str, str]] = []
        try:
            fds: list[int] = []
            try:
                for path, data in items:
                    tmp = self._tmp_path()
                    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _FILE_MODE)
                    fds.append(fd)
                    staged.append((tmp, path))
                    _write_all(fd, data)
                if self._fsync:
                    for fd in fds:
                        os.fsync(fd)
            finally:
                for fd in fds:
                    os.close(fd)
            fault_point("staged")
            dirs: set[str] = set()
            for tmp, path in staged:
                dirs.add(self._install(tmp, path))
                fault_point("installed")
            self._sync_dirs(dirs)
        except OSError as exc:
            for tmp, _ in staged:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
            raise StoreError(self._explain(exc)) from exc

    def _install(self, tmp: str, path: str, *, sync: bool = True) -> str:
        """Rename a staged file onto its key; returns the directory to fsync.

        A concurrent ``delete_tree`` may have removed a directory we remembered:
        recreate it once and retry.
        """
        parent = os.path.dirname(path)
        self._ensure_dir(parent, sync=sync)
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            self._forget_dir(parent)
            self._ensure_dir(parent, sync=sync)
            os.replace(tmp, path)
        return parent

    def _sync_dirs(self, dirs: set[str]) -> None:
        """fsync each directory once: makes the renames into it durable."""
        if self._fsync:
            for d in dirs:
                _fsync_dir(d)

    def _explain(self, exc: OSError) -> str:
        return (
            f"write to checkpoint store {self.root} failed: {os_reason(exc)}; nothing was "
            "written, earlier checkpoints are intact"
        )

    def _atomic_write_path(self, path: str, data: bytes) -> None:
        self._commit([(path, data)])

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Hard-link immutable records (no bytes copied); copy where links are refused.

        A bulk link (``copy_thread`` of a long thread) lands in many new
        directories; fsyncing each, and each new directory's parent, would cost
        two fsyncs per checkpoint. Past ``_BULK`` items the links are made
        durable with one ``syncfs`` of this file system instead.
        """
        self._check_writable()
        bulk = len(items) > _BULK
        dirs: set[str] = set()
        try:
            for src_key, dst_key in items:
                src, dst = self.path(src_key), self.path(dst_key)
                parent = os.path.dirname(dst)
                self._ensure_dir(parent, sync=not bulk)
                try:
                    os.link(src, dst)  # atomic: the name appears with its content
                    dirs.add(parent)
                    continue
                except FileExistsError:
                    pass  # replace it: link beside it, then rename over it
                except FileNotFoundError:
                    if not os.path.exists(src):
                        continue  # the source was deleted meanwhile: nothing to copy
                    # a concurrent delete_tree removed the directory we remembered
                    self._forget_dir(parent)
                    self._ensure_dir(parent, sync=not bulk)
                    os.link(src, dst)
                    dirs.add(parent)
                    continue
                except OSError:  # no hard links here (EXDEV, EPERM, EMLINK...): copy
                    with open(src, "rb") as fh:
                        data = fh.read()
                    self._commit([(dst, data)])
                    continue
                tmp = self._tmp_path()
                os.link(src, tmp)
                dirs.add(self._install(tmp, dst, sync=not bulk))
            if bulk and self._fsync:
                self._sync_filesystem()
            else:
                self._sync_dirs(dirs)
        except OSError as exc:
            raise StoreError(self._explain(exc)) from exc

    def _sync_filesystem(self) -> None:
        """syncfs(2) on the store's file system (Linux); elsewhere a global sync."""
        fd = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
        try:
            if _syncfs is None or _syncfs(fd) != 0:
                os.sync()
        finally:
            os.close(fd)

    def delete_many(self, keys: Sequence[Key]) -> None:
        self._check_writable()
        dirs: set[str] = set()
        try:
            for key in keys:
                path = self.path(key)
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    continue
                fault_point("unlinked")
                dirs.add(os.path.dirname(path))
            for d in dirs:
                with contextlib.suppress(OSError):
                    os.rmdir(d)  # only succeeds when empty: keeps the tree tidy
                    self._forget_dir(d)
            if self._fsync:
                for d in dirs:
                    with contextlib.suppress(FileNotFoundError):
                        _fsync_dir(d if os.path.isdir(d) else os.path.dirname(d))
        except OSError as exc:
            raise StoreError(self._explain(exc)) from exc

    def delete_tree(self, prefix: Key) -> None:
        """Rename the subtree into trash/ (atomic), fsync, then remove it at leisure."""
        self._check_writable()
        path = self.path(prefix)
        doomed = os.path.join(self.root, _TRASH, secrets.token_hex(16))
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise StoreError(self._explain(exc)) from exc
        self._forget_dir(path)
        if self._fsync:
            _fsync_dir(os.path.dirname(path))
        shutil.rmtree(doomed, ignore_errors=True)

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """A single directory holds one copy: nothing to recover from."""
        return False

    def close(self) -> None:
        """Nothing to release: every operation opens and closes its own files."""
