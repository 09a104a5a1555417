"""W7, the child side: reopen a saver's data in a fresh process and time the first ``get_tuple``.

Run by ``workloads.w7_cold`` as ``python -m benchmarks.cold SPEC_JSON``; prints
one JSON line. Module imports happen before the clock starts (they are the
same for every run of a program and say nothing about the saver); what is
timed is opening the saver (connect, read its store's marker...) and the
first read of the thread, with nothing cached in the process. The OS page
cache is warm: dropping it would disturb the other users of a shared machine.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langgraph_persist.store.sqlite import Durability

_MODULES = {
    "sqlite": ["langgraph.checkpoint.sqlite"],
    "postgres": ["langgraph.checkpoint.postgres", "psycopg"],
    "async-postgres": ["langgraph.checkpoint.postgres.aio", "psycopg", "psycopg_pool"],
    "redis": ["langgraph.checkpoint.redis"],
    "async-redis": ["langgraph.checkpoint.redis.aio"],
    "plainredis": ["langgraph_checkpoint_plainredis"],
    "persist": ["langgraph_persist"],
    "tiered": ["langgraph_persist", "langgraph_persist.store.tiered"],
}

Close = Callable[[], Awaitable[None]]


async def _done() -> None:
    return None


async def reopen(spec: dict[str, Any], *, relaxed: bool = False) -> tuple[Any, bool, Close]:
    """(saver, is_async, close) over the data ``spec`` names (see ``peers.Instance.spec``).

    ``relaxed``: a writer that skips fsync (SQLite ``synchronous=OFF``, Postgres
    ``synchronous_commit=off``, our ``durability="none"``), used only to write
    the long W3 thread quickly; what is then measured are reads, which
    durability does not change.
    """
    peer = spec["peer"]
    if peer == "sqlite":
        return _reopen_sqlite(spec["path"], relaxed)
    if peer in ("postgres", "async-postgres"):
        return await _reopen_postgres(spec, relaxed)
    if peer == "redis":
        from langgraph.checkpoint.redis import RedisSaver

        saver = RedisSaver(redis_url=spec["url"])
        saver.setup()
        return saver, False, _done
    if peer == "async-redis":
        from langgraph.checkpoint.redis.aio import AsyncRedisSaver

        asaver = AsyncRedisSaver(redis_url=spec["url"])
        await asaver.asetup()
        return asaver, True, _done
    if peer == "plainredis":
        from langgraph_checkpoint_plainredis import RedisSaver as PlainRedisSaver

        return PlainRedisSaver(url=spec["url"]), False, _done
    if peer in ("persist", "tiered"):
        return _reopen_persist(spec, relaxed)
    raise ValueError(f"unknown peer {peer!r}")


def _reopen_sqlite(path: str, relaxed: bool) -> tuple[Any, bool, Close]:
    import sqlite3

    from langgraph.checkpoint.sqlite import SqliteSaver

    conn = sqlite3.connect(path, check_same_thread=False)
    if relaxed:
        conn.execute("PRAGMA synchronous=OFF")

    async def close() -> None:
        conn.close()

    return SqliteSaver(conn), False, close


def _reopen_persist(spec: dict[str, Any], relaxed: bool) -> tuple[Any, bool, Close]:
    durability: Durability = "none" if relaxed else spec.get("durability", "fsync")
    if spec["peer"] == "tiered":
        from benchmarks.peers import tiered_saver

        saver = tiered_saver(spec["path"], spec["url"], spec["mode"], durability)
    else:
        from langgraph_persist import PersistSaver

        saver = PersistSaver(spec["path"], durability=durability, layout=spec.get("layout"))

    async def close() -> None:
        saver.close()

    return saver, False, close


async def _reopen_postgres(spec: dict[str, Any], relaxed: bool) -> tuple[Any, bool, Close]:
    import psycopg
    from psycopg.rows import dict_row

    kwargs: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}
    relax = "SET synchronous_commit TO off"  # a session setting: the URL's options stay intact
    if spec["peer"] == "postgres":
        from langgraph.checkpoint.postgres import PostgresSaver

        conn = psycopg.connect(spec["url"], **kwargs)
        if relaxed:
            conn.execute(relax)

        async def close_sync() -> None:
            conn.close()

        return PostgresSaver(conn), False, close_sync
    from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver

    aconn = await psycopg.AsyncConnection.connect(spec["url"], **kwargs)
    if relaxed:
        await aconn.execute(relax)
    return AsyncPostgresSaver(aconn), True, aconn.close


async def measure(spec: dict[str, Any]) -> dict[str, Any]:
    for name in _MODULES[spec["peer"]]:
        importlib.import_module(name)
    config = {"configurable": {"thread_id": spec["thread_id"], "checkpoint_ns": ""}}
    t0 = time.perf_counter()
    saver, is_async, close = await reopen(spec)
    t1 = time.perf_counter()
    found = await saver.aget_tuple(config) if is_async else saver.get_tuple(config)
    t2 = time.perf_counter()
    await close()
    messages = len(found.checkpoint["channel_values"].get("messages", [])) if found else -1
    return {"open_ms": (t1 - t0) * 1e3, "first_get_ms": (t2 - t1) * 1e3, "messages": messages}


def main() -> None:
    spec = json.loads(sys.argv[1])
    print(json.dumps(asyncio.run(measure(spec))))


if __name__ == "__main__":
    main()
