"""Bodies, validation and URL/body checks; nothing is stored on any error
(spec assets.md sections 2, 3.2, 4, 5)."""

from __future__ import annotations

import json

import pytest

from tests.sensugo import SHA, assert_error, asset, asset_url

INVALID = "resource is invalid: "


@pytest.fixture
def post_fails(sensu):
    """post_fails(body or raw, message=None): POST is 400 {1} and stores nothing."""

    def check(body, message=None, raw=None):
        response = sensu.request("POST", asset_url("default"), body, raw=raw)
        text = assert_error(response, 400, 1, message)
        assert sensu.names() == []
        return text

    return check


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "{bad", "[]", '"text"', "3", "null", "[{}]", '{"a": NaN}'],
)
def test_body_that_is_not_a_json_object_is_400(post_fails, raw):
    post_fails(None, raw=raw)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("url", 3),
        ("sha512", ["x"]),
        ("filters", "entity.system.os == 'linux'"),
        ("filters", [1]),
        ("builds", {}),
        ("builds", ["x"]),
        ("headers", {"a": 1}),
        ("headers", []),
        ("metadata", "x"),
    ],
)
def test_wrong_json_type_is_400(post_fails, field, value):
    post_fails(asset("x", **{field: value}))


@pytest.mark.parametrize(
    "meta",
    [
        {"name": "x", "namespace": "default", "labels": {"a": 1}},
        {"name": "x", "namespace": "default", "annotations": []},
        {"name": 5, "namespace": "default"},
    ],
)
def test_wrong_metadata_type_is_400(post_fails, meta):
    post_fails(asset("x", metadata=meta))


def test_wrong_build_field_type_is_400(post_fails):
    body = asset("x", builds=[{"url": "u", "sha512": SHA, "filters": "f"}])
    post_fails(body)


def test_unknown_keys_are_ignored_at_every_level(sensu):
    body = asset(
        "x",
        extra=1,
        builds=None,
        metadata={"name": "x", "namespace": "default", "owner": "me"},
    )
    body["type"] = "Asset"
    assert sensu.create(body).status_code == 201
    build = {"url": "u", "sha512": SHA, "color": "blue"}
    assert sensu.put(asset("y", builds=[build])).status_code == 201
    assert "color" not in sensu.stored("y")["builds"][0]
    assert "extra" not in sensu.stored("x")


def test_null_fields_are_the_same_as_absent(sensu):
    body = asset("x", filters=None, headers=None, builds=None)
    body["metadata"]["labels"] = None
    assert sensu.create(body).status_code == 201
    assert sensu.stored("x")["filters"] is None


def test_content_type_of_post_and_put_is_not_checked(sensu):
    headers = {"Content-Type": "text/plain"}
    response = sensu.request("POST", asset_url("default"), asset("x"), headers=headers)
    assert response.status_code == 201
    response = sensu.request(
        "PUT", asset_url("default", "y"), asset("y"), headers={"Content-Type": None}
    )
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "name cannot be empty"),
        (
            "a b",
            "name may only contain letters, forward slashes, underscores, dashes "
            "and numbers",
        ),
        ("café", None),
        ("x!", None),
        ("abc\n", None),
        ("a\u00a0b", None),
        ("٣", None),
    ],
)
def test_invalid_names_are_400(post_fails, name, reason):
    body = asset(name)
    text = post_fails(body)
    assert text.startswith(INVALID + "name ")
    if reason is not None:
        assert text == INVALID + reason


def test_missing_metadata_is_a_namespace_mismatch(post_fails):
    body = asset("x")
    del body["metadata"]
    post_fails(
        body,
        "the namespace of the resource () does not match the namespace of the URI "
        "(default)",
    )


def test_namespace_in_body_must_equal_the_url(post_fails):
    post_fails(
        asset("x", "other"),
        "the namespace of the resource (other) does not match the namespace of the "
        "URI (default)",
    )


def test_missing_namespace_in_body_is_not_filled_in(post_fails):
    body = asset("x")
    del body["metadata"]["namespace"]
    post_fails(
        body,
        "the namespace of the resource () does not match the namespace of the URI "
        "(default)",
    )


def test_put_name_must_equal_the_url(sensu):
    response = sensu.put(asset("x"), name="y")
    assert_error(
        response,
        400,
        1,
        "the name of the resource (x) does not match the name of the URI (y)",
    )
    assert sensu.names() == []


def test_put_without_name_is_a_mismatch(sensu):
    body = asset("x")
    del body["metadata"]["name"]
    response = sensu.put(body, name="x")
    assert_error(
        response,
        400,
        1,
        "the name of the resource () does not match the name of the URI (x)",
    )


def test_put_with_escaped_slash_compares_the_unescaped_name(sensu):
    assert sensu.put(asset("a/b"), name="a/b").status_code == 201


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"sha512": ""}, "SHA-512 checksum cannot be empty"),
        ({"sha512": None}, "SHA-512 checksum cannot be empty"),
        ({"sha512": "a" * 127}, "SHA-512 checksum must be at least 128 characters"),
        ({"url": ""}, "URL cannot be empty"),
        ({"url": None, "sha512": ""}, "SHA-512 checksum cannot be empty"),
    ],
)
def test_checksum_and_url_rules(post_fails, fields, reason):
    post_fails(asset("x", **fields), INVALID + reason)


@pytest.mark.parametrize(
    "fields",
    [
        {"sha512": "Z" * 128},
        {"sha512": "ab" * 100},
        {"url": "{{ .labels.asset_url }}/sensu-go-hello-world-0.0.1.tar.gz"},
        {"url": "https://localhost/" + "0" * 40 + ".zip"},
        {"url": "not a url at all"},
    ],
)
def test_checksum_and_url_have_no_other_rules(sensu, fields):
    assert sensu.create(asset("x", **fields)).status_code == 201


@pytest.mark.parametrize(
    "expression",
    [
        "entity.system.os == 'linux'",
        'entity.OS in ("macos", "linux")',
        "parseInt(entity.system.platform_version.split('.')[0]) == 6",
        "entity.system.arm_version == 7",
        "",
    ],
)
def test_filters_that_parse_as_javascript_are_accepted(sensu, expression):
    assert sensu.create(asset("x", filters=["a == 1", expression])).status_code == 201


@pytest.mark.parametrize(
    "expression",
    ["entity.system.os ==", "((entity.system.os", "'unterminated", "a b", "(" * 3000],
)
def test_filters_that_do_not_parse_are_400_naming_the_index(post_fails, expression):
    text = post_fails(asset("x", filters=["a == 1", expression]))
    assert text.startswith(INVALID + "syntax error in expression 1: ")


def test_build_rules_apply_per_build_and_top_level_is_not_checked(sensu, post_fails):
    good = {"url": "u", "sha512": SHA}
    body = asset("x", url="", sha512="short", filters=["(("], builds=[good])
    assert sensu.create(body).status_code == 201
    assert sensu.stored("x")["sha512"] == "short"
    assert sensu.stored("x")["filters"] == ["(("]
    bad = {"url": "u", "sha512": SHA, "filters": ["=="]}
    text = sensu.put(asset("x", builds=[good, bad]))
    assert_error(text, 400, 1)
    assert text.get_json()["message"].startswith(INVALID + "syntax error")
    assert sensu.stored("x")["sha512"] == "short"


def test_build_without_checksum_is_400(post_fails):
    post_fails(
        asset("x", builds=[{"url": "u"}]), INVALID + "SHA-512 checksum cannot be empty"
    )


def test_headers_labels_and_annotations_are_free_string_maps(sensu):
    meta = {
        "name": "x",
        "namespace": "default",
        "labels": {"": "", "any key!": "é"},
        "annotations": {"k": ""},
    }
    body = asset("x", headers={"": "", "X-Ü": "v"}, metadata=meta)
    assert sensu.create(body).status_code == 201


def test_validation_reports_the_first_failure_in_order(post_fails):
    body = asset("", sha512="", url="")
    post_fails(body, INVALID + "name cannot be empty")
    body = asset("x", sha512="", url="")
    post_fails(body, INVALID + "SHA-512 checksum cannot be empty")


def test_post_into_missing_namespace_stores_nothing(sensu):
    response = sensu.create(asset("x", "nowhere"), "nowhere")
    assert_error(response, 404, 2, "the namespace nowhere does not exist")
    sensu.namespace("nowhere")
    assert sensu.names(asset_url("nowhere")) == []


def test_put_into_missing_namespace_stores_nothing(sensu):
    response = sensu.put(asset("x", "nowhere"))
    assert_error(response, 404, 2, "the namespace nowhere does not exist")
    sensu.namespace("nowhere")
    assert sensu.stored("x", "nowhere") is None


def test_body_over_the_limit_is_413_and_stores_nothing(sensu):
    body = asset("x", headers={"pad": "x" * 512_000})
    response = sensu.create(body)
    assert_error(response, 413, 1)
    assert sensu.names() == []


def test_body_just_under_the_limit_is_accepted(sensu):
    body = asset("x")
    size = len(json.dumps(body))
    body["headers"] = {"pad": ""}
    body["headers"]["pad"] = "x" * (512_000 - size - len(', "headers": {"pad": ""}'))
    assert len(json.dumps(body)) == 512_000
    assert sensu.create(body).status_code == 201


class TestSmallerLimit:
    @pytest.fixture
    def config(self, tmp_path):
        return {"DATA_DIR": str(tmp_path), "API_REQUEST_LIMIT": 1000}

    def test_api_request_limit_setting_is_applied(self, sensu):
        response = sensu.create(asset("x", headers={"pad": "x" * 1000}))
        assert_error(response, 413, 1)
        assert sensu.create(asset("x")).status_code == 201


@pytest.mark.parametrize(
    ("method", "url", "raw"),
    [
        ("POST", asset_url("default"), "{bad"),
        ("PUT", asset_url("default", "x"), "[]"),
        ("PATCH", asset_url("default", "x"), "{bad"),
        ("POST", asset_url("default"), "x" * 600_000),
        ("GET", asset_url("default", "x"), None),
        ("DELETE", asset_url("default", "x"), None),
        ("GET", "/api/core/v2/assets?continue=!!", None),
        ("GET", "/api/core/v2/assets?labelSelector=a%20%3D%20b", None),
    ],
)
def test_no_credentials_is_401_before_anything_else(client, method, url, raw):
    response = client.open(url, method=method, data=raw)
    assert_error(response, 401, 5, "bad credentials")


def test_401_rejected_write_stores_nothing(sensu):
    response = sensu.create(asset("x"), headers={"Authorization": None})
    assert response.status_code == 401
    assert sensu.names() == []
