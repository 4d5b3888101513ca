"""stashd's Prometheus metrics: what each process counts, and how /metrics shows it.

prometheus-client keeps each process's values in files under
``PROMETHEUS_MULTIPROC_DIR`` when that is set (the launchers set it for granian's
and gunicorn's workers), and a scrape adds up every process's files, so whichever
worker answers /metrics shows the whole server. Without it (tests, ``flask run``)
values live in the process.

A request is counted in memory first (`RequestCounts.request`, a dict update under
a lock: a fraction of a microsecond on the stash hot path), and the counts go to
prometheus-client once a second, from a thread of the process's own, and at
every scrape. Rare events (failed logins, Redis errors) are counted at once.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prometheus_client.registry import Collector

# Upper bounds (seconds) of the latency histogram: a stash read takes well under a
# millisecond, a password check tens of them.
BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
)
# Seconds a process keeps request counts before they go to prometheus-client.
FLUSH_EVERY = 1.0


class ProcessMetrics:
    """What every process counts. Made at first use, never at import:
    prometheus-client decides at its own import whether values go to files, so it
    must not be imported before the launcher has set PROMETHEUS_MULTIPROC_DIR
    (gunicorn imports stashd's modules before that)."""

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram, disable_created_metrics

        # Series of creation times say nothing here, and multiprocess mode has none.
        disable_created_metrics()
        self.requests = Counter(
            "stashd_http_requests_total",
            "HTTP requests answered, by route template, method and status",
            ["route", "method", "status"],
            registry=None,
        )
        self.latency = Histogram(
            "stashd_http_request_duration_seconds",
            "Seconds from a request's arrival to its answer, by route and method",
            ["route", "method"],
            buckets=BUCKETS,
            registry=None,
        )
        self.redis_errors = Counter(
            "stashd_redis_errors_total",
            "Requests that failed on Redis, by kind: unreachable, timeout, refused",
            ["kind"],
            registry=None,
        )
        self.redis_reconnects = Counter(
            "stashd_redis_reconnects_total",
            "Connections to Redis made again after one was lost or dropped",
            registry=None,
        )
        self.failed_logins = Counter(
            "stashd_failed_logins_total",
            "Credential checks that failed: wrong password, unknown API key or token",
            registry=None,
        )
        self.throttled = Counter(
            "stashd_throttled_requests_total",
            "Requests refused with 429: their address failed too many credential "
            "checks",
            registry=None,
        )
        self.all = (
            self.requests,
            self.latency,
            self.redis_errors,
            self.redis_reconnects,
            self.failed_logins,
            self.throttled,
        )


_process: ProcessMetrics | None = None
_made = threading.Lock()


def process() -> ProcessMetrics:
    """This process's metrics, made on first use."""
    global _process
    if _process is None:
        with _made:
            if _process is None:
                _process = ProcessMetrics()
    return _process


def failed_login() -> None:
    """Count a credential check that failed."""
    process().failed_logins.inc()


def throttled() -> None:
    """Count a request refused for its address's failed credential checks."""
    process().throttled.inc()


def redis_error(kind: str) -> None:
    """Count a request that failed on Redis (`kind`: unreachable, timeout, refused)."""
    process().redis_errors.labels(kind).inc()


def redis_reconnect() -> None:
    """Count a connection to Redis made again after one was lost or dropped."""
    process().redis_reconnects.inc()


def multiprocess_dir() -> str | None:
    """Where the workers' values are kept, when the launcher asked for that."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# (route, method, status) -> [requests per latency bucket..., seconds in all]
Table = dict[tuple[str, str, int], list[float]]


class RequestCounts:
    """This process's request counts, kept in memory and handed to prometheus-client
    once a second (see the module docstring).

    Each thread counts in a table of its own, without a lock: only that thread ever
    writes it. The counts only grow, so a flush (one at a time) hands over what
    each grew by since the last, read as they are: an increment it misses now is
    handed over next time.
    """

    def __init__(self) -> None:
        self._forked()
        # A forked worker has no flushing thread and counts nothing yet.
        os.register_at_fork(after_in_child=self._forked)

    def _forked(self) -> None:
        self._local = threading.local()
        self._tables: list[Table] = []
        self._handed: dict[tuple[int, tuple[str, str, int]], list[float]] = {}
        self._lock = threading.Lock()  # tables added, flushes: never per request
        self._flushing = False

    def request(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request and its duration."""
        try:
            table: Table = self._local.table
        except AttributeError:
            table = self._new_table()
        key = (route, method, status)
        counts = table.get(key)
        if counts is None:
            counts = table[key] = [0.0] * (len(BUCKETS) + 2)
        counts[bisect_left(BUCKETS, seconds)] += 1
        counts[-1] += seconds

    def _new_table(self) -> Table:
        table: Table = {}
        self._local.table = table
        with self._lock:
            self._tables.append(table)
            start = not self._flushing
            self._flushing = True
        if start:  # the process's first request
            threading.Thread(
                target=self._flush_forever, name="metrics", daemon=True
            ).start()
        return table

    def flush(self) -> None:
        """Hand what the counts grew by since the last flush to prometheus-client."""
        with self._lock:
            grown: Table = {}
            for table in self._tables:
                # Copied whole while the GIL is held: the thread's writes go on.
                for key, now in list(table.items()):
                    now = now[:]
                    handed = self._handed.setdefault((id(table), key), [0.0] * len(now))
                    total = grown.setdefault(key, [0.0] * len(now))
                    for i, value in enumerate(now):
                        total[i] += value - handed[i]
                    handed[:] = now
            self._hand_over(grown)

    def _hand_over(self, grown: Table) -> None:
        for (route, method, status), counts in grown.items():
            *buckets, seconds = counts
            if not any(buckets):
                continue
            metrics = process()
            metrics.requests.labels(route, method, str(status)).inc(sum(buckets))
            latency = metrics.latency.labels(route, method)
            # prometheus-client has no way to observe many values at once; its
            # histogram keeps a value per bucket and one for the sum (pinned
            # version; tests/core/test_metrics.py checks the exposition).
            for i, count in enumerate(buckets):
                if count:
                    latency._buckets[i].inc(count)
            latency._sum.inc(seconds)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            self.flush()


counts = RequestCounts()


def render(collectors: Iterable[Collector]) -> bytes:
    """The exposition of every process's metrics and of `collectors` (computed at
    this scrape)."""
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    counts.flush()  # this process's last second too
    registry = CollectorRegistry(auto_describe=True)
    directory = multiprocess_dir()
    if directory is not None:
        MultiProcessCollector(registry, directory)
    else:
        for metric in process().all:
            registry.register(metric)
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry)


class Cached:
    """A value computed at most once per `seconds`, shared by the threads of a
    process (index counts, Redis INFO: cheap, but not per scrape of every target)."""

    def __init__(self, compute: Callable[[], Any], seconds: float) -> None:
        self.compute = compute
        self.seconds = seconds
        self._lock = threading.Lock()
        self._value: Any = None
        self._at = -seconds * 2

    def get(self) -> Any:
        """The value, computed again when older than `seconds`."""
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.seconds:
                self._value = self.compute()
                self._at = now
            return self._value
