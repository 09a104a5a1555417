"""What ``PersistSaver``'s read and admin API returns, and how it is read.

LangGraph's saver interface answers "give me checkpoints"; tools (the CLI,
the web UI, retention, migration, snapshots) also ask "which threads, how
big, how recent, which chain". Those answers live here, once, over the
engine's public reading methods, so no tool walks keys or reads records of
its own. ``PersistSaver`` exposes them as methods (``thread_info``,
``record_sizes``, ``chain``...); this module holds the data types and the
reading logic behind them.

Reading is damage-tolerant where a listing must go on: ``thread_info`` of a
thread whose latest record is damaged fills what it can (counts, sizes, the
id and the time the id encodes) instead of raising, so one bad record never
hides a whole thread list.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import CheckpointTuple

from langgraph_persist import keys
from langgraph_persist.address import Address
from langgraph_persist.engine import Engine
from langgraph_persist.errors import NotFoundError, RecordError

INTERRUPT = "__interrupt__"
"""The channel LangGraph writes a pending interrupt to (``langgraph.constants.INTERRUPT``)."""

_GREGORIAN_TO_UNIX_100NS = 0x01B21DD213814000


def checkpoint_time(checkpoint_id: str) -> datetime | None:
    """When a checkpoint was created, from its uuid6 id; ``None`` for other ids.

    LangGraph's ids are uuid6, which embed their creation time: reading it costs
    no decode, so listings and retention date checkpoints by id."""
    try:
        u = uuid.UUID(checkpoint_id)
    except ValueError:
        return None
    if u.version != 6:
        return None
    ticks = ((u.int >> 80) << 12) | ((u.int >> 64) & 0x0FFF)  # time_high+mid, time_low
    return datetime.fromtimestamp((ticks - _GREGORIAN_TO_UNIX_100NS) / 1e7, tz=timezone.utc)


# -- data types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadInfo:
    """One thread at a glance (``PersistSaver.thread_info``), decoding no channel value.

    The ``latest_*`` fields describe the thread's latest checkpoint: the newest of
    the root namespace (what ``graph.get_state`` shows), or, for a thread with no
    root checkpoint, the newest of any namespace. When that record cannot be read,
    ``latest_checkpoint_id`` is still set, ``latest_time`` comes from the id
    (uuid6) and ``latest_step``/``latest_metadata`` stay empty.
    """

    thread_id: str
    checkpoints: int
    """Checkpoints in every namespace."""
    namespaces: tuple[str, ...]
    """Checkpoint namespaces, sorted (``""`` is the root; subgraphs add theirs)."""
    latest_checkpoint_id: str | None
    latest_time: datetime | None
    """The latest checkpoint's ``ts`` (timezone-aware)."""
    latest_step: int | None
    latest_metadata: dict[str, Any] = field(default_factory=dict)
    stored_bytes: int = 0
    """The thread's own records (checkpoints, writes); content shared between
    checkpoints and threads is counted once, in ``StoreStats``."""
    interrupted: bool = False
    """The latest root-namespace checkpoint has a pending ``__interrupt__`` write:
    the graph waits for ``Command(resume=...)``."""


@dataclass(frozen=True)
class StoreStats:
    """Counts and sizes of a whole store (``PersistSaver.stats``)."""

    threads: int
    checkpoints: int
    write_records: int
    blobs: int
    bytes_total: int
    """Bytes of every record (what the data weighs, before the medium's overhead)."""
    bytes_blobs: int
    tiers: dict[str, Any]
    bytes_on_disk: int | None = None
    """What the store takes on the local disk (an SQLite store: the database and its
    write-ahead log); ``None`` for a store that is not on a local disk (S3)."""
    dedup_ratio: float | None = None
    """Content bytes the records reference, counted once per reference, over the
    content bytes stored: how much sharing saves (2.0: half). ``None`` unless asked
    for (``stats(dedup=True)`` reads every record) or when nothing is stored."""


class HistoryEntry(NamedTuple):
    """One checkpoint of ``PersistSaver.history``: its tuple, or why it cannot be read."""

    config: RunnableConfig
    tuple: CheckpointTuple | None
    error: RecordError | None


# -- reading -----------------------------------------------------------------------------------


def thread_ids(engine: Engine) -> list[str]:
    """Every thread id in the store, sorted (names the store cannot map back are skipped)."""
    ids = (engine.thread_id_of(t) for t in engine.thread_names())
    return sorted(i for i in ids if i is not None)


def namespaces(engine: Engine, thread_id: str) -> list[str]:
    return sorted(a.checkpoint_ns for a in engine.namespaces(str(thread_id)))


def checkpoint_ids(engine: Engine, thread_id: str, checkpoint_ns: str = "") -> Iterator[str]:
    """One namespace's checkpoint ids, newest first, read in pages (no record decoded)."""
    for cid, _a in engine.newest_first(engine.address(str(thread_id), checkpoint_ns)):
        yield cid


def record_sizes(engine: Engine, thread_id: str) -> dict[tuple[str, str], int]:
    """(namespace, checkpoint id) -> bytes of its checkpoint record plus its write records."""
    thread_id = str(thread_id)
    names = {a.n: a.checkpoint_ns for a in engine.namespaces(thread_id)}
    sizes: dict[tuple[str, str], int] = {}
    for key, size, _mtime in engine.store.walk(keys.thread_dir(engine.name(thread_id))):
        found = keys.record_of(key)
        if found is None or found[0] not in names:
            continue
        at = (names[found[0]], found[1])
        sizes[at] = sizes.get(at, 0) + size
    return sizes


def thread_info(engine: Engine, thread_id: str) -> ThreadInfo:
    """See ``ThreadInfo``; ``NotFoundError`` when the store holds nothing of the thread."""
    thread_id = str(thread_id)
    addresses = sorted(engine.namespaces(thread_id), key=lambda a: a.checkpoint_ns)
    stored = engine.store.size_of(keys.thread_dir(engine.name(thread_id)))
    if not addresses and not stored:
        raise NotFoundError(f"thread {thread_id!r} is not in the store")
    count = 0
    tips: dict[str, tuple[str, Address]] = {}
    for a in addresses:
        # counted in place and the newest found by one seek: a thread's summary costs
        # the same at 100 checkpoints as at 1 (no id list is built)
        count += engine.store.count(keys.checkpoints_dir(a.t, a.n))
        newest = engine.latest_id(a)
        if newest is not None:
            tips[a.checkpoint_ns] = (newest, a)
    latest = tips.get("") or (max(tips.values(), key=lambda tip: tip[0]) if tips else None)
    info = ThreadInfo(
        thread_id=thread_id,
        checkpoints=count,
        namespaces=tuple(a.checkpoint_ns for a in addresses),
        latest_checkpoint_id=None,
        latest_time=None,
        latest_step=None,
        stored_bytes=stored,
    )
    if latest is None:
        return info
    cid, a = latest
    time, step, metadata = _describe(engine, a, cid)
    return ThreadInfo(
        thread_id=thread_id,
        checkpoints=count,
        namespaces=info.namespaces,
        latest_checkpoint_id=cid,
        latest_time=time,
        latest_step=step,
        latest_metadata=metadata,
        stored_bytes=stored,
        interrupted=a.checkpoint_ns == "" and _interrupted(engine, a, cid),
    )


def _describe(
    engine: Engine, a: Address, checkpoint_id: str
) -> tuple[datetime | None, int | None, dict[str, Any]]:
    """(time, step, metadata) of one checkpoint, from its record alone (no values)."""
    by_id = checkpoint_time(checkpoint_id)
    try:
        rec = engine.checkpoint_record(a, checkpoint_id)
        if rec is None:
            return by_id, None, {}
        metadata = dict(engine.serde.loads_typed(tuple(rec["meta"])))
        body = engine.serde.loads_typed(tuple(rec["ckpt"]))
    except (RecordError, KeyError, TypeError, ValueError):
        return by_id, None, {}
    step = metadata.get("step")
    return (
        _parse_ts(body.get("ts") if isinstance(body, dict) else None) or by_id,
        step if isinstance(step, int) else None,
        metadata,
    )


def _parse_ts(ts: Any) -> datetime | None:
    if not isinstance(ts, str):
        return None
    try:
        when = datetime.fromisoformat(ts)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _interrupted(engine: Engine, a: Address, checkpoint_id: str) -> bool:
    try:
        return INTERRUPT in engine.pending_channels(a, checkpoint_id)
    except RecordError:
        return False  # damaged writes: not known to wait for a resume


def thread_infos(engine: Engine, prefix: str | None = None) -> list[ThreadInfo]:
    """``thread_info`` of every thread (whose id starts with ``prefix``), newest first.

    Threads without a readable time come last, then ties by id, so the order is
    total and stable across calls."""
    out: list[ThreadInfo] = []
    for thread_id in thread_ids(engine):
        if prefix is not None and not thread_id.startswith(prefix):
            continue
        try:
            out.append(thread_info(engine, thread_id))
        except NotFoundError:
            continue  # deleted while listing
    out.sort(key=lambda i: i.thread_id)
    out.sort(
        key=lambda i: i.latest_time.timestamp() if i.latest_time else float("-inf"), reverse=True
    )
    return out


def chain(engine: Engine, thread_id: str, checkpoint_id: str, checkpoint_ns: str = "") -> list[str]:
    """Ids from ``checkpoint_id`` back to its namespace's root, following parent links.

    Stops at a parent that is no longer stored (pruned); raises ``NotFoundError``
    for an unknown checkpoint and ``RecordError`` for a damaged record on the way.
    """
    a = engine.address(str(thread_id), checkpoint_ns)
    out: list[str] = []
    cursor: str | None = keys.check_checkpoint_id(checkpoint_id)
    while cursor is not None and cursor not in out:
        rec = engine.checkpoint_record(a, cursor)
        if rec is None:
            if not out:
                raise NotFoundError(
                    f"checkpoint {checkpoint_id!r} of thread {thread_id!r} "
                    f"(namespace {checkpoint_ns!r}) is not in the store"
                )
            break
        out.append(cursor)
        parent = rec.get("parent")
        cursor = parent if isinstance(parent, str) else None
    return out


def fork_selection(
    engine: Engine, thread_id: str, checkpoint_id: str, checkpoint_ns: str = ""
) -> list[tuple[str, str]]:
    """(namespace, checkpoint id) pairs a fork at ``checkpoint_id`` copies.

    The checkpoint's whole ancestor chain (so ``DeltaChannel`` values, rebuilt
    from ancestors' writes, read the same in the fork), and, for a root-namespace
    fork, every subgraph checkpoint made up to it (uuid6 ids sort by time), so a
    subgraph interrupted at that point resumes in the fork too.
    """
    ids = chain(engine, thread_id, checkpoint_id, checkpoint_ns)
    picked = [(checkpoint_ns, cid) for cid in ids]
    if checkpoint_ns == "":
        for ns in namespaces(engine, thread_id):
            if ns:
                picked.extend(
                    (ns, cid)
                    for cid in checkpoint_ids(engine, thread_id, ns)
                    if cid <= checkpoint_id
                )
    return picked
