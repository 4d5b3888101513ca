"""What every response looks like: JSON with a length, HEAD like GET (section 3)."""

from __future__ import annotations

import json

import pytest

from tests.stashes.helpers import DEFAULT_CORS, assert_json_error, cors_headers

FIXED_ID = {"X-Request-ID": "fixed"}


def assert_json_with_length(response, status):
    assert response.status_code == status, response.data
    assert response.mimetype == "application/json"
    assert response.headers["Content-Length"] == str(len(response.data))
    json.loads(response.data)


def same_headers(response):
    return sorted(response.headers.items())


def test_response_list_is_json_with_content_length(api):
    api.write("a", {"x": 1})
    assert_json_with_length(api.list(), 200)


def test_response_empty_list_is_json_with_content_length(api):
    response = api.list()
    assert_json_with_length(response, 200)
    assert response.get_json() == []


def test_response_stash_is_json_with_content_length(api):
    api.write("a", {"x": "é"})
    assert_json_with_length(api.get("a"), 200)


def test_response_info_is_json_with_content_length(client):
    assert_json_with_length(client.get("/info"), 200)


def test_response_create_is_json_with_content_length(api):
    assert_json_with_length(api.create("a", {"x": 1}), 201)


def test_response_write_is_json_with_content_length(api):
    assert_json_with_length(api.write("a", {"x": 1}), 201)


def test_response_non_ascii_content_is_valid_utf8(api):
    api.write("a", {"text": "héllo wörld ✓ 😀"})
    response = api.get("a")
    assert json.loads(response.data.decode("utf-8")) == {"text": "héllo wörld ✓ 😀"}


def test_response_lone_surrogate_is_refused_or_served_as_valid_utf8(api):
    # JSON can spell a lone surrogate; whatever is accepted must be served as UTF-8.
    response = api.client.post("/stashes/a", data='{"s": "\\ud800"}')
    if response.status_code != 201:
        assert_json_error(response)
        return
    for served in (api.get("a").data, api.list().data):
        json.loads(served.decode("utf-8"))


@pytest.mark.parametrize(
    "query",
    [
        "",
        "limit=1",
        "limit=1&offset=1",
        "limit=0",
        "filter.path=b",
        "filter.path=b&limit=1",
    ],
)
def test_response_head_list_matches_get(api, query):
    api.write("a", {"x": 1})
    api.write("b", {"y": 2})
    get = api.client.get("/stashes", query_string=query, headers=FIXED_ID)
    head = api.client.head("/stashes", query_string=query, headers=FIXED_ID)
    assert head.status_code == get.status_code == 200
    assert same_headers(head) == same_headers(get)
    assert head.data == b""


def test_response_head_list_carries_x_pagination(api):
    api.write("a", {"x": 1})
    head = api.client.head("/stashes?limit=5")
    assert json.loads(head.headers["X-Pagination"]) == {
        "limit": 5,
        "offset": 0,
        "total": 1,
    }


@pytest.mark.parametrize(
    "path", ["/stashes/a", "/stash/a", "/stashes/missing", "/stashes/", "/stash/"]
)
def test_response_head_stash_matches_get(api, path):
    api.write("a", {"x": "ü", "n": [1, 2, 3]})
    get = api.client.get(path, headers=FIXED_ID)
    head = api.client.head(path, headers=FIXED_ID)
    assert head.status_code == get.status_code
    assert same_headers(head) == same_headers(get)
    assert head.data == b""


@pytest.mark.parametrize("path", ["/health", "/info", "/nowhere", "/stash"])
def test_response_head_status_routes_match_get(client, path):
    get = client.get(path, headers=FIXED_ID)
    head = client.head(path, headers=FIXED_ID)
    assert head.status_code == get.status_code
    assert same_headers(head) == same_headers(get)
    assert head.data == b""


def test_response_get_list_ignores_a_body(api):
    api.write("a", {"x": 1})
    response = api.client.get("/stashes", data="this is not json {")
    assert response.status_code == 200
    assert [i["path"] for i in response.get_json()] == ["a"]


def test_response_get_list_ignores_a_json_body(api):
    api.write("a", {"x": 1})
    response = api.client.get("/stashes", json={"limit": 0, "filter.path": "zzz"})
    assert response.status_code == 200
    assert "X-Pagination" not in response.headers
    assert [i["path"] for i in response.get_json()] == ["a"]


def test_response_get_stash_ignores_a_body(api):
    api.write("a", {"x": 1})
    response = api.client.get("/stashes/a", data='{"other": true}')
    assert response.status_code == 200
    assert response.get_json() == {"x": 1}


def test_response_head_stash_ignores_a_body(api):
    api.write("a", {"x": 1})
    assert api.client.head("/stashes/a", data="garbage").status_code == 200


def test_response_delete_ignores_a_body(api):
    api.write("a", {"x": 1})
    response = api.client.delete("/stashes/a", data="garbage {")
    assert response.status_code == 204
    assert response.data == b""


def test_response_unexpected_error_is_500_json(api, app, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("something unexpected")

    # The app's own store class: BucketedStashStore on Redis Cluster.
    monkeypatch.setattr(type(app.extensions["stashes"]), "get", broken)
    response = api.client.get("/stashes/p", headers=FIXED_ID)
    assert_json_error(response, 500)
    assert response.headers["X-Request-ID"] == "fixed"
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())
