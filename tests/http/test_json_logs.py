"""STASHD_LOG_FORMAT=json under granian and gunicorn: every line a JSON object, access
lines with request ID, route template, status, duration and client, no secrets."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
import requests

from tests.servers import Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

USER, PASSWORD = "ops", "json-logs-password-1"
KEY = "json-logs-api-key-0123456789"
BODY_SECRET = "body-secret-4711"
KEYED = {"Authorization": f"Key {KEY}"}
ACCESS_FIELDS = {"request_id", "method", "route", "status", "duration_ms", "client"}


@pytest.fixture(scope="module", params=["granian", "gunicorn"])
def server(request: pytest.FixtureRequest) -> Iterator[Stashd]:
    env = {
        "STASHD_LOG_FORMAT": "json",
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_API_KEY": KEY,
        # granian logs no requests unless asked; asked in JSON, stashd writes them.
        "GRANIAN_LOG_ACCESS_ENABLED": "true",
    }
    with stashd_on_own_redis(request.param, env) as stashd:
        yield stashd


def records(server: Stashd, count: int) -> list[dict]:
    """Every line of the server's output as JSON, once `count` access lines are in."""
    deadline = time.monotonic() + 10
    while True:
        lines = [line for line in server.output().splitlines() if line.strip()]
        parsed = [json.loads(line) for line in lines]  # every line must be JSON
        access = [r for r in parsed if r["logger"] == "stashd.access"]
        if len(access) >= count or time.monotonic() > deadline:
            return parsed
        time.sleep(0.05)


def test_every_line_is_json_with_access_lines_and_no_secrets(server):
    url = server.url
    given = "json-logs-trace-1"
    sent = [
        requests.post(
            f"{url}/stash/a/b",
            data=json.dumps({"token": BODY_SECRET}),
            auth=(USER, PASSWORD),
            headers={"X-Request-ID": given},
        ),
        requests.get(f"{url}/stashes?limit=1", auth=(USER, PASSWORD)),
        requests.get(f"{url}/stashes", auth=(USER, "wrong-password")),
        requests.get(f"{url}/api/core/v2/apikeys/{KEY}", headers=KEYED),
        requests.get(f"{url}/no/such/route", auth=(USER, PASSWORD)),
    ]  # fmt: skip
    assert [r.status_code for r in sent] == [201, 200, 401, 200, 404]

    logged = records(server, len(sent))

    access = [r for r in logged if r["logger"] == "stashd.access"]
    assert len(access) == len(sent), logged
    by_id = {r["request_id"]: r for r in access}
    for response in sent:
        line = by_id[response.headers["X-Request-ID"]]
        assert ACCESS_FIELDS <= line.keys()
        assert line["status"] == response.status_code
        assert line["client"] == "127.0.0.1"
        assert line["duration_ms"] >= 0
        assert {"time", "level", "message"} <= line.keys()
    assert [by_id[r.headers["X-Request-ID"]]["route"] for r in sent] == [
        "/stash/<stash:path>",
        "/stashes",
        "/stashes",
        "/api/core/v2/apikeys/<identifier>",
        "<unrouted>",
    ]
    assert by_id[given]["method"] == "POST"
    output = server.output()
    for secret in (PASSWORD, KEY, BODY_SECRET, "wrong-password", "limit=1"):
        assert secret not in output
    servers_own = {r["logger"] for r in logged} - {"stashd.access"}
    assert servers_own & {"_granian", "gunicorn.error"}, servers_own


def test_plain_text_stays_the_default_with_stashd_access_lines():
    with stashd_on_own_redis("granian", {"STASHD_ACCESS_LOG": "true"}) as server:
        response = requests.get(f"{server.url}/stashes")
        rid = response.headers["X-Request-ID"]
        deadline = time.monotonic() + 10
        while f"rid={rid}" not in server.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        output = server.output()
    line = next(line for line in output.splitlines() if f"rid={rid}" in line)
    assert '127.0.0.1 "GET /stashes" 200 ' in line
    assert not line.startswith("{")
