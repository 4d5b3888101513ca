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
from typing import Any

from core.errors import status_line
from core.gate import Gate
from core.replies import FastRoutes, pieces
from core.request import WSGIRequest
from redisio.clients import BlockingClient

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class Front:
    """Wraps the Flask WSGI app; see the module docstring for what it does."""

    def __init__(
        self,
        app: WSGIApp,
        gate: Gate,
        fast: FastRoutes | None,
        client: BlockingClient,
    ) -> None:
        self.app = app
        self.gate = gate
        self.fast = fast
        self.client = client

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
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
            return start_response(status, headers + extra, exc_info)

        return self.app(environ, start)
