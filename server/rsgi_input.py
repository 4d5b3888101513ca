"""A request Flask serves under RSGI, as WSGI wants it: its environ (`environ_of`)
and its body (`LoopInput`), received from granian on the event loop only as a view
reads it, so a request refused first (401, 404) never costs the server its body.
"""

from __future__ import annotations

import asyncio
import sys
from collections import deque
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

# Seconds a Flask thread waits for the next piece of a request body: a client that
# stops sending mid-body gets 400 then, and the thread is free for others.
BODY_WAIT = 10.0


class LoopInput:
    """``wsgi.input`` of an RSGI request, read on a Flask thread.

    Each read asks the event loop, once, for as many of the body's chunks as it
    wants: nothing is received before a view reads the body, nor past its limit.
    """

    def __init__(self, protocol: Any, loop: asyncio.AbstractEventLoop) -> None:
        self._protocol = protocol
        self._loop = loop
        self._chunks: Any = None  # granian's chunk iterator, made on the loop
        # Received, not read yet: bytes, and the rest of a chunk a read split.
        self._buffer: deque[bytes | memoryview] = deque()
        self._buffered = 0
        self._ended = False

    async def _receive(self, size: int) -> None:
        """Buffer chunks until `size` bytes are (all of them when negative).

        One trip to the loop per read, not one per chunk: granian's chunks are
        up to 400 KiB, and each trip costs both threads a wake-up.
        """
        if self._chunks is None:
            self._chunks = self._protocol.__aiter__()
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(BODY_WAIT) as waiting:
                while size < 0 or self._buffered < size:
                    try:
                        chunk = await self._chunks.__anext__()
                    except StopAsyncIteration:
                        chunk = b""
                    if not chunk:
                        self._ended = True
                        return
                    self._buffer.append(chunk)
                    self._buffered += len(chunk)
                    # The wait is for each chunk, not the whole read: a slow
                    # client that keeps sending is not cut off.
                    waiting.reschedule(loop.time() + BODY_WAIT)
        except TimeoutError:
            raise TimeoutError("the request body stopped arriving") from None

    def _wait(self, future: Future[None]) -> None:
        # The loop times out a stalled body; this is for a loop that stopped.
        while True:
            try:
                return future.result(BODY_WAIT)
            except FutureTimeout:
                if future.done():  # the loop's own timeout: the same exception
                    raise
                if not self._loop.is_running():
                    future.cancel()
                    raise TimeoutError("the request body stopped arriving") from None

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all that is left when negative); b"" at the end.

        :raise TimeoutError: no chunk came for BODY_WAIT seconds.
        :raise RuntimeError: granian's transport closed (the client went away).
        """
        if not self._ended and (size < 0 or self._buffered < size):
            self._wait(
                asyncio.run_coroutine_threadsafe(self._receive(size), self._loop)
            )
        buffer = self._buffer
        if 0 <= size < self._buffered:
            taken: list[bytes | memoryview] = []
            left = size
            while left:
                piece = buffer.popleft()
                if len(piece) > left:
                    # A view, so the rest of the chunk is not copied to be kept.
                    view = memoryview(piece)
                    buffer.appendleft(view[left:])
                    piece = view[:left]
                taken.append(piece)
                left -= len(piece)
            self._buffered -= size
        else:
            taken = list(buffer)
            buffer.clear()
            self._buffered = 0
        if len(taken) == 1 and isinstance(taken[0], bytes):
            return taken[0]  # a whole chunk: no copy
        return b"".join(taken)


def environ_of(scope: Any, path: str) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of an RSGI request, without ``wsgi.input``."""
    host, _, port = scope.server.rpartition(":")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": scope.query_string,
        "SERVER_NAME": host,
        "SERVER_PORT": port,
        "SERVER_PROTOCOL": f"HTTP/{scope.http_version}",
        "REMOTE_ADDR": scope.client.rpartition(":")[0],
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.scheme,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        # granian ends the input with the body: the app may read to its end.
        "wsgi.input_terminated": True,
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ
