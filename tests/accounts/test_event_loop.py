"""Password checks never stall anyone else (spec stashes.md 17.3): under RSGI the
fast routes' credentials that need Redis or a hash are settled off the event loop,
and no more hashes than cores run at once."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time

import pytest

from accounts import passwords
from accounts.passwords import Hash, Hasher
from app import create_app
from server.rsgi import RSGIApp

ADMIN = ("admin", "pa:ss")
USER = ("handler", "h-pw")


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class Scope:
    """What granian hands an RSGI app for a request, as far as stashd reads it."""

    def __init__(self, path, authorization):
        self.method, self.path, self.query_string = "GET", path, ""
        self.headers = {"authorization": authorization}
        self.client, self.server = "127.0.0.1:40000", "127.0.0.1:4567"
        self.scheme, self.http_version = "http", "1.1"


class Protocol:
    """Keeps the answer granian would send."""

    status: int | None = None

    def response_bytes(self, status, headers, body):
        self.status = status


async def get(rsgi, path, authorization):
    """GET `path` through the RSGI app: (status, seconds taken)."""
    protocol = Protocol()
    started = time.perf_counter()
    await rsgi.__rsgi__(Scope(path, authorization), protocol)
    return protocol.status, time.perf_counter() - started


async def ticking(stop: asyncio.Event) -> float:
    """The longest the loop went without running this, until `stop`."""
    longest, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.005)
        now = time.perf_counter()
        longest, last = max(longest, now - last), now
    return longest


def rsgi_app(redis_url):
    app = create_app(
        {"REDIS_URL": redis_url, "API_USER": ADMIN[0], "API_PASSWORD": ADMIN[1]}
    )
    return app, RSGIApp(app)


@pytest.fixture
def slow_hashes(monkeypatch):
    """Each password check takes 0.4 s (and holds no lock), as a slow machine's."""
    real = passwords.verify_password

    def slow(password, stored):
        time.sleep(0.4)
        return real(password, stored)

    monkeypatch.setattr(passwords, "verify_password", slow)


@pytest.mark.integration
def test_a_password_check_runs_while_the_admin_is_answered(
    redis_server, real_redis, slow_hashes
):
    app, rsgi = rsgi_app(redis_server.url)
    app.extensions["auth"].set_password(*USER)

    async def main():
        stop = asyncio.Event()
        ticker = asyncio.create_task(ticking(stop))
        users = [
            asyncio.create_task(get(rsgi, "/stash/x", basic(USER[0], f"pw{i}")))
            for i in range(4)
        ]
        await asyncio.sleep(0.05)  # the checks are running
        admin = [await get(rsgi, "/stash/x", basic(*ADMIN)) for _ in range(20)]
        checked = await asyncio.gather(*users)
        stop.set()
        rsgi.redis.close()
        return admin, checked, await ticker

    try:
        admin, checked, longest = asyncio.run(main())
    finally:
        app.extensions["client"].close()
        app.extensions["redis"].close()
    assert [status for status, _ in admin] == [404] * 20
    assert max(took for _, took in admin) < 0.2
    assert [status for status, _ in checked] == [401] * 4
    assert longest < 0.2


@pytest.fixture
def silent_redis():
    """A TCP port that takes connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield f"redis://127.0.0.1:{sock.getsockname()[1]}/0"


@pytest.mark.integration
def test_keys_with_redis_not_answering_do_not_freeze_the_loop(silent_redis):
    app, rsgi = rsgi_app(silent_redis)

    async def main():
        stop = asyncio.Event()
        ticker = asyncio.create_task(ticking(stop))
        answers = await asyncio.gather(
            *(get(rsgi, "/stash/x", f"Key k{i}") for i in range(5))
        )
        stop.set()
        rsgi.redis.close()
        return answers, await ticker

    answers, longest = asyncio.run(main())
    assert [status for status, _ in answers] == [500] * 5
    assert longest < 0.25


def test_no_more_hashes_than_slots_run_at_once(monkeypatch):
    running, most = 0, 0
    lock = threading.Lock()

    def tracked(password, stored):
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return False

    monkeypatch.setattr(passwords, "verify_password", tracked)
    hasher = Hasher(slots=2)
    threads = [
        threading.Thread(target=hasher.verify, args=(Hash(b"pw", None),))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 2
