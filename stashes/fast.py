"""The fast path: the hot stash routes served without Flask.

Handlers ask "is this silenced?" thousands of times a minute, and Flask's request
machinery costs more CPU than the Redis call behind the answer (docs/benchmarks.md).
`Front` hands these requests here after its request ID, CORS and auth steps:

    GET, HEAD, POST, DELETE  /stash/<path>, /stashes/<path>
    POST                     /stashes

They run the same `service` functions as the Flask views and go through the same
error table (`errors.as_api_error`); everything else, 404s and 405s included, is
left to Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from errors import as_api_error, render, status_line
from stashes import service
from stashes.store import StashStore
from web import read_body

_JSON = ("Content-Type", "application/json")
_PREFIXES = (("/stash/", 7), ("/stashes/", 9))


class FastPath:
    """A WSGI-style handler that answers the hot routes and returns None for others."""

    def __init__(self, store: StashStore, max_body: int) -> None:
        self.store = store
        self.max_body = max_body

    def __call__(self, environ: dict, start: Callable) -> Iterable[bytes] | None:
        method = environ["REQUEST_METHOD"]
        raw = environ["PATH_INFO"]
        for prefix, length in _PREFIXES:
            if raw.startswith(prefix):
                path = raw[length:].encode("latin-1").decode()  # Front checked: UTF-8
                break
        else:
            if raw != "/stashes" or method != "POST":
                return None
            path = None
        try:
            if method == "GET" or method == "HEAD":
                reply = service.get_stash(self.store, path, method == "HEAD")
            elif method == "POST":
                body = read_body(environ, self.max_body)
                if path is None:
                    reply = service.create_stash(self.store, body)
                else:
                    reply = service.write_stash(self.store, path, body)
            elif method == "DELETE":
                reply = service.delete_stash(self.store, path)
            else:
                return None  # Flask answers 405 with the Allow header
        except Exception as exc:  # noqa: BLE001 - the one error table decides
            status, headers, body = render(as_api_error(exc, method, raw), raw)
            start(status_line(status), headers)
            return [] if method == "HEAD" else [body]
        headers = [_JSON, *reply.headers]
        if reply.status != 204 and method != "HEAD":
            headers.append(("Content-Length", str(len(reply.body))))
        start(status_line(reply.status), headers)
        return [] if method == "HEAD" else [reply.body]
