"""``HotTier``: the one hot-tier port, and everything both Redis adapters share.

``TieredStore`` (``tiered.py``) puts a hot tier in front of a durable store. It
needs more than the ``Store`` port: fenced reads and writes (a generation
token per hash tag, replaced by every delete, so a reader that fetched a record
from the cold tier just before a delete cannot put it back afterwards), pins,
pending (write-behind) values and their queues. Those are the *primitives*
below; the ``Store`` port is implemented on top of them, once.

The two adapters differ only in how a script reaches Redis and in what a
cluster cannot do:

* ``RedisStore`` (``store/redis.py``): one server; a call spanning several
  tags is one script, which also keeps global indexes (the root names, a
  level-1 index per root, a data epoch) in step.
* ``RedisClusterStore`` (``store/redis_cluster.py``): one script per tag (one
  slot), pipelined; no global index (enumerating every tag is a ``SCAN``, an
  admin path), no epoch (generations tell a delete from lost data).

An adapter provides ``_eval`` (one script), ``_run`` (several scripts, one
round trip per node), ``_pipeline`` (plain commands) and the primitives whose
script calls differ (``_read``, ``_refresh``, ``_write``, ``_invalidate``,
``ack``, ``pin``, ``forget_writer``, ``all_tags`` and the listing above the
tags). Everything else lives here.

Errors: every Redis failure inside an adapter (connection lost, a node down,
``OOM``, ``READONLY``, a damaged key under our prefix) is raised as
``TierUnavailableError``, the only failure ``TieredStore`` acts on ("do not
trust the hot tier for now": it serves from the cold tier and replays what it
skipped when Redis is back).

Redis must never evict keys on its own: run it with ``maxmemory-policy
noeviction`` (the default) and bound memory with the TTL; the invariants of
``lua/tag.lua`` depend on it.
"""

from __future__ import annotations

import abc
import contextlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from redis.exceptions import RedisClusterException, RedisError

from langgraph_persist.errors import ConfigurationError, TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Listings, Names, Store
from langgraph_persist.store.hot.entries import open_entries
from langgraph_persist.store.hot.layout import RedisKeys, Tag
from langgraph_persist.store.hot.primitives import (
    Ack,
    Fetched,
    Invalidation,
    PendingEntry,
    Put,
    Written,
    chunks,
    lex_range,
    ms,
    new_token,
    open_values,
    plan_invalidation,
    raw,
    seal_values,
    sha1_hex,
    text,
    texts,
)
from langgraph_persist.store.hot_auth import HotAuth

Call = tuple[str, list[Any], list[Any]]
"""A script call: (script name, KEYS, ARGV)."""

GEN_TTL_MIN = timedelta(days=1)
"""Generation tokens outlive any in-flight backfill or flush by far (see ``invalidate``)."""

LOCK_LEASE = timedelta(seconds=60)
"""How long a ``lock`` outlives a holder that died holding it."""

TAG_BATCH = 256
"""Tags per call on whole-store paths (bounded memory and reply size)."""

_SIZE_BATCH = 512
"""Values whose size ``walk`` asks per round trip."""

_FAILURES: tuple[type[BaseException], ...] = (RedisError, RedisClusterException)
"""What redis-py raises when Redis (or a cluster node) fails: ``_guard`` translates it."""

Values = list[bytes | None]


class HotTier(Store):
    """A hot tier: the ``Store`` port plus the fenced primitives ``TieredStore`` uses.

    Used alone (``ttl=None``) an adapter is a complete, non-durable store (values
    live as long as Redis keeps its data). With a ``ttl`` it is a cache: values
    expire unless pinned or pending, and only ``TieredStore`` should use it that
    way, because a listing may then omit what expired. ``auth`` seals and
    verifies every value (``hot_auth.py``); ``TieredStore`` installs its own.
    """

    def __init__(self, *, key_prefix: str, ttl: timedelta | None, auth: HotAuth | None) -> None:
        self.keys = RedisKeys(key_prefix)
        if ttl is not None and ttl <= timedelta(0):
            raise ConfigurationError(f"ttl must be positive, not {ttl}")
        self.ttl = ttl
        self.auth = auth
        self._ttl_ms = ms(ttl)
        self._gen_ttl_ms = max(self._ttl_ms, ms(GEN_TTL_MIN))

    # -- what an adapter provides --------------------------------------------------------------

    @abc.abstractmethod
    def _eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """Run one script (all its keys in one slot), loading it if the server lost it."""

    @abc.abstractmethod
    def _run(self, calls: Sequence[Call]) -> list[Any]:
        """Run several script calls in one round trip (per node); replies in call order."""

    @abc.abstractmethod
    def _pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Plain single-key commands in one round trip (per node); replies in order."""

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise ``TierUnavailableError`` unless Redis answers."""

    @abc.abstractmethod
    def _read(
        self, keys: Sequence[Key], groups: dict[Tag, list[int]], *, refresh: bool, all_gens: bool
    ) -> tuple[str, dict[Tag, str], list[bytes | None], list[int]]:
        """(epoch, generations, raw values, positions due for a TTL refresh) of ``keys``."""

    @abc.abstractmethod
    def _refresh(self, seen: Sequence[tuple[Key, str]]) -> None:
        """Extend the TTL of values, and of their registries, together (refresh-on-read);
        each only while it still holds the bytes whose sha1 is given (the ones verified)."""

    @abc.abstractmethod
    def _write(self, put: Put) -> tuple[str, list[tuple[Any, Any]]]:
        """Run the write: (epoch, ``(generation, written)`` per tag of ``put.groups``)."""

    @abc.abstractmethod
    def _invalidate(self, plan: Invalidation, keep_pending: bool) -> int:
        """Run an invalidation; the number of values deleted."""

    @abc.abstractmethod
    def _ack(self, ack: Ack) -> list[Any]:
        """Run an ack; the value-key names to delete from the cold tier again."""

    @abc.abstractmethod
    def pin(self, tag: Tag, pinned: bool) -> None:
        """Pin (no TTL on anything of the tag) or unpin (TTLs back, except pending)."""

    @abc.abstractmethod
    def forget_writer(self, writer: str) -> bool:
        """Drop ``writer`` from the writer set if its queue is empty and unleased."""

    @abc.abstractmethod
    def all_tags(self, prefix: Key = ()) -> list[Tag]:
        """Every tag under ``prefix`` (length 0 or 1); an admin path."""

    @abc.abstractmethod
    def _above_tags(self, prefix: Key, pending_only: bool) -> Call | Names:
        """The children of a prefix of length 0 or 1: a script call to run, or the names."""

    @abc.abstractmethod
    def _pending_tags(self, prefixes: Sequence[Key]) -> list[list[Tag]]:
        """The pinned-or-pending tags below each prefix of length 0 or 1."""

    def _drop_index(self, prefix: Key) -> None:
        """After every tag under ``prefix`` (length 0 or 1) was invalidated: drop the
        adapter's own indexes of them, if it keeps any."""

    # -- errors --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Any Redis failure inside becomes ``TierUnavailableError`` (module docstring)."""
        try:
            yield
        except TierUnavailableError:
            raise
        except _FAILURES as exc:
            raise TierUnavailableError(
                f"{self.describe()} failed during {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def _command(self, *command: Any) -> Any:
        return self._pipeline([command])[0]

    # -- fenced primitives ---------------------------------------------------------------------

    def fetch(
        self,
        keys: Sequence[Key],
        *,
        refresh: bool = True,
        all_gens: bool = False,
        digests: bool = False,
    ) -> Fetched:
        """Verified values of ``keys`` and their tags' generations.

        ``refresh`` extends the TTL of verified hits that have one (pinned and
        pending values have none) once less than 90% of it is left; that costs a
        second round trip, at most once per key per tenth of the TTL, and never
        touches a copy that failed verification. ``Fetched.gens`` has the tags
        with a miss (what a backfill needs), or every tag with ``all_gens`` (a
        cluster always reports every tag read).
        """
        groups = self.keys.group(keys)
        epoch, gens, stored, due = self._read(keys, groups, refresh=refresh, all_gens=all_gens)
        values, damaged, sums = open_values(self.auth, keys, stored, digests=digests)
        fresh = [p for p in due if values[p] is not None]
        if fresh:
            self._refresh([(keys[p], sha1_hex(stored[p] or b"")) for p in fresh])
        return Fetched(epoch, gens, values, damaged, sums)

    def gens(self, tags: Iterable[Tag]) -> dict[Tag, str]:
        """Current generation of each tag (one pipelined round trip)."""
        tags = list(tags)
        replies = self._pipeline([("GET", self.keys.gen(t)) for t in tags])
        return {t: text(g) if g is not None else "" for t, g in zip(tags, replies, strict=True)}

    def put_values(
        self,
        items: Sequence[tuple[Key, bytes]],
        *,
        old: Sequence[str] | str = "*",
        fence: Mapping[Tag, str] | None = None,
        pending: PendingEntry | None = None,
    ) -> Written:
        """Write ``items``, optionally fenced and/or as pending; atomic per tag.

        ``old`` per item: ``"*"`` overwrite, ``"-"`` only if absent (create),
        or the sha1 hex of the bytes that must still be there (repairing a
        corrupt entry without clobbering a newer write). ``fence``: a tag whose
        generation differs from the given one (a delete happened since it was
        observed) is skipped entirely and reported in ``Written.fenced``.
        ``pending``: the values get no TTL and join the tag's pending set, and
        the entry (sealed by the caller) is appended to the writer's queue.
        Values are sealed here (``auth``). Named apart from LangGraph's ``put``.
        """
        keys = [k for k, _ in items]
        put = Put(
            keys,
            [old] * len(items) if isinstance(old, str) else list(old),
            seal_values(self.auth, items),
            self.keys.group(keys),
            fence,
            pending,
        )
        epoch, replies = self._write(put)
        gens: dict[Tag, str] = {}
        fenced: set[Tag] = set()
        for tag, (gen, ok) in zip(put.groups, replies, strict=True):
            gens[tag] = text(gen)
            if not int(ok):
                fenced.add(tag)
        sums = tuple(sha1_hex(v) for v in put.stored) if pending is not None else ()
        return Written(epoch, gens, frozenset(fenced), sums)

    def invalidate(
        self,
        *,
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
        tags: Iterable[Tag] = (),
        keep_pending: bool = False,
    ) -> int:
        """Delete values and replace their tags' generation tokens.

        A new token makes every fenced write or backfill that observed the old
        one a no-op, so a reader that fetched a record from the cold tier just
        before a delete cannot put it back afterwards. ``keep_pending`` spares
        values not yet in the cold tier (used when replaying invalidations
        after an outage: acknowledged write-behind records are never dropped).
        Returns the number of values deleted.
        """
        plan = plan_invalidation(self.keys, keys, prefixes, tags)
        return self._invalidate(plan, keep_pending) if plan.tags else 0

    def ack(
        self,
        writer: str,
        entry: bytes,
        flushed: Sequence[tuple[Key, str]],
        gens: Mapping[Tag, str],
        epoch: str,
    ) -> list[Key]:
        """After a cold write of ``flushed``: end their pending state and pop ``entry``.

        ``flushed`` pairs each key with the sha1 of the bytes Redis held for it
        (``Written.digests``, ``Fetched.digests``): a value replaced since stays
        pending. ``entry`` is the queue entry as stored. Returns keys that were
        deleted while the flush was in flight (their tag's generation changed
        and the value is gone): the caller deletes them from the cold tier
        again, so a delete never loses to a flush.
        """
        groups = self.keys.group([k for k, _ in flushed])
        names = self._ack(Ack(writer, entry, flushed, groups, gens, epoch))
        return [self.keys.parse(k) for k in names]

    def pinned(self, tag: Tag) -> bool:
        return bool(self._command("EXISTS", self.keys.pin(tag)))

    # -- listings ------------------------------------------------------------------------------

    def children(self, prefix: Key, *, pending_only: bool = False) -> Names:
        """Sorted child names under ``prefix`` from the indexes."""
        return self.children_many([prefix], pending_only=pending_only)[0]

    def children_many(self, prefixes: Sequence[Key], *, pending_only: bool = False) -> Listings:
        """``children`` of several prefixes: a registry (or pending set) range per tag,
        all in one round trip; above the tags, the adapter's own way."""
        out: list[Names] = [[] for _ in prefixes]
        calls: list[Call] = []
        where: list[int] = []
        for i, prefix in enumerate(prefixes):
            if len(prefix) <= 1:
                if prefix:
                    self.keys.check(prefix)
                above = self._above_tags(prefix, pending_only)
                if isinstance(above, tuple):
                    calls.append(above)
                    where.append(i)
                else:
                    out[i] = above
                continue
            tag, base = self.keys.subtree(prefix)
            index = self.keys.pending(tag) if pending_only else self.keys.registry(tag)
            lo, hi = lex_range(base)
            calls.append(("list", [index], [lo, hi, len(base.encode())]))
            where.append(i)
        for i, names in zip(where, self._run(calls) if calls else [], strict=True):
            out[i] = sorted(set(texts(names)))
        return out

    def pending_flags(self, keys: Sequence[Key]) -> list[bool]:
        """Whether each key holds a write-behind value not yet in the cold tier."""
        commands = [
            ("ZSCORE", self.keys.pending(self.keys.tag_of(k)), self.keys.value(k)) for k in keys
        ]
        return [score is not None for score in self._pipeline(commands)]

    def pending_keys(self, prefix: Key) -> Iterator[Key]:
        """Keys under ``prefix`` still pending in any writer's queue (admin path).

        Only entries that verify count (``auth``); the values they name are
        still to be read, and verified, by the caller.
        """
        seen: set[Key] = set()
        for writer in self.writers():
            entries = raw(self._command("LRANGE", self.keys.queue(writer), 0, -1))
            for entry_keys in open_entries(self.auth, writer, entries):
                seen.update(k for k in entry_keys if k[: len(prefix)] == prefix)
        keys = sorted(seen)
        yield from (k for k, flag in zip(keys, self.pending_flags(keys), strict=True) if flag)

    def pending_under(self, prefixes: Sequence[Key]) -> list[list[Key]]:
        """Keys of the pending (unflushed) values below each prefix, from the pending sets.

        Names only, which anyone with access to our keys could add: the caller
        reads and verifies the values before it lists a name. Below a tag this
        is one range of its pending set, all prefixes in one round trip; above
        the tags (every thread), the adapter first names the tags that are
        pinned or pending (a round trip, or a ``SCAN`` on a cluster).
        """
        short = [i for i, p in enumerate(prefixes) if len(p) < 2]
        above = dict(zip(short, self._pending_tags([prefixes[i] for i in short]), strict=True))
        commands: list[tuple[Any, ...]] = []
        owners: list[int] = []
        for i, prefix in enumerate(prefixes):
            if len(prefix) >= 2:
                tag, base = self.keys.subtree(prefix)
                commands.append(("ZRANGEBYLEX", self.keys.pending(tag), *lex_range(base)))
                owners.append(i)
            for tag in above.get(i, []):
                commands.append(("ZRANGE", self.keys.pending(tag), 0, -1))
                owners.append(i)
        members: list[list[Any]] = [[] for _ in prefixes]
        for i, reply in zip(owners, self._pipeline(commands), strict=True):
            members[i] += reply
        return [self.keys.parse_members(m) for m in members]

    # -- write-behind queues -------------------------------------------------------------------

    def writers(self) -> list[str]:
        return sorted(texts(self._command("SMEMBERS", self.keys.writers())))

    def queue_head(self, writer: str, count: int) -> list[bytes]:
        return raw(self._command("LRANGE", self.keys.queue(writer), 0, count - 1))

    def queue_length(self, writer: str) -> int:
        return int(self._command("LLEN", self.keys.queue(writer)))

    def take_lease(self, writer: str, holder: str, lease: timedelta) -> bool:
        """Acquire or extend the flusher lease of ``writer``'s queue for ``holder``."""
        return bool(self._eval("lease", [self.keys.lease(writer)], [holder, ms(lease), "take"]))

    def release_lease(self, writer: str, holder: str) -> None:
        self._eval("lease", [self.keys.lease(writer)], [holder, 0, "release"])

    # -- the Store port ------------------------------------------------------------------------

    def read(self, key: Key) -> bytes | None:
        return self.fetch([key]).values[0]

    def read_many(self, keys: Sequence[Key]) -> Values:
        return self.fetch(keys).values if keys else []

    def write_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        if items:
            self.put_values(items, old="*")

    def create_many(self, items: Sequence[tuple[Key, bytes]]) -> None:
        if items:
            self.put_values(items, old="-")

    def delete_many(self, keys: Sequence[Key]) -> None:
        if keys:
            self.invalidate(keys=keys)

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        return [bool(n) for n in self._pipeline([("EXISTS", self.keys.value(k)) for k in keys])]

    def link(self, items: Sequence[tuple[Key, Key]]) -> None:
        """Copy (Redis cannot share a value between keys); missing sources are skipped."""
        if not items:
            return
        values = self.read_many([src for src, _ in items])
        self.write_many(
            [(dst, v) for (_, dst), v in zip(items, values, strict=True) if v is not None]
        )

    def recover(self, key: Key, good: Callable[[bytes], bool]) -> bool:
        """One copy only: nothing to recover from."""
        return False

    def delete_tree(self, prefix: Key) -> None:
        if len(prefix) >= 2:
            self.invalidate(prefixes=[prefix])
            return
        # Above the tags (the whole store, or all threads): an admin path that
        # enumerates tags, a few hundred per call.
        for tags in chunks(self.all_tags(prefix), TAG_BATCH):
            self.invalidate(tags=tags)
        self._drop_index(prefix)

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every value under ``prefix`` with its size; admin path, from the registries.

        Redis keeps no modification time, so ``mtime`` is "now": age-based
        policies then treat every hot value as fresh, which errs on keeping.
        """
        if len(prefix) >= 2:
            tag, base = self.keys.subtree(prefix)
            exact = self.keys.value(prefix)
            found, there = self._pipeline(
                [("ZRANGEBYLEX", self.keys.registry(tag), *lex_range(base)), ("EXISTS", exact)]
            )
            members = raw(found) + ([exact.encode()] if there else [])
        else:
            members = []
            for batch in chunks(self.all_tags(prefix), TAG_BATCH):
                ranges = [("ZRANGE", self.keys.registry(t), 0, -1) for t in batch]
                for reply in self._pipeline(ranges):
                    members += raw(reply)
        now = time.time()
        for names in chunks(sorted(set(members)), _SIZE_BATCH):
            sizes = self._pipeline([("STRLEN", m) for m in names])
            for m, size in zip(names, sizes, strict=True):
                if size:
                    yield self.keys.parse(m), int(size), now

    @contextlib.contextmanager
    def lock(self, key: Key, exclusive: bool = True) -> Iterator[None]:
        """Shared or exclusive across processes and hosts: a Redis lease lock, in the
        slot of the data it protects.

        Leases (``LOCK_LEASE``) free the lock if a holder dies; holders keep it
        for one put or one delete, milliseconds. A waiting exclusive holder
        stops new shared ones, so deletes are not starved by a stream of puts.
        """
        names = self.keys.lock(key)
        token = new_token()
        lease = ms(LOCK_LEASE)
        op = "exclusive" if exclusive else "shared"
        pause = 0.001
        while not self._eval("lock", names, [op, token, lease]):
            time.sleep(pause)
            pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            self._eval("lock", names, ["release", token, lease])

    @contextlib.contextmanager
    def maintenance_lock(self, exclusive: bool) -> Iterator[None]:
        """No cross-process lock: as a hot tier, the cold store's lock is the one used.

        A hot tier used on its own has no garbage collector to exclude, because
        it is not meant to be the only copy of anything.
        """
        yield

    def list_many(self, prefixes: Sequence[Key]) -> Listings:
        return self.children_many(prefixes)

    # Last in the class: a method named ``list`` shadows the builtin in later annotations.
    def list(self, prefix: Key) -> Names:
        return self.children(prefix)
