"""The Redis Cluster tier: the hot tier of ``tiered.py`` on a Redis Cluster.

Why a second adapter: ``RedisStore`` (``redis.py``) keeps three small global
indexes (``top``, a level-1 index per root, an ``epoch`` token) and updates
them inside the same Lua script as a thread's data. On a cluster those keys
live in other slots, usually on other nodes, so no script may touch them
together. This adapter keeps the layout of ``hot/layout.py`` (``RedisKeys``
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

The port, the key layout, the fenced primitives, authentication (``HotAuth``)
and the per-tag Lua are shared with ``redis.py`` (``store/hot/``); this module
is what is particular to a cluster.

Failures: every Redis or cluster-client error (a node down, a slot not
covered, ``CLUSTERDOWN``) is raised as ``TierUnavailableError``, as by the
standalone adapter. The client is created lazily: a store built while the cluster is down starts
degraded instead of failing, like ``build_tiered``.

``MOVED``/``ASK`` redirections (resharding, failover) are followed by
redis-py's ``RedisCluster``; pipelined scripts are routed to the node owning
their slot, and a redirected one is retried through the client's slot table.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.exceptions import NoScriptError, RedisClusterException, RedisError
from redis.retry import Retry

from langgraph_persist.crypto import Encryption
from langgraph_persist.errors import ConfigurationError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Names, Store
from langgraph_persist.store.hot import scripts
from langgraph_persist.store.hot.layout import Tag
from langgraph_persist.store.hot.port import TAG_BATCH, Call, HotTier
from langgraph_persist.store.hot.primitives import (
    Ack,
    Invalidation,
    Put,
    chunks,
    new_token,
    text,
)
from langgraph_persist.store.hot_auth import HotAuth

if TYPE_CHECKING:
    from langgraph_persist.store.tiered import HotTierOptions, TieredStore

_SCAN_COUNT = 1000

_SCRIPTS = scripts.load(
    {
        "read": "cluster_read",
        "refresh": "cluster_refresh",
        "write": "cluster_write",
        "invalidate": "cluster_invalidate",
        "ack": "cluster_ack",
        "pin": "cluster_pin",
        "busy": "busy",
        "list": "list",
        "lease": "lease",
        "lock": "lock",
    }
)

ClusterTarget = str | Sequence[str] | RedisCluster
"""A ``redis://``/``rediss://`` URL of any node, ``["host:port", ...]`` startup
nodes, or a ready ``RedisCluster`` client."""


class RedisClusterStore(HotTier):
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
        super().__init__(key_prefix=key_prefix, ttl=ttl, auth=auth)
        self._timeout = timeout.total_seconds()
        self._target = self._check_target(target)
        self._owns_client = not isinstance(target, RedisCluster)
        self._client: RedisCluster | None = target if isinstance(target, RedisCluster) else None
        self._client_lock = threading.Lock()

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
        """Raise ``TierUnavailableError`` unless every primary answers."""
        with self._guard("ping"):
            self.client.ping(target_nodes=RedisCluster.PRIMARIES)

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

    # -- script calls: one slot each -----------------------------------------------------------

    def _eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """One script in one slot; scripts are (re)loaded on all primaries when missing."""
        script = _SCRIPTS[name]
        with self._guard(name):
            client = self.client
            try:
                return client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:
                client.script_load(script.body)
                return client.evalsha(script.sha, len(keys), *keys, *args)

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
            return [self._eval(*calls[0])]
        with self._guard("pipeline"):
            return self._run_pipelined(calls, extra)

    def _run_pipelined(self, calls: Sequence[Call], extra: Sequence[Sequence[Any]]) -> list[Any]:
        client = self.client
        results: list[Any] = [None] * len(calls)
        todo = list(range(len(calls)))
        for attempt in (1, 2):
            pipe = client.pipeline()  # type: ignore[no-untyped-call]
            for i in todo:
                name, keys, args = calls[i]
                node = client.get_node_from_key(keys[0])  # type: ignore[no-untyped-call]
                pipe.execute_command(
                    "EVALSHA", _SCRIPTS[name].sha, len(keys), *keys, *args, target_nodes=node
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
                client.script_load(_SCRIPTS[name].body)
            todo = refused
        raise AssertionError("unreachable")

    def _pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        """Plain single-key commands, pipelined across nodes."""
        if not commands:
            return []
        with self._guard("pipeline"):
            pipe = self.client.pipeline()  # type: ignore[no-untyped-call]
            for command in commands:
                pipe.execute_command(*command)
            return list(pipe.execute())

    def _tag_call(self, name: str, tag: Tag, values: Sequence[str], args: list[Any]) -> Call:
        """A script call on one tag: its block (``tag_block()``), then value keys."""
        return name, [*self.keys.block(tag), *values], args

    # -- fenced primitives: one script per tag, one pipeline -----------------------------------

    def _read(
        self, keys: Sequence[Key], groups: dict[Tag, list[int]], *, refresh: bool, all_gens: bool
    ) -> tuple[str, dict[Tag, str], list[bytes | None], list[int]]:
        """Every tag's generation comes with its values (``all_gens`` or not)."""
        calls = [
            self._tag_call(
                "read",
                tag,
                [self.keys.value(keys[i]) for i in positions],
                [self._ttl_ms if refresh else 0],
            )
            for tag, positions in groups.items()
        ]
        replies = self._run(calls) if calls else []
        stored: list[bytes | None] = [None] * len(keys)
        gens: dict[Tag, str] = {}
        due: list[int] = []
        for (tag, positions), (gen, vals, tag_due) in zip(groups.items(), replies, strict=True):
            gens[tag] = text(gen)
            for pos, val in zip(positions, vals, strict=True):
                stored[pos] = val
            due += [positions[int(n) - 1] for n in tag_due]
        return "", gens, stored, due

    def _refresh(self, seen: Sequence[tuple[Key, str]]) -> None:
        calls = [
            self._tag_call(
                "refresh",
                tag,
                [self.keys.value(seen[i][0]) for i in positions],
                [self._ttl_ms, *(seen[i][1] for i in positions)],
            )
            for tag, positions in self.keys.group([k for k, _ in seen]).items()
        ]
        self._run(calls)

    def _write(self, put: Put) -> tuple[str, list[tuple[Any, Any]]]:
        """One script per tag. With ``pending``, the queue entry is pushed first (its
        own round trip) and the writer registered with the values: see the module
        docstring for why this order leaves nothing unflushable behind a writer
        that dies midway."""
        fence, pending = put.fence, put.pending
        calls: list[Call] = []
        for tag, positions in put.groups.items():
            args: list[Any] = [
                self._ttl_ms,
                int(fence is not None),
                fence.get(tag, "") if fence is not None else "",
                int(pending is not None),
            ]
            for i in positions:
                args += [put.olds[i], put.stored[i]]
            values = [self.keys.value(put.keys[i]) for i in positions]
            calls.append(self._tag_call("write", tag, values, args))
        extra: list[tuple[Any, ...]] = []
        if pending is not None:
            self._command("RPUSH", self.keys.queue(pending.writer), pending.entry)
            extra.append(("SADD", self.keys.writers(), pending.writer))
        replies = self._run(calls, extra=extra) if calls else []
        return "", [(gen, ok) for gen, ok in replies]

    def _invalidate(self, plan: Invalidation, keep_pending: bool) -> int:
        calls: list[Call] = []
        for tag in plan.tags:
            ranges = plan.ranges.get(tag, [])
            args: list[Any] = [
                self._gen_ttl_ms,
                int(keep_pending),
                new_token(),
                int(tag in plan.whole),
                len(ranges),
            ]
            for lo, hi in ranges:
                args += [lo, hi]
            exact = [self.keys.value(k) for k in plan.exact.get(tag, [])]
            calls.append(self._tag_call("invalidate", tag, exact, args))
        return sum(int(n) for chunk in chunks(calls, TAG_BATCH) for n in self._run(chunk))

    def _ack(self, ack: Ack) -> list[Any]:
        """Per tag, then the entry dropped from the queue.

        ``ack.epoch`` is unused (see the module docstring: generations tell a
        delete from lost data). Tags first, entry second: a crash in between
        leaves an entry whose flush is repeated, never pending values without one.
        """
        flushed = ack.flushed
        calls = [
            self._tag_call(
                "ack",
                tag,
                [self.keys.value(flushed[i][0]) for i in positions],
                [self._ttl_ms, ack.gens.get(tag, ""), *(flushed[i][1] for i in positions)],
            )
            for tag, positions in ack.groups.items()
        ]
        replies = self._run(calls) if calls else []
        if ack.entry:
            self._command("LREM", self.keys.queue(ack.writer), 1, ack.entry)
        return [k for reply in replies for k in reply]

    def pin(self, tag: Tag, pinned: bool) -> None:
        self._eval(*self._tag_call("pin", tag, [], [self._ttl_ms, int(pinned)]))

    def forget_writer(self, writer: str) -> bool:
        """Drop ``writer`` from the writer set if its queue is empty and unleased.

        The set and the queue live in different slots, so: remove first, then
        look; if the queue is busy, add it back. A writer that pushes meanwhile
        registers itself *after* its push (see ``_write``), so it is never left
        out with a non-empty queue.
        """
        self._command("SREM", self.keys.writers(), writer)
        busy = self._eval("busy", [self.keys.queue(writer), self.keys.lease(writer)], [])
        if int(busy):
            self._command("SADD", self.keys.writers(), writer)
            return False
        return True

    # -- above the tags: SCAN (admin paths) ----------------------------------------------------

    def _scan_tags(self, c0: str | None, kind: str) -> list[Tag]:
        """Tags with a ``kind`` key (``r`` registry, ``q`` pending), by SCAN on each primary.

        Admin paths only (every thread at once): per-thread paths never scan.
        """
        inner = f"{c0}/*" if c0 is not None else "*"
        pattern = f"{self.keys.prefix}{{{inner}}}:{kind}"
        found: set[Tag] = set()
        with self._guard("scan"):
            for name in self.client.scan_iter(match=pattern, count=_SCAN_COUNT):
                tag = self.keys.tag_of_name(name, kind)
                if tag is not None:
                    found.add(tag)
        return sorted(found)

    def all_tags(self, prefix: Key = ()) -> list[Tag]:
        """Every tag under ``prefix`` (length 0 or 1) holding values (SCAN)."""
        if prefix:
            self.keys.check(prefix)
        return self._scan_tags(prefix[0] if prefix else None, "r")

    def _above_tags(self, prefix: Key, pending_only: bool) -> Call | Names:
        tags = self._scan_tags(prefix[0] if prefix else None, "q" if pending_only else "r")
        names = {t.c1 for t in tags} if prefix else {t.c0 for t in tags}
        return sorted(n for n in names if n)

    def _pending_tags(self, prefixes: Sequence[Key]) -> list[list[Tag]]:
        out: list[list[Tag]] = []
        for prefix in prefixes:
            if prefix:
                self.keys.check(prefix)
            out.append(self._scan_tags(prefix[0] if prefix else None, "q"))
        return out


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
