"""The one base of the test servers (tests/managed_process.py), on a tiny server of our own.

Each guarantee the harnesses rely on, with a process whose behaviour the test
chooses: a start failure names the server and carries its log; a restart after
a kill keeps the port; stop gives the port back and removes the directory.
(Port races and pinned ports are in ``test_harness_ports.py``.)
"""

from __future__ import annotations

import os
import socket
import sys

import pytest

from tests.managed_process import ManagedProcess, ServerUnavailable, reserve_port

ECHO_SERVER = """
import socket, sys
s = socket.create_server(("127.0.0.1", int(sys.argv[1])))
print("listening", flush=True)
while True:
    conn, _ = s.accept()
    conn.sendall(b"hello")
    conn.close()
"""


class EchoUnavailable(ServerUnavailable):
    pass


class EchoServer(ManagedProcess):
    """Says ``hello`` to every connection: ready once it does."""

    name = "echo server"
    unavailable = EchoUnavailable

    def command(self) -> list[str]:
        return [sys.executable, "-c", ECHO_SERVER, str(self.port)]

    def ready(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                return conn.recv(5) == b"hello"
        except OSError:
            return False


class CrashingServer(EchoServer):
    def command(self) -> list[str]:
        return [sys.executable, "-c", "import sys; print('bad config line 3'); sys.exit(3)"]


class SilentServer(EchoServer):
    def command(self) -> list[str]:
        return [sys.executable, "-c", "import time; print('still booting'); time.sleep(3600)"]


def test_start_kill_restart_on_the_same_port_then_stop() -> None:
    server = EchoServer()
    try:
        server.start()
        port, first = server.port, server.proc
        assert server.running and server.ready()
        server.kill()
        assert not server.running and not server.ready()
        server.start()  # a restart keeps the port its clients know
        assert server.port == port and server.proc is not first and server.ready()
    finally:
        server.stop()
    assert not server.running and not os.path.exists(server.workdir)
    assert reserve_port(port)  # given back


def test_a_server_that_exits_at_start_raises_its_error_with_its_log() -> None:
    server = CrashingServer()
    try:
        with pytest.raises(EchoUnavailable, match=r"echo server exited at start \(status 3\)"):
            server.start()
        with pytest.raises(EchoUnavailable, match="bad config line 3"):
            server.start()
    finally:
        server.stop()


def test_a_server_that_never_answers_is_killed_and_reported() -> None:
    server = SilentServer()
    try:
        with pytest.raises(EchoUnavailable, match=r"did not answer within 1s.*still booting"):
            server.start(timeout=1)
        assert not server.running  # killed, not left behind
    finally:
        server.stop()
