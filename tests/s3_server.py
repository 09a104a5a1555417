"""A private S3-compatible server for tests: moto in server mode, over HTTP on loopback.

It runs as its own process (``python -m moto.server``), so requests cross a
real socket and a real HTTP stack, the server's CPU use does not share the
test process's GIL, and fault tests can SIGKILL it. No in-process mocking of
the client: the store under test is the same boto3 code that talks to AWS.

A ``ManagedProcess`` (``tests/managed_process.py``): a reserved loopback port
(moved on a first start that loses it to another program), our own process
only (killed by its pid), the log's tail in a start failure. State is in
memory (gone on kill).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import urllib.error
import urllib.request
import uuid
from typing import Any

import boto3

from tests.managed_process import ManagedProcess, ServerUnavailable

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REGION = "us-east-1"


class S3Unavailable(ServerUnavailable):
    """moto's server could not be started (the message says why)."""


class S3Server(ManagedProcess):
    """One moto server process (see module docstring)."""

    name = "moto server"
    unavailable = S3Unavailable
    start_timeout = 30.0

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

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

    def command(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"}

    def ready(self) -> bool:
        with (
            contextlib.suppress(OSError, urllib.error.URLError),
            urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1),
        ):
            return True
        return False


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
