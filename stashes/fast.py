"""The fast path of the stash API: its hot routes served without Flask.

Handlers ask "is this silenced?" thousands of times a minute, and Flask's request
machinery costs more CPU than the Redis call behind the answer (docs/benchmarks.md).
The server adapters hand these requests here after the gate (core/gate.py):

    GET, HEAD, POST, DELETE  /stash/<path>, /stashes/<path>
    GET, HEAD, POST          /stashes

They run the same `service` functions as the Flask views; `core.replies.FastRoutes`
adds the one error table and the adapters drive the steps with their client.
Everything else, 404s and 405s included, is left to Flask.
"""

from __future__ import annotations

from core.replies import Reply
from core.request import Request
from redisio.calls import Steps
from sensu1.query import parse_list_query, query_args
from stashes import service
from stashes.store import StashStore

_PREFIXES = (("/stash/", 7), ("/stashes/", 9))
# Flask's rules for the same routes (routes.ONE_STASH), so logs and metrics name a
# route alike whichever path served it.
_TEMPLATES = ("/stash/<stash:path>", "/stashes/<stash:path>")
_METHODS = frozenset({"GET", "HEAD", "POST", "DELETE"})


class FastPath:
    """Which stash requests the fast path serves, and what each does."""

    def __init__(self, store: StashStore, max_body: int) -> None:
        self.store = store
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

    @staticmethod
    def template(path: str) -> str:
        """The route template of a path `route` took."""
        if path == "/stashes":
            return path
        return _TEMPLATES[0] if path.startswith("/stash/") else _TEMPLATES[1]

    def steps(self, request: Request, raw: str) -> Steps[Reply]:
        """What the request does, as `service` steps; a POST's body is read here.

        Checks raise when driven.
        """
        method = request.method
        if request.path == "/stashes":
            if method == "POST":
                return service.create_stash(self.store, request.body(self.max_body))
            query = parse_list_query(query_args(request.query))
            return service.list_stashes(self.store, query)
        stash = raw.encode("latin-1").decode()  # the gate checked that it is UTF-8
        if method == "GET" or method == "HEAD":
            return service.get_stash(self.store, stash, method == "HEAD")
        if method == "DELETE":
            return service.delete_stash(self.store, stash)
        return service.write_stash(self.store, stash, request.body(self.max_body))
