"""One stash: GET/HEAD, POST (content only), DELETE, both prefixes (6.3-6.5)."""

from __future__ import annotations

import pytest

from tests.stashes.helpers import assert_empty, assert_json_error

PREFIXES = ["/stash/", "/stashes/"]


@pytest.fixture(params=PREFIXES)
def prefix(request):
    return request.param


def test_stash_get_returns_the_content_only(api, prefix):
    api.create("silence/host", {"reason": "maintenance"}, expire=60)
    response = api.get("silence/host", prefix)
    assert response.status_code == 200
    assert response.get_json() == {"reason": "maintenance"}


def test_stash_get_missing_is_404_empty(api, prefix):
    assert_empty(api.get("nothing", prefix), 404)


def test_stash_get_ignores_query_parameters_and_filters(api):
    api.create("p", {"a": 1})
    response = api.client.get("/stashes/p?filter.path=other&filter.content.a=2&limit=0")
    assert response.status_code == 200
    assert response.get_json() == {"a": 1}
    assert "X-Pagination" not in response.headers


def test_stash_head_existing_is_200_without_body(api, prefix):
    api.write("p", {"a": 1})
    response = api.client.head(prefix + "p")
    assert response.status_code == 200
    assert response.data == b""


def test_stash_head_missing_is_404(api, prefix):
    assert_empty(api.client.head(prefix + "nothing"), 404)


def test_stash_head_of_empty_object_is_200(api):
    api.write("p", {})
    assert api.client.head("/stashes/p").status_code == 200


def test_stash_post_answers_201_with_the_decoded_path(api, prefix):
    response = api.client.post(prefix + "foo%20bar", data="{}")
    assert response.status_code == 201
    assert response.get_json() == {"path": "foo bar"}


def test_stash_post_stores_the_body_verbatim(api, prefix):
    body = {"reason": "x", "nested": {"list": [1, "two", None, False, 2.5]}, "": ""}
    api.write("p", body, prefix)
    assert api.get("p").get_json() == body


def test_stash_post_keys_named_like_the_document_mean_nothing(api, pttl, prefix):
    body = {"path": "elsewhere", "content": {"x": 1}, "expire": 60}
    response = api.write("p", body, prefix)
    assert response.get_json() == {"path": "p"}
    assert api.get("p").get_json() == body
    assert api.paths() == ["p"]
    assert pttl("p") == -1


def test_stash_post_empty_object_is_stored(api):
    assert api.write("p", {}).status_code == 201
    assert api.get("p").get_json() == {}


def test_stash_post_overwrites(api):
    api.write("p", {"old": 1, "gone": True})
    api.write("p", {"new": 2})
    assert api.get("p").get_json() == {"new": 2}


@pytest.mark.parametrize(
    "body",
    [
        "[]",
        '[{"a": 1}]',
        '"text"',
        "1",
        "1.5",
        "null",
        "true",
        "false",
        "",
        "{",
        "nope",
    ],
)
def test_stash_post_non_object_is_400_and_leaves_the_stash(api, pttl, prefix, body):
    api.create("p", {"old": True}, expire=600)
    assert_json_error(api.client.post(prefix + "p", data=body))
    assert api.get("p").get_json() == {"old": True}
    assert 0 < pttl("p") <= 600_000
    assert [i["path"] for i in api.items()] == ["p"]


@pytest.mark.parametrize("body", ["[]", "null", ""])
def test_stash_post_non_object_to_new_path_stores_nothing(api, body):
    assert_json_error(api.client.post("/stashes/p", data=body))
    assert_empty(api.get("p"), 404)
    assert api.items() == []


def test_stash_post_removes_an_existing_ttl(api, pttl, prefix):
    api.create("silence/host", {"v": 1}, expire=3600)
    assert pttl("silence/host") > 0
    api.write("silence/host", {"v": 2}, prefix)
    assert pttl("silence/host") == -1
    assert api.items() == [{"path": "silence/host", "content": {"v": 2}, "expire": -1}]


def test_stash_delete_is_204_empty_then_404(api, prefix):
    api.write("p", {"a": 1})
    assert_empty(api.delete("p", prefix), 204)
    assert_empty(api.get("p"), 404)
    assert_empty(api.client.head(prefix + "p"), 404)
    assert_empty(api.delete("p", prefix), 404)


def test_stash_delete_removes_it_from_the_list(api):
    for path in ["a", "b", "c"]:
        api.write(path, {})
    api.delete("b")
    assert api.paths() == ["a", "c"]
    assert api.list("limit=10").headers["X-Pagination"] == (
        '{"limit":10,"offset":0,"total":2}'
    )


def test_stash_delete_with_ttl_removes_it(api, pttl):
    api.create("p", {}, expire=600)
    assert_empty(api.delete("p"), 204)
    assert pttl("p") == -2
    assert api.items() == []


def test_stash_delete_missing_is_404_empty(api, prefix):
    api.write("other", {})
    assert_empty(api.delete("nothing", prefix), 404)
    assert api.paths() == ["other"]


def test_stash_delete_leaves_other_paths(api):
    for path in ["a", "a/", "a/b", "ab"]:
        api.create(path, {"p": path})
    api.delete("a")
    assert api.paths() == ["a/", "a/b", "ab"]
    assert api.get("a/").get_json() == {"p": "a/"}


def test_stash_recreated_after_delete(api):
    api.create("p", {"v": 1}, expire=60)
    api.delete("p")
    api.write("p", {"v": 2})
    assert api.items() == [{"path": "p", "content": {"v": 2}, "expire": -1}]


@pytest.mark.parametrize(("write", "read"), [PREFIXES, PREFIXES[::-1]])
def test_stash_prefixes_are_aliases(api, write, read):
    api.write("x/y", {"via": write}, write)
    assert api.get("x/y", read).get_json() == {"via": write}
    api.write("x/y", {"via": read}, read)
    assert api.get("x/y", write).get_json() == {"via": read}
    assert api.paths() == ["x/y"]
    assert_empty(api.delete("x/y", read), 204)
    assert_empty(api.get("x/y", write), 404)


def test_stash_document_and_url_name_the_same_stash(api):
    api.create("a b/c", {"v": 1})
    assert api.client.get("/stash/a%20b/c").get_json() == {"v": 1}
