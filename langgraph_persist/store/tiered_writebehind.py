"""Write-behind for ``TieredStore``: queue in Redis, flush to the cold tier in order.

A write-behind put returns once Redis has it: the values (pending: no TTL)
and a queue entry naming their keys, sealed under the store's MAC, are written
together. This process keeps the call in memory too (``Pending``) and a
background flusher writes it to the cold tier, in call order, then *acks* it
(the values get their TTL, the entry leaves the queue).

Acknowledged records survive the writer's death (any process finishes the
flush of a queue whose lease expired: ``recover_orphans``) and Redis's death
while the writer lives (it flushes from memory). Both dying loses them.

The flusher only *creates* records in the cold tier (``cold_write``): a
queue, forged or not, can never overwrite what is there. A queue whose entries
fail authentication is left alone and reported (``reject``).
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from langgraph_persist import keys
from langgraph_persist.errors import InvalidIdError, PersistError, StoreError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Store
from langgraph_persist.store.hot.entries import decode_entry, encode_entry
from langgraph_persist.store.hot.layout import Tag
from langgraph_persist.store.hot.port import HotTier
from langgraph_persist.store.hot.primitives import PendingEntry
from langgraph_persist.store.hot_auth import HotAuth
from langgraph_persist.store.tiered_health import Counters, Health, HotDown

log = logging.getLogger("langgraph_persist.tiered")

WRITER = re.compile(r"[0-9a-f]{32}")
"""What a writer id looks like (``secrets.token_hex(16)``); other names in the writer
set were not put there by a process of ours."""

_REJECTED_LIMIT = 4096
"""Writers whose queue failed authentication, remembered so each is logged once."""

_FLUSH_FAILURES_RAISE = 3
"""Consecutive cold-tier failures after which ``flush()`` raises instead of waiting."""

_QUEUE_BATCH = 32
"""Entries read per round trip when flushing a queue from Redis."""


def replaced_in_place(key: Key) -> bool:
    """Whether the engine rewrites ``key`` through ``commit``: a namespace's head
    (``keys.head``, updated by every put and put_writes). The only key a flush
    may overwrite; everything else the queue carries is created once."""
    parsed = keys.parse(key)
    return parsed is not None and parsed.place == "head"


@dataclass
class Pending:
    """A write-behind call not yet in the cold tier, kept in memory by its writer.

    ``entry`` is the queue entry as Redis holds it (sealed); ``digests`` the sha1
    of each item's bytes in Redis (what the ack compares).
    """

    entry: bytes
    items: list[tuple[Key, bytes]]
    digests: list[str]
    gens: dict[Tag, str]
    epoch: str
    size: int = 0


class WriteBehind:
    """The write-behind buffer and flusher of one ``TieredStore`` (module docstring).

    ``writer`` names this process's queue; ``lease`` is how long it may be silent
    before another process takes the queue over; ``max_pending_bytes`` bounds
    what is acknowledged and not yet in the cold tier (puts then help flush).
    """

    def __init__(
        self,
        hot: HotTier,
        cold: Store,
        auth: HotAuth,
        health: Health,
        counters: Counters,
        *,
        writer: str,
        lease: timedelta,
        max_pending_bytes: int,
    ) -> None:
        self.hot = hot
        self.cold = cold
        self.auth = auth
        self.health = health
        self.counters = counters
        self.writer = writer
        self.lease = lease
        self.max_pending_bytes = max_pending_bytes
        self.buffer: deque[Pending] = deque()
        self.buffer_bytes = 0
        self.cv = threading.Condition()
        self.flush_lock = threading.Lock()
        self.failures = 0
        self.error: BaseException | None = None
        self._seq = itertools.count()
        self._unacked: deque[Pending] = deque()
        self._orphan_lock = threading.Lock()
        self._rejected: set[str] = set()

    # -- writing -------------------------------------------------------------------------------

    def enqueue(self, items: list[tuple[Key, bytes]], create: bool) -> None:
        """Write ``items`` to Redis as pending, with their queue entry (raises ``HotDown``)."""
        size = sum(len(v) for _, v in items)
        while self.buffer_bytes + size > self.max_pending_bytes and self.buffer:
            self.step()  # back-pressure: help the flusher instead of growing
        entry = self.auth.seal_entry(
            self.writer, encode_entry(next(self._seq), create, [k for k, _ in items])
        )
        written = self.health.call(
            lambda: self.hot.put_values(
                items, old="-" if create else "*", pending=PendingEntry(self.writer, entry)
            )
        )
        pending = Pending(entry, items, list(written.digests), written.gens, written.epoch, size)
        with self.cv:
            self.buffer.append(pending)
            self.buffer_bytes += size
            self.cv.notify_all()

    # -- flushing what this process acknowledged -----------------------------------------------

    def flush(self, timeout: timedelta | None = None) -> None:
        """Wait until every record this process acknowledged is in the cold tier.

        The caller helps flush (in order), so this returns as fast as the cold
        tier allows. Raises ``StoreError`` if the cold tier keeps failing (the
        records stay queued in Redis and in memory) or ``timeout`` passes.
        """
        deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
        failures = 0
        while self.buffer:
            if self.step():
                failures = 0
                continue
            if self.error is not None:
                failures += 1
                if failures >= _FLUSH_FAILURES_RAISE:
                    raise StoreError(
                        f"write-behind flush to {self.cold.describe()} keeps failing "
                        f"({len(self.buffer)} records waiting): {self.error}"
                    ) from self.error
            if deadline is not None and time.monotonic() > deadline:
                raise StoreError(f"flush timed out with {len(self.buffer)} records waiting")
            time.sleep(0.05 * failures)

    def drain(self) -> None:
        """Redis gone, or a write that must land after the queue: flush the buffer."""
        if self.buffer:
            self.flush()

    def step(self) -> bool:
        """Flush the oldest buffered call, ack it in Redis; False if nothing was done."""
        with self.flush_lock:
            with self.cv:
                if not self.buffer:
                    return False
                pending = self.buffer[0]
            try:
                self.cold_write(pending.items)
            except PersistError as exc:
                self.failures += 1
                self.error = exc
                if self.failures == 1:
                    log.error(
                        "write-behind flush to %s failed (will retry): %s",
                        self.cold.describe(),
                        exc,
                    )
                return False
            self.failures = 0
            self.error = None
            self._ack(pending)
            with self.cv:
                self.buffer.popleft()
                self.buffer_bytes -= pending.size
                self.cv.notify_all()
            self.counters.add(flushed=len(pending.items))
            return True

    def cold_write(self, items: list[tuple[Key, bytes]]) -> None:
        """A flush's cold write: create-only, deliberately outside the maintenance lock.

        Create-only: what goes through the queue has new keys (checkpoints,
        pending writes, content, thread info, run index: the engine never
        rewrites those in place), and replacements are written through
        (``TieredStore.write_many``: ``reencrypt``, re-sealed copies, rebuilt
        heads). So a flush, whatever a queue names, never overwrites a
        checkpoint, write, blob or segment the cold tier holds. The one
        exception is a namespace's head, which each put rewrites in the same
        ``commit`` as its checkpoint (``replaced_in_place``); tombstones and
        ``meta`` are cold-only.

        Outside the lock: gc takes it exclusively and then deletes through the
        store, which drains the buffer first: a flush waiting for the lock would
        deadlock it. Nor is the lock needed: the records being flushed are
        pending, ``walk`` reports pending records (so gc marks what they
        reference), and new pending records come only from puts, which gc's
        lock keeps out.
        """
        self.cold.commit(
            create=[(k, v) for k, v in items if not replaced_in_place(k)],
            write=[(k, v) for k, v in items if replaced_in_place(k)],
        )

    def _ack(self, pending: Pending) -> None:
        if self.health.degraded:
            self._unacked.append(pending)
            return
        try:
            flushed = [(k, d) for (k, _), d in zip(pending.items, pending.digests, strict=True)]
            again = self.health.call(
                lambda: self.hot.ack(
                    self.writer, pending.entry, flushed, pending.gens, pending.epoch
                )
            )
        except HotDown:
            self._unacked.append(pending)
            return
        if again:
            self.cold.delete_many(again)
            self.counters.add(compensated=len(again))

    def retry_acks(self) -> None:
        """Ack what was flushed while Redis was away."""
        while self._unacked and not self.health.degraded:
            self._ack(self._unacked.popleft())

    def renew(self) -> None:
        """Keep this process's queue leased (raises ``HotDown``)."""
        self.health.call(lambda: self.hot.take_lease(self.writer, self.writer, self.lease))

    def close(self) -> None:
        """At close, with the buffer flushed and Redis healthy: ack what is left,
        flush entries acked nowhere (Redis was away when we flushed) from Redis,
        and give up the queue (raises ``HotDown``: then another process completes it)."""
        self.retry_acks()
        if self.health.call(lambda: self.hot.queue_length(self.writer)):
            self.flush_queue(self.writer)
        self.health.call(lambda: self.hot.release_lease(self.writer, self.writer))
        self.health.call(lambda: self.hot.forget_writer(self.writer))

    # -- flushing queues from Redis ------------------------------------------------------------

    def recover_orphans(self) -> int:
        """Flush the queues of writers whose lease expired; the records flushed.

        Raises ``HotDown``; returns 0 while degraded."""
        if self.health.degraded:
            return 0
        call = self.health.call
        flushed = 0
        with self._orphan_lock:
            for writer in call(self.hot.writers):
                if writer == self.writer or writer in self._rejected:
                    continue
                if not WRITER.fullmatch(writer):
                    self.reject(writer, "is not a writer id")
                    continue
                if not call(partial(self.hot.take_lease, writer, self.writer, self.lease)):
                    continue
                try:
                    flushed += self.flush_queue(writer)
                finally:
                    call(partial(self.hot.release_lease, writer, self.writer))
                    call(partial(self.hot.forget_writer, writer))
        if flushed:
            self.counters.add(recovered=flushed)
            log.info(
                "completed the write-behind flush of %d record(s) left by dead writers", flushed
            )
        return flushed

    def flush_queue(self, writer: str) -> int:
        """Flush a queue from Redis's current values, entry by entry, in order.

        Only what verifies: an entry whose MAC fails stops the queue, which is
        left as it is and not taken over again by this process (``reject``); a
        named value that fails is not flushed. The cold write only creates.
        """
        call = self.health.call
        flushed = 0
        while True:
            batch = call(lambda: self.hot.queue_head(writer, _QUEUE_BATCH))
            if not batch:
                return flushed
            for raw in batch:
                entry = self.auth.open_entry(writer, raw)
                try:
                    if entry is None:
                        raise InvalidIdError("its MAC does not verify")
                    _create, entry_keys = decode_entry(entry)
                except InvalidIdError as exc:
                    self.reject(writer, f"holds an entry that fails authentication ({exc})")
                    return flushed
                fetched = call(
                    partial(self.hot.fetch, entry_keys, refresh=False, all_gens=True, digests=True)
                )
                present: list[tuple[Key, bytes]] = []
                digests: list[tuple[Key, str]] = []
                for i, (key, value) in enumerate(zip(entry_keys, fetched.values, strict=True)):
                    digest = fetched.digests[i] if fetched.digests else None
                    if i in fetched.damaged:
                        self.counters.add(corrupt=1)
                        log.error(
                            "unflushed record %s fails verification in Redis; not flushed",
                            "/".join(key),
                        )
                    elif value is not None and digest is not None:
                        present.append((key, value))
                        digests.append((key, digest))
                if present:
                    self.cold_write(present)
                again = call(
                    partial(self.hot.ack, writer, raw, digests, fetched.gens, fetched.epoch)
                )
                if again:
                    self.cold.delete_many(again)
                    self.counters.add(compensated=len(again))
                flushed += len(present)
            call(lambda: self.hot.take_lease(writer, self.writer, self.lease))

    def reject(self, writer: str, why: str) -> None:
        """A queue not ours to flush (forged, or from a store with another key): left alone.

        Logged once per writer; counted in ``stats()["rejected"]`` each time.
        """
        self.counters.add(rejected=1)
        if writer in self._rejected:
            return
        if len(self._rejected) >= _REJECTED_LIMIT:
            self._rejected.clear()
        self._rejected.add(writer)
        log.error(
            "write-behind queue %r in %s %s: not flushed (not written by a process of this "
            "store, or altered in Redis); check who else can write under this key prefix",
            writer[:40],
            self.hot.describe(),
            why,
        )
