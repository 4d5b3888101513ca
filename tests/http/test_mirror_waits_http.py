"""Downloads that wait for a pull-through, over real HTTP under granian (`make run`)
and gunicorn (spec archives.md 10, 12.2): with scanning on they wait for the
verdict too, and past the wait they get 503 with Retry-After."""

from __future__ import annotations

import hashlib
import os
import select
import socket
import stat
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from core.metrics import FLUSH_EVERY
from tests.archives.helpers import tarball
from tests.archives.upstream import running
from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
KEY = "http-mirror-waits-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
ADMIN = ("ops", "mirror-waits-pass")
WAIT = 5
# Judges raw bytes (only an uncompressed tar shows a marker to grep): a pause
# before a clean verdict, a verdict later than the wait, infected, or a failure.
SCANNER = f"""#!/bin/sh
for f; do :; done
if grep -q 'STASHD-PAUSE' "$f"; then sleep 1; fi
if grep -q 'STASHD-SLOW' "$f"; then sleep {WAIT + 2}; fi
if grep -q 'STASHD-INFECTED' "$f"; then echo "$f: Test-Marker FOUND"; exit 1; fi
if grep -q 'STASHD-BROKEN' "$f"; then echo "$f: cannot read"; exit 2; fi
echo "$f: OK"
"""


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    home = tmp_path_factory.mktemp("mirror-waits-http")
    scanner = home / "scanner"
    scanner.write_text(SCANNER)
    os.chmod(scanner, os.stat(scanner).st_mode | stat.S_IXUSR)
    env = {
        "STASHD_DATA_DIR": str(home / "data"),
        "STASHD_API_USER": "ops",
        "STASHD_API_PASSWORD": "mirror-waits-pass",
        "STASHD_API_KEY": KEY,
        "STASHD_ARCHIVE_SCAN_COMMAND": str(scanner),
        "STASHD_ARCHIVE_SCAN_TIMEOUT_SECONDS": "20",
        "STASHD_MIRROR_ALLOWED_HOSTS": "127.0.0.1",
        "STASHD_MIRROR_WAIT_SECONDS": str(WAIT),
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


def lazy(server, upstream, marker: str, delay: float = 0.2) -> tuple[str, bytes]:
    """A lazy mirror of a tar holding `marker` (the upstream answers after `delay`
    seconds): its download URL and bytes."""
    data = tarball({"bin/x": f"{marker} {server.server}".encode()}, compress=False)
    archive_id = hashlib.sha512(data).hexdigest()
    path = f"/{server.server}/{marker}.tar"
    url = upstream.serve(path, data, delay=delay)
    response = requests.post(
        f"{server.url}{CORE}/namespaces/default/archives/mirror",
        json={"url": url, "sha512": archive_id, "fetch": "lazy"},
        headers=KEYED,
    )
    assert response.status_code == 202, response.text
    return f"{server.url}/archives/default/{archive_id}/{marker}.tar", data


def test_a_pull_through_waits_for_a_clean_verdict(server, upstream):
    url, data = lazy(server, upstream, "STASHD-PAUSE")
    response = requests.get(url, headers=KEYED, timeout=30)
    assert response.status_code == 200, response.text
    assert response.content == data


@pytest.mark.parametrize(
    "marker, state", [("STASHD-INFECTED", "infected"), ("STASHD-BROKEN", "unscannable")]
)
def test_a_pull_through_judged_not_clean_is_404(server, upstream, marker, state):
    url, _ = lazy(server, upstream, marker)
    response = requests.get(url, headers=KEYED, timeout=30)
    assert response.status_code == 404, response.text
    assert f"scan state: {state}" in response.json()["message"]


def test_a_verdict_later_than_the_wait_is_503_with_retry_after(server, upstream):
    url, data = lazy(server, upstream, "STASHD-SLOW")
    response = requests.get(url, headers=KEYED, timeout=30)
    assert response.status_code == 503, response.text
    assert response.headers["Retry-After"] == "30"
    assert response.json()["code"] == 8
    again = requests.get(url, headers=KEYED, timeout=30)  # the verdict came meanwhile
    assert again.status_code == 200 and again.content == data


def timed_get(url: str) -> float:
    """Seconds a GET of `url` took; it must succeed."""
    began = time.monotonic()
    response = requests.get(url, headers=KEYED, timeout=30)
    assert response.status_code in (200, 204), response.text
    return time.monotonic() - began


def download(url: str) -> tuple[int, bytes]:
    """An agent's download: the status and the body."""
    answer = requests.get(url, headers=KEYED, timeout=30)
    return answer.status_code, answer.content


def test_twenty_waiting_downloads_leave_the_other_routes_free(server, upstream):
    url, data = lazy(server, upstream, "STASHD-CROWD", delay=2.0)

    with ThreadPoolExecutor(20) as pool:
        waiting = pool.map(download, [url] * 20)
        time.sleep(0.5)  # every download is in, waiting for the upstream
        assets = f"{server.url}{CORE}/namespaces/default/assets"
        took = [timed_get(f"{server.url}/health") for _ in range(3)]
        took += [timed_get(assets) for _ in range(3)]
        assert upstream.count(f"/{server.server}/STASHD-CROWD.tar") == 1
        answers = list(waiting)
    assert max(took) < 1.0, took
    assert [status for status, _ in answers] == [200] * 20
    assert all(body == data for _, body in answers)
    assert upstream.count(f"/{server.server}/STASHD-CROWD.tar") == 1


def test_a_slow_fetch_now_leaves_the_other_routes_free(server, upstream):
    data = tarball({"bin/now": f"now {server.server}".encode()})
    archive_id = hashlib.sha512(data).hexdigest()
    url = upstream.serve(f"/{server.server}/now.tar.gz", data, delay=2.0)
    mirror = f"{server.url}{CORE}/namespaces/default/archives/mirror"
    body = {"url": url, "sha512": archive_id}
    with ThreadPoolExecutor(8) as pool:
        posted = [pool.submit(requests.post, mirror, json=body, headers=KEYED)]
        time.sleep(0.5)  # the fetch is on, the request waiting for it
        took = [timed_get(f"{server.url}/health") for _ in range(3)]
        missing = upstream.serve(f"/{server.server}/missing.tar.gz", status=404)
        failed = requests.post(
            mirror, json={"url": missing, "sha512": "a" * 128}, headers=KEYED
        )
        answer = posted[0].result()
    assert max(took) < 1.0, took
    assert answer.status_code == 201, answer.text
    assert answer.json()["sha512"] == archive_id
    assert upstream.count(f"/{server.server}/now.tar.gz") == 1
    assert failed.status_code == 502, failed.text
    assert failed.json() == {
        "message": "upstream fetch failed: upstream answered 404",
        "code": 0,
    }
    got = requests.get(answer.json()["download_url"], headers=KEYED, timeout=30)
    assert got.status_code == 200 and got.content == data


def test_an_asset_mirror_fetches_every_build_now(server, upstream):
    name = f"now-asset-{server.server}"
    builds = []
    for n in range(2):
        data = tarball({"bin/b": f"{name} build {n}".encode()})
        url = upstream.serve(f"/{name}/{n}.tar.gz", data, delay=0.5)
        builds.append({"url": url, "sha512": hashlib.sha512(data).hexdigest()})
    assets = f"{server.url}{CORE}/namespaces/default/assets"
    body = {"builds": builds, "metadata": {"name": name, "namespace": "default"}}
    assert requests.post(assets, json=body, headers=KEYED).status_code == 201
    response = requests.post(f"{assets}/{name}/mirror", json={}, headers=KEYED)
    assert response.status_code == 200, response.text
    urls = [build["url"] for build in response.json()["asset"]["builds"]]
    assert all(url.startswith(f"{server.url}/archives/default/") for url in urls)
    assert [upstream.count(f"/{name}/{n}.tar.gz") for n in range(2)] == [1, 1]


def commands_naming(
    redis_url: str, text: str, seconds: float, sent_only: bool = False
) -> int:
    """How many commands Redis runs in the next `seconds` that name `text`: the
    lines of MONITOR holding it; `sent_only`: only those clients sent, not the
    ones their scripts ran."""
    where = urlsplit(redis_url)
    seen = b""
    with socket.create_connection((where.hostname, where.port), timeout=5) as conn:
        conn.sendall(b"MONITOR\r\n")
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if select.select([conn], [], [], left)[0]:
                seen += conn.recv(1 << 16)
    lines = seen.split(b"\r\n")
    assert lines[0] == b"+OK", lines[0]
    return sum(
        text.encode() in line and not (sent_only and b" lua] " in line)
        for line in lines[1:]
    )


def test_a_parked_download_stops_polling_once_its_client_left(server, upstream):
    if server.server != "granian":
        pytest.skip("only granian parks a waiting request; gunicorn's thread waits")
    # The upstream answers long after the checks below (8 s), and only reads of
    # the record count: not the fetch lock's renewals every 5 s.
    url, _ = lazy(server, upstream, "STASHD-LEAVER", delay=8.0)
    record = ":archive:" + url.split("/")[-2]
    redis_url = server.env["STASHD_REDIS_URL"]
    path = url[len(server.url) :]
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as client:
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Key {KEY}\r\n\r\n"
        )
        client.sendall(request.encode())
        time.sleep(0.8)  # parked, polling the record
        polled = commands_naming(redis_url, record, 1.0)
    time.sleep(0.3)
    after = commands_naming(redis_url, record, 1.5)
    assert polled >= 3  # the parked request reads the record 4 times a second
    assert after == 0
    # Counted once, as 499 (nginx's "client closed request").
    time.sleep(FLUSH_EVERY * 2)  # each worker hands its counts over once a second
    metrics = requests.get(f"{server.url}/metrics", auth=ADMIN, timeout=10)
    gone = [
        (sample.labels["route"], sample.value)
        for family in text_string_to_metric_families(metrics.text)
        for sample in family.samples
        if sample.name == "stashd_http_requests_total"
        and sample.labels["status"] == "499"
    ]
    assert len(gone) == 1 and gone[0][0].startswith("/archives/") and gone[0][1] == 1


def test_downloads_parked_on_one_archive_share_their_polls(server, upstream):
    if server.server != "granian":
        pytest.skip("only granian parks a waiting request; gunicorn's thread waits")
    waiting = 10
    url, data = lazy(server, upstream, "STASHD-SHARED", delay=3.0)
    record = ":archive:" + url.split("/")[-2]

    with ThreadPoolExecutor(waiting) as pool:
        answers = pool.map(download, [url] * waiting)
        time.sleep(1.0)  # every download parked, polling at its longest pause
        redis_url = server.env["STASHD_REDIS_URL"]
        polled = commands_naming(redis_url, record, 1.0, sent_only=True)
        got = list(answers)
    # Alone, each would read the record 4 times a second: 40 reads. Together, one
    # read per worker (2) at each poll.
    assert 2 <= polled <= 12, polled
    assert got == [(200, data)] * waiting
