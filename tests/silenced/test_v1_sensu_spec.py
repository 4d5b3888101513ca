"""Sensu 1.x's own API spec for /silenced (spec silenced.md section 18.1), ported.

Sensu inspected ``silence:<id>`` keys; these tests look at stashd's layout instead
(the entry as the API shows it, and its TTL in Redis). Where Sensu sent an empty 400,
stashd adds a reason (D11); 404 bodies stay empty.
"""

from __future__ import annotations

import time

import pytest

from tests.silenced.helpers import assert_empty, assert_json_error


def now() -> int:
    return int(time.time())


def test_create_for_a_subscription(v1):
    assert_empty(v1.create({"subscription": "test"}), 201)
    entry = v1.entry("test:*").get_json()
    assert entry["id"] == "test:*"
    assert entry["subscription"] == "test"
    assert entry["check"] is None
    assert entry["begin"] is None
    assert entry["reason"] is None
    assert entry["creator"] is None
    assert entry["expire_on_resolve"] is False
    assert abs(entry["timestamp"] - now()) <= 5
    assert entry["expire"] == -1


def test_create_for_a_check(v1):
    assert_empty(v1.create({"check": "test"}), 201)
    entry = v1.entry("*:test").get_json()
    assert entry["id"] == "*:test"
    assert entry["subscription"] is None
    assert entry["check"] == "test"


def test_create_with_expire_reason_creator_and_expire_on_resolve(v1, pttl):
    body = {
        "subscription": "test",
        "check": "test",
        "expire": 3600,
        "reason": "testing",
        "creator": "rspec",
        "expire_on_resolve": True,
    }
    assert_empty(v1.create(body), 201)
    entry = v1.entry("test:test").get_json()
    assert entry["reason"] == "testing"
    assert entry["creator"] == "rspec"
    assert entry["expire_on_resolve"] is True
    assert 3595_000 < pttl("test:test") <= 3600_000
    assert entry["expire"] == 3600


def test_create_with_a_begin_in_the_future_adds_the_wait_to_the_ttl(v1, pttl):
    begin = now() + 60
    body = {"subscription": "test", "check": "test", "begin": begin, "expire": 3600}
    assert_empty(v1.create(body), 201)
    assert v1.entry("test:test").get_json()["begin"] == begin
    assert 3650_000 < pttl("test:test") <= 3661_000


@pytest.mark.parametrize(
    "subscription",
    [
        "client:my-test-client",
        "roundrobin:load_balancer",
        "roundrobin:foo_bar-baz",
        "load-balancer",
        "load_balancer",
        "loadbalancer",
    ],
)
def test_create_and_find_by_subscription(v1, subscription):
    v1.created(subscription=subscription, check="test")
    items = v1.items(f"/silenced/subscriptions/{subscription}")
    assert items[-1]["id"] == f"{subscription}:test"


@pytest.mark.parametrize(
    "body",
    [
        {"reason": "x", "creator": "y", "expire": 60},  # neither subscription nor check
        {"subscription": 1},
        {"check": 1},
        {"subscription": "test", "expire": "3600"},
        {"subscription": "test", "reason": 1},
        {"subscription": "test", "creator": 1},
        {"subscription": "test", "expire_on_resolve": "true"},
        {"subscription": "test", "begin": str(int(time.time()))},
        {"subscription": "*"},  # would silence every check on every subscription
    ],
)
def test_create_refuses_invalid_bodies(v1, body):
    assert_json_error(v1.create(body))
    assert v1.items() == []


def test_silenced_registry_and_lookups(v1):
    v1.created(subscription="test", check="test", expire=3600)
    items = v1.items()
    assert [item["id"] for item in items] == ["test:test"]
    assert 3595 < items[0]["expire"] <= 3600
    assert len(v1.items("/silenced/subscriptions/test")) == 1
    assert v1.items("/silenced/subscriptions/nonexistent") == []
    assert len(v1.items("/silenced/checks/test")) == 1
    assert v1.items("/silenced/checks/nonexistent") == []


def test_lookup_by_id_for_a_check(v1):
    v1.created(check="test")
    response = v1.client.get("/silenced/ids/*:test")
    assert response.status_code == 200
    assert response.get_json()["id"] == "*:test"


def test_lookup_by_id_for_a_subscription(v1):
    v1.created(subscription="test")
    response = v1.client.get("/silenced/ids/test:*")
    assert response.status_code == 200
    assert response.get_json()["id"] == "test:*"


@pytest.mark.parametrize(
    "name", ["nonexistant:nonexistant", "invalid", ":invalid", "inv@(!alid"]
)
def test_lookup_by_unknown_or_invalid_id_is_404_empty(v1, name):
    v1.created(subscription="test")
    assert_empty(v1.client.get("/silenced/ids/" + name), 404)


def test_clear_by_subscription_and_check(v1):
    v1.created(subscription="test", check="test")
    assert_empty(v1.clear({"subscription": "test", "check": "test"}), 204)
    assert_empty(v1.clear({"subscription": "test", "check": "test"}), 404)
    assert v1.items() == []


def test_clear_by_id(v1):
    v1.created(check="test")
    assert_empty(v1.clear({"id": "*:test"}), 204)
    assert_empty(v1.clear({"id": "*:test"}), 404)
    assert v1.items() == []
