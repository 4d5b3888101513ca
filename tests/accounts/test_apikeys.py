"""The API keys API and ``Authorization: Key`` (spec assets.md section 10)."""

from __future__ import annotations

import re

import pytest

from tests.sensugo import AUTH, CORE, assert_empty_success, assert_error

KEYS = f"{CORE}/apikeys"
UUID4 = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
)


def grant(sensu, username="admin"):
    response = sensu.request("POST", KEYS, {"username": username})
    assert_empty_success(response, 201)
    location = response.headers["Location"]
    assert location.startswith(KEYS + "/")
    return location.rsplit("/", 1)[1]


def test_post_creates_a_uuid_key_named_in_location(sensu):
    key = grant(sensu)
    assert UUID4.fullmatch(key)


def test_new_key_authenticates_as_its_user(sensu):
    key = grant(sensu)
    headers = {"Authorization": f"Key {key}"}
    response = sensu.request(
        "POST", f"{CORE}/namespaces", {"name": "k"}, headers=headers
    )
    assert response.status_code == 201
    body = {
        "url": "u",
        "sha512": "a" * 128,
        "metadata": {"name": "x", "namespace": "default"},
    }
    assert sensu.create(body, headers=headers).status_code == 201
    assert sensu.stored("x")["metadata"]["created_by"] == "admin"


def test_get_returns_the_key_as_its_name(sensu):
    key = grant(sensu)
    response = sensu.request("GET", f"{KEYS}/{key}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["metadata"] == {"name": key, "created_by": "admin"}
    assert body["username"] == "admin"
    assert isinstance(body["created_at"], int) and body["created_at"] > 0


def test_server_chooses_name_and_created_at(sensu):
    response = sensu.request(
        "POST",
        KEYS,
        {"username": "admin", "metadata": {"name": "mine"}, "created_at": 5},
    )
    key = response.headers["Location"].rsplit("/", 1)[1]
    assert key != "mine"
    assert sensu.request("GET", f"{KEYS}/{key}").get_json()["created_at"] != 5


@pytest.mark.parametrize("body", [{"username": "nobody"}, {}, {"username": ""}])
def test_post_for_unknown_user_is_400(sensu, body):
    assert_error(sensu.request("POST", KEYS, body), 400, 1)


def test_list_names_keys_by_digest_only(sensu):
    key = grant(sensu)
    listed = sensu.request("GET", KEYS).get_json()
    names = [item["metadata"]["name"] for item in listed]
    assert key not in names
    assert len(names) == 2  # the fixture's key and the new one
    for name in names:
        got = sensu.request("GET", f"{KEYS}/{name}")
        assert got.status_code == 200
        assert got.get_json()["metadata"]["name"] == name


def test_list_pages(sensu):
    for _ in range(3):
        grant(sensu)
    first = sensu.list(KEYS, limit=2)
    assert len(first.get_json()) == 2
    rest = sensu.list(KEYS, limit=2, **{"continue": first.headers["Sensu-Continue"]})
    assert len(rest.get_json()) == 2
    assert "Sensu-Continue" not in rest.headers


def test_delete_revokes_at_once(sensu):
    key = grant(sensu)
    headers = {"Authorization": f"Key {key}"}
    assert (
        sensu.request("GET", f"{CORE}/namespaces", headers=headers).status_code == 200
    )
    assert_empty_success(sensu.request("DELETE", f"{KEYS}/{key}"), 204)
    response = sensu.request("GET", f"{CORE}/namespaces", headers=headers)
    assert_error(response, 401, 5, "invalid credentials")
    assert_error(sensu.request("DELETE", f"{KEYS}/{key}"), 404, 2)
    assert_error(sensu.request("GET", f"{KEYS}/{key}"), 404, 2)


def test_key_can_delete_itself(sensu):
    key = grant(sensu)
    headers = {"Authorization": f"Key {key}"}
    assert sensu.request("DELETE", f"{KEYS}/{key}", headers=headers).status_code == 204


def test_patch_changes_the_username(app, sensu):
    from accounts.authenticator import hash_password

    app.extensions["client"].run(
        app.extensions["accounts"].put_user("ops", hash_password("pw"), 0)
    )
    key = grant(sensu)
    headers = {"Content-Type": "application/merge-patch+json"}
    response = sensu.request(
        "PATCH", f"{KEYS}/{key}", {"username": "ops"}, headers=headers
    )
    assert response.status_code == 200
    assert response.get_json()["username"] == "ops"
    assert sensu.request("GET", f"{KEYS}/{key}").get_json()["username"] == "ops"
    response = sensu.request(
        "PATCH", f"{KEYS}/{key}", {"username": "nobody"}, headers=headers
    )
    assert_error(response, 400, 1)
    response = sensu.request("PATCH", f"{KEYS}/{key}", {"username": "ops"})
    assert_error(response, 400, 1)  # application/json is not a merge patch


def test_apikeys_need_credentials(client):
    assert_error(client.get(KEYS), 401, 5)
    assert_error(client.post(KEYS, data='{"username": "admin"}'), 401, 5)


def test_unknown_key_is_404(sensu):
    assert_error(sensu.request("GET", f"{KEYS}/nope"), 404, 2)
    assert_error(sensu.request("GET", f"{KEYS}/{'0' * 64}"), 404, 2)


def test_the_fixture_key_works(client):
    assert client.get(KEYS, headers=AUTH).status_code == 200
