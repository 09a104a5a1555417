"""The shapes of the records the engine writes and reads (docs/format.md).

Decoded records are plain msgpack maps; these types name their fields so
the code that builds a record and the code that reads it agree at type-check
time. Field names are short because they are stored in every record.
"""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict


class CheckpointRecord(TypedDict):
    """One checkpoint without its values (``Kind.CHECKPOINT``)."""

    ns: str
    """The checkpoint namespace (names may be hashed: this is the original)."""
    parent: str | None
    """The parent checkpoint's id."""
    ckpt: list[Any]
    """The serializer's ``[type, bytes]`` of the checkpoint minus values and versions."""
    meta: list[Any]
    """The serializer's ``[type, bytes]`` of the metadata."""
    refs: dict[str, list[Any]]
    """Per channel ``[version, reference]`` (values.py describes references)."""
    run: str | None
    """The run id (``delete_for_runs``)."""
    dseed: NotRequired[dict[str, str]]
    """Per DeltaChannel still replaying writes: the ancestor holding its seed (delta.py)."""


class WritesRecord(TypedDict):
    """One ``put_writes`` call (``Kind.WRITES``)."""

    task: str
    path: str
    w: list[list[Any]]
    """``[idx, channel, reference]`` per write."""


class Head(TypedDict):
    """A namespace's head (``Kind.HEAD``, heads.py)."""

    latest: str
    writes: int


class ThreadInfoRecord(TypedDict):
    """A thread's info record (``Kind.THREAD_INFO``): maps a hashed name back to its id."""

    thread_id: str
    created: float


class RunIndexRecord(TypedDict):
    """An entry of the run index (``Kind.RUN_INDEX``): a run wrote to a thread."""

    run_id: str
    thread_id: str


class TombstoneRecord(TypedDict):
    """A deleted thread's tombstone (``Kind.TOMBSTONE``): no id, only a boundary."""

    boundary: str
    at: float
