"""What each request leaves behind once answered: an access log line, metrics.

The server adapters (server/wsgi.py, server/rsgi.py) call `Observer.done` once per
request, with the route template (``/stash/<path>``, never the URL path: an API key
may be a path segment), and nothing else of the request: no header, no body, no
query. An app with no access log and no metrics has no observer at all, so those
requests pay for nothing.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import Protocol

from core.logs import ACCESS_LOGGER

access_log = logging.getLogger(ACCESS_LOGGER)

# The route of a request that no route took (404, or answered before routing).
UNROUTED = "<unrouted>"


class Recorder(Protocol):
    """Request metrics (core.metrics.RequestMetrics)."""

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its duration."""
        ...


class Observer:
    """Writes the access log line and feeds the metrics of each request."""

    __slots__ = ("access", "metrics", "tags")

    def __init__(
        self, access: bool, metrics: Recorder | None = None, tags: bool = False
    ) -> None:
        """`access`: write access lines; `tags`: lines logged while serving carry
        the request ID (JSON logs), which the adapters then set."""
        self.access = access
        self.metrics = metrics
        self.tags = tags or access

    def done(
        self,
        started: float,
        method: str,
        route: str,
        status: int,
        request_id: str,
        client: str,
    ) -> None:
        """Record a request answered with `status`, begun at `started`
        (``time.perf_counter()``); `client` matters only to access lines."""
        seconds = perf_counter() - started
        if self.metrics is not None:
            self.metrics.request(route, method, status, seconds)
        if self.access:
            duration_ms = round(seconds * 1000, 3)
            access_log.info(
                '%s "%s %s" %s %sms rid=%s',
                client,
                method,
                route,
                status,
                duration_ms,
                request_id,
                extra={
                    "request_id": request_id,
                    "method": method,
                    "route": route,
                    "status": status,
                    "duration_ms": duration_ms,
                    "client": client,
                },
            )
