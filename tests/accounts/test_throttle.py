"""Failed logins throttled per client address (spec stashes.md 17.4), on the Flask
test client: every kind of failure counts, 429 comes without a password hash, the
configured administrator always passes, and successes cost no extra round trip."""

from __future__ import annotations

import base64
import time

import pytest

from accounts import passwords
from accounts.authenticator import hash_password
from accounts.throttle import client_address
from core.addresses import trusted_proxies
from redisio.keys import Keys
from tests.sensugo import AUTH, CORE

ADMIN, ADMIN_PASSWORD = "ops", "ops-pw"
USER, PASSWORD = "handler", "h-pw"
LIMIT = 3
TOO_MANY = "too many failed logins, retry later"


@pytest.fixture
def config(tmp_path):
    return {
        "DATA_DIR": str(tmp_path),
        "API_USER": ADMIN,
        "API_PASSWORD": ADMIN_PASSWORD,
        "AUTH_FAILURES": LIMIT,
        "AUTH_FAILURE_WINDOW": 60,
        "TRUSTED_PROXIES": "10.0.0.0/8",
    }


@pytest.fixture
def app(app):
    run = app.extensions["client"].run
    run(app.extensions["accounts"].put_user(USER, hash_password(PASSWORD), 0))
    return app


@pytest.fixture
def hashes(monkeypatch):
    """The passwords checked against a stored hash, in order."""
    checked = []
    real = passwords.verify_password

    def counting(password, stored):
        checked.append(password)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", counting)
    return checked


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def at(address, forwarded=None, headers=None):
    """Request arguments for a client at `address` (the peer), maybe behind
    X-Forwarded-For, sending `headers`."""
    sent = dict(headers or {})
    if forwarded is not None:
        sent["X-Forwarded-For"] = forwarded
    return {"environ_base": {"REMOTE_ADDR": address}, "headers": sent}


def fail(client, times, address="127.0.0.1", forwarded=None):
    """`times` failed Basic logins on a stash route, each with a new password."""
    for i in range(times):
        wrong = basic(USER, f"wrong-{i}")
        response = client.get("/stashes", **at(address, forwarded, wrong))
        assert response.status_code == 401, i


def assert_throttled(response, sensu_go=False):
    assert response.status_code == 429, (response.status_code, response.data)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    if sensu_go:
        assert response.get_json() == {"message": TOO_MANY, "code": 4}
    else:
        assert response.get_json() == {"error": TOO_MANY}


def test_failures_past_the_limit_get_429_without_a_password_hash(client, hashes):
    fail(client, LIMIT)
    assert len(hashes) == LIMIT
    assert_throttled(client.get("/stashes", headers=basic(USER, "wrong-again")))
    # Even the right password of another user is not checked meanwhile.
    assert_throttled(client.get("/stashes", headers=basic(USER, PASSWORD)))
    assert_throttled(client.post("/stash/x", data="{}", headers=AUTH))
    assert len(hashes) == LIMIT


def test_the_configured_administrator_always_passes(client):
    fail(client, LIMIT)
    admin = basic(ADMIN, ADMIN_PASSWORD)
    assert client.post("/stash/x", data="{}", headers=admin).status_code == 201
    assert client.get("/stash/x", headers=admin).status_code == 200
    assert client.get("/auth", headers=admin).status_code == 200


def test_a_throttled_address_gets_429_on_the_sensu_go_routes(client):
    fail(client, LIMIT)
    for method, path, headers in [
        ("GET", f"{CORE}/namespaces", AUTH),
        ("GET", "/auth", basic(USER, PASSWORD)),
        ("GET", "/auth/test", basic(USER, PASSWORD)),
        ("POST", "/auth/token", {"Authorization": "Bearer x"}),
    ]:
        response = client.open(path, method=method, headers=headers)
        assert_throttled(response, sensu_go=True)


def test_requests_without_credentials_are_not_counted_nor_throttled(client):
    for _ in range(LIMIT + 1):
        assert client.get("/stashes").status_code == 401
        assert client.get(f"{CORE}/namespaces").status_code == 401
    assert client.get("/stashes", headers=basic(USER, PASSWORD)).status_code == 200
    fail(client, LIMIT)
    assert client.get("/stashes").status_code == 401


def test_the_throttle_ends_with_its_window(app, client, redis_client, monkeypatch):
    began = time.monotonic()
    fail(client, LIMIT)
    assert_throttled(client.get("/stashes", headers=basic(USER, PASSWORD)))
    failures = Keys("stashd").failures("127.0.0.1")
    # A 60 s window from the first failure: what is left of it is 60 s less the
    # time the failures took (seconds on a busy machine: a password hash each).
    spent_ms = (time.monotonic() - began) * 1000
    assert 60_000 - spent_ms - 100 < redis_client.pttl(failures) <= 60_000
    # The window passes: Redis forgets the count, this process its memory of it.
    redis_client.delete(failures)
    later = time.monotonic() + 61
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert client.get("/stashes", headers=basic(USER, PASSWORD)).status_code == 200
    assert client.get("/stashes", headers=basic(USER, "no")).status_code == 401


def test_the_window_does_not_grow_with_refused_requests(client, redis_client):
    fail(client, LIMIT)
    failures = Keys("stashd").failures("127.0.0.1")
    redis_client.pexpire(failures, 5_000)
    for _ in range(3):
        assert_throttled(client.get("/stashes", headers=AUTH))
    assert redis_client.pttl(failures) <= 5_000


FAILURES = {
    "wrong password on a stash route": ("GET", "/stashes", basic(USER, "no")),
    "unknown user on a stash route": ("GET", "/stashes", basic("nobody", "no")),
    "malformed Basic": ("GET", "/stashes", {"Authorization": "Basic !!"}),
    "unknown key on a stash route": ("GET", "/stashes", {"Authorization": "Key no"}),
    "forged token on a stash route": ("GET", "/stash/x", {"Authorization": "Bearer x"}),
    "wrong password on /auth": ("GET", "/auth", basic(USER, "no")),
    "wrong password on /auth/test": ("GET", "/auth/test", basic(USER, "no")),
    "unknown key on a Sensu Go route": (
        "GET",
        f"{CORE}/namespaces",
        {"Authorization": "Key no"},
    ),
    "Basic on a Sensu Go route": ("GET", f"{CORE}/namespaces", basic(USER, PASSWORD)),
    "forged token on /auth/token": (
        "POST",
        "/auth/token",
        {"Authorization": "Bearer x"},
    ),
    "forged token on /auth/logout": (
        "POST",
        "/auth/logout",
        {"Authorization": "Bearer x"},
    ),
}


@pytest.mark.parametrize(("method", "path", "headers"), FAILURES.values(), ids=FAILURES)
def test_every_failed_credential_check_counts(client, method, path, headers):
    for _ in range(LIMIT):
        assert client.open(path, method=method, headers=headers).status_code == 401
    response = client.get("/stashes", headers=basic(USER, PASSWORD))
    assert_throttled(response)


def test_a_wrong_refresh_token_counts(client):
    tokens = client.get("/auth", headers=basic(USER, PASSWORD)).get_json()
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    for body in [{"refresh_token": "forged"}, {}, {"refresh_token": 3}]:
        response = client.post("/auth/token", headers=bearer, json=body)
        assert response.status_code == 401
    assert_throttled(client.post("/auth/token", headers=bearer, json={}), True)


def test_a_remembered_failure_counts_without_a_new_hash(client, hashes):
    wrong = basic(USER, "stale")
    for _ in range(LIMIT):
        assert client.get("/stashes", headers=wrong).status_code == 401
    assert len(hashes) == 1
    assert_throttled(client.get("/stashes", headers=wrong))


def test_failures_count_against_their_own_address(client):
    fail(client, LIMIT, "192.0.2.1")
    assert_throttled(client.get("/stashes", **at("192.0.2.1", headers=AUTH)))
    assert client.get("/stashes", **at("192.0.2.2", headers=AUTH)).status_code == 200


def test_x_forwarded_for_names_the_client_behind_a_trusted_proxy(client):
    proxy = "10.1.2.3"
    fail(client, LIMIT, proxy, "198.51.100.7")

    def get(forwarded=None):
        return client.get("/stashes", **at(proxy, forwarded, AUTH))

    assert_throttled(get("198.51.100.7"))
    # The proxy itself, and the other clients behind it, are not throttled.
    assert get().status_code == 200
    assert get("198.51.100.8").status_code == 200


def test_x_forwarded_for_from_anyone_else_is_ignored(client):
    fail(client, LIMIT, "192.0.2.9", "198.51.100.1")
    assert_throttled(client.get("/stashes", **at("192.0.2.9", "198.51.100.2", AUTH)))


class CountingClient:
    """The authenticator's Redis client, counting the calls it runs."""

    def __init__(self, client):
        self.client = client
        self.calls = []

    def run(self, call):
        self.calls.append(call.args[0])
        return self.client.run(call)


@pytest.fixture
def auth_calls(app):
    counting = CountingClient(app.extensions["auth"].client)
    app.extensions["auth"].client = counting
    return counting.calls


def test_successful_checks_cost_no_extra_round_trip(client, auth_calls):
    admin = basic(ADMIN, ADMIN_PASSWORD)
    assert client.get("/stashes", headers=admin).status_code == 200
    assert auth_calls == []  # in memory
    assert client.get("/stashes", headers=basic(USER, PASSWORD)).status_code == 200
    assert len(auth_calls) == 1  # the hash, with the address's failures
    assert client.get("/stashes", headers=basic(USER, PASSWORD)).status_code == 200
    assert len(auth_calls) == 1  # remembered
    assert client.get("/stashes", headers=AUTH).status_code == 200
    assert client.get(f"{CORE}/namespaces", headers=AUTH).status_code == 200
    assert len(auth_calls) == 3  # one lookup each, the throttle included


def test_a_failed_key_costs_one_round_trip(client, auth_calls):
    response = client.get("/stashes", headers={"Authorization": "Key no"})
    assert response.status_code == 401
    assert len(auth_calls) == 1


@pytest.mark.parametrize(
    ("peer", "forwarded", "address"),
    [
        ("192.0.2.1", None, "192.0.2.1"),
        ("192.0.2.1", "198.51.100.1", "192.0.2.1"),  # not a proxy of ours
        ("10.0.0.1", None, "10.0.0.1"),
        ("10.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.1", "203.0.113.9, 198.51.100.1", "198.51.100.1"),  # forged left
        ("10.0.0.1", "198.51.100.1, 10.0.0.2", "198.51.100.1"),  # two proxies
        ("10.0.0.1", "10.0.0.3, 10.0.0.2", "10.0.0.3"),  # a client inside
        ("10.0.0.1", "unknown", "unknown"),
        ("::ffff:10.0.0.1", "198.51.100.1", "198.51.100.1"),
        ("10.0.0.1", "x" * 100, "x" * 64),
    ],
)
def test_client_address(peer, forwarded, address):
    assert client_address(peer, forwarded, trusted_proxies("10.0.0.0/8")) == address
