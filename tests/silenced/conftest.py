"""Fixtures for the Sensu 1.x silenced tests: a `v1` wrapper, and access behind it.

The tests go through Flask's test client (`client`, which tests/conftest.py runs on
fakeredis, on fakeredis with the fast path off, and on a real redis-server).
"""

from __future__ import annotations

from typing import Any

import pytest

from redisio.keys import Keys
from tests.silenced.helpers import V1


@pytest.fixture
def v1(client: Any) -> V1:
    return V1(client)


@pytest.fixture
def keys(app: Any) -> Keys:
    return Keys(app.config["KEY_PREFIX"])


@pytest.fixture
def pttl(redis_client: Any, keys: Keys) -> Any:
    """pttl(name, ns): an entry's remaining lifetime in ms as Redis reports it."""

    def pttl(name: str, ns: str = "default") -> int:
        return redis_client.pttl(keys.silence(ns, name))

    return pttl


@pytest.fixture
def shorten(redis_client: Any, keys: Keys) -> Any:
    """shorten(name, ms, ns): as if time had passed, leaving the entry `ms` to live.

    Behind the API: the hash's TTL, its deadline field, its match string's TTL and
    the expiry schedule move.
    """

    def shorten(name: str, remaining_ms: int, ns: str = "default") -> None:
        seconds, micros = redis_client.time()
        deadline = seconds * 1000 + micros // 1000 + remaining_ms
        key = keys.silence(ns, name)
        redis_client.hset(key, "deadline", deadline)
        redis_client.pexpireat(key, deadline)
        redis_client.pexpireat(keys.silence_match(ns, name), deadline)
        redis_client.zadd(keys.silenced_expiry(ns), {name: deadline})

    return shorten
