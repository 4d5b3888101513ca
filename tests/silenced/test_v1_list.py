"""Lists and lookups of the 1.x view (spec silenced.md 4.1-4.3, D5)."""

from __future__ import annotations

import json

import pytest

from tests.silenced.helpers import assert_empty


@pytest.fixture
def some(v1):
    for sub, check in [
        ("web", None),
        ("web", "disk"),
        ("client:web1", None),
        ("client:web1", "disk"),
        ("webfarm", "cpu"),
        (None, "disk"),
        ("web.x", None),
    ]:
        v1.created(subscription=sub, check=check)


def test_list_is_sorted_by_id_and_every_key_is_present(v1, some):
    items = v1.items()
    ids = [item["id"] for item in items]
    assert ids == sorted(ids)
    assert ids[0] == "*:disk"
    keys = [
        "id",
        "subscription",
        "check",
        "reason",
        "creator",
        "begin",
        "expire_on_resolve",
        "timestamp",
        "expire",
    ]
    assert all(list(item) == keys for item in items)


def test_list_pages_with_exact_totals(v1, some):
    first = v1.get(query="limit=3")
    assert json.loads(first.headers["X-Pagination"]) == {
        "limit": 3,
        "offset": 0,
        "total": 7,
    }
    walked = []
    for offset in range(0, 7, 3):
        walked += v1.ids(query=f"limit=3&offset={offset}")
    assert walked == v1.ids()
    assert v1.items(query="limit=0") == []
    assert v1.items(query="limit=5&offset=99") == []
    assert "X-Pagination" not in v1.get().headers


def test_total_counts_live_entries_only(v1, some, shorten):
    shorten("web:*", -1)
    response = v1.get(query="limit=100")
    assert json.loads(response.headers["X-Pagination"])["total"] == 6
    assert "web:*" not in [item["id"] for item in response.get_json()]
    assert v1.entry("web:*").status_code == 404


def test_filters_apply_before_paging(v1, some):
    response = v1.get(query="filter.check=disk&limit=2")
    assert json.loads(response.headers["X-Pagination"])["total"] == 3
    assert [i["id"] for i in response.get_json()] == ["*:disk", "client:web1:disk"]
    assert v1.ids(query="filter.expire=-1&filter.subscription=web") == [
        "web:*",
        "web:disk",
    ]


def test_lookup_by_subscription_is_exact(v1, some):
    # Sensu's regexp prefix also returned client:web1:... for "client", and
    # "web.x" for "web" ("." unescaped).
    assert v1.ids("/silenced/subscriptions/web") == ["web:*", "web:disk"]
    assert v1.ids("/silenced/subscriptions/client") == []
    assert v1.ids("/silenced/subscriptions/client:web1") == [
        "client:web1:*",
        "client:web1:disk",
    ]


def test_lookup_by_check_is_exact(v1, some):
    assert v1.ids("/silenced/checks/disk") == [
        "*:disk",
        "client:web1:disk",
        "web:disk",
    ]
    assert v1.ids("/silenced/checks/dis") == []


def test_lookups_page(v1, some):
    response = v1.get("/silenced/checks/disk", "limit=1&offset=1")
    assert [i["id"] for i in response.get_json()] == ["client:web1:disk"]
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


def test_lookup_by_id_is_exact(v1):
    # Sensu's suffix match could answer client:foo:* for foo:*.
    v1.created(subscription="client:foo")
    v1.created(subscription="foo", reason="mine")
    assert v1.entry("foo:*").get_json()["reason"] == "mine"
    assert v1.entry("client:foo:*").get_json()["reason"] is None
    assert v1.client.get("/silenced/ids/foo:*?limit=0&offset=5").status_code == 200


def test_ids_are_percent_decoded(v1):
    v1.created(subscription="test")
    response = v1.client.get("/silenced/ids/test%3A%2A")
    assert response.get_json()["id"] == "test:*"
    assert v1.ids("/silenced/subscriptions/client%3Aweb1") == []


def test_head_has_no_body(v1, some):
    response = v1.client.head("/silenced")
    assert response.status_code == 200 and response.data == b""


@pytest.mark.parametrize(
    "path",
    [
        "/silenced/",
        "/silenced/ids/",
        "/silenced/ids/a/b",
        "/silenced/subscriptions/a b",
        "/silenced/checks/a:b",
        "/silenced/subscriptions/X/checks/Y",  # Ruby sensu-cli's list -s X -c Y
        "/silenced/nothing",
    ],
)
def test_paths_outside_sensus_patterns_are_404_empty(v1, path):
    assert_empty(v1.client.get(path), 404)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/silenced", "GET, HEAD, POST"),
        ("DELETE", "/silenced", "GET, HEAD, POST"),
        ("GET", "/silenced/clear", "POST"),
        ("POST", "/silenced/ids/a:b", "GET, HEAD"),
        ("DELETE", "/silenced/subscriptions/a", "GET, HEAD"),
        ("POST", "/silenced/checks/a", "GET, HEAD"),
        ("POST", "/silenced/match", "GET, HEAD"),
    ],
)
def test_wrong_method_is_405_with_allow(v1, method, path, allowed):
    response = v1.client.open(path, method=method, data="{}")
    assert_empty(response, 405)
    methods = [m.strip() for m in response.headers["Allow"].split(",")]
    assert ", ".join(m for m in methods if m != "OPTIONS") == allowed


def test_a_remaining_lifetime_under_a_second_shows_as_1(v1, shorten):
    v1.created(subscription="web", expire=60)
    shorten("web:*", 300)
    assert v1.entry("web:*").get_json()["expire"] == 1
