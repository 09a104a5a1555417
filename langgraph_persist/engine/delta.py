"""DeltaChannel support: everything that knows how LangGraph rebuilds a delta channel.

A ``DeltaChannel`` stores only a sentinel at most checkpoints; its value is
its nearest ancestor's stored value (the *seed*, a ``_DeltaSnapshot`` every
``snapshot_frequency`` updates) plus the pending writes on the path since.
Three things here depend on that, and only on the store's records (never on
decoded values):

* ``seed_hints``: at ``put``, each checkpoint records, per delta channel still
  replaying writes, the id of the ancestor holding its seed;
* ``channel_history``: ``get_delta_channel_history`` in a constant number of
  store calls (one listing, one batched read of the ancestors, one listing
  batch and one read batch of their writes), where LangGraph's default costs a
  full ``get_tuple`` per ancestor;
* ``safe_chain``: what ``prune(keep_latest)`` must keep so a kept checkpoint's
  delta channels still rebuild (LangGraph's warning on ``prune``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import DeltaChannelHistory, PendingWrite, get_checkpoint_id

from langgraph_persist import keys
from langgraph_persist.address import Address
from langgraph_persist.engine.shapes import CheckpointRecord
from langgraph_persist.values import Ref

if TYPE_CHECKING:
    from langgraph_persist.engine.reader import RawWrite, Reader


def seed_hints(
    metadata: Mapping[str, Any], parent_id: str | None, parent: Mapping[str, Any] | None
) -> dict[str, str]:
    """For each delta channel still replaying writes: its nearest ancestor with a value.

    Lets ``channel_history`` fetch the whole stretch of ancestors in one batch
    instead of one read per ancestor. A hint only: a channel without one is
    found by walking.
    """
    counters = metadata.get("counters_since_delta_snapshot") or {}
    if not counters or parent is None or parent_id is None:
        return {}
    seeds: dict[str, str] = {}
    inherited = parent.get("dseed") or {}
    for channel in counters:
        entry = parent["refs"].get(channel)
        if entry is not None and entry[1] is not None:
            seeds[channel] = parent_id
        elif channel in inherited:
            seeds[channel] = inherited[channel]
    return seeds


def channel_history(
    reader: Reader, config: RunnableConfig, channels: Sequence[str]
) -> Mapping[str, DeltaChannelHistory]:
    """Walk parent records (small: no values) instead of decoding whole ancestors.

    Per channel: the writes on the path from the seed to the target (oldest
    first, excluding the target's own), and the seed itself when one exists.
    """
    if not channels:
        return {}
    a = reader.address_of(config)
    target_id = get_checkpoint_id(config) or reader.latest_id(a)
    collected: dict[str, list[PendingWrite]] = {c: [] for c in channels}
    seeds: dict[str, Ref] = {}
    remaining = set(channels)
    target = reader.checkpoint_record(a, target_id) if target_id else None
    ancestors = _prefetch_ancestors(reader, a, target_id, target, channels) if target else {}
    path_writes = _prefetch_writes(reader, a, ancestors)
    cursor = target["parent"] if target else None
    while cursor and remaining:
        rec = ancestors.get(cursor) or reader.checkpoint_record(a, cursor)
        if rec is None:
            break
        raw = path_writes[cursor] if cursor in path_writes else reader.raw_writes(a, cursor)
        on_path = [w for w in raw if w.channel in remaining]
        for write in reversed(reader.decode_writes(a, on_path)):
            collected[write[1]].append(write)
        for channel in list(remaining):
            entry = rec["refs"].get(channel)
            if entry is not None and entry[1] is not None:
                seeds[channel] = entry[1]
                remaining.discard(channel)
        cursor = rec["parent"]
    seed_values = reader.values.decode_many(seeds, reader.fetch_for(a))
    result: dict[str, DeltaChannelHistory] = {}
    for channel in channels:
        entry_h: DeltaChannelHistory = {"writes": list(reversed(collected[channel]))}
        if channel in seed_values:
            entry_h["seed"] = seed_values[channel]
        result[channel] = entry_h
    return result


def _prefetch_ancestors(
    reader: Reader,
    a: Address,
    target_id: str | None,
    target: Mapping[str, Any],
    channels: Sequence[str],
) -> dict[str, CheckpointRecord]:
    """Every record between the oldest seed hint and the target, in one batched read.

    Checkpoint ids sort by creation time and a parent is always older than its
    child, so the ancestors back to a seed all lie in that id range (forks in
    the range are read too, and ignored by the walk).
    """
    hints = target.get("dseed") or {}
    if not target_id or not channels or not all(ch in hints for ch in channels):
        return {}
    oldest = min(hints[ch] for ch in channels)
    store = reader.store
    ids = [c for c in store.list(keys.checkpoints_dir(a.t, a.n)) if oldest <= c < target_id]
    rec_keys = [keys.checkpoint(a.t, a.n, c) for c in ids]
    out: dict[str, CheckpointRecord] = {}
    for cid, data in zip(ids, store.read_many(rec_keys), strict=True):
        if data is not None:
            out[cid] = reader.decode_checkpoint(a, cid, data)
    return out


def _prefetch_writes(
    reader: Reader, a: Address, ancestors: Mapping[str, Mapping[str, Any]]
) -> dict[str, list[RawWrite]]:
    """Pending writes of the prefetched ancestors: one listing batch, one read batch."""
    if not ancestors:
        return {}
    ids = list(ancestors)
    listings = reader.store.list_many([keys.writes_dir(a.t, a.n, c) for c in ids])
    wkeys = [
        (cid, keys.write(a.t, a.n, cid, n))
        for cid, names in zip(ids, listings, strict=True)
        for n in names
    ]
    blobs = reader.store.read_many([k for _c, k in wkeys])
    by_id: dict[str, list[tuple[keys.Key, bytes | None]]] = {c: [] for c in ids}
    for (cid, key), data in zip(wkeys, blobs, strict=True):
        by_id[cid].append((key, data))
    return {cid: reader.merge_writes(a, cid, items) for cid, items in by_id.items()}


def safe_chain(reader: Reader, a: Address, checkpoint_id: str) -> set[str]:
    """The checkpoint plus the ancestors its ``DeltaChannel`` state is rebuilt from.

    A delta channel that was not snapshotted at ``checkpoint_id`` is listed in
    the metadata's ``counters_since_delta_snapshot`` and has no stored value;
    its state is its nearest ancestor's stored value (the seed) plus the writes
    in between. We keep that whole stretch, so pruning never silently empties
    a delta channel.
    """
    keep = {checkpoint_id}
    rec = reader.checkpoint_record(a, checkpoint_id)
    if rec is None:
        return keep
    metadata = reader.serde.loads_typed(tuple(rec["meta"]))
    counters = metadata.get("counters_since_delta_snapshot") or {}
    needing = {ch for ch in counters if (rec["refs"].get(ch) or [None, None])[1] is None}
    cursor = rec["parent"]
    while needing and cursor:
        anc = reader.checkpoint_record(a, cursor)
        if anc is None:
            break
        keep.add(cursor)
        needing = {ch for ch in needing if (anc["refs"].get(ch) or [None, None])[1] is None}
        cursor = anc["parent"]
    return keep
