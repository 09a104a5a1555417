"""langgraph-persist: a durable, verified, tiered checkpointer for LangGraph.

from langgraph_persist import PersistSaver
graph = builder.compile(checkpointer=PersistSaver("./checkpoints"))
"""

from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import (
    ConfigurationError,
    CorruptRecordError,
    DanglingReferenceError,
    FencedWriterError,
    InvalidIdError,
    MissingThreadIdError,
    PersistError,
    RecordError,
    RecordTooLargeError,
    SnapshotError,
    StoreError,
    ThreadDeletedError,
    TierUnavailableError,
    UnsupportedFormatError,
    WriteRejectedError,
)
from langgraph_persist.saver import PersistSaver

__all__ = [
    "ConfigurationError",
    "CorruptRecordError",
    "DanglingReferenceError",
    "Encryption",
    "FencedWriterError",
    "InvalidIdError",
    "MissingThreadIdError",
    "PersistError",
    "PersistSaver",
    "RecordError",
    "RecordTooLargeError",
    "SnapshotError",
    "StoreError",
    "ThreadDeletedError",
    "TierUnavailableError",
    "UnsupportedFormatError",
    "WriteRejectedError",
]
