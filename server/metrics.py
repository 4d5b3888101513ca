"""``GET /metrics``: Prometheus's text format, for every worker of the server.

The per-process counts (requests, latency, Redis errors, failed logins) come from
`core.metrics`; what describes the deployment is read at the scrape, by the worker
that answers it, at most once per `CACHE_SECONDS` per worker: the record counts
from the indexes (one ZCARD per index, through the backup parts, so every kind of
record a backup holds is counted) and the Redis server's memory and AOF status.
The launchers give the workers a fresh directory for their values
(server/start.py `metrics_dir`). The route sits behind the gate like /health: with an
administrator configured it needs credentials.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence

from flask import Blueprint, Response, current_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from backup import Part
from core import metrics
from core.errors import UNREACHABLE
from redisio.calls import info
from redisio.clients import BlockingClient

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

# Seconds a worker reuses the counts and the Redis status it read last.
CACHE_SECONDS = 5.0


@bp.get("/metrics")
def get_metrics() -> Response:
    """Every metric of every worker, and the deployment's, in Prometheus's format."""
    body = metrics.render([current_app.extensions["metrics"]])
    # Our names are all legacy ones, so the 0.0.4 format every Prometheus reads.
    return Response(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)


class DeploymentCollector:
    """The gauges read at a scrape (a prometheus-client custom collector)."""

    def __init__(self, parts: Sequence[Part], client: BlockingClient) -> None:
        self.parts = parts
        self.client = client
        self._counts = metrics.Cached(self._read_counts, CACHE_SECONDS)
        self._redis = metrics.Cached(self._read_redis, CACHE_SECONDS)

    def _read_counts(self) -> dict[str, int] | None:
        try:
            return {part.kind: self.client.drive(part.count()) for part in self.parts}
        except UNREACHABLE:
            return None

    def _read_redis(self) -> dict[str, str] | None:
        fields: dict[str, str] = {}
        try:
            for section in ("memory", "persistence"):
                fields.update(self.client.run(info(section)))
        except UNREACHABLE:
            return None
        except Exception as exc:  # a Redis without INFO, or one that refuses it
            log.debug("no INFO from redis: %s", exc)
        return fields

    def collect(self) -> Iterator[Metric]:
        """The gauges, from what this worker read in the last few seconds."""
        counts = self._counts.get()
        redis_info = self._redis.get()
        up = GaugeMetricFamily(
            "stashd_redis_up", "1 while Redis answers the scrape's reads, else 0"
        )
        up.add_metric([], 0 if counts is None or redis_info is None else 1)
        yield up
        if counts is not None:
            records = GaugeMetricFamily(
                "stashd_records",
                "Records held, by kind (from the indexes: expired ones not yet "
                "purged count too)",
                labels=["kind"],
            )
            for kind, count in counts.items():
                records.add_metric([kind], count)
            yield records
        if redis_info:
            yield from _redis_gauges(redis_info)

    def describe(self) -> list[Metric]:
        """Nothing: a description would read Redis when the collector is registered."""
        return []


# INFO field -> (metric, help); values are numbers, or "ok" / "err" for statuses.
_REDIS_GAUGES = {
    "used_memory": ("stashd_redis_memory_used_bytes", "Memory Redis has allocated"),
    "maxmemory": ("stashd_redis_memory_max_bytes", "Redis's maxmemory, 0: none"),
    "aof_enabled": ("stashd_redis_aof_enabled", "1 while Redis keeps an AOF"),
    "aof_rewrite_in_progress": (
        "stashd_redis_aof_rewrite_in_progress",
        "1 while Redis rewrites its AOF",
    ),
    "aof_last_write_status": (
        "stashd_redis_aof_last_write_ok",
        "1 when Redis's last write to its AOF succeeded, else 0",
    ),
    "aof_last_bgrewrite_status": (
        "stashd_redis_aof_last_rewrite_ok",
        "1 when Redis's last AOF rewrite succeeded, else 0",
    ),
}


def _redis_gauges(fields: Mapping[str, str]) -> Iterator[Metric]:
    for field, (name, text) in _REDIS_GAUGES.items():
        value = fields.get(field)
        if value is None:
            continue
        try:
            number = (
                float(value) if value not in ("ok", "err") else float(value == "ok")
            )
        except ValueError:
            continue
        gauge = GaugeMetricFamily(name, text)
        gauge.add_metric([], number)
        yield gauge
