"""The clients that run what stores describe (`redisio.calls`).

* `make_client`: the process's redis-py client (pooled): /health, /info,
  maintenance commands, and the connection settings of the lean clients.
* `BlockingClient`: one connection per thread, for Flask views and WSGI servers.
* `pipelined.PipelinedClient`: one pipelined connection per event loop, for RSGI.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import partial
from typing import Any, TypeVar

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from core.errors import UNREACHABLE
from redisio.calls import Call, Steps

RedisClient = redis.Redis  # | redis.RedisCluster once Cluster support lands

T = TypeVar("T")


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
    """The current app's redis-py client."""
    return current_app.extensions["redis"]


def get_client() -> BlockingClient:
    """The current app's `BlockingClient`, which runs what stores describe."""
    return current_app.extensions["client"]


class BlockingClient:
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

    def run(self, call: Call) -> Any:
        """Run `call`: its command (EVAL when the script is not cached), converted."""
        try:
            reply = self.execute(*call.args)
        except redis.exceptions.NoScriptError:
            reply = self.execute(*call.fallback())
        return call.result(reply)

    def drive(self, steps: Steps[T]) -> T:
        """Run each call `steps` yields, sending it the result; return its own.

        A call that fails (Redis down, an error reply) raises its error in `steps`.
        """
        try:
            call = next(steps)
            while True:
                try:
                    result = self.run(call)
                except Exception as exc:  # the steps may answer it
                    call = steps.throw(exc)
                else:
                    call = steps.send(result)
        except StopIteration as done:
            return done.value

    def close(self) -> None:
        """Close the calling thread's connection (the next command opens another)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.disconnect()
