"""langgraph-persist: a durable, verified, tiered checkpointer for LangGraph.

from langgraph_persist import PersistSaver
graph = builder.compile(checkpointer=PersistSaver("./checkpoints"))
"""

from langgraph_persist.errors import (
    ConfigurationError,
    CorruptRecordError,
    DanglingReferenceError,
    InvalidIdError,
    MissingThreadIdError,
    PersistError,
    RecordError,
    SnapshotError,
    StoreError,
    TierUnavailableError,
    UnsupportedFormatError,
)
from langgraph_persist.saver import PersistSaver

__all__ = [
    "ConfigurationError",
    "CorruptRecordError",
    "DanglingReferenceError",
    "InvalidIdError",
    "MissingThreadIdError",
    "PersistError",
    "PersistSaver",
    "RecordError",
    "SnapshotError",
    "StoreError",
    "TierUnavailableError",
    "UnsupportedFormatError",
]
