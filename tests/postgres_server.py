"""A private PostgreSQL for tests: initdb + pg_ctl on a reserved loopback port, removed after.

The port comes from ``tests/redis_server.free_port`` (reserved against our other
test processes); if another program still takes it first, the server starts
again on a fresh port.

The tests start the servers they use. ``initdb`` refuses to run as root, so
as root the cluster belongs to the ``postgres`` (or ``nobody``) user.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.redis_server import PORT_IN_USE, START_ATTEMPTS, free_port, release_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries to start a private server with."""


def _bin(name: str) -> str:
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None
    )
    if not found:
        raise PostgresUnavailable(
            f"{name} not found (install PostgreSQL, e.g. apt install postgresql)"
        )
    return found


class PostgresServer:
    """One private PostgreSQL cluster (trust authentication, loopback only)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-pg-")
        self.user = self._os_user()
        self.data = os.path.join(self.workdir, "data")

    @staticmethod
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

    def _run(self, *cmd: str) -> None:
        if os.geteuid() == 0:
            entry = pwd.getpwnam(self.user)
            os.chown(self.workdir, entry.pw_uid, entry.pw_gid)
            cmd = ("runuser", "-u", self.user, "--", *cmd)
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, cwd="/")
        if done.returncode != 0:
            raise PostgresUnavailable(f"{' '.join(cmd[:4])}...: {done.stderr.strip()[-400:]}")

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self._run(_bin("initdb"), "-D", self.data, "-A", "trust", "-U", self.user, "--no-sync")
        log = os.path.join(self.workdir, "log")
        for attempt in range(START_ATTEMPTS):
            options = f"-p {self.port} -h 127.0.0.1 -k {self.workdir} -c fsync=off"
            try:
                self._run(_bin("pg_ctl"), "-D", self.data, "-o", options, "-l", log, "-w", "start")
                return
            except PostgresUnavailable:
                lost_port = PORT_IN_USE in Path(log).read_text(errors="replace")
                if not lost_port or attempt == START_ATTEMPTS - 1:
                    raise
                Path(log).unlink()
                release_port(self.port)
                self.port = free_port()

    def stop(self) -> None:
        if Path(self.data, "postmaster.pid").exists():
            with contextlib.suppress(PostgresUnavailable):  # best effort: the dir goes anyway
                self._run(_bin("pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        shutil.rmtree(self.workdir, ignore_errors=True)
        release_port(self.port)
