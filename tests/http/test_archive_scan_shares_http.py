"""The archive scan hook and share tokens over real HTTP, under granian (`make run`)
and gunicorn: scans run in the servers' own background threads, share links open
downloads without credentials (spec archives.md 10, 11, 16)."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pathlib
import signal
import stat
import subprocess
import tarfile
import time

import pytest
import redis
import requests

from tests.archives.helpers import tarball
from tests.servers import admin_env, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
KEY = "http-scan-shares-key-0123456789"
PASSWORD = "scan-shares-pass"
KEYED = {"Authorization": f"Key {KEY}"}
MARKER = b"X5O-STASHD-TEST-INFECTED-MARKER"
# Judges raw bytes: only an uncompressed tar shows the marker to grep.
SCANNER = f"""#!/bin/sh
for f; do :; done
if grep -q '{MARKER.decode()}' "$f"; then echo "$f: Test-Marker FOUND"; exit 1; fi
echo "$f: OK"
"""


def scanner(directory: pathlib.Path, script: str) -> pathlib.Path:
    """`script` written to `directory` as an executable named scanner."""
    path = directory / "scanner"
    path.write_text(script)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    home = tmp_path_factory.mktemp("scan-shares-http")
    env = {
        **admin_env(home / "data", PASSWORD, KEY),
        "STASHD_ARCHIVE_SCAN_COMMAND": f"{scanner(home, SCANNER)} --no-summary",
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


# Runs the first time (it sleeps, and names its worker), then is quick.
RESTART_SCANNER = """#!/bin/sh
for f; do :; done
dir=$(dirname "$0")
echo run >> "$dir/runs"
if [ ! -e "$dir/slept" ]; then
  touch "$dir/slept"
  echo "$$" > "$dir/scanner-pid"
  echo "$PPID" > "$dir/worker"
  exec sleep 20
fi
echo "$f: OK"
"""


def _state(url: str) -> str | None:
    """The record's state; None while a killed worker's connections reset."""
    try:
        return requests.get(url, headers=KEYED).json()["state"]
    except requests.ConnectionError:
        return None


def test_a_scan_survives_its_worker_being_killed(server_kind, tmp_path):
    """The worker running a scan dies: the job stays queued, and once its lease
    ends (brought forward here instead of waited for) another worker scans it."""
    env = {
        **admin_env(tmp_path / "data", PASSWORD, KEY),
        "STASHD_ARCHIVE_SCAN_COMMAND": str(scanner(tmp_path, RESTART_SCANNER)),
        "STASHD_ARCHIVE_SCAN_TIMEOUT_SECONDS": "60",
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        data = tarball({"bin/restart": server_kind.encode()})
        record = post(stashd, data)
        url = f"{stashd.url}{CORE}/namespaces/default/archives/{record['sha512']}"
        worker = tmp_path / "worker"
        deadline = time.monotonic() + 15
        while not worker.exists() or not worker.read_text().strip():
            assert time.monotonic() < deadline, "the scan never started"
            time.sleep(0.05)
        os.kill(int(worker.read_text()), signal.SIGKILL)
        queue = redis.Redis.from_url(stashd.env["STASHD_REDIS_URL"])
        key = "stashd:{archives}:scan-queue"
        assert queue.zscore(key, record["sha512"]) > time.time() + 30  # leased
        queue.zadd(key, {record["sha512"]: 0})  # the lease runs out
        deadline = time.monotonic() + 20
        while _state(url) != "clean":
            assert time.monotonic() < deadline, "the scan was lost"
            time.sleep(0.1)
        assert queue.zcard(key) == 0
        with open(tmp_path / "runs") as runs:
            assert len(runs.readlines()) == 2  # the cut-off scan, and one more
    with contextlib.suppress(ProcessLookupError):  # the dead worker's scanner
        os.kill(int((tmp_path / "scanner-pid").read_text()), signal.SIGKILL)
