"""langgraph-persist: a durable, verified, tiered checkpointer for LangGraph.

from langgraph_persist import PersistSaver
graph = builder.compile(checkpointer=PersistSaver("./checkpoints"))

Every public type is importable from here. The Redis and S3 ones
(``HotTierOptions``, ``S3Store``) are loaded on first use, so importing this
package loads neither ``redis`` nor ``boto3`` (optional extras, see extras.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langgraph_persist.admin import HistoryEntry, StoreStats, ThreadInfo
from langgraph_persist.backup import BackupReport
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import (
    BlockedTypeError,
    ConfigurationError,
    CorruptRecordError,
    DanglingReferenceError,
    FencedWriterError,
    InvalidIdError,
    MigrationError,
    MissingThreadIdError,
    NotFoundError,
    PersistError,
    RecordError,
    RecordTooLargeError,
    SnapshotError,
    SnapshotVersionError,
    StoreError,
    ThreadDeletedError,
    ThreadExistsError,
    TierUnavailableError,
    UnsupportedFormatError,
    WriteRejectedError,
)
from langgraph_persist.maintenance import GcReport
from langgraph_persist.saver import PersistSaver
from langgraph_persist.store.base import Store
from langgraph_persist.verify import Damage, VerifyReport

if TYPE_CHECKING:
    from langgraph_persist.store.s3 import S3Store
    from langgraph_persist.store.tiered import HotTierOptions

_LAZY = {
    "HotTierOptions": ("langgraph_persist.store.tiered", "redis", "a Redis hot tier"),
    "S3Store": ("langgraph_persist.store.s3", "s3", "an S3 store"),
}


def __getattr__(name: str) -> Any:
    """``HotTierOptions`` and ``S3Store`` on first use (PEP 562), with the install hint
    when their extra is missing."""
    if name not in _LAZY:
        raise AttributeError(f"module 'langgraph_persist' has no attribute {name!r}")
    import importlib

    from langgraph_persist.extras import needs_extra

    module, extra, feature = _LAZY[name]
    with needs_extra(extra, feature):
        value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "BackupReport",
    "Damage",
    "GcReport",
    "HotTierOptions",
    "S3Store",
    "Store",
    "VerifyReport",
    "BlockedTypeError",
    "ConfigurationError",
    "CorruptRecordError",
    "DanglingReferenceError",
    "Encryption",
    "FencedWriterError",
    "HistoryEntry",
    "InvalidIdError",
    "MigrationError",
    "MissingThreadIdError",
    "NotFoundError",
    "PersistError",
    "PersistSaver",
    "RecordError",
    "RecordTooLargeError",
    "SnapshotError",
    "SnapshotVersionError",
    "StoreError",
    "StoreStats",
    "ThreadDeletedError",
    "ThreadExistsError",
    "ThreadInfo",
    "TierUnavailableError",
    "UnsupportedFormatError",
    "WriteRejectedError",
]
