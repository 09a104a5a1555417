"""The test servers get ports that are reserved, not merely probed (tests/redis_server.py).

Two races are closed: two of our test processes handed the same free port
(the reservation lock), and a foreign program binding the port between our
probe and the server's bind (the server starts again on a fresh port). Both
are forced here, without timing: a port held by another process, a port
already bound when the server starts.
"""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import redis_server
from tests.redis_server import RedisServer, free_port, release_port, reserve_port

ROOT = Path(__file__).resolve().parent.parent

_HOLDER = """
import sys
from tests.redis_server import reserve_port
assert reserve_port(int(sys.argv[1]))
print("held", flush=True)
sys.stdin.readline()
"""


def test_a_port_reserved_by_another_process_is_not_handed_out(tmp_path: Path) -> None:
    port = free_port()
    release_port(port)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(port)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert not reserve_port(port)  # the other process holds it
    finally:
        holder.communicate("\n", timeout=30)
    assert reserve_port(port)  # released when its holder went away
    release_port(port)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port some other program is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        yield int(squatter.getsockname()[1])


def test_a_server_that_loses_its_port_starts_on_a_fresh_one(
    monkeypatch: pytest.MonkeyPatch, taken_port: int
) -> None:
    handed = iter([taken_port])
    real = redis_server.free_port
    monkeypatch.setattr(redis_server, "free_port", lambda: next(handed, None) or real())
    server = RedisServer()
    assert server.port == taken_port  # the race lost: someone bound it after our probe
    try:
        server.start()
        assert server.port != taken_port
        with server.client() as client:
            assert client.ping()
    finally:
        server.stop()


def test_a_pinned_port_is_never_moved(taken_port: int) -> None:
    server = RedisServer(port=taken_port)
    try:
        with pytest.raises(redis_server.RedisUnavailable, match="Address already in use"):
            server.start()
        assert server.port == taken_port
    finally:
        server.stop()
