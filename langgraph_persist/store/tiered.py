"""``TieredStore``: a durable cold store with a Redis hot tier in front, itself a ``Store``.

This module decides *which tier* serves or receives what (routing); the hot
tier itself is a ``HotTier`` (``hot/port.py``: ``RedisStore`` or
``RedisClusterStore``). Its neighbours hold one idea each: whether the hot
tier is trusted now (``tiered_health.py``), what Redis must forget when it
comes back (``tiered_journal.py``), and the write-behind queue and flusher
(``tiered_writebehind.py``). ``docs/tiers.md`` states the semantics; in
short:

* **write-through** (default): a write goes to the cold tier (durable) and
  then to Redis; it returns after both.
* **write-behind**: a write returns once Redis has it, queued; a background
  flusher writes the cold tier in call order. Acknowledged records survive
  the writer's death (any process finishes the flush) and Redis's death
  while the writer lives (it flushes from memory). Both dying loses them.
* **reads**: Redis first; a miss or a copy whose MAC fails is read
  from the cold tier and written back to Redis (fenced, see below).
* **deletes**: Redis, then cold, then Redis again, each Redis step replacing
  the tag's generation token. Every write-back to Redis is conditional on the
  token its reader observed, so a reader that fetched a record from the cold
  tier just before a delete can never resurrect it in Redis.
* **faults**: any hot-tier failure (``TierUnavailableError``) switches to the
  cold tier (one warning per outage, counters in ``stats()``); a background
  probe resumes the hot tier and first invalidates what changed meanwhile.

The hot tier holds *records* (``records.py``), each sealed under a keyed MAC
bound to its key and to this store (``hot_auth.py``; the key comes from the
cold tier, the trust anchor, and from the encryption key). A value whose MAC
does not verify is treated as damaged: never served, never given a longer
TTL, replaced from the cold tier. Write-behind queue entries carry a MAC too,
and the flusher only *creates* records in the cold tier: a queue, forged or
not, can never overwrite what is there.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import redis
import redis.asyncio

from langgraph_persist import keys, records
from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError, StoreError, TierUnavailableError
from langgraph_persist.facets import Scalar
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Listings, Names, Store
from langgraph_persist.store.hot.layout import Tag
from langgraph_persist.store.hot.port import HotTier
from langgraph_persist.store.hot_auth import HotAuth
from langgraph_persist.store.redis import RedisStore
from langgraph_persist.store.tiered_health import Counters, Health, HotDown
from langgraph_persist.store.tiered_journal import Journal, replay
from langgraph_persist.store.tiered_options import HotTierOptions, Mode
from langgraph_persist.store.tiered_writebehind import WriteBehind

__all__ = ["HotTierOptions", "Mode", "TieredStore", "build_tiered"]

log = logging.getLogger("langgraph_persist.tiered")

T = TypeVar("T")


def build_tiered(
    cold: Store,
    redis: str | redis.Redis | redis.asyncio.Redis,
    options: HotTierOptions | None = None,
    *,
    encryption: Encryption | None = None,
) -> TieredStore:
    """A ``TieredStore`` over ``cold`` with Redis at ``redis`` (URL or client) as hot tier.

    Never fails because Redis is down: the store starts degraded (one
    warning) and resumes when Redis answers. Reads (on first use: creates) the
    hot tier's store secret in ``cold``; pass the saver's ``encryption`` so the
    MAC is keyed from the encryption key too (``hot_auth.py``).
    """
    opts = options if options is not None else HotTierOptions()
    auth = HotAuth.for_store(cold, opts.key_prefix, encryption)
    hot = RedisStore(
        redis, key_prefix=opts.key_prefix, ttl=opts.ttl, timeout=opts.timeout, auth=auth
    )
    return TieredStore(cold, hot, opts)


_intact = records.intact
"""Whether a cold copy can go to Redis (digest only: encrypted records verify too)."""

_COLD_ONLY = frozenset({keys.TOMBSTONES, keys.META})
"""Roots served by the cold tier alone. Tombstones (``keys.tombstone``) are read
on every put and almost never exist: Redis cannot answer a miss, so asking it
first would only add a round trip per put. Written synchronously in both modes,
so a deleted thread's tombstone is durable before the delete proceeds. The store's
own records (``meta/store``, storemeta.py, and the hot tier's secret,
``keys.hot_secret``) are the trust anchor: never in Redis."""


class TieredStore(Store):
    """A ``Store`` made of a durable cold store and a Redis hot tier (module docstring).

    ``auth`` authenticates everything in Redis; by default the hot tier's own
    (``build_tiered`` gives it one), else one keyed by the cold store's secret.
    """

    def __init__(
        self,
        cold: Store,
        hot: HotTier,
        options: HotTierOptions | None = None,
        *,
        auth: HotAuth | None = None,
    ) -> None:
        if options is None:
            if hot.ttl is None:
                raise ConfigurationError("a hot tier needs a ttl: build it with build_tiered()")
            options = HotTierOptions(key_prefix=hot.keys.prefix, ttl=hot.ttl)
        if hot.ttl != options.ttl or hot.keys.prefix != options.key_prefix:
            raise ConfigurationError(
                "the hot tier's ttl and key_prefix must match the HotTierOptions "
                "(use build_tiered() to construct both)"
            )
        auth = auth or hot.auth or HotAuth.for_store(cold, options.key_prefix)
        if auth.scope != options.key_prefix:
            raise ConfigurationError("the hot tier's MAC is bound to another key prefix")
        hot.auth = auth  # every path that writes Redis seals, every path that reads verifies
        self.auth = auth
        self.cold = cold
        self.hot = hot
        self.options = options
        self._wb = options.mode == "write-behind"
        self._writer = secrets.token_hex(16)
        self._counters = Counters()
        self._journal = Journal()
        self._health = Health(
            hot,
            cold,
            self._journal,
            self._counters,
            probe_interval=options.probe_interval.total_seconds(),
            on_reconnect=self._on_reconnect,
            write_behind=self._wb,
        )
        self._behind = WriteBehind(
            hot,
            cold,
            auth,
            self._health,
            self._counters,
            writer=self._writer,
            lease=options.flush_lease,
            max_pending_bytes=options.max_pending_bytes,
        )
        self._stop = threading.Event()
        self._closed = False
        self._health.start()
        self._worker = threading.Thread(
            target=self._work, name=f"lgp-hot-tier-{self._writer[:8]}", daemon=True
        )
        self._worker.start()

    def _on_reconnect(self) -> None:
        """Redis answers (at start or after an outage): lease our write-behind queue."""
        if self._wb:
            self.hot.take_lease(self._writer, self._writer, self.options.flush_lease)

    # -- health and journal (tiered_health.py, tiered_journal.py) -------------------------------

    def _hot(self, op: Callable[[], T]) -> T:
        """Run a hot-tier operation, or raise ``HotDown`` (and go degraded) if it fails."""
        return self._health.call(op)

    @property
    def _degraded(self) -> bool:
        return self._health.degraded

    def _probe(self) -> None:
        if self._health.probe():
            self._behind.retry_acks()

    def _journal_add(self, tags: set[Tag], every: bool = False) -> None:
        """Remember tags changed in the cold tier only; replayed when Redis is back."""
        if self._journal.record(tags, every, lambda: self._health.degraded):
            return
        # Redis came back between our failed call and now: invalidate right away.
        try:
            replay(self.hot, tags, every)
        except TierUnavailableError as exc:
            self._health.mark_down(exc)
            self._journal_add(tags, every)

    def _fence_for(self, tags: set[Tag]) -> dict[Tag, str]:
        """A generation observed (now or earlier) for each tag; fetched if unknown.

        Observed *before* the cold write, so a delete that runs between our cold
        write and our Redis write changes it, and the Redis write is skipped.
        """
        known = self._journal.known(tags)
        unknown = tags - known.keys()
        if unknown:
            fetched = self._hot(lambda: self.hot.gens(unknown))
            self._journal.observe(fetched)
            known.update(fetched)
        return known

    # -- reads -----------------------------------------------------------------------------------

    def describe(self) -> str:
        return (
            f"tiered(cold={self.cold.describe()}, hot={self.hot.describe()}, {self.options.mode})"
        )

    def read(self, key: Key) -> bytes | None:
        return self.read_many([key])[0]

    def read_many(self, keys: Sequence[Key]) -> list[bytes | None]:
        keys = list(keys)
        if not keys:
            return []
        if any(k[0] in _COLD_ONLY for k in keys):
            return self._split_read(keys)
        try:
            fetched = self._hot(lambda: self.hot.fetch(keys))
        except HotDown:
            self._drain()
            return self.cold.read_many(keys)
        values = list(fetched.values)
        # a copy that failed its MAC or digest is None here, and its bytes' sha1 is in
        # ``damaged``: the repair below replaces exactly those bytes
        todo = [i for i, value in enumerate(values) if value is None]
        olds = {i: fetched.damaged.get(i, "-") for i in todo}
        corrupt = len(fetched.damaged)
        fence: dict[Tag, str] | None = fetched.gens
        if corrupt:
            # a damaged hit has no generation yet: observe it before the cold read
            unseen = {self.hot.keys.tag_of(keys[i]) for i in todo} - fetched.gens.keys()
            if unseen:
                try:
                    fence = {**fetched.gens, **self._hot(lambda: self.hot.gens(unseen))}
                except HotDown:
                    fence = None  # no write-back without an observed generation
            log.warning(
                "ignored %d record(s) in the Redis hot tier that fail verification (damaged, or "
                "not written by this store); reading the cold tier",
                corrupt,
            )
        self._counters.add(hits=len(keys) - len(todo), misses=len(todo) - corrupt, corrupt=corrupt)
        if not todo:
            return values
        fill: list[tuple[Key, bytes]] = []
        fill_olds: list[str] = []
        for i, data in zip(todo, self.cold.read_many([keys[i] for i in todo]), strict=True):
            if data is None:
                # absent in both, or only an unverified copy in Redis: never served
                continue
            values[i] = data
            if _intact(data):
                fill.append((keys[i], data))
                fill_olds.append(olds[i])
        if fill and fence is not None:
            try:
                written = self._hot(lambda: self.hot.put_values(fill, old=fill_olds, fence=fence))
            except HotDown:
                return values
            self._journal.observe(written.gens)
            skipped = sum(1 for k, _ in fill if self.hot.keys.tag_of(k) in written.fenced)
            self._counters.add(backfills=len(fill) - skipped, fenced=skipped)
        return values

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        """The cold tier answers; in write-behind mode, unflushed records count too.

        Never "in Redis" alone: a stale hot copy must not make the engine skip
        writing content the cold tier lacks.
        """
        keys = list(keys)
        if not keys or not self._wb:
            return self.cold.exists_many(keys)
        try:
            pending = self._hot(lambda: self.hot.pending_flags(keys))
            flagged = [k for k, p in zip(keys, pending, strict=True) if p]
            if flagged:
                # a pending flag is only a name in a set: the value must verify too, or
                # a planted flag would make the engine skip writing content to disk
                good = self._verified(flagged)
                pending = [p and k in good for k, p in zip(keys, pending, strict=True)]
        except HotDown:
            self._drain()
            return self.cold.exists_many(keys)
        # pending first, cold second: a record flushed in between is in the cold tier
        rest = [k for k, p in zip(keys, pending, strict=True) if not p]
        in_cold = iter(self.cold.exists_many(rest))
        return [True if p else next(in_cold) for p in pending]

    def _verified(self, keys: list[Key]) -> set[Key]:
        """Which of ``keys`` have a value in Redis that verifies (raises ``HotDown``)."""
        fetched = self._hot(lambda: self.hot.fetch(keys, refresh=False))
        if fetched.damaged:
            self._counters.add(corrupt=len(fetched.damaged))
            log.warning(
                "ignored %d unflushed record(s) in the Redis hot tier that fail verification",
                len(fetched.damaged),
            )
        return {k for k, v in zip(keys, fetched.values, strict=True) if v is not None}

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """The cold tier's keys, plus (write-behind) unflushed ones, so gc sees them.

        Unflushed ones come from queue entries that verify, and are read (so
        verified) before they are reported."""
        pending: list[Key] = []
        if self._wb:
            try:
                pending = self._hot(lambda: list(self.hot.pending_keys(prefix)))
            except HotDown:
                self._drain()
        seen: set[Key] = set()
        for item in self.cold.walk(prefix):
            seen.add(item[0])
            yield item
        extra = [k for k in pending if k not in seen]
        if extra:
            now = time.time()
            for key, data in zip(extra, self.read_many(extra), strict=True):
                if data is not None:
                    yield key, len(data), now

    # -- writes ----------------------------------------------------------------------------------

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        """Replace records: written through in both modes.

        The write-behind flusher only creates (``_cold_write``), so a call that
        may replace what the cold tier holds (``reencrypt``, copies re-sealed for
        another thread) never goes through the queue. The engine's puts come
        through ``commit`` and ``create_many``, always under new keys.
        """
        self._write([], list(items), queue=False)

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        self._write(list(items), [])

    def commit(
        self,
        *,
        create: Sequence[tuple[Key, bytes]] = (),
        write: Sequence[tuple[Key, bytes]] = (),
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        """One cold commit (atomic where the cold tier is transactional), then Redis;
        in write-behind mode, Redis first and the cold tier from the queue (which
        carries no facets: flushed records are candidates for every filter)."""
        self._write(list(create), list(write), defer_sync=defer_sync, facets=facets)

    def _split_read(self, keys: list[Key]) -> list[bytes | None]:
        """Cold-only keys from the cold tier, the rest through Redis."""
        cold = [i for i, k in enumerate(keys) if k[0] in _COLD_ONLY]
        hot = [i for i, k in enumerate(keys) if k[0] not in _COLD_ONLY]
        values: list[bytes | None] = [None] * len(keys)
        for i, v in zip(cold, self.cold.read_many([keys[i] for i in cold]), strict=True):
            values[i] = v
        if hot:
            for i, v in zip(hot, self.read_many([keys[i] for i in hot]), strict=True):
                values[i] = v
        return values

    def _write(
        self,
        create: list[tuple[Key, bytes]],
        write: list[tuple[Key, bytes]],
        *,
        queue: bool = True,
        defer_sync: bool = False,
        facets: Mapping[Key, str] | None = None,
    ) -> None:
        """Content (``create``) and records (``write``) of one call, in every mode.

        Cold-only roots go straight to the cold tier. In write-behind mode (and
        ``queue``) the two parts are queued as two entries, content first, so the
        flusher keeps the order. Otherwise the cold tier gets one ``commit``
        (after this process's queue, in write-behind mode); Redis then gets both
        parts in one fenced ``put``.
        """
        if any(k[0] in _COLD_ONLY for k, _ in (*create, *write)):
            self.cold.commit(
                create=[(k, v) for k, v in create if k[0] in _COLD_ONLY],
                write=[(k, v) for k, v in write if k[0] in _COLD_ONLY],
            )
            create = [(k, v) for k, v in create if k[0] not in _COLD_ONLY]
            write = [(k, v) for k, v in write if k[0] not in _COLD_ONLY]
        if not create and not write:
            return
        if self._wb and queue:
            try:
                if create:
                    self._behind.enqueue(create, True)
                if write:
                    self._behind.enqueue(write, False)
                return
            except HotDown:
                self._drain()  # what we acknowledged earlier reaches the cold tier first
        elif self._wb:
            self._drain()  # a replacement lands after what this process queued before it
        items = create + write
        tags = {self.hot.keys.tag_of(k) for k, _ in items}
        # created records are new or identical: only replaced ones can leave a stale copy
        stale = {self.hot.keys.tag_of(k) for k, _ in write}
        try:
            fence: dict[Tag, str] | None = self._fence_for(tags)
        except HotDown:
            fence = None
        self.cold.commit(create=create, write=write, defer_sync=defer_sync, facets=facets)
        if fence is None:
            if stale:
                self._journal_add(stale)
            return
        old = ["-"] * len(create) + ["*"] * len(write)
        try:
            written = self._hot(lambda: self.hot.put_values(items, old=old, fence=fence))
        except HotDown:
            if stale:
                self._journal_add(stale)
            return
        self._journal.observe(written.gens)
        if written.fenced:
            self._counters.add(fenced=len(written.fenced))

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Link in the cold tier, drop stale destinations from Redis.

        Sources that only exist as another writer's unflushed records cannot be
        linked in the cold tier; those are copied through the normal write path.
        """
        items = list(items)
        if not items:
            return
        if self._wb:
            self._drain()
        self.cold.link(items)
        dsts = [dst for _, dst in items]
        self._invalidate(keys=dsts)
        if self._wb:
            missing = [
                (src, dst)
                for (src, dst), ok in zip(items, self.cold.exists_many(dsts), strict=True)
                if not ok
            ]
            if missing:
                values = self.read_many([src for src, _ in missing])
                self.write_many(
                    [(dst, v) for (_, dst), v in zip(missing, values, strict=True) if v is not None]
                )

    # -- deletes ---------------------------------------------------------------------------------

    def delete_many(self, keys: Sequence[Key]) -> None:
        keys = list(keys)
        if not keys:
            return
        self._delete(lambda: self.cold.delete_many(keys), keys=keys)

    def delete_tree(self, prefix: Key) -> None:
        self._delete(lambda: self.cold.delete_tree(prefix), prefixes=[prefix])

    def _delete(
        self,
        cold_delete: Callable[[], None],
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
    ) -> None:
        """Redis, cold, Redis: why both sides (see ``docs/tiers.md``, "Deletes").

        The first invalidation stops flushers and fenced writers that observed
        the old generation; the second removes what a backfill or flush put back
        while the cold delete ran.
        """
        if self._wb:
            self._drain()
        self._invalidate(keys=keys, prefixes=prefixes)
        cold_delete()
        self._invalidate(keys=keys, prefixes=prefixes)

    def _invalidate(self, keys: Sequence[Key] = (), prefixes: Sequence[Key] = ()) -> None:
        short = [p for p in prefixes if len(p) < 2]
        deep = [p for p in prefixes if len(p) >= 2]
        try:
            if keys or deep:
                self._hot(lambda: self.hot.invalidate(keys=keys, prefixes=deep))
            for prefix in short:
                self._hot(partial(self.hot.delete_tree, prefix))
        except HotDown:
            tags = {self.hot.keys.tag_of(k) for k in [*keys, *deep]}
            self._journal_add(tags, every=bool(short))
            return
        self._journal.forget(self.hot.keys.tag_of(key) for key in [*keys, *deep])

    # -- write-behind (tiered_writebehind.py) -------------------------------------------------

    def flush(self, timeout: timedelta | None = None) -> None:
        """Wait until every write-behind record this process acknowledged is in the
        cold tier (``WriteBehind.flush``: raises ``StoreError`` if it keeps failing)."""
        self._behind.flush(timeout)

    def _drain(self) -> None:
        """Write-behind with Redis gone: flush the buffer so the cold tier is complete."""
        if self._wb:
            self._behind.drain()

    def recover_orphans(self) -> int:
        """Finish the flush of write-behind writers that died; returns records flushed.

        A writer's queue is taken over once its lease has expired (the writer
        renews it while alive). Runs at start-up and periodically in the
        background, in write-behind mode only (a write-through store returns 0:
        it never flushes a queue); callable directly (e.g. before a backup).
        Only entries, and the values they name, whose MAC verifies are flushed.
        """
        return self._required(self._behind.recover_orphans) if self._wb else 0

    def _work(self) -> None:
        """Background: flush (write-behind), renew the lease, adopt orphans, probe Redis."""
        lease_every = self.options.flush_lease.total_seconds() / 3
        orphans_every = self.options.flush_lease.total_seconds()
        next_lease = time.monotonic() + lease_every
        next_orphans = 0.0
        tick = min(self.options.probe_interval.total_seconds(), lease_every, 0.5)
        while not self._stop.is_set():
            worked = False
            try:
                now = time.monotonic()
                if self._degraded:
                    self._probe()
                if self._wb:
                    worked = self._behind.step()
                if not self._degraded and self._wb and now >= next_lease:
                    next_lease = now + lease_every
                    self._behind.renew()
                if not self._degraded and self._wb and now >= next_orphans:
                    next_orphans = now + orphans_every
                    self._behind.recover_orphans()
                if not self._degraded:
                    self._behind.retry_acks()
            except HotDown:
                pass  # already counted and logged by Health.mark_down
            except Exception:  # a background thread must never die silently: log and go on
                log.exception("hot-tier background work failed")
            if not worked:
                behind = self._behind
                with behind.cv:
                    if not (self._wb and behind.buffer and behind.failures == 0):
                        behind.cv.wait(tick)

    # -- pinning, stats, recovery, lifecycle ---------------------------------------------------

    def pin_thread(self, thread_name: str) -> None:
        """Keep a thread's records in Redis without TTL until ``unpin_thread``.

        Pins the thread's checkpoints and writes; the values they reference are
        shared between threads by content address and stay hot while read.
        Raises ``TierUnavailableError`` when Redis is unavailable.
        """
        self._pin(thread_name, True)

    def unpin_thread(self, thread_name: str) -> None:
        """Give a pinned thread's records the normal TTL again."""
        self._pin(thread_name, False)

    def _pin(self, thread_name: str, pinned: bool) -> None:
        tag = Tag(keys.THREADS, thread_name)
        what = f"cannot {'pin' if pinned else 'unpin'} thread {thread_name!r}: "
        self._required(lambda: self.hot.pin(tag, pinned), what)

    def is_pinned(self, thread_name: str) -> bool:
        tag = Tag(keys.THREADS, thread_name)
        return self._required(lambda: self.hot.pinned(tag))

    def _required(self, op: Callable[[], T], what: str = "") -> T:
        """A hot-tier operation with no cold-tier fallback: ``TierUnavailableError``
        while Redis is unavailable."""
        try:
            return self._hot(op)
        except HotDown as exc:
            raise TierUnavailableError(
                f"{what}Redis hot tier {self.hot.describe()} is unavailable"
            ) from exc.__cause__

    def stats(self) -> dict[str, Any]:
        """Counters since construction; ``degraded`` is True while Redis is unavailable."""
        return {
            "cold": self.cold.describe(),
            "hot": self.hot.describe(),
            "mode": self.options.mode,
            "ttl_seconds": self.options.ttl.total_seconds(),
            "degraded": self._degraded,
            "degraded_since": self._health.since,
            "pending": len(self._behind.buffer),
            "pending_bytes": self._behind.buffer_bytes,
            **self._counters.snapshot(),
        }

    def scrub(self) -> None:
        self.cold.scrub()

    def source_of_truth(self) -> Store:
        return self.cold

    def size_of(self, prefix: Key) -> int:
        return self.cold.size_of(prefix)

    def salvage(self) -> int | None:
        """Rebuild the damaged cold tier, then put back every record Redis still holds.

        Redis has the recent records (those within their TTL, and pinned threads):
        what the damaged pages of the cold tier took is restored from there when
        it is; the rest stays lost, and ``verify`` names it.
        """
        kept = self.cold.salvage()
        if kept is None:
            return None
        restored = 0
        hot = [k for k, _size, _mtime in self.hot.walk(()) if k[0] not in _COLD_ONLY]
        for start in range(0, len(hot), 256):
            chunk = hot[start : start + 256]
            present = self.cold.exists_many(chunk)
            missing = [k for k, there in zip(chunk, present, strict=True) if not there]
            if not missing:
                continue
            values = self.hot.read_many(missing)
            items = [(k, v) for k, v in zip(missing, values, strict=True) if v is not None]
            self.cold.create_many(items)
            restored += len(items)
        return kept + restored

    def integrity_check(self) -> Names:
        return self.cold.integrity_check()

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """Repair whichever tier holds a bad copy of ``key`` from a good copy in the other."""
        hot_value: bytes | None = None
        hot_sha: str | None = None  # of the bytes Redis holds, verified or not
        gens: dict[Tag, str] | None = None
        try:
            fetched = self._hot(
                lambda: self.hot.fetch([key], refresh=False, all_gens=True, digests=True)
            )
            hot_value, gens = fetched.values[0], fetched.gens
            hot_sha = fetched.damaged.get(0) or (fetched.digests[0] if fetched.digests else None)
        except HotDown:
            pass
        cold_value = self.cold.read(key)
        hot_ok = hot_value is not None and good(hot_value)  # verified (MAC) before good()
        cold_ok = cold_value is not None and good(cold_value)
        if hot_ok and not cold_ok and hot_value is not None:
            self.cold.write_many([(key, hot_value)])
            return True
        if cold_ok and hot_sha is not None and not hot_ok and cold_value is not None:
            sha = hot_sha
            try:
                self._hot(lambda: self.hot.put_values([(key, cold_value)], old=sha, fence=gens))
            except HotDown:
                return False
            return True
        return False

    def lock(
        self, key: Key, exclusive: bool = True, *, wait: bool = True
    ) -> AbstractContextManager[None]:
        """The cold tier's lock: writers of the durable copy are the ones to fence."""
        return self.cold.lock(key, exclusive, wait=wait)

    def maintenance_lock(
        self, exclusive: bool, *, wait: bool = True
    ) -> AbstractContextManager[None]:
        """The cold tier's lock: it is the durable copy that gc must coordinate on."""
        return self.cold.maintenance_lock(exclusive, wait=wait)

    def close(self) -> None:
        """Flush (write-behind), stop the background thread, close both tiers."""
        if self._closed:
            return
        self._closed = True
        error: StoreError | None = None
        try:
            self.flush()
        except StoreError as exc:
            error = exc
        self._stop.set()
        with self._behind.cv:
            self._behind.cv.notify_all()
        self._worker.join(timeout=10)
        if self._wb and error is None and not self._degraded:
            # on HotDown the queue stays in Redis; another process completes it
            with contextlib.suppress(HotDown):
                self._behind.close()
        self.hot.close()
        self.cold.close()
        if error is not None:
            raise error

    @property
    def seeks_pages(self) -> bool:  # type: ignore[override]
        return not self._wb and self.cold.seeks_pages

    def list_desc(
        self,
        prefix: Key,
        *,
        before: str | None = None,
        limit: int | None = None,
        facets: Mapping[str, Scalar] | None = None,
    ) -> Names:
        """The cold tier's index in write-through mode; with write-behind, unflushed
        names must be merged in, so the page comes from the full listing."""
        if not self._wb:
            return self.cold.list_desc(prefix, before=before, limit=limit, facets=facets)
        return super().list_desc(prefix, before=before, limit=limit)

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        """``list`` for several prefixes: the cold tier's, plus unflushed names (write-behind)."""
        prefixes = list(prefixes)
        if not self._wb or not prefixes:
            return self.cold.list_many(prefixes)
        try:
            return self._with_pending(prefixes)
        except HotDown:
            self._drain()
            return self.cold.list_many(prefixes)

    def _with_pending(self, prefixes: list[Key]) -> Listings:
        """The cold tier's listings plus the names of unflushed records (raises ``HotDown``).

        Pending keys are read from Redis *before* the cold listing, so a record
        flushed in between is found in the cold tier. A name the cold tier lacks
        is added only if a value below it verifies: a pending set holds bare
        names, which anyone with access to our keys could add.
        """
        pending = self._hot(lambda: self.hot.pending_under(prefixes))
        listings = self.cold.list_many(prefixes)
        candidates: dict[Key, tuple[int, str]] = {}
        for i, (prefix, names, under) in enumerate(zip(prefixes, listings, pending, strict=True)):
            have = set(names)
            for key in under:
                if len(key) > len(prefix) and key[len(prefix)] not in have:
                    candidates[key] = (i, key[len(prefix)])
        if not candidates:
            return listings
        extra: list[set[str]] = [set() for _ in prefixes]
        for key in self._verified(list(candidates)):
            i, name = candidates[key]
            extra[i].add(name)
        return [
            sorted(set(names).union(more)) if more else names
            for names, more in zip(listings, extra, strict=True)
        ]

    # Last in the class: a method named ``list`` shadows the builtin in later annotations.
    def list(self, prefix: Key) -> list[str]:
        """The cold tier's names; in write-behind mode, plus verified unflushed ones."""
        if not self._wb:
            return self.cold.list(prefix)
        return self.list_many([prefix])[0]


def _implements_the_port(hot: RedisStore, tiered: TieredStore) -> tuple[Store, Store]:
    """Never called: makes ``mypy langgraph_persist`` check both adapters against ``Store``."""
    return hot, tiered
