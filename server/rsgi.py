"""What granian serves under `make run`: stashd over RSGI, granian's own interface.

Under WSGI every request waits for Redis on a thread of its own, and on the machines
measured the thread switches around each wait cost more CPU than the request itself
(docs/benchmarks.md). Here the fast routes (the stash routes and the silenced
match, core/replies.py) run on the worker's event loop instead, their Redis round
trips pipelined with the other requests' on one connection
(redisio.pipelined.PipelinedClient). Every other request goes, as a WSGI environ,
to the same Flask app (and its `Front`) on a small thread pool; its body stays with
granian until a view reads it (`server.rsgi_input`), so a request refused before
that (401, 404) never costs the server its body.

Fast-path requests become an `RSGIRequest` that passes the same gate, and the same
`FastRoutes.handle` steps, as under WSGI. Every answer written here drops its body for
HEAD; a body in parts (a list of big stashes) goes out a piece at a time.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from time import monotonic, perf_counter
from typing import Any

from flask import Flask

from core.errors import Body
from core.files import FileBody, StreamBody
from core.gate import PENDING
from core.http import CLOSE_KEY
from core.logs import request_id
from core.park import PARK_KEY, RECHECK, Park
from core.replies import pieces
from core.request import RSGIRequest
from redisio.calls import Call
from redisio.pipe import discard
from redisio.pipelined import make_pipelined
from redisio.wire import Command
from server.rsgi_input import LoopInput, environ_of
from server.wsgi import Front

log = logging.getLogger(__name__)

# Threads for the requests Flask serves (the assets API, /auth, /health, /info): they
# mostly wait on Redis, and a few let a slow one (a password check) not hold up the
# rest.
FLASK_THREADS = 8
# What a parked request "answers" once its client went away (nginx's status for
# that): nobody reads it.
CLIENT_GONE: tuple[int, list, Body] = (499, [], b"")
# Seconds a parked request's poll reply is shared with the others polling the same
# record: they wake together (`RSGIApp._park`), so this only needs to cover one
# turn of the loop.
POLL_SHARED_FOR = 0.02


class RSGIApp:
    """An RSGI application (granian's ``--interface rsgi``) around the Flask app."""

    def __init__(self, app: Flask) -> None:
        self.front: Front = app.wsgi_app  # type: ignore[assignment]
        self.gate = self.front.gate
        self.fast = self.front.fast
        self.observer = self.front.observer
        self.redis = make_pipelined(app.config)
        self.max_body: int = app.config["MAX_BODY_BYTES"]
        self.pool = ThreadPoolExecutor(FLASK_THREADS, thread_name_prefix="flask")
        # The poll of parked requests in flight, by command (`_poll`).
        self._polls: dict[Command, asyncio.Future[Any]] = {}

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian stops the worker: close its Redis connection and thread pool."""
        self.redis.close()
        self.pool.shutdown(wait=False)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        started = perf_counter()
        request = RSGIRequest(scope)
        method, fast = request.method, self.fast
        found = fast.find(method, request.path) if fast is not None else None
        body: Body
        if found is None or fast is None:  # (without a fast path, found is None)
            # Front observes these, on the Flask thread.
            status, headers, answered = await self._flask_parking(
                scope, request.path, protocol
            )
            if isinstance(answered, FileBody):
                self._send_file(protocol, status, headers, answered, method)
                return
            if isinstance(answered, StreamBody):
                await self._send_stream(protocol, status, headers, answered, method)
                return
            body = answered
        else:
            extra, answer = self.gate.check(request, wait=False)
            observer = self.observer
            if observer is not None and observer.tags:
                request_id.set(extra[0][1])
            if answer is PENDING:  # credentials that need Redis or a password hash
                answer = await self.gate.settle(request, self.redis)
            if answer is None:
                if method == "POST":  # the steps wait on Redis only: receive it first
                    await request.receive(protocol, self.max_body)
                answer = await self.redis.drive(fast.handle(request, found))
            status, headers, body = answer
            headers = headers + extra
            if observer is not None:
                if isinstance(body, bytes) or method == "HEAD":
                    protocol.response_bytes(
                        status, headers, b"" if method == "HEAD" else body
                    )
                else:
                    await self._stream(protocol, status, headers, body)
                route = found[0].template(request.path)
                client = request.peer() if observer.access else ""
                observer.done(started, method, route, status, extra[0][1], client)
                return
        if isinstance(body, bytes) or method == "HEAD":
            protocol.response_bytes(status, headers, b"" if method == "HEAD" else body)
        else:
            await self._stream(protocol, status, headers, body)

    @staticmethod
    async def _stream(
        protocol: Any, status: int, headers: list, body: list[bytes]
    ) -> None:
        """A big body, a piece at a time, the loop free for others in between."""
        transport = protocol.response_stream(status, headers)
        for piece in pieces(body):
            await transport.send_bytes(piece)
            # granian takes a piece without making the loop wait: give the other
            # requests their turn between pieces.
            await asyncio.sleep(0)

    @staticmethod
    def _send_file(
        protocol: Any, status: int, headers: list, body: FileBody, method: str
    ) -> None:
        """Let granian send the file from disk: no byte passes through Python."""
        body.close()  # granian opens the path itself
        if method == "HEAD":
            protocol.response_bytes(status, headers, b"")
        else:
            end = body.offset + body.length
            protocol.response_file_range(status, headers, body.path, body.offset, end)

    async def _send_stream(
        self, protocol: Any, status: int, headers: list, body: StreamBody, method: str
    ) -> None:
        """A body made as it goes (a bundle): each piece made on a Flask thread,
        sent from the loop, so no more than one piece is held at a time."""
        loop = asyncio.get_running_loop()
        try:
            if method == "HEAD":
                protocol.response_bytes(status, headers, b"")
                return
            transport = protocol.response_stream(status, headers)
            while True:
                piece = await loop.run_in_executor(self.pool, body.next_piece)
                if piece is None:
                    break
                await transport.send_bytes(piece)
        except Exception:  # the client left, or a file went: the stream ends short
            log.exception("a streamed answer ended early")
        finally:
            await loop.run_in_executor(self.pool, body.close)

    async def _flask_parking(
        self, scope: Any, path: str, protocol: Any
    ) -> tuple[int, list, Body | FileBody | StreamBody]:
        """`_flask`, the view free to hand its wait to the loop (core/park.py):
        the request is sent to Flask again once it is over (its body is not).
        A client that leaves meanwhile ends the wait: nobody is left to answer."""
        park = Park()
        gone: asyncio.Future[Any] | None = None
        try:
            while True:
                answer = await self._flask(scope, path, protocol, {PARK_KEY: park})
                if not park.held:
                    return answer
                if gone is None:
                    gone = asyncio.ensure_future(protocol.client_disconnect())
                if not await self._park(park, gone):
                    self._observe_gone(scope.method, park)
                    return CLIENT_GONE
        finally:
            if gone is not None:
                discard(gone)

    def _observe_gone(self, method: str, park: Park) -> None:
        """Count and log a parked request whose client left, as 499: no dispatch
        answered it, so Front did not."""
        if self.observer is not None and park.observed is not None:
            route, rid, client = park.observed
            self.observer.done(park.since, method, route, CLIENT_GONE[0], rid, client)

    async def _park(self, park: Park, gone: asyncio.Future[Any]) -> bool:
        """Wait on the loop until the view's test of its round trip holds, or its
        deadline or `RECHECK` comes, polling Redis with backoff; False when the
        client went away first (`gone`).

        Polls fall on multiples of the pause, so the requests parked on one
        archive, once at the longest pause, poll together and share a round trip.
        """
        ready, poll = park.ready, park.poll
        assert ready is not None
        until = min(park.deadline or 0.0, monotonic() + RECHECK)
        pause = 0.02
        try:
            while (left := until - monotonic()) > 0:
                wake = pause - monotonic() % pause
                if wake < pause / 2:  # not twice in a moment: the next one
                    wake += pause
                await asyncio.wait((gone,), timeout=min(wake, left))
                if gone.done():
                    return False
                pause = min(pause * 1.5, 0.25)
                if ready(None if poll is None else await self._poll(poll)):
                    return True
        except Exception:  # Redis away: the view finds out and answers
            log.warning("a parked request stopped waiting", exc_info=True)
        finally:
            park.release()
        return True

    async def _poll(self, poll: Call) -> Any:
        """The result of `poll`, one round trip for every parked request that polls
        the same command at the same moment. Callers only test it."""
        shared = self._polls.get(poll.args)
        if shared is None:
            shared = asyncio.ensure_future(self.redis.run(poll))
            self._polls[poll.args] = shared
            loop = asyncio.get_running_loop()
            shared.add_done_callback(
                lambda done: loop.call_later(
                    POLL_SHARED_FOR, self._forget_poll, poll.args, done
                )
            )
        # A waiter cancelled (its worker stopping) leaves the others' round trip.
        return await asyncio.shield(shared)

    def _forget_poll(self, args: Command, done: asyncio.Future[Any]) -> None:
        if self._polls.get(args) is done:
            del self._polls[args]
        if not done.cancelled():
            done.exception()  # seen by its waiters, if any were left: not logged

    async def _flask(
        self,
        scope: Any,
        path: str,
        protocol: Any,
        extra: dict[str, Any] | None = None,
    ) -> tuple[int, list, Body | FileBody | StreamBody]:
        environ = environ_of(scope, path)
        if extra:
            environ.update(extra)
        loop = asyncio.get_running_loop()
        # The gate and credentials come first: the view reads the body, if at all.
        environ["wsgi.input"] = LoopInput(protocol, loop)
        return await loop.run_in_executor(self.pool, self._call_wsgi, environ)

    def _call_wsgi(
        self, environ: dict[str, Any]
    ) -> tuple[int, list, Body | FileBody | StreamBody]:
        answered: list[Any] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            answered[:] = [int(status[:3]), headers]

        chunks = self.front(environ, start_response)
        if environ.get(CLOSE_KEY):
            # granian closes the connection after a response that says so, and
            # reads no more of the request body.
            answered[1] = [*answered[1], ("connection", "close")]
        if isinstance(chunks, FileBody | StreamBody):  # sent as it goes, below
            return answered[0], answered[1], chunks
        try:
            parts = list(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answered[0], answered[1], b"".join(parts) if len(parts) < 2 else parts
