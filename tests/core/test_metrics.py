"""/metrics in one process (the HTTP tests check the multiprocess mode): request
counts and latency by route template, failures, Redis errors, record counts."""

from __future__ import annotations

import socket
import threading

import fakeredis
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from core import metrics
from core.metrics import BUCKETS, RequestCounts

ADMIN = ("admin", "admin-password-123")
ROUTE = "/stash/<stash:path>"


def samples(client, auth=None) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", auth=auth)
    assert response.status_code == 200, response.data
    assert response.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.get_data(as_text=True))
        for sample in family.samples
    }


def requests_of(found, route, method, status) -> float:
    labels = (("method", method), ("route", route), ("status", str(status)))
    return found.get(("stashd_http_requests_total", labels), 0.0)


@pytest.fixture
def app():
    return create_app(
        {"API_USER": ADMIN[0], "API_PASSWORD": ADMIN[1]}, redis=fakeredis.FakeRedis()
    )


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "flask"])
def test_requests_are_counted_by_route_template_method_and_status(fast):
    app = create_app({"FAST_PATH": fast}, redis=fakeredis.FakeRedis())
    client = app.test_client()
    before = samples(client)

    client.post("/stash/a/b", data="{}")
    for _ in range(3):
        assert client.get("/stash/a/b").status_code == 200
    assert client.get("/stash/none").status_code == 404
    found = samples(client)

    def delta(method, status):
        return requests_of(found, ROUTE, method, status) - requests_of(
            before, ROUTE, method, status
        )

    assert (delta("POST", 201), delta("GET", 200), delta("GET", 404)) == (1, 3, 1)
    count = ("stashd_http_request_duration_seconds_count",
             (("method", "GET"), ("route", ROUTE)))  # fmt: skip
    assert found[count] - before.get(count, 0) == 4
    assert found[("stashd_redis_up", ())] == 1


def test_record_counts_come_from_the_indexes_kept_a_few_seconds():
    app = create_app({}, redis=fakeredis.FakeRedis())
    client = app.test_client()
    for path in ("a", "b"):
        client.post(f"/stash/{path}", data="{}")
    client.post("/silenced", json={"check": "disk"})

    found = samples(client)
    client.post("/stash/c", data="{}")
    again = samples(client)

    kinds = ("namespace", "user", "apikey", "stash", "silenced", "asset")
    counts = {kind: found[("stashd_records", (("kind", kind),))] for kind in kinds}
    assert counts == {
        "namespace": 0, "user": 0, "apikey": 0, "stash": 2, "silenced": 1, "asset": 0,
    }  # fmt: skip
    assert again[("stashd_records", (("kind", "stash"),))] == 2  # read 5 s ago


def test_counts_reach_the_histogram_in_their_buckets():
    counts = RequestCounts()
    route = "/test-buckets"
    for seconds in (0.0001, 0.0005, 0.003, 0.003, 20.0):
        counts.request(route, "GET", 200, seconds)
    counts.flush()

    found = {
        (s.name, s.labels.get("le")): s.value
        for family in text_string_to_metric_families(metrics.render([]).decode())
        for s in family.samples
        if s.labels.get("route") == route
    }

    assert found[("stashd_http_requests_total", None)] == 5
    assert found[("stashd_http_request_duration_seconds_bucket", "0.0005")] == 2
    assert found[("stashd_http_request_duration_seconds_bucket", "0.001")] == 2
    assert found[("stashd_http_request_duration_seconds_bucket", "0.005")] == 4
    assert found[("stashd_http_request_duration_seconds_bucket", "10.0")] == 4
    assert found[("stashd_http_request_duration_seconds_bucket", "+Inf")] == 5
    assert found[("stashd_http_request_duration_seconds_count", None)] == 5
    assert found[("stashd_http_request_duration_seconds_sum", None)] == pytest.approx(
        20.0066
    )
    assert len(BUCKETS) == 14


def test_failed_logins_and_throttled_requests_are_counted():
    app = create_app(
        {
            "API_USER": ADMIN[0],
            "API_PASSWORD": ADMIN[1],
            "AUTH_FAILURES": 2,
            "AUTH_FAILURE_WINDOW": 60,
        },
        redis=fakeredis.FakeRedis(),
    )
    client = app.test_client()
    before = samples(client, ADMIN)

    for _ in range(4):
        client.get("/stashes", auth=("someone", "wrong"))
    found = samples(client, ADMIN)

    failed = found[("stashd_failed_logins_total", ())]
    throttled = found[("stashd_throttled_requests_total", ())]
    assert failed - before[("stashd_failed_logins_total", ())] == 2
    assert throttled - before[("stashd_throttled_requests_total", ())] == 2


def test_redis_errors_are_counted_and_metrics_still_answer():
    with socket.socket() as sock:  # a Redis port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    client = app.test_client()
    try:
        before = samples(client)
        assert client.get("/stash/x").status_code == 500
        found = samples(client)
    finally:
        app.extensions["redis"].close()

    kind = ("stashd_redis_errors_total", (("kind", "unreachable"),))
    assert found[kind] - before.get(kind, 0) == 1
    assert found[("stashd_redis_up", ())] == 0
    assert ("stashd_records", (("kind", "stash"),)) not in found


def test_metrics_need_credentials_like_health(app):
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/health").status_code == 401
    assert client.get("/metrics", auth=ADMIN).status_code == 200


def test_metrics_off_means_no_route():
    app = create_app({"METRICS": False}, redis=fakeredis.FakeRedis())
    assert app.test_client().get("/metrics").status_code == 404


def test_threads_counting_while_flushes_run_lose_nothing():
    counts = RequestCounts()
    route = "/test-threads"
    per_thread, threads = 20_000, 4

    def count() -> None:
        for _ in range(per_thread):
            counts.request(route, "GET", 200, 0.002)

    workers = [threading.Thread(target=count) for _ in range(threads)]
    for worker in workers:
        worker.start()
    while any(worker.is_alive() for worker in workers):
        counts.flush()
    for worker in workers:
        worker.join()
    counts.flush()

    found = {
        s.name: s.value
        for family in text_string_to_metric_families(metrics.render([]).decode())
        for s in family.samples
        if s.labels.get("route") == route and s.labels.get("le") in (None, "0.0025")
    }
    assert found["stashd_http_requests_total"] == per_thread * threads
    assert found["stashd_http_request_duration_seconds_bucket"] == per_thread * threads
    assert found["stashd_http_request_duration_seconds_sum"] == pytest.approx(
        0.002 * per_thread * threads
    )
