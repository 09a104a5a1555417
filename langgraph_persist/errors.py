"""The package's own exceptions.

Every failure a user can meet is one of these, so callers can catch
``PersistError`` and know nothing else leaks out of the storage layer::

    PersistError
    ├── ConfigurationError        bad constructor arguments, unusable directory
    ├── InvalidIdError            a thread id / namespace / key we refuse (too long, ...)
    │   └── MissingThreadIdError  the config has no thread_id (also a KeyError)
    ├── RecordTooLargeError       a value larger than a record may hold
    ├── WriteRejectedError        a write refused to protect history (nothing written)
    │   ├── ThreadDeletedError    a late write into a deleted thread
    │   └── FencedWriterError     a stale writer (fencing on)
    ├── StoreError                the storage medium failed (disk full, read-only, permissions)
    │   ├── TierUnavailableError  a tier (Redis) cannot be reached
    │   └── CorruptStoreError     the store's database file is damaged (SQLite "malformed")
    ├── RecordError               a stored record cannot be trusted
    │   ├── CorruptRecordError    digest mismatch, truncation, undecodable payload
    │   └── UnsupportedFormatError  written by a newer format version than we read
    ├── DanglingReferenceError    a checkpoint references content that is gone
    ├── SnapshotError             a portable snapshot file is invalid
    │   └── SnapshotVersionError  written by a newer snapshot format
    ├── BlockedTypeError          untrusted data names a type that is not allowed (untrusted.py)
    ├── NotFoundError             a named thread or checkpoint does not exist (also LookupError)
    ├── ThreadExistsError         a copy/restore target already holds the thread
    └── MigrationError            a copied thread reads back differently

Why a tree of our own: msgpack, lz4 and OS errors say *how* something failed
but not *what* (which thread, which checkpoint, which file); ours carry that.
"""

from __future__ import annotations


class PersistError(Exception):
    """Base class of every error raised by langgraph-persist."""


class ConfigurationError(PersistError, ValueError):
    """The saver was configured with arguments it cannot work with."""


class InvalidIdError(PersistError, ValueError):
    """An identifier (thread id, namespace, checkpoint id) is not acceptable."""


class MissingThreadIdError(InvalidIdError, KeyError):
    """The config has no ``configurable.thread_id``.

    A ``KeyError`` too, because that is what LangGraph's own savers raise.
    """

    def __str__(self) -> str:
        return str(self.args[-1]) if self.args else "thread_id"


class RecordTooLargeError(PersistError, ValueError):
    """A value serializes to more than one record may hold (``records.MAX_RECORD_SIZE``)."""


class StoreError(PersistError, OSError):
    """The storage medium failed: disk full, read-only, permission lost, ...

    Raised *after* the failed write was rolled back: no partial record is
    ever visible, and everything written before stays readable.
    """


class WriteRejectedError(PersistError):
    """A write was refused to protect the thread's history (nothing was written)."""


class ThreadDeletedError(WriteRejectedError):
    """A late write continues a thread that was deleted after the write's run began.

    Without this check a background put that finishes after ``delete_thread``
    would bring the deleted conversation back. A new run (no parent checkpoint)
    may reuse the thread id.
    """


class FencedWriterError(WriteRejectedError):
    """With fencing on: this writer continues from a checkpoint that is no longer
    the thread's latest, so another writer got there first (a stale writer).

    Explicit forks (``update_state``, time travel) are never fenced.
    """


class TierUnavailableError(StoreError):
    """A storage tier (typically Redis) could not be reached."""


class LockBusyError(StoreError):
    """A lock asked for with ``wait=False`` is held by someone else (nothing was taken)."""


class CorruptStoreError(StoreError):
    """The store's database itself is damaged ("database disk image is malformed",
    a damaged WAL), as opposed to one record in it. ``store`` names it."""

    def __init__(self, message: str, *, store: str = "") -> None:
        super().__init__(message)
        self.store = store


class RecordError(PersistError):
    """A stored record could not be decoded."""


class CorruptRecordError(RecordError):
    """A record's bytes do not match its digest, or are truncated or undecodable.

    Attributes name what is damaged so an operator can act on it.
    """

    def __init__(
        self,
        reason: str,
        *,
        location: str = "",
        thread_id: str | None = None,
        checkpoint_ns: str | None = None,
        checkpoint_id: str | None = None,
        expected: str | None = None,
        actual: str | None = None,
    ) -> None:
        self.reason = reason
        self.location = location
        self.thread_id = thread_id
        self.checkpoint_ns = checkpoint_ns
        self.checkpoint_id = checkpoint_id
        self.expected = expected
        self.actual = actual
        super().__init__(self._describe())

    def _describe(self) -> str:
        parts = [f"corrupt record: {self.reason}"]
        if self.thread_id is not None:
            parts.append(f"thread={self.thread_id!r}")
        if self.checkpoint_ns:
            parts.append(f"namespace={self.checkpoint_ns!r}")
        if self.checkpoint_id is not None:
            parts.append(f"checkpoint={self.checkpoint_id}")
        if self.location:
            parts.append(f"at {self.location}")
        if self.expected is not None:
            parts.append(f"expected digest {self.expected}, got {self.actual}")
        return "; ".join(parts)

    def with_context(
        self,
        *,
        thread_id: str | None = None,
        checkpoint_ns: str | None = None,
        checkpoint_id: str | None = None,
    ) -> CorruptRecordError:
        """Return a copy naming the thread/checkpoint the record belongs to (same class:
        a ``DanglingReferenceError`` stays one)."""
        return type(self)(
            self.reason,
            location=self.location,
            thread_id=thread_id if thread_id is not None else self.thread_id,
            checkpoint_ns=checkpoint_ns if checkpoint_ns is not None else self.checkpoint_ns,
            checkpoint_id=checkpoint_id if checkpoint_id is not None else self.checkpoint_id,
            expected=self.expected,
            actual=self.actual,
        )


class UnsupportedFormatError(RecordError):
    """A record or store was written by a newer, unknown format version."""


class DanglingReferenceError(CorruptRecordError):
    """A checkpoint references content (a blob) that is missing from every tier."""


class SnapshotError(PersistError):
    """A portable snapshot file is malformed, truncated or fails verification."""


class SnapshotVersionError(SnapshotError, UnsupportedFormatError):
    """The snapshot was written by a newer format version than this release reads."""


class BlockedTypeError(PersistError):
    """Untrusted data (a snapshot, a store the CLI reads, a migration source) names types
    the strict serializer does not allow (``untrusted.py``). Nothing was imported or run.

    ``types`` names them (``module.Class``, or ``module.Class.method()`` for a
    method call); the message says how to allow them when they are trusted.
    """

    def __init__(self, message: str, *, types: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.types = types


class NotFoundError(PersistError, LookupError):
    """A thread or checkpoint the caller named does not exist."""


class ThreadExistsError(PersistError):
    """The target of a copy or restore already holds checkpoints for that thread."""


class MigrationError(PersistError):
    """What the target returns after a copy differs from the source."""
