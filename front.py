"""The WSGI layer in front of Flask: what every request gets before routing.

In order (spec stashes.md section 2): leading slashes collapsed, a request ID, CORS
headers on every response (errors included), OPTIONS answered without auth, and
credentials on the Sensu 1.x routes decided before routing, so an unauthenticated
request to an unknown path is 401, not 404 (the Sensu Go routes check their own,
after routing). Then the fast path answers the hot stash routes (stashes/fast.py);
routing and all the rest happen in Flask.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from auth import Authenticator
from config import cors_headers
from errors import (
    ApiError,
    BadRequest,
    Unauthorized,
    as_api_error,
    is_sensu_go,
    render,
    status_line,
)

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
# Answers the requests it serves itself, and returns None for the rest.
FastHandler = Callable[[dict, Callable], Iterable[bytes] | None]


class Front:
    """Wraps the Flask WSGI app; see the module docstring for what it does."""

    def __init__(
        self,
        app: WSGIApp,
        config: Mapping[str, Any],
        fast: FastHandler | None = None,
        auth: Authenticator | None = None,
    ) -> None:
        self.app = app
        self.fast = fast
        self.cors = cors_headers(config["CORS"])
        # Stash routes need credentials only once an administrator is configured.
        self.auth = auth if auth is not None and auth.guards_stashes else None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO") or "/"
        if path.startswith("//"):
            # sensu-plugin-python 0.8.0 asks for //stash/...; serve it, no redirect.
            path = "/" + path.lstrip("/")
            environ["PATH_INFO"] = path
        request_id = environ.get("HTTP_X_REQUEST_ID") or str(uuid.uuid4())
        extra = [("X-Request-ID", request_id), *self.cors]

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            return start_response(status, headers + extra, exc_info)

        if environ["REQUEST_METHOD"] == "OPTIONS":
            start("200 OK", [("Content-Length", "0")])
            return [b""]
        try:
            # PATH_INFO holds the URL's bytes as latin-1 (PEP 3333); it must be UTF-8.
            path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return self._error(
                BadRequest("URL path is not valid UTF-8"), environ, start
            )
        if self.auth is not None and not is_sensu_go(path):
            try:
                allowed = self.auth.allows_stashes(environ.get("HTTP_AUTHORIZATION"))
            except Exception as exc:  # noqa: BLE001 - Redis down: the one error table
                error = as_api_error(exc, environ["REQUEST_METHOD"], path)
                return self._error(error, environ, start)
            if not allowed:
                return self._error(Unauthorized(), environ, start)
        if self.fast is not None:
            answered = self.fast(environ, start)
            if answered is not None:
                return answered
        return self.app(environ, start)

    @staticmethod
    def _error(error: ApiError, environ: dict, start: Callable) -> Iterable[bytes]:
        status, headers, body = render(error, environ.get("PATH_INFO") or "/")
        start(status_line(status), headers)
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
