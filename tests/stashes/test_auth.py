"""Basic auth when API_USER and API_PASSWORD are set (spec stashes.md sections 2, 9)."""

from __future__ import annotations

import base64

import pytest

from tests.stashes.helpers import DEFAULT_CORS, UUID4, assert_empty, basic, cors_headers

USER, PASSWORD = "admin", "pa:ss"
GOOD = basic(USER, PASSWORD)
CHALLENGE = 'Basic realm="Restricted Area"'


@pytest.fixture
def config():
    return {"API_USER": USER, "API_PASSWORD": PASSWORD}


def assert_401(response):
    assert_empty(response, 401)
    assert response.headers.get_all("WWW-Authenticate") == [CHALLENGE]


def raw_basic(text: bytes, scheme: str = "Basic") -> dict[str, str]:
    return {"Authorization": f"{scheme} {base64.b64encode(text).decode()}"}


BAD_CREDENTIALS = {
    "no header": {},
    "wrong password": basic(USER, "pa:sx"),
    "wrong user": basic("admin2", PASSWORD),
    "user case": basic("Admin", PASSWORD),
    "password prefix": basic(USER, "pa"),
    "password split at every colon": raw_basic(b"admin:pa"),
    "extra colon": basic(USER, PASSWORD + ":"),
    "empty password": basic(USER, ""),
    "empty user": basic("", PASSWORD),
    "no colon": raw_basic(b"admin"),
    "empty token": {"Authorization": "Basic "},
    "scheme only": {"Authorization": "Basic"},
    "not base64": {"Authorization": "Basic !!!not-base64!!!"},
    "bearer": {"Authorization": "Bearer " + GOOD["Authorization"].split()[1]},
    "key": {"Authorization": "Key " + PASSWORD},
    "raw credentials": {"Authorization": f"{USER}:{PASSWORD}"},
}


@pytest.mark.parametrize(
    "headers", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys()
)
def test_auth_bad_credentials_are_401(client, headers):
    assert_401(client.get("/stashes", headers=headers))


def test_auth_401_carries_cors_headers(client):
    response = client.get("/stashes")
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


def test_auth_401_echoes_the_request_id(client):
    response = client.get("/stashes", headers={"X-Request-ID": "who-is-this"})
    assert response.headers["X-Request-ID"] == "who-is-this"


def test_auth_401_generates_a_request_id(client):
    response = client.get("/stashes")
    assert UUID4.fullmatch(response.headers["X-Request-ID"])


def test_auth_head_without_credentials_is_401(client):
    assert_401(client.head("/stashes/x"))


def test_auth_good_credentials_with_colon_in_password_are_accepted(client):
    response = client.get("/stashes", headers=GOOD)
    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.parametrize("scheme", ["basic", "BASIC", "bAsIc"])
def test_auth_scheme_is_case_insensitive(client, scheme):
    assert (
        client.get("/stashes", headers=basic(USER, PASSWORD, scheme)).status_code == 200
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nowhere"),
        ("GET", "/stash"),
        ("PUT", "/stashes"),
        ("PATCH", "/stashes/x"),
        ("DELETE", "/health"),
        ("GET", "/stashes/"),
    ],
)
def test_auth_is_decided_before_routing(client, method, path):
    assert_401(client.open(path, method=method))


@pytest.mark.parametrize("path", ["/api", "/api/nowhere", "/api/core/nowhere", "/apix"])
def test_auth_unknown_path_outside_core_v2_is_401(client, path):
    # Only unknown paths under /api/core/v2 are 404 without credentials (assets.md).
    assert_401(client.get(path))


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("GET", "/nowhere", 404), ("PUT", "/stashes", 405), ("DELETE", "/health", 405)],
)
def test_auth_routing_answers_once_authenticated(client, method, path, status):
    assert_empty(client.open(path, method=method, headers=GOOD), status)


def test_auth_doubled_leading_slash_needs_credentials(api):
    assert_401(api.raw("GET", "//stash/x"))


@pytest.mark.parametrize("path", ["/health", "/info"])
def test_auth_status_routes_need_credentials(client, path):
    assert_401(client.get(path))


def test_auth_health_with_credentials_is_204(client):
    assert_empty(client.get("/health", headers=GOOD), 204)


def test_auth_info_with_credentials_is_200(client):
    assert client.get("/info", headers=GOOD).get_json()["redis"]["connected"] is True


@pytest.mark.parametrize(
    "path", ["/stashes", "/stashes/x", "/health", "/info", "/nowhere"]
)
def test_auth_options_needs_no_credentials(client, path):
    assert_empty(client.options(path), 200)


def test_auth_options_with_bad_credentials_is_200(client):
    assert_empty(client.options("/stashes", headers=basic(USER, "wrong")), 200)


def test_auth_rejected_create_stores_nothing(client):
    response = client.post("/stashes", data='{"path": "p", "content": {}}')
    assert_401(response)
    assert client.get("/stashes", headers=GOOD).get_json() == []


def test_auth_rejected_write_stores_nothing(client):
    assert_401(client.post("/stashes/p", data="{}", headers=basic(USER, "no")))
    assert_empty(client.get("/stashes/p", headers=GOOD), 404)


def test_auth_rejected_write_leaves_an_existing_stash(client):
    client.post("/stashes", data='{"path": "p", "content": {"v": 1}}', headers=GOOD)
    assert_401(client.post("/stashes/p", data='{"v": 2}'))
    assert_401(client.post("/stashes", data='{"path": "p", "content": {"v": 3}}'))
    assert client.get("/stashes/p", headers=GOOD).get_json() == {"v": 1}


def test_auth_rejected_delete_deletes_nothing(client):
    client.post("/stashes/p", data="{}", headers=GOOD)
    assert_401(client.delete("/stashes/p"))
    assert client.get("/stashes/p", headers=GOOD).status_code == 200


def test_auth_write_with_credentials_works(client):
    response = client.post(
        "/stashes", data='{"path": "p", "content": {}}', headers=GOOD
    )
    assert response.status_code == 201
    assert_empty(client.delete("/stash/p", headers=GOOD), 204)


class TestNonAsciiCredentials:
    @pytest.fixture
    def config(self):
        return {"API_USER": "jürgen", "API_PASSWORD": "pässwörd:ü"}

    def test_auth_utf8_credentials_are_accepted(self, client):
        response = client.get("/stashes", headers=basic("jürgen", "pässwörd:ü"))
        assert response.status_code == 200

    def test_auth_utf8_credentials_must_match(self, client):
        assert_401(client.get("/stashes", headers=basic("jürgen", "passwörd:ü")))


class TestOff:
    @pytest.fixture
    def config(self):
        return {}

    def test_auth_off_allows_requests_without_credentials(self, client):
        assert client.get("/stashes").status_code == 200
        assert client.post("/stashes/p", data="{}").status_code == 201

    def test_auth_off_ignores_an_authorization_header(self, client):
        headers = basic("anyone", "anything")
        assert client.get("/stashes", headers=headers).status_code == 200
