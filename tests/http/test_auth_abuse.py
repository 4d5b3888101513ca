"""Hostile logins under each server, over real HTTP (spec stashes.md 17.3-17.5): a
flood of wrong credentials does not stall the administrator, failed logins are
throttled and let go again, X-Forwarded-For counts only from trusted proxies, and
tokens end with their user's password."""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.servers import RedisServer, Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

ADMIN, PASSWORD = "admin", "pa:ss"
LIMIT, WINDOW = 3, 3
TOO_MANY = "too many failed logins, retry later"
CORE = "/api/core/v2/namespaces"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


ADMIN_AUTH = basic(ADMIN, PASSWORD)


def guarded_env(**extra: str) -> dict[str, str]:
    return {
        "STASHD_API_USER": ADMIN,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_AUTH_FAILURES": str(LIMIT),
        "STASHD_AUTH_FAILURE_WINDOW": str(WINDOW),
        **extra,
    }


@pytest.fixture(scope="module")
def behind_proxy(server_kind: str) -> Iterator[Stashd]:
    """stashd that trusts X-Forwarded-For from 127.0.0.1, where the tests are."""
    env = guarded_env(STASHD_TRUSTED_PROXIES="127.0.0.1")
    with stashd_on_own_redis(server_kind, env) as server:
        yield server


@pytest.fixture(scope="module")
def direct(server_kind: str) -> Iterator[Stashd]:
    """stashd that trusts no proxy: the peer's address counts."""
    with stashd_on_own_redis(server_kind, guarded_env()) as server:
        yield server


_clients = itertools.count(1)


def new_client() -> str:
    """An address of its own for a test's requests (sent as X-Forwarded-For)."""
    n = next(_clients)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def get(
    server: Stashd, path: str, auth: dict[str, str], client: str | None = None
) -> requests.Response:
    headers = dict(auth)
    if client is not None:
        headers["X-Forwarded-For"] = client
    return requests.get(server.url + path, headers=headers, timeout=10)


def fail(server: Stashd, client: str | None, times: int = LIMIT) -> None:
    for i in range(times):
        response = get(server, "/stash/x", basic("nobody", f"wrong-{i}"), client)
        assert response.status_code == 401, (i, response.status_code)


def assert_throttled(response: requests.Response, sensu_go: bool = False) -> None:
    assert response.status_code == 429, (response.status_code, response.text)
    assert 1 <= int(response.headers["Retry-After"]) <= WINDOW
    body = {"message": TOO_MANY, "code": 4} if sensu_go else {"error": TOO_MANY}
    assert response.json() == body


def test_a_flood_of_wrong_credentials_does_not_stall_the_admin(behind_proxy):
    stop = threading.Event()
    refused = []

    def flood() -> None:
        # Each request is new credentials from a new address: never remembered,
        # never throttled, so each costs a Redis lookup and a password hash.
        with requests.Session() as session:
            while not stop.is_set():
                headers = {
                    **basic(f"user-{time.monotonic_ns()}", "guess"),
                    "X-Forwarded-For": new_client(),
                }
                response = session.get(
                    f"{behind_proxy.url}/stash/x", headers=headers, timeout=30
                )
                refused.append(response.status_code)

    threads = [threading.Thread(target=flood) for _ in range(8)]
    for thread in threads:
        thread.start()
    worst = 0.0
    try:
        time.sleep(0.3)  # the flood is on
        with requests.Session() as admin:
            # For 3 s, and on until the flood has cost 16 password hashes at least
            # (each takes seconds on a busy machine).
            soon, latest = time.monotonic() + 3, time.monotonic() + 30
            while time.monotonic() < soon or (
                len(refused) < 16 and time.monotonic() < latest
            ):
                started = time.monotonic()
                response = admin.get(
                    f"{behind_proxy.url}/stash/x", headers=ADMIN_AUTH, timeout=10
                )
                worst = max(worst, time.monotonic() - started)
                assert response.status_code == 404
                time.sleep(0.02)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert len(refused) >= 16 and set(refused) == {401}
    assert worst < 1.0, f"the admin waited {worst:.2f} s"


def test_failed_logins_are_throttled_until_the_window_ends(behind_proxy):
    client = new_client()
    fail(behind_proxy, client)
    started = time.monotonic()
    assert_throttled(get(behind_proxy, "/stash/x", basic("nobody", "x"), client))
    assert_throttled(get(behind_proxy, "/stash/x", {"Authorization": "Key k"}, client))
    key = {"Authorization": "Key k"}
    assert_throttled(get(behind_proxy, CORE, key, client), sensu_go=True)
    assert_throttled(get(behind_proxy, "/auth", basic("x", "y"), client), True)
    # The configured administrator always passes.
    assert get(behind_proxy, "/stash/x", ADMIN_AUTH, client).status_code == 404
    time.sleep(max(0.0, WINDOW + 0.2 - (time.monotonic() - started)))
    assert (
        get(behind_proxy, "/stash/x", basic("nobody", "x"), client).status_code == 401
    )


def test_x_forwarded_for_from_a_trusted_proxy_names_the_client(behind_proxy):
    client, neighbour = new_client(), new_client()
    fail(behind_proxy, client)
    assert_throttled(get(behind_proxy, "/stash/x", basic("nobody", "x"), client))
    response = get(behind_proxy, "/stash/x", basic("nobody", "x"), neighbour)
    assert response.status_code == 401


def test_x_forwarded_for_from_anyone_else_is_ignored(direct):
    fail(direct, new_client())
    # Every request came from 127.0.0.1, whatever it claimed.
    assert_throttled(get(direct, "/stash/x", basic("nobody", "x"), new_client()))
    assert_throttled(get(direct, "/stash/x", basic("nobody", "x")))


def test_tokens_are_refused_after_a_restart_with_a_new_password(server_kind):
    redis_server = RedisServer()
    redis_server.start()
    env = {"STASHD_REDIS_URL": redis_server.url, "STASHD_API_USER": ADMIN}
    try:
        server = Stashd(server_kind, {**env, "STASHD_API_PASSWORD": "first"})
        server.start()
        try:
            tokens = get(server, "/auth", basic(ADMIN, "first")).json()
            bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
            assert get(server, CORE, bearer).status_code == 200
            assert get(server, "/stash/x", bearer).status_code == 404
        finally:
            server.stop()
        server = Stashd(server_kind, {**env, "STASHD_API_PASSWORD": "second"})
        server.start()
        try:
            assert get(server, CORE, bearer).status_code == 401
            assert get(server, "/stash/x", bearer).status_code == 401
            refreshed = requests.post(
                f"{server.url}/auth/token",
                headers=bearer,
                json={"refresh_token": tokens["refresh_token"]},
                timeout=10,
            )
            assert refreshed.status_code == 401
            assert get(server, "/stash/x", basic(ADMIN, "first")).status_code == 401
        finally:
            server.stop()
    finally:
        redis_server.remove()
