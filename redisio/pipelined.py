"""The RSGI server's client: one pipelined Redis connection per event loop."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from functools import partial
from typing import Any, TypeVar

import hiredis
import redis
from redis.connection import parse_url

from core.errors import UNREACHABLE
from redisio.calls import Call, Steps

T = TypeVar("T")


def _error(reply: redis.ResponseError) -> redis.RedisError:
    """An error reply as the exception redis-py raises for it."""
    message = str(reply)
    if message.startswith("NOSCRIPT"):
        return redis.exceptions.NoScriptError(message)
    if message.startswith("LOADING"):
        return redis.exceptions.BusyLoadingError(message)
    return reply


class _Pipe(asyncio.Protocol):
    """A Redis connection that pipelines: commands go out together, replies in order.

    Commands sent while the loop runs one step are written with one system call at
    the end of it. A watchdog fails every pending command, and the connection, once
    the oldest has waited `timeout` seconds for its reply.
    """

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout = timeout
        self.reader = hiredis.Reader(replyError=redis.ResponseError)
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
        self.outgoing: list[bytes] = []
        self.transport: asyncio.Transport | None = None
        self.lost: redis.ConnectionError | redis.TimeoutError | None = None
        self.watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            waiter, _ = self.waiting.popleft()
            if waiter.done():  # its request went away
                continue
            if isinstance(reply, redis.ResponseError):
                waiter.set_exception(_error(reply))
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.ConnectionError(f"connection to redis lost: {exc}"))

    def fail(self, error: redis.ConnectionError | redis.TimeoutError) -> None:
        """Fail every pending command with `error` and close the connection."""
        if self.lost is None:
            self.lost = error
        while self.waiting:
            waiter, _ = self.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(self.lost)
        if self.transport is not None:
            self.transport.abort()

    def send(self, args: tuple) -> asyncio.Future:
        """Queue a command; the future gets its reply, or the error it met."""
        if self.lost is not None:
            raise self.lost
        waiter = self.loop.create_future()
        self.waiting.append((waiter, self.loop.time() + self.timeout))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(hiredis.pack_command(args))
        if self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout, self._check)
        return waiter

    def _flush(self) -> None:
        if self.lost is None and self.transport is not None:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def _check(self) -> None:
        self.watchdog = None
        if not self.waiting:
            return
        late = self.waiting[0][1] - self.loop.time()
        if late <= 0:  # replies come in order: the rest would wait behind it
            self.fail(redis.TimeoutError("redis did not answer in time"))
        else:
            self.watchdog = self.loop.call_later(late, self._check)


class PipelinedClient:
    """Commands of every request of one event loop over one pipelined connection.

    Requests share the connection: commands go out as they come, many to a system
    call, and replies come back in order, so Redis sees a pipeline and no request
    waits on a thread of its own (docs/benchmarks.md). Settings come from
    ``REDIS_URL`` and ``REDIS_TIMEOUT`` as for `make_client`; a call that cannot
    reach Redis, or gets no reply within the timeout, is retried once on a fresh
    connection.
    """

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.params = parse_url(config["REDIS_URL"])
        self.timeout: float = config["REDIS_TIMEOUT"]
        self._pipe: _Pipe | None = None
        self._connecting: asyncio.Lock | None = None

    async def run(self, call: Call) -> Any:
        """Run `call` as `BlockingClient.run` does, without blocking the loop."""
        try:
            reply = await self.execute(*call.args)
        except redis.exceptions.NoScriptError:
            reply = await self.execute(*call.fallback())
        return call.result(reply)

    async def drive(self, steps: Steps[T]) -> T:
        """`BlockingClient.drive`, without blocking the loop."""
        try:
            call = next(steps)
            while True:
                try:
                    result = await self.run(call)
                except Exception as exc:  # the steps may answer it
                    call = steps.throw(exc)
                else:
                    call = steps.send(result)
        except StopIteration as done:
            return done.value

    async def execute(self, *args: Any) -> Any:
        """Run one command and return its reply; error replies are raised."""
        try:
            return await self._attempt(args)
        except UNREACHABLE:
            return await self._attempt(args)

    async def _attempt(self, args: tuple) -> Any:
        pipe = await self._connection()
        try:
            return await pipe.send(args)
        except UNREACHABLE:
            self._drop(pipe)
            raise

    def close(self) -> None:
        """Close the connection (on its loop); the next command opens another."""
        if self._pipe is not None:
            self._drop(self._pipe)

    def _drop(self, pipe: _Pipe) -> None:
        if pipe.lost is None:
            pipe.fail(redis.ConnectionError("connection dropped"))
        if self._pipe is pipe:
            self._pipe = None

    async def _connection(self) -> _Pipe:
        pipe = self._pipe
        if pipe is not None and pipe.lost is None:
            if pipe.loop is asyncio.get_running_loop():
                return pipe
            self._pipe = self._connecting = None  # made on a loop since closed
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:  # one connection, however many ask at once
            if self._pipe is None or self._pipe.lost is not None:
                try:
                    self._pipe = await asyncio.wait_for(self._open(), self.timeout)
                except TimeoutError:
                    raise redis.TimeoutError(
                        "cannot connect to redis in time"
                    ) from None
        return self._pipe

    async def _open(self) -> _Pipe:
        loop = asyncio.get_running_loop()
        params = self.params
        make = partial(_Pipe, self.timeout)
        try:
            if "path" in params:
                _, pipe = await loop.create_unix_connection(make, params["path"])
            else:
                tls = None
                if params.get("connection_class") is redis.SSLConnection:
                    tls = ssl.create_default_context()
                    if params.get("ssl_cert_reqs") == "none":
                        tls.check_hostname = False
                        tls.verify_mode = ssl.CERT_NONE
                host, port = params.get("host", "localhost"), params.get("port", 6379)
                _, pipe = await loop.create_connection(make, host, port, ssl=tls)
        except OSError as exc:
            raise redis.ConnectionError(f"cannot connect to redis: {exc}") from exc
        setup = []
        if params.get("password"):
            user = params.get("username")
            setup.append(
                ("AUTH", user, params["password"])
                if user
                else ("AUTH", params["password"])
            )
        if params.get("db"):
            setup.append(("SELECT", params["db"]))
        try:
            for command in setup:
                await pipe.send(command)
        except redis.RedisError as exc:
            error = redis.ConnectionError(f"redis refused the connection: {exc}")
            pipe.fail(error)
            raise error from exc
        return pipe
