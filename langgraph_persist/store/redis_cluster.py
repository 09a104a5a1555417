"""The Redis Cluster tier: the hot tier of ``tiered.py`` on a Redis Cluster.

Why a second adapter: ``RedisStore`` (``redis.py``) keeps three small global
indexes (``top``, a level-1 index per root, an ``epoch`` token) and updates
them inside the same Lua script as a thread's data. On a cluster those keys
live in other slots, usually on other nodes, so no script may touch them
together. This adapter keeps the layout of ``redis.py`` (its ``RedisKeys``
builds every name, so a thread is still the hash tag ``{threads/<t>}``) and
drops what cannot be made slot-local:

* **One slot per call.** Every script touches the keys of one tag only, and
  declares them all in ``KEYS`` (so the cluster routes it and can check it).
  A call spanning several tags (a checkpoint and the blob shards its values
  live in) becomes one script per tag, sent as one cluster pipeline: one
  round trip per node involved, nodes in parallel. Across tags a call is
  therefore not atomic, which the port allows ("items of one call may become
  visible in any order"); within a tag it is, which is what fencing needs.
* **No global indexes.** Enumerating every tag (listing all threads from
  Redis, invalidating the whole store after a long outage) uses ``SCAN`` on
  each primary: rare admin paths, while every per-thread path stays in one
  slot and never scans.
* **No epoch.** The standalone adapter needs an epoch so that an ack after
  Redis lost its data does not mistake the missing values for a delete. Here
  that is read off the tag's generation token itself: a delete always sets a
  new, non-empty token, a node that lost its data has none. So an ack
  compensates only when the token changed *to a non-empty value*; per slot,
  which is exactly where a cluster loses data (one node at a time).
* **Write-behind queues** stay per writer (``{wb:<writer>}``), but the entry is
  pushed in a round trip of its own *before* the values are written, and the
  writer set is updated after: a writer killed in between leaves at most an
  entry naming values that were never written (a no-op for whoever flushes
  it), never pending values that no queue names.

Authentication is ``redis.py``'s (``HotAuth``): values are sealed on the way
in and verified on the way out, and a TTL refresh only extends the exact bytes
that verified.

Failures: every Redis or cluster-client error (a node down, a slot not
covered, ``CLUSTERDOWN``) is raised as ``ClusterTierError``, which is both a
``TierUnavailableError`` (typed, for users) and a ``redis.RedisError`` (so
``TieredStore`` falls back to the cold tier exactly as for a standalone Redis).
The client is created lazily: a store built while the cluster is down starts
degraded instead of failing, like ``build_tiered``.

``MOVED``/``ASK`` redirections (resharding, failover) are followed by
redis-py's ``RedisCluster``; pipelined scripts are routed to the node owning
their slot, and a redirected one is retried through the client's slot table.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError
from redis.retry import Retry

from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError, TierUnavailableError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Listings, Store
from langgraph_persist.store.hot_auth import HotAuth
from langgraph_persist.store.redis import (
    _LEASE,
    _LIST,
    _LOCK,
    LOCK_LEASE,
    SWEEP_BATCH,
    Fetched,
    PendingEntry,
    RedisKeys,
    RedisStore,
    StorePortOverPrimitives,
    Tag,
    Written,
    group_invalidations,
    new_token,
    open_entries,
    open_values,
    parse_members,
    seal_values,
    sha1_hex,
)

if TYPE_CHECKING:
    from langgraph_persist.store.tiered import HotTier, HotTierOptions, TieredStore

_GEN_TTL_MIN_MS = 24 * 3600 * 1000
"""Generation tokens outlive any in-flight backfill or flush by far (as in redis.py)."""

_SCAN_COUNT = 1000
_TAG_BATCH = 256
"""Tags per pipeline on whole-store paths (bounded memory and reply size)."""


class ClusterTierError(TierUnavailableError, RedisError):
    """The Redis Cluster failed (node down, slot uncovered, ``CLUSTERDOWN``, ...).

    A ``TierUnavailableError`` for callers, and a ``RedisError`` so that
    ``TieredStore`` treats it like any Redis failure: serve from the cold tier.
    """


# -- Lua: one tag per script; KEYS = registry, pending, gen, pin, sweep, then values ---------

_COMMON = """
local R, Q, G, P, S = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function sweep(ttl)
  local cur = redis.call('GET', S)
  local lo = cur and ('(' .. cur) or '-'
  local batch = redis.call('ZRANGEBYLEX', R, lo, '+', 'LIMIT', 0, SWEEP_BATCH)
  for _, m in ipairs(batch) do
    if redis.call('EXISTS', m) == 0 then
      redis.call('ZREM', R, m)
      redis.call('ZREM', Q, m)
    end
  end
  if #batch < SWEEP_BATCH then redis.call('DEL', S)
  else redis.call('SET', S, batch[#batch], 'PX', ttl) end
end
-- after values changed: the registry's TTL covers every value's (or there is
-- none: pinned or pending), as in redis.py, minus the global indexes
local function settle(ttl)
  if ttl > 0 and redis.call('EXISTS', P) == 0 and redis.call('EXISTS', Q) == 0 then
    redis.call('PEXPIRE', R, ttl)
  else
    redis.call('PERSIST', R)
  end
  if ttl > 0 then sweep(ttl) end
end
""".replace("SWEEP_BATCH", str(SWEEP_BATCH))

_READ = """
-- values, the generation, and the positions of values whose TTL is due for a
-- refresh (less than 90% left): refreshed by _REFRESH once they verified
local G = KEYS[3]
local ttl = tonumber(ARGV[1])
local vals, due = {}, {}
for j = 6, #KEYS do
  local v = redis.call('GET', KEYS[j])
  vals[#vals + 1] = v
  if v and ttl > 0 then
    local left = redis.call('PTTL', KEYS[j])
    if left > 0 and left < ttl * 0.9 then due[#due + 1] = j - 5 end
  end
end
return {redis.call('GET', G) or '', vals, due}
"""

_REFRESH = """
-- ARGV: ttl, then the sha1 of the bytes verified for each value: a copy replaced
-- since (by a client without our key, say) never has its TTL extended
local ttl = tonumber(ARGV[1]); local touched = false
for j = 6, #KEYS do
  local v = redis.call('GET', KEYS[j])
  if v and redis.sha1hex(v) == ARGV[j - 4] and redis.call('PTTL', KEYS[j]) > 0 then
    redis.call('PEXPIRE', KEYS[j], ttl)
    touched = true
  end
end
if touched and redis.call('PTTL', KEYS[1]) > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
"""

_WRITE = """
local ttl = tonumber(ARGV[1]); local fence = ARGV[2] == '1'; local expected = ARGV[3]
local pending = ARGV[4] == '1'
local gen = redis.call('GET', G) or ''
if fence and gen ~= expected then return {gen, 0} end
local pinned = redis.call('EXISTS', P) == 1
local wrote = 0
for j = 6, #KEYS do
  local k = KEYS[j]; local a = 5 + (j - 6) * 2
  local old, data = ARGV[a], ARGV[a + 1]
  local go = true
  if old == '-' then go = redis.call('EXISTS', k) == 0
  elseif old ~= '*' then
    local cur = redis.call('GET', k)
    go = (cur ~= false) and redis.sha1hex(cur) == old
  end
  if go then
    redis.call('SET', k, data)
    redis.call('ZADD', R, 0, k)
    if pending then redis.call('ZADD', Q, 0, k)
    elseif ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
    wrote = wrote + 1
  end
end
if wrote > 0 then settle(ttl) end
return {gen, 1}
"""

_INVALIDATE = """
local gen_ttl = tonumber(ARGV[1]); local keep = ARGV[2] == '1'; local newgen = ARGV[3]
local whole = ARGV[4] == '1'; local nranges = tonumber(ARGV[5])
local removed = 0
local function drop(m)
  if keep and redis.call('ZSCORE', Q, m) then return end
  removed = removed + redis.call('DEL', m)
  redis.call('ZREM', R, m)
  redis.call('ZREM', Q, m)
end
for j = 6, #KEYS do drop(KEYS[j]) end
for i = 0, nranges - 1 do
  for _, m in ipairs(redis.call('ZRANGEBYLEX', R, ARGV[6 + 2 * i], ARGV[7 + 2 * i])) do
    drop(m)
  end
end
if whole then
  for _, m in ipairs(redis.call('ZRANGE', R, 0, -1)) do drop(m) end
end
redis.call('SET', G, newgen, 'PX', gen_ttl)
if redis.call('EXISTS', R) == 0 then redis.call('DEL', S) end
return removed
"""

_ACK = """
local ttl = tonumber(ARGV[1]); local expected = ARGV[2]
local gen = redis.call('GET', G) or ''
local pinned = redis.call('EXISTS', P) == 1
local compensate = {}
for j = 6, #KEYS do
  local k = KEYS[j]; local sha = ARGV[j - 3]
  local v = redis.call('GET', k)
  if not v then
    -- gone: a delete since the flush observed the generation sets a new,
    -- non-empty token, and the cold copy just written must be deleted again;
    -- no token at all means this node lost its data (nothing was deleted)
    if gen ~= expected and gen ~= '' then compensate[#compensate + 1] = k end
    redis.call('ZREM', Q, k)
    redis.call('ZREM', R, k)
  elseif redis.sha1hex(v) == sha then
    redis.call('ZREM', Q, k)
    if ttl > 0 and not pinned then redis.call('PEXPIRE', k, ttl) end
  end
  -- else: a newer write of the key is pending; it stays pending
end
if redis.call('EXISTS', R) == 1 then settle(ttl) end
return compensate
"""

_PIN = """
local ttl = tonumber(ARGV[1]); local pin = ARGV[2] == '1'
if pin then
  redis.call('SET', P, '1')
  for _, m in ipairs(redis.call('ZRANGE', R, 0, -1)) do redis.call('PERSIST', m) end
else
  redis.call('DEL', P)
  if ttl > 0 then
    for _, m in ipairs(redis.call('ZRANGE', R, 0, -1)) do
      if not redis.call('ZSCORE', Q, m) then redis.call('PEXPIRE', m, ttl) end
    end
  end
end
if redis.call('EXISTS', R) == 1 then settle(ttl) end
return 1
"""

_BUSY = """
if redis.call('LLEN', KEYS[1]) > 0 or redis.call('EXISTS', KEYS[2]) == 1 then return 1 end
return 0
"""

_SCRIPTS: dict[str, str] = {
    "read": _READ,
    "refresh": _REFRESH,
    "write": _COMMON + _WRITE,
    "invalidate": _COMMON + _INVALIDATE,
    "ack": _COMMON + _ACK,
    "pin": _COMMON + _PIN,
    "busy": _BUSY,
    # single-slot scripts of the standalone adapter, used as they are
    "list": _LIST,
    "lease": _LEASE,
    "lock": _LOCK,
}
_SHAS = {name: hashlib.sha1(body.encode()).hexdigest() for name, body in _SCRIPTS.items()}

Call = tuple[str, list[Any], list[Any]]
"""A script call: (script name, KEYS, ARGV)."""


def _ms(delta: timedelta | None) -> int:
    return 0 if delta is None else max(1, int(delta.total_seconds() * 1000))


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _texts(reply: Any) -> list[str]:
    return [_text(m) for m in reply]


def _raw(reply: Any) -> list[bytes]:
    return [m if isinstance(m, bytes) else str(m).encode() for m in reply]


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


ClusterTarget = str | Sequence[str] | RedisCluster
"""A ``redis://``/``rediss://`` URL of any node, ``["host:port", ...]`` startup
nodes, or a ready ``RedisCluster`` client."""


class RedisClusterStore(StorePortOverPrimitives):
    """A hot tier (and a complete, non-durable ``Store``) on a Redis Cluster.

    Drop-in for ``RedisStore`` as the ``hot`` of a ``TieredStore``::

        options = HotTierOptions(ttl=timedelta(hours=6))
        store = build_cluster_tiered(S3Store("checkpoints"), "redis://10.0.0.5:7000", options)

    Args:
        target: see ``ClusterTarget``; any reachable node is enough to
            discover the others.
        key_prefix: prepended to every key (``[A-Za-z0-9_.:-]``, <= 64 chars).
        ttl: ``None`` for a complete store; a TTL makes it a cache that only
            ``TieredStore`` should use (listings may then omit what expired).
        timeout: connect and socket timeout per node: how long an operation
            waits for an unresponsive node before the cold tier takes over.
        auth: seals and verifies every value (``hot_auth.py``); ``TieredStore``
            installs its own.
    """

    def __init__(
        self,
        target: ClusterTarget,
        *,
        key_prefix: str = "lgp:",
        ttl: timedelta | None = None,
        timeout: timedelta = timedelta(seconds=2),
        auth: HotAuth | None = None,
    ) -> None:
        self.keys = RedisKeys(key_prefix)
        if ttl is not None and ttl <= timedelta(0):
            raise ConfigurationError(f"ttl must be positive, not {ttl}")
        self.ttl = ttl
        self.auth = auth
        self._ttl_ms = _ms(ttl)
        self._gen_ttl_ms = max(self._ttl_ms, _GEN_TTL_MIN_MS)
        self._timeout = timeout.total_seconds()
        self._target = self._check_target(target)
        self._owns_client = not isinstance(target, RedisCluster)
        self._client: RedisCluster | None = target if isinstance(target, RedisCluster) else None
        self._client_lock = threading.Lock()
        self._tag_pattern = re.compile(
            "^"
            + re.escape(self.keys.prefix)
            + r"\{([A-Za-z0-9._%=~-]+)(?:/([A-Za-z0-9._%=~-]+))?\}:"
        )
        self._block: Callable[[Tag], tuple[str, ...]] = functools.lru_cache(maxsize=1 << 16)(
            self._compute_block
        )

    # -- connection ----------------------------------------------------------------------------

    @staticmethod
    def _check_target(target: ClusterTarget) -> ClusterTarget:
        if isinstance(target, RedisCluster):
            return target
        if isinstance(target, str):
            if not target.startswith(("redis://", "rediss://")):
                raise ConfigurationError(
                    f"a Redis Cluster URL starts with redis:// or rediss://, not {target[:20]!r}"
                )
            return target
        if isinstance(target, Sequence) and target and all(isinstance(n, str) for n in target):
            for node in target:
                host, sep, port = node.rpartition(":")
                if not sep or not host or not port.isdigit():
                    raise ConfigurationError(f"cluster nodes are 'host:port', not {node!r}")
            return list(target)
        raise ConfigurationError(
            "target must be a redis:// URL, a list of 'host:port' nodes or a RedisCluster, "
            f"not {type(target).__name__}"
        )

    def _connect(self) -> RedisCluster:
        """A client with short timeouts and one retry: fail fast, fall back to the cold tier."""
        options: dict[str, Any] = {
            "socket_timeout": self._timeout,
            "socket_connect_timeout": self._timeout,
            "retry": Retry(NoBackoff(), 1),
        }
        if isinstance(self._target, str):
            return RedisCluster.from_url(self._target, **options)
        nodes = []
        for node in cast(Sequence[str], self._target):
            host, _, port = node.rpartition(":")
            nodes.append(ClusterNode(host, int(port)))  # type: ignore[no-untyped-call]
        return RedisCluster(startup_nodes=nodes, **options)

    @property
    def client(self) -> RedisCluster:
        """The cluster client, created at first use (see module docstring)."""
        client = self._client
        if client is None:
            with self._client_lock:
                if self._client is None:
                    with self._guard("connect"):
                        self._client = self._connect()
                client = self._client
        assert client is not None
        return client

    @contextlib.contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Any cluster failure inside becomes ``ClusterTierError`` (see the class)."""
        try:
            yield
        except ClusterTierError:
            raise
        except (RedisError, RedisClusterException) as exc:
            raise ClusterTierError(
                f"Redis Cluster {self.describe()} failed during {what}: {type(exc).__name__}: {exc}"
            ) from exc

    def describe(self) -> str:
        """``redis-cluster://host:port,...`` (never a password) and the key prefix."""
        target = self._target
        if isinstance(target, RedisCluster):
            where = ",".join(sorted(n.name for n in target.get_nodes()))  # type: ignore[no-untyped-call]
        elif isinstance(target, str):
            scheme, _, rest = target.partition("://")
            where = rest.rpartition("@")[2].split("/")[0]
            return f"{scheme}-cluster://{where} prefix={self.keys.prefix!r}"
        else:
            where = ",".join(target)
        return f"redis-cluster://{where} prefix={self.keys.prefix!r}"

    def ping(self) -> None:
        """Raise ``ClusterTierError`` unless every primary answers."""
        with self._guard("ping"):
            self.client.ping(target_nodes=RedisCluster.PRIMARIES)

    # -- script calls --------------------------------------------------------------------------

    def _compute_block(self, tag: Tag) -> tuple[str, ...]:
        k = self.keys
        return (k.registry(tag), k.pending(tag), k.gen(tag), k.pin(tag), k.sweep(tag))

    def _eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script in one slot; scripts are (re)loaded on all primaries when missing."""
        client = self.client
        try:
            return client.evalsha(_SHAS[name], len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(_SCRIPTS[name])
            return client.evalsha(_SHAS[name], len(keys), *keys, *args)

    def _run(self, calls: Sequence[Call], *, extra: Sequence[Sequence[Any]] = ()) -> list[Any]:
        """Script calls (plus plain ``extra`` commands) in one cluster pipeline.

        Each command is routed to the node owning its first key's slot
        (``target_nodes``), which also spares redis-py a ``COMMAND GETKEYS``
        round trip per script. Redirected or failed commands are retried by
        redis-py one by one through the slot table. A node restarted empty has
        lost the scripts: those loaded, only the calls it refused (``NOSCRIPT``)
        are sent again, so no script runs twice.
        """
        if len(calls) == 1 and not extra:
            name, keys, args = calls[0]
            return [self._eval(name, keys, args)]
        client = self.client
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in (1, 2):
            pipe = client.pipeline()  # type: ignore[no-untyped-call]
            for i in todo:
                name, keys, args = calls[i]
                node = client.get_node_from_key(keys[0])  # type: ignore[no-untyped-call]
                pipe.execute_command(
                    "EVALSHA", _SHAS[name], len(keys), *keys, *args, target_nodes=node
                )
            for command in extra if attempt == 1 else ():
                pipe.execute_command(*command)
            replies = pipe.execute(raise_on_error=False)
            refused: list[int] = []
            for i, reply in zip(todo, replies, strict=False):
                if attempt == 1 and isinstance(reply, NoScriptError):
                    refused.append(i)
                elif isinstance(reply, Exception):
                    raise reply
                else:
                    results[i] = reply
            for reply in replies[len(todo) :]:
                if isinstance(reply, Exception):
                    raise reply
            if not refused:
                return results
            for name in {calls[i][0] for i in refused}:
                client.script_load(_SCRIPTS[name])
            todo = refused
        raise AssertionError("unreachable")

    def _pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Plain single-key commands, pipelined across nodes."""
        if not commands:
            return []
        pipe = self.client.pipeline()  # type: ignore[no-untyped-call]
        for command in commands:
            pipe.execute_command(*command)
        return list(pipe.execute())

    def _groups(self, keys: Iterable[Key]) -> dict[Tag, list[int]]:
        groups: dict[Tag, list[int]] = {}
        for i, key in enumerate(keys):
            groups.setdefault(self.keys.tag_of(key), []).append(i)
        return groups

    # -- fenced primitives (the HotTier interface) ---------------------------------------------

    def fetch(
        self,
        keys: Sequence[Key],
        *,
        refresh: bool = True,
        all_gens: bool = False,
        digests: bool = False,
    ) -> Fetched:
        """Verified values and every touched tag's generation (one script per tag,
        one pipeline), as ``RedisStore.fetch``; due TTL refreshes of verified
        values follow in a second pipeline.

        ``all_gens`` is accepted for interface parity: a per-tag script returns its
        generation anyway, so ``gens`` always covers every tag read.
        """
        groups = self._groups(keys)
        calls: list[Call] = [
            (
                "read",
                [*self._block(tag), *(self.keys.value(keys[i]) for i in positions)],
                [self._ttl_ms if refresh else 0],
            )
            for tag, positions in groups.items()
        ]
        with self._guard("read"):
            replies = self._run(calls) if calls else []
        raw: list[bytes | None] = [None] * len(keys)
        gens: dict[Tag, str] = {}
        due: dict[Tag, list[int]] = {}
        for (tag, positions), (gen, vals, tag_due) in zip(groups.items(), replies, strict=True):
            gens[tag] = _text(gen)
            for pos, val in zip(positions, vals, strict=True):
                raw[pos] = val
            due[tag] = [positions[int(n) - 1] for n in tag_due]
        values, damaged, sums = open_values(self.auth, keys, raw, digests=digests)
        refreshes: list[Call] = []
        for tag, positions in due.items():
            fresh = [p for p in positions if values[p] is not None]
            if fresh:
                refreshes.append(
                    (
                        "refresh",
                        [*self._block(tag), *(self.keys.value(keys[p]) for p in fresh)],
                        [self._ttl_ms, *(sha1_hex(raw[p] or b"") for p in fresh)],
                    )
                )
        if refreshes:
            with self._guard("refresh"):
                self._run(refreshes)
        return Fetched("", gens, values, damaged, sums)

    def gens(self, tags: Iterable[Tag]) -> dict[Tag, str]:
        tags = list(tags)
        with self._guard("read generations"):
            replies = self._pipeline([("GET", self.keys.gen(t)) for t in tags])
        return {t: _text(g) if g is not None else "" for t, g in zip(tags, replies, strict=True)}

    def put(
        self,
        items: Sequence[tuple[Key, bytes]],
        *,
        old: Sequence[str] | str = "*",
        fence: Mapping[Tag, str] | None = None,
        pending: PendingEntry | None = None,
    ) -> Written:
        """Write ``items``, one script per tag; fenced and/or pending as in ``RedisStore.put``.

        With ``pending``, the queue entry is pushed first (its own round trip) and
        the writer registered with the values: see the module docstring for why
        this order leaves nothing unflushable behind a writer that dies midway.
        """
        olds = [old] * len(items) if isinstance(old, str) else list(old)
        stored = seal_values(self.auth, items)
        groups = self._groups([k for k, _ in items])
        calls: list[Call] = []
        for tag, positions in groups.items():
            keys: list[Any] = list(self._block(tag))
            args: list[Any] = [
                self._ttl_ms,
                int(fence is not None),
                fence.get(tag, "") if fence is not None else "",
                int(pending is not None),
            ]
            for i in positions:
                keys.append(self.keys.value(items[i][0]))
                args += [olds[i], stored[i]]
            calls.append(("write", keys, args))
        extra: list[tuple[Any, ...]] = []
        with self._guard("write"):
            if pending is not None:
                self.client.rpush(self.keys.queue(pending.writer), pending.entry)
                extra.append(("SADD", self.keys.writers(), pending.writer))
            replies = self._run(calls, extra=extra) if calls else []
        gens: dict[Tag, str] = {}
        fenced: set[Tag] = set()
        for tag, (gen, ok) in zip(groups, replies, strict=True):
            gens[tag] = _text(gen)
            if not int(ok):
                fenced.add(tag)
        sums = tuple(sha1_hex(v) for v in stored) if pending is not None else ()
        return Written("", gens, frozenset(fenced), sums)

    def invalidate(
        self,
        *,
        keys: Sequence[Key] = (),
        prefixes: Sequence[Key] = (),
        tags: Iterable[Tag] = (),
        keep_pending: bool = False,
    ) -> int:
        """Delete values and replace their tags' generations (one script per tag)."""
        exact, ranges, whole, all_tags = group_invalidations(self.keys, keys, prefixes, tags)
        calls: list[Call] = []
        for tag in all_tags:
            tag_ranges = ranges.get(tag, [])
            args: list[Any] = [
                self._gen_ttl_ms,
                int(keep_pending),
                new_token(),
                int(tag in whole),
                len(tag_ranges),
            ]
            for lo, hi in tag_ranges:
                args += [lo, hi]
            calls.append(
                (
                    "invalidate",
                    [*self._block(tag), *(self.keys.value(k) for k in exact.get(tag, []))],
                    args,
                )
            )
        removed = 0
        with self._guard("invalidate"):
            for chunk in _chunks(calls, _TAG_BATCH):
                removed += sum(int(n) for n in self._run(chunk))
        return removed

    def ack(
        self,
        writer: str,
        entry: bytes,
        flushed: Sequence[tuple[Key, str]],
        gens: Mapping[Tag, str],
        epoch: str,
    ) -> list[Key]:
        """End the pending state of ``flushed`` (per tag), then drop ``entry`` from the queue.

        ``flushed`` pairs keys with the sha1 of their bytes in Redis, as in
        ``RedisStore.ack``.

        ``epoch`` is unused (see the module docstring: generations tell a delete
        from lost data). Tags first, entry second: a crash in between leaves an
        entry whose flush is repeated, never pending values without an entry.
        """
        groups = self._groups([k for k, _ in flushed])
        calls: list[Call] = []
        for tag, positions in groups.items():
            keys: list[Any] = list(self._block(tag))
            args: list[Any] = [self._ttl_ms, gens.get(tag, "")]
            for i in positions:
                key, sha = flushed[i]
                keys.append(self.keys.value(key))
                args.append(sha)
            calls.append(("ack", keys, args))
        with self._guard("ack"):
            replies = self._run(calls) if calls else []
            if entry:
                # execute_command: lrem() is annotated str-only, the entry is bytes
                queue = self.keys.queue(writer)
                self.client.execute_command("LREM", queue, 1, entry)  # type: ignore[no-untyped-call]
        return [self.keys.parse(k) for reply in replies for k in reply]

    def pin(self, tag: Tag, pinned: bool) -> None:
        with self._guard("pin"):
            self._eval("pin", self._block(tag), [self._ttl_ms, int(pinned)])

    def pinned(self, tag: Tag) -> bool:
        with self._guard("read pin"):
            return bool(self.client.exists(self.keys.pin(tag)))

    # -- listings ------------------------------------------------------------------------------

    def _scan_tags(self, c0: str | None, kind: str) -> list[Tag]:
        """Tags with a ``kind`` key (``r`` registry, ``q`` pending), by SCAN on each primary.

        Admin paths only (every thread at once): per-thread paths never scan.
        """
        inner = f"{c0}/*" if c0 is not None else "*"
        pattern = f"{self.keys.prefix}{{{inner}}}:{kind}"
        found: set[Tag] = set()
        with self._guard("scan"):
            for name in self.client.scan_iter(match=pattern, count=_SCAN_COUNT):
                text = _text(name)
                match = self._tag_pattern.match(text)
                if match is None or text[match.end() :] != kind:
                    continue
                found.add(Tag(match.group(1), match.group(2) or ""))
        return sorted(found)

    def all_tags(self, prefix: Key = ()) -> list[Tag]:
        """Every tag under ``prefix`` (length 0 or 1) holding values; admin path (SCAN)."""
        if prefix:
            self.keys.check(prefix)
        return self._scan_tags(prefix[0] if prefix else None, "r")

    def children(self, prefix: Key, *, pending_only: bool = False) -> list[str]:
        return self.children_many([prefix], pending_only=pending_only)[0]

    def children_many(self, prefixes: Sequence[Key], *, pending_only: bool = False) -> Listings:
        """Sorted child names: a registry range per tag; above the tags, a SCAN."""
        out: list[list[str] | None] = [None] * len(prefixes)
        calls: list[Call] = []
        where: list[int] = []
        for i, prefix in enumerate(prefixes):
            if len(prefix) <= 1:
                if prefix:
                    self.keys.check(prefix)
                tags = self._scan_tags(prefix[0] if prefix else None, "q" if pending_only else "r")
                names = {t.c1 for t in tags} if prefix else {t.c0 for t in tags}
                out[i] = sorted(n for n in names if n)
                continue
            tag, base = self.keys.subtree(prefix)
            index = self.keys.pending(tag) if pending_only else self.keys.registry(tag)
            lo = ("[" + base).encode()
            calls.append(("list", [index], [lo, lo + b"\xff", len(base.encode())]))
            where.append(i)
        if calls:
            with self._guard("list"):
                replies = self._run(calls)
            for i, names in zip(where, replies, strict=True):
                out[i] = sorted(set(_texts(names)))
        return [names or [] for names in out]

    def pending_flags(self, keys: Sequence[Key]) -> list[bool]:
        commands = [
            ("ZSCORE", self.keys.pending(self.keys.tag_of(k)), self.keys.value(k)) for k in keys
        ]
        with self._guard("read pending"):
            return [score is not None for score in self._pipeline(commands)]

    def pending_keys(self, prefix: Key) -> Iterator[Key]:
        """Keys under ``prefix`` still pending in any writer's queue (admin path);
        only entries that verify count, as in ``RedisStore.pending_keys``."""
        seen: set[Key] = set()
        for writer in self.writers():
            with self._guard("read queue"):
                raw_entries = _raw(self.client.lrange(self.keys.queue(writer), 0, -1))
            for entry_keys in open_entries(self.auth, writer, raw_entries):
                seen.update(k for k in entry_keys if k[: len(prefix)] == prefix)
        keys = sorted(seen)
        yield from (k for k, flag in zip(keys, self.pending_flags(keys), strict=True) if flag)

    def pending_under(self, prefixes: Sequence[Key]) -> list[list[Key]]:
        """Keys of the pending values below each prefix (names only, unverified: see
        ``RedisStore.pending_under``); above the tags, found by SCAN (admin path)."""
        commands: list[tuple[Any, ...]] = []
        owners: list[int] = []
        for i, prefix in enumerate(prefixes):
            if len(prefix) >= 2:
                tag, base = self.keys.subtree(prefix)
                lo = ("[" + base).encode()
                commands.append(("ZRANGEBYLEX", self.keys.pending(tag), lo, lo + b"\xff"))
                owners.append(i)
                continue
            if prefix:
                self.keys.check(prefix)
            for tag in self._scan_tags(prefix[0] if prefix else None, "q"):
                commands.append(("ZRANGE", self.keys.pending(tag), 0, -1))
                owners.append(i)
        members: list[list[Any]] = [[] for _ in prefixes]
        with self._guard("read pending"):
            replies = self._pipeline(commands)
        for i, reply in zip(owners, replies, strict=True):
            members[i] += reply
        return [parse_members(self.keys, m) for m in members]

    # -- write-behind queues -------------------------------------------------------------------

    def writers(self) -> list[str]:
        with self._guard("read writers"):
            return sorted(_texts(self.client.smembers(self.keys.writers())))

    def queue_head(self, writer: str, count: int) -> list[bytes]:
        with self._guard("read queue"):
            return _raw(self.client.lrange(self.keys.queue(writer), 0, count - 1))

    def queue_length(self, writer: str) -> int:
        with self._guard("read queue"):
            return int(self.client.llen(self.keys.queue(writer)))

    def take_lease(self, writer: str, holder: str, lease: timedelta) -> bool:
        with self._guard("lease"):
            return bool(
                self._eval("lease", [self.keys.lease(writer)], [holder, _ms(lease), "take"])
            )

    def release_lease(self, writer: str, holder: str) -> None:
        with self._guard("lease"):
            self._eval("lease", [self.keys.lease(writer)], [holder, 0, "release"])

    def forget_writer(self, writer: str) -> bool:
        """Drop ``writer`` from the writer set if its queue is empty and unleased.

        The set and the queue live in different slots, so: remove first, then
        look; if the queue is busy, add it back. A writer that pushes meanwhile
        registers itself *after* its push (see ``put``), so it is never left out
        with a non-empty queue.
        """
        with self._guard("forget writer"):
            self.client.srem(self.keys.writers(), writer)
            busy = self._eval("busy", [self.keys.queue(writer), self.keys.lease(writer)], [])
            if int(busy):
                self.client.sadd(self.keys.writers(), writer)
                return False
        return True

    # -- the Store port ------------------------------------------------------------------------

    def exists_many(self, keys: Sequence[Key]) -> list[bool]:
        with self._guard("exists"):
            return [bool(n) for n in self._pipeline([("EXISTS", self.keys.value(k)) for k in keys])]

    def delete_tree(self, prefix: Key) -> None:
        if len(prefix) >= 2:
            self.invalidate(prefixes=[prefix])
            return
        self.invalidate(tags=self.all_tags(prefix))

    def walk(self, prefix: Key) -> Iterator[tuple[Key, int, float]]:
        """Every value under ``prefix`` with its size; admin path (mtime is "now", as in
        ``RedisStore.walk``)."""
        with self._guard("walk"):
            if len(prefix) >= 2:
                tag, base = self.keys.subtree(prefix)
                lo = ("[" + base).encode()
                members = _raw(self.client.zrangebylex(self.keys.registry(tag), lo, lo + b"\xff"))
                exact = self.keys.value(prefix)
                if self.client.exists(exact):
                    members.append(exact.encode())
            else:
                members = []
                for chunk in _chunks(self.all_tags(prefix), _TAG_BATCH):
                    for reply in self._pipeline(
                        [("ZRANGE", self.keys.registry(t), 0, -1) for t in chunk]
                    ):
                        members += _raw(reply)
            now = time.time()
            for names in _chunks(sorted(set(members)), 512):
                sizes = self._pipeline([("STRLEN", m) for m in names])
                for m, size in zip(names, sizes, strict=True):
                    if size:
                        yield self.keys.parse(m), int(size), now

    @contextlib.contextmanager
    def lock(self, key: Key, exclusive: bool = True) -> Iterator[None]:
        """``RedisStore.lock`` on the cluster: a shared/exclusive lease lock in the
        slot of the data it protects (its three keys share the key's tag)."""
        names = self.keys.lock(key)
        token = new_token()
        lease = _ms(LOCK_LEASE)
        op = "exclusive" if exclusive else "shared"
        pause = 0.001
        with self._guard("lock"):
            while not self._eval("lock", names, [op, token, lease]):
                time.sleep(pause)
                pause = min(pause * 2, 0.05)
        try:
            yield
        finally:
            with self._guard("unlock"):
                self._eval("lock", names, ["release", token, lease])

    @contextlib.contextmanager
    def maintenance_lock(self, exclusive: bool) -> Iterator[None]:
        """No lock: as a hot tier, the cold store's maintenance lock is the one used."""
        yield

    def close(self) -> None:
        """Close the connection pools, if this store created the client.

        A later call connects again (as a closed ``redis.Redis`` pool would).
        """
        with self._client_lock:
            client, owned = self._client, self._owns_client
            if owned:
                self._client = None
        if client is not None and owned:
            with contextlib.suppress(RedisError, RedisClusterException):
                client.close()

    # Last in the class: a method named ``list`` shadows the builtin in later annotations.


def build_cluster_tiered(
    cold: Store,
    target: ClusterTarget,
    options: HotTierOptions | None = None,
    *,
    encryption: Encryption | None = None,
) -> TieredStore:
    """A ``TieredStore`` over ``cold`` (e.g. an ``S3Store``) with a Redis Cluster hot tier.

    The cluster analogue of ``tiered.build_tiered``: never fails because the
    cluster is down (the client connects lazily; the store starts degraded).
    The MAC is keyed as there (the cold store's secret, and ``encryption``).
    """
    from langgraph_persist.store.tiered import HotTierOptions, TieredStore

    opts = options if options is not None else HotTierOptions()
    auth = HotAuth.for_store(cold, opts.key_prefix, encryption)
    hot = RedisClusterStore(
        target, key_prefix=opts.key_prefix, ttl=opts.ttl, timeout=opts.timeout, auth=auth
    )
    return TieredStore(cold, hot, opts)


def _both_are_hot_tiers(cluster: RedisClusterStore, standalone: RedisStore) -> list[HotTier]:
    """Never called: makes mypy check both adapters against ``HotTier`` (and the port)."""
    return [cluster, standalone]
