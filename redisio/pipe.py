"""A pipelined Redis connection on an event loop (`Pipe`), and what opening one
takes: the TLS settings of a ``rediss://`` URL."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from collections.abc import Mapping
from typing import Any

import hiredis
import redis
from redis._parsers.base import BaseParser

from redisio.clients import NotSent
from redisio.wire import Command


def _error(reply: redis.ResponseError) -> redis.RedisError:
    """An error reply as the exception redis-py raises for it (NoScriptError, ...)."""
    return BaseParser.parse_error(str(reply))


def _copy(error: redis.RedisError) -> redis.RedisError:
    # One instance per waiter: an exception raised in several tasks would gather
    # all their tracebacks.
    return type(error)(*error.args)


class Pipe(asyncio.Protocol):
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
        # The WAIT to write after the commands queued now, shared by the writes
        # among them that want confirming (`wait_after`), and its arguments.
        self.pending_wait: asyncio.Future | None = None
        self.wait_args: tuple = ()

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
        if self.pending_wait is not None:
            if not self.pending_wait.done():
                self.pending_wait.set_exception(NotSent(f"not sent: {self.lost}"))
            self.pending_wait = None
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

    def send(self, args: Command) -> asyncio.Future:
        """Queue a command (its arguments, or packed); the future gets its reply,
        or the error it met.

        :raise NotSent: the connection takes no more commands.
        """
        if not self.accepting:
            raise NotSent(f"not sent: {self.lost or 'connection retired'}")
        # Packed before it is queued: a command that cannot be packed must not leave
        # a waiter behind, which would take the reply of the next one.
        command = args if isinstance(args, bytes) else hiredis.pack_command(args)
        waiter = self.loop.create_future()
        self.waiting.append((waiter, self.loop.time() + self.timeout))
        if not self.outgoing:
            self.loop.call_soon(self._flush)
        self.outgoing.append(command)
        if self.watchdog is None:
            self.watchdog = self.loop.call_later(self.timeout, self._check)
        return waiter

    def wait_after(self, args: tuple) -> asyncio.Future:
        """A WAIT (`args`) written after every command queued so far, and shared by
        every caller until then: WAIT counts all the earlier writes of its
        connection, and Redis holds the connection while it waits, so one WAIT
        per write would hold every other request behind each in turn.

        :raise NotSent: the connection takes no more commands.
        """
        if not self.accepting:
            raise NotSent(f"not sent: {self.lost or 'connection retired'}")
        if self.pending_wait is None:
            self.pending_wait = self.loop.create_future()
            self.wait_args = args
            if not self.outgoing:
                self.loop.call_soon(self._flush)
        return self.pending_wait

    def _flush(self) -> None:
        waiter = self.pending_wait
        if waiter is not None and self.lost is None:
            self.pending_wait = None
            self.waiting.append((waiter, self.loop.time() + self.timeout))
            self.outgoing.append(hiredis.pack_command(self.wait_args))
            if self.watchdog is None:
                self.watchdog = self.loop.call_later(self.timeout, self._check)
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


def leave(waiter: asyncio.Future) -> None:
    """Stop waiting for a reply others may share: not cancelled, but its error,
    if one comes, is taken (none is left unretrieved)."""
    if waiter.done():
        if not waiter.cancelled():
            waiter.exception()
    else:
        waiter.add_done_callback(lambda f: f.cancelled() or f.exception())


def discard(waiter: asyncio.Future) -> None:
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
