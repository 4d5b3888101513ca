"""The WSGI layer in front of Flask: what every request gets before routing.

In order (spec stashes.md section 2): leading slashes collapsed, a request ID, CORS
headers on every response (errors included), OPTIONS answered without auth, and
credentials on the Sensu 1.x routes decided before routing, so an unauthenticated
request to an unknown path is 401, not 404 (the Sensu Go routes check their own,
after routing). Then the fast path answers the hot stash routes (stashes/fast.py);
routing and all the rest happen in Flask.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from random import getrandbits
from typing import Any

from accounts.authenticator import Authenticator
from core.errors import (
    Answer,
    BadRequest,
    Unauthorized,
    as_api_error,
    is_sensu_go,
    render,
    status_line,
)
from core.settings import cors_headers

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]
# Answers the requests it serves itself, and returns None for the rest.
FastHandler = Callable[[dict, Callable], Iterable[bytes] | None]
_OPTIONS: Answer = (200, [("Content-Length", "0")], b"")


def new_request_id() -> str:
    """A random UUID (version 4) in canonical form, as uuid4() makes, but cheaper.

    Request IDs need to be unique, not secret: `random` (reseeded in every forked
    worker) is enough, and skips uuid.UUID's validation on every request.
    """
    bits = "%032x" % getrandbits(128)  # noqa: UP031 - the fastest way to hex here
    variant = "89ab"[int(bits[16], 16) & 3]
    return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{variant}{bits[17:20]}-{bits[20:]}"


def collapse_slashes(path: str) -> str:
    """A run of "/" at the start of a URL path counts as one (spec stashes.md 4.2).

    sensu-plugin-python 0.8.0 asks for //stash/...; it is served, with no redirect.
    """
    return "/" + path.lstrip("/") if path.startswith("//") else path


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

    def gate(self, environ: dict) -> tuple[list[tuple[str, str]], Answer | None]:
        """The steps before routing, for any server: WSGI here, RSGI in rsgi.py.

        Returns the headers every response to this request carries, and the answer
        when the request ends here (OPTIONS, a path that is not UTF-8, no access).
        """
        path = environ["PATH_INFO"] = collapse_slashes(environ.get("PATH_INFO") or "/")
        request_id = environ.get("HTTP_X_REQUEST_ID") or new_request_id()
        extra = [("X-Request-ID", request_id), *self.cors]
        method = environ["REQUEST_METHOD"]
        if method == "OPTIONS":
            return extra, _OPTIONS
        try:
            # PATH_INFO holds the URL's bytes as latin-1 (PEP 3333); it must be UTF-8.
            path.encode("latin-1").decode("utf-8")
        except UnicodeError:
            return extra, render(BadRequest("URL path is not valid UTF-8"), path)
        if self.auth is not None and not is_sensu_go(path):
            try:
                allowed = self.auth.allows_stashes(environ.get("HTTP_AUTHORIZATION"))
            except Exception as exc:  # noqa: BLE001 - Redis down: the one error table
                return extra, render(as_api_error(exc, method, path), path)
            if not allowed:
                return extra, render(Unauthorized(), path)
        return extra, None

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        extra, answer = self.gate(environ)

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            return start_response(status, headers + extra, exc_info)

        if answer is not None:
            status, headers, body = answer
            start(status_line(status), headers)
            return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]
        if self.fast is not None:
            answered = self.fast(environ, start)
            if answered is not None:
                return answered
        return self.app(environ, start)
