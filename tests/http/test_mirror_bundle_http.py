"""Mirrors and bundles over real HTTP, under granian (`make run`) and gunicorn, two
workers each (spec archives.md 12, 13, 16): the pull-through lock holds across
processes, and the background fetch runs inside the server."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.archives.helpers import tarball
from tests.archives.upstream import running
from tests.http.test_archives_http import ENTITY, KEY, KEYED, agent_install
from tests.servers import admin_env, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
SCRIPT = b"#!/bin/sh\necho hello from the bundle\n"


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    env = {
        **admin_env(tmp_path_factory.mktemp("mirror-http"), "mirror-pass", KEY),
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


def namespace(server, ns: str) -> None:
    url = f"{server.url}{CORE}/namespaces/{ns}"
    response = requests.put(url, json={"name": ns}, headers=KEYED)
    assert response.status_code == 201, response.text


def run_installed(target: str) -> bytes:
    command = [os.path.join(target, "bin", "hello"), "x"]
    return subprocess.run(command, capture_output=True, check=True).stdout


# Agents bring their key through their entity (test_archives_http.ENTITY).
AGENT_HEADERS = {"Authorization": "Key {{ .annotations.stashd_key }}"}


def test_bundle_round_trip_and_an_agent_installs_from_the_import(server, tmp_path):
    data = tarball({"bin/hello": SCRIPT, "lib/big": os.urandom(3 * 1024 * 1024)})
    archive_id = hashlib.sha512(data).hexdigest()
    near, name = f"near-{server.server}", f"bundled-{server.server}"
    namespace(server, near)
    uploaded = requests.post(
        f"{server.url}{CORE}/namespaces/{near}/archives",
        files={
            "file": ("b.tar.gz", data),
            "definition": (None, json.dumps({"headers": AGENT_HEADERS})),
        },
        params={"asset": name},
        headers=KEYED,
    )
    assert uploaded.status_code == 201, uploaded.text
    exported = requests.get(
        f"{server.url}{CORE}/namespaces/{near}/bundle",
        params={"asset": name},
        headers=KEYED,
        stream=True,
    )
    body = exported.raw.read(decode_content=False)
    assert exported.status_code == 200
    assert exported.headers["Content-Length"] == str(len(body))
    assert data in body
    damaged = body.replace(data[1000:1010], bytes(10), 1)
    refused = requests.post(
        f"{server.url}{CORE}/namespaces/default/bundle", data=damaged, headers=KEYED
    )
    assert refused.status_code == 400, refused.text
    imported = requests.post(
        f"{server.url}{CORE}/namespaces/default/bundle", data=body, headers=KEYED
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["archives"]["created"] == [archive_id]
    target = agent_install(server.url, name, ENTITY, str(tmp_path))
    assert run_installed(target) == b"hello from the bundle\n"


def test_an_agent_installs_a_mirrored_asset(server, upstream, tmp_path):
    data = tarball({"bin/hello": SCRIPT.replace(b"bundle", b"mirror")})
    archive_id = hashlib.sha512(data).hexdigest()
    name = f"mirrored-{server.server}"
    body = {
        "url": upstream.serve(f"/{name}.tar.gz", data),
        "sha512": archive_id,
        "metadata": {"name": name, "namespace": "default"},
    }
    url = f"{server.url}{CORE}/namespaces/default/assets"
    assert requests.post(url, json=body, headers=KEYED).status_code == 201
    response = requests.post(
        f"{url}/{name}/mirror",
        json={"fetch": "lazy", "headers": AGENT_HEADERS},
        headers=KEYED,
    )
    assert response.status_code == 202, response.text
    target = agent_install(server.url, name, ENTITY, str(tmp_path))
    assert run_installed(target) == b"hello from the mirror\n"
