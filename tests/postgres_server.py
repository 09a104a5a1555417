"""A private PostgreSQL for tests: ``initdb`` once, then ``postgres`` in the foreground.

A ``ManagedProcess`` (``tests/managed_process.py``): a reserved loopback port
(moved if another program takes it first), our own process only, the log's
tail in a start failure. The server runs as our child (not daemonized by
``pg_ctl``), so it is stopped by its pid like every other test server:
``stop`` asks for an immediate shutdown (SIGQUIT), then kills.

PostgreSQL refuses to run as root, so as root the cluster belongs to the
``postgres`` (or ``nobody``) user and the server runs as that user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from tests.managed_process import ManagedProcess, ServerUnavailable


class PostgresUnavailable(ServerUnavailable):
    """No PostgreSQL binaries to start a private server with, or it did not start."""


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise PostgresUnavailable(
            f"{name} not found (install PostgreSQL, e.g. apt install postgresql)"
        )
    return found


def _os_user() -> str:
    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise PostgresUnavailable("running as root and no unprivileged user for initdb")


class PostgresServer(ManagedProcess):
    """One private PostgreSQL cluster (trust authentication, loopback only)."""

    name = "postgres"
    unavailable = PostgresUnavailable
    start_timeout = 60.0

    def __init__(self) -> None:
        self.os_user = _os_user()
        super().__init__(workdir=tempfile.mkdtemp(prefix="lgp-test-pg-"))
        self.data = os.path.join(self.workdir, "data")

    @property
    def url(self) -> str:
        return f"postgresql://{self.os_user}@127.0.0.1:{self.port}/postgres"

    def user(self) -> str | None:
        return self.os_user if os.geteuid() == 0 else None

    def prepare(self) -> None:
        """Create the cluster on the first start (as the server's user)."""
        if os.path.isdir(self.data):
            return
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.os_user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
        done = subprocess.run(
            [_bin("initdb"), "-D", self.data, "-A", "trust", "-U", self.os_user, "--no-sync"],
            capture_output=True, text=True, timeout=120, cwd=self.workdir, user=self.user(),
        )  # fmt: skip
        if done.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {done.stderr.strip()[-400:]}")

    def command(self) -> list[str]:
        return [
            _bin("postgres"), "-D", self.data, "-p", str(self.port), "-h", "127.0.0.1",
            "-k", self.workdir, "-c", "fsync=off",
        ]  # fmt: skip

    def ready(self) -> bool:
        import psycopg

        try:
            psycopg.connect(self.url, connect_timeout=1).close()
        except psycopg.OperationalError:
            return False
        return True

    def terminate(self) -> None:
        """An immediate shutdown (SIGQUIT: what ``pg_ctl -m immediate`` sends), else kill."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
