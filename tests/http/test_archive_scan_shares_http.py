"""The archive scan hook and share tokens over real HTTP, under granian (`make run`)
and gunicorn: scans run in the servers' own background threads, share links open
downloads without credentials (spec archives.md 10, 11, 16)."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
import tarfile
import time

import pytest
import requests

from tests.archives.helpers import tarball
from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
KEY = "http-scan-shares-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
MARKER = b"X5O-STASHD-TEST-INFECTED-MARKER"
# Judges raw bytes: only an uncompressed tar shows the marker to grep.
SCANNER = f"""#!/bin/sh
for f; do :; done
if grep -q '{MARKER.decode()}' "$f"; then echo "$f: Test-Marker FOUND"; exit 1; fi
echo "$f: OK"
"""


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    home = tmp_path_factory.mktemp("scan-shares-http")
    scanner = home / "scanner"
    scanner.write_text(SCANNER)
    os.chmod(scanner, os.stat(scanner).st_mode | stat.S_IXUSR)
    env = {
        "STASHD_DATA_DIR": str(home / "data"),
        "STASHD_API_USER": "ops",
        "STASHD_API_PASSWORD": "scan-shares-pass",
        "STASHD_API_KEY": KEY,
        "STASHD_ARCHIVE_SCAN_COMMAND": f"{scanner} --no-summary",
        "STASHD_ARCHIVE_SCAN_TIMEOUT_SECONDS": "5",
        "STASHD_ARCHIVE_SCAN_WAIT_SECONDS": "10",
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        yield stashd


def post(server, data, **query):
    url = f"{server.url}{CORE}/namespaces/default/archives"
    response = requests.post(url, data=data, headers=KEYED, params=query)
    assert response.status_code == 201, response.text
    return response.json()["archive"]


def test_the_server_scans_and_serves_only_clean(server):
    clean = tarball({"bin/fine": f"{server.server}".encode()})
    record = post(server, clean, filename="fine.tar.gz")
    assert record["state"] == "clean", record  # the upload waited for its verdict
    assert record["scan"]["detail"].endswith(": OK\n")
    response = requests.get(record["download_url"], headers=KEYED)
    assert response.status_code == 200 and response.content == clean
    infected = tarball({"bin/bad": MARKER + server.server.encode()}, compress=False)
    record = post(server, infected)
    assert record["state"] == "infected" and record["available"] is False
    response = requests.get(record["download_url"], headers=KEYED)
    assert response.status_code == 404
    assert "scan state: infected" in response.json()["message"]


def test_a_rescan_is_run_by_the_server(server):
    data = tarball({"bin/again": f"again-{server.server}".encode()})
    archive_id = hashlib.sha512(data).hexdigest()
    post(server, data)
    url = f"{server.url}{CORE}/namespaces/default/archives/{archive_id}"
    response = requests.post(f"{url}/scan", headers=KEYED)
    assert response.status_code == 202 and response.json()["state"] == "unscanned"
    deadline = time.monotonic() + 15
    while requests.get(url, headers=KEYED).json()["state"] != "clean":
        assert time.monotonic() < deadline, "no verdict"
        time.sleep(0.05)


def test_a_share_link_needs_no_credentials_and_is_not_logged(server):
    data = tarball({"bin/shared": f"shared-{server.server}".encode()})
    record = post(server, data, filename="shared.tar.gz")
    url = f"{server.url}{CORE}/namespaces/default/archives/{record['sha512']}/shares"
    made = requests.post(url, json={"expires_in": 60}, headers=KEYED)
    assert made.status_code == 201, made.text
    link = made.json()["url"]
    response = requests.get(link)
    assert response.status_code == 200 and response.content == data
    head = requests.head(link)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(data))
    altered = link[:-1] + ("A" if link[-1] != "A" else "B")
    assert requests.get(altered).status_code == 401
    token = made.json()["token"]
    management = requests.get(url, params={"token": token})
    assert management.status_code == 401
    revoke = requests.delete(f"{url}/{made.json()['id']}", headers=KEYED)
    assert revoke.status_code == 204
    assert requests.get(link).status_code == 401
    secret = token.partition(".")[2]
    assert secret not in server.output()


def test_an_agent_installs_from_a_share_url_without_headers(server, tmp_path):
    script = b"#!/bin/sh\necho hello from a shared asset\n"
    data = tarball({"bin/hello": script, "lib/of": server.server.encode()})
    name = f"shared-{server.server}"
    response = requests.post(
        f"{server.url}{CORE}/namespaces/default/archives",
        data=data,
        headers=KEYED,
        params={"asset": name, "share": "600"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["warnings"] == []
    # The agent's steps: the definition, then one plain GET of its url.
    asset = requests.get(
        f"{server.url}{CORE}/namespaces/default/assets/{name}", headers=KEYED
    ).json()
    assert not asset["headers"] and "?token=" in asset["url"]
    fetched = requests.get(asset["url"])
    assert fetched.status_code == 200
    assert hashlib.sha512(fetched.content).hexdigest() == asset["sha512"]
    target = tmp_path / asset["sha512"]
    with tarfile.open(fileobj=io.BytesIO(fetched.content), mode="r:gz") as tar:
        tar.extractall(target, filter="data")
    out = subprocess.run([target / "bin" / "hello"], capture_output=True, check=True)
    assert out.stdout == b"hello from a shared asset\n"
