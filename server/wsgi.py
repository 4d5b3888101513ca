"""The WSGI adapter in front of Flask: what every request gets before routing.

Each request becomes a `WSGIRequest` (leading slashes collapsed) and passes the gate
(core/gate.py: request ID, CORS, OPTIONS, UTF-8 path, cross-site writes,
credentials) before anything reads its body from the server. Then the fast
path answers the hot routes (core/replies.py FastRoutes), driven on this thread's Redis
connection; routing and all the rest happen in Flask. Answers made here carry no
body for HEAD.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from core.errors import status_line
from core.gate import Gate
from core.http import CLOSE_KEY
from core.logs import request_id
from core.observe import UNROUTED, Observer
from core.park import PARK_KEY, Park
from core.replies import FastRoutes, pieces
from core.request import WSGIRequest
from redisio.clients import BlockingClient

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
# Where the app leaves the route template Flask chose (app.note_route).
ROUTE_KEY = "stashd.route"
# The route template of a method and path (Flask's URL map), or UNROUTED.
RouteOf = Callable[[str, str], str]


def close_after(start_response: Callable) -> None:
    """Have gunicorn close the connection after this response, saying so in a
    ``Connection: close`` header, without reading the rest of the request body.

    WSGI forbids an application's own ``Connection`` header (gunicorn drops it);
    gunicorn's ``start_response`` is a method of its response, whose
    ``force_close`` does this. Other servers' are left as they are.
    """
    owner = getattr(start_response, "__self__", None)
    force_close = getattr(owner, "force_close", None)
    if callable(force_close):
        force_close()


class Front:
    """Wraps the Flask WSGI app; see the module docstring for what it does."""

    def __init__(
        self,
        app: WSGIApp,
        gate: Gate,
        fast: FastRoutes | None,
        client: BlockingClient,
        observer: Observer | None = None,
        route_of: RouteOf | None = None,
    ) -> None:
        self.app = app
        self.gate = gate
        self.fast = fast
        self.client = client
        self.observer = observer
        self.route_of = route_of

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        observer = self.observer
        if observer is not None:
            return self._observed(environ, start_response, observer)
        request = WSGIRequest(environ)
        extra, answer = self.gate.check(request)
        fast = self.fast
        if answer is None and fast is not None:
            found = fast.find(request.method, request.path)
            if found is not None:
                answer = self.client.drive(fast.handle(request, found))
        if answer is not None:
            status, headers, body = answer
            start_response(status_line(status), headers + extra)
            if request.method == "HEAD":
                return []
            return [body] if isinstance(body, bytes) else pieces(body)
        environ["PATH_INFO"] = request.path

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            if environ.get(CLOSE_KEY):
                close_after(start_response)
            return start_response(status, headers + extra, exc_info)

        return self.app(environ, start)

    def _observed(
        self, environ: dict, start_response: Callable, observer: Observer
    ) -> Iterable[bytes]:
        """`__call__` for an app that logs requests or counts them: the same
        steps, timed, with the route template each request took."""
        park: Park | None = environ.get(PARK_KEY)
        # A request sent to Flask again after a wait (core/park.py) is timed from
        # its first dispatch, and observed once, when it is answered.
        started = park.since if park is not None else perf_counter()
        request = WSGIRequest(environ)
        extra, answer = self.gate.check(request)
        rid = extra[0][1]
        if observer.tags:
            request_id.set(rid)
        client = request.peer() if observer.access else ""
        method, fast = request.method, self.fast
        found = fast.find(method, request.path) if fast is not None else None
        if answer is None and found is not None:
            answer = self.client.drive(fast.handle(request, found))  # type: ignore[union-attr]
        if answer is not None:
            status, headers, body = answer
            start_response(status_line(status), headers + extra)
            if found is not None:
                route = found[0].template(request.path)
            else:
                route = self._route_of(method, request.path)
            observer.done(started, method, route, status, rid, client)
            if method == "HEAD":
                return []
            return [body] if isinstance(body, bytes) else pieces(body)
        environ["PATH_INFO"] = request.path
        answered = [500]  # what Flask answers; 500 if it raises

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            answered[0] = int(status[:3])
            if environ.get(CLOSE_KEY):
                close_after(start_response)
            return start_response(status, headers + extra, exc_info)

        try:
            return self.app(environ, start)
        finally:
            route = environ.get(ROUTE_KEY, UNROUTED)
            if park is None or not park.held:
                observer.done(started, method, route, answered[0], rid, client)
            else:  # observed once answered (server/rsgi.py, if its client left)
                park.observed = (route, rid, client)

    def _route_of(self, method: str, path: str) -> str:
        return UNROUTED if self.route_of is None else self.route_of(method, path)
