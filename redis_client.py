"""The one Redis client of a process, and how views reach it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

RedisClient = redis.Redis  # | redis.RedisCluster once Cluster support lands

# What "Redis cannot be reached" looks like to redis-py.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def make_client(config: Mapping[str, Any]) -> RedisClient:
    """A client for ``REDIS_URL`` (redis://, rediss:// or unix://).

    A failed call is retried once, at once, on a fresh connection: after a Redis
    restart every pooled connection is dead, and one retry is what revives them
    without a restart of stashd. Short timeouts make both attempts fit in 2 s.
    Responses stay bytes: stored JSON is served as it is.
    """
    url = config["REDIS_URL"]
    if not url:
        raise RuntimeError(
            "STASHD_REDIS_URL is not set: set it, or start stashd with `make run`, "
            "which starts the embedded Redis"
        )
    timeout = config["REDIS_TIMEOUT"]
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 1),
        client_name="stashd",
    )


def get_redis() -> RedisClient:
    """The current app's client."""
    return current_app.extensions["redis"]
