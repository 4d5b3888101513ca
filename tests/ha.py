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


class SentinelSetup:
    """A primary, one replica and three sentinels (quorum 2) watching them."""

    def __init__(self) -> None:
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
                    and len(s.sentinel_slaves(SERVICE)) >= 1
                ),
                timeout,
                "the sentinels to know each other and the replica",
            )

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=1)

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
