"""The scan queue and share tokens on a 3-primary Redis Cluster: every script's
keys share a slot (spec archives.md 4.2, 10, 11)."""

from __future__ import annotations

import json

import pytest

from tests.archives.helpers import BASE, sha512, tarball, upload
from tests.archives.test_scan import scanner, work
from tests.sensugo import AUTH


@pytest.fixture(params=[pytest.param("cluster", marks=pytest.mark.integration)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def config(tmp_path):
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "ARCHIVE_SCAN_COMMAND": scanner(tmp_path, "clean"),
        "ARCHIVE_SCAN_TIMEOUT_SECONDS": 5,
    }


def test_scan_then_share_on_a_cluster(app, client, sensu):
    sensu.namespace("ns1")
    data = tarball({"bin/c": b"cluster"})
    archive_id = sha512(data)
    for ns in ("default", "ns1"):
        assert upload(client, data, ns=ns).status_code == 201
    assert work(app) == 1
    url = f"/archives/ns1/{archive_id}"
    response = client.post(
        f"{BASE}/{archive_id}/scan".replace("default", "ns1"), headers=AUTH
    )
    assert response.status_code == 202, response.data
    assert work(app) == 1
    shares = f"{BASE}/{archive_id}/shares".replace("default", "ns1")
    made = client.post(shares, data=json.dumps({"expires_in": 60}), headers=AUTH)
    assert made.status_code == 201, made.data
    fetched = client.get(url, query_string={"token": made.get_json()["token"]})
    fetched.get_data()
    fetched.close()
    assert fetched.status_code == 200 and fetched.data == data
    assert client.get(shares, headers=AUTH).get_json()[0]["id"] == made.get_json()["id"]
    purge = client.delete(
        f"{BASE}/{archive_id}".replace("default", "ns1"),
        headers=AUTH,
        query_string={"purge": "true"},
    )
    assert purge.status_code == 204, purge.data
