"""One base for the servers the tests start: reserved port, start, poll until ready, kill, logs.

Every test server (``redis_server.py``, ``redis_cluster_server.py``,
``s3_server.py``, ``postgres_server.py``) is a ``ManagedProcess`` subclass that
says only what is particular to it: the command line, what "ready" means, and
what its "unavailable" error is called. The base owns the rest, once:

* Ground rules: never a process we did not start. ``kill()`` acts on our own
  child by its pid (``SIGKILL``: a crash, everything in memory is lost), and
  ``start()`` after a kill reuses the same port, so fault tests can bring a
  server back under the URL their clients hold.
* Ports are reserved, not just probed (``free_port``): between "the kernel says
  this port is free" and "the server has bound it", another test process could
  be handed the same number. Each port we hand out is also locked (``flock`` on
  a file named after it, held until released or the process exits), so test
  processes running side by side never pick the same one; and a server that
  still loses the race to a foreign program (``Address already in use`` in its
  log) is started again on a fresh port, unless the test pinned the port or
  the server has run before (clients know its port).
* Readiness is polled, a fact at a time (``ready()``), up to a deadline; a
  server that exits or never answers raises the subclass's error with the tail
  of its log, so a red run says why.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import ClassVar

_RESERVATIONS = Path(tempfile.gettempdir()) / "lgp-test-ports"
_held: dict[int, int] = {}
"""port -> descriptor of its reservation file (the flock lives as long as it is open)."""

PORT_IN_USE = "Address already in use"
"""What redis-server, moto and PostgreSQL log when they lose the race for a port."""
START_ATTEMPTS = 5
POLL = 0.02
"""Seconds between two readiness probes (polling a fact, not waiting for one to happen)."""


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


class ServerUnavailable(RuntimeError):
    """A test server could not be started (the message says why, with its log)."""


class ManagedProcess:
    """One server process the tests own (see the module docstring).

    Subclasses provide ``command()`` and ``ready()``, and may override
    ``new_port``/``release_ports`` (a port that comes with another, as a
    cluster node's bus), ``environment``, ``prepare`` (once, before the first
    start), ``terminate`` (a gentler stop) and ``cleanup``.
    """

    name: ClassVar[str] = "server"
    """How messages call it (``redis-server``, ``moto server``...)."""
    unavailable: ClassVar[type[ServerUnavailable]] = ServerUnavailable
    start_timeout: ClassVar[float] = 10.0

    def __init__(self, port: int | None = None, *, workdir: str | None = None) -> None:
        self.pinned = port is not None
        """The test chose the port: never move the server to another one."""
        self.port = port or self.new_port()
        self.started = False
        """It has run once: clients know its port, so a restart never moves it."""
        self.workdir = workdir or tempfile.mkdtemp(prefix=f"lgp-test-{self.name.split()[0]}-")
        self.proc: subprocess.Popen[bytes] | None = None
        self._log_offset = 0

    # -- what a subclass says ------------------------------------------------------------------

    def command(self) -> list[str]:
        """The argv that runs the server in the foreground on ``self.port``."""
        raise NotImplementedError

    def ready(self) -> bool:
        """One probe: True once the server answers (an error or a timeout is "not yet")."""
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment (None: ours)."""
        return None

    def user(self) -> str | None:
        """The user the child runs as (None: ours)."""
        return None

    def prepare(self) -> None:
        """Run before every start attempt (a port change, TLS proxy, data directory...)."""

    def new_port(self) -> int:
        return free_port()

    def release_ports(self) -> None:
        release_port(self.port)

    def terminate(self) -> None:
        """How ``stop`` ends the server: by default as ``kill`` does."""
        self.kill()

    def cleanup(self) -> None:
        """Anything besides the process, the directory and the port to give back."""

    # -- what the base does --------------------------------------------------------------------

    @property
    def log_path(self) -> Path:
        return Path(self.workdir, "server.log")

    def log_tail(self, chars: int = 800) -> str:
        """The end of what the server logged since its latest start attempt."""
        with contextlib.suppress(OSError), open(self.log_path, "rb") as log:
            log.seek(self._log_offset)
            text = log.read().decode(errors="replace")
            return text[-chars:].strip() or "(empty log)"
        return "(no log)"

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self, timeout: float | None = None) -> None:
        """Start (or restart, on the same port) and wait until ``ready()``.

        The first start of a server whose port we chose moves to a fresh port
        when another program took this one meanwhile; a restart keeps its port
        and a pinned port is never moved.
        """
        for attempt in range(START_ATTEMPTS):
            try:
                self._start(self.start_timeout if timeout is None else timeout)
                self.started = True
                return
            except (ServerUnavailable, OSError) as exc:
                movable = not self.pinned and not self.started
                if not movable or PORT_IN_USE not in str(exc) or attempt == START_ATTEMPTS - 1:
                    raise
                self.cleanup()
                self.release_ports()
                self.port = self.new_port()

    def _start(self, timeout: float) -> None:
        if self.running:
            return
        self.prepare()
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self._log_offset = log.tell()
            self.proc = subprocess.Popen(
                self.command(),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.environment(),
                user=self.user(),
                cwd=self.workdir,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise self.unavailable(
                    f"{self.name} exited at start (status {self.proc.returncode}): "
                    f"{self.log_tail()}"
                )
            if self.ready():
                return
            time.sleep(POLL)
        self.kill()
        raise self.unavailable(
            f"{self.name} on port {self.port} did not answer within {timeout:.0f}s; "
            f"its log: {self.log_tail()}"
        )

    def kill(self) -> None:
        """SIGKILL our server (a crash: everything in memory is lost)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        """End the server, remove its directory, give its port back."""
        self.terminate()
        self.cleanup()
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.release_ports()
