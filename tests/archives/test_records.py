"""Records: list, get, merge-patch, delete, restore, GC and the commands (spec
archives.md 4.3, 8, 9)."""

from __future__ import annotations

import json
import os
import time

import pytest

from archives import garbage
from archives.blobs import BlobStore
from tests.archives.helpers import (
    BASE,
    blob_files,
    sha512,
    tarball,
    temp_files,
    upload,
)
from tests.sensugo import AUTH, CORE, assert_error, asset

MERGE = {**AUTH, "Content-Type": "application/merge-patch+json"}


def archives(n: int) -> list[bytes]:
    return [tarball({"bin/x": str(i).encode()}) for i in range(n)]


def ids(response) -> list[str]:
    assert response.status_code == 200, response.data
    return [r["sha512"] for r in response.get_json()]


def test_list_pages_with_limit_and_continue(client):
    datas = archives(5)
    for data in datas:
        upload(client, data)
    seen, token = [], None
    while True:
        query = {"limit": 2, **({"continue": token} if token else {})}
        response = client.get(BASE, headers=AUTH, query_string=query)
        seen += ids(response)
        token = response.headers.get("Sensu-Continue")
        if token is None:
            break
    assert seen == sorted(sha512(d) for d in datas)


def test_list_total_selectors_and_trash(client):
    a, b = archives(2)
    upload(client, a, filename="a.tgz", **{"labels.team": "ops"})
    upload(client, b, filename="b.tgz")
    response = client.get(BASE, headers=AUTH, query_string={"include_total": "true"})
    assert response.headers["X-Total-Count"] == "2"
    chosen = client.get(
        BASE, headers=AUTH, query_string={"labelSelector": "team == ops"}
    )
    assert ids(chosen) == [sha512(a)]
    by_name = client.get(
        BASE,
        headers=AUTH,
        query_string={"fieldSelector": 'archive.filename == "b.tgz"'},
    )
    assert ids(by_name) == [sha512(b)]
    client.delete(f"{BASE}/{sha512(a)}", headers=AUTH)
    assert ids(client.get(BASE, headers=AUTH)) == [sha512(b)]
    trash = client.get(BASE, headers=AUTH, query_string={"deleted": "true"})
    assert ids(trash) == [sha512(a)]
    assert isinstance(trash.get_json()[0]["deleted_at"], int)
    assert trash.get_json()[0]["available"] is False


@pytest.mark.parametrize("option", ["include_total", "deleted"])
def test_a_yes_no_option_of_another_value_is_400(client, option):
    response = client.get(BASE, headers=AUTH, query_string={option: "ture"})
    assert_error(response, 400, 1)
    assert response.get_json()["message"] == f"{option} must be true or false"
    for value in ("TRUE", "yes", "0", ""):
        ok = client.get(BASE, headers=AUTH, query_string={option: value})
        assert ok.status_code == 200


def test_unknown_sort_is_400(client):
    response = client.get(BASE, headers=AUTH, query_string={"sort_by": "colour"})
    assert_error(response, 400, 1)


def test_every_namespace_list(client, sensu):
    sensu.namespace("zz")
    a, b = archives(2)
    upload(client, a, ns="zz")
    upload(client, b)
    response = client.get(f"{CORE}/archives", headers=AUTH, query_string={"limit": 1})
    first = response.get_json()
    assert [r["metadata"]["namespace"] for r in first] == ["default"]
    token = response.headers["Sensu-Continue"]
    rest = client.get(
        f"{CORE}/archives", headers=AUTH, query_string={"continue": token}
    )
    assert [r["metadata"]["namespace"] for r in rest.get_json()] == ["zz"]


def test_filters_route(client):
    body = client.get(f"{BASE}/filters", headers=AUTH).get_json()
    assert "archive.filename" in body["fields"]
    assert body["operators"] == ["==", "!=", "in", "notin", "matches"]


def test_get_has_an_etag_and_patch_honours_it(client):
    data = tarball()
    upload(client, data)
    url = f"{BASE}/{sha512(data)}"
    got = client.get(url, headers=AUTH)
    etag = got.headers["ETag"]
    patch = {
        "filename": "new.tgz",
        "aliases": ["x/1"],
        "metadata": {"labels": {"a": "b"}},
        "size": 1,
    }
    response = client.patch(
        url, data=json.dumps(patch), headers={**MERGE, "If-Match": etag}
    )
    assert response.status_code == 200, response.data
    record = response.get_json()
    assert record["filename"] == "new.tgz"
    assert record["aliases"] == ["x/1"]
    assert record["metadata"]["labels"] == {"a": "b"}
    assert record["size"] == len(data)
    assert response.headers["ETag"] != etag
    stale = client.patch(url, data="{}", headers={**MERGE, "If-Match": etag})
    assert_error(stale, 412, 7)
    removed = client.patch(
        url, data=json.dumps({"metadata": {"labels": {"a": None}}}), headers=MERGE
    )
    assert removed.get_json()["metadata"]["labels"] == {}


def test_record_etag_changes_whenever_the_record_does_and_only_then(client, sensu):
    """The record's ETag is a digest of the record as GET sends it (8.3): equal
    while it is unchanged, whoever asks, new when anything in it changes, an
    asset naming it or an alias moving away included."""
    a, b = archives(2)
    upload(client, a, alias="app/latest")
    upload(client, b)
    url = f"{BASE}/{sha512(a)}"

    def etag() -> str:
        return client.get(url, headers=AUTH).headers["ETag"]

    first = etag()
    assert etag() == first
    other_host = client.get(url, headers=AUTH, base_url="http://stashd.example")
    assert other_host.headers["ETag"] == first
    assert first != f'"{sha512(a)}"'  # not the download ETag
    sensu.put(asset("user", url="https://x/a.tar.gz", sha512=sha512(a)))
    named = etag()
    assert named != first
    assert client.get(url, headers=AUTH).get_json()["referenced_by"] == ["user"]
    client.patch(
        f"{BASE}/{sha512(b)}",
        data=json.dumps({"aliases": ["app/latest"]}),
        headers=MERGE,
    )
    moved = etag()
    assert moved != named
    stale = client.patch(url, data="{}", headers={**MERGE, "If-Match": named})
    assert_error(stale, 412, 7)
    fresh = client.patch(url, data="{}", headers={**MERGE, "If-Match": moved})
    assert fresh.status_code == 200, fresh.data


def test_record_etag_is_the_same_after_delete_and_restore(client):
    data = tarball()
    upload(client, data)
    url = f"{BASE}/{sha512(data)}"
    before = client.get(url, headers=AUTH).headers["ETag"]
    assert client.delete(url, headers=AUTH).status_code == 204
    trashed = client.get(url + "?deleted=true", headers=AUTH).headers["ETag"]
    assert trashed != before
    assert client.post(url + "/restore", headers=AUTH).status_code == 200
    assert client.get(url, headers=AUTH).headers["ETag"] == before


@pytest.mark.parametrize(
    "patch", [{"filename": "a/b"}, {"aliases": ["../x"]}, {"aliases": "x"}]
)
def test_bad_patch_is_400(client, patch):
    data = tarball()
    upload(client, data)
    response = client.patch(
        f"{BASE}/{sha512(data)}", data=json.dumps(patch), headers=MERGE
    )
    assert_error(response, 400, 1)


def test_patched_alias_moves_from_its_holder(client):
    a, b = archives(2)
    upload(client, a, alias="app/latest")
    upload(client, b)
    client.patch(
        f"{BASE}/{sha512(b)}",
        data=json.dumps({"aliases": ["app/latest"]}),
        headers=MERGE,
    )
    assert client.get(f"{BASE}/{sha512(a)}", headers=AUTH).get_json()["aliases"] == []
    response = client.get("/archives/default/paths/app/latest", headers=AUTH)
    assert response.get_data() == b
    response.close()


def test_delete_in_use_is_409_force_trashes_restore_returns(client, sensu):
    data = tarball()
    upload(client, data, asset="hello", alias="hello/latest")
    url = f"{BASE}/{sha512(data)}"
    message = assert_error(client.delete(url, headers=AUTH), 409, 3)
    assert message.endswith(
        "is used by asset(s) hello; pass force=true to delete it anyway"
    )
    assert client.delete(url + "?force=true", headers=AUTH).status_code == 204
    assert_error(client.get(url, headers=AUTH), 410, 2)
    assert client.get(url + "?deleted=true", headers=AUTH).status_code == 200
    assert_error(client.delete(url, headers=AUTH), 404, 2)
    restored = client.post(url + "/restore", headers=AUTH)
    assert restored.status_code == 200
    assert restored.get_json()["aliases"] == ["hello/latest"]
    download = client.get("/archives/default/paths/hello/latest", headers=AUTH)
    assert download.get_data() == data
    download.close()
    assert client.post(url + "/restore", headers=AUTH).status_code == 200
    assert_error(client.post(f"{BASE}/{'0' * 128}/restore", headers=AUTH), 404, 2)


def test_references_count_across_namespaces(client, sensu):
    sensu.namespace("other")
    data = tarball()
    upload(client, data)
    upload(client, data, ns="other", asset="user")
    response = client.delete(f"{BASE}/{sha512(data)}", headers=AUTH)
    assert "other/user" in assert_error(response, 409, 3)


@pytest.mark.parametrize("purge", [False, True])
def test_an_asset_written_between_the_check_and_the_trash_keeps_the_record(
    client, sensu, monkeypatch, purge
):
    """The cross-namespace check and the trash are two steps (one script cannot
    span namespaces on a cluster); an asset of another namespace written between
    them is seen by the look after the trash, and the record stays (19.1)."""
    sensu.namespace("other")
    data = tarball()
    upload(client, data, alias="hello/latest")
    url = f"{BASE}/{sha512(data)}"
    real = garbage.referencing
    calls = []

    def racing(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(found)
        if len(calls) == 1:  # the asset lands right after the first look
            body = asset("late", "other", url="https://x/a.tgz", sha512=sha512(data))
            assert sensu.put(body).status_code == 201
        return found

    monkeypatch.setattr(garbage, "referencing", racing)
    query = "?purge=true" if purge else ""
    response = client.delete(url + query, headers=AUTH)
    assert "other/late" in assert_error(response, 409, 3)
    assert calls == [[], ["other/late"]]
    record = client.get(url, headers=AUTH)
    assert record.status_code == 200
    assert record.get_json()["deleted_at"] is None
    assert record.get_json()["aliases"] == ["hello/latest"]
    download = client.get("/archives/default/paths/hello/latest", headers=AUTH)
    assert download.status_code == 200 and download.get_data() == data
    download.close()
    forced = client.delete(url + "?force=true" + query.replace("?", "&"), headers=AUTH)
    assert forced.status_code == 204


def test_same_bytes_revive_a_trashed_record_with_201(client):
    data = tarball()
    upload(client, data)
    client.delete(f"{BASE}/{sha512(data)}", headers=AUTH)
    assert upload(client, data).status_code == 201


def test_gc_purges_unreferenced_trash_and_blobs_keeps_the_rest(client, app, sensu):
    app.config["ARCHIVE_RETENTION_SECONDS"] = 0
    app.config["ARCHIVE_BLOB_GRACE_SECONDS"] = 0
    app.config["ARCHIVE_TMP_MAX_AGE_SECONDS"] = 10
    sensu.namespace("other")
    lone, used, shared = archives(3)
    for data in (lone, used, shared):
        upload(client, data)
    upload(client, used, asset="user", ns="other")
    upload(client, shared, ns="other")
    for data in (lone, used, shared):
        url = f"{BASE}/{sha512(data)}?force=true"
        assert client.delete(url, headers=AUTH).status_code == 204
    tmp = app.extensions["blobs"].tmp
    old, young = os.path.join(tmp, "old.part"), os.path.join(tmp, "young.part")
    for path in (old, young):
        open(path, "wb").close()
    os.utime(old, (time.time() - 60, time.time() - 60))
    report = client.post(f"{CORE}/archives/gc", headers=AUTH).get_json()
    assert report == {
        "purged_records": 2,
        "deleted_blobs": 1,
        "freed_bytes": len(lone),
        "kept_referenced": 1,
        "removed_tmp": 1,
    }
    assert sorted(blob_files(app)) == sorted([sha512(used), sha512(shared)])
    assert os.listdir(tmp) == ["young.part"]
    trash = client.get(BASE, headers=AUTH, query_string={"deleted": "true"})
    assert ids(trash) == [sha512(used)]


def test_gc_keeps_young_trash(client, app):
    data = tarball()
    upload(client, data)
    client.delete(f"{BASE}/{sha512(data)}", headers=AUTH)
    report = client.post(f"{CORE}/archives/gc", headers=AUTH).get_json()
    assert report["purged_records"] == 0 and report["deleted_blobs"] == 0


def test_purge_removes_at_once(client, app):
    data = tarball()
    upload(client, data)
    url = f"{BASE}/{sha512(data)}"
    client.delete(url, headers=AUTH)
    assert client.delete(url + "?purge=true", headers=AUTH).status_code == 204
    assert_error(client.get(url + "?deleted=true", headers=AUTH), 404, 2)


def test_cli_gc_and_fsck(client, app):
    data = tarball()
    upload(client, data)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["archives", "gc"])
    assert result.exit_code == 0, result.output
    assert "purged_records: 0" in result.output
    result = runner.invoke(args=["archives", "fsck"])
    assert result.exit_code == 0 and "0 damaged" in result.output
    path = app.extensions["blobs"].path(sha512(data))
    os.chmod(path, 0o600)
    with open(path, "r+b") as file:
        file.write(b"X")
    result = runner.invoke(args=["archives", "fsck"])
    assert result.exit_code == 1
    assert f"damaged: {sha512(data)}" in result.output


def test_namespace_holding_archives_is_not_deleted(client, sensu):
    sensu.namespace("full")
    data = tarball()
    upload(client, data, ns="full")
    url = f"{CORE}/namespaces/full"
    assert_error(client.delete(url, headers=AUTH), 409, 3)
    client.delete(f"{CORE}/namespaces/full/archives/{sha512(data)}", headers=AUTH)
    assert_error(client.delete(url, headers=AUTH), 409, 3)
    purge = f"{CORE}/namespaces/full/archives/{sha512(data)}?purge=true"
    assert client.delete(purge, headers=AUTH).status_code == 204
    assert client.delete(url, headers=AUTH).status_code == 204


def _walk(client, url, **query):
    seen, token = [], None
    while True:
        page = {**query, "limit": 2, **({"continue": token} if token else {})}
        response = client.get(url, headers=AUTH, query_string=page)
        seen += ids(response)
        token = response.headers.get("Sensu-Continue")
        if token is None:
            return seen


@pytest.mark.parametrize("sort_by", ["sha512", "created_at", "size", "filename"])
@pytest.mark.parametrize("order", ["asc", "desc"])
def test_every_sort_pages_through_every_record_once(client, sort_by, order):
    datas = [tarball({"bin/x": b"y" * (i % 3)}, compress=i % 2 == 0) for i in range(5)]
    records = []
    for i, data in enumerate(datas):
        name = f"{'ba'[i % 2]}{i}.tgz"
        records.append(upload(client, data, filename=name).get_json()["archive"])
    upload(client, tarball({"bin/gone": b"1"}))
    client.delete(f"{BASE}/{sha512(tarball({'bin/gone': b'1'}))}", headers=AUTH)
    seen = _walk(client, BASE, sort_by=sort_by, sort_order=order)
    expected = sorted(
        records, key=lambda r: (r[sort_by], r["sha512"]), reverse=order == "desc"
    )
    assert seen == [r["sha512"] for r in expected]
    trash = _walk(client, BASE, sort_by=sort_by, sort_order=order, deleted="true")
    assert trash == [sha512(tarball({"bin/gone": b"1"}))]


def test_sorted_pages_survive_writes_between_them(client):
    datas = archives(6)
    for data in datas:
        upload(client, data)
    first = client.get(BASE, headers=AUTH, query_string={"limit": 3, "sort_by": "size"})
    token = first.headers["Sensu-Continue"]
    client.delete(f"{BASE}/{ids(first)[0]}?force=true", headers=AUTH)
    rest = client.get(
        BASE,
        headers=AUTH,
        query_string={"sort_by": "size", "continue": token},
    )
    assert sorted(ids(first) + ids(rest)) == sorted(sha512(d) for d in datas)


def test_a_token_of_another_sort_is_400(client):
    for data in archives(3):
        upload(client, data)
    response = client.get(
        BASE, headers=AUTH, query_string={"limit": 1, "sort_by": "size"}
    )
    token = response.headers["Sensu-Continue"]
    for query in (
        {},
        {"sort_by": "filename"},
        {"sort_by": "size", "sort_order": "desc"},
    ):
        other = client.get(
            BASE, headers=AUTH, query_string={**query, "continue": token}
        )
        assert_error(other, 400, 1, "continue token does not match the sort")
    plain = client.get(BASE, headers=AUTH, query_string={"limit": 1})
    token = plain.headers["Sensu-Continue"]
    other = client.get(
        BASE, headers=AUTH, query_string={"sort_by": "size", "continue": token}
    )
    assert_error(other, 400, 1)


def test_purge_and_patch_keep_the_sort_indexes(client, app):
    data = tarball()
    upload(client, data, filename="z.tgz")
    url = f"{BASE}/{sha512(data)}"
    client.patch(url, data=json.dumps({"filename": "a.tgz"}), headers=MERGE)
    keys = app.extensions["redis"]
    index = app.extensions["archives"].keys.archive_sort
    by_name = keys.zrange(index("default", "filename"), 0, -1)
    assert by_name == [f"a.tgz\0{sha512(data)}".encode()]
    client.delete(url + "?purge=true", headers=AUTH)
    for sort in ("created_at", "size", "filename"):
        assert keys.zcard(index("default", sort)) == 0


def test_bootstrap_backfills_references_of_older_assets(client, app):
    from server.bootstrap import bootstrap

    data = tarball()
    upload(client, data, asset="old")
    refs = app.extensions["archives"].keys.archive_refs("default", sha512(data))
    app.extensions["redis"].delete(refs)  # as if stored before reference sets
    bootstrap(app.config, app.extensions["redis"])
    message = assert_error(
        client.delete(f"{BASE}/{sha512(data)}", headers=AUTH), 409, 3
    )
    assert "old" in message


def test_an_asset_written_between_gcs_look_and_its_purge_keeps_the_record(
    client, app, sensu, monkeypatch
):
    """GC's look at every namespace and its purge are two steps (one script cannot
    span namespaces on a cluster); an asset of another namespace written between
    them is seen by the look after the purge, and the record comes back to the
    trash whole: aliases, share, blob (19.1)."""
    app.config["ARCHIVE_RETENTION_SECONDS"] = 0
    app.config["ARCHIVE_BLOB_GRACE_SECONDS"] = 0
    sensu.namespace("other")
    data = tarball()
    upload(client, data, alias="hello/latest", filename="hello.tar.gz")
    url = f"{BASE}/{sha512(data)}"
    made = client.post(url + "/shares", data="{}", headers=AUTH).get_json()
    assert client.delete(url, headers=AUTH).status_code == 204
    before = client.get(url + "?deleted=true", headers=AUTH).get_json()
    real = garbage.referencing
    calls = []

    def racing(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(found)
        if len(calls) == 1:  # the asset lands right after the first look
            body = asset("late", "other", url="https://x/a.tgz", sha512=sha512(data))
            assert sensu.put(body).status_code == 201
        return found

    monkeypatch.setattr(garbage, "referencing", racing)
    report = client.post(f"{CORE}/archives/gc", headers=AUTH).get_json()
    assert calls == [[], ["other/late"]]
    assert report["purged_records"] == 0 and report["kept_referenced"] == 1
    assert report["deleted_blobs"] == 0 and blob_files(app) == [sha512(data)]
    after = client.get(url + "?deleted=true", headers=AUTH).get_json()
    assert after == before
    trash = client.get(BASE, headers=AUTH, query_string={"deleted": "true"})
    assert ids(trash) == [sha512(data)]
    by_name = client.get(
        BASE,
        headers=AUTH,
        query_string={"deleted": "true", "sort_by": "filename"},
    )
    assert ids(by_name) == [sha512(data)]
    restored = client.post(url + "/restore", headers=AUTH)
    assert restored.get_json()["aliases"] == ["hello/latest"]
    shared = client.get(
        f"/archives/default/{sha512(data)}", query_string={"token": made["token"]}
    )
    assert shared.status_code == 200 and shared.get_data() == data
    shared.close()


def test_an_asset_written_before_a_trashed_records_purge_keeps_it(
    client, sensu, monkeypatch
):
    """``purge=true`` on a trashed record looks at every namespace, purges, and
    looks again: an asset written in between puts the record back (409)."""
    sensu.namespace("other")
    data = tarball()
    upload(client, data, alias="hello/latest")
    url = f"{BASE}/{sha512(data)}"
    assert client.delete(url, headers=AUTH).status_code == 204
    before = client.get(url + "?deleted=true", headers=AUTH).get_json()
    real = garbage.referencing
    calls = []

    def racing(*args, **kwargs):
        found = real(*args, **kwargs)
        calls.append(found)
        if len(calls) == 1:
            body = asset("late", "other", url="https://x/a.tgz", sha512=sha512(data))
            assert sensu.put(body).status_code == 201
        return found

    monkeypatch.setattr(garbage, "referencing", racing)
    response = client.delete(url + "?purge=true", headers=AUTH)
    assert "other/late" in assert_error(response, 409, 3)
    assert client.get(url + "?deleted=true", headers=AUTH).get_json() == before
    forced = client.delete(url + "?purge=true&force=true", headers=AUTH)
    assert forced.status_code == 204
    assert_error(client.get(url + "?deleted=true", headers=AUTH), 404, 2)


def test_an_upload_between_gcs_look_and_the_blobs_removal_keeps_the_blob(
    client, app, monkeypatch
):
    """GC looks for records of a blob, then deletes it: the same bytes uploaded
    in between (their record written) keep it, as the look again once the blob is
    out of place sees (4.3: GC never deletes a blob a record names)."""
    app.config["ARCHIVE_RETENTION_SECONDS"] = 0
    app.config["ARCHIVE_BLOB_GRACE_SECONDS"] = 0
    data = tarball()
    upload(client, data)
    url = f"{BASE}/{sha512(data)}"
    assert client.delete(url + "?purge=true", headers=AUTH).status_code == 204
    real = BlobStore.mtime
    seen = []

    def racing(self, *args, **kwargs):
        found = real(self, *args, **kwargs)
        if not seen:  # GC found no record of the blob, and read its age
            seen.append(upload(client, data).status_code)
        return found

    monkeypatch.setattr(BlobStore, "mtime", racing)
    report = client.post(f"{CORE}/archives/gc", headers=AUTH).get_json()
    assert seen == [201]
    assert report["deleted_blobs"] == 0 and blob_files(app) == [sha512(data)]
    download = client.get(f"/archives/default/{sha512(data)}", headers=AUTH)
    assert download.status_code == 200 and download.get_data() == data
    download.close()
    assert temp_files(app) == []
