"""The request value that the gate and the fast path read, whichever server runs them.

Each server adapter builds one per request: `WSGIRequest` over a WSGI environ
(server/wsgi.py), `RSGIRequest` over granian's RSGI scope (server/rsgi.py). Headers
are looked up in the server's own store, so whatever the gate reads is there under
both servers, and bodies follow one set of rules (`read_limited`): read only when a
handler asks, never past the route's limit, and refused when they end early.
"""

from __future__ import annotations

import io
from typing import Any, Protocol

from core.errors import BadRequest, PayloadTooLarge

# granian decodes the URL path to text, turning bytes that are not UTF-8 into U+FFFD.
# Turned back into such a byte, they get the gate's 400 as they do under WSGI.
_REPLACEMENT = "\ufffd".encode()


# A body that ends before its Content-Length (spec stashes.md 17.1).
INCOMPLETE = "request body is incomplete"


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


def collapse_slashes(path: str) -> str:
    """A run of "/" at the start of a URL path counts as one (spec stashes.md 4.2).

    sensu-plugin-python 0.8.0 asks for //stash/...; it is served, with no redirect.
    """
    return "/" + path.lstrip("/") if path.startswith("//") else path


def exceeds(digits: str, limit: int) -> bool:
    """True when the decimal `digits` say more than `limit`, however many there are.

    (int() refuses more than 4,300 digits, so longer ones are compared as text.)
    """
    significant = digits.lstrip("0")
    return len(significant) > len(str(limit)) or int(significant or "0") > limit


def read_limited(
    declared: str | None, terminated: bool, stream: Readable | None, limit: int
) -> bytes:
    """A body of at most `limit` bytes from `stream`, `declared` long or chunked.

    `terminated`: the stream ends with the body, so one without a length (chunked)
    is read to its end; otherwise such a body is empty.

    :raise PayloadTooLarge: the body is larger; nothing past `limit` + 1 is read.
    :raise BadRequest: the Content-Length header is not a number, or the body ended
        (or the client went away) before it was whole.
    """
    if declared:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("Content-Length is not a number")
        if exceeds(declared, limit):
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        wanted = int(declared.lstrip("0") or "0")
    elif terminated:
        wanted = limit + 1  # chunked: read until the end, or one byte past the limit
    else:
        return b""
    chunks = []
    while wanted > 0:
        try:
            chunk = stream.read(wanted)  # type: ignore[union-attr]
        # Each server says in its own way that the body cannot be read whole: the
        # client went away (gunicorn's NoMoreData, a reset socket, granian's closed
        # transport) or its chunked framing broke off (gunicorn's ParseException).
        except Exception as exc:
            raise BadRequest(INCOMPLETE) from exc
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    if declared and wanted > 0:
        raise BadRequest(INCOMPLETE)
    body = b"".join(chunks)
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body


def read_body(environ: dict, limit: int) -> bytes:
    """The body of a WSGI request by `read_limited`'s rules, from ``wsgi.input``.

    Flask views call it too, so they and the fast path read bodies alike.
    """
    return read_limited(
        environ.get("CONTENT_LENGTH"),
        environ.get("wsgi.input_terminated", False),
        environ.get("wsgi.input"),
        limit,
    )


class Request:
    """One request as the gate and the fast path see it.

    `path` is WSGI's PATH_INFO (the URL path's bytes as latin-1 text, a leading run
    of "/" collapsed) and `query` its QUERY_STRING (latin-1 text too), both servers.
    """

    __slots__ = ("method", "path", "query")

    method: str
    path: str
    query: str

    def header(self, name: str) -> str | None:
        """The value of the header `name` (in lower case), or None without one."""
        raise NotImplementedError

    def body(self, limit: int) -> bytes:
        """The body, of at most `limit` bytes, by `read_limited`'s rules.

        :raise PayloadTooLarge: :raise BadRequest: as `read_limited`.
        """
        raise NotImplementedError

    def origin(self) -> str:
        """``<scheme>://<host>`` the client asked for: the scheme the server speaks
        and the Host header (the address served on without one)."""
        raise NotImplementedError

    def peer(self) -> str:
        """The IP address of the connection's other end: the client, or a proxy."""
        raise NotImplementedError

    def forwarded_for(self) -> str | None:
        """Every X-Forwarded-For header's value, in order, joined by commas."""
        raise NotImplementedError


# Header name -> environ key; names come from stashd's code, so this stays small.
_ENVIRON_KEYS = {"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"}


class WSGIRequest(Request):
    """A request of a WSGI server, read from its environ (PEP 3333)."""

    __slots__ = ("environ",)

    def __init__(self, environ: dict) -> None:
        self.environ = environ
        self.method = environ["REQUEST_METHOD"]
        self.path = collapse_slashes(environ.get("PATH_INFO") or "/")
        self.query = environ.get("QUERY_STRING", "")

    def header(self, name: str) -> str | None:
        key = _ENVIRON_KEYS.get(name)
        if key is None:
            key = _ENVIRON_KEYS[name] = "HTTP_" + name.upper().replace("-", "_")
        return self.environ.get(key)

    def body(self, limit: int) -> bytes:
        return read_body(self.environ, limit)

    def origin(self) -> str:
        environ = self.environ
        host = environ.get("HTTP_HOST")
        if not host:
            host = f"{environ.get('SERVER_NAME', '')}:{environ.get('SERVER_PORT', '')}"
        return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"

    def peer(self) -> str:
        return self.environ.get("REMOTE_ADDR") or ""

    def forwarded_for(self) -> str | None:
        return self.environ.get("HTTP_X_FORWARDED_FOR")  # servers join repeats


async def receive(protocol: Any, declared: str | None, limit: int) -> bytes:
    """An RSGI request's body, at most `limit` + 1 bytes of it.

    That is enough for `read_limited` to tell a body over the limit, and nothing is
    read when the declared length is already over it.
    """
    if declared and declared.isascii() and declared.isdigit():
        # Known to fit: one await for all of it (each await wakes the loop).
        return b"" if exceeds(declared, limit) else await protocol()
    chunks: list[bytes] = []
    size = 0
    async for chunk in protocol:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            break
    return b"".join(chunks)


class RSGIRequest(Request):
    """A request of granian's RSGI interface, read from its scope.

    Its body is received on the event loop (`receive`) before `body` reads it.
    """

    __slots__ = ("scope", "headers", "received", "failed")

    def __init__(self, scope: Any) -> None:
        path = scope.path
        if not path.isascii():  # ASCII is the same as bytes and as latin-1 text
            path = path.encode().replace(_REPLACEMENT, b"\xff").decode("latin-1")
        self.method = scope.method
        self.path = collapse_slashes(path)
        self.query = scope.query_string
        self.scope = scope
        self.headers = scope.headers
        self.received: bytes | None = None
        self.failed: Exception | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    async def receive(self, protocol: Any, limit: int) -> None:
        """Receive the body for `body`, which may then ask for up to `limit` bytes.

        A body cut short (granian's transport closed) is raised by `body` as 400,
        where the fast path turns errors into answers.
        """
        try:
            self.received = await receive(
                protocol, self.headers.get("content-length"), limit
            )
        except Exception:  # raised by body()
            self.failed = BadRequest(INCOMPLETE)

    def body(self, limit: int) -> bytes:
        if self.received is None:
            raise self.failed or RuntimeError("the body is read before it is received")
        declared = self.headers.get("content-length")
        return read_limited(declared, True, io.BytesIO(self.received), limit)

    def origin(self) -> str:
        scope = self.scope
        # HTTP/2 names the host in :authority, which granian keeps apart.
        host = self.headers.get("host") or getattr(scope, "authority", None)
        return f"{scope.scheme}://{host or scope.server}"

    def peer(self) -> str:
        return self.scope.client.rpartition(":")[0].strip("[]")

    def forwarded_for(self) -> str | None:
        # headers.get gives the first only; a proxy may have added another.
        values = [v for k, v in self.headers.items() if k == "x-forwarded-for"]
        return ",".join(values) if values else None
