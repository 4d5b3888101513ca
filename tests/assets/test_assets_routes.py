"""The asset routes: statuses, bodies and headers (spec assets.md sections 1, 3, 6)."""

from __future__ import annotations

import pytest

from tests.sensugo import (
    CORE,
    SHA,
    assert_empty_success,
    assert_error,
    asset,
    asset_url,
)

# Names with "/", ":" and "." in every route (spec 1.1, 13).
NAMES = [
    "check-cpu-usage",
    "sensu/sensu-slack-handler",
    "Username/asset_name:0.0.1",
    "my-asset:1.0.2",
    "a.b.c",
    "a//b",
    "/leading",
    "trailing/",
]

SLACK = {
    "url": "https://example.com/sensu-slack-handler_1.0.3_linux_amd64.tar.gz",
    "sha512": "68720865127fbc7c2fe16ca4d7bbf2a187a2df703f4b4acae1c93e8a66556e9079e127"
    "0521999b5871473e6c851f51b34097c54fdb8d18eedb7064df9019adc8",
    "filters": ["entity.system.os == 'linux'", "entity.system.arch == 'amd64'"],
    "headers": {
        "Authorization": "Bearer $TOKEN",
        "X-Forwarded-For": "client1, proxy1, proxy2",
    },
    "metadata": {"name": "sensu-slack-handler", "namespace": "default"},
}


def test_post_creates_and_get_returns_sensu_shape(sensu):
    assert_empty_success(sensu.create(SLACK), 201)
    response = sensu.get("sensu-slack-handler")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json() == {
        **SLACK,
        "builds": None,
        "metadata": {
            "name": "sensu-slack-handler",
            "namespace": "default",
            "created_by": "admin",
        },
    }


def test_get_of_one_asset_is_an_object_with_a_quoted_etag(sensu):
    sensu.create(SLACK)
    response = sensu.get("sensu-slack-handler")
    assert isinstance(response.get_json(), dict)
    etag = response.headers["ETag"]
    assert etag.startswith('"') and etag.endswith('"') and len(etag) > 2


def test_etag_is_stable_until_the_asset_changes(sensu):
    sensu.create(SLACK)
    first = sensu.get("sensu-slack-handler").headers["ETag"]
    assert sensu.get("sensu-slack-handler").headers["ETag"] == first
    sensu.put({**SLACK, "url": "https://example.com/other.tar.gz"})
    assert sensu.get("sensu-slack-handler").headers["ETag"] != first


def test_empty_collections_come_back_null_or_absent(sensu):
    body = asset(
        "x",
        filters=[],
        builds=[],
        headers={},
        metadata={"name": "x", "namespace": "default", "labels": {}, "annotations": {}},
    )
    sensu.create(body)
    got = sensu.stored("x")
    assert got["filters"] is None
    assert got["builds"] is None
    assert got["headers"] is None
    assert got["metadata"] == {
        "name": "x",
        "namespace": "default",
        "created_by": "admin",
    }


def test_multi_build_asset_has_no_top_level_url_or_sha(sensu):
    body = {
        "builds": [
            {
                "url": "https://example.com/a.tar.gz",
                "sha512": SHA,
                "filters": ["entity.system.os == 'linux'"],
            },
            {
                "url": "https://example.com/b.tar.gz",
                "sha512": SHA,
                "headers": {"X-A": "1"},
            },
        ],
        "metadata": {"name": "check-cpu-usage", "namespace": "default"},
    }
    assert sensu.create(body).status_code == 201
    got = sensu.stored("check-cpu-usage")
    assert "url" not in got and "sha512" not in got
    assert got["filters"] is None and got["headers"] is None
    assert got["builds"] == [
        {
            "url": "https://example.com/a.tar.gz",
            "sha512": SHA,
            "filters": ["entity.system.os == 'linux'"],
            "headers": None,
        },
        {
            "url": "https://example.com/b.tar.gz",
            "sha512": SHA,
            "filters": None,
            "headers": {"X-A": "1"},
        },
    ]


def test_labels_and_annotations_are_kept(sensu):
    meta = {
        "name": "x",
        "namespace": "default",
        "labels": {"region": "us-west-1"},
        "annotations": {"note": "hi"},
    }
    sensu.create(asset("x", metadata=meta))
    assert sensu.stored("x")["metadata"] == {**meta, "created_by": "admin"}


def test_created_by_is_the_caller_not_the_body(sensu):
    meta = {"name": "x", "namespace": "default", "created_by": "mallory"}
    sensu.create(asset("x", metadata=meta))
    assert sensu.stored("x")["metadata"]["created_by"] == "admin"
    sensu.put(asset("x", metadata=meta))
    assert sensu.stored("x")["metadata"]["created_by"] == "admin"


def test_post_of_existing_asset_is_409_and_keeps_the_stored_one(sensu):
    sensu.create(asset("x"))
    before = sensu.stored("x")
    response = sensu.create(asset("x", url="https://example.com/new"))
    assert_error(response, 409, 3, "resource already exists")
    assert sensu.stored("x") == before


def test_put_creates_then_replaces_with_201_and_empty_body(sensu):
    assert_empty_success(sensu.put(asset("x")), 201)
    assert_empty_success(sensu.put(asset("x", url="https://example.com/2")), 201)
    assert sensu.stored("x")["url"] == "https://example.com/2"


def test_put_is_a_full_replacement(sensu):
    meta = {"name": "x", "namespace": "default", "labels": {"a": "b"}}
    sensu.put(asset("x", metadata=meta, filters=["a == 1"], headers={"H": "v"}))
    sensu.put(asset("x"))
    got = sensu.stored("x")
    assert got["filters"] is None and got["headers"] is None
    assert "labels" not in got["metadata"]


def test_delete_is_204_then_404(sensu):
    sensu.create(asset("x"))
    assert_empty_success(sensu.delete("x"), 204)
    assert_error(sensu.get("x"), 404, 2, "not found")
    assert_error(sensu.delete("x"), 404, 2, "not found")
    assert sensu.names() == []


def test_get_missing_asset_is_404(sensu):
    assert_error(sensu.get("nothing"), 404, 2, "not found")


def test_get_in_missing_namespace_is_404(sensu):
    assert_error(sensu.get("x", namespace="nowhere"), 404, 2, "not found")


def test_list_of_missing_namespace_is_empty(sensu):
    response = sensu.list(asset_url("nowhere"))
    assert response.status_code == 200
    assert response.get_json() == []
    assert "ETag" not in response.headers


def test_list_is_sorted_by_bytes_and_has_no_etag(sensu):
    for name in ["b", "B", "a-b", "a/b", "a", "_z", "a:b"]:
        sensu.create(asset(name))
    response = sensu.list()
    assert "ETag" not in response.headers
    assert "Sensu-Continue" not in response.headers
    assert [a["metadata"]["name"] for a in response.get_json()] == sorted(
        ["b", "B", "a-b", "a/b", "a", "_z", "a:b"], key=str.encode
    )


def test_list_items_have_the_get_shape(sensu):
    sensu.create(SLACK)
    assert sensu.list().get_json() == [sensu.stored("sensu-slack-handler")]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("escape", [True, False], ids=["escaped", "raw"])
def test_names_with_slash_colon_and_dot_work_in_every_route(sensu, name, escape):
    url = asset_url("default", name, escape=escape)
    assert sensu.request("PUT", url, asset(name)).status_code == 201
    got = sensu.request("GET", url)
    assert got.status_code == 200
    assert got.get_json()["metadata"]["name"] == name
    patched = sensu.request(
        "PATCH",
        url,
        {"metadata": {"labels": {"k": "v"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.data
    assert sensu.names() == [name]
    assert sensu.create(asset(name)).status_code == 409
    assert sensu.request("DELETE", url).status_code == 204
    assert sensu.request("GET", url).status_code == 404
    assert sensu.create(asset(name)).status_code == 201
    assert sensu.names() == [name]


def test_percent_encoded_slash_and_raw_slash_name_the_same_asset(sensu):
    sensu.put(asset("sensu/slack"))
    raw = sensu.request("GET", f"{CORE}/namespaces/default/assets/sensu/slack")
    escaped = sensu.request("GET", f"{CORE}/namespaces/default/assets/sensu%2Fslack")
    assert raw.get_json() == escaped.get_json()


def test_all_namespaces_list_orders_by_namespace_slash_name(sensu):
    # "a-b/..." sorts before "a/..." because "-" < "/" (Sensu's etcd key order).
    for ns in ["a", "a-b", "b"]:
        sensu.namespace(ns)
    for ns, name in [
        ("a", "z"),
        ("a", "m"),
        ("a-b", "x"),
        ("b", "a"),
        ("default", "d"),
    ]:
        assert sensu.create(asset(name, ns), ns).status_code == 201
    items = sensu.list(f"{CORE}/assets").get_json()
    assert [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items] == [
        ("a-b", "x"),
        ("a", "m"),
        ("a", "z"),
        ("b", "a"),
        ("default", "d"),
    ]


def test_success_responses_are_json_even_when_empty(sensu):
    for response, status in [
        (sensu.create(asset("x")), 201),
        (sensu.put(asset("x")), 201),
        (sensu.delete("x"), 204),
    ]:
        assert response.status_code == status
        assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("POST", f"{CORE}/namespaces/default/assets/x"),
        ("PUT", f"{CORE}/namespaces/default/assets"),
        ("DELETE", f"{CORE}/assets"),
        ("POST", f"{CORE}/assets"),
    ],
)
def test_other_methods_are_405_with_a_json_body(sensu, method, url):
    assert_error(sensu.request(method, url, {}), 405, 1)


@pytest.mark.parametrize(
    "path",
    ["/nowhere", "/namespaces/default/nothing", "/asset", "/namespaces/default/x/y"],
)
def test_unknown_core_path_is_404_without_credentials(client, path):
    response = client.get(CORE + path)
    assert_error(response, 404, 2, "not found")
    assert response.get_json() == {"code": 2, "message": "not found"}


def test_cors_and_request_id_headers_on_core_routes(sensu):
    response = sensu.request(
        "GET", asset_url("default"), headers={"X-Request-ID": "r-9"}
    )
    assert response.headers["X-Request-ID"] == "r-9"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
