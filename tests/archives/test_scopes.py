"""Scopes on API keys, and what each key may do with archives and assets (spec
archives.md section 2, 19.2)."""

from __future__ import annotations

import io
import json

import pytest

from tests.archives.helpers import BASE, sha512, tarball, upload
from tests.sensugo import AUTH, CORE, assert_error

DATA = tarball()
ID = sha512(DATA)


def make_key(client, scopes):
    body = {"username": "admin", "scopes": scopes}
    response = client.post(f"{CORE}/apikeys", data=json.dumps(body), headers=AUTH)
    assert response.status_code == 201, response.data
    return response.headers["Location"].rsplit("/", 1)[1]


@pytest.fixture
def seeded(client, sensu):
    sensu.namespace("ns1")
    for ns in ("default", "ns1"):
        body = {"headers": {"Authorization": "Key secret"}}
        response = client.post(
            f"{CORE}/namespaces/{ns}/archives",
            data={
                "file": (io.BytesIO(DATA), "a.tgz"),
                "definition": json.dumps(body),
            },
            headers=AUTH,
            query_string={"asset": "a"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.data
    return client


def test_scopes_are_validated_and_shown_only_when_set(client):
    for bad in ["archives", "archives:admin", "things:read", "archives:read:", 7]:
        body = {"username": "admin", "scopes": [bad]}
        response = client.post(f"{CORE}/apikeys", data=json.dumps(body), headers=AUTH)
        assert response.status_code == 400, bad
    key = make_key(client, ["archives:read:default", "assets:write"])
    shown = client.get(f"{CORE}/apikeys/{key}", headers=AUTH).get_json()
    assert shown["scopes"] == ["archives:read:default", "assets:write"]
    plain = client.post(
        f"{CORE}/apikeys", data=json.dumps({"username": "admin"}), headers=AUTH
    )
    value = plain.headers["Location"].rsplit("/", 1)[1]
    assert (
        "scopes" not in client.get(f"{CORE}/apikeys/{value}", headers=AUTH).get_json()
    )


def _routes(ns):
    """(method, url, kwargs) of every archive route in `ns`, and whether it writes."""
    base = f"{CORE}/namespaces/{ns}/archives"
    return [
        ("GET", base, {}, "read"),
        ("GET", f"{base}/filters", {}, "read"),
        ("GET", f"{base}/{ID}", {}, "read"),
        ("GET", f"{base}/{ID}/definition", {}, "read"),
        ("GET", f"/archives/{ns}/{ID}/a.tgz", {}, "read"),
        ("POST", base, {"data": tarball({"bin/z": ns.encode()})}, "write"),
        (
            "PATCH",
            f"{base}/{ID}",
            {
                "data": "{}",
                "headers": {"Content-Type": "application/merge-patch+json"},
            },
            "write",
        ),
        ("POST", f"{base}/{ID}/restore", {}, "write"),
    ]


def _call(client, key, method, url, kwargs):
    headers = {"Authorization": f"Key {key}", **kwargs.get("headers", {})}
    response = client.open(url, method=method, data=kwargs.get("data"), headers=headers)
    response.get_data()
    response.close()
    return response.status_code


@pytest.mark.parametrize(
    ("scopes", "allowed"),
    [
        (["archives:read:ns1"], {("ns1", "read")}),
        (
            ["archives:write"],
            {(n, r) for n in ("default", "ns1") for r in ("read", "write")},
        ),
        (["assets:write"], set()),
        (["*:read"], {("default", "read"), ("ns1", "read")}),
    ],
)
def test_each_key_gets_what_its_scopes_say(seeded, scopes, allowed):
    key = make_key(seeded, scopes)
    for ns in ("default", "ns1"):
        for method, url, kwargs, right in _routes(ns):
            status = _call(seeded, key, method, url, kwargs)
            if (ns, right) in allowed:
                assert status in (200, 201), (scopes, method, url, status)
            else:
                assert status == 403, (scopes, method, url, status)


def test_unscoped_key_does_everything(seeded):
    key = make_key(seeded, [])
    for ns in ("default", "ns1"):
        for method, url, kwargs, _ in _routes(ns):
            assert _call(seeded, key, method, url, kwargs) in (200, 201), url
    assert _call(seeded, key, "POST", f"{CORE}/archives/gc", {}) == 200


def test_forbidden_is_sensu_shaped(seeded):
    key = make_key(seeded, ["archives:read:ns1"])
    response = seeded.get(BASE, headers={"Authorization": f"Key {key}"})
    assert_error(response, 403, 4, "unauthorized to perform action")


def test_routes_across_namespaces_and_admin_work(seeded):
    narrow = make_key(seeded, ["archives:write:default"])
    wide = make_key(seeded, ["archives:write"])
    for key, status in ((narrow, 403), (wide, 200)):
        assert _call(seeded, key, "GET", f"{CORE}/archives", {}) == status
    assert _call(seeded, wide, "POST", f"{CORE}/archives/gc", {}) == 403
    purge = f"{BASE}/{ID}?purge=true&force=true"
    assert _call(seeded, wide, "DELETE", purge, {}) == 403


def test_upload_with_asset_needs_assets_write(seeded):
    only = make_key(seeded, ["archives:write"])
    both = make_key(seeded, ["archives:write", "assets:write:default"])
    query = "?asset=b"
    data = {"data": tarball({"bin/q": b"1"})}
    assert _call(seeded, only, "POST", BASE + query, data) == 403
    assert _call(seeded, both, "POST", BASE + query, data) == 201


def test_other_routes_refuse_scoped_keys(seeded):
    key = make_key(seeded, ["*:write"])
    assert _call(seeded, key, "GET", f"{CORE}/namespaces", {}) == 403
    assert _call(seeded, key, "GET", f"{CORE}/apikeys", {}) == 403
    assert _call(seeded, key, "GET", f"{CORE}/namespaces/default/assets", {}) == 200


def test_header_values_are_redacted_for_read_only_keys(seeded):
    reader = make_key(seeded, ["archives:read", "assets:read"])
    writer = make_key(seeded, ["assets:write:default", "assets:read"])
    url = f"{CORE}/namespaces/default/assets/a"
    for key, shown in ((reader, "<redacted>"), (writer, "Key secret")):
        response = seeded.get(url, headers={"Authorization": f"Key {key}"})
        assert response.get_json()["headers"] == {"Authorization": shown}
    listed = seeded.get(
        f"{CORE}/assets", headers={"Authorization": f"Key {writer}"}
    ).get_json()
    values = {a["metadata"]["namespace"]: a["headers"]["Authorization"] for a in listed}
    assert values == {"default": "Key secret", "ns1": "<redacted>"}
    assert seeded.get(url, headers=AUTH).get_json()["headers"] == {
        "Authorization": "Key secret"
    }


def test_download_with_a_read_scoped_key(seeded):
    key = make_key(seeded, ["archives:read:default"])
    response = seeded.get(
        f"/archives/default/{ID}", headers={"Authorization": f"Key {key}"}
    )
    assert response.get_data() == DATA
    response.close()
    assert upload(seeded, tarball({"bin/w": b"w"})).status_code == 201


@pytest.mark.parametrize("config", [{"API_USER": "ops", "API_PASSWORD": "ops-pass"}])
def test_stash_routes_need_a_stashes_scope(client, config, tmp_path):
    config["DATA_DIR"] = str(tmp_path)
    cases = [
        (["archives:write"], 403, 403),
        (["stashes:read"], 200, 403),
        (["stashes:write"], 200, 201),
        ([], 200, 201),
    ]
    for scopes, read, write in cases:
        key = make_key(client, scopes)
        headers = {"Authorization": f"Key {key}"}
        assert client.get("/stashes", headers=headers).status_code == read, scopes
        posted = client.post("/stash/s", data="{}", headers=headers)
        assert posted.status_code == write, scopes
