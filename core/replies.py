"""What handlers answer, and the routes the servers serve without Flask.

Service functions (stashes, silenced) return a `Reply`; Flask views turn it into a
response (`core.http.reply_response`), and the fast path into a whole `Answer`.
`FastRoutes` holds the routes served without Flask: each says which requests it
takes (`route`) and what they do (`steps`, a generator of Redis round trips), and
`handle` adds the one error table, so every fast route answers errors alike.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any, NamedTuple, Protocol

from core.errors import Answer, Body, as_api_error, render
from core.request import Request

_JSON = ("Content-Type", "application/json")


# Bytes a server is handed at a time of a body in parts: joining this much holds up
# an event loop for well under a millisecond.
PIECE = 1 << 20


class Reply(NamedTuple):
    """A successful answer: its JSON body (`Body`), and headers beyond the usual."""

    status: int
    body: Body = b""
    headers: tuple[tuple[str, str], ...] = ()


def size(body: Body) -> int:
    """The length in bytes of `body`, whole or in parts."""
    return len(body) if isinstance(body, bytes) else sum(map(len, body))


def pieces(body: Body) -> Iterator[bytes]:
    """`body` as a server sends it: whole, or its parts joined into pieces of about
    `PIECE` bytes (a part bigger than that goes alone)."""
    if isinstance(body, bytes):
        yield body
        return
    group: list[bytes] = []
    held = 0
    for part in body:
        if held and held + len(part) > PIECE:
            yield b"".join(group)
            group, held = [], 0
        group.append(part)
        held += len(part)
    if group:
        yield b"".join(group)


def answer(reply: Reply) -> Answer:
    """`reply` as status, headers and body (a HEAD reply keeps its body's size)."""
    status, body, extra = reply
    headers = [_JSON, *extra]
    # Most replies bring no headers of their own: skip the search for those.
    if status != 204 and not (extra and any(k == "Content-Length" for k, _ in extra)):
        headers.append(("Content-Length", str(size(body))))
    return status, headers, body


class FastRoute(Protocol):
    """Requests one API serves without Flask."""

    def route(self, method: str, path: str) -> str | None:
        """What `steps` needs of the path when this serves the request, else None."""
        ...

    def steps(self, request: Request, raw: str) -> Generator[Any, Any, Reply]:
        """What the request does, as Redis round trips; checks raise when driven."""
        ...

    def template(self, path: str) -> str:
        """The route template of a path this serves (``/stash/<path>``), for logs
        and metrics."""
        ...


class FastRoutes:
    """The fast routes of every API; the first that takes a request serves it."""

    __slots__ = ("routes",)

    def __init__(self, *routes: FastRoute) -> None:
        self.routes = routes

    def find(self, method: str, path: str) -> tuple[FastRoute, str] | None:
        """The route that serves this request and what it took of the path."""
        for route in self.routes:
            raw = route.route(method, path)
            if raw is not None:
                return route, raw
        return None

    def handle(
        self, request: Request, found: tuple[FastRoute, str]
    ) -> Generator[Any, Any, Answer]:
        """The answer to `request`, errors included, as steps for a client to drive.

        HEAD answers still carry their body: the server adapter drops it.
        """
        route, raw = found
        try:
            reply = yield from route.steps(request, raw)
        except Exception as exc:  # the one error table decides
            return render(as_api_error(exc, request.method, request.path), request.path)
        return answer(reply)
