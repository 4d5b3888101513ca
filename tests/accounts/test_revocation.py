"""Credentials end with their user (spec stashes.md 17.5): a changed password or a
deleted user ends its tokens, keys and remembered Basic checks at once."""

from __future__ import annotations

import base64

import pytest

from redisio.keys import Keys
from tests.sensugo import CORE

ADMIN, ADMIN_PASSWORD = "ops", "ops-pw"
USER, PASSWORD = "handler", "h-pw"


@pytest.fixture
def config(tmp_path):
    return {
        "DATA_DIR": str(tmp_path),
        "API_USER": ADMIN,
        "API_PASSWORD": ADMIN_PASSWORD,
    }


@pytest.fixture
def auth(app):
    auth = app.extensions["auth"]
    auth.set_password(USER, PASSWORD)
    return auth


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


def login(client, password=PASSWORD):
    response = client.get("/auth", headers=basic(USER, password))
    assert response.status_code == 200, response.data
    return response.get_json()


def refresh(client, tokens):
    return client.post(
        "/auth/token",
        headers=bearer(tokens["access_token"]),
        json={"refresh_token": tokens["refresh_token"]},
    )


def works(client, headers):
    """True when `headers` open a stash route and a Sensu Go route alike."""
    stash = client.get("/stash/x", headers=headers).status_code
    sensu_go = client.get(f"{CORE}/namespaces", headers=headers).status_code
    assert (stash == 404) == (sensu_go == 200), (stash, sensu_go)
    return stash == 404


def test_a_new_password_ends_the_users_tokens_at_once(auth, client):
    tokens = login(client)
    assert works(client, bearer(tokens["access_token"]))
    auth.set_password(USER, "changed")
    assert not works(client, bearer(tokens["access_token"]))
    assert refresh(client, tokens).status_code == 401
    assert works(client, bearer(login(client, "changed")["access_token"]))


def test_a_new_password_ends_a_remembered_basic_check_at_once(auth, client):
    assert client.get("/stash/x", headers=basic(USER, PASSWORD)).status_code == 404
    auth.set_password(USER, "changed")
    assert client.get("/stash/x", headers=basic(USER, PASSWORD)).status_code == 401
    assert client.get("/stash/x", headers=basic(USER, "changed")).status_code == 404


def test_removing_a_user_ends_its_tokens_keys_and_basic_checks(app, auth, client):
    tokens = login(client)
    created = client.post(
        f"{CORE}/apikeys",
        headers=bearer(tokens["access_token"]),
        json={"username": USER},
    )
    key = {"Authorization": f"Key {created.headers['Location'].rsplit('/', 1)[1]}"}
    assert works(client, key)
    assert client.get("/stash/x", headers=basic(USER, PASSWORD)).status_code == 404
    assert auth.remove_user(USER)
    assert not works(client, key)
    assert not works(client, bearer(tokens["access_token"]))
    assert refresh(client, tokens).status_code == 401
    assert client.get("/stash/x", headers=basic(USER, PASSWORD)).status_code == 401


def test_a_token_of_a_user_that_no_longer_exists_is_refused(auth, client, redis_client):
    tokens = login(client)
    # Gone without revoking its tokens, as users were deleted before this version.
    redis_client.delete(Keys("stashd").user(USER))
    assert not works(client, bearer(tokens["access_token"]))
    assert refresh(client, tokens).status_code == 401
    logout = client.post("/auth/logout", headers=bearer(tokens["access_token"]))
    assert logout.status_code == 401


def test_no_tokens_for_a_user_another_process_removed(app, auth, client):
    login(client)  # this process remembers the Basic check for 30 s
    run = app.extensions["client"].run
    run(app.extensions["accounts"].delete_user(USER))
    assert client.get("/auth", headers=basic(USER, PASSWORD)).status_code == 401
