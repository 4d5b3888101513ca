"""The fast path: the hot stash routes served without Flask.

Handlers ask "is this silenced?" thousands of times a minute, and Flask's request
machinery costs more CPU than the Redis call behind the answer (docs/benchmarks.md).
`Front` hands these requests here after its request ID, CORS and auth steps:

    GET, HEAD, POST, DELETE  /stash/<path>, /stashes/<path>
    GET, HEAD, POST          /stashes

They run the same `service` functions as the Flask views and go through the same
error table (`errors.as_api_error`); everything else, 404s and 405s included, is
left to Flask. `FastPath` is the WSGI handler; rsgi.py uses its `route` and `steps`
to serve the same requests on an event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from core.errors import Answer, as_api_error, render, status_line
from core.http import read_body
from redisio.clients import BlockingClient
from stashes import service
from stashes.query import parse_list_query, query_args
from stashes.store import StashStore

_JSON = ("Content-Type", "application/json")
_PREFIXES = (("/stash/", 7), ("/stashes/", 9))
_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE"})


def answer(reply: service.Reply, method: str) -> Answer:
    """`reply` as status, headers and body (none for HEAD, whose size it keeps)."""
    headers = [_JSON, *reply.headers]
    if reply.status != 204 and not any(k == "Content-Length" for k, _ in reply.headers):
        headers.append(("Content-Length", str(len(reply.body))))
    return reply.status, headers, b"" if method == "HEAD" else reply.body


def refusal(exc: Exception, method: str, path: str) -> Answer:
    """An exception as the answer the one error table makes of it."""
    status, headers, body = render(as_api_error(exc, method, path), path)
    return status, headers, b"" if method == "HEAD" else body


class FastPath:
    """Which requests the fast path serves, what each does, and its WSGI handler."""

    def __init__(
        self, store: StashStore, client: BlockingClient, max_body: int
    ) -> None:
        self.store = store
        self.client = client
        self.max_body = max_body

    @staticmethod
    def route(method: str, path: str) -> str | None:
        """The stash path of a request the fast path serves ("" for /stashes).

        None for every other request. `path` is PATH_INFO (latin-1 text), and so is
        the stash path returned.
        """
        if method not in _METHODS:
            return None
        for prefix, length in _PREFIXES:
            if path.startswith(prefix):
                return path[length:]
        return "" if path == "/stashes" and method != "DELETE" else None

    def steps(self, environ: dict, raw: str) -> service.Steps[service.Reply]:
        """What the request does, as `service` steps; a POST's body is read here.

        `raw` is what `route` returned for the request. Checks raise when driven.
        """
        method = environ["REQUEST_METHOD"]
        if environ["PATH_INFO"] == "/stashes":
            if method == "POST":
                return service.create_stash(self.store, self.body(environ))
            query = parse_list_query(query_args(environ.get("QUERY_STRING", "")))
            return service.list_stashes(self.store, query)
        stash = raw.encode("latin-1").decode()  # Front checked that it is UTF-8
        if method == "GET" or method == "HEAD":
            return service.get_stash(self.store, stash, method == "HEAD")
        if method == "DELETE":
            return service.delete_stash(self.store, stash)
        return service.write_stash(self.store, stash, self.body(environ))

    def body(self, environ: dict) -> bytes:
        return read_body(environ, self.max_body)

    def __call__(self, environ: dict, start: Callable) -> Iterable[bytes] | None:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        raw = self.route(method, path)
        if raw is None:
            return None
        try:
            reply = self.client.drive(self.steps(environ, raw))
            status, headers, body = answer(reply, method)
        except Exception as exc:  # noqa: BLE001 - the one error table decides
            status, headers, body = refusal(exc, method, path)
        start(status_line(status), headers)
        return [body]
