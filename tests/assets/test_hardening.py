"""Hostile input on the Sensu Go routes (spec stashes.md 17.1, 17.9), and namespace
writes as one script each."""

from __future__ import annotations

import json

import pytest

from namespaces.store import DeleteOutcome, NamespaceStore
from redisio.keys import Keys
from sensugo.paging import MAX_LIMIT, parse_limit
from tests.sensugo import CORE, assert_error, asset, asset_url

DIGITS = "9" * 4301
NS = f"{CORE}/namespaces"


def short(sensu, method: str, url: str, body: dict):
    raw = json.dumps(body).encode()
    return sensu.request(
        method, url, raw=raw, environ_overrides={"CONTENT_LENGTH": str(len(raw) + 1)}
    )


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", NS, {"name": "cut"}),
        ("PUT", f"{NS}/cut", {"name": "cut"}),
        ("POST", asset_url("default"), asset("cut")),
        ("PUT", asset_url("default", "cut"), asset("cut")),
    ],
)
def test_body_shorter_than_its_length_is_400_and_stores_nothing(
    sensu, method, url, body
):
    response = short(sensu, method, url, body)
    assert_error(response, 400, 1, "request body is incomplete")
    assert sensu.request("GET", NS).get_json() == [{"name": "default"}]
    assert sensu.names() == []


@pytest.mark.parametrize("url", [NS, asset_url("default"), f"{CORE}/assets"])
@pytest.mark.parametrize("limit", [DIGITS, "+" + DIGITS, "0" * 5000 + "1"])
def test_limit_of_thousands_of_digits_is_read_without_error(sensu, url, limit):
    sensu.create(asset("a"))
    sensu.create(asset("b"))
    everything = sensu.list(url).get_json()
    response = sensu.list(url, limit=limit)
    assert response.status_code == 200
    assert response.get_json() == (
        everything[:1] if limit.endswith("01") else everything
    )


def test_negative_limit_of_thousands_of_digits_is_400(sensu):
    assert_error(sensu.list(limit="-" + DIGITS), 400, 1)


@pytest.mark.parametrize(
    ("text", "limit"),
    [("-0", None), ("+0", None), ("0" * 5000, None), ("2147483648", MAX_LIMIT)],
)
def test_parse_limit_reads_signs_and_zeros_as_strconv_does(text, limit):
    assert parse_limit(text) == limit


def test_namespace_create_and_delete_are_one_script_over_every_key():
    keys = Keys("p")
    store = NamespaceStore(keys)
    for steps, touched in [
        (store.create("ops"), [keys.namespace("ops"), keys.namespace_index]),
        (
            store.delete("ops"),
            [
                keys.namespace("ops"),
                keys.asset_index("ops"),
                keys.namespace_index,
                keys.silenced_index("ops"),
                keys.silenced_expiry("ops"),
                keys.archive_index("ops"),
                keys.archive_trash("ops"),
            ],
        ),
    ]:
        call = next(steps)
        assert call.args[0] == "EVALSHA"
        assert call.args[2 : 3 + len(touched)] == (len(touched), *touched)
        with pytest.raises(StopIteration):
            steps.send(call.result(1))


def test_namespace_delete_of_a_listed_name_without_marker_unlists_it(sensu, app):
    keys = app.extensions["namespaces"].keys  # the app's own (Cluster: other tags)
    app.extensions["redis"].zadd(keys.namespace_index, {"ghost": 0})
    assert [n["name"] for n in sensu.request("GET", NS).get_json()] == [
        "default",
        "ghost",
    ]
    assert_error(sensu.request("DELETE", f"{NS}/ghost"), 404, 2)
    assert sensu.request("GET", NS).get_json() == [{"name": "default"}]
    outcome = app.extensions["client"].drive(
        app.extensions["namespaces"].delete("ghost")
    )
    assert outcome is DeleteOutcome.ABSENT
