"""Processes the tests start: a real Redis server (the embedded binary), and stashd
under granian or gunicorn."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from server.embedded import executable

# How many ports below the kernel's range for client sockets the servers of the
# tests take theirs from.
PORTS_BELOW_CLIENTS = 12000
_random = random.SystemRandom()


def free_port() -> int:
    """A port of 127.0.0.1 that nothing holds now, for a server to bind later.

    It is taken below the range the kernel gives clients' connections: a port from
    that range could become, before the server binds it, the local end of a
    connection another test makes (which the server cannot bind over, for as long
    as that connection lasts).
    """
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        clients_from = int(ports.read().split()[0])
    while True:
        port = _random.randrange(
            max(1024, clients_from - PORTS_BELOW_CLIENTS), clients_from
        )
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:  # held: try another
                continue
        return port


class RedisServer:
    """A throwaway Redis server on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, port: int | None = None, args: tuple[str, ...] = ()) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="stashd-test-redis-")
        self.process: subprocess.Popen | None = None
        self.args = args  # more options: replication, cluster mode

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            executable(),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.dir,
            "--save", "",
            "--appendonly", "no",
            *self.args,
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("test Redis server did not start") from None
                time.sleep(0.02)
        client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tree(pid: int) -> list[int]:
    """`pid` and every process descended from it."""
    parents = {}
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parents[int(entry)] = int(stat.read().rpartition(")")[2].split()[1])
        except (OSError, ValueError):
            continue
    found = [pid]
    for candidate in found:
        found += [child for child, parent in parents.items() if parent == candidate]
    return found


def alive(pid: int) -> bool:
    """True while process `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def listeners(ports: list[int]) -> list[set[str]]:
    """For each of `ports`, the inodes of the TCP sockets listening on it."""
    found: list[set[str]] = [set() for _ in ports]
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):  # a kernel without IPv6
            continue
        with open(table) as lines:
            next(lines)
            for line in lines:
                fields = line.split()
                port = int(fields[1].rpartition(":")[2], 16)
                if fields[3] == "0A" and port in ports:  # 0A: LISTEN
                    found[ports.index(port)].add(fields[9])
    return found


def open_files(pid: int) -> Iterator[str]:
    """What process `pid` has open, as /proc names it (a path, ``socket:[<inode>]``);
    nothing once it is gone."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return
    for fd in fds:
        try:
            yield os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue


def owns_sockets(pids: list[int], wanted: list[set[str]]) -> bool:
    """True when, for each set of socket inodes in `wanted`, one of `pids` has one
    of them open."""
    held = {
        target[len("socket:[") : -1]
        for pid in pids
        for target in open_files(pid)
        if target.startswith("socket:[")
    }
    return all(inodes & held for inodes in wanted)


SERVERS = ("granian", "gunicorn")

# The stashd servers started since the current test began; when it fails, their
# output goes into its report (tests/conftest.py).
STARTED: list[Stashd] = []


class Stashd:
    """stashd as an operator runs it: `make run` (granian) or `gunicorn`.

    Both read their settings from the environment given; `tls` is (cert, key) files.
    """

    def __init__(
        self,
        server: str,
        env: dict[str, str],
        ports: int = 1,
        tls: tuple[str, str] | None = None,
    ) -> None:
        self.server = server
        self.ports = [free_port() for _ in range(ports)]
        home = tempfile.mkdtemp(prefix=f"stashd-{server}-")
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STASHD_")},
            "WEB_CONCURRENCY": "2",
            "STASHD_BIND": " ".join(f"127.0.0.1:{port}" for port in self.ports),
            # Not the checkout's var/: servers of tests running at the same time
            # would share their archive files and generated password there.
            "STASHD_DATA_DIR": os.path.join(home, "data"),
            **env,
        }
        self.scheme = "https" if tls else "http"
        if tls and server == "gunicorn":
            self.env["GUNICORN_CMD_ARGS"] = f"--certfile={tls[0]} --keyfile={tls[1]}"
        elif tls:
            self.env["GRANIAN_SSL_CERTIFICATE"], self.env["GRANIAN_SSL_KEYFILE"] = tls
        self.log = os.path.join(home, "out.log")
        self.process: subprocess.Popen | None = None

    def __repr__(self) -> str:
        return f"<stashd under {self.server}>"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.ports[0]}"

    def command(self) -> list[str]:
        if self.server == "gunicorn":
            return [os.path.join(os.path.dirname(sys.executable), "gunicorn")]
        return [sys.executable, "-m", "server"]

    def start(self, wait: bool = True) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command(),
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if self not in STARTED:
            STARTED.append(self)
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        """Wait until this server listens on each of its ports.

        A listener is looked up, not connected to: a port this server has not bound
        yet may belong, for a while, to a process another test started meanwhile.
        """
        deadline = time.monotonic() + timeout
        while not owns_sockets(tree(self.process.pid), listeners(self.ports)):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.server} exited:\n{self.output()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.server} not up:\n{self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        with open(self.log, errors="replace") as log:
            return log.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the server, wait for it, and return its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        code = self.process.wait(timeout)
        self.process = None
        return code


def admin_env(
    data_dir: str | os.PathLike[str], password: str, key: str
) -> dict[str, str]:
    """Settings of a stashd keeping its data in `data_dir`, with the administrator
    ``ops`` (`password`) and the API key `key` made at start."""
    return {
        "STASHD_DATA_DIR": str(data_dir),
        "STASHD_API_USER": "ops",
        "STASHD_API_PASSWORD": password,
        "STASHD_API_KEY": key,
    }


@contextmanager
def stashd_on_own_redis(server: str, env: dict[str, str]) -> Iterator[Stashd]:
    """stashd under `server` with `env`, on a redis-server of its own; both stopped."""
    redis_server = RedisServer()
    redis_server.start()
    stashd = Stashd(server, {"STASHD_REDIS_URL": redis_server.url, **env})
    try:
        stashd.start()
        yield stashd
    finally:
        stashd.stop()
        redis_server.remove()
