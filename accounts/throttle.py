"""Failed logins, throttled per client address (spec stashes.md 17.4).

The count of an address's failures lives in Redis, so every worker and host shares
it: `AccountStore`'s scripts read it, and raise it, in the round trip of each
credential lookup. Each process also remembers the addresses it saw throttled and
refuses them from memory until their window ends, and lets no more password checks
for one address run at once than it has failures left.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from accounts.store import Attempt, Outcome
from core import metrics
from core.addresses import IPNetwork, trusted_proxies
from core.errors import ApiError, TooManyRequests
from core.request import Request

# An address is a Redis key's suffix: a hop a proxy wrote is cut to this length.
_ADDRESS_CHARS = 64
# Addresses remembered as throttled; past this, the ones whose window ended go.
_REMEMBERED = 4096


def _is_trusted(address: str, trusted: tuple[IPNetwork, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in trusted)


def client_address(
    peer: str, forwarded: str | None, trusted: tuple[IPNetwork, ...]
) -> str:
    """Who failed a login: the peer, or behind trusted proxies the first hop of
    X-Forwarded-For (read from the right) that is not one of them.

    Hops left of that one were written by the client, so they prove nothing.
    """
    if not forwarded or not trusted or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",")]
    for hop in reversed(hops):
        if hop and not _is_trusted(hop, trusted):
            return hop[:_ADDRESS_CHARS]
    return hops[0][:_ADDRESS_CHARS] or peer  # a client inside the trusted networks


class Throttle:
    """The throttle's settings and what this process knows of throttled addresses."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.limit: int = config["AUTH_FAILURES"]
        self.window: int = config["AUTH_FAILURE_WINDOW"]
        self.trusted = trusted_proxies(config["TRUSTED_PROXIES"])
        # Address -> time.monotonic() at which its window ends.
        self.blocked: dict[str, float] = {}
        # Address -> password checks running for it in this process.
        self._hashing: dict[str, int] = {}
        self._lock = threading.Lock()

    def address(self, request: Request) -> str:
        """The client address `request` counts against."""
        peer = request.peer().strip("[]")  # IPv6 comes bracketed from some servers
        if not self.trusted:
            return peer
        return client_address(peer, request.forwarded_for(), self.trusted)

    def refuse_if_blocked(self, address: str) -> None:
        """:raise TooManyRequests: this process saw `address` throttled, and its
        window has not ended yet."""
        deadline = self.blocked.get(address)
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left > 0:
            metrics.throttled()
            raise TooManyRequests(left)
        self.blocked.pop(address, None)

    def outcome(self, attempt: Attempt, address: str, error: ApiError) -> Any:
        """The value a credential lookup found, once the throttle let it through.

        :raise TooManyRequests: the address was throttled before this attempt.
        :raise error: the credentials were wrong (the failure is counted).
        """
        if attempt.outcome is Outcome.PASSED:
            return attempt.value
        raise self.refusal(attempt, address, error)

    def refusal(self, attempt: Attempt, address: str, error: ApiError) -> ApiError:
        """What to answer a failed or throttled `attempt`: `error`, or 429 when the
        address was throttled already. Remembers an address that now is."""
        if attempt.failures >= self.limit:
            self._remember(address, attempt.window_left)
        if attempt.outcome is Outcome.THROTTLED:
            metrics.throttled()
            return TooManyRequests(attempt.window_left)
        metrics.failed_login()
        return error

    def _remember(self, address: str, seconds: float) -> None:
        now = time.monotonic()
        with self._lock:
            if len(self.blocked) >= _REMEMBERED:
                for known, deadline in list(self.blocked.items()):
                    if deadline <= now:
                        del self.blocked[known]
                if len(self.blocked) >= _REMEMBERED:
                    self.blocked.clear()  # a flood of addresses: Redis still counts
            self.blocked[address] = now + seconds

    @contextmanager
    def hashing(self, address: str, failures: int) -> Iterator[None]:
        """Hold a place among `address`'s password checks while one runs.

        :raise TooManyRequests: `failures` in Redis and the checks already running
            here would use up what the address has left, were they all to fail.
        """
        with self._lock:
            running = self._hashing.get(address, 0)
            if failures + running >= self.limit:
                metrics.throttled()
                raise TooManyRequests(self.window)
            self._hashing[address] = running + 1
        try:
            yield
        finally:
            with self._lock:
                running = self._hashing.pop(address) - 1
                if running:
                    self._hashing[address] = running
