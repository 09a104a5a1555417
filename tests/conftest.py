"""Shared fixtures: a private redis-server for the session, isolated per test.

``redis_server`` starts one server for the whole session (see
``tests/redis_server.py``); ``redis_url`` gives each test its own logical
database, flushed first, so tests never see each other's data. Fault tests
that kill Redis use ``private_redis`` (a server of their own) so the shared
one never goes down under another test.

Hypothesis: with ``CI`` set, the ``ci`` profile is loaded: derandomized (the
same examples on every run, so a red build reproduces on a laptop and never
flickers), no example database, no deadline (a shared runner's slow example
is not a bug). ``HYPOTHESIS_PROFILE=ci`` selects it anywhere. Tests keep
their own ``max_examples`` and ``deadline=None`` where they are slow.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from tests.redis_server import DATABASES, RedisServer

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
)

_dbs = itertools.count(1)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """A URL to a logical database no other test uses (flushed before the test)."""
    if not redis_server.running:  # a test killed the shared server: bring it back
        redis_server.start()
    db = next(_dbs) % DATABASES or 1
    client = redis_server.client(db)
    client.flushdb()  # our own server, our own database
    client.close()
    return redis_server.url_for(db)


@pytest.fixture
def redis_prefix() -> str:
    """A key prefix no other store in the test uses (several stores, one database)."""
    return f"t{uuid.uuid4().hex[:10]}:"


@pytest.fixture
def private_redis() -> Iterator[Callable[..., RedisServer]]:
    """Start servers only this test uses (to kill and restart them, or with TLS)."""
    servers: list[RedisServer] = []

    def make(*, port: int | None = None, tls: bool = False) -> RedisServer:
        server = RedisServer(port=port, tls=tls)
        server.start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()
