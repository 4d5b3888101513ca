"""stashd on a 3-primary Redis Cluster over real HTTP, under granian (`make run`,
the pipelined client) and gunicorn (the per-thread one): the APIs work, and slots
that move (``--cluster reshard``) while stashes are written and read give no wrong
answer and lose no acknowledged write."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import requests
from redis.crc import key_slot

from redisio.keys import stash_bucket, stash_tags
from tests.ha import ClusterSetup
from tests.servers import Stashd

pytestmark = [pytest.mark.http, pytest.mark.integration]

USER, PASSWORD, KEY = "ops", "cluster-password", "cluster-test-key-0123456789"
KEYED = {"Authorization": f"Key {KEY}"}
NOT_CONNECTED = b'{"error": "not connected to redis"}'


@pytest.fixture(scope="module")
def cluster_stashd(
    server_kind: str, redis_cluster: ClusterSetup
) -> Iterator[tuple[Stashd, ClusterSetup]]:
    redis_cluster.flushall()
    stashd = Stashd(
        server_kind,
        {
            "STASHD_REDIS_URL": redis_cluster.url(),
            "STASHD_API_USER": USER,
            "STASHD_API_PASSWORD": PASSWORD,
            "STASHD_API_KEY": KEY,
        },
    )
    stashd.start()
    yield stashd, redis_cluster
    stashd.stop()


def test_stashes_and_assets_on_a_cluster(cluster_stashd):
    stashd, _ = cluster_stashd
    auth = (USER, PASSWORD)
    for n in range(5):
        body = {"path": f"c/{n}", "content": {"n": n}, "expire": 600 if n else None}
        reply = requests.post(f"{stashd.url}/stashes", json=body, auth=auth)
        assert reply.status_code == 201, reply.content
    reply = requests.get(f"{stashd.url}/stash/c/3", auth=auth)
    assert reply.json() == {"n": 3}
    listed = requests.get(f"{stashd.url}/stashes?limit=2&offset=1", auth=auth)
    assert [s["path"] for s in listed.json()] == ["c/1", "c/2"]
    assert requests.delete(f"{stashd.url}/stash/c/0", auth=auth).status_code == 204
    assets = f"{stashd.url}/api/core/v2/namespaces/default/assets"
    asset = {
        "url": "https://example.com/a.tgz",
        "sha512": "ab" * 64,
        "metadata": {"name": "a", "namespace": "default"},
    }
    assert requests.post(assets, json=asset, headers=KEYED).status_code == 201
    assert requests.get(f"{assets}/a", headers=KEYED).json()["url"] == asset["url"]
    namespaces = f"{stashd.url}/api/core/v2/namespaces"
    assert requests.put(f"{namespaces}/ops", json={"name": "ops"}, headers=KEYED).ok
    assert requests.delete(f"{namespaces}/ops", headers=KEYED).status_code == 204


class Load(threading.Thread):
    """Writes new stashes and reads each back, noting every wrong answer: a 201 for
    a stash that is not there, or any answer but 201, 200 or a 500 "not connected"
    (what a request meets while its slot is half-way, and Redis ran nothing)."""

    def __init__(self, url: str, name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.name = url, name
        self.stop = threading.Event()
        self.acked: list[str] = []
        self.wrong: list[str] = []

    def run(self) -> None:
        auth = (USER, PASSWORD)
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            path = f"moving/{self.name}/{n}"
            n += 1
            reply = session.post(
                f"{self.url}/stash/{path}", json={"n": n}, auth=auth, timeout=10
            )
            if reply.status_code == 201:
                self.acked.append(path)
            elif reply.content != NOT_CONNECTED:
                self.wrong.append(f"POST {path}: {reply.status_code} {reply.content!r}")
                continue
            check = self.acked[-1] if self.acked else path
            reply = session.get(f"{self.url}/stash/{check}", auth=auth, timeout=10)
            if reply.status_code == 500 and reply.content == NOT_CONNECTED:
                continue
            if check in self.acked and reply.status_code != 200:
                self.wrong.append(f"GET {check}: {reply.status_code}")
        session.close()


def test_a_reshard_under_load_gives_no_wrong_answer(cluster_stashd):
    stashd, cluster = cluster_stashd
    # The cli moves a node's lowest slots: take a bucket's slot with the fewest
    # below it on its node, to a node whose slots are all above it, so that the
    # way back moves the same slots again.
    lowest = cluster.lowest()
    moves = []
    for bucket, tag in enumerate(stash_tags(16)):
        slot = key_slot(tag.encode())
        source = cluster.owner(slot)
        above = [port for port, first in lowest.items() if first > slot]
        if above:
            moves.append((slot - lowest[source] + 1, bucket, source, above[0]))
    slots, bucket, source, target = min(moves)
    loads = [Load(stashd.url, str(n)) for n in range(2)]
    for load in loads:
        load.start()
    try:
        time.sleep(0.5)  # keys in the bucket before it moves
        cluster.reshard(source, target, slots)
        time.sleep(0.3)
        cluster.reshard(target, source, slots)  # and back again
        time.sleep(0.3)
    finally:
        for load in loads:
            load.stop.set()
        for load in loads:
            load.join(15)
    assert [w for load in loads for w in load.wrong] == []
    auth = (USER, PASSWORD)
    acked = [path for load in loads for path in load.acked]
    assert len(acked) > 20
    assert any(stash_bucket(path, 16) == bucket for path in acked)  # it moved
    with requests.Session() as session:
        missing = [
            path
            for path in acked
            if session.get(f"{stashd.url}/stash/{path}", auth=auth).status_code != 200
        ]
    assert missing == []
