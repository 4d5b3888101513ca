"""The fast path of the silenced API: ``GET /silenced/match``, without Flask.

Handlers ask it as often as they GET a stash, so it is served like one: after the
gate, on the server's own client, one Redis round trip. The Sensu Go match route
needs an API key or a token looked up in Redis first, so Flask serves that one.
"""

from __future__ import annotations

from core.replies import Reply
from core.request import Request
from redisio.calls import Steps
from silenced import service
from silenced.store import SilencedStore

MATCH = "/silenced/match"


class MatchRoute:
    """``GET``/``HEAD /silenced/match`` (spec silenced.md D2)."""

    def __init__(self, store: SilencedStore) -> None:
        self.store = store

    @staticmethod
    def route(method: str, path: str) -> str | None:
        """ "" for the match route, None for every other request."""
        return "" if path == MATCH and (method == "GET" or method == "HEAD") else None

    @staticmethod
    def template(path: str) -> str:
        """The route template of the path `route` took: the match route's."""
        return MATCH

    def steps(self, request: Request, raw: str) -> Steps[Reply]:
        """Is the event the query describes silenced? One round trip."""
        return service.match_v1(self.store, request.query)
