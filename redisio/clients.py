"""The clients that run what stores describe (`redisio.calls`).

* `make_client`: the process's redis-py client (pooled): /health, /info,
  maintenance commands, and the connection settings of the lean clients.
* `BlockingClient`: one connection per thread, for Flask views and WSGI servers.
* `pipelined.PipelinedClient`: one pipelined connection per event loop, for RSGI.

None of them sends a command twice (spec stashes.md 17.6): once written, a command
may have run even if its reply never comes, so a timeout or a lost connection
raises (a 500); only a command that never left stashd (`NotSent`) is tried again,
once, on a fresh connection.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from functools import partial
from typing import Any, TypeVar

import redis
from flask import current_app
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import metrics
from core.errors import UNREACHABLE, redis_refusal
from redisio.calls import Call, Steps

RedisClient = redis.Redis  # | redis.RedisCluster once Cluster support lands

T = TypeVar("T")

# Replies after which a connection is dropped, so the next command connects afresh
# and reaches whichever server is the primary now.
DROP_AFTER = frozenset({"READONLY", "MASTERDOWN"})
# A connection idle this long is checked before a command is written to it: Redis
# may have closed it meanwhile (a restart, its idle timeout), and a command written
# to a closed connection has an outcome nobody knows.
IDLE_CHECK = 0.01


class NotSent(redis.ConnectionError):
    """The command never reached Redis (no connection, or it was lost before the
    command was written): sending it again is safe."""


def make_client(config: Mapping[str, Any]) -> RedisClient:
    """A client for ``REDIS_URL`` (redis://, rediss:// or unix://).

    Commands are never retried: redis-py resends after a timeout, when the first
    may have run. A pooled connection Redis closed (after a restart) is replaced
    when the pool hands it out. Responses stay bytes: stored JSON is served as it is.
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
        retry=Retry(NoBackoff(), 0),
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
    they reach the same Redis with the same URL, timeouts, TLS and credentials. A
    command that could not be written is tried once more on a fresh connection; one
    that was written is never sent again.
    """

    def __init__(self, client: RedisClient) -> None:
        pool = client.connection_pool
        # Made like the pool's own connections, but not counted against its
        # max_connections: each is owned by one thread and closed when it ends.
        self._connect = partial(pool.connection_class, **pool.connection_kwargs)
        self._local = threading.local()

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply; error replies are raised.

        :raise redis.TimeoutError, redis.ConnectionError: no reply; it may have run.
        """
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = self._connect()
            local.used = 0.0
        now = time.monotonic()
        if now - local.used > IDLE_CHECK and conn.is_connected:
            _forget_if_closed(conn)
        local.used = now
        try:
            conn.send_command(*args)
        except UNREACHABLE:  # not written whole, so not run: once more, afresh
            conn.disconnect()
            metrics.redis_reconnect()
            conn.send_command(*args)
        try:
            return conn.read_response()
        except redis.ResponseError as exc:
            if redis_refusal(exc) in DROP_AFTER:
                conn.disconnect()
                metrics.redis_reconnect()
            raise

    def run(self, call: Call) -> Any:
        """Run `call`: its command (EVAL when the script is not cached), converted."""
        try:
            reply = self.execute(*call.args)
        except redis.exceptions.NoScriptError:
            reply = self.execute(*call.fallback())
        return call.result(reply)

    def run_all(self, calls: list[Call]) -> list[Any]:
        """Run `calls` pipelined, in order, in one write, and read their replies.
        Their scripts are loaded first in the same write, so none is missing
        halfway (an EVAL after the rest would run out of order). For maintenance
        commands.

        :raise redis.RedisError: the first error reply, once every reply is read;
            or no connection, when any of them may have run (never sent again).
        """
        if not calls:
            return []
        local = self._local
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = self._connect()
        local.used = time.monotonic()
        sources = list(dict.fromkeys(c.script for c in calls if c.script is not None))
        commands = [("SCRIPT", "LOAD", source) for source in sources]
        conn.send_packed_command(
            conn.pack_commands([*commands, *(call.args for call in calls)])
        )
        replies: list[Any] = []
        for _ in range(len(commands) + len(calls)):
            try:
                replies.append(conn.read_response())
            except redis.ResponseError as exc:
                replies.append(exc)
        results = []
        for call, reply in zip(calls, replies[len(commands) :], strict=True):
            if isinstance(reply, redis.exceptions.NoScriptError):
                reply = self.execute(*call.fallback())  # NOSCRIPT: it did not run
            elif isinstance(reply, Exception):
                raise reply
            results.append(call.result(reply))
        return results

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


def _forget_if_closed(conn: redis.connection.AbstractConnection) -> None:
    """Disconnect `conn` when Redis closed it or a stray reply waits on it, so the
    next command connects afresh instead of being written into a dead socket."""
    try:
        stale = conn.can_read(timeout=0)
    except UNREACHABLE:
        stale = True
    if stale:
        conn.disconnect()
        metrics.redis_reconnect()
