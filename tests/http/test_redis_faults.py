"""Redis faults over real HTTP, under granian (`make run`) and gunicorn.

Spec stashes.md 17: a write whose reply is late is never answered with a lie (6), a
list of big stashes holds nobody up (10), Redis refusals get a 503 with a reason and
one log line (12), and rediss:// options reach every client (13). Late replies and
refusals come from a proxy between stashd and its Redis (tests/redisio/proxy.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import pytest
import redis
import requests

from core.errors import REFUSALS
from redisio.clients import BlockingClient, make_client
from redisio.keys import Keys
from stashes.store import StashStore
from tests.redisio.proxy import RedisProxy, touching
from tests.redisio.tls import TlsRedis, tls_redis
from tests.servers import RedisServer, Stashd

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
ASSETS = f"{CORE}/namespaces/default/assets"
USER, PASSWORD, KEY = "ops", "faults-password", "faults-test-key-0123456789"
ADMIN = (USER, PASSWORD)  # checked in memory: no Redis round trip of its own
KEYED = {"Authorization": f"Key {KEY}"}
KEYS = Keys("stashd")  # the default STASHD_KEY_PREFIX

# What each refusal looks like from Redis (7 and Valkey; tests/redisio covers 6).
REPLIES = {
    "READONLY": "READONLY You can't write against a read only replica.",
    "MASTERDOWN": (
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
        "'no'."
    ),
    "LOADING": "LOADING Redis is loading the dataset in memory",
    "BUSY": (
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
        "SHUTDOWN NOSAVE."
    ),
    "OOM": "OOM command not allowed when used memory > 'maxmemory'.",
}


def asset(name: str) -> dict:
    return {
        "url": f"https://example.com/{name}.tgz",
        "sha512": "ab" * 64,
        "metadata": {"name": name, "namespace": "default"},
    }


def configured(redis_url: str, data_dir: str) -> dict[str, str]:
    return {
        "STASHD_REDIS_URL": redis_url,
        "STASHD_DATA_DIR": data_dir,
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_API_KEY": KEY,
    }


class Faulty(NamedTuple):
    server: Stashd
    proxy: RedisProxy
    redis: redis.Redis

    @property
    def url(self) -> str:
        return self.server.url


@pytest.fixture(scope="module")
def faulty(server_kind, tmp_path_factory) -> Iterator[Faulty]:
    """stashd on a Redis of its own, reached through a RedisProxy."""
    redis_server = RedisServer()
    redis_server.start()
    proxy = RedisProxy(redis_server.port).start()
    data_dir = str(tmp_path_factory.mktemp("faulty"))
    server = Stashd(server_kind, configured(proxy.url, data_dir))
    direct = redis.Redis(port=redis_server.port)
    try:
        server.start()
        # Every script the tests use is loaded, so none goes EVALSHA then EVAL.
        gone = requests.delete(f"{server.url}/stash/warm", auth=ADMIN)
        assert gone.status_code == 404
        warm = requests.post(f"{server.url}/stash/warm", data="{}", auth=ADMIN)
        assert warm.status_code == 201
        made = requests.post(f"{server.url}{ASSETS}", json=asset("warm"), headers=KEYED)
        assert made.status_code == 201
        yield Faulty(server, proxy, direct)
    finally:
        server.stop()
        proxy.stop()
        direct.close()
        redis_server.remove()


@pytest.fixture
def stashd(faulty: Faulty) -> Iterator[Faulty]:
    faulty.proxy.clear()
    yield faulty
    faulty.proxy.clear()


# --- 17.6: a write is never answered with a lie -----------------------------------


def test_a_delete_whose_reply_is_late_answers_500_not_404(stashd):
    url = f"{stashd.url}/stash/late/delete"
    assert requests.post(url, data='{"a": 1}', auth=ADMIN).status_code == 201
    stashd.proxy.hold(1.5, touching("late/delete"))
    response = requests.delete(url, auth=ADMIN, timeout=10)
    assert response.status_code == 500
    assert response.json() == {"error": "not connected to redis"}
    stashd.proxy.clear()
    assert not stashd.redis.exists(KEYS.stash("late/delete"))  # it did delete
    assert requests.delete(url, auth=ADMIN, timeout=5).status_code == 404


def test_a_create_whose_reply_is_late_answers_500_not_409(stashd):
    stashd.proxy.hold(1.5, touching("late-asset"))
    body = asset("late-asset")
    response = requests.post(f"{stashd.url}{ASSETS}", json=body, headers=KEYED)
    assert response.status_code == 500
    assert response.json() == {"message": "not connected to redis", "code": 0}
    stashd.proxy.clear()
    got = requests.get(f"{stashd.url}{ASSETS}/late-asset", headers=KEYED, timeout=5)
    assert got.status_code == 200  # it did create
    again = requests.post(f"{stashd.url}{ASSETS}", json=body, headers=KEYED)
    assert again.status_code == 409


def test_requests_after_a_late_reply_are_answered_at_once(stashd):
    # One late reply must not fail, nor hold up, what comes after it.
    stashd.proxy.hold(1.5, touching("late/slow"))
    slow = threading.Thread(
        target=requests.delete, args=(f"{stashd.url}/stash/late/slow",),
        kwargs={"auth": ADMIN, "timeout": 10},
    )  # fmt: skip
    slow.start()
    time.sleep(0.7)  # past REDIS_TIMEOUT: the slow delete has had its 500
    started = time.monotonic()
    for _ in range(10):
        response = requests.get(f"{stashd.url}/stash/warm", auth=ADMIN, timeout=5)
        assert response.status_code == 200
    assert time.monotonic() - started < 1
    slow.join()


# --- 17.12: every Redis error has an answer ---------------------------------------


@pytest.mark.parametrize("code", list(REPLIES))
def test_a_refusal_is_503_with_a_reason_and_one_log_line(stashd, code):
    stashd.proxy.refuse(REPLIES[code], touching("refused"))
    logged = len(stashd.server.output())
    stash = requests.post(f"{stashd.url}/stash/refused", data="{}", auth=ADMIN)
    assert stash.status_code == 503
    assert stash.json() == {"error": REFUSALS[code]}
    created = requests.post(
        f"{stashd.url}{ASSETS}", json=asset("refused"), headers=KEYED
    )
    assert created.status_code == 503
    assert created.json() == {"message": REFUSALS[code], "code": 0}
    deadline = time.monotonic() + 5
    while True:
        output = stashd.server.output()[logged:]
        lines = [line for line in output.splitlines() if "redis refused" in line]
        if len(lines) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert len(lines) == 2, output
    assert all(code in line for line in lines)
    assert "Traceback" not in output


# --- 17.10: a list of big stashes holds nobody up ---------------------------------

BIG = 1 << 20
COUNT = 1_000


class Big(NamedTuple):
    server: Stashd
    redis: redis.Redis


@pytest.fixture(scope="module")
def big(server_kind, tmp_path_factory) -> Iterator[Big]:
    """stashd on a Redis holding 1,000 stashes of 1 MiB each."""
    redis_server = RedisServer()
    redis_server.start()
    client = make_client({"REDIS_URL": redis_server.url, "REDIS_TIMEOUT": 5.0})
    runner = BlockingClient(client)
    store = StashStore(KEYS)
    content = b'{"blob":"' + b"x" * (BIG - 11) + b'"}'
    assert len(content) == BIG
    try:
        for i in range(COUNT):
            runner.run(store.put(f"big/{i:04d}", content, None))
    finally:
        runner.close()
        client.close()
    data_dir = str(tmp_path_factory.mktemp("big"))
    env = {"STASHD_REDIS_URL": redis_server.url, "STASHD_DATA_DIR": data_dir}
    server = Stashd(server_kind, env)
    direct = redis.Redis(port=redis_server.port, socket_timeout=10)
    try:
        server.start()
        yield Big(server, direct)
    finally:
        server.stop()
        direct.close()
        redis_server.remove()


def timed(call) -> float:
    started = time.monotonic()
    call()
    return time.monotonic() - started


@pytest.mark.slow
@pytest.mark.parametrize("query", ["", "?limit=1000"], ids=["whole", "page"])
def test_a_list_of_big_stashes_holds_up_no_other_request(big, query):
    url = big.server.url
    assert requests.post(f"{url}/stash/small", data='{"a": 1}').status_code == 201
    listed: dict[str, int] = {}

    def read_list() -> None:
        with requests.get(f"{url}/stashes{query}", stream=True, timeout=120) as r:
            listed["status"] = r.status_code
            listed["length"] = int(r.headers["Content-Length"])
            listed["bytes"] = sum(len(c) for c in r.iter_content(1 << 20))

    def get_small() -> None:
        assert requests.get(f"{url}/stash/small", timeout=10).status_code == 200

    lister = threading.Thread(target=read_list)
    lister.start()
    by_redis, by_http = [], []
    while lister.is_alive():
        by_redis.append(timed(lambda: big.redis.get(KEYS.stash("small"))))
        by_http.append(timed(get_small))
        time.sleep(0.05)
    lister.join()
    assert listed["status"] == 200
    assert listed["bytes"] == listed["length"] > COUNT * BIG
    assert len(by_http) >= 3
    assert max(by_redis) < 0.5, sorted(by_redis)[-3:]  # Redis itself never stalls
    assert max(by_http) < 1, sorted(by_http)[-3:]


# --- 17.13: TLS to Redis ---------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> Iterator[TlsRedis]:
    yield from tls_redis()


def test_every_route_reaches_redis_over_tls_with_a_private_ca(
    tls, server_kind, tmp_path
):
    env = configured(tls.url(**tls.trusting()), str(tmp_path))
    server = Stashd(server_kind, env)
    server.start()
    try:
        url = server.url
        stash = requests.post(f"{url}/stash/tls", data='{"on": 1}', auth=ADMIN)
        assert stash.status_code == 201
        assert requests.get(f"{url}/stash/tls", auth=ADMIN).json() == {"on": 1}
        created = requests.post(
            f"{url}{ASSETS}", json=asset(f"tls-{server_kind}"), headers=KEYED
        )
        assert created.status_code == 201
        assert requests.get(f"{url}/health", auth=ADMIN).status_code == 204
    finally:
        server.stop()
    assert "Traceback" not in server.output()
