"""The steps every request passes before routing, under either server.

In order (spec stashes.md section 2): a request ID, CORS headers on every response
(errors included), OPTIONS answered without auth, a URL path that must be UTF-8, and
credentials on the Sensu 1.x routes decided before routing, so an unauthenticated
request to an unknown path is 401, not 404 (the Sensu Go routes check their own,
after routing). The servers' adapters (server/wsgi.py, server/rsgi.py) call `Gate`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from random import getrandbits

from core.errors import (
    Answer,
    BadRequest,
    Unauthorized,
    as_api_error,
    is_sensu_go,
    render,
)
from core.request import Request

# Given a request's Authorization header (None without one): may it use the stash
# routes? It may raise when it cannot tell (Redis down).
CredentialCheck = Callable[[str | None], bool]

_OPTIONS: Answer = (200, [("Content-Length", "0")], b"")


def new_request_id() -> str:
    """A random UUID (version 4) in canonical form, as uuid4() makes, but cheaper.

    Request IDs need to be unique, not secret: `random` (reseeded in every forked
    worker) is enough, and skips uuid.UUID's validation on every request.
    """
    bits = "%032x" % getrandbits(128)  # noqa: UP031 - the fastest way to hex here
    variant = "89ab"[int(bits[16], 16) & 3]
    return f"{bits[:8]}-{bits[8:12]}-4{bits[13:16]}-{variant}{bits[17:20]}-{bits[20:]}"


class Gate:
    """What happens to a request before routing; see the module docstring."""

    def __init__(
        self,
        cors: Iterable[tuple[str, str]],
        allows: CredentialCheck | None = None,
    ) -> None:
        """`cors`: headers for every response; `allows`: None leaves stashes open."""
        self.cors = tuple(cors)
        self.allows = allows

    def check(self, request: Request) -> tuple[list[tuple[str, str]], Answer | None]:
        """The headers every response to `request` carries, and its answer if it
        ends here (OPTIONS, a path that is not UTF-8, no access); else None.
        """
        request_id = request.header("x-request-id") or new_request_id()
        extra = [("X-Request-ID", request_id), *self.cors]
        if request.method == "OPTIONS":
            return extra, _OPTIONS
        path = request.path
        if not path.isascii():
            try:
                # The path holds the URL's bytes as latin-1 (PEP 3333): are they UTF-8?
                path.encode("latin-1").decode("utf-8")
            except UnicodeError:
                return extra, render(BadRequest("URL path is not valid UTF-8"), path)
        if self.allows is not None and not is_sensu_go(path):
            try:
                allowed = self.allows(request.header("authorization"))
            except Exception as exc:  # Redis down: the one error table
                return extra, render(as_api_error(exc, request.method, path), path)
            if not allowed:
                return extra, render(Unauthorized(), path)
        return extra, None
