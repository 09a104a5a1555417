"""Moving threads between checkpoint savers, through LangGraph's public saver API only.

This is how users migrate to us (and away): read a thread from ANY
``BaseCheckpointSaver`` with ``list``/``get_tuple``, write it into any other
with ``put``/``put_writes``, then read it back and compare. Portable
snapshot files (``snapshot.py``) are the same two halves with a file in
between, so the rules below hold for both.

What a copy preserves: checkpoint ids, parent links, namespaces, the whole
checkpoint (channel values, versions, ``versions_seen``, ``ts``), metadata,
and every pending write with its task id, channel and value. A write's
``task_path`` is kept when the source exposes it (PersistSaver and
InMemorySaver do); SqliteSaver and PostgresSaver store it but do not return it
in ``pending_writes``, so writes copied from them get ``task_path=""``. That
only changes the order in which a target lists pending writes of
*different* tasks; LangGraph matches writes to tasks by id, so resuming is
unaffected. A task's writes keep their relative order; their ``idx`` is
their position among the task's writes (specials such as ``__interrupt__``
keep their fixed index).

Order of writing: oldest first, parents before children, per namespace;
``new_versions`` for each put are the channels whose version differs from
the parent's, which is what LangGraph itself passes. Savers that store
channel values by version (InMemorySaver, PostgresSaver) need exactly that.

A copy never merges into an existing thread (that would interleave two
histories): the target thread must be empty, and a copy that fails half way
deletes what it wrote.

Self-contained: a copy never names a checkpoint it does not hold. A parent
link that points outside it (cut off by ``latest=True``, or already pruned
in the source) is dropped, so the oldest checkpoint kept in a namespace
becomes a root. The parent is unreachable either way (``get_tuple`` of it
returns ``None`` in the source too); keeping a dangling link would make a
PersistSaver target that has deleted this thread before refuse the copy as
a late writer resurrecting it (``ThreadDeletedError``), i.e. restoring a
``--latest`` backup after a deletion would fail. Copies of complete
histories are unaffected and exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.serde.base import SerializerProtocol

from langgraph_persist import urls
from langgraph_persist.errors import (
    ConfigurationError,
    MigrationError,
    NotFoundError,
    StoreError,
    ThreadExistsError,
)
from langgraph_persist.extras import install_hint
from langgraph_persist.readers import WriteCopy, reader_for
from langgraph_persist.saver import PersistSaver

AnySaver = BaseCheckpointSaver[Any]
__all__ = [
    "AnySaver",
    "CheckpointCopy",
    "CopyCounts",
    "MigrationReport",
    "Progress",
    "WriteCopy",
    "compare_threads",
    "copy_thread_between",
    "migrate_all",
    "open_saver",
    "read_checkpoints",
    "read_thread",
    "redact_url",
    "thread_ids",
    "write_thread",
]
Progress = Callable[[int, int], None]
"""``progress(done, total)``, as in ``maintenance.py``."""


@dataclass(frozen=True)
class CheckpointCopy:
    """One checkpoint as any saver's ``put`` takes it, plus its pending writes."""

    checkpoint_ns: str
    checkpoint_id: str
    parent_id: str | None
    checkpoint: Checkpoint
    metadata: CheckpointMetadata
    writes: tuple[WriteCopy, ...] = ()


@dataclass(frozen=True)
class CopyCounts:
    """How much one thread copy moved (and, after verification, found in the target)."""

    checkpoints: int
    writes: int
    namespaces: int


@dataclass
class MigrationReport:
    """Per-thread counts of ``migrate_all``; ``skipped`` existed in the target already."""

    copied: dict[str, CopyCounts] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def checkpoints(self) -> int:
        return sum(c.checkpoints for c in self.copied.values())

    @property
    def writes(self) -> int:
        return sum(c.writes for c in self.copied.values())


def _config(thread_id: str, checkpoint_ns: str, checkpoint_id: str | None = None) -> RunnableConfig:
    configurable: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns}
    if checkpoint_id is not None:
        configurable["checkpoint_id"] = checkpoint_id
    return {"configurable": configurable}


def _ids(t: CheckpointTuple) -> tuple[str, str, str | None]:
    """(namespace, checkpoint id, parent id) of a tuple."""
    conf = t.config["configurable"]
    parent = (t.parent_config or {}).get("configurable", {}).get("checkpoint_id")
    return conf.get("checkpoint_ns", ""), conf["checkpoint_id"], parent


# -- reading -----------------------------------------------------------------------------------


def thread_ids(saver: AnySaver) -> list[str]:
    """Every thread id a saver holds, sorted.

    LangGraph's saver interface has no "list threads"; ``list(None)`` decodes
    every checkpoint of every thread. Savers with a registered reader
    (``readers.py``) are asked directly; any other saver falls back to ``list(None)``.
    """
    reader = reader_for(saver).thread_ids
    if reader is not None:
        return sorted(set(reader(saver)))
    return sorted({str(t.config["configurable"]["thread_id"]) for t in saver.list(None)})


def _writes_of(saver: AnySaver, t: CheckpointTuple) -> tuple[WriteCopy, ...]:
    """A checkpoint's pending writes, with ``task_path`` and ``idx`` where the saver keeps them."""
    reader = reader_for(saver).writes
    if reader is not None:
        return reader(saver, t)
    positions: dict[str, int] = {}
    out = []
    for task, channel, value in t.pending_writes or ():
        position = positions.get(task, 0)
        positions[task] = position + 1
        out.append(WriteCopy(task, channel, value, "", WRITES_IDX_MAP.get(channel, position)))
    return tuple(out)


def _copy_of(saver: AnySaver, t: CheckpointTuple) -> CheckpointCopy:
    ns, checkpoint_id, parent = _ids(t)
    return CheckpointCopy(
        checkpoint_ns=ns,
        checkpoint_id=checkpoint_id,
        parent_id=parent,
        checkpoint=t.checkpoint,
        metadata=t.metadata,
        writes=_writes_of(saver, t),
    )


def delta_ancestors(tip: CheckpointTuple, by_id: Mapping[str, CheckpointTuple]) -> list[str]:
    """Ancestors a checkpoint's ``DeltaChannel`` values are rebuilt from (any saver).

    The same rule as ``Engine.delta_safe_chain``, over decoded tuples: a delta
    channel listed in ``counters_since_delta_snapshot`` without a value in this
    checkpoint is rebuilt from the nearest ancestor holding a value (its seed)
    plus the writes in between, so that whole stretch has to come along.
    """
    counters = tip.metadata.get("counters_since_delta_snapshot") or {}
    needing = {ch for ch in counters if ch not in tip.checkpoint["channel_values"]}
    chain: list[str] = []
    cursor = _ids(tip)[2]
    while needing and cursor and cursor in by_id and cursor not in chain:
        ancestor = by_id[cursor]
        chain.append(cursor)
        needing = {ch for ch in needing if ch not in ancestor.checkpoint["channel_values"]}
        cursor = _ids(ancestor)[2]
    return chain


def read_thread(saver: AnySaver, thread_id: str, *, latest: bool = False) -> list[CheckpointCopy]:
    """Every checkpoint of a thread, all namespaces, oldest first and parents first.

    ``latest=True`` keeps, per namespace, only the newest checkpoint plus the
    ancestors its delta channels need (see ``delta_ancestors``): the smallest
    history that still resumes exactly. Raises ``NotFoundError`` for a thread
    with no checkpoints.
    """
    fast_latest = reader_for(saver).latest if latest else None
    if fast_latest is not None:
        tuples = fast_latest(saver, thread_id)
    else:
        tuples = list(saver.list({"configurable": {"thread_id": thread_id}}))
        if latest:
            tuples = _latest_generic(tuples)
    if not tuples:
        raise NotFoundError(f"thread {thread_id!r} has no checkpoints")
    return order_parents_first(_self_contained([_copy_of(saver, t) for t in tuples]))


def read_checkpoints(
    saver: AnySaver, thread_id: str, selection: Iterable[tuple[str, str]]
) -> list[CheckpointCopy]:
    """Some checkpoints of a thread, given as (namespace, checkpoint id), parents first.

    What ``read_thread`` returns, for a chosen part of the thread (a fork, see
    ``PersistSaver.fork``). ``NotFoundError`` when one of them is not there.
    """
    tuples = []
    for ns, checkpoint_id in selection:
        t = saver.get_tuple(_config(thread_id, ns, checkpoint_id))
        if t is None:
            raise NotFoundError(
                f"checkpoint {checkpoint_id!r} of thread {thread_id!r} (namespace {ns!r}) "
                "is not in the store"
            )
        tuples.append(t)
    return order_parents_first(_self_contained([_copy_of(saver, t) for t in tuples]))


def _self_contained(items: list[CheckpointCopy]) -> list[CheckpointCopy]:
    """Drop parent links that point outside the copy (see module doc, "Self-contained")."""
    present = {(c.checkpoint_ns, c.checkpoint_id) for c in items}
    return [
        c
        if c.parent_id is None or (c.checkpoint_ns, c.parent_id) in present
        else dataclasses.replace(c, parent_id=None)
        for c in items
    ]


def _latest_generic(tuples: list[CheckpointTuple]) -> list[CheckpointTuple]:
    by_ns: dict[str, dict[str, CheckpointTuple]] = {}
    for t in tuples:
        ns, checkpoint_id, _parent = _ids(t)
        by_ns.setdefault(ns, {})[checkpoint_id] = t
    keep: list[CheckpointTuple] = []
    for by_id in by_ns.values():
        tip = by_id[max(by_id)]
        keep.append(tip)
        keep.extend(by_id[cid] for cid in delta_ancestors(tip, by_id))
    return keep


def order_parents_first(items: Iterable[CheckpointCopy]) -> list[CheckpointCopy]:
    """Sort by id (uuid6 ids are time-ordered), then move any parent before its children.

    Savers that derive ids differently could in principle give a child a
    smaller id than its parent; writing the child first would make the
    target compute its ``new_versions`` against nothing.
    """
    ordered = sorted(items, key=lambda c: (c.checkpoint_id, c.checkpoint_ns))
    index = {(c.checkpoint_ns, c.checkpoint_id): c for c in ordered}
    placed: set[tuple[str, str]] = set()
    out: list[CheckpointCopy] = []
    for item in ordered:
        chain: list[CheckpointCopy] = []
        cursor: CheckpointCopy | None = item
        while cursor is not None:
            key = (cursor.checkpoint_ns, cursor.checkpoint_id)
            if key in placed or cursor in chain:
                break
            chain.append(cursor)
            parent = cursor.parent_id
            cursor = index.get((cursor.checkpoint_ns, parent)) if parent else None
        for c in reversed(chain):
            placed.add((c.checkpoint_ns, c.checkpoint_id))
            out.append(c)
    return out


# -- writing -----------------------------------------------------------------------------------


def thread_exists(saver: AnySaver, thread_id: str) -> bool:
    return (
        next(iter(saver.list({"configurable": {"thread_id": thread_id}}, limit=1)), None)
        is not None
    )


def write_thread(
    saver: AnySaver,
    thread_id: str,
    items: Sequence[CheckpointCopy],
    *,
    progress: Progress | None = None,
    all_channels: bool = False,
) -> CopyCounts:
    """Write checkpoints (ordered as ``read_thread`` returns them) into an empty thread.

    ``all_channels`` passes every channel as new to ``put``, so a saver that
    reuses its parent's values for unchanged versions (ours) stores each value
    afresh: exact even for a source whose versions did not follow its values.

    All or nothing: if any put fails, the partly written thread is deleted and
    the error re-raised (the thread was empty before, so nothing of the user's
    is lost). Raises ``ThreadExistsError`` when the thread has checkpoints.
    A PersistSaver target records the import in its audit log.
    """
    if thread_exists(saver, thread_id):
        raise ThreadExistsError(
            f"thread {thread_id!r} already exists in the target; choose another id or delete it"
        )
    versions: dict[tuple[str, str], Mapping[str, Any]] = {}
    writes = 0
    try:
        for done, item in enumerate(items, 1):
            versions[(item.checkpoint_ns, item.checkpoint_id)] = item.checkpoint["channel_versions"]
            parent = versions.get((item.checkpoint_ns, item.parent_id or ""), {})
            new_versions = {
                ch: v
                for ch, v in item.checkpoint["channel_versions"].items()
                if all_channels or parent.get(ch) != v
            }
            saver.put(
                _config(thread_id, item.checkpoint_ns, item.parent_id),
                item.checkpoint,
                item.metadata,
                new_versions,
            )
            writes += _put_writes(
                saver, _config(thread_id, item.checkpoint_ns, item.checkpoint_id), item.writes
            )
            if progress:
                progress(done, len(items))
    except BaseException:
        with contextlib.suppress(Exception):
            saver.delete_thread(thread_id)
        raise
    counts = CopyCounts(len(items), writes, len({i.checkpoint_ns for i in items}))
    if isinstance(saver, PersistSaver) and saver.audit is not None:
        saver.audit.record("import", thread_id=thread_id, checkpoints=counts.checkpoints)
    return counts


def _put_writes(saver: AnySaver, config: RunnableConfig, writes: Sequence[WriteCopy]) -> int:
    """One ``put_writes`` per (task, task path) for regular writes, so their ``idx`` are
    0..n-1 in their original order; one per special write (its ``idx`` is fixed by channel).

    Grouping by path too matters for threads that were copied from a saver
    without paths and then resumed: one task may hold writes with and without.
    """
    groups: dict[tuple[str, str], list[WriteCopy]] = {}
    for w in writes:
        if w.channel in WRITES_IDX_MAP:
            saver.put_writes(config, [(w.channel, w.value)], w.task_id, w.task_path)
        else:
            groups.setdefault((w.task_id, w.task_path), []).append(w)
    for (task_id, path), group in groups.items():
        ordered = sorted(group, key=lambda w: w.idx)
        saver.put_writes(config, [(w.channel, w.value) for w in ordered], task_id, path)
    return len(writes)


# -- verification ------------------------------------------------------------------------------


def _same_writes(a: Sequence[WriteCopy], b: Sequence[WriteCopy]) -> bool:
    """Equal per task: special writes by channel, regular writes in order.

    Savers list writes by (task_path, task_id, idx), and not all of them keep
    paths, so the order *between* tasks, and between a task's special and
    regular writes, may legitimately differ (see module doc).
    """

    def by_task(ws: Sequence[WriteCopy]) -> dict[str, tuple[dict[str, Any], list[Any]]]:
        out: dict[str, tuple[dict[str, Any], list[Any]]] = {}
        for w in ws:
            special, regular = out.setdefault(w.task_id, ({}, []))
            if w.channel in WRITES_IDX_MAP:
                special[w.channel] = w.value
            else:
                regular.append((w.channel, w.value))
        return out

    return by_task(a) == by_task(b)


def compare_threads(expected: Sequence[CheckpointCopy], actual: Sequence[CheckpointCopy]) -> None:
    """Raise ``MigrationError`` naming the first difference between two thread copies."""
    want = {(c.checkpoint_ns, c.checkpoint_id): c for c in expected}
    got = {(c.checkpoint_ns, c.checkpoint_id): c for c in actual}
    if want.keys() != got.keys():
        missing = sorted(want.keys() - got.keys())
        extra = sorted(got.keys() - want.keys())
        raise MigrationError(
            f"target has {len(got)} checkpoints, source {len(want)} "
            f"(missing {missing[:3]}, unexpected {extra[:3]})"
        )
    for key, a in want.items():
        b = got[key]
        what = None
        if a.parent_id != b.parent_id:
            what = f"parent {b.parent_id} != {a.parent_id}"
        elif a.checkpoint != b.checkpoint:
            channels = [
                ch
                for ch in {*a.checkpoint["channel_values"], *b.checkpoint["channel_values"]}
                if a.checkpoint["channel_values"].get(ch) != b.checkpoint["channel_values"].get(ch)
            ]
            what = f"checkpoint content differs (channels {sorted(channels)})"
        elif a.metadata != b.metadata:
            what = "metadata differs"
        elif not _same_writes(a.writes, b.writes):
            what = f"pending writes differ ({len(b.writes)} vs {len(a.writes)})"
        if what:
            ns = f" namespace {key[0]!r}" if key[0] else ""
            raise MigrationError(f"checkpoint {key[1]}{ns}: {what}")


# -- the operations -------------------------------------------------------------------------------


def copy_thread_between(
    source_saver: AnySaver,
    target_saver: AnySaver,
    thread_id: str,
    *,
    target_thread_id: str | None = None,
    latest: bool = False,
    verify: bool = True,
    progress: Progress | None = None,
) -> CopyCounts:
    """Copy one thread from any saver into any other, then verify the target against the source.

    Example::

        with SqliteSaver.from_conn_string("old.db") as old:
            copy_thread_between(old, PersistSaver("./checkpoints"), "user-42")

    Raises ``NotFoundError`` (no such thread), ``ThreadExistsError`` (target
    not empty) or ``MigrationError`` (the target reads back differently; the
    copy is then left in place for inspection).
    """
    target_id = thread_id if target_thread_id is None else target_thread_id
    items = read_thread(source_saver, thread_id, latest=latest)
    counts = write_thread(target_saver, target_id, items, progress=progress)
    if verify:
        compare_threads(items, read_thread(target_saver, target_id))
    return counts


def migrate_all(
    source: AnySaver,
    target: AnySaver,
    *,
    threads: Sequence[str] | None = None,
    skip_existing: bool = False,
    progress: Progress | None = None,
) -> MigrationReport:
    """Copy every thread (or ``threads``) from ``source`` to ``target``, verifying each.

    Conflicts are checked before anything is written: with ``skip_existing``
    threads already in the target are left alone (so an interrupted migration
    can simply be run again); without it, any conflict aborts the whole run.
    """
    todo = list(threads) if threads is not None else thread_ids(source)
    report = MigrationReport()
    existing = [t for t in todo if thread_exists(target, t)]
    if existing and not skip_existing:
        raise ThreadExistsError(
            f"{len(existing)} thread(s) already exist in the target (first: {existing[0]!r}); "
            "pass skip_existing=True (CLI: --skip-existing) to leave them as they are"
        )
    report.skipped = existing
    skip = set(existing)
    todo = [t for t in todo if t not in skip]
    for done, thread_id in enumerate(todo, 1):
        report.copied[thread_id] = copy_thread_between(source, target, thread_id)
        if progress:
            progress(done, len(todo))
    return report


# -- savers by connection string ---------------------------------------------------------------


SCHEMES = ("sqlite:///", "postgresql://", "postgres://")

redact_url = urls.redact
"""``url`` fit to print (passwords as ``***``); see ``urls.redact``."""


@contextlib.contextmanager
def open_saver(
    url: str, *, create: bool = False, serde: SerializerProtocol | None = None
) -> Iterator[AnySaver]:
    """Open a saver from a connection string, using each saver's ``from_conn_string``.

    * ``sqlite:///relative.db`` or ``sqlite:////absolute.db``: ``SqliteSaver``;
    * ``postgresql://user@host/db``: ``PostgresSaver`` (``langgraph-checkpoint-postgres``);
    * anything else names a langgraph-persist store in ``urls.py``'s grammar (a
      directory, ``s3://``, ``redis://...?cold=...``): ``PersistSaver.from_conn_string``.

    ``create=False`` (a source) refuses a SQLite file or directory that does
    not exist, instead of silently creating an empty one. ``serde`` replaces
    the saver's serializer: the CLI passes ``untrusted.untrusted_serde()`` so a
    database it migrates from cannot run code through a crafted value.
    Error messages never include the URL's password (``redact_url``).
    """
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not create and not os.path.isfile(path):
            raise NotFoundError(f"no SQLite database at {path}")
        from langgraph.checkpoint.sqlite import SqliteSaver

        try:
            with SqliteSaver.from_conn_string(path) as sqlite_saver:
                if serde is not None:
                    sqlite_saver.serde = serde
                yield sqlite_saver
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"SQLite database {path}: {exc}") from exc
    elif url.startswith(("postgresql://", "postgres://")):
        try:
            from langgraph.checkpoint.postgres import PostgresSaver
        except ImportError as exc:
            raise ConfigurationError(
                f"PostgreSQL needs langgraph-checkpoint-postgres: {install_hint('postgres')}"
            ) from exc
        import psycopg

        try:
            with PostgresSaver.from_conn_string(url) as pg_saver:
                if serde is not None:
                    pg_saver.serde = serde
                if create:
                    pg_saver.setup()
                yield cast(AnySaver, pg_saver)
        except psycopg.Error as exc:  # unreachable, no such database, no LangGraph tables
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"PostgreSQL {redact_url(url)}: {first}") from exc
    else:
        try:
            spec = urls.parse(url)
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"unsupported connection string {redact_url(url)!r}: use sqlite:///PATH, "
                f"postgresql://... or a langgraph-persist store ({exc})"
            ) from None
        local = spec.cold if isinstance(spec, urls.HotSpec) else spec
        if not create and isinstance(local, urls.LocalSpec) and not os.path.isdir(local.path):
            raise NotFoundError(f"no langgraph-persist store at {local.path}")
        with PersistSaver.from_conn_string(spec, serde=serde) as persist_saver:
            yield persist_saver
