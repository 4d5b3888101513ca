"""One call from tarball to asset (spec archives.md 6) and the reference sets every
asset write keeps (4.2)."""

from __future__ import annotations

import json

from tests.archives.helpers import BASE, sha512, tarball, upload, upload_multipart
from tests.sensugo import AUTH, CORE, assert_error, asset

ASSETS = f"{CORE}/namespaces/default/assets"


def refs(app, ns, archive_id):
    client = app.extensions["client"]
    return client.run(app.extensions["archives"].refs(ns, archive_id))


def test_asset_is_created_with_our_url_and_sha512(client, app):
    data = tarball()
    response = upload(client, data, asset="hello", filename="hello.tar.gz")
    assert response.status_code == 201
    body = response.get_json()
    assert body["asset_stored"] is True
    stored = client.get(f"{ASSETS}/hello", headers=AUTH).get_json()
    assert stored == body["asset"]
    assert stored["sha512"] == sha512(data)
    assert stored["url"] == body["archive"]["download_url"]
    assert stored["url"].endswith(f"/archives/default/{sha512(data)}/hello.tar.gz")
    assert stored["metadata"]["created_by"] == "admin"
    assert body["archive"]["referenced_by"] == ["hello"]
    assert refs(app, "default", sha512(data)) == ["hello"]


def test_second_upload_updates_the_asset_keeping_labels_and_headers(client, app):
    first, second = tarball({"bin/a": b"1"}), tarball({"bin/a": b"2"})
    upload(client, first, asset="hello")
    patch = {"metadata": {"labels": {"team": "ops"}}, "headers": {"X-A": "b"}}
    response = client.patch(
        f"{ASSETS}/hello",
        data=json.dumps(patch),
        headers={**AUTH, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200
    assert upload(client, second, asset="hello").status_code == 201
    stored = client.get(f"{ASSETS}/hello", headers=AUTH).get_json()
    assert stored["sha512"] == sha512(second)
    assert stored["metadata"]["labels"] == {"team": "ops"}
    assert stored["headers"] == {"X-A": "b"}
    assert refs(app, "default", sha512(first)) == []
    assert refs(app, "default", sha512(second)) == ["hello"]


def test_as_build_replaces_the_build_with_equal_filters_else_appends(client, app):
    linux = 'entity.system.os == "linux"'
    a, b, c = (tarball({"bin/a": bytes([i])}) for i in range(3))
    upload(client, a, asset="multi", **{"as": "build", "filter": linux})
    upload(client, b, asset="multi", **{"as": "build", "filter": "true"})
    upload(client, c, asset="multi", **{"as": "build", "filter": linux})
    stored = client.get(f"{ASSETS}/multi", headers=AUTH).get_json()
    assert [(x["sha512"], x["filters"]) for x in stored["builds"]] == [
        (sha512(c), [linux]),
        (sha512(b), ["true"]),
    ]
    assert refs(app, "default", sha512(a)) == []
    assert refs(app, "default", sha512(c)) == ["multi"]


def test_as_url_on_an_asset_with_builds_is_409_and_changes_nothing(client, app):
    upload(client, tarball(), asset="multi", **{"as": "build"})
    before = client.get(f"{ASSETS}/multi", headers=AUTH).data
    data = tarball({"bin/other": b"x"})
    response = upload(client, data, asset="multi")
    assert_error(response, 409, 3, "asset multi has builds; upload with as=build")
    assert client.get(f"{ASSETS}/multi", headers=AUTH).data == before
    ids = [r["sha512"] for r in client.get(BASE, headers=AUTH).get_json()]
    assert sha512(data) not in ids


def test_bad_filter_is_400_before_the_body(client, app):
    response = upload(client, tarball(), asset="x", filter="a ==")
    assert_error(response, 400, 1)
    assert list(app.extensions["blobs"].ids()) == []


def test_definition_part_brings_headers_labels_annotations(client):
    definition = {
        "headers": {"Authorization": "Key {{ .annotations.stashd_key }}"},
        "metadata": {"labels": {"a": "b"}, "annotations": {"c": "d"}},
        "url": "ignored",
    }
    response = upload_multipart(
        client, tarball(), fields={"definition": json.dumps(definition)}, asset="x"
    )
    assert response.status_code == 201, response.data
    stored = client.get(f"{ASSETS}/x", headers=AUTH).get_json()
    assert stored["headers"] == definition["headers"]
    assert stored["metadata"]["labels"] == {"a": "b"}
    assert stored["metadata"]["annotations"] == {"c": "d"}
    assert response.get_json()["warnings"] == []


def test_written_entry_without_credentials_warns(client):
    response = upload(client, tarball(), asset="x")
    assert response.get_json()["warnings"] == [
        "agents will get 401: the definition carries no credentials for stashd"
    ]


def test_without_asset_the_suggested_definition_comes_back(client):
    response = upload(client, tarball(), filename="sensu-x_1.0_linux.tar.gz")
    body = response.get_json()
    assert body["asset_stored"] is False
    assert body["asset"]["metadata"] == {
        "name": "sensu-x_1.0_linux",
        "namespace": "default",
    }


def test_definition_route(client):
    data = tarball()
    upload(client, data, filename="a b.tgz")
    url = f"{BASE}/{sha512(data)}/definition"
    plain = client.get(url, headers=AUTH).get_json()
    assert plain["metadata"]["name"] == "a_b"
    assert plain["sha512"] == sha512(data)
    assert plain["filters"] is None and plain["headers"] is None
    wrapped = client.get(url + "?wrapped=true&name=mine", headers=AUTH).get_json()
    assert wrapped["type"] == "Asset" and wrapped["api_version"] == "core/v2"
    assert wrapped["metadata"]["name"] == "mine"
    assert wrapped["spec"]["url"] == plain["url"]


def test_asset_writes_keep_the_reference_sets(sensu, app):
    one, two = "a" * 128, "B" * 128
    body = asset("r", sha512=one)
    assert sensu.create(body).status_code == 201
    assert refs(app, "default", one) == ["r"]
    body = asset("r", builds=[{"url": "u", "sha512": two}])
    del body["sha512"], body["url"]
    assert sensu.put(body).status_code == 201, sensu.put(body).data
    assert refs(app, "default", one) == []
    assert refs(app, "default", "b" * 128) == ["r"]
    patched = sensu.patch("r", {"builds": None, "sha512": one, "url": "u"})
    assert patched.status_code == 200, patched.data
    assert refs(app, "default", one) == ["r"]
    assert refs(app, "default", "b" * 128) == []
    assert sensu.delete("r").status_code == 204
    assert refs(app, "default", one) == []
