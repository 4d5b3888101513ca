"""The scan hook: fake scanners, the queue, what is served while scanning is on
(spec archives.md 10, 16). The queue is worked here by calling the step the
server's background thread runs, so no test waits on a poll."""

from __future__ import annotations

import os
import stat
import time

import pytest
from redis.crc import key_slot

from archives import scan
from redisio.keys import Keys
from server.background import start_archive_scans
from tests.archives.helpers import BASE, sha512, tarball, upload
from tests.sensugo import AUTH, CORE, assert_error

DATA = tarball({"bin/scanned": b"#!/bin/sh\necho scanned\n"})
ID = sha512(DATA)
URL = f"/archives/default/{ID}/s.tar.gz"
TIMEOUT = 0.5

# Fake scanners: what each prints and how it ends, and the state it must give.
SCANNERS = {
    "clean": ('echo "$f: OK"\nexit 0\n', "clean"),
    "infected": ('echo "$f: Eicar-Signature FOUND"\nexit 1\n', "infected"),
    "error": ('echo "$f: Can\'t open file"\nexit 2\n', "unscannable"),
    # A child that outlives the scanner's timeout: the whole group goes.
    "slow": ("sleep 30\nexit 0\n", "unscannable"),
}


def scanner(directory, name: str, count: bool = True) -> str:
    """Write fake scanner `name` into `directory`; its path. Each run appends a
    line to ``runs`` beside it when `count`."""
    body, _ = SCANNERS[name]
    path = os.path.join(directory, f"scan-{name}")
    runs = os.path.join(directory, "runs")
    with open(path, "w") as file:
        file.write("#!/bin/sh\nfor f; do :; done\n")  # $f: the last argument
        if count:
            file.write(f'echo run >> "{runs}"\n')
        file.write(body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
    return path


def runs(directory) -> int:
    path = os.path.join(directory, "runs")
    if not os.path.exists(path):
        return 0
    with open(path) as file:
        return len(file.readlines())


@pytest.fixture
def config(tmp_path):
    command = scanner(tmp_path, "clean") + " --no-summary"
    return {
        "DATA_DIR": str(tmp_path / "data"),
        "ARCHIVE_SCAN_COMMAND": command,
        "ARCHIVE_SCAN_TIMEOUT_SECONDS": TIMEOUT,
    }


def use(app, tmp_path, name: str) -> None:
    app.config["ARCHIVE_SCAN_COMMAND"] = scanner(tmp_path, name)


def work(app, now=time.time) -> int:
    """Run every due scan as the server's worker does; how many jobs it took."""
    ext = app.extensions
    client = ext["client"]

    def names():
        return client.drive(ext["namespaces"].names())

    taken = 0
    while scan.scan_next(client, ext["scans"], ext["blobs"], names, app.config, now):
        taken += 1
    return taken


def record(client, ns="default"):
    url = f"{CORE}/namespaces/{ns}/archives/{ID}"
    response = client.get(url, headers=AUTH)
    assert response.status_code == 200, response.data
    return response.get_json()


def download(client, url=URL):
    response = client.get(url, headers=AUTH)
    response.get_data()
    response.close()
    return response


def test_new_uploads_are_unscanned_and_not_served_until_clean(app, client):
    response = upload(client, DATA, filename="s.tar.gz")
    assert response.status_code == 201
    archive = response.get_json()["archive"]
    assert archive["state"] == "unscanned" and archive["available"] is False
    assert archive["scan"] == {"state": "unscanned", "scanned_at": None, "detail": ""}
    assert_error(
        download(client),
        404,
        2,
        f"archive {ID} is not available (scan state: unscanned)",
    )
    assert work(app) == 1
    archive = record(client)
    assert archive["state"] == "clean" and archive["available"] is True
    assert archive["scan"]["state"] == "clean"
    assert abs(archive["scan"]["scanned_at"] - time.time()) < 60
    assert f"{ID}: OK" in archive["scan"]["detail"]
    served = download(client)
    assert served.status_code == 200 and served.data == DATA


@pytest.mark.parametrize("name", sorted(SCANNERS))
def test_each_fake_scanner_gives_its_state(app, client, tmp_path, name):
    use(app, tmp_path, name)
    upload(client, DATA, filename="s.tar.gz")
    started = time.monotonic()
    work(app)
    assert time.monotonic() - started < TIMEOUT + 5  # a timeout kills the scan
    state = SCANNERS[name][1]
    archive = record(client)
    assert archive["state"] == state and archive["scan"]["state"] == state
    assert archive["available"] is (state == "clean")
    if name == "slow":
        assert archive["scan"]["detail"] == f"scanner timed out after {TIMEOUT:g} s"
    response = download(client)
    if state == "clean":
        assert response.status_code == 200
    else:
        message = f"archive {ID} is not available (scan state: {state})"
        assert_error(response, 404, 2, message)


def test_unscannable_is_never_infected(app, client, tmp_path):
    app.config["ARCHIVE_SCAN_COMMAND"] = str(tmp_path / "no-such-scanner")
    upload(client, DATA)
    work(app)
    archive = record(client)
    assert archive["state"] == "unscannable"
    assert "scanner did not start" in archive["scan"]["detail"]


def test_state_is_a_list_selector(app, client, tmp_path):
    upload(client, DATA)
    other = tarball({"bin/other": b"x"})
    upload(client, other)
    work(app)
    use(app, tmp_path, "infected")
    client.post(f"{BASE}/{sha512(other)}/scan", headers=AUTH)
    work(app)

    def listed(selector):
        response = client.get(
            BASE, headers=AUTH, query_string={"fieldSelector": selector}
        )
        assert response.status_code == 200, response.data
        return [item["sha512"] for item in response.get_json()]

    assert listed('archive.state == "clean"') == [ID]
    assert listed('archive.state == "infected"') == [sha512(other)]
    assert listed("archive.state in [clean, infected]") == sorted([ID, sha512(other)])


def test_a_verdict_is_per_blob_shared_by_every_namespace(app, client, sensu, tmp_path):
    sensu.namespace("ns1")
    upload(client, DATA)
    assert work(app) == 1
    # The same bytes elsewhere: no second scan, the verdict comes along.
    response = upload(client, DATA, ns="ns1")
    assert response.get_json()["archive"]["state"] == "clean"
    assert work(app) == 0
    assert runs(tmp_path) == 1
    assert record(client, "ns1")["state"] == "clean"


def test_rescan_requeues_every_record_of_the_blob(app, client, sensu, tmp_path):
    sensu.namespace("ns1")
    upload(client, DATA)
    upload(client, DATA, ns="ns1")
    work(app)
    use(app, tmp_path, "infected")
    response = client.post(f"{BASE}/{ID}/scan", headers=AUTH)
    assert response.status_code == 202, response.data
    assert response.get_json()["state"] == "unscanned"
    assert record(client, "ns1")["state"] == "unscanned"
    assert work(app) == 1
    assert record(client)["state"] == "infected"
    assert record(client, "ns1")["state"] == "infected"


def test_rescan_with_scanning_off_is_400(app, client):
    upload(client, DATA)
    app.config["ARCHIVE_SCAN_COMMAND"] = ""
    response = client.post(f"{BASE}/{ID}/scan", headers=AUTH)
    assert_error(response, 400, 1, "scanning is off")
    assert_error(client.post(f"{BASE}/{'ab' * 64}/scan", headers=AUTH), 400, 1)


def test_rescan_of_an_unknown_archive_is_404(client):
    assert_error(client.post(f"{BASE}/{'ab' * 64}/scan", headers=AUTH), 404, 2)


def test_a_scan_overtaken_by_a_rescan_is_dropped(app, client, tmp_path):
    ext = app.extensions
    run, scans = ext["client"].run, ext["scans"]
    upload(client, DATA)
    job = run(scans.take(time.time(), time.time() + 60))
    client.post(f"{BASE}/{ID}/scan", headers=AUTH)  # while the first one runs
    stale = scan.Verdict(job.gen, "infected", 1, "")
    assert run(scans.finish(ID, stale)) is False
    assert work(app) == 1
    assert record(client)["state"] == "clean"


def test_a_job_whose_worker_died_is_taken_again_after_its_lease(app, client, tmp_path):
    ext = app.extensions
    run, scans = ext["client"].run, ext["scans"]
    upload(client, DATA)
    now = time.time()
    assert run(scans.take(now, now + 60)) is not None  # then the worker dies
    assert work(app) == 0  # leased: nobody else takes it meanwhile
    assert work(app, now=lambda: now + 61) == 1
    assert runs(tmp_path) == 1
    assert record(client)["state"] == "clean"


def test_a_verdict_stored_before_a_worker_died_is_not_scanned_again(
    app, client, tmp_path
):
    ext = app.extensions
    run, scans = ext["client"].run, ext["scans"]
    upload(client, DATA)
    now = time.time()
    job = run(scans.take(now, now + 60))
    # The worker stored its verdict, then died before copying it on.
    assert run(scans.finish(ID, scan.Verdict(job.gen, "clean", int(now), "ok")))
    assert record(client)["state"] == "unscanned"
    assert work(app, now=lambda: now + 61) == 1
    assert runs(tmp_path) == 0
    assert record(client)["scan"] == {
        "state": "clean",
        "scanned_at": int(now),
        "detail": "ok",
    }
    assert work(app, now=lambda: now + 200) == 0


def test_scanning_off_serves_unscanned_and_queues_nothing(app, client, tmp_path):
    app.config["ARCHIVE_SCAN_COMMAND"] = ""
    response = upload(client, DATA, filename="s.tar.gz")
    archive = response.get_json()["archive"]
    assert archive["state"] == "unscanned" and archive["available"] is True
    assert download(client).status_code == 200
    assert work(app) == 0


def test_turning_scanning_on_queues_unscanned_blobs(app, client, tmp_path):
    app.config["ARCHIVE_SCAN_COMMAND"] = ""
    upload(client, DATA)
    ext = app.extensions
    assert scan.queue_unscanned(ext["client"], ext["scans"], ext["blobs"], "a") == 1
    # One process per start looks: the others find the lock taken.
    assert scan.queue_unscanned(ext["client"], ext["scans"], ext["blobs"], "b") == 0
    use(app, tmp_path, "clean")
    assert work(app) == 1
    assert record(client)["state"] == "clean"


def test_upload_waits_for_the_verdict_when_asked(app, client):
    app.config["ARCHIVE_SCAN_WAIT_SECONDS"] = 10
    stop = start_archive_scans(app)
    try:
        response = upload(client, DATA)
    finally:
        stop.set()
        app.extensions["scan_wake"].set()
    assert response.status_code == 201
    assert response.get_json()["archive"]["state"] == "clean"


def test_no_worker_without_a_scanner(app):
    app.config["ARCHIVE_SCAN_COMMAND"] = " "
    assert start_archive_scans(app) is None


def test_gc_forgets_a_deleted_blobs_verdict(app, client, redis_client):
    app.config.update(ARCHIVE_RETENTION_SECONDS=0, ARCHIVE_BLOB_GRACE_SECONDS=0)
    upload(client, DATA)
    work(app)
    keys = Keys(app.config["KEY_PREFIX"])
    assert redis_client.exists(keys.scan(ID))
    client.delete(f"{BASE}/{ID}", headers=AUTH)
    assert client.post(f"{CORE}/archives/gc", headers=AUTH).status_code == 200
    assert not redis_client.exists(keys.scan(ID))


def test_scan_keys_share_one_cluster_slot():
    keys = Keys("stashd", cluster=True)
    slots = {
        key_slot(k.encode())
        for k in [keys.scan(ID), keys.scan("cd" * 64), keys.scan_queue]
    }
    assert len(slots) == 1


def test_rescan_needs_archives_write(client):
    upload(client, DATA)

    def key_with(scopes):
        body = {"username": "admin", "scopes": scopes}
        response = client.post(f"{CORE}/apikeys", json=body, headers=AUTH)
        return {"Authorization": f"Key {response.headers['Location'].split('/')[-1]}"}

    url = f"{BASE}/{ID}/scan"
    assert_error(client.post(url, headers=key_with(["archives:read"])), 403, 4)
    response = client.post(url, headers=key_with(["archives:write:default"]))
    assert response.status_code == 202, response.data


def test_a_bundles_archives_are_scanned_as_uploads_are(app, client, sensu, tmp_path):
    app.config["ARCHIVE_SCAN_COMMAND"] = ""  # off: the upload's blob has no verdict
    assert upload(client, DATA).status_code == 201
    exported = client.get(
        f"{CORE}/namespaces/default/bundle", query_string={"archive": ID}, headers=AUTH
    )
    assert exported.status_code == 200, exported.data
    use(app, tmp_path, "clean")
    sensu.namespace("elsewhere")

    imported = client.post(
        f"{CORE}/namespaces/elsewhere/bundle", data=exported.data, headers=AUTH
    )

    assert imported.status_code == 201, imported.data
    assert record(client, "elsewhere")["state"] == "unscanned"
    assert work(app) == 1
    assert record(client, "elsewhere")["state"] == "clean"
    assert download(client, f"/archives/elsewhere/{ID}").status_code == 200
