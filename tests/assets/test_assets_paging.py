"""limit + continue paging with Sensu-Continue, on every list (spec assets.md 6.8)."""

from __future__ import annotations

import base64

import pytest

from redisio.calls import LIST_BUDGET
from sensugo.paging import decode_token, encode_token
from tests.sensugo import CORE, assert_error, asset, asset_url


def fill(sensu, names, namespace="default"):
    for name in names:
        assert sensu.create(asset(name, namespace), namespace).status_code == 201


def walk(sensu, url, limit, **query):
    """Every page of a list as the clients read it: (names per page, requests)."""
    pages = []
    token = None
    while True:
        args = {"limit": limit, **query}
        if token:
            args["continue"] = token
        response = sensu.list(url, **args)
        assert response.status_code == 200, response.data
        pages.append([i["metadata"]["name"] for i in response.get_json()])
        token = response.headers.get("Sensu-Continue")
        if not token:
            return pages


NAMES = [f"asset-{i:02}" for i in range(7)]


def test_limit_pages_and_continue_resumes(sensu):
    fill(sensu, NAMES)
    assert walk(sensu, asset_url("default"), 3) == [NAMES[:3], NAMES[3:6], NAMES[6:]]


def test_no_continue_header_when_the_last_page_is_exactly_full(sensu):
    fill(sensu, NAMES[:6])
    response = sensu.list(limit=3)
    token = response.headers["Sensu-Continue"]
    last = sensu.list(limit=3, **{"continue": token})
    assert len(last.get_json()) == 3
    assert "Sensu-Continue" not in last.headers


def test_limit_above_the_count_returns_everything_without_header(sensu):
    fill(sensu, NAMES)
    response = sensu.list(limit=100)
    assert len(response.get_json()) == 7
    assert "Sensu-Continue" not in response.headers


@pytest.mark.parametrize("limit", ["0", "abc", "", "1.5", "99999999999999999999999"])
def test_zero_or_non_numeric_limit_means_no_limit(sensu, limit):
    fill(sensu, NAMES)
    response = sensu.list(limit=limit)
    assert response.status_code == 200
    assert len(response.get_json()) == 7
    assert "Sensu-Continue" not in response.headers


def test_negative_limit_is_400(sensu):
    assert_error(sensu.list(limit="-1"), 400, 1, "limit must not be negative")


def test_continue_without_limit_returns_everything_after_the_cursor(sensu):
    fill(sensu, NAMES)
    token = sensu.list(limit=2).headers["Sensu-Continue"]
    assert sensu.names(**{"continue": token}) == NAMES[2:]


def test_token_is_sensus_base64url_of_the_last_name(sensu):
    fill(sensu, ["a/b:1", "c"])
    token = sensu.list(limit=1).headers["Sensu-Continue"]
    assert "=" not in token
    assert base64.urlsafe_b64decode(token + "==") == b"a/b:1\0"


def test_all_namespaces_token_names_namespace_and_asset(sensu):
    sensu.namespace("ops")
    fill(sensu, ["x", "y"], "ops")
    token = sensu.list(f"{CORE}/assets", limit=1).headers["Sensu-Continue"]
    assert decode_token(token) == "ops/x"


@pytest.mark.parametrize(
    "token", ["!!!", "bm9udWxs", encode_token("")[:-1] + "@", "%%", "YQ"]
)
def test_bad_continue_token_is_400(sensu, token):
    response = sensu.list(**{"continue": token})
    assert_error(response, 400, 1, "invalid continue token")


def test_namespaced_token_on_the_all_namespaces_list_is_400(sensu):
    response = sensu.list(f"{CORE}/assets", **{"continue": encode_token("x")})
    assert_error(response, 400, 1, "invalid continue token")


def test_deleting_returned_items_does_not_skip_any(sensu):
    fill(sensu, NAMES)
    first = sensu.list(limit=3)
    for item in first.get_json():
        sensu.delete(item["metadata"]["name"])
    rest = sensu.list(limit=3, **{"continue": first.headers["Sensu-Continue"]})
    assert [i["metadata"]["name"] for i in rest.get_json()] == NAMES[3:6]


def test_inserting_before_the_cursor_does_not_repeat_items(sensu):
    fill(sensu, NAMES)
    first = sensu.list(limit=3)
    fill(sensu, ["aaa", "asset-00a", "asset-01a"])  # all sort before the cursor
    rest = sensu.list(limit=3, **{"continue": first.headers["Sensu-Continue"]})
    assert [i["metadata"]["name"] for i in rest.get_json()] == NAMES[3:6]


def test_items_added_after_the_cursor_appear_on_later_pages(sensu):
    fill(sensu, NAMES)
    first = sensu.list(limit=3)
    fill(sensu, ["zzz"])
    sensu.delete("asset-04")
    rest = sensu.names(**{"continue": first.headers["Sensu-Continue"]})
    assert rest == ["asset-03", "asset-05", "asset-06", "zzz"]


def test_deleting_the_cursor_item_itself_still_resumes_after_it(sensu):
    fill(sensu, NAMES)
    first = sensu.list(limit=3)
    sensu.delete("asset-02")
    rest = sensu.list(limit=3, **{"continue": first.headers["Sensu-Continue"]})
    assert [i["metadata"]["name"] for i in rest.get_json()] == NAMES[3:6]


def test_all_namespaces_pages_cross_namespace_boundaries(sensu):
    for ns in ["a", "a-b"]:
        sensu.namespace(ns)
    fill(sensu, ["1", "2"], "a")
    fill(sensu, ["3"], "a-b")
    fill(sensu, ["4", "5"])
    pages = []
    token = None
    while True:
        query = {"limit": 2, **({"continue": token} if token else {})}
        response = sensu.list(f"{CORE}/assets", **query)
        pages.append(
            [
                f"{i['metadata']['namespace']}/{i['metadata']['name']}"
                for i in response.get_json()
            ]
        )
        token = response.headers.get("Sensu-Continue")
        if not token:
            break
    assert pages == [["a-b/3", "a/1"], ["a/2", "default/4"], ["default/5"]]


def test_paging_past_the_store_batch_size(sensu):
    names = [f"n{i:05}" for i in range(1234)]
    for name in names:
        sensu.create(asset(name))
    pages = walk(sensu, asset_url("default"), 1100)
    assert [len(p) for p in pages] == [1100, 134]
    assert sum(pages, []) == names
    assert sensu.names() == names


def test_namespace_list_pages_too(sensu):
    for ns in ["n1", "n2", "n3"]:
        sensu.namespace(ns)
    response = sensu.list(f"{CORE}/namespaces", limit=2)
    assert response.get_json() == [{"name": "default"}, {"name": "n1"}]
    token = response.headers["Sensu-Continue"]
    rest = sensu.list(f"{CORE}/namespaces", limit=2, **{"continue": token})
    assert rest.get_json() == [{"name": "n2"}, {"name": "n3"}]
    assert "Sensu-Continue" not in rest.headers


@pytest.mark.parametrize("limit", [None, 4])
def test_big_assets_are_read_a_budget_at_a_time_and_listed_whole(sensu, app, limit):
    """A batch stops before its JSON passes `LIST_BUDGET` bytes (stashes.md 17.10)."""
    names = [f"big-{i:02}" for i in range(12)]
    blob = "x" * (LIST_BUDGET // 10)
    for name in names:
        body = asset(name)
        body["metadata"]["annotations"] = {"blob": blob}
        assert sensu.create(body).status_code == 201
    store = app.extensions["assets"]
    first = app.extensions["client"].run(store.assets("default", None).fetch(None))
    read = [len(item.json) for item in first.items]
    assert 0 < len(read) < len(names)
    assert sum(read) <= LIST_BUDGET < sum(read) + read[0]
    assert first.next == names[len(read) - 1]
    if limit is None:
        listed = sensu.list().get_json()
        assert [i["metadata"]["name"] for i in listed] == names
    else:
        pages = walk(sensu, asset_url("default"), limit)
        assert pages == [names[:4], names[4:8], names[8:]]
