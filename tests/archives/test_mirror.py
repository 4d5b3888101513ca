"""Mirrors and pull-through (spec archives.md 12, 16): an upstream on 127.0.0.1
that counts its requests; fetched once, verified, then served as any archive."""

from __future__ import annotations

import gzip
import threading
import time

import pytest

from archives import fetcher
from archives.import_store import ImportStore
from archives.upstream import host_allowed
from core.park import WaitSlots
from redisio.calls import Call
from tests.archives.helpers import (
    BASE,
    blob_files,
    cached_pages,
    drops_clean_pages,
    sha512,
    tarball,
    temp_files,
)
from tests.archives.upstream import running
from tests.sensugo import AUTH, assert_error

DATA = tarball({"bin/hello": bytes(range(256)) * 64})
ID = sha512(DATA)
MIRROR = f"{BASE}/mirror"


@pytest.fixture
def config(tmp_path):
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "MIRROR_ALLOWED_HOSTS": "127.0.0.1",
        "MIRROR_TIMEOUT_SECONDS": 5,
        "MIRROR_WAIT_SECONDS": 5,
    }


@pytest.fixture
def upstream():
    with running() as up:
        yield up


def post(client, body):
    return client.post(MIRROR, json=body, headers=AUTH)


def download(client, archive_id=ID):
    response = client.get(f"/archives/default/{archive_id}", headers=AUTH)
    response.get_data()
    response.close()
    return response


def listed(client):
    return client.get(BASE, headers=AUTH).get_json()


def test_now_stores_the_verified_bytes_once(client, upstream):
    url = upstream.serve("/sensu/hello_1.0_linux_amd64.tar.gz", DATA)
    body = {"url": url, "sha512": ID.upper(), "headers": {"Authorization": "Key s"}}
    response = post(client, body)
    assert response.status_code == 201, response.data
    record = response.get_json()
    assert record["sha512"] == ID and record["size"] == len(DATA)
    assert record["state"] == "unscanned" and record["available"]
    assert record["filename"] == "hello_1.0_linux_amd64.tar.gz"
    origin = record["origin"]
    assert origin["kind"] == "mirror" and origin["url"] == url
    assert origin["headers"] == ["Authorization"] and origin["error"] is None
    assert isinstance(origin["fetched_at"], int)
    assert "Key s" not in response.get_data(as_text=True)
    assert upstream.seen[0]["Authorization"] == "Key s"
    assert upstream.seen[0]["Accept-Encoding"] == "identity"
    served = download(client)
    assert served.status_code == 200 and served.data == DATA
    again = post(client, body)
    assert again.status_code == 200
    assert upstream.count() == 1


def test_a_mirrored_blob_stays_in_the_page_cache_for_its_downloads(
    app, client, upstream
):
    # Uploaded blobs leave it (test_upload.py); agents waiting on a fetch read next.
    url = upstream.serve("/sensu/hello.tar.gz", DATA)
    assert post(client, {"url": url, "sha512": ID}).status_code == 201
    blobs = app.extensions["blobs"]
    if not drops_clean_pages(blobs.tmp):
        pytest.skip("this filesystem keeps every page of its files in memory")
    assert cached_pages(blobs.path(ID)) > 0


def test_wrong_bytes_are_400_and_nothing_is_stored(app, client, upstream):
    url = upstream.serve("/x.tar.gz", tarball({"bin/other": b"other"}))
    response = post(client, {"url": url, "sha512": ID})
    message = assert_error(response, 400, 1)
    assert message.startswith("upstream bytes have sha512 ")
    assert message.endswith(f", expected {ID}")
    assert blob_files(app) == [] and temp_files(app) == [] and listed(client) == []


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": 404}, "upstream answered 404"),
        ({"status": 200, "body": b"<html>Not Found</html>"}, "upstream bytes"),
    ],
)
def test_upstream_failures(app, client, upstream, answer, reason):
    url = upstream.serve("/a.tar.gz", **answer)
    response = post(client, {"url": url, "sha512": ID})
    assert reason in response.get_json()["message"]
    assert response.status_code in (400, 502)
    assert blob_files(app) == [] and listed(client) == []


def test_a_404_is_502(client, upstream):
    url = upstream.serve("/gone.tar.gz", status=404)
    assert_error(
        post(client, {"url": url, "sha512": ID}),
        502,
        0,
        "upstream fetch failed: upstream answered 404",
    )


def test_a_redirect_to_a_second_port_is_followed(client, upstream):
    with running() as second:
        target = second.serve("/real.tar.gz", DATA)
        url = upstream.redirect("/moved.tar.gz", target)
        response = post(client, {"url": url, "sha512": ID})
        assert response.status_code == 201, response.data
        assert second.count() == 1 and upstream.count() == 1
    assert download(client).data == DATA


def test_a_redirect_to_a_host_not_allowed_is_502(client, upstream):
    url = upstream.redirect("/away.tar.gz", "http://localhost:1/x.tar.gz")
    message = assert_error(post(client, {"url": url, "sha512": ID}), 502, 0)
    assert "redirected to localhost, which is not allowed" in message


def test_gzip_content_encoding_is_stored_byte_for_byte(client, upstream):
    url = upstream.serve("/g.tar.gz", DATA, headers={"Content-Encoding": "gzip"})
    response = post(client, {"url": url, "sha512": ID})
    assert response.status_code == 201, response.data
    assert response.get_json()["type"] == "tar+gzip"
    assert download(client).data == DATA
    assert gzip.decompress(DATA) != DATA


@pytest.mark.parametrize("allowed", ["127.0.0.1", ""])
def test_a_host_not_allowed_is_403_without_a_request(app, client, upstream, allowed):
    app.config["MIRROR_ALLOWED_HOSTS"] = allowed
    url = upstream.serve("/a.tar.gz", DATA).replace("127.0.0.1", "localhost")
    assert_error(
        post(client, {"url": url, "sha512": ID}),
        403,
        4,
        "mirroring from localhost is not allowed",
    )
    assert upstream.count() == 0


@pytest.mark.parametrize(
    "body",
    [
        {"sha512": ID},
        {"url": "ftp://127.0.0.1/x", "sha512": ID},
        {"url": "http://127.0.0.1/x", "sha512": "abc"},
        {"url": "http://127.0.0.1/x", "sha512": ID, "fetch": "later"},
        {"url": "http://127.0.0.1/x", "sha512": ID, "filename": "a/b"},
        [],
    ],
)
def test_bad_bodies_are_400(client, body):
    assert_error(post(client, body), 400, 1)


def test_a_stalled_fetch_now_is_504(app, client, upstream):
    app.config["MIRROR_TIMEOUT_SECONDS"] = 1
    url = upstream.serve("/slow.tar.gz", DATA, stall=True)
    assert_error(post(client, {"url": url, "sha512": ID}), 504, 8)
    assert listed(client) == []


def test_lazy_then_twenty_downloads_make_one_upstream_request(client, upstream):
    url = upstream.serve("/lazy.tar.gz", DATA, delay=0.3)
    response = post(client, {"url": url, "sha512": ID, "fetch": "lazy"})
    assert response.status_code == 202, response.data
    record = response.get_json()
    assert record["state"] == "pending" and not record["available"]
    assert upstream.count() == 0
    answers = []

    def fetch() -> None:
        answers.append(download(client))

    threads = [threading.Thread(target=fetch) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert [a.status_code for a in answers] == [200] * 20
    assert all(a.data == DATA for a in answers)
    assert upstream.count() == 1
    record = client.get(f"{BASE}/{ID}", headers=AUTH).get_json()
    assert record["state"] == "unscanned" and record["size"] == len(DATA)


def test_a_stalled_pull_through_is_503_with_retry_after(app, client, upstream):
    app.config["MIRROR_WAIT_SECONDS"] = 1
    url = upstream.serve("/stall.tar.gz", DATA, stall=True)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    response = download(client)
    assert_error(response, 503, 8)
    assert response.headers["Retry-After"] == "30"
    upstream.release.set()
    deadline = time.monotonic() + 10
    while download(client).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert upstream.count() == 1


def test_downloads_past_the_wait_slots_are_503_at_once(client, upstream, monkeypatch):
    monkeypatch.setattr(fetcher, "WAIT_SLOTS", WaitSlots(2))
    url = upstream.serve("/crowd.tar.gz", DATA, stall=True)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    answers: list[tuple[int, float]] = []

    def fetch() -> None:
        began = time.monotonic()
        status = download(client).status_code
        answers.append((status, time.monotonic() - began))

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(answers) < 2:  # the two without a slot, before the bytes are in
        assert time.monotonic() < deadline
        time.sleep(0.02)
    upstream.release.set()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _ in answers) == [200, 200, 503, 503]
    assert all(took < 2 for status, took in answers if status == 503)
    assert upstream.count() == 1


def test_fetch_now_past_the_wait_slots_is_503_at_once(client, upstream, monkeypatch):
    # Without a server to park it (gunicorn), a fetch=now waits on its thread, in
    # a slot as a pull-through does: the rest are answered at once.
    monkeypatch.setattr(fetcher, "WAIT_SLOTS", WaitSlots(1))
    url = upstream.serve("/busy.tar.gz", DATA, stall=True)
    answers: list[tuple[int, float]] = []

    def fetch_now() -> None:
        began = time.monotonic()
        status = post(client, {"url": url, "sha512": ID}).status_code
        answers.append((status, time.monotonic() - began))

    threads = [threading.Thread(target=fetch_now) for _ in range(3)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 10
    while len(answers) < 2:  # the two without a slot, while the fetch stalls
        assert time.monotonic() < deadline
        time.sleep(0.02)
    upstream.release.set()
    for thread in threads:
        thread.join(30)
    assert sorted(status for status, _ in answers) == [201, 503, 503]
    assert all(took < 2 for status, took in answers if status == 503)
    assert upstream.count() == 1
    assert [r["sha512"] for r in listed(client)] == [ID]


def test_a_failed_pull_through_is_502_until_the_retry_pause(app, client, upstream):
    url = upstream.serve("/missing.tar.gz", status=404)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    first = download(client)
    assert_error(first, 502, 0, "upstream fetch failed: upstream answered 404")
    record = client.get(f"{BASE}/{ID}", headers=AUTH).get_json()
    assert record["state"] == "failed"
    assert record["origin"]["error"] == "upstream answered 404"
    assert_error(download(client), 502, 0)
    assert upstream.count() == 1
    app.config["MIRROR_RETRY_SECONDS"] = 0
    upstream.serve("/missing.tar.gz", DATA)
    assert download(client).data == DATA
    assert upstream.count() == 2


def test_bytes_already_here_are_not_fetched(client, upstream):
    from tests.archives.helpers import upload

    assert upload(client, DATA).status_code == 201
    url = upstream.serve("/x.tar.gz", DATA)
    for fetch in ("lazy", "now"):
        client.delete(f"{BASE}/{ID}", headers=AUTH, query_string={"purge": "true"})
        response = post(client, {"url": url, "sha512": ID, "fetch": fetch})
        assert response.status_code == 201, response.data
    assert download(client).data == DATA
    assert upstream.count() == 0


def test_host_allowed_rules():
    assert host_allowed("https://assets.bonsai.sensu.io/x", "assets.bonsai.sensu.io")
    assert host_allowed("https://A.example/x", "a.example, b.example")
    assert host_allowed("http://a.example:81/x", "a.example:81")
    assert not host_allowed("http://a.example:82/x", "a.example:81")
    assert host_allowed("http://anything/x", "*")
    assert not host_allowed("http://a.example/x", "")
    assert not host_allowed("file:///etc/passwd", "*")


OTHER = tarball({"bin/other": b"other build"})
OTHER_ID = sha512(OTHER)


def _asset_with_builds(sensu, upstream, second="/b.tar.gz"):
    from tests.sensugo import asset

    body = asset(
        "bonsai-like",
        builds=[
            {
                "url": upstream.url("/a.tar.gz"),
                "sha512": ID,
                "filters": ["entity.system.os == 'linux'"],
                "headers": {"X-Upstream": "secret"},
            },
            {
                "url": upstream.url(second),
                "sha512": OTHER_ID,
                "filters": ["entity.system.os == 'windows'"],
            },
        ],
        metadata={
            "name": "bonsai-like",
            "namespace": "default",
            "annotations": {"io.sensu.bonsai.name": "x"},
        },
    )
    body.pop("url"), body.pop("sha512")
    assert sensu.create(body).status_code == 201
    return sensu.stored("bonsai-like")


def asset_mirror(client, body=None):
    url = "/api/core/v2/namespaces/default/assets/bonsai-like/mirror"
    return client.post(url, json=body, headers=AUTH)


def test_asset_mirror_rewrites_every_build(client, sensu, upstream):
    upstream.serve("/a.tar.gz", DATA)
    upstream.serve("/b.tar.gz", OTHER)
    _asset_with_builds(sensu, upstream)
    headers = {"Authorization": "Key reader"}
    response = asset_mirror(client, {"headers": headers})
    assert response.status_code == 200, response.data
    out = response.get_json()
    builds = out["asset"]["builds"]
    assert builds[0]["url"].startswith(f"http://localhost/archives/default/{ID}/")
    assert builds[1]["url"] == f"http://localhost/archives/default/{OTHER_ID}/b.tar.gz"
    assert all(b["headers"] == headers for b in builds)
    assert out["asset"]["metadata"]["annotations"] == {"io.sensu.bonsai.name": "x"}
    assert sensu.stored("bonsai-like") == out["asset"]
    assert [a["origin"]["url"] for a in out["archives"]] == [
        upstream.url("/a.tar.gz"),
        upstream.url("/b.tar.gz"),
    ]
    assert upstream.seen[0]["X-Upstream"] == "secret"
    assert download(client, OTHER_ID).data == OTHER
    again = asset_mirror(client)
    assert again.status_code == 200 and upstream.count() == 2


def test_asset_mirror_changes_nothing_when_one_build_fails(client, sensu, upstream):
    upstream.serve("/a.tar.gz", DATA)
    before = _asset_with_builds(sensu, upstream, second="/missing.tar.gz")
    assert_error(asset_mirror(client), 502, 0)
    assert sensu.stored("bonsai-like") == before
    assert listed(client) == []


def test_asset_mirror_lazy_registers_then_pulls_through(client, sensu, upstream):
    upstream.serve("/a.tar.gz", DATA)
    upstream.serve("/b.tar.gz", OTHER)
    _asset_with_builds(sensu, upstream)
    response = asset_mirror(client, {"fetch": "lazy"})
    assert response.status_code == 202, response.data
    assert [a["state"] for a in response.get_json()["archives"]] == ["pending"] * 2
    assert upstream.count() == 0
    assert download(client).data == DATA
    assert upstream.count() == 1


def test_asset_mirror_of_an_unknown_asset_is_404(client):
    assert_error(asset_mirror(client), 404, 2)


def test_asset_mirror_from_a_host_not_allowed_is_403(app, client, sensu, upstream):
    before = _asset_with_builds(sensu, upstream)
    app.config["MIRROR_ALLOWED_HOSTS"] = "elsewhere.example"
    assert_error(
        asset_mirror(client), 403, 4, "mirroring from 127.0.0.1 is not allowed"
    )
    assert sensu.stored("bonsai-like") == before and upstream.count() == 0


def test_a_lock_left_by_a_dead_worker_frees_itself(app, client, upstream):
    url = upstream.serve("/orphan.tar.gz", DATA)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    run, archives = app.extensions["client"].run, app.extensions["archives"]
    # A worker took the lock, then died before fetching anything.
    assert run(archives.mirror_lock(ID, "dead-worker", 1))
    started = time.monotonic()
    assert download(client).data == DATA
    assert time.monotonic() - started > 0.5
    assert upstream.count() == 1


def test_only_the_holder_renews_or_frees_the_lock(app):
    run, archives = app.extensions["client"].run, app.extensions["archives"]
    assert run(archives.mirror_lock(ID, "mine", 30))
    assert not run(archives.mirror_lock(ID, "theirs", 30))
    assert not run(archives.mirror_renew(ID, "theirs", 300))
    assert run(archives.mirror_renew(ID, "mine", 300))
    run(archives.mirror_unlock(ID, "theirs"))
    assert not run(archives.mirror_lock(ID, "theirs", 30))
    run(archives.mirror_unlock(ID, "mine"))
    assert run(archives.mirror_lock(ID, "theirs", 30))


def test_the_fetching_thread_keeps_its_lock(app, client, upstream, monkeypatch):
    monkeypatch.setattr(fetcher, "LOCK_SECONDS", 1)
    monkeypatch.setattr(fetcher, "LOCK_RENEW", 0.1)
    url = upstream.serve("/slow-start.tar.gz", DATA, delay=4)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(download(client)))
    waiting.start()
    run, archives = app.extensions["client"].run, app.extensions["archives"]
    holder = Call(("GET", archives.keys.mirror_lock(ID)))
    deadline = time.monotonic() + 3
    while (token := run(holder)) is None:  # the download has taken the lock
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(1.5)  # past the lock's first life: renewed meanwhile
    assert run(holder) == token
    assert not run(archives.mirror_lock(ID, "another-worker", 30))
    waiting.join(10)
    assert answers[0].data == DATA and upstream.count() == 1


def test_a_record_deleted_during_its_fetch_stays_deleted(app, client, upstream):
    url = upstream.serve("/deleted.tar.gz", DATA, delay=1)
    assert post(client, {"url": url, "sha512": ID, "fetch": "lazy"}).status_code == 202
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(download(client)))
    waiting.start()
    time.sleep(0.3)
    assert client.delete(f"{BASE}/{ID}", headers=AUTH).status_code == 204
    waiting.join(10)
    assert_error(answers[0], 410, 2)
    run, archives = app.extensions["client"].run, app.extensions["archives"]
    deadline = time.monotonic() + 10
    while not run(archives.mirror_lock(ID, "probe", 1)):  # the fetch is over
        assert time.monotonic() < deadline
        time.sleep(0.05)
    trashed = client.get(f"{BASE}/{ID}?deleted=true", headers=AUTH).get_json()
    assert trashed["deleted_at"] is not None and trashed["state"] == "pending"
    run(archives.mirror_unlock(ID, "probe"))
    assert client.post(f"{BASE}/{ID}/restore", headers=AUTH).status_code == 200
    assert download(client).data == DATA
    assert upstream.count() == 1


def test_https_upstreams_are_trusted_through_the_ca_file(app, client, tmp_path):
    ca_file = str(tmp_path / "upstream-ca.pem")
    with running(ca_file) as secure:
        url = secure.serve("/tls.tar.gz", DATA)
        message = assert_error(post(client, {"url": url, "sha512": ID}), 502, 0)
        assert "CERTIFICATE_VERIFY_FAILED" in message
        app.config["MIRROR_CA_FILE"] = ca_file
        response = post(client, {"url": url, "sha512": ID})
        assert response.status_code == 201, response.data
    assert download(client).data == DATA


def test_settings_are_checked_at_start(tmp_path):
    from core.config_error import ConfigError
    from core.settings_load import load

    for bad in (
        {"MIRROR_CA_FILE": str(tmp_path / "nope.pem")},
        {"MIRROR_TIMEOUT_SECONDS": 0},
        {"MIRROR_WAIT_SECONDS": -1},
        {"BUNDLE_MAX_BYTES": 0},
    ):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            load(bad)
    assert load({"MIRROR_WAIT_SECONDS": 0})["MIRROR_ALLOWED_HOSTS"] == ""


def test_a_redirect_loop_stops_at_ten_requests(client, upstream):
    url = upstream.redirect("/loop.tar.gz", "/loop.tar.gz")
    message = assert_error(post(client, {"url": url, "sha512": ID}), 502, 0)
    assert message == "upstream fetch failed: more than 10 requests"
    assert upstream.count() == 10


@pytest.mark.parametrize("declared", [True, False])
def test_an_upstream_archive_over_the_limit_is_refused(app, client, upstream, declared):
    app.config["ARCHIVE_MAX_BYTES"] = 100
    headers = {} if declared else {"Transfer-Encoding": "chunked"}
    url = upstream.serve("/big.tar.gz", DATA, headers=headers, chunked=not declared)
    message = assert_error(post(client, {"url": url, "sha512": ID}), 502, 0)
    assert message == "upstream fetch failed: archive is larger than 100 bytes"
    assert temp_files(app) == []


def _put_between_read_and_write(monkeypatch, sensu, times):
    """Write the asset (a label added) each time the mirror is about to store its
    step, up to `times` times: the race of 12.3's compare-and-set."""
    real = ImportStore.import_bundle
    written = []

    def racing(self, *args, **kwargs):
        if len(written) < times:
            body = sensu.stored("bonsai-like")
            body["metadata"]["labels"] = {"late": str(len(written))}
            assert sensu.put(body).status_code == 201
            written.append(body)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(ImportStore, "import_bundle", racing)
    return written


def test_asset_mirror_retries_against_an_asset_written_meanwhile(
    client, sensu, upstream, monkeypatch
):
    upstream.serve("/a.tar.gz", DATA)
    upstream.serve("/b.tar.gz", OTHER)
    _asset_with_builds(sensu, upstream)
    written = _put_between_read_and_write(monkeypatch, sensu, 1)
    response = asset_mirror(client)
    assert response.status_code == 200, response.data
    out = response.get_json()["asset"]
    assert len(written) == 1
    assert out["metadata"]["labels"] == {"late": "0"}
    assert all(b["url"].startswith("http://localhost/archives/") for b in out["builds"])
    assert sensu.stored("bonsai-like") == out
    assert upstream.count() == 2  # the second round fetched nothing again


def test_asset_mirror_that_keeps_losing_is_409_and_keeps_the_writes(
    client, sensu, upstream, monkeypatch
):
    upstream.serve("/a.tar.gz", DATA)
    upstream.serve("/b.tar.gz", OTHER)
    _asset_with_builds(sensu, upstream)
    written = _put_between_read_and_write(monkeypatch, sensu, 100)
    assert_error(
        asset_mirror(client), 409, 3, "asset bonsai-like kept changing; try again"
    )
    assert sensu.stored("bonsai-like") == written[-1]
    assert listed(client) == []
