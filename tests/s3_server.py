"""A private S3-compatible server for tests: moto in server mode, over HTTP on loopback.

It runs as its own process (``python -m moto.server``), so requests cross a
real socket and a real HTTP stack, the server's CPU use does not share the
test process's GIL, and fault tests can SIGKILL it. No in-process mocking of
the client: the store under test is the same boto3 code that talks to AWS.

Ground rules as in ``tests/redis_server.py``: a reserved loopback port (moved
on a first start that loses it to another program), our own process only
(killed by its pid), state in memory (gone on kill).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3

from tests.redis_server import PORT_IN_USE, START_ATTEMPTS, free_port, release_port

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


class S3Unavailable(RuntimeError):
    """moto's server could not be started (the message says why)."""


class S3Server:
    """One moto server process (see module docstring)."""

    def __init__(self, port: int | None = None) -> None:
        self.pinned = port is not None
        self.port = port or free_port()
        self.started = False
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-s3-")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def client(self, **config: Any) -> Any:
        """A boto3 S3 client for this server (path-style addressing, test credentials)."""
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, **config),
            **CREDENTIALS,
        )

    def store_kwargs(self) -> dict[str, Any]:
        """What ``S3Store`` needs to build its own client for this server."""
        return {
            "endpoint_url": self.endpoint,
            "region": REGION,
            "access_key_id": CREDENTIALS["aws_access_key_id"],
            "secret_access_key": CREDENTIALS["aws_secret_access_key"],
        }

    def new_bucket(self) -> str:
        name = f"lgp-{uuid.uuid4().hex[:16]}"
        self.client().create_bucket(Bucket=name)
        return name

    def start(self, timeout: float = 30.0) -> None:
        """Start (or restart, on the same port) and wait until it answers HTTP.

        A first start on a port we chose moves to a fresh one if another program
        took it meanwhile (see ``tests/redis_server.py``).
        """
        for attempt in range(START_ATTEMPTS):
            try:
                self._start(timeout)
                self.started = True
                return
            except S3Unavailable as exc:
                movable = not self.pinned and not self.started
                if not movable or PORT_IN_USE not in str(exc) or attempt == START_ATTEMPTS - 1:
                    raise
                release_port(self.port)
                self.port = free_port()

    def _start(self, timeout: float) -> None:
        if self.running:
            return
        log = open(os.path.join(self.workdir, "server.log"), "ab")  # noqa: SIM115 - child owns it
        env = {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = Path(self.workdir, "server.log").read_text(errors="replace")[-500:]
                raise S3Unavailable(f"moto server exited at start: {tail.strip()}")
            with (
                contextlib.suppress(OSError, urllib.error.URLError),
                urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1),
            ):
                return
            time.sleep(0.05)
        self.kill()
        raise S3Unavailable(f"moto server did not answer within {timeout:.0f}s")

    def kill(self) -> None:
        """SIGKILL our server: every bucket and object is gone with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)
        release_port(self.port)


_shared: S3Server | None = None


def shared_server() -> S3Server:
    """One server per test process, shared by the test modules that need S3 (starting
    moto costs ~1.5 s); stopped when the process exits."""
    global _shared
    if _shared is None or not _shared.running:
        _shared = S3Server()
        _shared.start()
        atexit.register(_shared.stop)
    return _shared
