"""Downloads: checks in order, headers, conditionals, ranges (spec archives.md 7)."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from archives.download import http_date
from tests.archives.helpers import BASE, sha512, tarball, upload
from tests.sensugo import AUTH, assert_error

DATA = tarball({"bin/hello": bytes(range(256)) * 40})
ID = sha512(DATA)
URL = f"/archives/default/{ID}/hello.tar.gz"


@pytest.fixture
def stored(client):
    response = upload(client, DATA, filename="hello.tar.gz", alias="hello/latest")
    assert response.status_code == 201
    return response.get_json()["archive"]


def get(client, url=URL, **headers):
    """GET, read whole and closed: the test client leaves closing the body's file
    to the caller, as WSGI servers do it."""
    response = client.get(url, headers={**AUTH, **headers})
    response.get_data()
    response.close()
    return response


def test_download_serves_the_exact_bytes_with_every_header(client, stored):
    response = get(client, **{"Accept-Encoding": "gzip"})
    assert response.status_code == 200
    assert response.data == DATA
    h = response.headers
    assert h["Content-Type"] == "application/gzip"
    assert h["Content-Length"] == str(len(DATA))
    assert h["ETag"] == f'"{ID}"'
    assert h["Last-Modified"] == http_date(stored["created_at"])
    assert h["Accept-Ranges"] == "bytes"
    assert h["Cache-Control"] == "private, max-age=31536000, immutable"
    assert h["Content-Disposition"] == 'attachment; filename="hello.tar.gz"'
    assert h["X-Content-Type-Options"] == "nosniff"
    assert "Content-Encoding" not in h
    digests = dict(part.strip().split("=", 1) for part in h["Repr-Digest"].split(","))
    assert (
        base64.b64decode(digests["sha-256"].strip(":")) == hashlib.sha256(DATA).digest()
    )
    assert (
        base64.b64decode(digests["sha-512"].strip(":")) == hashlib.sha512(DATA).digest()
    )


def test_any_filename_and_none_serve_the_same_bytes(client, stored):
    for url in (f"/archives/default/{ID}/other.tgz", f"/archives/default/{ID}"):
        assert get(client, url).data == DATA
    assert get(client, f"/archives/default/{ID.upper()}/x").data == DATA


def test_head_is_get_without_body(client, stored):
    response = client.head(URL, headers=AUTH)
    response.close()
    assert response.status_code == 200 and response.data == b""
    assert response.headers["Content-Length"] == str(len(DATA))


def test_non_ascii_filename_gets_filename_star(client):
    data = tarball({"bin/é": b"x"})
    upload(client, data, filename="é.tar.gz")
    response = get(client, f"/archives/default/{sha512(data)}")
    assert "filename*=UTF-8''%C3%A9.tar.gz" in response.headers["Content-Disposition"]


@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": f'"{ID}"'},
        {"If-None-Match": f'W/"{ID}"'},
        {"If-None-Match": f'"other", "{ID}"'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"},
    ],
)
def test_conditionals_answer_304(client, stored, headers):
    response = get(client, **headers)
    assert response.status_code == 304 and response.data == b""
    assert response.headers["ETag"] == f'"{ID}"'
    assert "Cache-Control" in response.headers


def test_if_none_match_wins_over_if_modified_since(client, stored):
    response = get(
        client,
        **{
            "If-None-Match": '"other"',
            "If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT",
        },
    )
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=100-", 100, len(DATA) - 1), ("bytes=-7", None, None)],
)
def test_single_ranges_are_206(client, stored, header, start, end):
    response = get(client, Range=header)
    assert response.status_code == 206
    if start is None:
        start, end = len(DATA) - 7, len(DATA) - 1
    assert response.data == DATA[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert response.headers["Content-Length"] == str(end - start + 1)


def test_several_ranges_give_the_whole_body(client, stored):
    response = get(client, Range="bytes=0-1, 5-6")
    assert response.status_code == 200 and response.data == DATA


@pytest.mark.parametrize("header", [f"bytes={len(DATA)}-", "bytes=x-y", "items=0-1"])
def test_unsatisfiable_range_is_416(client, stored, header):
    response = get(client, Range=header)
    assert_error(response, 416, 1)
    assert response.headers["Content-Range"] == f"bytes */{len(DATA)}"


def test_if_range_both_ways(client, stored):
    match = get(client, Range="bytes=0-0", **{"If-Range": f'"{ID}"'})
    assert match.status_code == 206
    other = get(client, Range="bytes=0-0", **{"If-Range": '"nope"'})
    assert other.status_code == 200 and other.data == DATA


def test_alias_serves_with_no_cache_and_follows_a_move(client, stored):
    response = get(client, "/archives/default/paths/hello/latest")
    assert response.data == DATA
    assert response.headers["Cache-Control"] == "no-cache"
    newer = tarball({"bin/hello": b"v2"})
    upload(client, newer, alias="hello/latest")
    assert get(client, "/archives/default/paths/hello/latest").data == newer
    record = client.get(f"{BASE}/{ID}", headers=AUTH).get_json()
    assert record["aliases"] == []


def test_failure_order(client, stored, app):
    assert_error(client.get(URL), 401, 5)
    assert_error(get(client, f"/archives/nowhere/{ID}"), 404, 2)
    assert_error(get(client, f"/archives/default/{'0' * 128}"), 404, 2)
    assert client.delete(f"{BASE}/{ID}", headers=AUTH).status_code == 204
    gone = get(client, **{"If-None-Match": f'"{ID}"'})
    assert_error(gone, 410, 2)
    assert gone.headers["Cache-Control"] == "no-store"
    assert_error(get(client, "/archives/default/paths/hello/latest"), 404, 2)


def test_public_read_needs_no_credentials(client, stored, app):
    app.config["ARCHIVES_PUBLIC_READ"] = True
    response = client.get(URL)
    assert response.status_code == 200 and response.data == DATA
    response.close()
    assert response.headers["Cache-Control"].startswith("public, ")


@pytest.mark.parametrize("damage", ["truncate", "remove"])
def test_damaged_blob_is_500_never_a_short_200(client, stored, app, damage):
    path = app.extensions["blobs"].path(ID)
    os.chmod(path, 0o600)
    if damage == "truncate":
        with open(path, "r+b") as file:
            file.truncate(10)
    else:
        os.unlink(path)
    assert_error(get(client), 500, 0, "archive storage is damaged")


def test_last_download_at_is_noted(client, stored):
    get(client)
    record = client.get(f"{BASE}/{ID}", headers=AUTH).get_json()
    assert isinstance(record["last_download_at"], int)
