"""Uploads: the body streamed to disk, checked in order, stored once (spec
archives.md 4.1, 5)."""

from __future__ import annotations

import hashlib
import io

import flask
import pytest

from core.http import CLOSE_KEY
from tests.archives.helpers import (
    BASE,
    REFUSED,
    blob_files,
    cached_pages,
    drops_clean_pages,
    sha512,
    tarball,
    temp_files,
    upload,
    upload_multipart,
)
from tests.sensugo import AUTH, CORE, assert_error


def test_upload_raw_and_multipart_give_the_same_record(client, app):
    data = tarball()
    raw = upload(client, data, filename="hello.tar.gz")
    assert raw.status_code == 201, raw.data
    record = raw.get_json()["archive"]
    assert record["sha512"] == hashlib.sha512(data).hexdigest()
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["size"] == len(data)
    assert record["type"] == "tar+gzip"
    assert record["state"] == "unscanned" and record["available"] is True
    assert record["metadata"]["name"] == record["sha512"]
    assert raw.headers["Location"] == f"{BASE}/{record['sha512']}"
    again = upload_multipart(client, data, filename="hello.tar.gz")
    assert again.status_code == 200, again.data
    same = again.get_json()["archive"]
    for key in ("sha512", "sha256", "size", "type", "filename", "created_at"):
        assert same[key] == record[key]
    assert blob_files(app) == [record["sha512"]]
    assert temp_files(app) == []


def test_an_uploaded_blob_leaves_the_page_cache_once_on_disk(client, app):
    data = tarball({"bin/hello": bytes(range(256)) * 256})
    assert upload(client, data).status_code == 201
    blobs = app.extensions["blobs"]
    if not drops_clean_pages(blobs.tmp):
        pytest.skip("this filesystem keeps every page of its files in memory")
    assert cached_pages(blobs.path(sha512(data))) == 0
    served = client.get(f"/archives/default/{sha512(data)}", headers=AUTH)
    try:
        assert served.status_code == 200 and served.get_data() == data  # from disk
    finally:
        served.close()


def test_upload_plain_tar_and_default_filename(client):
    data = tarball(compress=False)
    response = upload(client, data)
    assert response.status_code == 201, response.data
    record = response.get_json()["archive"]
    assert record["type"] == "tar"
    assert record["filename"] == sha512(data)[:16] + ".tar"


def test_upload_takes_the_content_disposition_filename(client):
    response = client.post(
        BASE,
        data=tarball(),
        headers={**AUTH, "Content-Disposition": 'attachment; filename="x-1.tgz"'},
    )
    assert response.get_json()["archive"]["filename"] == "x-1.tgz"


def test_same_bytes_in_another_namespace_add_no_blob(client, app, sensu):
    sensu.namespace("other")
    data = tarball()
    assert upload(client, data).status_code == 201
    assert upload(client, data, ns="other").status_code == 201
    assert blob_files(app) == [sha512(data)]


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_refused_bytes_name_the_reason_and_store_nothing(client, app, name):
    data, reason = REFUSED[name]
    response = upload(client, data)
    message = assert_error(response, 400, 1)
    assert reason in message
    assert blob_files(app) == [] and temp_files(app) == []
    assert client.get(BASE, headers=AUTH).get_json() == []


def test_refusal_of_a_zip_says_agents_unpack_only_tar(client):
    message = assert_error(upload(client, REFUSED["zip"][0]), 400, 1)
    assert message == (
        "not a tar or gzip-compressed tar archive (looks like zip); Sensu agents "
        "unpack only those two formats"
    )


@pytest.mark.parametrize("config", [{"ARCHIVE_MAX_BYTES": 1000}])
def test_one_byte_over_the_limit_is_413_with_a_length(client, app, config, tmp_path):
    config["DATA_DIR"] = str(tmp_path)
    data = b"\0" * 1001
    message = assert_error(upload(client, data), 413, 1)
    assert message == "archive is larger than 1000 bytes"
    assert blob_files(app) == [] and temp_files(app) == []


def test_one_byte_over_the_limit_is_413_without_a_length(app, client):
    app.config["ARCHIVE_MAX_BYTES"] = 1000
    environ = {"wsgi.input_terminated": True}
    response = client.post(
        BASE,
        input_stream=io.BytesIO(b"\0" * 1001),
        headers=AUTH,
        environ_overrides=environ,
    )
    assert_error(response, 413, 1, "archive is larger than 1000 bytes")
    assert blob_files(app) == [] and temp_files(app) == []


def test_limit_exactly_is_accepted(app, client):
    data = tarball()
    app.config["ARCHIVE_MAX_BYTES"] = len(data)
    assert upload(client, data).status_code == 201
    assert upload_multipart(client, data).status_code == 200


def test_layout_hint_warns_about_a_wrapping_directory(client):
    response = upload(client, tarball({"pkg-1.0/bin/x": b"x"}))
    assert response.status_code == 201
    warning = (
        "no top-level bin/, lib/ or include/ (everything is inside pkg-1.0/): "
        "agents will not find the commands"
    )
    assert response.get_json()["archive"]["warnings"] == [warning]
    assert response.get_json()["warnings"] == [warning]


def test_labels_and_aliases_are_added_on_a_repeat(client):
    data = tarball()
    upload(client, data, **{"labels.team": "ops", "alias": "hello/1.0"})
    again = upload(client, data, **{"labels.tier": "1", "alias": "hello/latest"})
    record = again.get_json()["archive"]
    assert record["metadata"]["labels"] == {"team": "ops", "tier": "1"}
    assert record["aliases"] == ["hello/1.0", "hello/latest"]


@pytest.mark.parametrize(
    "query",
    [
        {"filename": "a/b.tgz"},
        {"filename": ""},
        {"alias": "a/../b"},
        {"as": "zip", "asset": "x"},
        {"filter": "entity.system.os ==", "asset": "x"},
        {"filter": "true"},
    ],
)
def test_bad_options_are_400_and_store_nothing(client, app, query):
    with client:  # flask.request stays for the test to read
        assert_error(upload(client, tarball(), **query), 400, 1)
        # Answered before the body is read: the server is asked to close (5.2).
        assert flask.request.environ[CLOSE_KEY] is True
    assert blob_files(app) == []


def test_an_upload_read_to_its_end_keeps_the_connection(client):
    with client:
        assert_error(upload(client, b"not an archive"), 400, 1)
        assert flask.request.environ[CLOSE_KEY] is False
        assert upload(client, tarball()).status_code == 201
        assert flask.request.environ[CLOSE_KEY] is False


def test_multipart_needs_exactly_one_file_part(client):
    response = upload_multipart(client, tarball(), part="other")
    assert_error(response, 400, 1, "multipart body needs one file part named file")


def test_multipart_part_asset_file_is_the_file(client):
    response = upload_multipart(client, tarball(), part="asset[file]")
    assert response.status_code == 201


def test_multipart_text_parts_are_options_and_the_query_wins(client):
    response = upload_multipart(
        client,
        tarball(),
        fields={"filename": "part.tgz", "labels.a": "part"},
        **{"labels.a": "query"},
    )
    record = response.get_json()["archive"]
    assert record["filename"] == "part.tgz"
    assert record["metadata"]["labels"] == {"a": "query"}


def test_upload_needs_credentials(client):
    response = client.post(BASE, data=tarball())
    assert_error(response, 401, 5)


def test_upload_into_unknown_namespace_is_404(client):
    response = upload(client, tarball(), ns="nowhere")
    assert_error(response, 404, 2, "namespace nowhere does not exist")


def test_malformed_id_is_404(client):
    response = client.get(f"{BASE}/abc", headers=AUTH)
    assert_error(response, 404, 2)
    assert_error(client.get(f"/archives/default/{'a' * 127}"), 404, 2)


def test_crash_between_rename_and_redis_leaves_no_record(client, app, monkeypatch):
    """The process dies after the blob is in place: no record names it, the asset
    is as it was, and GC removes the blob later."""
    import archives.routes

    first = upload(client, tarball({"bin/a": b"1"}), asset="x")
    assert first.status_code == 201
    before = client.get(f"{CORE}/namespaces/default/assets/x", headers=AUTH).data

    def die(*args, **kwargs):
        raise SystemExit("killed")

    monkeypatch.setattr(archives.routes.service, "store_upload", die)
    data = tarball({"bin/b": b"2"})
    with pytest.raises(SystemExit):
        upload(client, data, asset="x")
    monkeypatch.undo()
    assert sha512(data) in blob_files(app)
    ids = [r["sha512"] for r in client.get(BASE, headers=AUTH).get_json()]
    assert ids == [sha512(tarball({"bin/a": b"1"}))]
    after = client.get(f"{CORE}/namespaces/default/assets/x", headers=AUTH).data
    assert after == before
    app.config["ARCHIVE_BLOB_GRACE_SECONDS"] = 0
    report = client.post(f"{CORE}/archives/gc", headers=AUTH).get_json()
    assert report["deleted_blobs"] == 1
    assert sha512(data) not in blob_files(app)


def test_multipart_file_part_over_the_limit_is_413(app, client):
    data = tarball({"bin/x": bytes(range(256)) * 64})
    app.config["ARCHIVE_MAX_BYTES"] = len(data) - 1
    response = upload_multipart(client, data)
    assert_error(response, 413, 1, f"archive is larger than {len(data) - 1} bytes")
    assert blob_files(app) == [] and temp_files(app) == []


def test_other_methods_on_archive_routes_are_405_sensu_shaped(client):
    response = client.put(f"/archives/default/{'a' * 128}", headers=AUTH)
    assert_error(response, 405, 1)
    assert response.headers["Allow"] == "GET, HEAD, OPTIONS"
    assert_error(client.put(BASE, headers=AUTH), 405, 1)


def test_disk_full_is_500_and_stores_nothing(client, app, monkeypatch):
    from archives.blobs import TempBlob

    def full(self, chunk):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(TempBlob, "write", full)
    response = upload(client, tarball())
    assert_error(response, 500, 0, "archive storage failed: No space left on device")
    monkeypatch.undo()
    assert blob_files(app) == [] and temp_files(app) == []
    assert client.get(BASE, headers=AUTH).get_json() == []


def test_only_a_new_blob_is_fsynced_before_its_rename(client, app, monkeypatch):
    import archives.blobs

    synced: list[str] = []
    real_fsync, real_rename = archives.blobs.os.fsync, archives.blobs.os.rename

    def fsync(fd: int) -> None:
        synced.append("fsync")
        real_fsync(fd)

    def rename(source: str, target: str) -> None:
        synced.append("rename")
        real_rename(source, target)

    monkeypatch.setattr(archives.blobs.os, "fsync", fsync)
    monkeypatch.setattr(archives.blobs.os, "rename", rename)
    data = tarball()
    assert upload(client, data).status_code == 201
    # The file's bytes, then the rename, then the directory entry.
    assert synced == ["fsync", "rename", "fsync"]
    synced.clear()
    assert upload(client, data).status_code == 200  # the blob is in place already
    assert synced == []
    assert_error(upload(client, b"<html>oops</html>"), 400, 1)
    assert synced == []
    assert blob_files(app) == [sha512(data)] and temp_files(app) == []


def test_body_of_checks_the_length_before_reading():
    from archives.upload import MULTIPART_OVERHEAD, body_of
    from core.errors import PayloadTooLarge

    stream = io.BytesIO(b"")
    multipart = "multipart/form-data; boundary=x"
    raw = {"wsgi.input": stream, "CONTENT_LENGTH": "10"}
    assert body_of(raw, 10) == (stream, 10, None)
    with pytest.raises(PayloadTooLarge, match="larger than 9 bytes"):
        body_of(raw, 9)
    # A multipart body has room for its parts around the archive.
    big = {
        **raw,
        "CONTENT_TYPE": multipart,
        "CONTENT_LENGTH": str(9 + MULTIPART_OVERHEAD),
    }
    assert body_of(big, 9) == (stream, 9 + MULTIPART_OVERHEAD, "x")
    # No length: read to the end only where the server ends the input there.
    assert body_of({"wsgi.input": stream}, 9).length == 0
    ended = {"wsgi.input": stream, "wsgi.input_terminated": True}
    assert body_of(ended, 9).length is None


def test_disk_full_on_a_large_last_chunk_is_500_before_the_checks(
    client, app, monkeypatch
):
    from archives.blobs import TempBlob

    def full(self, chunk):
        raise OSError(28, "No space left on device")

    # Written on another thread; its error must still come before the type check.
    monkeypatch.setattr(TempBlob, "_hash_and_append", full)
    response = upload(client, b"not a tar " * 20_000)
    assert_error(response, 500, 0, "archive storage failed: No space left on device")
    monkeypatch.undo()
    assert blob_files(app) == [] and temp_files(app) == []
