"""The fast path of the silenced API: the match routes, without Flask.

Handlers ask "is this silenced?" as often as they GET a stash, so both match routes
are served like one: after the gate, on the server's own client.

    GET, HEAD  /silenced/match                                  one round trip
    GET, HEAD  /api/core/v2/namespaces/<ns>/silenced/match      the API key or
               token looked up first (a round trip, no hash), then the match

Every other silenced request, and a path that is not ASCII, is left to Flask.
"""

from __future__ import annotations

from accounts import scopes
from accounts.authenticator import Authenticator
from core.replies import Reply
from core.request import Request
from redisio.calls import Steps
from silenced import service
from silenced.store import SilencedStore

MATCH = "/silenced/match"
# The Flask blueprint of the Sensu Go silenced routes, whose scope rules apply.
GO_BLUEPRINT = "silenced_go"
_GO_TAIL = MATCH
_GO_TEMPLATE = service.GO_PREFIX + "<ns>" + _GO_TAIL


class MatchRoute:
    """``GET``/``HEAD`` of both match routes (spec silenced.md D2)."""

    def __init__(self, store: SilencedStore, auth: Authenticator) -> None:
        self.store = store
        self.auth = auth

    @staticmethod
    def route(method: str, path: str) -> str | None:
        """ "" for Sensu 1.x's match route, "go" for Sensu Go's (of any one-segment
        namespace: the service refuses bad ones, after credentials as Flask does),
        None for every other request."""
        if method != "GET" and method != "HEAD":
            return None
        if path == MATCH:
            return ""
        if path.startswith(service.GO_PREFIX) and path.endswith(_GO_TAIL):
            ns = path[len(service.GO_PREFIX) : -len(_GO_TAIL)]
            if ns and "/" not in ns and path.isascii():
                return "go"
        return None

    @staticmethod
    def template(path: str) -> str:
        """The route template of a path `route` took, as Flask names it."""
        return MATCH if path == MATCH else _GO_TEMPLATE

    def steps(self, request: Request, raw: str) -> Steps[Reply]:
        """Is the event the query describes silenced?"""
        if not raw:
            return service.match_v1(self.store, request.query)
        return self._go(request)

    def _go(self, request: Request) -> Steps[Reply]:
        _, scoped = yield from self.auth.sensu_go_steps(request)
        method, path, query = request.method, request.path, request.query
        # As the Flask route does: a scoped key must be allowed there.
        ns = path[len(service.GO_PREFIX) : -len(_GO_TAIL)]
        scopes.check_route(scoped, GO_BLUEPRINT, method, ns)
        return (yield from service.match(self.store, method, path, query))
