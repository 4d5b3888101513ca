"""What granian serves under `make run`: stashd over RSGI, granian's own interface.

Under WSGI every request waits for Redis on a thread of its own, and on the machines
measured the thread switches around each wait cost more CPU than the request itself
(docs/benchmarks.md). Here the fast path's requests (stashes/fast.py: every stash
route) run on the worker's event loop instead, their Redis round trips pipelined with
the other requests' on one connection (redisio.pipelined.PipelinedClient). Every
other request goes, as a WSGI environ, to the same Flask app on a small thread pool.

Both kinds pass the same steps before routing (`Front.gate`), run the same service
functions and answer errors through the same table as under WSGI.
"""

from __future__ import annotations

import asyncio
import io
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Flask

from core.errors import Answer
from redisio.pipelined import PipelinedClient
from server.wsgi import Front, collapse_slashes
from stashes.fast import FastPath, answer, refusal

# Threads for the requests Flask serves (the assets API, /auth, /health, /info): they
# mostly wait on Redis, and a few let a slow one (a password check) not hold up the
# rest.
FLASK_THREADS = 8

# granian decodes the URL path to text, turning bytes that are not UTF-8 into U+FFFD.
# Turned back into such a byte, they get Front's 400 as they do under WSGI.
_REPLACEMENT = "\ufffd".encode()


# All that Front.gate and the fast path read of a request's headers.
_FAST_HEADERS = (
    ("authorization", "HTTP_AUTHORIZATION"),
    ("x-request-id", "HTTP_X_REQUEST_ID"),
    ("content-length", "CONTENT_LENGTH"),
)


def path_info(scope: Any) -> str:
    """The URL path as WSGI's PATH_INFO: its bytes as latin-1, leading "/" collapsed."""
    path = scope.path.encode().replace(_REPLACEMENT, b"\xff").decode("latin-1")
    return collapse_slashes(path)


def fast_environ(scope: Any, path: str) -> dict[str, Any]:
    """The part of a WSGI environ the fast path reads; cheaper than `environ_of`."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope.method,
        "PATH_INFO": path,
        "QUERY_STRING": scope.query_string,
        "wsgi.input_terminated": True,
    }
    headers = scope.headers
    for name, key in _FAST_HEADERS:
        value = headers.get(name)
        if value is not None:
            environ[key] = value
    return environ


def environ_of(scope: Any, path: str) -> dict[str, Any]:
    """The WSGI environ (PEP 3333) of an RSGI request, without its body."""
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
        # The body is read whole before the app runs: the app may read to its end.
        "wsgi.input_terminated": True,
    }
    for name, value in scope.headers.items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = f"{environ[key]},{value}" if key in environ else value
    return environ


async def receive(protocol: Any, declared: str | None, limit: int) -> io.BytesIO:
    """The request body as a file, at most `limit` + 1 bytes of it.

    That is enough for `web.read_body` to tell a body over the limit, and nothing is
    read when the declared length is already over it.
    """
    if declared and declared.isascii() and declared.isdigit():
        # Known to fit: one await for all of it (each await wakes the loop).
        return io.BytesIO(await protocol() if int(declared) <= limit else b"")
    chunks: list[bytes] = []
    size = 0
    async for chunk in protocol:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return io.BytesIO(b"".join(chunks))


class RSGIApp:
    """An RSGI application (granian's ``--interface rsgi``) around the Flask app."""

    def __init__(self, app: Flask) -> None:
        self.front: Front = app.wsgi_app  # type: ignore[assignment]
        self.fast: FastPath | None = self.front.fast  # type: ignore[assignment]
        self.redis = PipelinedClient(app.config)
        self.max_body: int = app.config["MAX_BODY_BYTES"]
        self.max_any_body = max(self.max_body, app.config["API_REQUEST_LIMIT"])
        self.pool = ThreadPoolExecutor(FLASK_THREADS, thread_name_prefix="flask")

    def __rsgi_del__(self, loop: asyncio.AbstractEventLoop) -> None:
        """granian stops the worker: close its Redis connection and thread pool."""
        self.redis.close()
        self.pool.shutdown(wait=False)

    async def __rsgi__(self, scope: Any, protocol: Any) -> None:
        method, path = scope.method, path_info(scope)
        raw = self.fast.route(method, path) if self.fast is not None else None
        if raw is None:
            status, headers, body = await self._flask(environ_of(scope, path), protocol)
        else:
            environ = fast_environ(scope, path)
            extra, early = self.front.gate(environ)
            status, headers, body = early or await self._fast(environ, raw, protocol)
            headers = headers + extra
        protocol.response_bytes(status, headers, b"" if method == "HEAD" else body)

    async def _fast(self, environ: dict[str, Any], raw: str, protocol: Any) -> Answer:
        assert self.fast is not None
        method = environ["REQUEST_METHOD"]
        try:
            if method == "POST":
                environ["wsgi.input"] = await receive(
                    protocol, environ.get("CONTENT_LENGTH"), self.max_body
                )
            steps = self.fast.steps(environ, raw)
            return answer(await self.redis.drive(steps), method)
        except Exception as exc:  # noqa: BLE001 - the one error table decides
            return refusal(exc, method, environ["PATH_INFO"])

    async def _flask(self, environ: dict[str, Any], protocol: Any) -> Answer:
        environ["wsgi.input"] = await receive(
            protocol, environ.get("CONTENT_LENGTH"), self.max_any_body
        )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.pool, self._call_wsgi, environ)

    def _call_wsgi(self, environ: dict[str, Any]) -> Answer:
        answered: list[Any] = []

        def start_response(status: str, headers: list, exc_info: Any = None) -> None:
            answered[:] = [int(status[:3]), headers]

        chunks = self.front(environ, start_response)
        try:
            body = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        return answered[0], answered[1], body
