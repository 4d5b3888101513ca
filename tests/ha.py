"""Redis in its distributed modes for the tests: a Sentinel setup (a primary, a
replica, three sentinels), all on 127.0.0.1 from the embedded server's binary."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable

import redis

from server.embedded import executable
from tests.servers import RedisServer, free_port

SERVICE = "stashd"
# How long a primary may be silent before the sentinels call it down: the issue's
# failover test uses Redis's own option at 1 s.
DOWN_AFTER_MS = 1000


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _good_replica(replicas: list[dict]) -> bool:
    """Whether a sentinel sees a replica it could promote: up, and linked to the
    primary (a replica paused a moment ago may still be marked down)."""
    return any(
        not r["is_sdown"] and r.get("master-link-status") == "ok" for r in replicas
    )


class SentinelSetup:
    """A primary, one replica and three sentinels (quorum 2) watching them."""

    def __init__(self, sentinel_password: str | None = None) -> None:
        self.sentinel_password = sentinel_password
        self.primary = RedisServer()
        self.replica = RedisServer(
            args=("--replicaof", "127.0.0.1", str(self.primary.port))
        )
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.dir = tempfile.mkdtemp(prefix="stashd-test-sentinel-")
        self.sentinels: list[subprocess.Popen] = []

    def url(self, scheme: str = "redis+sentinel") -> str:
        nodes = ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)
        return f"{scheme}://{nodes}/{SERVICE}"

    def start(self) -> None:
        self.primary.start()
        self.replica.start()
        for port in self.sentinel_ports:
            conf = os.path.join(self.dir, f"sentinel-{port}.conf")
            with open(conf, "w") as out:
                out.write(
                    f"port {port}\nbind 127.0.0.1\ndir {self.dir}\n"
                    f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary.port} 2\n"
                    f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                    f"sentinel failover-timeout {SERVICE} 10000\n"
                )
                if sentinel_password := self.sentinel_password:
                    # Its own, and the one it gives the other sentinels.
                    out.write(
                        f"requirepass {sentinel_password}\n"
                        f"sentinel sentinel-pass {sentinel_password}\n"
                    )
            self.sentinels.append(
                subprocess.Popen(
                    [executable(), conf, "--sentinel"], stdout=subprocess.DEVNULL
                )
            )
        self.wait_healthy()

    def wait_healthy(self, timeout: float = 20) -> None:
        """Wait until the replica is in sync and every sentinel knows it and the
        other two sentinels: only then can a failover happen."""

        def synced() -> bool:
            info = self.client(self.primary_port()).info("replication")
            return any(
                key.startswith("slave") and value["state"] == "online"
                for key, value in info.items()
            )

        wait_until(synced, timeout, "the replica to sync")
        for port in self.sentinel_ports:
            sentinel = self.client(port)
            wait_until(
                lambda s=sentinel: (
                    int(s.sentinel_master(SERVICE)["num-other-sentinels"]) == 2
                    and _good_replica(s.sentinel_slaves(SERVICE))
                ),
                timeout,
                "the sentinels to know each other and the replica",
            )

    def client(self, port: int) -> redis.Redis:
        password = self.sentinel_password if port in self.sentinel_ports else None
        return redis.Redis(port=port, socket_timeout=1, password=password)

    def primary_port(self) -> int:
        """The primary's port, as the first sentinel sees it."""
        _, port = self.client(self.sentinel_ports[0]).sentinel_get_master_addr_by_name(
            SERVICE
        )
        return int(port)

    def by_port(self, port: int) -> RedisServer:
        return self.primary if self.primary.port == port else self.replica

    def failover(self, timeout: float = 15) -> float:
        """A graceful ``SENTINEL FAILOVER``; the time (monotonic) the old replica
        was seen promoted."""
        old = self.primary_port()
        self.client(self.sentinel_ports[0]).execute_command(
            "SENTINEL", "FAILOVER", SERVICE
        )
        return self.wait_promoted(old, timeout)

    def wait_promoted(self, old: int, timeout: float = 15) -> float:
        """Wait until the node that was not `old` is the primary; return when."""
        new = self.replica.port if old == self.primary.port else self.primary.port
        wait_until(
            lambda: self.client(new).execute_command("ROLE")[0] == b"master",
            timeout,
            "the replica's promotion",
        )
        return time.monotonic()

    def kill_primary(self) -> int:
        """``kill -9`` the primary; return its port."""
        port = self.primary_port()
        server = self.by_port(port)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        server.process = None
        return port

    def remove(self) -> None:
        for process in self.sentinels:
            process.terminate()
        for process in self.sentinels:
            process.wait(10)
        for server in (self.primary, self.replica):
            if server.process is not None and server.process.poll() is not None:
                server.process = None  # stopped by a test
            server.remove()
        shutil.rmtree(self.dir, ignore_errors=True)


def cli() -> str:
    """The valkey-cli beside the embedded server's binary."""
    return os.path.join(os.path.dirname(executable()), "valkey-cli")


class ClusterSetup:
    """A Redis Cluster of three primaries on 127.0.0.1, with `replicas` each."""

    def __init__(self, primaries: int = 3, replicas: int = 0) -> None:
        self.replicas = replicas
        self.nodes = [
            RedisServer(args=self._options(f"nodes-{n}.conf"))
            for n in range(primaries * (1 + replicas))
        ]

    @staticmethod
    def _options(config_file: str) -> tuple[str, ...]:
        return (
            "--cluster-enabled", "yes",
            "--cluster-node-timeout", "1000",
            "--cluster-config-file", config_file,
            # Not port + 10000, which may be past 65535.
            "--cluster-port", str(free_port()),
        )  # fmt: skip

    def url(self, scheme: str = "redis+cluster") -> str:
        return f"{scheme}://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        subprocess.run(
            [
                cli(),
                "--cluster",
                "create",
                *(f"127.0.0.1:{n.port}" for n in self.nodes),
                "--cluster-replicas",
                str(self.replicas),
                "--cluster-yes",
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=1)
            wait_until(
                lambda c=client: c.cluster("info")["cluster_state"] == "ok",
                20,
                "the cluster to come up",
            )
            # A replica that never synced would not stand for election.
            wait_until(
                lambda c=client: (
                    c.info("replication").get("role") == "master"
                    or c.info("replication").get("master_link_status") == "up"
                ),
                20,
                "the replicas to sync",
            )
            client.close()

    def client(self) -> redis.RedisCluster:
        return redis.RedisCluster(host="127.0.0.1", port=self.nodes[0].port)

    def flushall(self) -> None:
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=1)
            client.flushall()
            client.close()

    def remove(self) -> None:
        for node in self.nodes:
            node.remove()

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2)

    def node_id(self, port: int) -> str:
        client = self.node(port)
        try:
            return client.execute_command("CLUSTER", "MYID").decode()
        finally:
            client.close()

    def owner(self, slot: int) -> int:
        """The port of the primary serving `slot`, as a live node sees it."""
        live = next(n for n in self.nodes if n.process is not None)
        client = self.node(live.port)
        try:
            for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if start <= slot <= end:
                    return int(primary[1])
        finally:
            client.close()
        raise LookupError(slot)

    def lowest(self) -> dict[int, int]:
        """The port of each primary and the lowest slot it serves."""
        live = next(n for n in self.nodes if n.process is not None)
        client = self.node(live.port)
        try:
            lowest: dict[int, int] = {}
            for start, _, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
                port = int(primary[1])
                lowest[port] = min(start, lowest.get(port, start))
            return lowest
        finally:
            client.close()

    def wait_replicated(self, port: int, timeout: float = 10) -> None:
        """Wait until every replica of the primary on `port` has confirmed all it
        was sent: a write not confirmed may be lost when the primary dies."""
        client = self.node(port)
        try:

            def confirmed() -> bool:
                info = client.info("replication")
                replicas = [v for k, v in info.items() if k.startswith("slave")]
                sent = info["master_repl_offset"]
                return bool(replicas) and all(r["offset"] >= sent for r in replicas)

            wait_until(confirmed, timeout, "the replicas to confirm every write")
        finally:
            client.close()

    def kill(self, port: int) -> None:
        """``kill -9`` the node on `port`."""
        server = next(n for n in self.nodes if n.port == port)
        assert server.process is not None
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        server.process = None

    def reshard(self, source: int, target: int, slots: int) -> None:
        """Move the `slots` lowest slots of the node on port `source`, keys and
        all, to the node on port `target` with the cli's own ``--cluster
        reshard``; return once every node agrees on the new map."""
        subprocess.run(
            [
                cli(),
                "--cluster",
                "reshard",
                f"127.0.0.1:{source}",
                "--cluster-from",
                self.node_id(source),
                "--cluster-to",
                self.node_id(target),
                "--cluster-slots",
                str(slots),
                "--cluster-yes",
            ],  # fmt: skip
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        wait_until(self._agreed, 20, "the nodes to agree on the slot map")

    def _agreed(self) -> bool:
        check = subprocess.run(
            [cli(), "--cluster", "check", f"127.0.0.1:{self.nodes[0].port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=20,
        )
        return check.returncode == 0

    def begin_migration(self, slot: int, target: int) -> int:
        """Mark `slot` migrating from its owner to the node on port `target` (keys
        stay where they are); return the owner's port."""
        source = self.owner(slot)
        with self.node(target) as dst, self.node(source) as src:
            dst.execute_command(
                "CLUSTER", "SETSLOT", slot, "IMPORTING", self.node_id(source)
            )
            src.execute_command(
                "CLUSTER", "SETSLOT", slot, "MIGRATING", self.node_id(target)
            )
        return source

    def finish_migration(self, slot: int, source: int, target: int) -> None:
        """Move the keys of `slot` and give it to the node on port `target`."""
        with self.node(source) as src:
            while keys := src.execute_command("CLUSTER", "GETKEYSINSLOT", slot, 100):
                src.execute_command(
                    "MIGRATE", "127.0.0.1", target, "", 0, 5000, "KEYS", *keys
                )
        target_id = self.node_id(target)
        others = [n.port for n in self.nodes if n.port not in (source, target)]
        for port in (target, source, *others):  # the order Redis documents
            with self.node(port) as client:
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
