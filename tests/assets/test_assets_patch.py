"""PATCH: JSON Merge Patch, Content-Type rules, ETag conditions (spec assets.md 7)."""

from __future__ import annotations

import pytest

from assets.store import AssetStore
from tests.sensugo import SHA, assert_error, asset

MERGE = "application/merge-patch+json"


@pytest.fixture
def stored(sensu):
    meta = {
        "name": "x",
        "namespace": "default",
        "labels": {"region": "us-west-1", "tier": "1"},
    }
    body = asset("x", metadata=meta, filters=["a == 1"], headers={"H": "v"})
    assert sensu.create(body).status_code == 201
    return sensu


def test_patch_merges_and_returns_the_asset_with_its_new_etag(stored):
    before = stored.get("x").headers["ETag"]
    response = stored.patch("x", {"url": "https://example.com/new"})
    assert response.status_code == 200
    assert response.get_json() == stored.stored("x")
    assert response.get_json()["url"] == "https://example.com/new"
    assert response.headers["ETag"] == stored.get("x").headers["ETag"] != before


def test_null_deletes_a_label_and_other_labels_stay(stored):
    stored.patch("x", {"metadata": {"labels": {"region": None, "new": "n"}}})
    assert stored.stored("x")["metadata"]["labels"] == {"tier": "1", "new": "n"}


def test_arrays_are_replaced_as_a_whole(stored):
    stored.patch("x", {"filters": ["b == 2"]})
    assert stored.stored("x")["filters"] == ["b == 2"]


def test_null_removes_headers_and_output_turns_null(stored):
    stored.patch("x", {"headers": None})
    assert stored.stored("x")["headers"] is None


def test_unknown_keys_change_nothing(stored):
    before = stored.get("x")
    response = stored.patch("x", {"nonsense": 1, "metadata": {"whatever": 2}})
    assert response.status_code == 200
    assert stored.get("x").headers["ETag"] == before.headers["ETag"]
    assert stored.stored("x") == before.get_json()


def test_created_by_is_untouched(stored):
    stored.patch("x", {"metadata": {"created_by": "mallory"}})
    assert stored.stored("x")["metadata"]["created_by"] == "admin"


@pytest.mark.parametrize("content_type", [MERGE, MERGE + "; charset=utf-8", None])
def test_merge_patch_content_types_are_accepted(stored, content_type):
    response = stored.patch("x", {"url": "u2"}, content_type=content_type)
    assert response.status_code == 200


def test_json_patch_is_not_supported(stored):
    response = stored.patch("x", [], content_type="application/json-patch+json")
    assert_error(
        response,
        400,
        1,
        "JSON Patch is not supported yet. Allowed values: application/merge-patch+json",
    )


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_other_content_types_are_400(stored, content_type):
    response = stored.patch("x", {"url": "u2"}, content_type=content_type)
    assert_error(
        response,
        400,
        1,
        f"invalid Content-Type header: {content_type}.  Allowed values: "
        "application/merge-patch+json",
    )
    assert stored.stored("x")["url"] != "u2"


@pytest.mark.parametrize(
    "patch", [{"filters": 3}, {"metadata": "x"}, {"headers": {"a": 1}}, [], "x"]
)
def test_patch_of_wrong_type_is_400_and_changes_nothing(stored, patch):
    before = stored.stored("x")
    assert_error(stored.patch("x", patch), 400, 1)
    assert stored.stored("x") == before


def test_patch_body_that_is_not_json_is_400(stored):
    response = stored.request(
        "PATCH",
        "/api/core/v2/namespaces/default/assets/x",
        raw="{nope",
        headers={"Content-Type": MERGE},
    )
    assert_error(response, 400, 1)


def test_patch_cannot_rename(stored):
    response = stored.patch("x", {"metadata": {"name": "y"}})
    assert_error(
        response,
        400,
        1,
        "the name of the resource (y) does not match the name in the URI (x)",
    )
    response = stored.patch("x", {"metadata": {"namespace": "other"}})
    assert_error(
        response,
        400,
        1,
        "the namespace of the resource (other) does not match the namespace in the "
        "URI (default)",
    )
    assert stored.stored("x")["metadata"]["name"] == "x"


def test_patch_with_same_or_null_name_is_fine(stored):
    patch = {"metadata": {"name": "x", "namespace": "default"}, "url": "a"}
    assert stored.patch("x", patch).status_code == 200
    assert stored.patch("x", {"metadata": {"name": None}}).status_code == 200
    assert stored.stored("x")["metadata"]["name"] == "x"
    assert stored.patch("x", {"metadata": None}).status_code == 200
    assert stored.stored("x")["metadata"] == {
        "name": "x",
        "namespace": "default",
        "created_by": "admin",
    }


def test_patch_of_missing_asset_is_404(sensu):
    assert_error(sensu.patch("nothing", {"url": "u"}), 404, 2, "not found")


def test_patch_result_is_validated(stored):
    before = stored.stored("x")
    response = stored.patch("x", {"sha512": "short"})
    assert_error(
        response,
        400,
        1,
        "resource is invalid: SHA-512 checksum must be at least 128 characters",
    )
    response = stored.patch("x", {"filters": ["a =="]})
    assert_error(response, 400, 1)
    assert stored.stored("x") == before


def test_patch_to_builds_skips_top_level_checks(stored):
    patch = {"builds": [{"url": "b", "sha512": SHA}], "sha512": None, "url": None}
    assert stored.patch("x", patch).status_code == 200
    assert "sha512" not in stored.stored("x")


def test_if_match_with_current_etag_applies(stored):
    etag = stored.get("x").headers["ETag"]
    response = stored.patch("x", {"url": "u2"}, headers={"If-Match": etag})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        {"If-Match": '"nope"'},
        {"If-Match": "W/CURRENT"},
        {"If-None-Match": "CURRENT"},
        {"If-None-Match": "W/CURRENT"},
        {"If-None-Match": '"a", CURRENT'},
        {"If-None-Match": "*"},
    ],
)
def test_failed_condition_is_412_and_changes_nothing(stored, header):
    etag = stored.get("x").headers["ETag"]
    header = {k: v.replace("CURRENT", etag) for k, v in header.items()}
    before = stored.stored("x")
    response = stored.patch("x", {"url": "u2"}, headers=header)
    assert_error(
        response,
        412,
        7,
        "at least one condition failed for the key /sensu.io/assets/default/x",
    )
    assert stored.stored("x") == before


@pytest.mark.parametrize(
    "header",
    [
        {"If-Match": "*"},
        {"If-Match": '"a", CURRENT'},
        {"If-None-Match": '"other"'},
        {"If-Match": "CURRENT", "If-None-Match": '"other"'},
    ],
)
def test_conditions_that_hold_apply(stored, header):
    etag = stored.get("x").headers["ETag"]
    header = {k: v.replace("CURRENT", etag) for k, v in header.items()}
    assert stored.patch("x", {"url": "u2"}, headers=header).status_code == 200
    assert stored.stored("x")["url"] == "u2"


def test_etag_from_before_a_change_no_longer_matches(stored):
    old = stored.get("x").headers["ETag"]
    stored.patch("x", {"url": "u2"})
    response = stored.patch("x", {"url": "u3"}, headers={"If-Match": old})
    assert response.status_code == 412
    assert stored.stored("x")["url"] == "u2"


def after_get(monkeypatch, meanwhile):
    """AssetStore.get_asset, once, with `meanwhile` run right after its read."""
    real_get = AssetStore.get_asset

    def get_then(self, ns, name):
        monkeypatch.setattr(AssetStore, "get_asset", real_get)
        call = real_get(self, ns, name)

        def convert(reply):
            found = call.result(reply)
            meanwhile()
            return found

        return call._replace(convert=convert)

    monkeypatch.setattr(AssetStore, "get_asset", get_then)


def test_concurrent_change_during_patch_is_412(stored, monkeypatch):
    """Another writer changes the asset between PATCH's read and its write."""

    def someone_writes():
        assert (
            stored.put(asset("x", url="https://example.com/theirs")).status_code == 201
        )

    after_get(monkeypatch, someone_writes)
    response = stored.patch("x", {"url": "https://example.com/mine"})
    assert_error(response, 412, 7)
    assert stored.stored("x")["url"] == "https://example.com/theirs"


def test_concurrent_delete_during_patch_is_404(stored, monkeypatch):
    def someone_deletes():
        assert stored.delete("x").status_code == 204

    after_get(monkeypatch, someone_deletes)
    assert_error(stored.patch("x", {"url": "u"}), 404, 2)
    assert stored.names() == []
