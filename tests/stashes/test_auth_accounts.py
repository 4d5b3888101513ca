"""Stash routes with credentials on: the admin's Basic credentials, other users'
Basic credentials, API keys and access tokens (spec stashes.md section 9)."""

from __future__ import annotations

import socket
import time

import pytest

from accounts import authenticator as auth
from accounts import passwords
from accounts.authenticator import Authenticator, digest, hash_password
from accounts.store import ApiKey
from app import create_app
from core.errors import Unauthorized
from core.request import WSGIRequest
from core.settings_load import load
from server.bootstrap import bootstrap
from tests.stashes.helpers import assert_empty, basic

ADMIN, ADMIN_PASSWORD = "admin", "pa:ss"
KEY = "stash-key-0123456789"
CHALLENGE = 'Basic realm="Restricted Area"'


@pytest.fixture
def config(tmp_path):
    return {
        "API_USER": ADMIN,
        "API_PASSWORD": ADMIN_PASSWORD,
        "API_KEY": KEY,
        "DATA_DIR": str(tmp_path),
    }


@pytest.fixture
def accounts(app):
    bootstrap(app.config, app.extensions["redis"])
    store = app.extensions["accounts"]
    app.extensions["client"].run(store.put_user("handler", hash_password("h-pw"), 0))
    return store


def assert_401(response):
    assert_empty(response, 401)
    assert response.headers.get_all("WWW-Authenticate") == [CHALLENGE]


def test_admin_basic_still_works(client, accounts):
    assert (
        client.get("/stashes", headers=basic(ADMIN, ADMIN_PASSWORD)).status_code == 200
    )


def test_configured_api_key_opens_stash_routes(client, accounts):
    headers = {"Authorization": f"Key {KEY}"}
    assert client.post("/stash/k", data="{}", headers=headers).status_code == 201
    assert client.get("/stash/k", headers=headers).get_json() == {}
    assert client.get("/stashes", headers=headers).status_code == 200


def test_granted_api_key_opens_stash_routes_until_revoked(app, client, accounts):
    run = app.extensions["client"].run
    run(
        accounts.put_apikey(
            ApiKey(
                digest=digest("granted-key"),
                username="handler",
                created_by="x",
                created_at=0,
            )
        )
    )
    headers = {"Authorization": "Key granted-key"}
    assert client.get("/stashes", headers=headers).status_code == 200
    run(accounts.delete_apikey(digest("granted-key")))
    assert_401(client.get("/stashes", headers=headers))


def test_access_token_opens_stash_routes(client, accounts):
    tokens = client.get("/auth", headers=basic("handler", "h-pw")).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/stashes/x", headers=headers).status_code == 404
    assert client.post("/stashes/x", data="{}", headers=headers).status_code == 201


def test_expired_access_token_is_401_on_stash_routes(client, accounts, monkeypatch):
    tokens = client.get("/auth", headers=basic("handler", "h-pw")).get_json()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    later = time.time() + 3600
    monkeypatch.setattr(time, "time", lambda: later)
    assert_401(client.get("/stashes", headers=headers))


def test_other_users_basic_credentials_open_stash_routes(client, accounts):
    assert client.get("/stashes", headers=basic("handler", "h-pw")).status_code == 200
    assert client.post("/stash/h", data="{}", headers=basic("handler", "h-pw"))


@pytest.mark.parametrize(
    "headers",
    [
        basic("handler", "wrong"),
        basic("nobody", "h-pw"),
        {"Authorization": "Key wrong-key"},
        {"Authorization": f"key {KEY}"},
        {"Authorization": "Bearer forged"},
        {"Authorization": "Bearer"},
    ],
)
def test_bad_credentials_are_401_and_write_nothing(client, accounts, headers):
    assert_401(client.post("/stashes/p", data="{}", headers=headers))
    assert_401(client.get("/stashes/p", headers=headers))
    assert (
        client.get("/stashes/p", headers=basic(ADMIN, ADMIN_PASSWORD)).status_code
        == 404
    )


def test_basic_verification_of_users_is_cached_briefly(client, accounts, monkeypatch):
    calls = []
    real = passwords.verify_password

    def counting(password, stored):
        calls.append(password)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    headers = basic("handler", "h-pw")
    for _ in range(5):
        assert client.get("/stashes", headers=headers).status_code == 200
    assert len(calls) == 1
    later = time.monotonic() + auth.BASIC_CACHE_SECONDS + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert client.get("/stashes", headers=headers).status_code == 200
    assert len(calls) == 2


def test_failed_basic_verification_is_cached_too(client, accounts, monkeypatch):
    """A handler polling with a stale password costs one scrypt per window."""
    calls = []
    real = passwords.verify_password
    monkeypatch.setattr(
        passwords, "verify_password", lambda p, s: calls.append(p) or real(p, s)
    )
    for _ in range(3):
        assert_401(client.get("/stashes", headers=basic("handler", "bad")))
    assert len(calls) == 1
    # Other credentials are other cache entries: the right password works at once.
    assert client.get("/stashes", headers=basic("handler", "h-pw")).status_code == 200


class Broken:
    """Any call means the admin check reached the account store or Redis."""

    def __init__(self, what):
        self.what = what

    def __getattr__(self, name):
        raise AssertionError(f"the admin check called {self.what}.{name}")


def request_with(header):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/stashes"}
    if header is not None:
        environ["HTTP_AUTHORIZATION"] = header
    return WSGIRequest(environ)


def test_admin_check_needs_no_redis():
    config = load({"API_USER": ADMIN, "API_PASSWORD": ADMIN_PASSWORD})
    authenticator = Authenticator(Broken("accounts"), Broken("client"), config)  # type: ignore[arg-type]
    header = basic(ADMIN, ADMIN_PASSWORD)["Authorization"]
    assert authenticator.quick(request_with(header)) is True
    with pytest.raises(Unauthorized):
        authenticator.quick(request_with(None))


@pytest.fixture(params=[True, False], ids=["fast", "flask"])
def down(request, tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(
        {
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "FAST_PATH": request.param,
            "API_USER": ADMIN,
            "API_PASSWORD": ADMIN_PASSWORD,
        }
    )
    yield app.test_client()
    app.extensions["redis"].close()


def test_redis_down_key_check_on_stash_route_is_500(down):
    response = down.get("/stashes/x", headers={"Authorization": f"Key {KEY}"})
    assert response.status_code == 500
    assert response.get_json() == {"error": "not connected to redis"}


def test_redis_down_admin_basic_still_reaches_the_route(down):
    response = down.get("/stashes/x", headers=basic(ADMIN, ADMIN_PASSWORD))
    assert response.status_code == 500  # from the stash lookup, not from auth
    assert_401(down.get("/stashes/x"))


class TestOpen:
    @pytest.fixture
    def config(self):
        return {}

    def test_without_configured_admin_stash_routes_stay_open(self, client):
        assert (
            client.get("/stashes", headers={"Authorization": "Key nope"}).status_code
            == 200
        )
        assert client.get("/stashes").status_code == 200
