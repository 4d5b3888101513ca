"""Fixtures for the stash API tests: an `api` wrapper over the test client, key access.

Every test here goes through Flask's test client (`client`, run on fakeredis and on a
real redis-server by tests/conftest.py); `redis_client`, `keys` and `pttl` only look
behind the API, mostly at TTLs.
"""

from __future__ import annotations

from typing import Any

import pytest

from redisio.keys import Keys
from tests.stashes.helpers import Api


@pytest.fixture(
    params=[
        "fake",
        "flask",
        pytest.param("real", marks=pytest.mark.integration),
        pytest.param("cluster", marks=pytest.mark.integration),
    ]
)
def backend(request: pytest.FixtureRequest) -> str:
    """tests/conftest.py's backends, and a 3-primary Redis Cluster."""
    return request.param


@pytest.fixture
def api(client: Any) -> Api:
    return Api(client)


@pytest.fixture
def keys(app: Any) -> Keys:
    return app.extensions["stashes"].keys  # the app's own: other tags on Cluster


@pytest.fixture
def bucket(app: Any) -> Any:
    """bucket(path): the keys of the stash bucket holding `path` (one bucket on a
    single Redis, several on Redis Cluster)."""
    return app.extensions["stashes"].bucket


@pytest.fixture
def pttl(redis_client: Any, bucket: Any) -> Any:
    """pttl(path): the stash's remaining lifetime in ms as Redis reports it."""

    def pttl(path: str) -> int:
        return redis_client.pttl(bucket(path).prefix + path)

    return pttl


@pytest.fixture
def shorten(redis_client: Any, bucket: Any) -> Any:
    """shorten(path, ms): as if time had passed, leaving the stash `ms` to live.

    Behind the API, both the content key's TTL and the expiry schedule move.
    """

    def shorten(path: str, remaining_ms: int) -> None:
        seconds, micros = redis_client.time()
        deadline = seconds * 1000 + micros // 1000 + remaining_ms
        keys = bucket(path)
        redis_client.pexpireat(keys.prefix + path, deadline)
        redis_client.zadd(keys.expiry, {path: deadline})

    return shorten
