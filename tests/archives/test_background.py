"""Archive upkeep outside requests: stale temp files at start, GC in the server
(spec archives.md 4.1, 4.3, 19.6)."""

from __future__ import annotations

import os
import time

import pytest

from server.background import start_archive_gc
from server.start import start
from tests.archives.helpers import BASE, blob_files, sha512, tarball, upload
from tests.sensugo import AUTH


@pytest.mark.integration
def test_start_removes_stale_temp_files(redis_server, tmp_path):
    tmp = tmp_path / "archives" / "tmp"
    tmp.mkdir(parents=True)
    old, young = tmp / "old.part", tmp / "young.part"
    old.write_bytes(b"x")
    young.write_bytes(b"x")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    environ = {"STASHD_REDIS_URL": redis_server.url, "STASHD_DATA_DIR": str(tmp_path)}
    start(environ).stop()
    assert os.listdir(tmp) == ["young.part"]


def test_no_collector_with_interval_zero(app):
    app.config["ARCHIVE_GC_INTERVAL_SECONDS"] = 0
    assert start_archive_gc(app) is None


@pytest.mark.slow
def test_the_server_collects_every_interval(app, client):
    app.config.update(
        ARCHIVE_GC_INTERVAL_SECONDS=1,
        ARCHIVE_RETENTION_SECONDS=0,
        ARCHIVE_BLOB_GRACE_SECONDS=0,
    )
    data = tarball()
    upload(client, data)
    client.delete(f"{BASE}/{sha512(data)}", headers=AUTH)
    stop = start_archive_gc(app)
    try:
        deadline = time.monotonic() + 5
        while blob_files(app) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
    assert blob_files(app) == []
