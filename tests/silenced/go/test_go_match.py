"""Sensu Go's matching (section 11) through .../silenced/match and .../resolve (D2)."""

from __future__ import annotations

import json
import time

import pytest

from silenced.fast import MatchRoute
from tests.sensugo import AUTH, CORE, assert_error
from tests.silenced.go.helpers import names, silence, url


def match(sensu, ns: str = "default", **query):
    response = sensu.request("GET", url(ns) + "/match", query_string=query)
    assert response.status_code == 200, response.data
    return response.get_json()


@pytest.fixture
def some(sensu):
    for sub, check, eor in [
        ("entity:web1", None, True),
        ("linux", "cpu", False),
        (None, "cpu", True),
        ("windows", None, False),
    ]:
        body = silence(subscription=sub, check=check, expire_on_resolve=eor)
        assert sensu.request("POST", url(), body).status_code == 201


def test_field_matching(sensu, some):
    assert match(sensu, entity="web1", check="cpu", subscription="linux") == {
        "silenced": True,
        "silenced_by": ["*:cpu", "entity:web1:*", "linux:cpu"],
    }
    assert match(sensu, entity="web2", check="disk", subscription="linux") == {
        "silenced": False,
        "silenced_by": [],
    }


def test_begin_ahead_does_not_match(sensu):
    later = int(time.time()) + 600
    sensu.request("POST", url(), silence(subscription="db", begin=later))
    assert match(sensu, check="x", subscription="db")["silenced"] is False


def test_ambiguous_names_match_by_fields(sensu):
    # "a:b" + "c" and "a" + "b:c" share the name a:b:c; only the stored one counts.
    sensu.request("POST", url(), silence(subscription="a:b", check="c"))
    assert match(sensu, check="b:c", subscription="a")["silenced"] is False
    assert match(sensu, check="c", subscription="a:b")["silenced"] is True


def test_match_needs_credentials_and_a_check(sensu):
    response = sensu.request(
        "GET", url() + "/match?check=x", headers={"Authorization": None}
    )
    assert response.status_code == 401
    assert_error(sensu.request("GET", url() + "/match?entity=web1"), 400, 1)


def test_resolve_clears_matching_expire_on_resolve_entries(sensu, some):
    body = {"entity": "web1", "check": "cpu", "subscriptions": ["linux"]}
    response = sensu.request("POST", url() + "/resolve", body)
    assert response.status_code == 200
    assert response.get_json() == {"cleared": ["*:cpu", "entity:web1:*"]}
    assert names(sensu.request("GET", url())) == ["linux:cpu", "windows:*"]


def test_resolve_keeps_entries_that_have_not_begun(sensu):
    later = int(time.time()) + 600
    body = silence(subscription="db", begin=later, expire_on_resolve=True)
    sensu.request("POST", url(), body)
    resolve = {"check": "x", "subscriptions": ["db"]}
    response = sensu.request("POST", url() + "/resolve", resolve)
    assert response.get_json() == {"cleared": []}


def test_resolve_with_a_bad_body_is_400(sensu, some):
    assert_error(sensu.request("POST", url() + "/resolve", {"entity": "w"}), 400, 1)
    assert len(names(sensu.request("GET", url()))) == 4


@pytest.mark.parametrize(
    ("path", "taken"),
    [
        ("/api/core/v2/namespaces/default/silenced/match", "go"),
        ("/api/core/v2/namespaces/bad%/silenced/match", "go"),
        ("/api/core/v2/namespaces/a/b/silenced/match", None),
        ("/api/core/v2/namespaces//silenced/match", None),
        ("/api/core/v2/namespaces/d\xc3\xa9/silenced/match", None),
        ("/api/core/v2/namespaces/default/silenced/resolve", None),
        ("/silenced/match", ""),
    ],
)
def test_both_match_routes_are_fast_and_nothing_else(path, taken):
    assert MatchRoute.route("GET", path) == taken
    assert MatchRoute.route("HEAD", path) == taken
    assert MatchRoute.route("POST", path) is None


def test_the_fast_match_checks_credentials_before_the_namespace(sensu):
    bad = "/api/core/v2/namespaces/bad%25/silenced/match?check=x"
    anonymous = sensu.request("GET", bad, headers={"Authorization": None})
    assert anonymous.status_code == 401
    assert anonymous.get_json() == {"message": "bad credentials", "code": 5}
    wrong = sensu.request("GET", bad, headers={"Authorization": "Key nope"})
    assert wrong.status_code == 401
    assert sensu.request("GET", bad).status_code == 404
    head = sensu.request("HEAD", url() + "/match?check=x")
    assert head.status_code == 200 and head.data == b""
    assert head.headers["Content-Length"] == str(
        len(b'{"silenced":false,"silenced_by":[]}')
    )


def test_a_scoped_key_is_refused_the_match(client):
    """A key scoped to other areas gets 403 at the match, as at every silenced
    route (spec archives.md section 2)."""
    body = {"username": "admin", "scopes": ["archives:read"]}
    made = client.post(f"{CORE}/apikeys", data=json.dumps(body), headers=AUTH)
    assert made.status_code == 201, made.data
    key = made.headers["Location"].rsplit("/", 1)[1]
    response = client.get(
        url() + "/match?check=x", headers={"Authorization": f"Key {key}"}
    )
    assert response.status_code == 403
    assert response.get_json()["message"] == "unauthorized to perform action"
    assert client.get(url() + "/match?check=x", headers=AUTH).status_code == 200
