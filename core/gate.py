"""The steps every request passes before routing, under either server.

In order (spec stashes.md section 2): a request ID (the client's only when it is
plain, section 17.8), CORS headers on every response (errors included), OPTIONS
answered without auth, a URL path that must be UTF-8, browser writes from other
sites refused (17.7), and credentials on the Sensu 1.x routes decided before
routing, so an unauthenticated request to an unknown path is 401, not 404 (the
Sensu Go routes check their own, after routing). No body has been read by then.
The servers' adapters (server/wsgi.py, server/rsgi.py) call `Gate`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from random import getrandbits
from typing import Any, Protocol

from core.addresses import origin_key
from core.errors import (
    Answer,
    BadRequest,
    Forbidden,
    as_api_error,
    is_sensu_go,
    render,
)
from core.request import Request


class Credentials(Protocol):
    """Who may use the Sensu 1.x routes (accounts.authenticator.Authenticator).

    Each method raises the error to answer with: 401, 429, or Redis down.
    """

    def quick(self, request: Request) -> bool:
        """True when allowed, told from memory alone; False when only `check` or
        `settle` can tell (a Redis lookup, a password hash)."""
        ...

    def check(self, request: Request) -> None:
        """Decide, waiting for Redis and password hashes: for server threads."""
        ...

    async def settle(self, request: Request, client: Any) -> None:
        """Decide on an event loop without blocking it; `client` is its Redis
        client (redisio.pipelined.PipelinedClient)."""
        ...


# What `Gate.check` answers, asked not to wait, when only `Gate.settle` can decide.
PENDING: Answer = (0, [], b"")

_OPTIONS: Answer = (200, [("Content-Length", "0")], b"")

# A client's X-Request-ID is echoed and logged only in this shape: nothing that
# could forge or break a log line, or make every response large.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")

# The path served without credentials whatever the settings: documentation
# (server/openapi.py). One string compare: the stash hot path passes here.
PUBLIC_PATH = "/openapi.json"

# The methods a page on another site must not send with the user's browser.
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


# The bits a random 128-bit number changes to be a UUID of version 4 (0100 in bits
# 76 to 79) and of RFC 9562's variant (10 in bits 62 and 63).
_UUID4_CLEAR = ~(0xF << 76 | 0x3 << 62)
_UUID4_SET = 0x4 << 76 | 0x2 << 62


def new_request_id() -> str:
    """A random UUID (version 4) in canonical form, as uuid4() makes, but cheaper.

    Request IDs need to be unique, not secret: `random` (reseeded in every forked
    worker) is enough, and skips uuid.UUID's validation on every request. Every
    request without an ID of its own makes one, so the version and variant are set
    in the number, not in its text.
    """
    hexed = "%032x" % (getrandbits(128) & _UUID4_CLEAR | _UUID4_SET)  # noqa: UP031
    return f"{hexed[:8]}-{hexed[8:12]}-{hexed[12:16]}-{hexed[16:20]}-{hexed[20:]}"


class Gate:
    """What happens to a request before routing; see the module docstring."""

    def __init__(
        self,
        cors: Iterable[tuple[str, str]],
        allows: Credentials | None = None,
        origins: Iterable[str] = (),
    ) -> None:
        """`cors`: headers for every response; `allows`: None leaves stashes open;
        `origins`: other sites' origins (`origin_key`s) whose writes are accepted."""
        self.cors = tuple(cors)
        self.allows = allows
        self.origins = frozenset(origins)

    def check(
        self, request: Request, wait: bool = True
    ) -> tuple[list[tuple[str, str]], Answer | None]:
        """The headers every response to `request` carries, and its answer if it
        ends here (OPTIONS, a path that is not UTF-8, a cross-site write, no
        access); else None.
        """
        request_id = request.header("x-request-id")
        if request_id is None or not _REQUEST_ID.fullmatch(request_id):
            request_id = new_request_id()
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
        if request.method in _WRITES and self.cross_site(request):
            return extra, render(Forbidden("cross-site request refused"), path)
        if self.allows is not None and not is_sensu_go(path) and path != PUBLIC_PATH:
            try:
                if wait:
                    self.allows.check(request)
                elif not self.allows.quick(request):
                    # Credentials are the last step: `settle` finishes the gate.
                    return extra, PENDING
            except Exception as exc:  # refused, or Redis down: the one error table
                return extra, render(as_api_error(exc, request.method, path), path)
        return extra, None

    async def settle(self, request: Request, client: Any) -> Answer | None:
        """The credentials that `check(request, wait=False)` left PENDING, decided
        without blocking the event loop; None when the request may pass."""
        assert self.allows is not None  # nothing is PENDING without a check
        try:
            await self.allows.settle(request, client)
        except Exception as exc:  # refused, or Redis down: the one error table
            error = as_api_error(exc, request.method, request.path)
            return render(error, request.path)
        return None

    def cross_site(self, request: Request) -> bool:
        """True when a browser sends `request` from a page of another site, unless
        that site's origin is listed. Browsers say where a request comes from in
        Sec-Fetch-Site and Origin; curl and the Sensu clients send neither.
        """
        origin = request.header("origin")
        key = None if origin is None else origin_key(origin)
        if key is not None and key in self.origins:
            return False
        site = request.header("sec-fetch-site")
        if site is not None:
            # The browser's own word; "same-origin" holds behind a proxy that
            # changes the scheme or host, where Origin and Host differ.
            if site == "cross-site":
                return True
            if site == "same-origin":
                return False
        if origin is None:
            return False
        return key is None or key != origin_key(request.origin())
