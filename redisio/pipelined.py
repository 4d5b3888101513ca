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
from redis._parsers.base import BaseParser
from redis.connection import parse_url

from core import metrics
from core.errors import redis_refusal
from core.settings import redis_target
from redisio.calls import WIDEN_ROUNDS, Call, Steps, too_wide
from redisio.clients import DROP_AFTER, NotSent, confirm, wait_command

T = TypeVar("T")


def _error(reply: redis.ResponseError) -> redis.RedisError:
    """An error reply as the exception redis-py raises for it (NoScriptError, ...)."""
    return BaseParser.parse_error(str(reply))


def _copy(error: redis.RedisError) -> redis.RedisError:
    # One instance per waiter: an exception raised in several tasks would gather
    # all their tracebacks.
    return type(error)(*error.args)


class _Pipe(asyncio.Protocol):
    """A Redis connection that pipelines: commands go out together, replies in order.

    Commands sent while the loop runs one step are written with one system call at
    the end of it. A watchdog fails each command whose reply is `timeout` seconds
    late; the connection then takes no new commands, and closes once the rest are
    answered or late too.
    """

    def __init__(self, timeout: float) -> None:
        self.loop = asyncio.get_running_loop()
        self.timeout = timeout
        self.reader = hiredis.Reader(replyError=redis.ResponseError)
        # Commands written or about to be, in order; the last len(outgoing) of them
        # are not written yet.
        self.waiting: deque[tuple[asyncio.Future, float]] = deque()
        self.outgoing: list[bytes] = []
        # Replies still due to commands the watchdog failed: read and dropped.
        self.skip = 0
        self.accepting = True  # False once retired or lost: new commands go elsewhere
        self.transport: asyncio.Transport | None = None
        self.lost: redis.ConnectionError | None = None
        self.watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        while (reply := self.reader.gets()) is not False:
            if self.skip:
                self.skip -= 1
                continue
            waiter, _ = self.waiting.popleft()
            if waiter.done():  # its request went away
                continue
            if isinstance(reply, redis.ResponseError):
                waiter.set_exception(_error(reply))
            else:
                waiter.set_result(reply)
        if not self.accepting and not self.waiting:
            self.fail(redis.ConnectionError("retired connection closed"))

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(redis.ConnectionError(f"connection to redis lost: {exc}"))

    def fail(self, error: redis.ConnectionError) -> None:
        """Close the connection: commands written get `error` (they may have run),
        those not written yet `NotSent`."""
        if self.lost is None:
            self.lost = error
        self.accepting = False
        written = len(self.waiting) - len(self.outgoing)
        for i, (waiter, _) in enumerate(self.waiting):
            if not waiter.done():
                if i < written:
                    waiter.set_exception(_copy(self.lost))
                else:
                    waiter.set_exception(NotSent(f"not sent: {self.lost}"))
        self.waiting.clear()
        self.outgoing.clear()
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None
        if self.transport is not None:
            self.transport.abort()

    def retire(self) -> None:
        """Take no new commands; close once those sent are answered."""
        self.accepting = False
        if not self.waiting:
            self.fail(redis.ConnectionError("retired connection closed"))

    def send(self, args: tuple) -> asyncio.Future:
        """Queue a command; the future gets its reply, or the error it met.

        :raise NotSent: the connection takes no more commands.
        """
        if not self.accepting:
            raise NotSent(f"not sent: {self.lost or 'connection retired'}")
        # Packed before it is queued: a command that cannot be packed must not leave
        # a waiter behind, which would take the reply of the next one.
        command = hiredis.pack_command(args)
        waiter = self.loop.create_future()
        self.waiting.append((waiter, self.loop.time() + self.timeout))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(command)
        if self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout, self._check)
        return waiter

    def _flush(self) -> None:
        if self.lost is None and self.transport is not None:
            self.transport.write(b"".join(self.outgoing))
        self.outgoing.clear()

    def _check(self) -> None:
        """Fail the commands whose reply is late, and only those.

        Replies come in order, so the rest wait behind a late one; each keeps its own
        deadline, and the connection takes no new commands.
        """
        self.watchdog = None
        waiting = self.waiting
        now = self.loop.time()
        while waiting and waiting[0][1] <= now:
            waiter, _ = waiting.popleft()
            self.skip += 1
            self.accepting = False
            if not waiter.done():
                late = "redis did not answer in time; the command may have run"
                waiter.set_exception(redis.TimeoutError(late))
        if waiting:
            self.watchdog = self.loop.call_later(waiting[0][1] - now, self._check)
        elif not self.accepting:
            self.fail(redis.ConnectionError("retired connection closed"))


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
        self._pipe: _Pipe | None = None
        # Connections retired with replies still due: closed by close() if need be.
        self._retired: set[_Pipe] = set()
        self._connecting: asyncio.Lock | None = None

    async def run(self, call: Call) -> Any:
        """Run `call` as `BlockingClient.run` does, without blocking the loop."""
        if self.replicas and call.write:
            return await self._run_confirmed(call)
        try:
            reply = await self.execute(*call.args)
        except redis.exceptions.NoScriptError:
            reply = await self.execute(*call.fallback())
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
                reply = await self.execute(*call.args)
            wider = call.widened(reply)
            if wider is None:
                return call.result(reply)
            call = wider
        raise too_wide(call)

    async def _confirmed(self, args: tuple) -> Any:
        """Run a write and its WAIT back to back on one connection (WAIT counts the
        writes of its own connection only); raise unless enough replicas confirm it.

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
            acked = pipe.send(self._wait)
            try:
                reply = await done
            except BaseException as exc:
                _discard(acked)
                if isinstance(exc, NotSent) and attempt == 1:
                    continue
                if isinstance(exc, NotSent):
                    raise redis.ConnectionError(*exc.args) from None
                if isinstance(exc, redis.ResponseError):
                    self._refused(pipe, exc)
                raise
            confirm(await acked, self.replicas)
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

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
        """Run one command and return its reply; error replies are raised.

        :raise redis.TimeoutError, redis.ConnectionError: no reply; it may have run.
        """
        try:
            return await self._send(args)
        except NotSent:
            pass
        try:  # once more, on a fresh connection
            return await self._send(args)
        except NotSent as exc:  # callers see redis-py's own errors
            raise redis.ConnectionError(*exc.args) from None

    async def _send(self, args: tuple) -> Any:
        pipe = await self._connection()
        try:
            return await pipe.send(args)
        except redis.ResponseError as exc:
            self._refused(pipe, exc)
            raise

    def _refused(self, pipe: _Pipe, exc: redis.ResponseError) -> None:
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

    async def _connection(self) -> _Pipe:
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

    async def _open(self) -> _Pipe:
        loop = asyncio.get_running_loop()
        params = self.params
        make = partial(_Pipe, self.timeout)
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
                    partial(_Pipe, self.timeout), host, port, ssl=self.tls
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


def _discard(waiter: asyncio.Future) -> None:
    """Leave a reply nobody will read: cancelled while due, else its error taken."""
    if not waiter.done():
        waiter.cancel()
    elif not waiter.cancelled():
        waiter.exception()


def tls_context(params: Mapping[str, Any]) -> ssl.SSLContext | None:
    """The TLS settings of a parsed ``rediss://`` URL as redis-py applies them, or
    None for a URL without TLS (``ssl_ca_certs``, ``ssl_certfile``, ...)."""
    if params.get("connection_class") is not redis.SSLConnection:
        return None
    # redis-py's own connection reads the options (names, defaults, "none" and
    # friends), so both clients agree on them.
    options = redis.SSLConnection(
        **{k: v for k, v in params.items() if k != "connection_class"}
    )
    context = ssl.create_default_context()
    context.check_hostname = options.check_hostname
    context.verify_mode = options.cert_reqs
    for flag in options.ssl_include_verify_flags or ():
        context.verify_flags |= flag
    for flag in options.ssl_exclude_verify_flags or ():
        context.verify_flags &= ~flag
    if options.certfile or options.keyfile:
        context.load_cert_chain(
            options.certfile, options.keyfile, options.certificate_password
        )
    if options.ca_certs or options.ca_path or options.ca_data:
        context.load_verify_locations(
            options.ca_certs, options.ca_path, options.ca_data
        )
    if options.ssl_min_version is not None:
        context.minimum_version = options.ssl_min_version
    if options.ssl_ciphers:
        context.set_ciphers(options.ssl_ciphers)
    return context
