"""What scoped keys may do with mirrors and bundles (spec archives.md 2, 19.2):
mirroring and imports write, exports read, and each needs the assets right too
where assets are read or written."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from tests.archives.helpers import sha512, tarball, upload
from tests.archives.test_scopes import make_key
from tests.sensugo import AUTH, CORE

DATA = tarball({"bin/scoped": b"scoped"})
ID = sha512(DATA)


@pytest.fixture
def config(tmp_path):
    return {"DATA_DIR": str(tmp_path / "data"), "MIRROR_ALLOWED_HOSTS": "127.0.0.1"}


@pytest.fixture
def seeded(client, sensu):
    sensu.namespace("ns1")
    definition = json.dumps({"headers": {"Authorization": "Key secret"}})
    response = client.post(
        f"{CORE}/namespaces/default/archives",
        data={"file": (io.BytesIO(DATA), "s.tgz"), "definition": definition},
        headers=AUTH,
        query_string={"asset": "a"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.data
    return client


def _as(client, key, method, url, **kwargs):
    headers = {"Authorization": f"Key {key}"}
    response = client.open(url, method=method, headers=headers, **kwargs)
    response.get_data()
    response.close()
    return response


def _bundle(client) -> bytes:
    response = client.get(
        f"{CORE}/namespaces/default/bundle", headers=AUTH, query_string={"asset": "a"}
    )
    assert response.status_code == 200
    return response.data


MIRROR = {"url": "http://127.0.0.1:1/s.tgz", "sha512": ID}


@pytest.mark.parametrize(
    ("scopes", "export", "imports", "mirrors", "asset_mirror"),
    [
        (["archives:read"], 403, 403, 403, 403),
        (["archives:read", "assets:read"], 200, 403, 403, 403),
        (["archives:write"], 403, 403, 200, 403),
        (["archives:write", "assets:write:ns1"], 403, 201, 200, 403),
        (["archives:write", "assets:write"], 200, 201, 200, 200),
        ([], 200, 201, 200, 200),
    ],
)
def test_each_key_gets_what_its_scopes_say(
    seeded, scopes, export, imports, mirrors, asset_mirror
):
    key = make_key(seeded, scopes)
    bundle = _bundle(seeded)
    got = _as(seeded, key, "GET", f"{CORE}/namespaces/default/bundle?asset=a")
    assert got.status_code == export
    got = _as(seeded, key, "POST", f"{CORE}/namespaces/ns1/bundle", data=bundle)
    assert got.status_code == imports, got.data
    url = f"{CORE}/namespaces/default/archives/mirror"
    assert _as(seeded, key, "POST", url, json=MIRROR).status_code == mirrors
    url = f"{CORE}/namespaces/default/assets/a/mirror"
    assert _as(seeded, key, "POST", url, json={}).status_code == asset_mirror


def _manifest(data: bytes) -> dict:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return json.load(tar.extractfile("stashd-bundle.json"))


def test_an_export_redacts_header_values_for_keys_that_may_not_write_assets(seeded):
    reader = make_key(seeded, ["archives:read", "assets:read"])
    response = _as(seeded, reader, "GET", f"{CORE}/namespaces/default/bundle?asset=a")
    shown = _manifest(response.data)["assets"][0]["headers"]
    assert shown == {"Authorization": "<redacted>"}
    full = _manifest(_bundle(seeded))["assets"][0]["headers"]
    assert full == {"Authorization": "Key secret"}
    assert upload(seeded, DATA).status_code == 200
