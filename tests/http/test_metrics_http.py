"""/metrics under granian and gunicorn, two workers each: whichever worker answers a
scrape, it counts every worker's requests."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import FLUSH_EVERY
from tests.servers import Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

ADMIN = ("ops", "metrics-password-1")
READS = 60


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Stashd]:
    env = {"STASHD_API_USER": ADMIN[0], "STASHD_API_PASSWORD": ADMIN[1]}
    with stashd_on_own_redis(request.param, env) as stashd:
        yield stashd


def scrape(server: Stashd) -> dict[tuple[str, tuple], float]:
    """One scrape, on a connection of its own, as {(sample, labels): value}."""
    response = requests.get(f"{server.url}/metrics", auth=ADMIN)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def test_metrics_count_every_worker(server):
    for i in range(3):
        requests.post(f"{server.url}/stash/m{i}", data="{}", auth=ADMIN)
    for _ in range(READS):  # a connection each: both workers serve some
        assert requests.get(f"{server.url}/stash/m0", auth=ADMIN).status_code == 200
    for _ in range(2):
        assert requests.get(f"{server.url}/stashes", auth=("ops", "no")).status_code
    time.sleep(FLUSH_EVERY * 2)  # each worker hands its counts over once a second

    scrapes = [scrape(server) for _ in range(6)]

    reads = (
        "stashd_http_requests_total",
        (("method", "GET"), ("route", "/stash/<stash:path>"), ("status", "200")),
    )
    latency = (
        "stashd_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/stash/<stash:path>")),
    )
    for samples in scrapes:  # the same whichever worker answered
        assert samples[reads] == READS
        assert samples[latency] == READS
        assert samples[("stashd_failed_logins_total", ())] == 2
        assert samples[("stashd_records", (("kind", "stash"),))] == 3
        assert samples[("stashd_redis_up", ())] == 1
        assert samples[("stashd_redis_memory_used_bytes", ())] > 0
        assert samples[("stashd_redis_aof_enabled", ())] == 0  # the tests' Redis
    unauthorized = (
        "stashd_http_requests_total",
        (("method", "GET"), ("route", "/stashes"), ("status", "401")),
    )
    assert scrapes[-1][unauthorized] == 2


def test_metrics_need_credentials_as_health_does(server):
    assert requests.get(f"{server.url}/metrics").status_code == 401
    assert requests.get(f"{server.url}/health").status_code == 401
