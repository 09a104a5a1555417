"""``RedisStore``: the hot tier (and a complete, non-durable ``Store``) on one Redis >= 6.

The port, the key layout, the fenced primitives and their Lua live in
``store/hot/`` (``port.py`` is the place to start); this module is what is
particular to a standalone server:

* **One script per call.** A call spanning several tags (a checkpoint and the
  blob shards its values live in) is one ``EVALSHA``: atomic across tags, one
  round trip. The scripts also keep the global indexes (``top``, a level-1
  index per root, see ``hot/layout.py``) in step, so listing every thread and
  deleting the whole store never scan the keyspace (no ``SCAN``, no ``KEYS``).
* **Key names travel as msgpack.** Key names and arguments are sent as two
  msgpack arrays (far cheaper for redis-py than hundreds of ``KEYS``), so the
  scripts touch keys they do not declare: standalone Redis allows it, a
  cluster does not (``redis_cluster.py`` declares keys, one slot per script).
* **An epoch.** A random token created with the first write; a new one means
  Redis lost its data, so an ack does not mistake the missing values for a
  delete.

Authentication: given a ``HotAuth`` (``hot_auth.py``; ``TieredStore`` always
gives one), every value goes to Redis sealed under a MAC bound to its store
key, and ``fetch`` returns only values whose MAC verifies. A store without one
trusts Redis entirely (a standalone store in a Redis nobody else can reach).
Every Redis failure is raised as ``TierUnavailableError``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import msgpack
import redis
import redis.asyncio
from redis.backoff import NoBackoff
from redis.exceptions import NoScriptError
from redis.retry import Retry

from langgraph_persist.errors import ConfigurationError
from langgraph_persist.keys import Key
from langgraph_persist.store.base import Names
from langgraph_persist.store.hot import scripts
from langgraph_persist.store.hot.entries import decode_entry, encode_entry
from langgraph_persist.store.hot.layout import RedisKeys, Tag
from langgraph_persist.store.hot.port import Call, HotTier
from langgraph_persist.store.hot.primitives import (
    Ack,
    Invalidation,
    PendingEntry,
    Put,
    new_token,
    text,
    texts,
)
from langgraph_persist.store.hot_auth import HotAuth

__all__ = [
    "PendingEntry",
    "RedisKeys",
    "RedisStore",
    "Tag",
    "connect",
    "decode_entry",
    "describe_client",
    "encode_entry",
]
"""The standalone adapter, and the hot-tier names (``store/hot/``) tests import from here."""

_SCRIPTS = scripts.load(
    {
        "read": "standalone_read",
        "refresh": "standalone_refresh",
        "write": "standalone_write",
        "invalidate": "standalone_invalidate",
        "ack": "standalone_ack",
        "pin": "standalone_pin",
        "list": "list",
        "level1": "level1",
        "lease": "lease",
        "forget": "forget_writer",
        "lock": "lock",
    }
)


class _Packed:
    """Accumulates the key names and arguments of one script call, tag block by tag block.

    They travel as two msgpack arrays (raw strings: Redis's cmsgpack predates
    the bin type), unpacked by ``lua/io_packed.lua``. Names are still built only
    by ``RedisKeys``; the scripts never compose one.
    """

    def __init__(self, rk: RedisKeys, head_keys: Sequence[str], head_args: Sequence[Any]) -> None:
        self.rk = rk
        self.keys: list[str] = list(head_keys)
        self.args: list[Any] = list(head_args)

    def tag(self, tag: Tag) -> None:
        """The block ``tag_block()`` of ``lua/index_standalone.lua`` reads."""
        self.keys += self.rk.block(tag)
        self.keys.append(self.rk.level1(tag.c0))
        self.args += [tag.c0, tag.c1]

    def frames(self) -> list[bytes]:
        return [
            msgpack.packb(self.keys, use_bin_type=False),
            msgpack.packb(self.args, use_bin_type=False),
        ]


class RedisStore(HotTier):
    """A hot tier on one Redis server (see ``HotTier`` for how to use it alone).

    Args:
        redis_target: a ``redis://``/``rediss://``/``unix://`` URL, or a client
            (see ``connect``).
        key_prefix: prepended to every key (``[A-Za-z0-9_.:-]``, <= 64 chars).
        ttl: ``None`` for a complete store; a TTL makes it a cache.
        timeout: connect and socket timeout for URLs: how long an operation
            waits for an unresponsive Redis before the cold tier takes over.
        auth: seals and verifies every value (``hot_auth.py``).
    """

    def __init__(
        self,
        redis_target: str | redis.Redis | redis.asyncio.Redis,
        *,
        key_prefix: str = "lgp:",
        ttl: timedelta | None = None,
        timeout: timedelta = timedelta(seconds=2),
        auth: HotAuth | None = None,
    ) -> None:
        super().__init__(key_prefix=key_prefix, ttl=ttl, auth=auth)
        self._owns_client = not isinstance(redis_target, redis.Redis)
        self.client = connect(redis_target, timeout=timeout)

    def describe(self) -> str:
        return f"{describe_client(self.client)} prefix={self.keys.prefix!r}"

    def ping(self) -> None:
        with self._guard("ping"):
            self.client.ping()

    def close(self) -> None:
        """Close the connection pool, if this store created it."""
        if self._owns_client:
            self.client.close()

    # -- script calls --------------------------------------------------------------------------

    def _eval(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        script = _SCRIPTS[name]
        with self._guard(name):
            try:
                return self.client.evalsha(script.sha, len(keys), *keys, *args)
            except NoScriptError:  # a restarted server lost its scripts
                self.client.script_load(script.body)
                return self.client.evalsha(script.sha, len(keys), *keys, *args)

    def _run(self, calls: Sequence[Call]) -> list[Any]:
        """Several script calls in one pipeline (one round trip).

        Plain ``EVALSHA`` in a pipeline: redis-py's pipeline scripts would first
        ask ``SCRIPT EXISTS`` (a second round trip). After a server restart the
        scripts are gone, so on ``NOSCRIPT`` they are loaded and the batch re-run.
        """
        if len(calls) == 1:
            return [self._eval(*calls[0])]
        if not calls:
            return []
        with self._guard("pipeline"):
            for attempt in (1, 2):
                pipe = self.client.pipeline(transaction=False)
                for name, keys, args in calls:
                    pipe.evalsha(_SCRIPTS[name].sha, len(keys), *keys, *args)
                results = pipe.execute(raise_on_error=False)
                if attempt == 1 and any(isinstance(r, NoScriptError) for r in results):
                    for name in {name for name, _, _ in calls}:
                        self.client.script_load(_SCRIPTS[name].body)
                    continue
                for result in results:
                    if isinstance(result, Exception):
                        raise result
                return list(results)
        raise AssertionError("unreachable")

    def _pipeline(self, commands: Sequence[Sequence[Any]]) -> list[Any]:
        if not commands:
            return []
        with self._guard("pipeline"):
            pipe = self.client.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)  # type: ignore[no-untyped-call]
            return list(pipe.execute())

    # -- fenced primitives: one script across every tag of a call ----------------------------

    def _read(
        self, keys: Sequence[Key], groups: dict[Tag, list[int]], *, refresh: bool, all_gens: bool
    ) -> tuple[str, dict[Tag, str], list[bytes | None], list[int]]:
        call = _Packed(
            self.keys,
            [self.keys.epoch()],
            [self._ttl_ms if refresh else 0, int(all_gens), len(groups)],
        )
        order: list[int] = []
        for tag, positions in groups.items():
            call.keys.append(self.keys.gen(tag))
            call.args.append(len(positions))
            call.keys += [self.keys.value(keys[i]) for i in positions]
            order += positions
        epoch, gens, vals, due = self._eval("read", [], call.frames())
        stored: list[bytes | None] = [None] * len(keys)
        for pos, val in zip(order, vals, strict=True):
            stored[pos] = val
        return (
            text(epoch),
            {t: text(g) for t, g in zip(groups, gens, strict=True) if g is not None},
            stored,
            [order[int(n) - 1] for n in due],
        )

    def _refresh(self, seen: Sequence[tuple[Key, str]]) -> None:
        groups = self.keys.group([k for k, _ in seen])
        call = _Packed(self.keys, [self.keys.top()], [self._ttl_ms, len(groups)])
        for tag, positions in groups.items():
            call.tag(tag)
            call.args.append(len(positions))
            for i in positions:
                call.keys.append(self.keys.value(seen[i][0]))
                call.args.append(seen[i][1])
        self._eval("refresh", [], call.frames())

    def _write(self, put: Put) -> tuple[str, list[tuple[Any, Any]]]:
        """One script: every tag, and the queue entry, atomically."""
        fence, pending, groups = put.fence, put.pending, put.groups
        writer = pending.writer if pending else "-"
        call = _Packed(
            self.keys,
            [self.keys.top(), self.keys.epoch(), self.keys.queue(writer), self.keys.writers()],
            [
                self._ttl_ms,
                int(fence is not None),
                int(pending is not None),
                pending.entry if pending else b"",
                writer,
                new_token(),
                len(groups),
            ],
        )
        for tag, positions in groups.items():
            call.tag(tag)
            call.args += [fence.get(tag, "") if fence is not None else "", len(positions)]
            for i in positions:
                call.keys.append(self.keys.value(put.keys[i]))
                call.args += [put.olds[i], put.stored[i]]
        epoch, out = self._eval("write", [], call.frames())
        return text(epoch), [(out[2 * n], out[2 * n + 1]) for n in range(len(groups))]

    def _invalidate(self, plan: Invalidation, keep_pending: bool) -> int:
        call = _Packed(
            self.keys, [self.keys.top()], [self._gen_ttl_ms, int(keep_pending), len(plan.tags)]
        )
        for tag in plan.tags:
            call.tag(tag)
            exact = plan.exact.get(tag, [])
            ranges = plan.ranges.get(tag, [])
            call.args += [new_token(), int(tag in plan.whole), len(exact), len(ranges)]
            call.keys += [self.keys.value(k) for k in exact]
            for lo, hi in ranges:
                call.args += [lo, hi]
        return int(self._eval("invalidate", [], call.frames()))

    def _ack(self, ack: Ack) -> list[Any]:
        """One script; a value gone counts as deleted only if the epoch is still
        ``ack.epoch`` (else Redis lost its data: nothing was deleted)."""
        groups = ack.groups
        call = _Packed(
            self.keys,
            [self.keys.top(), self.keys.epoch(), self.keys.queue(ack.writer)],
            [self._ttl_ms, ack.entry, ack.epoch, len(groups)],
        )
        for tag, positions in groups.items():
            call.tag(tag)
            call.args += [ack.gens.get(tag, ""), len(positions)]
            for i in positions:
                key, sha = ack.flushed[i]
                call.keys.append(self.keys.value(key))
                call.args.append(sha)
        return list(self._eval("ack", [], call.frames()))

    def pin(self, tag: Tag, pinned: bool) -> None:
        call = _Packed(self.keys, [self.keys.top()], [])
        call.tag(tag)
        call.args += [self._ttl_ms, int(pinned)]
        self._eval("pin", [], call.frames())

    def forget_writer(self, writer: str) -> bool:
        keys = [self.keys.writers(), self.keys.queue(writer), self.keys.lease(writer)]
        return bool(self._eval("forget", keys, [writer]))

    # -- above the tags: the global indexes ----------------------------------------------------

    def all_tags(self, prefix: Key = ()) -> list[Tag]:
        """Every tag under ``prefix`` (length 0 or 1), from the indexes."""
        if prefix:
            self.keys.check(prefix)
        firsts = [prefix[0]] if prefix else texts(self._command("ZRANGE", self.keys.top(), 0, -1))
        levels = self._pipeline([("ZRANGE", self.keys.level1(c0), 0, -1) for c0 in firsts])
        tags: list[Tag] = []
        for c0, names in zip(firsts, levels, strict=True):
            tags.append(Tag(c0))
            tags += [Tag(c0, c1) for c1 in texts(names)]
        return tags

    def _above_tags(self, prefix: Key, pending_only: bool) -> Call | Names:
        index = self.keys.level1(prefix[0]) if prefix else self.keys.top()
        # +inf means pinned or pending (or no TTL at all): exactly what a
        # write-behind listing must add to the cold tier's names
        since = "+inf" if pending_only and prefix else ("now" if self._ttl_ms else "-inf")
        return "level1", [index], [since if prefix else "-inf"]

    def _pending_tags(self, prefixes: Sequence[Key]) -> list[list[Tag]]:
        firsts: list[tuple[int, str]] = []
        for i, prefix in enumerate(prefixes):
            if prefix:
                firsts.append((i, self.keys.check(prefix)[0]))
            else:
                top = texts(self._command("ZRANGE", self.keys.top(), 0, -1))
                firsts += [(i, c0) for c0 in top]
        out: list[list[Tag]] = [[] for _ in prefixes]
        replies = self._pipeline(
            [("ZRANGEBYSCORE", self.keys.level1(c0), "+inf", "+inf") for _, c0 in firsts]
        )
        for (i, c0), names in zip(firsts, replies, strict=True):
            out[i] += [Tag(c0, c1) for c1 in texts(names)]
        return out

    def _drop_index(self, prefix: Key) -> None:
        if prefix:
            self._pipeline(
                [("DEL", self.keys.level1(prefix[0])), ("ZREM", self.keys.top(), prefix[0])]
            )
        else:
            self._command("DEL", self.keys.top())


def connect(target: str | redis.Redis | redis.asyncio.Redis, *, timeout: timedelta) -> redis.Redis:
    """A synchronous client for a URL (``redis://``, ``rediss://``, ``unix://``) or a client.

    URLs get short timeouts and a single retry: a hot tier must fail fast and
    fall back to the cold tier, not retry for seconds (redis-py's default
    retries ten times). A ready sync client is used as given. An asyncio
    client is mirrored by a sync client with the same connection settings,
    because the engine is synchronous (it runs in worker threads).
    """
    seconds = timeout.total_seconds()
    if isinstance(target, redis.Redis):
        return target
    if isinstance(target, redis.asyncio.Redis):
        pool = target.connection_pool
        wanted = ("host", "port", "db", "username", "password", "path", "client_name")
        kwargs = {k: v for k, v in pool.connection_kwargs.items() if k in wanted}
        ssl_kwargs = {
            k: v
            for k, v in pool.connection_kwargs.items()
            if k.startswith("ssl_") and v is not None
        }
        tls = issubclass(pool.connection_class, redis.asyncio.connection.SSLConnection)
        if "path" in kwargs:
            return redis.Redis(unix_socket_path=kwargs.pop("path"), **kwargs)
        return redis.Redis(
            **kwargs,
            ssl=tls,
            **(ssl_kwargs if tls else {}),
            socket_timeout=seconds,
            socket_connect_timeout=seconds,
            retry=Retry(NoBackoff(), 1),
        )
    if isinstance(target, str):
        try:
            return redis.Redis.from_url(
                target,
                socket_timeout=seconds,
                socket_connect_timeout=seconds,
                retry=Retry(NoBackoff(), 1),
            )
        except ValueError as exc:
            raise ConfigurationError(f"invalid Redis URL: {exc}") from exc
    raise ConfigurationError(
        f"redis must be a URL or a redis.Redis client, not {type(target).__name__}"
    )


def describe_client(client: redis.Redis) -> str:
    """``redis://host:port/db`` (or ``rediss://``), never the password."""
    kwargs = client.connection_pool.connection_kwargs
    if "path" in kwargs:
        return f"unix://{kwargs['path']}?db={kwargs.get('db', 0)}"
    scheme = (
        "rediss"
        if issubclass(client.connection_pool.connection_class, redis.SSLConnection)
        else "redis"
    )
    user = f"{kwargs['username']}@" if kwargs.get("username") else ""
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', 6379)}/{kwargs.get('db', 0)}"
    return f"{scheme}://{user}{where}"
