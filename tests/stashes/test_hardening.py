"""Hostile input on the Sensu 1.x routes (spec stashes.md 17.1, 17.9), on every backend.

Through the test client these run on fakeredis, with the fast path off, and on a
real redis-server; tests/http/test_hardening.py sends the same over real sockets.
"""

from __future__ import annotations

import json

import pytest

from sensu1.query import HUGE
from tests.stashes.helpers import assert_json_error

# More digits than Python's int() takes (4,300).
DIGITS = "9" * 4301
INCOMPLETE = "request body is incomplete"


def short_post(client, url: str, body: bytes):
    """POST `body` declaring one byte more than it has, as a client that gave up."""
    return client.post(
        url,
        data=body,
        environ_overrides={"CONTENT_LENGTH": str(len(body) + 1)},
    )


@pytest.mark.parametrize(
    ("url", "body"),
    [
        ("/stashes", {"path": "cut", "content": {}}),
        ("/stash/cut", {}),
        ("/stashes/cut", {}),
        ("/silenced", {"subscription": "cut", "expire": 60}),
        ("/silenced/clear", {"subscription": "cut"}),
    ],
)
def test_body_shorter_than_its_length_is_400_and_stores_nothing(client, url, body):
    response = short_post(client, url, json.dumps(body).encode())
    assert assert_json_error(response) == INCOMPLETE
    assert client.get("/stashes").get_json() == []
    assert client.get("/silenced").get_json() == []


def test_content_length_of_thousands_of_digits_is_413(client):
    response = client.post(
        "/stashes", data=b"{}", environ_overrides={"CONTENT_LENGTH": DIGITS}
    )
    assert_json_error(response, 413)


def fill(api, count: int = 3) -> None:
    for i in range(count):
        assert api.create(f"s{i}").status_code == 201


@pytest.mark.parametrize("url", ["/stashes", "/silenced"])
def test_list_limit_of_thousands_of_digits_is_everything(client, url):
    for i in range(3):
        client.post("/stashes", data=json.dumps({"path": f"s{i}", "content": {}}))
        client.post("/silenced", data=json.dumps({"subscription": f"s{i}"}))
    response = client.get(url, query_string=f"limit={DIGITS}")
    assert response.status_code == 200
    assert len(response.get_json()) == 3
    assert json.loads(response.headers["X-Pagination"]) == {
        "limit": HUGE,
        "offset": 0,
        "total": 3,
    }


@pytest.mark.parametrize("url", ["/stashes", "/silenced"])
@pytest.mark.parametrize("zeros", ["", "0" * 5000])
def test_list_offset_of_thousands_of_digits_is_past_the_end(client, url, zeros):
    client.post("/stashes", data=json.dumps({"path": "s", "content": {}}))
    client.post("/silenced", data=json.dumps({"subscription": "s"}))
    response = client.get(url, query_string=f"limit=1&offset={zeros}{DIGITS}")
    assert response.status_code == 200
    assert response.get_json() == []
    assert json.loads(response.headers["X-Pagination"])["offset"] == HUGE


def test_list_offset_of_leading_zeros_is_its_value(api):
    fill(api)
    response = api.list("limit=1&offset=" + "0" * 5000 + "2")
    assert [item["path"] for item in response.get_json()] == ["s2"]


def test_list_limit_of_thousands_of_digits_with_a_filter_is_everything(api):
    fill(api)
    response = api.list(f"limit={DIGITS}&filter.path=s1")
    assert [item["path"] for item in response.get_json()] == ["s1"]
