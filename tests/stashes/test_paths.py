"""Stash paths in URLs: decoded once, taken verbatim (spec stashes.md section 4)."""

from __future__ import annotations

import pytest

from tests.stashes.helpers import assert_empty, assert_json_error, stash_url


def latin1(raw: bytes) -> str:
    """URL path bytes as WSGI's PATH_INFO carries them (PEP 3333)."""
    return raw.decode("latin-1")


def test_path_percent_20_is_a_space(api):
    response = api.client.post("/stash/foo%20bar", data="{}")
    assert response.status_code == 201
    assert response.get_json() == {"path": "foo bar"}
    assert api.paths() == ["foo bar"]


def test_path_percent_2f_is_the_same_stash_as_a_slash(api):
    api.client.post("/stashes/a%2Fb", data='{"v": 1}')
    assert api.client.get("/stashes/a/b").get_json() == {"v": 1}
    assert api.paths() == ["a/b"]


def test_path_slash_is_the_same_stash_as_percent_2f(api):
    api.client.post("/stashes/a/b", data='{"v": 1}')
    assert api.client.get("/stashes/a%2Fb").get_json() == {"v": 1}
    assert_empty(api.client.delete("/stashes/a%2fb"), 204)
    assert api.paths() == []


def test_path_percent_25_is_a_percent_sign(api):
    response = api.client.post("/stashes/100%25", data="{}")
    assert response.get_json() == {"path": "100%"}
    assert api.paths() == ["100%"]


def test_path_percent_2520_is_decoded_only_once(api):
    response = api.client.post("/stashes/x%2520y", data='{"v": 1}')
    assert response.get_json() == {"path": "x%20y"}
    assert api.paths() == ["x%20y"]
    assert_empty(api.client.get("/stashes/x%20y"), 404)
    assert api.client.get("/stashes/x%2520y").get_json() == {"v": 1}


def test_path_plus_is_a_literal_plus(api):
    response = api.client.post("/stashes/a+b", data='{"v": 1}')
    assert response.get_json() == {"path": "a+b"}
    assert_empty(api.client.get("/stashes/a%20b"), 404)
    assert api.client.get("/stashes/a%2Bb").get_json() == {"v": 1}


def test_path_doubled_leading_slash_reaches_the_stash(api):
    api.write("silence/host/check", {"reason": "maintenance"})
    response = api.raw("GET", "//stash/silence/host/check")
    assert response.status_code == 200
    assert response.get_json() == {"reason": "maintenance"}


def test_path_many_leading_slashes_collapse_to_one(api):
    api.write("x", {"v": 1})
    assert api.raw("GET", "////stashes/x").get_json() == {"v": 1}


def test_path_doubled_leading_slash_missing_stash_is_404(api):
    assert_empty(api.raw("GET", "//stash/silence/nobody"), 404)


def test_path_doubled_leading_slash_reaches_the_list(api):
    api.write("x", {"v": 1})
    response = api.raw("GET", "//stashes")
    assert response.status_code == 200
    assert [item["path"] for item in response.get_json()] == ["x"]


def test_path_doubled_leading_slash_post_and_delete(api):
    response = api.raw("POST", "//stashes/x", data='{"v": 1}')
    assert response.status_code == 201
    assert response.get_json() == {"path": "x"}
    assert_empty(api.raw("DELETE", "//stash/x"), 204)
    assert api.paths() == []


def test_path_doubled_leading_slash_create_document(api):
    response = api.raw("POST", "//stashes", data='{"path": "p", "content": {}}')
    assert response.status_code == 201
    assert api.paths() == ["p"]


def test_path_doubled_leading_slash_is_served_without_redirect(api):
    response = api.raw("GET", "//stashes/none")
    assert response.status_code == 404
    assert "Location" not in response.headers


def test_path_inner_double_slash_is_kept(api):
    api.client.post("/stashes/a//b", data='{"v": "double"}')
    api.client.post("/stashes/a/b", data='{"v": "single"}')
    assert api.paths() == ["a//b", "a/b"]
    assert api.client.get("/stashes/a//b").get_json() == {"v": "double"}
    assert api.client.get("/stashes/a/b").get_json() == {"v": "single"}


def test_path_trailing_slash_is_part_of_the_path(api):
    api.client.post("/stashes/dir/", data='{"v": "slash"}')
    assert_empty(api.client.get("/stashes/dir"), 404)
    api.client.post("/stashes/dir", data='{"v": "plain"}')
    assert api.paths() == ["dir", "dir/"]
    assert api.client.get("/stashes/dir/").get_json() == {"v": "slash"}


def test_path_trailing_slash_is_not_redirected(api):
    response = api.client.get("/stashes/dir/")
    assert_empty(response, 404)
    assert "Location" not in response.headers


def test_path_leading_slash_is_reached_through_a_doubled_slash(api):
    response = api.client.post("/stashes//x", data='{"v": 1}')
    assert response.get_json() == {"path": "/x"}
    assert api.paths() == ["/x"]
    assert_empty(api.client.get("/stashes/x"), 404)


def test_path_leading_slash_is_reached_through_percent_2f(api):
    api.create("/x", {"v": 1})
    assert api.client.get("/stashes/%2Fx").get_json() == {"v": 1}
    assert api.client.get("/stash//x").get_json() == {"v": 1}


def test_path_dot_segments_are_kept_verbatim(api):
    api.create("a/../b", {"v": 1})
    api.create("./c", {"v": 2})
    assert api.client.get("/stashes/a/../b").get_json() == {"v": 1}
    assert api.client.get("/stashes/./c").get_json() == {"v": 2}
    assert_empty(api.client.get("/stashes/b"), 404)


@pytest.mark.parametrize("prefix", ["/stashes/", "/stash/"])
@pytest.mark.parametrize("method", ["GET", "HEAD", "DELETE"])
def test_path_empty_remainder_is_404(api, prefix, method):
    api.write("x", {"v": 1})
    assert_empty(api.client.open(prefix, method=method), 404)
    assert api.paths() == ["x"]


@pytest.mark.parametrize("prefix", ["/stashes/", "/stash/"])
def test_path_empty_remainder_post_is_400_and_stores_nothing(api, prefix):
    assert_json_error(api.client.post(prefix, data='{"v": 1}'))
    assert api.items() == []


def test_path_empty_remainder_get_is_not_the_list(api):
    api.write("x", {"v": 1})
    assert_empty(api.client.get("/stashes/"), 404)


@pytest.mark.parametrize(
    "path", ["é", "日本/語", "emoji 😀/x", "ｆｕｌｌ", "Ω≈ç√", "\u00a0nbsp"]
)
def test_path_unicode_round_trips(api, path):
    response = api.write(path, {"path was": path})
    assert response.status_code == 201
    assert response.get_json() == {"path": path}
    assert api.paths() == [path]
    assert api.get(path).get_json() == {"path was": path}
    assert api.client.head(stash_url(path, "/stash/")).status_code == 200
    assert_empty(api.delete(path), 204)


def test_path_unicode_from_document_is_reached_by_url(api):
    api.create("café/ünï", {"v": 1})
    assert api.client.get("/stash/caf%C3%A9/%C3%BCn%C3%AF").get_json() == {"v": 1}


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST", "DELETE"])
@pytest.mark.parametrize(
    "raw",
    [b"/stashes/\xff", b"/stash/a\xc3", b"/stashes/\xed\xa0\x80", b"/stash/\xc0\xaf"],
)
def test_path_invalid_utf8_is_400(api, method, raw):
    response = api.raw(method, latin1(raw), data="{}")
    assert response.status_code == 400
    if method != "HEAD":
        assert_json_error(response)
    assert api.items() == []


def test_path_of_1024_bytes_works_on_every_route(api):
    path = "p/" + "é" * 511  # 2 + 1022 bytes
    assert len(path.encode()) == 1024
    assert api.write(path, {"v": 1}).status_code == 201
    assert api.get(path).get_json() == {"v": 1}
    assert api.client.head("/stash/" + path).status_code == 200
    assert api.create(path, {"v": 2}).get_json() == {"path": path}
    assert api.paths() == [path]
    assert_empty(api.delete(path, prefix="/stash/"), 204)


def test_path_with_query_string_characters_is_percent_encoded(api):
    api.create("a?b#c&d=e", {"v": 1})
    assert api.get("a?b#c&d=e").get_json() == {"v": 1}
    assert_empty(api.client.get("/stashes/a"), 404)
