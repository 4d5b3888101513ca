"""POST /stashes: create or replace from a {path, content, expire} document (6.1)."""

from __future__ import annotations

import json

import pytest

from tests.stashes.helpers import assert_json_error

MAX_TTL = 2**31 - 1
OLD_TTL = 1000  # seconds


@pytest.fixture
def existing(api):
    """The stash "p" with a TTL, which refused documents must leave as it is."""
    assert api.create("p", {"old": True}, expire=OLD_TTL).status_code == 201


def assert_existing_unchanged(api, pttl):
    assert api.paths() == ["p"]
    assert api.get("p").get_json() == {"old": True}
    assert 0 < pttl("p") <= OLD_TTL * 1000


def assert_no_ttl(api, pttl, path="p"):
    assert pttl(path) == -1
    assert [i["expire"] for i in api.items() if i["path"] == path] == [-1]


BAD_PATHS = {
    "missing": {"content": {}},
    "null": {"path": None, "content": {}},
    "empty": {"path": "", "content": {}},
    "number": {"path": 1, "content": {}},
    "true": {"path": True, "content": {}},
    "array": {"path": ["p"], "content": {}},
    "object": {"path": {"p": 1}, "content": {}},
}

BAD_CONTENTS = {
    "missing": {"path": "p"},
    "null": {"path": "p", "content": None},
    "string": {"path": "p", "content": "{}"},
    "array": {"path": "p", "content": [{"a": 1}]},
    "empty array": {"path": "p", "content": []},
    "integer": {"path": "p", "content": 1},
    "float": {"path": "p", "content": 1.5},
    "true": {"path": "p", "content": True},
    "false": {"path": "p", "content": False},
}

BAD_EXPIRES = {
    "float": 60.0,
    "fraction": 1.5,
    "string": "60",
    "empty string": "",
    "true": True,
    "false": False,
    "object": {},
    "array": [60],
    "empty array": [],
    "2**31": 2**31,
    "2**63": 2**63,
    "4300 digits": int("9" * 4300),
}


@pytest.mark.parametrize("doc", BAD_PATHS.values(), ids=BAD_PATHS.keys())
def test_create_bad_path_is_400_and_changes_nothing(api, pttl, existing, doc):
    doc = {**doc, "content": {"new": True}}
    assert_json_error(api.client.post("/stashes", data=json.dumps(doc)))
    assert_existing_unchanged(api, pttl)


@pytest.mark.parametrize("doc", BAD_CONTENTS.values(), ids=BAD_CONTENTS.keys())
def test_create_bad_content_is_400_and_changes_nothing(api, pttl, existing, doc):
    assert_json_error(api.client.post("/stashes", data=json.dumps(doc)))
    assert_existing_unchanged(api, pttl)


@pytest.mark.parametrize("doc", BAD_CONTENTS.values(), ids=BAD_CONTENTS.keys())
def test_create_bad_content_with_expire_is_400_and_changes_nothing(
    api, pttl, existing, doc
):
    assert_json_error(
        api.client.post("/stashes", data=json.dumps({**doc, "expire": 5}))
    )
    assert_existing_unchanged(api, pttl)


@pytest.mark.parametrize("expire", BAD_EXPIRES.values(), ids=BAD_EXPIRES.keys())
def test_create_bad_expire_is_400_and_changes_nothing(api, pttl, existing, expire):
    assert_json_error(api.create("p", {"new": True}, expire=expire))
    assert_existing_unchanged(api, pttl)


@pytest.mark.parametrize("text", ["6e1", "6E1", "60.0", "6.0e1", "-1.0", "0.0"])
def test_create_expire_written_as_a_float_is_400(api, pttl, existing, text):
    body = '{"path": "p", "content": {"new": true}, "expire": ' + text + "}"
    assert_json_error(api.client.post("/stashes", data=body))
    assert_existing_unchanged(api, pttl)


@pytest.mark.parametrize("body", ["[]", '"p"', "1", "null", "true", '[{"path": "p"}]'])
def test_create_body_that_is_not_an_object_is_400(api, pttl, existing, body):
    assert_json_error(api.client.post("/stashes", data=body))
    assert_existing_unchanged(api, pttl)


def test_create_expire_above_int32_stores_nothing(api):
    assert_json_error(api.create("new", {}, expire=2**31))
    assert api.items() == []


def test_create_lone_surrogate_path_is_not_a_server_error(api):
    response = api.client.post("/stashes", data='{"path": "a\\ud800", "content": {}}')
    assert response.status_code < 500
    assert api.client.get("/stashes").status_code == 200


def test_create_answers_201_with_the_path(api):
    response = api.create("silence/i-424242/chef_client_process", {"a": 1})
    assert response.status_code == 201
    assert response.get_json() == {"path": "silence/i-424242/chef_client_process"}


@pytest.mark.parametrize(
    "path", ["a b", "/leading", "trailing/", "a//b", "100%", "a+b", "日本 😀", " "]
)
def test_create_answers_the_path_exactly_as_given(api, path):
    response = api.create(path, {"v": path})
    assert response.status_code == 201
    assert response.get_json() == {"path": path}
    assert api.paths() == [path]
    assert api.get(path).get_json() == {"v": path}


def test_create_stores_the_content(api):
    content = {"reason": "maintenance", "n": [1, 2.5, None, True], "o": {"x": {}}}
    api.create("p", content)
    assert api.get("p").get_json() == content


def test_create_accepts_empty_content(api):
    assert api.create("p", {}).status_code == 201
    assert api.get("p").get_json() == {}


def test_create_content_keys_named_like_the_document_are_content(api):
    content = {"path": "other", "content": {"x": 1}, "expire": 5}
    api.create("p", content)
    assert api.get("p").get_json() == content
    assert api.paths() == ["p"]


def test_create_ignores_extra_top_level_keys(api, pttl):
    response = api.create(
        "p", {"a": 1}, expire=60, dc="us-east", _id="abc", check={"name": "x"}
    )
    assert response.status_code == 201
    assert api.get("p").get_json() == {"a": 1}
    (item,) = api.items()
    assert set(item) == {"path", "content", "expire"}
    assert 0 < pttl("p") <= 60_000


def test_create_overwrites_an_existing_stash(api):
    api.create("p", {"old": True, "keep": "no"})
    api.create("p", {"new": True})
    assert api.get("p").get_json() == {"new": True}
    assert api.paths() == ["p"]


def test_create_without_expire_has_no_ttl(api, pttl):
    api.create("p", {})
    assert_no_ttl(api, pttl)


@pytest.mark.parametrize("expire", [None, 0, -1, -60, -(2**31), -(10**30)])
def test_create_null_zero_or_negative_expire_means_no_ttl(api, pttl, expire):
    response = api.create("p", {"kept": True}, expire=expire)
    assert response.status_code == 201
    assert api.get("p").get_json() == {"kept": True}
    assert_no_ttl(api, pttl)


@pytest.mark.parametrize("expire", ["absent", None, 0, -1])
def test_create_without_a_ttl_removes_an_existing_ttl(api, pttl, expire):
    api.create("p", {"v": 1}, expire=OLD_TTL)
    assert pttl("p") > 0
    if expire == "absent":
        api.create("p", {"v": 2})
    else:
        api.create("p", {"v": 2}, expire=expire)
    assert api.get("p").get_json() == {"v": 2}
    assert_no_ttl(api, pttl)


@pytest.mark.parametrize("expire", [1, 2, 60, 3600, 86_400 * 365, MAX_TTL])
def test_create_positive_expire_sets_that_ttl(api, pttl, expire):
    assert api.create("p", {}, expire=expire).status_code == 201
    assert expire * 1000 - 5000 < pttl("p") <= expire * 1000


def test_create_max_expire_is_listed_exactly(api):
    api.create("p", {}, expire=MAX_TTL)
    assert api.items()[0]["expire"] in (MAX_TTL, MAX_TTL - 1)


def test_create_expire_replaces_a_longer_ttl(api, pttl):
    api.create("p", {}, expire=OLD_TTL)
    api.create("p", {}, expire=60)
    assert 55_000 < pttl("p") <= 60_000


def test_create_expire_replaces_a_shorter_ttl(api, pttl):
    api.create("p", {}, expire=60)
    api.create("p", {}, expire=OLD_TTL)
    assert 60_000 < pttl("p") <= OLD_TTL * 1000


def test_create_expire_sets_a_ttl_on_a_permanent_stash(api, pttl):
    api.create("p", {})
    api.create("p", {}, expire=60)
    assert 0 < pttl("p") <= 60_000


def test_create_with_expire_lists_the_stash(api):
    api.create("p", {"a": 1}, expire=60)
    (item,) = api.items()
    assert item["path"] == "p" and item["content"] == {"a": 1}
    assert 1 <= item["expire"] <= 60
