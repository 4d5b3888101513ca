"""CORS headers on every response, and what the CORS setting changes (section 10)."""

from __future__ import annotations

import pytest

from tests.stashes.helpers import DEFAULT_CORS, cors_headers

# One request per kind of response: success, each 4xx, OPTIONS.
RESPONSES = [
    ("GET", "/stashes", "", 200),
    ("POST", "/stashes/x", "{}", 201),
    ("GET", "/health", "", 204),
    ("POST", "/stashes", "not json", 400),
    ("GET", "/stashes/missing", "", 404),
    ("PUT", "/stashes", "", 405),
    ("OPTIONS", "/stashes", "", 200),
    ("OPTIONS", "/nowhere", "", 200),
    ("GET", "/nowhere", "", 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), RESPONSES)
def test_cors_defaults_are_sent_byte_for_byte(client, method, path, body, status):
    response = client.open(path, method=method, data=body)
    assert response.status_code == status
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


def test_cors_defaults_are_sent_on_head(client):
    response = client.head("/stashes/missing")
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


def test_cors_defaults_are_sent_on_path_that_is_not_utf8(api):
    response = api.raw("GET", b"/stashes/\xff".decode("latin-1"))
    assert response.status_code == 400
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


def test_cors_defaults_are_sent_without_origin_and_with_one(client):
    plain = client.get("/stashes")
    with_origin = client.get("/stashes", headers={"Origin": "https://example.com"})
    assert sorted(cors_headers(plain)) == sorted(DEFAULT_CORS.items())
    assert sorted(cors_headers(with_origin)) == sorted(DEFAULT_CORS.items())


class TestSmallBodyLimit:
    @pytest.fixture
    def config(self):
        return {"MAX_BODY_BYTES": 8}

    def test_cors_defaults_are_sent_on_413(self, client):
        response = client.post("/stashes/x", data='{"a": "long enough"}')
        assert response.status_code == 413
        assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


class TestConfiguredObject:
    @pytest.fixture
    def config(self):
        return {"CORS": {"Origin": "https://dash.example", "Headers": "X-Custom"}}

    @pytest.mark.parametrize(("method", "path", "body", "status"), RESPONSES)
    def test_cors_configured_object_replaces_the_defaults(
        self, client, method, path, body, status
    ):
        response = client.open(path, method=method, data=body)
        assert response.status_code == status
        assert sorted(cors_headers(response)) == [
            ("Access-Control-Allow-Headers", "X-Custom"),
            ("Access-Control-Allow-Origin", "https://dash.example"),
        ]


class TestEmptyObject:
    @pytest.fixture
    def config(self):
        return {"CORS": {}}

    def test_cors_empty_object_sends_no_cors_headers(self, client):
        assert cors_headers(client.get("/stashes")) == []


class TestOff:
    @pytest.fixture(params=[False, None, "", "false", [], ["Origin"], 0])
    def config(self, request):
        return {"CORS": request.param}

    @pytest.mark.parametrize(("method", "path", "body", "status"), RESPONSES)
    def test_cors_false_turns_the_headers_off(self, client, method, path, body, status):
        response = client.open(path, method=method, data=body)
        assert response.status_code == status
        assert cors_headers(response) == []
