"""A gunicorn worker, or all of granian, killed (SIGKILL) while a pull-through fetch
streams from a slow upstream (spec archives.md 12.2, 19.6): once its fetch lock
expires, the next download fetches again, once, and the dead fetch's temp file goes
at the next GC (gunicorn: the worker is replaced) or at the start (granian)."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time

import pytest
import requests

from archives.fetcher import LOCK_SECONDS
from tests.archives.helpers import tarball
from tests.archives.upstream import running
from tests.servers import open_files, stashd_on_own_redis, tree

pytestmark = [pytest.mark.http, pytest.mark.integration, pytest.mark.slow]

CORE = "/api/core/v2"
KEY = "http-mirror-restart-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
# Temp files not written for this long are stale: the GC removes them.
TMP_AGE = 2


def fetching_worker(pid: int, tmp: str) -> int | None:
    """The process under `pid` that has a temp file of `tmp` open, if any."""
    for child in tree(pid)[1:]:
        for target in open_files(child):
            if target.startswith(tmp + os.sep) and target.endswith(".part"):
                return child
    return None


@pytest.mark.parametrize("kind", ["gunicorn", "granian"])
def test_a_worker_killed_mid_fetch_loses_and_repeats_nothing(tmp_path, kind):
    data_dir = tmp_path / "data"
    tmp = str(data_dir / "archives" / "tmp")
    env = {
        "STASHD_DATA_DIR": str(data_dir),
        "STASHD_API_USER": "ops",
        "STASHD_API_PASSWORD": "mirror-restart-pass",
        "STASHD_API_KEY": KEY,
        "STASHD_MIRROR_ALLOWED_HOSTS": "127.0.0.1",
        "STASHD_MIRROR_WAIT_SECONDS": "2",
        "STASHD_ARCHIVE_TMP_MAX_AGE_SECONDS": str(TMP_AGE),
        "STASHD_ARCHIVE_GC_INTERVAL_SECONDS": "0",  # collected on request below
        "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    data = tarball({"bin/big": os.urandom(3 << 20)})
    archive_id = hashlib.sha512(data).hexdigest()
    with running() as upstream, stashd_on_own_redis(kind, env) as stashd:
        # 2 MiB, then a stall: the fetch has written to its temp file when killed.
        url = upstream.serve("/big.tar.gz", data, stall_at=2 << 20)
        response = requests.post(
            f"{stashd.url}{CORE}/namespaces/default/archives/mirror",
            json={"url": url, "sha512": archive_id, "fetch": "lazy"},
            headers=KEYED,
        )
        assert response.status_code == 202, response.text
        download = f"{stashd.url}/archives/default/{archive_id}"

        def first() -> None:
            try:
                requests.get(download, headers=KEYED, timeout=30)
            except requests.ConnectionError:
                pass  # its worker may be the one killed

        threading.Thread(target=first, daemon=True).start()
        deadline = time.monotonic() + 20
        while True:  # until the fetch has written its first MiB
            assert time.monotonic() < deadline, "the fetch did not start"
            time.sleep(0.05)
            worker = fetching_worker(stashd.process.pid, tmp)
            if worker is not None and _written(tmp) >= 1 << 20:
                break
        if kind == "gunicorn":  # the arbiter starts another worker
            os.kill(worker, signal.SIGKILL)
        else:  # the launcher and every granian process, then a start
            for pid in reversed(tree(stashd.process.pid)):  # workers first
                os.kill(pid, signal.SIGKILL)
            stashd.process.wait(10)
            time.sleep(TMP_AGE + 0.5)
            stashd.start()
            assert os.listdir(tmp) == []  # stale by then: the start removed it
        upstream.serve("/big.tar.gz", data)  # whole, from now on
        upstream.release.set()
        assert upstream.count("/big.tar.gz") == 1

        # Downloads wait, then 503, while the dead worker's lock lives on.
        deadline = time.monotonic() + LOCK_SECONDS + 30
        while True:
            got = requests.get(download, headers=KEYED, timeout=30)
            if got.status_code == 200:
                break
            assert got.status_code == 503, got.text
            assert time.monotonic() < deadline, "the lock was never taken again"
        assert got.content == data
        assert upstream.count("/big.tar.gz") == 2
        more = requests.get(download, headers=KEYED, timeout=30)
        assert more.status_code == 200 and more.content == data
        assert upstream.count("/big.tar.gz") == 2

        # Under gunicorn only the dead fetch's temp file is left; stale after
        # TMP_AGE, the GC removes it.
        left = 1 if kind == "gunicorn" else 0
        assert len(os.listdir(tmp)) == left
        time.sleep(TMP_AGE + 0.5)
        gc = requests.post(f"{stashd.url}{CORE}/archives/gc", headers=KEYED)
        assert gc.status_code == 200, gc.text
        assert gc.json()["removed_tmp"] == left
        assert os.listdir(tmp) == []


def _written(directory: str) -> int:
    """The bytes of the files in `directory`."""
    names = os.listdir(directory) if os.path.isdir(directory) else []
    return sum(os.path.getsize(os.path.join(directory, name)) for name in names)
