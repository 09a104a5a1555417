"""Lifecycle: deleting, copying and pruning threads and checkpoints.

Deletion is ordered so a crash never leaves a state a reader trips over: a
thread's tombstone is durable before its records go (late writes of a run
begun before the deletion cannot resurrect it), and a checkpoint goes before
its pending writes (never a checkpoint without its writes). Pruning keeps
what a kept checkpoint's ``DeltaChannel`` state is rebuilt from (delta.py).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from langgraph.checkpoint.base.id import uuid6

from langgraph_persist import keys
from langgraph_persist.address import Address
from langgraph_persist.engine import delta
from langgraph_persist.engine.heads import Heads
from langgraph_persist.engine.shapes import TombstoneRecord
from langgraph_persist.engine.writer import Writer
from langgraph_persist.records import Kind


class Lifecycle:
    """``delete_thread``, ``delete_for_runs``, ``copy_thread``, ``prune`` and their parts."""

    def __init__(self, writer: Writer, heads: Heads) -> None:
        self.writer = writer
        self.reader = writer.reader
        self.store = writer.store
        self.records = writer.records
        self.heads = heads

    def delete_thread(self, thread_id: str) -> None:
        """Tombstone first (durable), then remove: late writes cannot resurrect it."""
        t = self.reader.name(str(thread_id))
        with self.store.lock(keys.thread_dir(t), exclusive=True):
            if self.store.list(keys.thread_dir(t)):
                key = keys.tombstone(self.reader.tombstone_name(str(thread_id)))
                stone: TombstoneRecord = {"boundary": str(uuid6()), "at": time.time()}  # no id
                self.store.write_many([(key, self.records.encode(Kind.TOMBSTONE, stone, key))])
            self.store.delete_tree(keys.thread_dir(t))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        for run_id in run_ids:
            r = self.reader.name(run_id)
            thread_names = self.store.list(keys.runs_dir(r))
            for t in thread_names:
                thread_id = self.reader.thread_id_of(t)
                if thread_id is None:
                    continue
                for x in self.reader.namespaces(thread_id):
                    doomed = []
                    for cid in self.store.list(keys.checkpoints_dir(x.t, x.n)):
                        rec = self.reader.checkpoint_record(x, cid)
                        if rec is not None and rec.get("run") == run_id:
                            doomed.append(cid)
                    self.delete_checkpoints(x, doomed)
            self.store.delete_many([keys.run_index(r, t) for t in thread_names])

    def delete_checkpoints(self, a: Address, checkpoint_ids: Iterable[str]) -> None:
        """Delete records first, then their writes.

        A crash in between leaves orphan writes (removed by the next prune), never
        a checkpoint without its writes.
        """
        ids = list(checkpoint_ids)
        self.store.delete_many([keys.checkpoint(a.t, a.n, cid) for cid in ids])
        for cid in ids:
            self.store.delete_tree(keys.writes_dir(a.t, a.n, cid))
        self.heads.rebuild(a)

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Link every record into the target thread: no content is copied.

        Records never name their thread (the key does), so the same immutable
        record serves both threads, and blobs are shared by address. With
        encryption on, a record is bound to its key, so it is re-sealed for its
        new place instead of linked.
        """
        target_t = self.reader.name(target_thread_id)
        sources = self.reader.namespaces(source_thread_id)
        if not sources:
            return
        target = self.reader.address(target_thread_id)
        with self.store.maintenance_lock(exclusive=False):
            self.store.commit(create=self.writer.content(target, {}, None))
            writes: list[tuple[keys.Key, keys.Key]] = []
            checkpoints: list[tuple[keys.Key, keys.Key]] = []
            runs: set[str] = set()
            for x in sources:
                for cid in self.store.list(keys.writes_root(x.t, x.n)):
                    wdir = keys.writes_dir(x.t, x.n, cid)
                    for name in self.store.list(wdir):
                        writes.append(((*wdir, name), keys.write(target_t, x.n, cid, name)))
                for cid in self.store.list(keys.checkpoints_dir(x.t, x.n)):
                    checkpoints.append(
                        (keys.checkpoint(x.t, x.n, cid), keys.checkpoint(target_t, x.n, cid))
                    )
                    rec = self.reader.checkpoint_record(x, cid)
                    run = rec.get("run") if rec is not None else None
                    if run:
                        runs.add(run)
            # writes first: a checkpoint is never visible without its writes
            self._copy_records(writes, Kind.WRITES)
            self._copy_records(checkpoints, Kind.CHECKPOINT)
            for run_id in sorted(runs):
                self.store.commit(create=self.writer.content(target, {}, run_id))
            for x in sources:
                self.heads.rebuild(self.reader.address(target_thread_id, x.checkpoint_ns))

    def _copy_records(self, pairs: Sequence[tuple[keys.Key, keys.Key]], kind: Kind) -> None:
        if self.records.sealer is None:
            self.store.link(pairs)
            return
        items = []
        for src, dst in pairs:
            data = self.store.read(src)
            if data is not None:
                obj = self.records.decode(data, kind, src)
                items.append((dst, self.records.encode(kind, obj, dst)))
        self.store.write_many(items)

    def prune(self, thread_ids: Sequence[str], strategy: str) -> None:
        if strategy == "delete":
            for thread_id in thread_ids:
                self.delete_thread(thread_id)
            return
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}: use 'keep_latest' or 'delete'")
        for thread_id in thread_ids:
            for x in self.reader.namespaces(thread_id):
                ids = self.store.list(keys.checkpoints_dir(x.t, x.n))
                if not ids:
                    continue
                keep = delta.safe_chain(self.reader, x, ids[-1])
                self.delete_checkpoints(x, [cid for cid in ids if cid not in keep])
                orphans = set(self.store.list(keys.writes_root(x.t, x.n))) - set(ids)
                for cid in orphans - keep:
                    self.store.delete_tree(keys.writes_dir(x.t, x.n, cid))
