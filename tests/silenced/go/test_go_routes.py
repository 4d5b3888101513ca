"""The Sensu Go silenced routes (spec silenced.md sections 7-10, 18.3)."""

from __future__ import annotations

import time

import pytest

from tests.sensugo import CORE, assert_empty_success, assert_error
from tests.silenced.go.helpers import names, silence, url


def test_post_creates_and_get_shows_it_with_an_etag(sensu):
    assert_empty_success(
        sensu.request("POST", url(), silence(subscription="linux", check="cpu")), 201
    )
    response = sensu.request("GET", url(name="linux:cpu"))
    assert response.status_code == 200
    assert response.headers["ETag"].startswith('"')
    body = response.get_json()
    assert list(body) == [
        "metadata",
        "expire",
        "expire_on_resolve",
        "creator",
        "check",
        "reason",
        "subscription",
        "begin",
        "expire_at",
    ]
    assert body["metadata"] == {
        "name": "linux:cpu",
        "namespace": "default",
        "created_by": "admin",
    }
    assert body["expire"] == -1 and body["expire_at"] == 0
    assert body["creator"] == "admin"  # the authenticated user, not the body's
    assert abs(body["begin"] - time.time()) < 5


def test_post_of_an_existing_name_is_409(sensu):
    sensu.request("POST", url(), silence(subscription="linux"))
    assert_error(
        sensu.request("POST", url(), silence(subscription="linux", reason="again")),
        409,
        3,
        "resource already exists",
    )
    assert sensu.request("GET", url(name="linux:*")).get_json()["reason"] == (
        "maintenance"
    )


def test_put_creates_and_replaces_with_201(sensu):
    body = silence(subscription="linux", metadata={"namespace": "default"})
    body["metadata"]["name"] = "linux:*"
    assert_empty_success(sensu.request("PUT", url(name="linux:*"), body), 201)
    body["reason"] = "changed"
    assert_empty_success(sensu.request("PUT", url(name="linux:*"), body), 201)
    assert sensu.request("GET", url(name="linux:*")).get_json()["reason"] == "changed"


@pytest.mark.parametrize("quoting", ["sensuctl", "ansible", "raw"])
def test_names_are_decoded_however_clients_escape_them(sensu, quoting):
    body = silence(subscription="linux")
    body["metadata"]["name"] = "linux:*"
    response = sensu.request("PUT", url(name="linux:*", quoting=quoting), body)
    assert response.status_code == 201
    assert sensu.request("GET", url(name="linux:*", quoting=quoting)).status_code == 200
    response = sensu.request("DELETE", url(name="linux:*", quoting=quoting))
    assert_empty_success(response, 204)


def test_post_derives_the_name_whatever_the_body_says(sensu):
    body = silence(subscription="linux")
    body["metadata"]["name"] = "linux:check_cpu"  # the Sensu docs' example
    assert sensu.request("POST", url(), body).status_code == 201
    assert names(sensu.request("GET", url())) == ["linux:*"]


def test_put_whose_name_is_not_the_derived_one_is_400(sensu):
    body = silence(subscription="linux")
    body["metadata"]["name"] = "foo"
    message = assert_error(sensu.request("PUT", url(name="foo"), body), 400, 1)
    assert message == (
        "the name of the resource (linux:*) does not match the name of the URI (foo)"
    )
    assert names(sensu.request("GET", url())) == []


def test_put_whose_body_name_is_not_the_urls_is_400(sensu):
    body = silence(subscription="linux")
    body["metadata"]["name"] = "linux:cpu"
    message = assert_error(sensu.request("PUT", url(name="linux:*"), body), 400, 1)
    assert "(linux:cpu) does not match the name of the URI (linux:*)" in message


@pytest.mark.parametrize("body_ns", ["other", None])
def test_namespace_mismatch_is_400(sensu, body_ns):
    body = silence(subscription="linux")
    body["metadata"] = {} if body_ns is None else {"namespace": body_ns}
    message = assert_error(sensu.request("POST", url(), body), 400, 1)
    shown = body_ns or ""
    assert message == (
        f"the namespace of the resource ({shown}) does not match the namespace of "
        "the URI (default)"
    )


def test_unknown_namespace_on_write_stores_nothing(sensu):
    body = silence("nowhere", subscription="linux")
    assert_error(sensu.request("POST", url("nowhere"), body), 404, 2)
    assert sensu.request("GET", url("nowhere")).get_json() == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({}, "must provide check or subscription"),
        ({"subscription": "*", "check": "*"}, "must provide check or subscription"),
        ({"subscription": "*"}, "must provide check or subscription"),
        ({"check": "*"}, "must provide check or subscription"),
        (
            {"subscription": "a:b:c"},
            "Subscription cannot contain spaces or special characters",
        ),
        (
            {"subscription": "a b"},
            "Subscription cannot contain spaces or special characters",
        ),
        ({"check": "a/b"}, "Check cannot contain spaces or special characters"),
        ({"subscription": "x", "expire": "60"}, None),
        ({"subscription": "x", "expire": 60.5}, None),
        ({"subscription": "x", "expire": 2**63}, None),
        ({"subscription": "x", "begin": True}, None),
        ({"subscription": "x", "expire_on_resolve": "true"}, None),
        ({"subscription": "x", "reason": 5}, None),
        ({"subscription": "x", "metadata": []}, None),
        ({"subscription": "x", "expire": 2**31}, "expire too large"),
        ({"subscription": "x", "begin": 2**53}, None),
    ],
)
def test_invalid_entries_are_400_and_store_nothing(sensu, fields, message):
    body = silence(**fields)
    if "metadata" in fields and not isinstance(fields["metadata"], dict):
        body["metadata"] = fields["metadata"]
    got = assert_error(sensu.request("POST", url(), body), 400, 1)
    if message is not None:
        assert got == message
    assert names(sensu.request("GET", url())) == []


@pytest.mark.parametrize("raw", ["", "{", "[1]", '"x"', "null", '{"expire": NaN}'])
def test_bodies_that_are_not_objects_are_400(sensu, raw):
    for method, target in (("POST", url()), ("PUT", url(name="a:*"))):
        assert_error(sensu.request(method, target, raw=raw), 400, 1)
    assert names(sensu.request("GET", url())) == []


def test_null_means_zero_value(sensu):
    body = silence(subscription="linux", check=None, reason=None, expire=None)
    assert sensu.request("POST", url(), body).status_code == 201
    entry = sensu.request("GET", url(name="linux:*")).get_json()
    assert "check" not in entry and "reason" not in entry and entry["expire"] == -1


def test_expire_at_is_computed_and_a_sent_one_ignored(sensu):
    begin = int(time.time()) + 100
    body = silence(subscription="linux", expire=60, begin=begin, expire_at=5)
    sensu.request("POST", url(), body)
    entry = sensu.request("GET", url(name="linux:*")).get_json()
    assert (entry["begin"], entry["expire"], entry["expire_at"]) == (
        begin,
        60,
        begin + 60,
    )


def test_an_entry_over_before_it_is_written_is_never_shown(sensu):
    body = silence(subscription="linux", expire=60, begin=int(time.time()) - 3600)
    assert sensu.request("POST", url(), body).status_code == 201
    assert_error(sensu.request("GET", url(name="linux:*")), 404, 2)
    assert names(sensu.request("GET", url())) == []


def test_get_and_delete_of_missing_entries(sensu):
    assert_error(
        sensu.request("GET", url(name="not:exists")), 404, 2, "silenced entry not found"
    )
    assert_error(sensu.request("DELETE", url(name="not:exists")), 404, 2, "not found")


@pytest.fixture
def some(sensu):
    sensu.namespace("team")
    for ns, sub, check in [
        ("default", "linux", None),
        ("default", "linux", "cpu"),
        ("default", "linux-prod", None),
        ("default", None, "cpu"),
        ("default", "entity:web1", "disk"),
        ("team", "linux", "cpu"),
    ]:
        body = silence(ns, subscription=sub, check=check)
        assert sensu.request("POST", url(ns), body).status_code == 201


def test_lists_are_sorted_and_never_paged(sensu, some):
    response = sensu.request("GET", url() + "?limit=1&continue=garbage")
    assert names(response) == [
        "*:cpu",
        "entity:web1:disk",
        "linux-prod:*",
        "linux:*",
        "linux:cpu",
    ]
    assert "Sensu-Continue" not in response.headers
    assert sensu.request("GET", url("nowhere")).get_json() == []


def test_lookups_are_exact(sensu, some):
    by_sub = sensu.request("GET", url() + "/subscriptions/linux")
    assert names(by_sub) == ["linux:*", "linux:cpu"]
    by_check = sensu.request("GET", url() + "/checks/cpu")
    assert names(by_check) == ["*:cpu", "linux:cpu"]
    assert names(sensu.request("GET", url() + "/subscriptions/entity:web1")) == [
        "entity:web1:disk"
    ]


def test_all_namespace_lists(sensu, some):
    every = sensu.request("GET", f"{CORE}/silenced").get_json()
    pairs = [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in every]
    assert pairs[-1] == ("team", "linux:cpu") and len(pairs) == 6
    by_check = sensu.request("GET", f"{CORE}/silenced/checks/cpu").get_json()
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in by_check] == [
        ("default", "*:cpu"),
        ("default", "linux:cpu"),
        ("team", "linux:cpu"),
    ]


def test_selectors_on_the_plain_lists(sensu, some):
    query = "?fieldSelector=silenced.check == cpu"
    assert names(sensu.request("GET", url() + query)) == ["*:cpu", "linux:cpu"]
    bad = sensu.request("GET", url() + "?fieldSelector=((")
    assert_error(bad, 400, 1)


def test_credentials_come_first(sensu):
    response = sensu.request("GET", url(), headers={"Authorization": None})
    assert response.status_code == 401
    response = sensu.request(
        "POST", url(), raw="{", headers={"Authorization": "Key wrong"}
    )
    assert response.status_code == 401


class TestPolicy:
    @pytest.fixture
    def config(self, tmp_path):
        return {
            "DATA_DIR": str(tmp_path / "data"),
            "SILENCED_MAX_SECONDS": 3600,
            "SILENCED_DEFAULT_SECONDS": 600,
        }

    def test_default_and_maximum(self, sensu):
        sensu.request("POST", url(), silence(subscription="linux"))
        entry = sensu.request("GET", url(name="linux:*")).get_json()
        assert entry["expire"] == 600 and entry["expire_at"] > 0
        too_long = silence(subscription="db", expire=3601)
        assert_error(
            sensu.request("POST", url(), too_long),
            400,
            1,
            "expire exceeds the maximum of 3600 seconds",
        )


def test_labels_and_annotations_are_kept_and_selectable(sensu):
    body = silence(subscription="linux")
    body["metadata"].update(labels={"team": "ops"}, annotations={"ticket": "42"})
    assert sensu.request("POST", url(), body).status_code == 201
    sensu.request("POST", url(), silence(subscription="db"))
    entry = sensu.request("GET", url(name="linux:*")).get_json()
    assert entry["metadata"]["labels"] == {"team": "ops"}
    assert entry["metadata"]["annotations"] == {"ticket": "42"}
    selected = sensu.request("GET", url() + "?labelSelector=team == ops")
    assert names(selected) == ["linux:*"]
    bad = silence(subscription="x")
    bad["metadata"]["labels"] = {"n": 1}
    assert_error(sensu.request("POST", url(), bad), 400, 1)


def test_namespace_holding_a_silence_is_not_deleted(sensu, shorten):
    sensu.namespace("ops")
    body = silence("ops", subscription="linux", check="cpu")
    assert sensu.request("POST", url("ops"), body).status_code == 201
    response = sensu.request("DELETE", f"{CORE}/namespaces/ops")
    assert_error(response, 409, 3, "resource is invalid: namespace is not empty")
    assert sensu.request("GET", url("ops", "linux:cpu")).status_code == 200
    shorten("linux:cpu", -1000, ns="ops")  # expired, not purged yet: no longer counts
    assert sensu.request("DELETE", f"{CORE}/namespaces/ops").status_code == 204
