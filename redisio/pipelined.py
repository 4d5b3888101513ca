"""The RSGI server's client: one pipelined Redis connection (`redisio.pipe`) per
event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from functools import partial
from typing import Any, TypeVar

import redis
from redis.connection import parse_url

from core import metrics
from core.addresses import redis_target
from core.errors import redis_refusal
from redisio.calls import WIDEN_ROUNDS, Call, Steps, too_wide
from redisio.clients import DROP_AFTER, NotSent, confirm, wait_command
from redisio.drive import drive_steps_async
from redisio.pipe import Pipe, leave, tls_context
from redisio.wire import Command

T = TypeVar("T")


class PipelinedClient:
    """Commands of every request of one event loop over one pipelined connection.

    Requests share the connection: commands go out as they come, many to a system
    call, and replies come back in order, so Redis sees a pipeline and no request
    waits on a thread of its own (docs/benchmarks.md). Settings come from
    ``REDIS_URL`` and ``REDIS_TIMEOUT`` as for `make_client`, TLS options included. A
    command that could not be written is tried once more on a fresh connection; one
    that was written is never sent again. Under Sentinel, each new connection goes to
    the primary the sentinels name, and one that meets a replica or is lost gives way
    to a new one; with ``REDIS_WAIT_REPLICAS``, a write is followed by its ``WAIT``
    on the same connection.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        target = redis_target(config["REDIS_URL"])
        self.sentinels = target.nodes if target.mode == "sentinel" else ()
        self.service = target.service
        self.sentinel_password: str | None = config.get("REDIS_SENTINEL_PASSWORD")
        self.params = parse_url(target.node_url)
        self.timeout: float = config["REDIS_TIMEOUT"]
        self.replicas: int = config.get("REDIS_WAIT_REPLICAS", 0)
        self._wait = wait_command(self.replicas, self.timeout)
        # Made once: a bad certificate path fails at start, not per connection.
        self.tls = tls_context(self.params)
        self._pipe: Pipe | None = None
        # Connections retired with replies still due: closed by close() if need be.
        self._retired: set[Pipe] = set()
        self._connecting: asyncio.Lock | None = None

    async def run(self, call: Call) -> Any:
        """Run `call` as `BlockingClient.run` does, without blocking the loop."""
        if self.replicas and call.write:
            return await self._run_confirmed(call)
        try:
            reply = await self.command(call.args)
        except redis.exceptions.NoScriptError:
            reply = await self.command(call.fallback())
        if call.declares and (wider := call.widened(reply)) is not None:
            return await self._widen(wider)
        return call.result(reply)

    async def _run_confirmed(self, call: Call) -> Any:
        try:
            reply = await self._confirmed(call.args)
        except redis.exceptions.NoScriptError:
            reply = await self._confirmed(call.fallback())
        if call.declares and (wider := call.widened(reply)) is not None:
            return await self._widen(wider)
        return call.result(reply)

    async def _widen(self, call: Call) -> Any:
        """Run `call` again while its script asks for more keys (`Call.widened`)."""
        for _ in range(WIDEN_ROUNDS):
            if self.replicas and call.write:
                reply = await self._confirmed(call.args)
            else:
                reply = await self.command(call.args)
            wider = call.widened(reply)
            if wider is None:
                return call.result(reply)
            call = wider
        raise too_wide(call)

    async def _confirmed(self, args: Command) -> Any:
        """Run a write, then a WAIT on the same connection (WAIT counts the writes
        of its own connection only), shared with the writes sent with it
        (`Pipe.wait_after`); raise unless enough replicas confirm it.

        :raise redis.ConnectionError: too few replicas confirmed it, or no reply.
        """
        for attempt in (1, 2):
            pipe = await self._connection()
            try:
                done = pipe.send(args)
            except NotSent as exc:
                if attempt == 2:
                    raise redis.ConnectionError(*exc.args) from None
                continue
            acked = pipe.wait_after(self._wait)
            try:
                reply = await done
            except BaseException as exc:
                leave(acked)
                if isinstance(exc, NotSent) and attempt == 1:
                    continue
                if isinstance(exc, NotSent):
                    raise redis.ConnectionError(*exc.args) from None
                if isinstance(exc, redis.ResponseError):
                    self._refused(pipe, exc)
                raise
            try:
                count = await acked
            except redis.RedisError as exc:  # shared: a copy for this caller
                raise type(exc)(*exc.args) from None
            confirm(count, self.replicas)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    def drive(self, steps: Steps[T]) -> Coroutine[Any, Any, T]:
        """`BlockingClient.drive`, without blocking the loop: a step that is a
        list of calls runs them at once. (A plain function returning the driver's
        coroutine: one frame less per request.)"""
        return drive_steps_async(steps, self.run, self.run_each)

    async def run_each(self, calls: list[Call]) -> list[Any]:
        """Run `calls` at once, pipelined; their results in order, or the first
        error once every one is answered."""
        results = await asyncio.gather(
            *(self.run(call) for call in calls), return_exceptions=True
        )
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return results

    async def execute(self, *args: Any) -> Any:
        """Run one command and return its reply; error replies are raised.

        :raise redis.TimeoutError, redis.ConnectionError: no reply; it may have run.
        """
        return await self.command(args)

    async def command(self, args: Command) -> Any:
        """`execute`, the command given whole: its arguments, or packed."""
        try:
            return await self._send(args)
        except NotSent:
            pass
        try:  # once more, on a fresh connection
            return await self._send(args)
        except NotSent as exc:  # callers see redis-py's own errors
            raise redis.ConnectionError(*exc.args) from None

    async def _send(self, args: Command) -> Any:
        pipe = await self._connection()
        try:
            return await pipe.send(args)
        except redis.ResponseError as exc:
            self._refused(pipe, exc)
            raise

    def _refused(self, pipe: Pipe, exc: redis.ResponseError) -> None:
        """After an error reply: a connection that met a replica (or a primary that
        lost its own) gives way to a fresh one. Under Sentinel that is a failover
        under way, so the command fails as Redis being out of reach.

        :raise redis.ConnectionError: under Sentinel, for READONLY and MASTERDOWN.
        """
        if redis_refusal(exc) in DROP_AFTER:
            pipe.retire()
            if self.sentinels:
                raise redis.ConnectionError(f"primary changing: {exc}") from exc

    def close(self) -> None:
        """Close the connections (on their loop); the next command opens another."""
        pipes = [self._pipe, *self._retired]
        self._pipe = None
        self._retired.clear()
        for pipe in pipes:
            if pipe is not None and pipe.lost is None:
                pipe.fail(redis.ConnectionError("connection closed"))

    async def _connection(self) -> Pipe:
        pipe = self._pipe
        if pipe is not None and pipe.accepting:
            if pipe.loop is asyncio.get_running_loop():
                return pipe
            self._pipe = self._connecting = None  # made on a loop since closed
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection, however many ask at once
            if self._pipe is None or not self._pipe.accepting:
                self._retired = {p for p in self._retired if p.lost is None}
                replaced = self._pipe is not None
                if self._pipe is not None and self._pipe.lost is None:
                    self._retired.add(self._pipe)
                try:
                    self._pipe = await asyncio.wait_for(self._open(), self.timeout)
                except TimeoutError:
                    raise NotSent("cannot connect to redis in time") from None
                if replaced:
                    metrics.redis_reconnect()
        return self._pipe

    async def _open(self) -> Pipe:
        loop = asyncio.get_running_loop()
        params = self.params
        make = partial(Pipe, self.timeout)
        try:
            if "path" in params:
                _, pipe = await loop.create_unix_connection(make, params["path"])
            else:
                if self.sentinels:
                    host, port = await self._primary()
                else:
                    host = params.get("host", "localhost")
                    port = params.get("port", 6379)
                _, pipe = await loop.create_connection(make, host, port, ssl=self.tls)
        except OSError as exc:  # TLS failures too
            raise NotSent(f"cannot connect to redis: {exc}") from exc
        setup: list[tuple] = []
        if params.get("password"):
            user = params.get("username")
            setup.append(
                ("AUTH", user, params["password"])
                if user
                else ("AUTH", params["password"])
            )
        if params.get("db"):
            setup.append(("SELECT", params["db"]))
        if self.sentinels:
            # A sentinel may still name a primary that was demoted meanwhile.
            setup.append(("ROLE",))
        try:
            for command in setup:
                reply = await pipe.send(command)
        except redis.RedisError as exc:
            error = NotSent(f"redis refused the connection: {exc}")
            pipe.fail(error)
            raise error from exc
        if self.sentinels and reply[0] != b"master":
            error = NotSent("the primary the sentinels named is not one any more")
            pipe.fail(error)
            raise error
        return pipe

    async def _primary(self) -> tuple[str, int]:
        """The address of the primary, as the first sentinel that knows a healthy
        one names it (``SENTINEL MASTER``: not subjectively or objectively down).

        :raise NotSent: no sentinel names one.
        """
        loop = asyncio.get_running_loop()
        errors = []
        for host, port in self.sentinels:
            pipe = None
            try:
                _, pipe = await loop.create_connection(
                    partial(Pipe, self.timeout), host, port, ssl=self.tls
                )
                if self.sentinel_password:
                    await pipe.send(("AUTH", self.sentinel_password))
                reply = await pipe.send(("SENTINEL", "MASTER", self.service))
            except (OSError, redis.RedisError) as exc:
                errors.append(f"{host}:{port}: {exc}")
                continue
            finally:
                if pipe is not None and pipe.lost is None:
                    pipe.fail(redis.ConnectionError("sentinel asked"))
            state = dict(zip(reply[::2], reply[1::2], strict=True))
            flags = state.get(b"flags", b"").split(b",")
            if b"master" in flags and not {b"s_down", b"o_down"} & set(flags):
                return state[b"ip"].decode(), int(state[b"port"])
            errors.append(f"{host}:{port}: primary down")
        raise NotSent(f"no sentinel names a primary: {'; '.join(errors)}")


def make_pipelined(config: Mapping[str, Any]) -> PipelinedClient:
    """The `PipelinedClient` for ``REDIS_URL``'s mode: slot-aware on Redis Cluster."""
    if redis_target(config["REDIS_URL"]).mode == "cluster":
        from redisio.cluster import ClusterPipelinedClient  # it builds on this module

        return ClusterPipelinedClient(config)
    return PipelinedClient(config)
