"""Mirrors and bundles over real HTTP, under granian (`make run`) and gunicorn, two
workers each (spec archives.md 12, 13, 16): the pull-through lock holds across
processes, and the background fetch runs inside the server."""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.archives.helpers import tarball
from tests.archives.upstream import running
from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
KEY = "http-mirror-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
SCRIPT = b"#!/bin/sh\necho hello from the bundle\n"


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    env = {
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("mirror-http")),
        "STASHD_API_USER": "ops",
        "STASHD_API_PASSWORD": "mirror-pass",
        "STASHD_API_KEY": KEY,
        "STASHD_MIRROR_ALLOWED_HOSTS": "127.0.0.1",
        "STASHD_MIRROR_WAIT_SECONDS": "20",
        # The upstream is on loopback: never through a proxy of the environment.
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        yield stashd


@pytest.fixture(scope="module")
def upstream():
    with running() as up:
        yield up


def mirror(server, body):
    url = f"{server.url}{CORE}/namespaces/default/archives/mirror"
    return requests.post(url, json=body, headers=KEYED)


def test_lazy_mirror_twenty_downloads_one_upstream_request(server, upstream):
    data = tarball({"bin/lazy": f"{server.server}".encode() * 1000})
    archive_id = hashlib.sha512(data).hexdigest()
    path = f"/{server.server}/lazy.tar.gz"
    url = upstream.serve(path, data, delay=0.5)
    response = mirror(server, {"url": url, "sha512": archive_id, "fetch": "lazy"})
    assert response.status_code == 202, response.text
    assert upstream.count(path) == 0
    download = f"{server.url}/archives/default/{archive_id}/lazy.tar.gz"

    def get(_: int) -> tuple[int, bytes]:
        answer = requests.get(download, headers=KEYED, timeout=60)
        return answer.status_code, answer.content

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(get, range(20)))
    assert [status for status, _ in answers] == [200] * 20
    assert all(body == data for _, body in answers)
    assert upstream.count(path) == 1


def test_mirror_now_then_download(server, upstream):
    data = tarball({"bin/now": f"now-{server.server}".encode()})
    archive_id = hashlib.sha512(data).hexdigest()
    url = upstream.serve(f"/{server.server}/now.tar.gz", data)
    response = mirror(server, {"url": url, "sha512": archive_id})
    assert response.status_code == 201, response.text
    got = requests.get(response.json()["download_url"], headers=KEYED)
    assert got.status_code == 200 and got.content == data
    wrong = mirror(server, {"url": url, "sha512": "0" * 128})
    assert wrong.status_code == 400


def test_bundle_round_trip_and_an_agent_installs_from_the_import(server, tmp_path):
    data = tarball({"bin/hello": SCRIPT, "lib/big": os.urandom(3 * 1024 * 1024)})
    archive_id = hashlib.sha512(data).hexdigest()
    definition = {"headers": {"Authorization": f"Key {KEY}"}}
    uploaded = requests.post(
        f"{server.url}{CORE}/namespaces/default/archives",
        files={
            "file": ("b.tar.gz", data),
            "definition": (None, json.dumps(definition)),
        },
        params={"asset": f"bundled-{server.server}"},
        headers=KEYED,
    )
    assert uploaded.status_code == 201, uploaded.text
    exported = requests.get(
        f"{server.url}{CORE}/namespaces/default/bundle",
        params={"asset": f"bundled-{server.server}"},
        headers=KEYED,
        stream=True,
    )
    body = exported.raw.read(decode_content=False)
    assert exported.status_code == 200
    assert exported.headers["Content-Length"] == str(len(body))
    assert data in body
    ns = f"far-{server.server}"
    created = requests.put(
        f"{server.url}{CORE}/namespaces/{ns}", json={"name": ns}, headers=KEYED
    )
    assert created.status_code == 201, created.text
    imported = requests.post(
        f"{server.url}{CORE}/namespaces/{ns}/bundle", data=body, headers=KEYED
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["archives"]["created"] == [archive_id]
    asset = requests.get(
        f"{server.url}{CORE}/namespaces/{ns}/assets/bundled-{server.server}",
        headers=KEYED,
    ).json()
    assert asset["url"].startswith(f"{server.url}/archives/{ns}/{archive_id}/")
    got = requests.get(asset["url"], headers=asset["headers"])
    assert got.status_code == 200 and got.content == data
    damaged = body.replace(data[1000:1010], bytes(10), 1)
    refused = requests.post(
        f"{server.url}{CORE}/namespaces/{ns}/bundle",
        data=damaged,
        headers=KEYED,
        params={"on_conflict": "replace"},
    )
    assert refused.status_code == 400, refused.text
