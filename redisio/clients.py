"""The clients that run what stores describe (`redisio.calls`).

* `make_client`: the process's redis-py client (pooled): /health, /info,
  maintenance commands, and the connection settings of the lean clients. It follows
  ``REDIS_URL``'s mode: one Redis, the primary Sentinel names, or a Redis Cluster.
* `BlockingClient`: one connection per thread, for Flask views and WSGI servers.
* `pipelined.PipelinedClient`: one pipelined connection per event loop, for RSGI.
* `cluster`: both lean clients over Redis Cluster, a client per primary.

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
from redis.cluster import ClusterNode
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel

from core import metrics
from core.addresses import RedisTarget, redis_target
from core.errors import UNREACHABLE, redis_refusal
from redisio.calls import WIDEN_ROUNDS, Call, Steps, too_wide
from redisio.drive import drive_steps
from redisio.wire import Command, unpacked

RedisClient = redis.Redis | redis.RedisCluster

T = TypeVar("T")

# Replies after which a connection is dropped, so the next command connects afresh
# and reaches whichever server is the primary now.
DROP_AFTER = frozenset({"READONLY", "MASTERDOWN"})
# Of the Redis timeout, the share WAIT may block for: its reply must come before the
# connection gives up on it.
WAIT_SHARE = 0.6
# A connection idle this long is checked before a command is written to it: Redis
# may have closed it meanwhile (a restart, its idle timeout), and a command written
# to a closed connection has an outcome nobody knows.
IDLE_CHECK = 0.01


class NotSent(redis.ConnectionError):
    """The command never reached Redis (no connection, or it was lost before the
    command was written): sending it again is safe."""


def make_client(config: Mapping[str, Any]) -> RedisClient:
    """A client for ``REDIS_URL``: one Redis (redis://, rediss://, unix://), the
    primary of a Sentinel service (redis[s]+sentinel://) or a Redis Cluster
    (redis[s]+cluster://, redis-py's `RedisCluster`, which reads the slot map now).

    Commands are never retried: redis-py resends after a timeout, when the first
    may have run. A pooled connection Redis closed (after a restart) is replaced
    when the pool hands it out; under Sentinel, each new connection asks the
    sentinels for the primary. Responses stay bytes: stored JSON is served as it is.
    """
    url = config["REDIS_URL"]
    if not url:
        raise RuntimeError(
            "STASHD_REDIS_URL is not set: set it, or start stashd with `make run`, "
            "which starts the embedded Redis"
        )
    timeout = config["REDIS_TIMEOUT"]
    options: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "retry": Retry(NoBackoff(), 0),
    }
    target = redis_target(url)
    if target.mode == "standalone":
        return redis.Redis.from_url(url, client_name="stashd", **options)
    if target.mode == "sentinel":
        node, tls = node_options(target)
        sentinel_options = {**options, **tls}
        if config["REDIS_SENTINEL_PASSWORD"]:
            sentinel_options["password"] = config["REDIS_SENTINEL_PASSWORD"]
        sentinel = Sentinel(list(target.nodes), sentinel_kwargs=sentinel_options)
        assert target.service is not None
        return sentinel.master_for(
            target.service, client_name="stashd", **options, **node, **tls
        )
    node, tls = node_options(target)
    node.pop("db", None)
    return redis.RedisCluster(
        startup_nodes=[ClusterNode(host, port) for host, port in target.nodes],
        client_name="stashd",
        **options,
        **node,
        **tls,
    )


def make_runner(config: Mapping[str, Any], client: RedisClient) -> BlockingClient:
    """The `BlockingClient` for ``REDIS_URL``'s mode, beside `client` (make_client's,
    or a test's own): slot-aware on Redis Cluster."""
    if isinstance(client, redis.RedisCluster):
        from redisio.cluster import ClusterBlockingClient  # it builds on this module

        return ClusterBlockingClient(config)
    return BlockingClient(client, config.get("REDIS_WAIT_REPLICAS", 0))


def node_options(target: RedisTarget) -> tuple[dict[str, Any], dict[str, Any]]:
    """What each data node of a sentinel or cluster URL is reached with: credentials
    and db, then the TLS options (``ssl=True`` and ``ssl_*``; empty without TLS)."""
    params = parse_url(target.node_url)
    node = {k: params[k] for k in ("username", "password", "db") if k in params}
    tls = {k: v for k, v in params.items() if k.startswith("ssl_")}
    if params.get("connection_class") is redis.SSLConnection:
        tls["ssl"] = True
    return node, tls


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
    that was written is never sent again. With `replicas`, each write is confirmed by
    that many replicas (``WAIT``) on its own connection, or raises.
    """

    def __init__(self, client: redis.Redis, replicas: int = 0) -> None:
        pool = client.connection_pool
        # Made like the pool's own connections, but not counted against its
        # max_connections: each is owned by one thread and closed when it ends.
        # Under Sentinel they are the pool's Sentinel-managed kind: each connect
        # asks the sentinels for the primary.
        self._connect = partial(pool.connection_class, **pool.connection_kwargs)
        self._local = threading.local()
        self.replicas = replicas
        self._wait = wait_command(
            replicas, pool.connection_kwargs.get("socket_timeout")
        )

    def execute(self, *args: Any) -> Any:
        """Run one command and return its reply; error replies are raised.

        :raise redis.TimeoutError, redis.ConnectionError: no reply; it may have run.
        """
        return self.command(args)

    def command(self, args: Command) -> Any:
        """`execute`, the command given whole: its arguments, or packed."""
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
            # Connected explicitly, as redis-py's pool does: a Sentinel-managed
            # connection asks the sentinels where the primary is only then.
            if not conn.is_connected:
                conn.connect()
            _send(conn, args)
        except UNREACHABLE:  # not written whole, so not run: once more, afresh
            conn.disconnect()
            metrics.redis_reconnect()
            conn.connect()
            _send(conn, args)
        try:
            return conn.read_response()
        except redis.ResponseError as exc:
            if redis_refusal(exc) in DROP_AFTER:
                conn.disconnect()
                metrics.redis_reconnect()
            raise

    def run(self, call: Call) -> Any:
        """Run `call`: its command (EVAL when the script is not cached), converted;
        again with more keys while its script asks for them (`Call.widened`)."""
        try:
            reply = self.command(call.args)
        except redis.exceptions.NoScriptError:
            reply = self.command(call.fallback())
        if call.declares and (wider := call.widened(reply)) is not None:
            return self._widen(wider)
        if self.replicas and call.write:
            self.confirm_writes()
        return call.result(reply)

    def _widen(self, call: Call) -> Any:
        for _ in range(WIDEN_ROUNDS):
            reply = self.command(call.args)  # the script was just loaded
            wider = call.widened(reply)
            if wider is None:
                if self.replicas and call.write:
                    self.confirm_writes()
                return call.result(reply)
            call = wider
        raise too_wide(call)

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
            conn.pack_commands([*commands, *(unpacked(call.args) for call in calls)])
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
                reply = self.command(call.fallback())  # NOSCRIPT: it did not run
            elif isinstance(reply, Exception):
                raise reply
            if call.declares and (wider := call.widened(reply)) is not None:
                results.append(self._widen(wider))
                continue
            results.append(call.result(reply))
        if self.replicas:
            self.confirm_writes()
        return results

    def confirm_writes(self) -> None:
        """Wait for the replicas to confirm what the thread's connection wrote.

        On that connection and no other: WAIT counts its own client's writes only.
        :raise redis.ConnectionError: fewer replicas confirmed it in time.
        """
        conn = self._local.conn
        conn.send_command(*self._wait)
        confirm(conn.read_response(), self.replicas)

    def run_each(self, calls: list[Call]) -> list[Any]:
        """Run `calls` one after another (a step over every stash bucket)."""
        return [self.run(call) for call in calls]

    def drive(self, steps: Steps[T]) -> T:
        """Run each call `steps` yields, sending it the result; return its own.

        A call that fails (Redis down, an error reply) raises its error in `steps`.
        """
        return drive_steps(steps, self.run, self.run_each)

    def close(self) -> None:
        """Close the calling thread's connection (the next command opens another)."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            self._local.conn = None
            conn.disconnect()


def wait_command(replicas: int, timeout: float | None) -> tuple:
    """The WAIT that confirms writes: `replicas`, within most of the Redis timeout."""
    share = (timeout or 1.0) * WAIT_SHARE
    return ("WAIT", replicas, max(1, int(share * 1000)))


def confirm(acked: int, replicas: int) -> None:
    """Raise unless `acked` (WAIT's reply) is at least `replicas`.

    :raise redis.ConnectionError: too few; the write may be lost in a failover.
    """
    if acked < replicas:
        raise redis.ConnectionError(
            f"{acked} of {replicas} replicas confirmed the write in time"
        )


def _send(conn: redis.connection.AbstractConnection, args: Command) -> None:
    if isinstance(args, bytes):
        conn.send_packed_command([args])  # (a list of pieces)
    else:
        conn.send_command(*args)


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
