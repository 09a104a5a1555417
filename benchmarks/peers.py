"""The savers compared, each opened fresh and isolated, with how to count the bytes it stores.

A ``Peer`` is one row of the results. ``open(tag)`` returns an ``Instance``:
its primary face (sync, or async for the ``Async*`` classes), the face W6
drives concurrently (``None`` when the class has no async API), a spec from
which a fresh process can reopen the same data (W7), and ``footprint()`` for
W5. Every open gets its own directory, file, database or Redis server, so
one saver's bytes never count against another's.

A peer that cannot run here (package missing, server will not start) is not
dropped: ``open`` raises ``Unavailable`` and the report prints the reason.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from langgraph.checkpoint.memory import InMemorySaver

from benchmarks.servers import (
    PostgresScratch,
    RedisProcess,
    Unavailable,
    plain_binary,
    stack_binary,
    start_redis,
)
from langgraph_persist.store.local import Layout
from langgraph_persist.store.sqlite import Durability

DEFAULT = "PersistSaver fsync"
"""Our default configuration (SQLite store, ``durability=\"fsync\"``): what the targets judge."""


@dataclass
class Footprint:
    """W5's measure: ``bytes`` is the headline figure; ``detail`` says what was counted."""

    bytes: int
    detail: str = ""
    parts: dict[str, int] = field(default_factory=dict)
    """Per tier, when there are several (files, Redis): each is held to the bound separately."""


@dataclass
class Instance:
    """An open saver (see module docstring)."""

    saver: Any
    is_async: bool
    async_saver: Any | None
    footprint: Callable[[], Awaitable[Footprint]]
    close: Callable[[], Awaitable[None]]
    spec: dict[str, Any] | None = None
    """How a fresh process reopens this data (``cold.reopen``); ``None``: not persistent."""


@dataclass
class Env:
    """What peers share in one run: a scratch directory, Postgres, the servers to stop."""

    scratch: str
    postgres_url: str
    _pg: PostgresScratch | Unavailable | None = None
    servers: list[RedisProcess] = field(default_factory=list)

    def postgres(self) -> PostgresScratch:
        if self._pg is None:
            try:
                self._pg = PostgresScratch(self.postgres_url)
            except Unavailable as exc:
                self._pg = exc
        if isinstance(self._pg, Unavailable):
            raise self._pg
        return self._pg

    def postgres_if_used(self) -> PostgresScratch | None:
        """The Postgres server, if a peer connected to it (the report prints its settings)."""
        return self._pg if isinstance(self._pg, PostgresScratch) else None

    def redis(self, stack: bool) -> RedisProcess:
        server = start_redis(stack_binary() if stack else plain_binary())
        self.servers.append(server)
        return server

    def path(self, name: str) -> str:
        return os.path.join(self.scratch, name)

    def shutdown(self) -> None:
        for server in self.servers:
            server.stop()
        self.servers.clear()
        if isinstance(self._pg, PostgresScratch):
            self._pg.drop_all()


Opener = Callable[[Env, str], Awaitable[Instance]]


@dataclass(frozen=True)
class Peer:
    """One row: ``kind`` is ``reference`` (InMemorySaver), ``peer`` or ``ours``."""

    name: str
    kind: str
    durability: str
    opener: Opener
    quick: bool = False
    """Part of ``--quick`` (no servers needed)."""
    durable: bool = False
    """An acknowledged write survives a power cut (what the issue's W1 target compares)."""

    async def open(self, env: Env, tag: str) -> Instance:
        return await self.opener(env, tag)


async def _noop() -> None:
    return None


# -- footprints ------------------------------------------------------------------------------


def payload_bytes(obj: Any) -> int:
    """Sum of the ``bytes`` payloads inside nested containers (InMemorySaver's storage)."""
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return len(obj)
    if isinstance(obj, dict):
        return sum(payload_bytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(payload_bytes(v) for v in obj)
    return 0


def dir_bytes(path: str) -> tuple[int, int, int]:
    """(apparent bytes, allocated bytes, files) under ``path``, like ``du -b`` and ``du``."""
    apparent = allocated = files = 0
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            apparent += st.st_size
            allocated += st.st_blocks * 512
            files += 1
    return apparent, allocated, files


def file_blocks(*paths: str) -> int:
    """Bytes allocated on disk by these files (missing ones count 0)."""
    total = 0
    for p in paths:
        try:
            total += os.lstat(p).st_blocks * 512
        except FileNotFoundError:
            continue
    return total


def _redis_footprint(server: RedisProcess) -> Callable[[], Awaitable[Footprint]]:
    """``used_memory`` growth since the saver was set up (indexes included in the baseline)."""
    base = server.used_memory()

    async def footprint() -> Footprint:
        return Footprint(server.used_memory() - base, "INFO memory used_memory delta")

    return footprint


# -- InMemorySaver ---------------------------------------------------------------------------


async def open_memory(env: Env, tag: str) -> Instance:
    saver = InMemorySaver()

    async def footprint() -> Footprint:
        stores = (saver.storage, saver.writes, saver.blobs)
        return Footprint(sum(payload_bytes(s) for s in stores), "bytes in storage/writes/blobs")

    return Instance(saver, False, saver, footprint, _noop)


# -- SQLite ----------------------------------------------------------------------------------


async def open_sqlite(env: Env, tag: str) -> Instance:
    import aiosqlite
    from langgraph.checkpoint.sqlite import SqliteSaver
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = env.path(f"sqlite-{tag}.db")
    conn = sqlite3.connect(path, check_same_thread=False)
    saver = SqliteSaver(conn)
    saver.setup()
    aconn = await aiosqlite.connect(path)
    asaver = AsyncSqliteSaver(aconn)
    await asaver.setup()

    async def footprint() -> Footprint:
        with saver.lock:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return Footprint(
            file_blocks(path, path + "-wal", path + "-shm"),
            "allocated (database, -wal, -shm) after wal_checkpoint(TRUNCATE)",
        )

    async def close() -> None:
        await aconn.close()
        conn.close()

    return Instance(saver, False, asaver, footprint, close, {"peer": "sqlite", "path": path})


# -- Postgres --------------------------------------------------------------------------------

_PG_TABLES = ("checkpoints", "checkpoint_blobs", "checkpoint_writes", "checkpoint_migrations")
_PG_SIZE_SQL = "SELECT " + " + ".join(f"pg_total_relation_size('{t}')" for t in _PG_TABLES)
_PG_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0}


def _pg_footprint(url: str) -> Callable[[], Awaitable[Footprint]]:
    import psycopg

    async def footprint() -> Footprint:
        with psycopg.connect(url) as conn:
            row = conn.execute(_PG_SIZE_SQL).fetchone()
        return Footprint(int(row[0]) if row else 0, "pg_total_relation_size of its tables")

    return footprint


async def open_postgres(env: Env, tag: str) -> Instance:
    import psycopg
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row

    url = env.postgres().create(f"sync_{tag}")
    conn = psycopg.connect(url, row_factory=dict_row, **_PG_KWARGS)
    saver = PostgresSaver(conn)
    saver.setup()

    async def close() -> None:
        conn.close()

    return Instance(saver, False, None, _pg_footprint(url), close, {"peer": "postgres", "url": url})


async def open_async_postgres(env: Env, tag: str) -> Instance:
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import AsyncConnectionPool

    url = env.postgres().create(f"async_{tag}")
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        url, min_size=1, max_size=4, open=False, kwargs={**_PG_KWARGS, "row_factory": dict_row}
    )
    await pool.open()
    saver = AsyncPostgresSaver(pool)
    await saver.setup()
    return Instance(
        saver, True, saver, _pg_footprint(url), pool.close, {"peer": "async-postgres", "url": url}
    )


# -- langgraph-checkpoint-redis (Redis Stack) --------------------------------------------------


async def open_redis(env: Env, tag: str) -> Instance:
    from langgraph.checkpoint.redis import RedisSaver

    server = env.redis(stack=True)
    saver = RedisSaver(redis_url=server.url)
    saver.setup()
    return Instance(
        saver, False, None, _redis_footprint(server), _noop, {"peer": "redis", "url": server.url}
    )


async def open_async_redis(env: Env, tag: str) -> Instance:
    from langgraph.checkpoint.redis.aio import AsyncRedisSaver

    server = env.redis(stack=True)
    saver = AsyncRedisSaver(redis_url=server.url)
    await saver.asetup()

    async def close() -> None:
        await saver.__aexit__(None, None, None)

    return Instance(
        saver,
        True,
        saver,
        _redis_footprint(server),
        close,
        {"peer": "async-redis", "url": server.url},
    )


# -- langgraph-checkpoint-plainredis ---------------------------------------------------------


async def open_plainredis(env: Env, tag: str) -> Instance:
    try:
        from langgraph_checkpoint_plainredis import AsyncRedisSaver, RedisSaver
    except ImportError as exc:
        raise Unavailable(f"langgraph-checkpoint-plainredis is not installed ({exc})") from exc
    server = env.redis(stack=False)
    saver = RedisSaver(url=server.url)
    asaver = AsyncRedisSaver(url=server.url)

    async def close() -> None:
        await asaver.aclose()
        saver.close()

    return Instance(
        saver,
        False,
        asaver,
        _redis_footprint(server),
        close,
        {"peer": "plainredis", "url": server.url},
    )


# -- ours ------------------------------------------------------------------------------------


def _persist_instance(
    path: str, make: Callable[[], Any], spec: dict[str, Any], server: RedisProcess | None = None
) -> Instance:
    """An instance of ours; its footprint is the bytes *allocated* by the store at rest.

    W5's footprint closes the saver first: that flushes a write-behind tier, and
    closing SQLite's last connection checkpoints the write-ahead log into the
    database and removes ``store.db-wal`` and ``store.db-shm``. Every file left
    in the directory (database, marker, lock files, a WAL that could not be
    removed) is counted in allocated blocks, as ``du`` does. The saver is then
    reopened on the same directory (``make``), so the workload continues where
    it was. A hot tier's Redis memory is counted beside, as its own part: each
    tier is held to the bound separately.
    """
    base = server.used_memory() if server else 0

    async def footprint() -> Footprint:
        inst.saver.close()
        apparent, allocated, files = dir_bytes(path)
        wal = os.path.join(path, "store.db-wal")
        left = f", a {os.path.getsize(wal):,}-byte WAL left" if os.path.exists(wal) else ""
        inst.saver = inst.async_saver = make()
        detail = (
            f"allocated after close (WAL checkpointed): {files} files, "
            f"{apparent:,} bytes of contents{left}"
        )
        if server is None:
            return Footprint(allocated, detail)
        hot = server.used_memory() - base
        detail += f"; plus Redis used_memory delta {hot:,}"
        return Footprint(allocated + hot, detail, {"disk": allocated, "Redis": hot})

    async def close() -> None:
        inst.saver.close()

    saver = make()
    inst = Instance(saver, False, saver, footprint, close, spec)
    return inst


def _opener_persist(durability: Durability, layout: Layout | None = None) -> Opener:
    async def open_persist(env: Env, tag: str) -> Instance:
        from langgraph_persist import PersistSaver

        path = env.path(f"persist-{layout or 'default'}-{durability}-{tag}")
        spec = {"peer": "persist", "path": path, "durability": durability, "layout": layout}
        return _persist_instance(
            path, lambda: PersistSaver(path, durability=durability, layout=layout), spec
        )

    return open_persist


TierMode = Literal["write-through", "write-behind"]


def tiered_saver(path: str, url: str, mode: TierMode, durability: Durability = "fsync") -> Any:
    """``PersistSaver`` over Redis + an ``SqliteStore`` cold tier (``Unavailable`` if absent)."""
    try:
        from langgraph_persist.store.tiered import HotTierOptions, build_tiered
    except ImportError as exc:
        raise Unavailable(f"not available in this build ({exc})") from exc
    from langgraph_persist import PersistSaver
    from langgraph_persist.store.sqlite import SqliteStore

    try:
        cold = SqliteStore(path, durability=durability)
        store = build_tiered(cold, url, HotTierOptions(mode=mode))
    except Exception as exc:
        raise Unavailable(f"build_tiered(HotTierOptions(mode={mode!r})) failed: {exc}") from exc
    return PersistSaver(store=store)


def _opener_tiered(mode: TierMode) -> Opener:
    async def open_tiered(env: Env, tag: str) -> Instance:
        try:
            import langgraph_persist.store.tiered  # noqa: F401
        except ImportError as exc:
            raise Unavailable(f"not available in this build ({exc})") from exc
        server = env.redis(stack=False)
        path = env.path(f"tiered-{mode}-{tag}")
        spec = {"peer": "tiered", "path": path, "url": server.url, "mode": mode}
        return _persist_instance(path, lambda: tiered_saver(path, server.url, mode), spec, server)

    return open_tiered


PEERS: tuple[Peer, ...] = (
    Peer("InMemorySaver", "reference", "none (process memory)", open_memory, quick=True),
    Peer(
        "SqliteSaver",
        "peer",
        "fsync per commit (WAL, synchronous=FULL)",
        open_sqlite,
        quick=True,
        durable=True,
    ),
    Peer(
        "PostgresSaver",
        "peer",
        "fsync per commit (server default)",
        open_postgres,
        durable=True,
    ),
    Peer(
        "AsyncPostgresSaver",
        "peer",
        "fsync per commit (server default)",
        open_async_postgres,
        durable=True,
    ),
    Peer("RedisSaver (langgraph-checkpoint-redis)", "peer", "none (no AOF/RDB here)", open_redis),
    Peer(
        "AsyncRedisSaver (langgraph-checkpoint-redis)",
        "peer",
        "none (no AOF/RDB here)",
        open_async_redis,
    ),
    Peer(
        "RedisSaver (langgraph-checkpoint-plainredis)",
        "peer",
        "none (no AOF/RDB here)",
        open_plainredis,
    ),
    Peer(
        DEFAULT,
        "ours",
        "fsync per commit (SQLite WAL, synchronous=FULL; the default)",
        _opener_persist("fsync"),
        quick=True,
        durable=True,
    ),
    Peer(
        "PersistSaver none",
        "ours",
        "no fsync per commit (SQLite WAL, synchronous=NORMAL; opt-out)",
        _opener_persist("none"),
        quick=True,
    ),
    Peer(
        "PersistSaver files (fsync)",
        "ours",
        'fsync per file (layout="files", the 0.1 file-per-record store)',
        _opener_persist("fsync", "files"),
        quick=True,
        durable=True,
    ),
    Peer(
        "PersistSaver tiered write-through",
        "ours",
        "fsync per commit (SQLite) + Redis",
        _opener_tiered("write-through"),
        durable=True,
    ),
    Peer(
        "PersistSaver tiered write-behind",
        "ours",
        "Redis first, SQLite later",
        _opener_tiered("write-behind"),
    ),
)
