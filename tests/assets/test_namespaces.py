"""The namespaces API (spec assets.md section 11)."""

from __future__ import annotations

import pytest

from tests.sensugo import CORE, assert_empty_success, assert_error, asset

NS = f"{CORE}/namespaces"


def test_default_exists_on_a_fresh_server(sensu):
    assert sensu.request("GET", f"{NS}/default").get_json() == {"name": "default"}
    assert sensu.request("GET", NS).get_json() == [{"name": "default"}]


def test_post_creates_then_409(sensu):
    assert_empty_success(sensu.request("POST", NS, {"name": "ops"}), 201)
    assert sensu.request("GET", f"{NS}/ops").get_json() == {"name": "ops"}
    assert_error(sensu.request("POST", NS, {"name": "ops"}), 409, 3)


def test_put_creates_or_keeps_with_201(sensu):
    for _ in range(2):
        response = sensu.request("PUT", f"{NS}/ops", {"name": "ops"})
        assert_empty_success(response, 201)
    assert sensu.request("GET", NS).get_json() == [{"name": "default"}, {"name": "ops"}]


@pytest.mark.parametrize("body", [{"name": "other"}, {}, {"name": ""}])
def test_put_name_must_equal_the_url(sensu, body):
    response = sensu.request("PUT", f"{NS}/ops", body)
    message = assert_error(response, 400, 1)
    assert message.startswith("the name of the resource (")
    assert_error(sensu.request("GET", f"{NS}/ops"), 404, 2)


@pytest.mark.parametrize("name", ["a/b", "a b", "café", "", "x\n"])
def test_invalid_namespace_names_are_400(sensu, name):
    message = assert_error(sensu.request("POST", NS, {"name": name}), 400, 1)
    assert message.startswith("namespace name ")
    assert len(sensu.request("GET", NS).get_json()) == 1


@pytest.mark.parametrize("name", ["a.b", "a-b", "a:b", "A_1"])
def test_valid_namespace_names(sensu, name):
    assert sensu.request("POST", NS, {"name": name}).status_code == 201
    assert sensu.request("GET", f"{NS}/{name}").status_code == 200


@pytest.mark.parametrize("raw", ["{bad", "[]", ""])
def test_bad_namespace_body_is_400(sensu, raw):
    assert_error(sensu.request("POST", NS, raw=raw), 400, 1)


def test_wrong_type_of_name_is_400(sensu):
    assert_error(sensu.request("POST", NS, {"name": 3}), 400, 1)


def test_get_missing_namespace_is_404(sensu):
    assert_error(sensu.request("GET", f"{NS}/nowhere"), 404, 2, "not found")


def test_delete_empty_namespace_is_204_then_404(sensu):
    sensu.namespace("ops")
    assert_empty_success(sensu.request("DELETE", f"{NS}/ops"), 204)
    assert_error(sensu.request("DELETE", f"{NS}/ops"), 404, 2)
    assert sensu.request("GET", NS).get_json() == [{"name": "default"}]


def test_namespace_holding_assets_is_not_deleted(sensu):
    sensu.namespace("ops")
    sensu.create(asset("x", "ops"), "ops")
    response = sensu.request("DELETE", f"{NS}/ops")
    assert_error(response, 409, 3, "resource is invalid: namespace is not empty")
    assert sensu.stored("x", "ops") is not None
    sensu.delete("x", "ops")
    assert sensu.request("DELETE", f"{NS}/ops").status_code == 204


def test_deleted_namespace_takes_no_assets(sensu):
    sensu.namespace("ops")
    sensu.request("DELETE", f"{NS}/ops")
    assert sensu.create(asset("x", "ops"), "ops").status_code == 404
    assert sensu.names(f"{CORE}/namespaces/ops/assets") == []


def test_default_can_be_deleted_and_stays_deleted(app, sensu):
    from server.bootstrap import bootstrap

    assert sensu.request("DELETE", f"{NS}/default").status_code == 204
    bootstrap(app.config, app.extensions["redis"])  # a restart
    assert sensu.request("GET", f"{NS}/default").status_code == 404


def test_patch_namespace_changes_nothing(sensu):
    headers = {"Content-Type": "application/merge-patch+json"}
    response = sensu.request("PATCH", f"{NS}/default", {}, headers=headers)
    assert response.status_code == 200
    assert response.get_json() == {"name": "default"}
    response = sensu.request("PATCH", f"{NS}/default", {"name": "x"}, headers=headers)
    assert_error(response, 400, 1)
    response = sensu.request("PATCH", f"{NS}/nowhere", {}, headers=headers)
    assert_error(response, 404, 2)


def test_namespaces_need_credentials(client):
    assert_error(client.get(NS), 401, 5)
    assert_error(client.put(f"{NS}/x", data='{"name": "x"}'), 401, 5)
