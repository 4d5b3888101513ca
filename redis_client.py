"""The one Redis client of a process, and how views reach it."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping
from functools import partial
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


class DirectClient:
    """Commands on a connection of the calling thread's own: no pool, no locks.

    redis-py's client checks a connection out of its pool and back in for every
    command, and on a hot path that bookkeeping costs more CPU than the command
    (docs/benchmarks.md). Connections are made with the client's pool settings, so
    they reach the same Redis with the same URL, timeouts, TLS and credentials. Like the
    client, a call that fails to reach Redis is retried once on a fresh connection.
    """

    def __init__(self, client: RedisClient) -> None:
        pool = client.connection_pool
        # Made like the pool's own connections, but not counted against its
        # max_connections: each is owned by one thread and closed when it ends.
        self._connect = partial(pool.connection_class, **pool.connection_kwargs)
        self._local = threading.local()

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply; error replies are raised."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        try:
            conn.send_command(*args)
            return conn.read_response()
        except UNREACHABLE:
            conn.disconnect()  # the next send connects afresh
            conn.send_command(*args)
            return conn.read_response()

    def close(self) -> None:
        """Close the calling thread's connection (the next command opens another)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.disconnect()

    def script(self, source: str) -> Callable[[list, list], Any]:
        """A Lua script as a function of (keys, args): EVALSHA, EVAL when not cached."""
        sha = hashlib.sha1(source.encode()).hexdigest()

        def run(keys: list, args: list) -> Any:
            try:
                return self.execute("EVALSHA", sha, len(keys), *keys, *args)
            except redis.exceptions.NoScriptError:
                return self.execute("EVAL", source, len(keys), *keys, *args)

        return run
