"""Share tokens: expiring links that open one archive's download and nothing else
(spec archives.md 11, 16)."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from redis.crc import key_slot

from redisio.keys import Keys
from tests.archives.helpers import BASE, sha512, tarball, upload
from tests.sensugo import AUTH, CORE, assert_empty_success, assert_error

DATA = tarball({"bin/shared": b"#!/bin/sh\necho shared\n"})
ID = sha512(DATA)
OTHER = tarball({"bin/other": b"#!/bin/sh\necho other\n"})
OTHER_ID = sha512(OTHER)
SHARES = f"{BASE}/{ID}/shares"
INVALID = "invalid or expired share token"


@pytest.fixture
def stored(client):
    response = upload(client, DATA, filename="shared.tar.gz", alias="shared/latest")
    assert response.status_code == 201, response.data
    assert upload(client, OTHER, alias="other/latest").status_code == 201


def share(client, url=SHARES, **body):
    response = client.post(url, data=json.dumps(body), headers=AUTH)
    assert response.status_code == 201, response.data
    return response.get_json()


def fetch(client, url, token=None, headers=None):
    """GET without credentials (unless `headers`), the token as the query."""
    query = None if token is None else {"token": token}
    response = client.get(url, headers=headers or {}, query_string=query)
    response.get_data()
    response.close()
    return response


def test_a_share_opens_its_archive_without_credentials(client, stored):
    made = share(client, expires_in=600, note="for the lab")
    assert set(made) == {
        "id",
        "token",
        "expires_at",
        "note",
        "created_by",
        "created_at",
        "url",
    }
    share_id, _, secret = made["token"].partition(".")
    assert share_id == made["id"] and len(secret) == 43
    assert "," not in secret and "{{" not in secret and "=" not in secret
    assert made["note"] == "for the lab" and made["created_by"] == "admin"
    assert made["expires_at"] - made["created_at"] == 600
    assert made["url"] == (
        f"http://localhost/archives/default/{ID}/shared.tar.gz?token={made['token']}"
    )
    for url in (
        made["url"],
        f"/archives/default/{ID}?token={made['token']}",
        f"/archives/default/paths/shared/latest?token={made['token']}",
    ):
        response = fetch(client, url)
        assert response.status_code == 200 and response.data == DATA
    assert_error(fetch(client, f"/archives/default/{ID}"), 401, 5)


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), id="flipped"),
        pytest.param(lambda t: ("Y" if t[0] == "X" else "X") + t[1:], id="other-id"),
        pytest.param(lambda t: t.partition(".")[0], id="no-secret"),
        pytest.param(lambda t: "", id="empty"),
        pytest.param(lambda t: t + "x", id="longer"),
    ],
)
def test_an_altered_token_is_401(client, stored, mangle):
    token = share(client)["token"]
    response = fetch(client, f"/archives/default/{ID}", mangle(token))
    assert_error(response, 401, 5, INVALID)


def test_a_share_for_another_archive_is_401(client, stored):
    token = share(client)["token"]
    for url in (
        f"/archives/default/{OTHER_ID}",
        f"/archives/default/{OTHER_ID}/x.tar.gz",
        "/archives/default/paths/other/latest",
    ):
        assert_error(fetch(client, url, token), 401, 5, INVALID)


def test_a_share_of_another_namespace_is_401(client, sensu, stored):
    sensu.namespace("ns1")
    upload(client, DATA, ns="ns1")
    token = share(client)["token"]
    assert_error(fetch(client, f"/archives/ns1/{ID}", token), 401, 5, INVALID)


def test_a_token_alone_decides(client, stored):
    """Valid credentials beside a bad token do not help: the token decides."""
    token = share(client)["token"]
    response = fetch(client, f"/archives/default/{ID}", token[:-2] + "zz", AUTH)
    assert_error(response, 401, 5, INVALID)


def test_a_share_never_opens_a_management_route(client, stored):
    token = share(client)["token"]
    for method, url in (
        ("GET", f"{BASE}/{ID}"),
        ("GET", BASE),
        ("GET", SHARES),
        ("POST", SHARES),
        ("GET", f"{BASE}/{ID}/definition"),
        ("DELETE", f"{BASE}/{ID}"),
        ("GET", f"{CORE}/namespaces/default/assets"),
    ):
        response = client.open(url, method=method, query_string={"token": token})
        assert_error(response, 401, 5)
        bearer = {"Authorization": f"Bearer {token}"}
        response = client.open(url, method=method, headers=bearer)
        assert_error(response, 401, 5)
    assert client.get(f"{BASE}/{ID}", headers=AUTH).status_code == 200


def test_an_expired_share_is_401_and_gone_from_the_list(
    app, client, stored, redis_client
):
    # The share's key expires with it (a minute: a busy machine may take seconds
    # between the answer and this read).
    made = share(client, expires_in=60)
    keys = Keys(app.config["KEY_PREFIX"])
    assert 50 <= redis_client.ttl(keys.share("default", made["id"])) <= 60
    # Expiry is also checked against the clock: a share is dead at expires_at.
    made_later = share(client, expires_in=1)
    key = keys.share("default", made_later["id"])
    redis_client.persist(key)
    redis_client.hset(key, "expires_at", int(time.time()) - 1)
    url = f"/archives/default/{ID}"
    assert_error(fetch(client, url, made_later["token"]), 401, 5, INVALID)
    listed = client.get(SHARES, headers=AUTH).get_json()
    assert made_later["id"] not in [s["id"] for s in listed]


@pytest.mark.slow
def test_a_share_expires_for_real(client, stored):
    made = share(client, expires_in=1)
    url = f"/archives/default/{ID}"
    assert fetch(client, url, made["token"]).status_code == 200
    time.sleep(2.1)
    assert_error(fetch(client, url, made["token"]), 401, 5, INVALID)
    assert client.get(SHARES, headers=AUTH).get_json() == []


def test_a_revoked_share_is_401(client, stored):
    made = share(client)
    url = f"/archives/default/{ID}"
    assert fetch(client, url, made["token"]).status_code == 200
    response = client.delete(f"{SHARES}/{made['id']}", headers=AUTH)
    assert_empty_success(response, 204)
    assert_error(fetch(client, url, made["token"]), 401, 5, INVALID)
    assert_error(client.delete(f"{SHARES}/{made['id']}", headers=AUTH), 404, 2)


def test_a_share_is_revoked_only_through_its_own_archive(client, stored):
    made = share(client)
    other = f"{BASE}/{OTHER_ID}/shares/{made['id']}"
    assert_error(client.delete(other, headers=AUTH), 404, 2)
    assert fetch(client, f"/archives/default/{ID}", made["token"]).status_code == 200


def test_lists_hide_tokens_and_redis_holds_digests(app, client, stored, redis_client):
    made = share(client, note="n")
    listed = client.get(SHARES, headers=AUTH).get_json()
    assert listed == [
        {
            "id": made["id"],
            "expires_at": made["expires_at"],
            "note": "n",
            "created_by": "admin",
            "created_at": made["created_at"],
        }
    ]
    secret = made["token"].partition(".")[2]
    keys = Keys(app.config["KEY_PREFIX"])
    stored_share = redis_client.hgetall(keys.share("default", made["id"]))
    assert (
        stored_share[b"digest"] == hashlib.sha256(secret.encode()).hexdigest().encode()
    )
    for key in redis_client.scan_iter("*"):
        value = redis_client.dump(key) or b""
        assert secret.encode() not in value and secret.encode() not in key


def test_share_ttl_is_its_expiry(app, client, stored, redis_client):
    made = share(client, expires_in=3600)
    keys = Keys(app.config["KEY_PREFIX"])
    assert 3590 <= redis_client.ttl(keys.share("default", made["id"])) <= 3600
    assert 3590 <= redis_client.ttl(keys.archive_shares("default", ID)) <= 3600


def test_default_and_maximum_lifetimes(app, client, stored):
    made = share(client)
    assert made["expires_at"] - made["created_at"] == 86400
    app.config["SHARE_MAX_SECONDS"] = 100
    for bad in (0, -1, 101, "60", 1.5, True):
        body = json.dumps({"expires_in": bad})
        response = client.post(SHARES, data=body, headers=AUTH)
        assert_error(response, 400, 1)
    response = client.post(SHARES, data=json.dumps({"note": "x" * 1025}), headers=AUTH)
    assert_error(response, 400, 1)
    response = client.post(SHARES, data=b"", headers=AUTH)
    assert response.status_code == 201, response.data


def test_shares_of_missing_or_trashed_archives(client, stored):
    missing = f"{BASE}/{'ab' * 64}/shares"
    assert_error(client.post(missing, data="{}", headers=AUTH), 404, 2)
    assert_error(client.get(missing, headers=AUTH), 404, 2)
    made = share(client)
    client.delete(f"{BASE}/{ID}", headers=AUTH)
    assert_error(client.post(SHARES, data="{}", headers=AUTH), 410, 2)
    # A trashed archive answers 410 to share holders too; restore brings it back.
    url = f"/archives/default/{ID}"
    assert_error(fetch(client, url, made["token"]), 410, 2)
    client.post(f"{BASE}/{ID}/restore", headers=AUTH)
    assert fetch(client, url, made["token"]).status_code == 200


def test_purge_revokes_shares(app, client, stored, redis_client):
    made = share(client)
    response = client.delete(
        f"{BASE}/{ID}", headers=AUTH, query_string={"purge": "true"}
    )
    assert response.status_code == 204, response.data
    keys = Keys(app.config["KEY_PREFIX"])
    assert not redis_client.exists(keys.share("default", made["id"]))
    assert not redis_client.exists(keys.archive_shares("default", ID))
    upload(client, DATA)  # the same bytes again: a new record, the old share dead
    url = f"/archives/default/{ID}"
    assert_error(fetch(client, url, made["token"]), 401, 5, INVALID)


def test_share_scopes(client, stored):
    def key_with(scopes):
        body = {"username": "admin", "scopes": scopes}
        response = client.post(f"{CORE}/apikeys", data=json.dumps(body), headers=AUTH)
        return {"Authorization": f"Key {response.headers['Location'].rsplit('/')[-1]}"}

    reader = key_with(["archives:read:default"])
    writer = key_with(["archives:write:default"])
    assert client.get(SHARES, headers=reader).status_code == 200
    assert_error(client.post(SHARES, data="{}", headers=reader), 403, 4)
    assert client.post(SHARES, data="{}", headers=writer).status_code == 201


def test_share_keys_share_their_namespace_slot():
    keys = Keys("stashd", cluster=True)
    slots = {
        key_slot(k.encode())
        for k in [
            keys.archive("ns", ID),
            keys.share("ns", "abcdEFGH"),
            keys.archive_shares("ns", ID),
        ]
    }
    assert len(slots) == 1


def test_upload_with_share_writes_a_token_into_the_asset_url(client, sensu):
    response = upload(client, DATA, filename="s.tar.gz", asset="shared", share="600")
    assert response.status_code == 201, response.data
    body = response.get_json()
    url = body["asset"]["url"]
    path, _, token = url.partition("?token=")
    assert path == f"http://localhost/archives/default/{ID}/s.tar.gz" and token
    assert body["warnings"] == []  # the token is the definition's credential
    assert sensu.stored("shared")["url"] == url
    fetched = fetch(client, url.removeprefix("http://localhost"))
    assert fetched.status_code == 200 and fetched.data == DATA
    listed = client.get(SHARES, headers=AUTH).get_json()
    assert [s["id"] for s in listed] == [token.partition(".")[0]]
    assert listed[0]["expires_at"] - listed[0]["created_at"] == 600


@pytest.mark.parametrize("seconds", ["0", "-5", "soon", "1.5", str(366 * 86400)])
def test_upload_with_a_bad_share_is_400_and_stores_nothing(app, client, seconds):
    response = upload(client, DATA, asset="shared", share=seconds)
    assert_error(response, 400, 1)
    assert list(app.extensions["blobs"].ids()) == []


def test_an_upload_that_fails_after_its_share_revokes_it(client, sensu, redis_client):
    body = {
        "url": "https://example.com/x.tar.gz",
        "sha512": "ab" * 64,
        "builds": [{"url": "https://example.com/b", "sha512": "cd" * 64}],
        "metadata": {"name": "built", "namespace": "default"},
    }
    assert sensu.create(body).status_code == 201
    response = upload(client, DATA, asset="built", share="600")
    assert_error(response, 409, 3)
    assert [k for k in redis_client.scan_iter("*share*")] == []


def test_a_token_decides_even_when_downloads_are_public(app, client, stored):
    app.config["ARCHIVES_PUBLIC_READ"] = True
    url = f"/archives/default/{ID}"
    assert fetch(client, url).status_code == 200
    assert_error(fetch(client, url, "nope.nope"), 401, 5, INVALID)
    assert fetch(client, url, share(client)["token"]).status_code == 200
