"""/auth, access tokens, refresh, logout and API keys as credentials (spec 9)."""

from __future__ import annotations

import base64
import time

import pytest

from tests.sensugo import AUTH, CORE, KEY, assert_error

USER, PASSWORD = "ops", "s3cret:with:colon"
NS = f"{CORE}/namespaces"


@pytest.fixture
def config(tmp_path):
    return {"DATA_DIR": str(tmp_path), "API_USER": USER, "API_PASSWORD": PASSWORD}


def basic(user, password, scheme="Basic"):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"{scheme} {token}"}


def login(client, user=USER, password=PASSWORD):
    response = client.get("/auth", headers=basic(user, password))
    assert response.status_code == 200, response.data
    return response.get_json()


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def test_login_returns_sensu_tokens(client):
    before = int(time.time())
    response = client.get("/auth", headers=basic(USER, PASSWORD))
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    tokens = response.get_json()
    assert set(tokens) == {"access_token", "expires_at", "refresh_token"}
    assert tokens["access_token"] and tokens["refresh_token"]
    assert isinstance(tokens["expires_at"], int)
    assert before + 300 <= tokens["expires_at"] <= int(time.time()) + 300


@pytest.mark.parametrize(
    "headers",
    [
        {},
        basic(USER, "wrong"),
        basic("nobody", PASSWORD),
        basic(USER, PASSWORD, "Bearer"),
        {"Authorization": f"Key {KEY}"},
    ],
)
def test_login_with_bad_credentials_is_401(client, headers):
    assert_error(client.get("/auth", headers=headers), 401, 5)


def test_access_token_opens_the_api(client):
    tokens = login(client)
    response = client.get(NS, headers=bearer(tokens["access_token"]))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "bad credentials"),
        (basic(USER, PASSWORD), "bad credentials"),
        ({"Authorization": "bearer x"}, "bad credentials"),
        ({"Authorization": "Bearer"}, "bad credentials"),
        ({"Authorization": "Bearer nope"}, "invalid credentials"),
        ({"Authorization": "Key nope"}, "invalid credentials"),
        ({"Authorization": f"key {KEY}"}, "bad credentials"),
        ({"Authorization": f"Key  {KEY}"}, "invalid credentials"),
    ],
)
def test_core_routes_take_only_bearer_or_key(client, headers, message):
    assert_error(client.get(NS, headers=headers), 401, 5, message)


def test_api_key_opens_the_api(client):
    assert client.get(NS, headers=AUTH).status_code == 200


def test_expired_access_token_is_401_but_can_be_refreshed(app, client, monkeypatch):
    tokens = login(client)
    later = time.time() + 301
    monkeypatch.setattr(time, "time", lambda: later)
    assert_error(client.get(NS, headers=bearer(tokens["access_token"])), 401, 5)
    response = client.post(
        "/auth/token",
        headers=bearer(tokens["access_token"]),
        json={"refresh_token": tokens["refresh_token"]},
    )
    assert response.status_code == 200
    fresh = response.get_json()
    assert fresh["refresh_token"] == tokens["refresh_token"]
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["expires_at"] >= int(later) + 299
    assert client.get(NS, headers=bearer(fresh["access_token"])).status_code == 200


def test_refresh_needs_a_known_access_token(client):
    tokens = login(client)
    body = {"refresh_token": tokens["refresh_token"]}
    assert_error(client.post("/auth/token", json=body), 401, 5)
    response = client.post("/auth/token", headers=bearer("forged"), json=body)
    assert_error(response, 401, 5)


def test_refresh_with_a_bad_body_is_400(client):
    tokens = login(client)
    response = client.post(
        "/auth/token", headers=bearer(tokens["access_token"]), data="{nope"
    )
    assert_error(response, 400, 1)


@pytest.mark.parametrize(
    "body", [{}, {"refresh_token": "forged"}, {"refresh_token": 3}]
)
def test_refresh_with_an_invalid_refresh_token_is_401(client, body):
    tokens = login(client)
    response = client.post(
        "/auth/token", headers=bearer(tokens["access_token"]), json=body
    )
    assert_error(response, 401, 5)


def test_refresh_token_of_another_user_is_401(app, client):
    from accounts.authenticator import hash_password

    app.extensions["client"].run(
        app.extensions["accounts"].put_user("eve", hash_password("pw"), 0)
    )
    mine = login(client)
    theirs = login(client, "eve", "pw")
    response = client.post(
        "/auth/token",
        headers=bearer(mine["access_token"]),
        json={"refresh_token": theirs["refresh_token"]},
    )
    assert_error(response, 401, 5)


def test_auth_test_checks_basic_credentials(client):
    response = client.get("/auth/test", headers=basic(USER, PASSWORD))
    assert response.status_code == 200 and response.data == b""
    assert_error(client.get("/auth/test", headers=basic(USER, "no")), 401, 5)
    assert_error(client.get("/auth/test"), 401, 5)


def test_logout_revokes_the_tokens(client):
    tokens = login(client)
    headers = bearer(tokens["access_token"])
    response = client.post(
        "/auth/logout", headers=headers, json={"refresh_token": tokens["refresh_token"]}
    )
    assert response.status_code == 200 and response.data == b""
    assert_error(client.get(NS, headers=headers), 401, 5)
    response = client.post(
        "/auth/token", headers=headers, json={"refresh_token": tokens["refresh_token"]}
    )
    assert_error(response, 401, 5)


def test_logout_with_a_refresh_token_not_a_string_is_400(client):
    tokens = login(client)
    headers = bearer(tokens["access_token"])
    response = client.post("/auth/logout", headers=headers, json={"refresh_token": 5})
    assert_error(response, 400, 1)
    assert client.get(NS, headers=headers).status_code == 200  # nothing revoked


def test_logout_without_body_and_without_token(client):
    tokens = login(client)
    assert_error(client.post("/auth/logout"), 401, 5)
    response = client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert response.status_code == 200


def test_logout_keeps_other_sessions(client):
    first, second = login(client), login(client)
    client.post("/auth/logout", headers=bearer(first["access_token"]))
    assert client.get(NS, headers=bearer(second["access_token"])).status_code == 200


def test_tokens_and_keys_are_stored_only_as_digests(app, client, redis_client):
    tokens = login(client)
    stored = b"".join(
        key + repr(redis_client.dump(key)).encode() for key in redis_client.keys("*")
    )
    for secret in (tokens["access_token"], tokens["refresh_token"], KEY, PASSWORD):
        assert secret.encode() not in stored


def test_configured_password_is_stored_as_a_salted_slow_hash(app, redis_client):
    from redisio.keys import Keys

    stored = redis_client.hget(Keys("stashd").user(USER), "password").decode()
    assert stored.startswith("scrypt$")
    assert PASSWORD not in stored


class TestTokenLifetimes:
    @pytest.fixture
    def config(self, tmp_path):
        return {
            "DATA_DIR": str(tmp_path),
            "API_USER": USER,
            "API_PASSWORD": PASSWORD,
            "ACCESS_TOKEN_TTL": 60,
            "REFRESH_TOKEN_TTL": 120,
        }

    def test_lifetimes_follow_the_settings(self, client, redis_client):
        from accounts.authenticator import digest
        from redisio.keys import Keys

        tokens = login(client)
        assert tokens["expires_at"] <= int(time.time()) + 60
        key = Keys("stashd").refresh_token(digest(tokens["refresh_token"]))
        assert 110 < redis_client.ttl(key) <= 120
