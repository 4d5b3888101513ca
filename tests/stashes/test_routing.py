"""Routes, 404/405, request IDs and OPTIONS (spec stashes.md sections 1, 2 and 6.6)."""

from __future__ import annotations

import pytest

from tests.stashes.helpers import UUID4, allowed, assert_empty

STASHES_METHODS = ["GET", "HEAD", "POST"]
STASH_METHODS = ["GET", "HEAD", "POST", "DELETE"]
STATUS_METHODS = ["GET", "HEAD"]


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/nowhere",
        "/stash",
        "/stashesx",
        "/stashesx/a",
        "/stashx/a",
        "/Stashes",
        "/STASHES",
        "/Stash/a",
        "/Stashes/a",
        "/Health",
        "/clients",
        "/events",
        "/silences",  # /silenced is the silenced API
    ],
)
def test_routing_unknown_path_is_404_with_empty_body(client, path):
    assert_empty(client.get(path), 404)


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE", "PUT", "PATCH"])
def test_routing_unknown_path_is_404_for_every_method(client, method):
    response = client.open("/nowhere", method=method, data="{}")
    assert_empty(response, 404)


def test_routing_stash_without_slash_is_not_the_stash_route(api):
    api.write("x", {"a": 1})
    assert_empty(api.client.get("/stash"), 404)
    assert_empty(api.client.post("/stash", data="{}"), 404)


def test_routing_stashes_with_suffix_is_not_the_list(api):
    api.write("x", {"a": 1})
    assert_empty(api.client.get("/stashesx"), 404)


def test_routing_is_case_sensitive_for_stash_paths(api):
    api.write("x", {"a": 1})
    assert_empty(api.client.get("/Stashes/x"), 404)
    assert_empty(api.client.get("/STASH/x"), 404)


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_routing_stashes_wrong_method_is_405_with_allow(client, method):
    response = client.open("/stashes", method=method, data="{}")
    assert_empty(response, 405)
    assert allowed(response) == STASHES_METHODS


@pytest.mark.parametrize("prefix", ["/stash/", "/stashes/"])
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_routing_stash_wrong_method_is_405_with_allow(client, prefix, method):
    response = client.open(prefix + "x", method=method, data="{}")
    assert_empty(response, 405)
    assert allowed(response) == STASH_METHODS


@pytest.mark.parametrize("path", ["/health", "/info"])
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_routing_status_route_wrong_method_is_405_with_allow(client, path, method):
    response = client.open(path, method=method, data="{}")
    assert_empty(response, 405)
    assert allowed(response) == STATUS_METHODS


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_routing_put_and_patch_never_write(api, method):
    api.write("x", {"old": True})
    api.client.open("/stashes/x", method=method, data='{"new": true}')
    api.client.open(
        "/stashes", method=method, data='{"path": "y", "content": {"new": true}}'
    )
    assert api.get("x").get_json() == {"old": True}
    assert api.paths() == ["x"]


def test_routing_allow_header_is_sent_only_on_405(client):
    assert "Allow" not in client.get("/stashes").headers
    assert "Allow" not in client.get("/nowhere").headers


def test_request_id_is_echoed_when_given(client):
    # 1-128 of A-Z a-z 0-9 . _ : - (spec 17.8); tests/core covers the rest.
    response = client.get("/stashes", headers={"X-Request-ID": "abc-123_given"})
    assert response.headers.get_all("X-Request-ID") == ["abc-123_given"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/nowhere", 404),
        ("PUT", "/stashes", 405),
        ("POST", "/stashes", 400),
        ("OPTIONS", "/stashes", 200),
        ("GET", "/health", 204),
        ("POST", "/stash/x", 201),
    ],
)
def test_request_id_is_echoed_on_every_status(client, method, path, status):
    response = client.open(
        path, method=method, data="{}", headers={"X-Request-ID": "r-1"}
    )
    assert response.status_code == status
    assert response.headers.get_all("X-Request-ID") == ["r-1"]


def test_request_id_is_generated_when_absent(client):
    response = client.get("/stashes")
    assert UUID4.fullmatch(response.headers["X-Request-ID"])


def test_request_id_is_generated_when_header_is_empty(client):
    response = client.get("/stashes", headers={"X-Request-ID": ""})
    assert UUID4.fullmatch(response.headers["X-Request-ID"])


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/nowhere"), ("PUT", "/stashes"), ("OPTIONS", "/x"), ("POST", "/stashes")],
)
def test_request_id_is_generated_on_error_and_options_responses(client, method, path):
    response = client.open(path, method=method)
    assert UUID4.fullmatch(response.headers["X-Request-ID"])


def test_request_id_is_new_for_each_request(client):
    ids = {client.get("/stashes").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize(
    "path",
    [
        "/stashes",
        "/stash/x",
        "/stashes/x",
        "/stashes/",
        "/health",
        "/info",
        "/nowhere",
        "/",
    ],
)
def test_options_is_200_with_empty_body_on_any_path(client, path):
    assert_empty(client.options(path), 200)


def test_options_content_length_is_zero(client):
    response = client.options("/stashes")
    assert response.headers.get("Content-Length", "0") == "0"


def test_options_does_not_write(api):
    api.client.options("/stashes/x", data='{"a": 1}')
    api.client.options("/stashes", data='{"path": "y", "content": {}}')
    assert_empty(api.get("x"), 404)
    assert api.items() == []


def test_options_is_answered_for_a_path_that_is_not_utf8(api):
    response = api.raw("OPTIONS", b"/stashes/\xff".decode("latin-1"))
    assert_empty(response, 200)
