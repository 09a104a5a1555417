"""Retention: which checkpoints and threads to drop, planned first, applied second.

Two policies, combinable:

* ``keep_last=N``: in every namespace of every thread, keep the newest N
  checkpoints (a subgraph's namespace keeps its own N, so an interrupted
  subgraph can still resume);
* ``idle_longer_than=timedelta``: delete whole threads whose newest
  checkpoint is older than that.

DeltaChannel safety: a kept checkpoint whose delta channels were not
snapshotted is rebuilt from ancestors' writes, so every ancestor that
``Engine.delta_safe_chain`` names for a kept checkpoint is kept too (and
reported as ``kept_for_delta``). Pruning never silently empties a channel.

Plan, then apply: ``plan_retention`` only reads (that is ``prune --dry-run``),
``apply_retention`` deletes. Between the two the store may change, so apply
re-plans each thread against the store as it is *now* and drops only what
both plans agree on: a thread that became active again is not deleted, a
checkpoint that a new child needs is not dropped.

A checkpoint's time is read from its id (LangGraph's ids are uuid6, which
embed their creation time), so deciding costs a directory listing, not a
decode. Ids from other generators fall back to the checkpoint's ``ts``.
Dropping checkpoints frees their records; the content they alone referenced
is reclaimed by ``gc``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from langgraph_persist.admin import checkpoint_time
from langgraph_persist.saver import PersistSaver

__all__ = [
    "RetentionPlan",
    "RetentionResult",
    "ThreadPlan",
    "ThreadSummary",
    "all_threads",
    "apply_retention",
    "checkpoint_time",
    "plan_retention",
    "summarize_thread",
]

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class ThreadSummary:
    """What retention decides by: a thread's checkpoint ids per namespace, its size and
    its last update, all read through ``PersistSaver``'s admin API (``thread_info``,
    ``checkpoint_ids``). New code that only lists threads wants ``thread_infos``."""

    thread_id: str
    namespaces: dict[str, list[str]]
    """Checkpoint ids per namespace, oldest first."""
    bytes: int
    """Size of the thread's records (checkpoints, writes); shared content is in ``stats``."""
    last_update: datetime | None
    """Of the newest checkpoint in any namespace (a subgraph's work counts as activity)."""

    @property
    def checkpoints(self) -> int:
        return sum(len(ids) for ids in self.namespaces.values())

    @property
    def latest_id(self) -> str | None:
        tips = [ids[-1] for ids in self.namespaces.values() if ids]
        return max(tips) if tips else None


def summarize_thread(saver: PersistSaver, thread_id: str) -> ThreadSummary:
    """Ids by listing, bytes from ``thread_info``, time from the newest id (uuid6) or,
    for other ids, from the latest checkpoint's ``ts``."""
    info = saver.thread_info(thread_id)
    namespaces = {
        ns: list(reversed(list(saver.checkpoint_ids(thread_id, checkpoint_ns=ns))))
        for ns in info.namespaces
    }
    times = [checkpoint_time(ids[-1]) for ids in namespaces.values() if ids]
    known = [t for t in times if t is not None]
    if len(known) < len(times) and info.latest_time is not None:
        known.append(info.latest_time)
    return ThreadSummary(thread_id, namespaces, info.stored_bytes, max(known) if known else None)


def all_threads(saver: PersistSaver) -> list[str]:
    """Every thread id in the store, sorted."""
    return list(saver.threads())


# -- planning ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ThreadPlan:
    """What retention does to one thread."""

    thread_id: str
    action: Literal["delete", "trim"]
    last_update: datetime | None
    checkpoints: int
    drop: tuple[tuple[str, str], ...] = ()
    """(namespace, checkpoint id) pairs to drop; empty for ``delete`` (everything goes)."""
    kept_for_delta: tuple[tuple[str, str], ...] = ()
    """Older than the last N, kept because a kept checkpoint's delta channels need them."""

    @property
    def dropped(self) -> int:
        return self.checkpoints if self.action == "delete" else len(self.drop)


@dataclass(frozen=True)
class RetentionPlan:
    """Threads to delete and checkpoints to drop; threads left untouched are not listed."""

    created: datetime
    keep_last: int | None
    idle_longer_than: timedelta | None
    threads: tuple[ThreadPlan, ...] = field(default_factory=tuple)

    @property
    def threads_to_delete(self) -> list[str]:
        return [p.thread_id for p in self.threads if p.action == "delete"]

    @property
    def checkpoints_to_drop(self) -> int:
        return sum(p.dropped for p in self.threads)


def _plan_thread(
    saver: PersistSaver,
    thread_id: str,
    keep_last: int | None,
    cutoff: datetime | None,
) -> ThreadPlan | None:
    summary = summarize_thread(saver, thread_id)
    if not summary.checkpoints:
        return None  # nothing to date it by; left alone
    if cutoff is not None and summary.last_update is not None and summary.last_update < cutoff:
        return ThreadPlan(thread_id, "delete", summary.last_update, summary.checkpoints)
    if keep_last is None:
        return None
    drop: list[tuple[str, str]] = []
    for_delta: list[tuple[str, str]] = []
    for ns, ids in summary.namespaces.items():
        if len(ids) <= keep_last:
            continue
        recent = ids[-keep_last:]
        keep = set(recent)
        for checkpoint_id in recent:
            keep |= saver.delta_safe_chain(thread_id, checkpoint_id, checkpoint_ns=ns)
        drop.extend((ns, cid) for cid in ids if cid not in keep)
        for_delta.extend((ns, cid) for cid in ids[:-keep_last] if cid in keep)
    if not drop:
        return None
    return ThreadPlan(
        thread_id, "trim", summary.last_update, summary.checkpoints, tuple(drop), tuple(for_delta)
    )


def plan_retention(
    saver: PersistSaver,
    keep_last: int | None = None,
    idle_longer_than: timedelta | None = None,
    *,
    threads: Iterable[str] | None = None,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> RetentionPlan:
    """What the policies would drop, reading only (``prune --dry-run``).

    Raises ``ValueError`` when no policy is given or ``keep_last < 1`` (keeping
    nothing is ``delete_thread``, not retention).
    """
    if keep_last is None and idle_longer_than is None:
        raise ValueError("give keep_last, idle_longer_than or both")
    if keep_last is not None and keep_last < 1:
        raise ValueError("keep_last must be at least 1")
    now = now or datetime.now(timezone.utc)
    cutoff = now - idle_longer_than if idle_longer_than is not None else None
    thread_list = sorted(set(threads)) if threads is not None else all_threads(saver)
    plans = []
    for done, thread_id in enumerate(thread_list, 1):
        plan = _plan_thread(saver, thread_id, keep_last, cutoff)
        if plan is not None:
            plans.append(plan)
        if progress:
            progress(done, len(thread_list))
    return RetentionPlan(now, keep_last, idle_longer_than, tuple(plans))


@dataclass(frozen=True)
class RetentionResult:
    threads_deleted: int
    checkpoints_dropped: int
    skipped: tuple[str, ...] = ()
    """Threads the plan named that changed since planning and were left alone."""


def apply_retention(
    saver: PersistSaver, plan: RetentionPlan, *, progress: Progress | None = None
) -> RetentionResult:
    """Apply a plan, re-checked against the store as it is now (see module docstring)."""
    cutoff = plan.created - plan.idle_longer_than if plan.idle_longer_than is not None else None
    deleted = dropped = 0
    skipped: list[str] = []
    for done, planned in enumerate(plan.threads, 1):
        current = _plan_thread(saver, planned.thread_id, plan.keep_last, cutoff)
        if planned.action == "delete":
            if current is not None and current.action == "delete":
                saver.delete_thread(planned.thread_id)
                deleted += 1
                dropped += current.checkpoints
            else:
                skipped.append(planned.thread_id)
        else:
            agreed = set(planned.drop) & set(current.drop if current else ())
            if current is None or current.action != "trim" or not agreed:
                skipped.append(planned.thread_id)
            else:
                dropped += _drop(saver, planned.thread_id, agreed)
        if progress:
            progress(done, len(plan.threads))
    return RetentionResult(deleted, dropped, tuple(skipped))


def _drop(saver: PersistSaver, thread_id: str, doomed: set[tuple[str, str]]) -> int:
    by_ns: dict[str, list[str]] = {}
    for ns, cid in sorted(doomed):
        by_ns.setdefault(ns, []).append(cid)
    for ns, ids in by_ns.items():
        saver.drop_checkpoints(thread_id, ids, checkpoint_ns=ns, strategy="retention")
    return len(doomed)
