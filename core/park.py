"""Waits a server takes over from a view, so that no request thread sleeps.

A server whose event loop can wait for a request (granian, server/rsgi.py) puts a
`Park` in the WSGI environ under `PARK_KEY`. A view that would sleep until a record
changes calls `Park.hold` instead and raises `Parked`: the server drops that answer,
runs the round trip the view left on its loop until the view's test says the state
changed (or the deadline or `RECHECK` came), then sends the same request to Flask
again, the same `Park` with it, but not its body: a view that read one keeps
what it needs in `Park.notes` before it parks.

Without a `Park` (gunicorn), a view waits on its own thread, but at most
`WaitSlots` of them at once per process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from core.errors import ApiError

PARK_KEY = "stashd.park"
# Seconds a parked request waits at most before it is sent to Flask again, even
# with nothing changed: its view then retries what another process holds (a
# fetch lock whose holder died).
RECHECK = 5.0


class Parked(ApiError):
    """Raised by a view that handed its wait to the server: this answer is dropped.
    A server that does not drop it sends a 503 with ``Retry-After``."""

    status, kind, default = 503, 8, "waiting; try again"

    def __init__(self, retry_after: str = "30") -> None:
        super().__init__()
        self.headers.append(("Retry-After", retry_after))


class Park:
    """One request's wait, kept across its dispatches to Flask."""

    def __init__(self) -> None:
        # perf_counter() at the first dispatch: the request is timed from then.
        self.since = time.perf_counter()
        # time.monotonic() past which the view stops waiting; set by its first
        # dispatch, read by the next ones.
        self.deadline: float | None = None
        # What the server runs (a redisio Call, or None: nothing) and the test of
        # its reply that ends the wait; set by `hold`, cleared by the server.
        self.poll: Any = None
        self.ready: Callable[[Any], bool] | None = None
        # What the view keeps for its next dispatch (what it saw, what it started).
        self.notes: dict[str, Any] = {}
        # How the server observes the request (route template, request ID, client
        # address) as its last dispatch saw it: for the answer of a request whose
        # client left during the wait, which no dispatch gives.
        self.observed: tuple[str, str, str] | None = None

    def start(self, seconds: float) -> float:
        """The deadline of this wait: now plus `seconds` on the first dispatch,
        then the same."""
        if self.deadline is None:
            self.deadline = time.monotonic() + seconds
        return self.deadline

    def hold(self, poll: Any, ready: Callable[[Any], bool]) -> Parked:
        """Hand the wait to the server: the error for the view to raise."""
        self.poll, self.ready = poll, ready
        return Parked()

    @property
    def held(self) -> bool:
        return self.ready is not None

    def release(self) -> None:
        self.poll = self.ready = None


class WaitSlots:
    """How many threads of a process may wait at once: the rest answer at once,
    so waits never take every thread the other routes need."""

    def __init__(self, slots: int) -> None:
        self.slots = threading.BoundedSemaphore(slots)

    def resize(self, slots: int) -> None:
        """Set the bound (a server's threads are known only once it started)."""
        self.slots = threading.BoundedSemaphore(max(1, slots))

    def take(self) -> threading.BoundedSemaphore | None:
        """A slot to give back with ``release()``, or None when all are taken."""
        slots = self.slots
        return slots if slots.acquire(blocking=False) else None
