"""Cross-process locks for the local stores: ``flock`` on files in ``<root>/locks``.

Why ``flock``: the kernel releases it when its holder dies (``kill -9``
included), so a crashed writer can never leave a store locked, and it needs
no server. Locks belong to the open file description, so every holder opens
its own descriptor: two threads of one process exclude each other exactly
as two processes do.

Two kinds (see ``store/base.py``):

* a named lock per thread (``lock(key)``): writers share it, ``delete_thread``
  and fenced writes take it exclusively;
* the maintenance lock (``locks/gc``): writers share it from "which blobs
  exist?" until their record is committed, ``gc`` owns it while it sweeps.

Lock files are opened with ``O_NOFOLLOW``: a symlink planted in ``locks/``
cannot make us create or truncate a file outside the store.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
from collections.abc import Iterator

from langgraph_persist.errors import LockBusyError, StoreError
from langgraph_persist.keys import Key

LOCKS = "locks"
_FILE_MODE = 0o600


def os_reason(exc: OSError) -> str:
    """What an ``OSError`` means for a store, in words a user acts on."""
    return {
        errno.ENOSPC: "the disk is full",
        errno.EDQUOT: "the disk quota is exhausted",
        errno.EFBIG: "the file size limit was reached",
        errno.EROFS: "the file system is read-only",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
    }.get(exc.errno or 0, exc.strerror or str(exc))


class FileLocks:
    """The locks of one store directory."""

    def __init__(self, root: str, *, read_only: bool = False) -> None:
        self.directory = os.path.join(root, LOCKS)
        self.read_only = read_only

    def lock(
        self, key: Key, exclusive: bool = True, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """An flock on ``locks/<digest of key>`` (digested: names can be long)."""
        name = hashlib.blake2b("/".join(key).encode(), digest_size=16).hexdigest()
        return self._flock(name, exclusive, wait)

    def maintenance_lock(
        self, exclusive: bool, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        """Shared by writers, exclusive for garbage collection."""
        return self._flock("gc", exclusive, wait)

    @contextlib.contextmanager
    def _flock(self, name: str, exclusive: bool, wait: bool = True) -> Iterator[None]:
        if self.read_only:  # nothing is written, so there is nothing to exclude
            yield
            return
        path = os.path.join(self.directory, name)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, _FILE_MODE)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise StoreError(
                    f"lock file {path} is a symbolic link; refusing to follow it"
                ) from None
            raise StoreError(
                f"cannot open lock file {path}: {os_reason(exc)}; nothing was written"
            ) from exc
        try:
            try:
                mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
                fcntl.flock(fd, mode if wait else mode | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LockBusyError(f"lock {path} is held by another holder") from None
            yield
        finally:
            os.close(fd)


class FileLocked:
    """The ``lock`` and ``maintenance_lock`` of a local store, from its ``FileLocks``.

    Mixed into ``FileStore`` and ``SqliteStore`` (before ``Store``), which both keep
    their locks in ``<root>/locks``.
    """

    _locks: FileLocks

    def lock(
        self, key: Key, exclusive: bool = True, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        return self._locks.lock(key, exclusive, wait=wait)

    def maintenance_lock(
        self, exclusive: bool, *, wait: bool = True
    ) -> contextlib.AbstractContextManager[None]:
        return self._locks.maintenance_lock(exclusive, wait=wait)
