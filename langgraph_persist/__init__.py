"""langgraph-persist: a durable, verified, tiered checkpointer for LangGraph.

from langgraph_persist import PersistSaver
graph = builder.compile(checkpointer=PersistSaver("./checkpoints"))
"""

from langgraph_persist.admin import HistoryEntry, StoreStats, ThreadInfo
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
from langgraph_persist.saver import PersistSaver

__all__ = [
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
