"""GET /silenced/match and POST /silenced/resolve: Sensu 1.x's matching (D2, 18.2)."""

from __future__ import annotations

import time

import pytest

from redisio.clients import BlockingClient
from redisio.wire import unpacked
from silenced import service
from tests.silenced.helpers import assert_json_error


def test_sensu_server_spec_silencing(v1):
    for sub, check in [("test", None), (None, "test"), ("test", "test")]:
        v1.created(subscription=sub, check=check)
    found = v1.match(client="i-424242", check="test", subscription="test")
    assert found == {"silenced": True, "silenced_by": ["*:test", "test:*", "test:test"]}


def test_nothing_matches(v1):
    v1.created(subscription="db")
    assert v1.match(client="web1", check="disk", subscription="web") == {
        "silenced": False,
        "silenced_by": [],
    }


def test_per_client_entries_match(v1):
    v1.created(subscription="client:web1", check="disk")
    v1.created(subscription="client:web1")
    assert v1.match(client="web1", check="disk")["silenced_by"] == [
        "client:web1:*",
        "client:web1:disk",
    ]
    assert v1.match(client="web2", check="disk")["silenced"] is False


def test_several_subscriptions(v1):
    v1.created(subscription="linux", check="cpu")
    v1.created(subscription="dc-2")
    query = [("check", "cpu"), ("client", "h"), ("subscription", "dc-1")]
    query += [("subscription", "linux"), ("subscription", "dc-2")]
    response = v1.client.get("/silenced/match", query_string=query)
    assert response.get_json()["silenced_by"] == ["dc-2:*", "linux:cpu"]


def test_begin_in_the_future_does_not_match_yet(v1):
    v1.created(subscription="web", begin=int(time.time()) + 600)
    v1.created(check="disk", begin=int(time.time()) - 600)
    assert v1.match(check="disk", subscription="web")["silenced_by"] == ["*:disk"]


def test_expired_entries_never_match(v1, shorten):
    v1.created(subscription="web", expire=60)
    shorten("web:*", -1)
    assert v1.match(check="disk", subscription="web")["silenced"] is False


def test_a_missing_check_is_400(v1):
    assert_json_error(v1.client.get("/silenced/match?client=web1"))
    assert_json_error(v1.client.get("/silenced/match?check="))


def test_no_star_star_and_no_regexp_characters(v1):
    v1.created(subscription="web")
    assert v1.match(check="*", subscription="*")["silenced"] is False
    assert v1.match(check=".*", subscription="we.")["silenced"] is False


def test_match_is_one_round_trip_whatever_the_subscriptions(app):
    store = app.extensions["silenced"]
    runner: BlockingClient = app.extensions["client"]
    subs = "&".join(f"subscription=s{i}" for i in range(300))
    steps = service.match(store, "GET", "/silenced/match", f"check=c&client=h&{subs}")
    calls = [next(steps)]
    with pytest.raises(StopIteration) as done:
        calls.append(steps.send(runner.run(calls[0])))
    assert len(calls) == 1
    args = unpacked(calls[0].args)
    assert args[0] == "MGET"
    assert len(args) == 1 + 2 * 301 + 1  # s:*, s:c for each, then *:c
    assert done.value.value.status == 200


def test_match_on_other_paths_or_methods_refuses(app):
    store = app.extensions["silenced"]
    with pytest.raises(Exception, match="not found"):
        next(service.match(store, "GET", "/silenced/other", "check=c"))
    with pytest.raises(Exception, match="method not allowed"):
        next(service.match(store, "POST", "/silenced/match", "check=c"))


def test_resolve_clears_expire_on_resolve_entries_only(v1):
    v1.created(subscription="client:web1", check="disk", expire_on_resolve=True)
    v1.created(subscription="web", expire_on_resolve=True)
    v1.created(check="disk")
    v1.created(subscription="db", expire_on_resolve=True)
    body = {"client": "web1", "check": "disk", "subscriptions": ["web"]}
    response = v1.client.post("/silenced/resolve", json=body)
    assert response.status_code == 200
    assert response.get_json() == {"cleared": ["client:web1:disk", "web:*"]}
    assert v1.ids() == ["*:disk", "db:*"]
    again = v1.client.post("/silenced/resolve", json=body)
    assert again.get_json() == {"cleared": []}


def test_resolve_clears_even_before_begin_as_sensu(v1):
    later = int(time.time()) + 600
    v1.created(subscription="web", expire_on_resolve=True, begin=later)
    body = {"check": "disk", "subscriptions": ["web"]}
    cleared = v1.client.post("/silenced/resolve", json=body).get_json()["cleared"]
    assert cleared == ["web:*"]


@pytest.mark.parametrize(
    "body",
    [
        {"client": "web1"},
        {"check": 5},
        {"check": "disk", "subscriptions": "web"},
        {"check": "disk", "subscriptions": [1]},
        {"check": "disk", "client": 1},
        {"check": "disk", "subscriptions": ["s"] * 1001},
        [],
    ],
)
def test_bad_resolves_are_400_and_clear_nothing(v1, body):
    v1.created(subscription="web", expire_on_resolve=True)
    assert_json_error(v1.client.post("/silenced/resolve", json=body))
    assert v1.ids() == ["web:*"]
