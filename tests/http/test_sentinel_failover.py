"""stashd behind Sentinel over real HTTP, under granian (`make run`) and gunicorn:
the primary is killed (``kill -9``), or handed over (``SENTINEL FAILOVER``), while
a writer POSTs stashes, and with ``STASHD_REDIS_WAIT_REPLICAS=1`` no acknowledged
stash is lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from tests.ha import SentinelSetup
from tests.servers import SERVERS, Stashd

pytestmark = [pytest.mark.http, pytest.mark.integration]

# The bounds: a failing request answers within 2 s, and stashd serves again
# within 5 s of the promotion.
ANSWER_WITHIN = 2.0
RECOVER_WITHIN = 5.0


@pytest.fixture
def sentinel() -> Iterator[SentinelSetup]:
    setup = SentinelSetup()
    try:
        setup.start()
        yield setup
    finally:
        setup.remove()


class Writer(threading.Thread):
    """POSTs one new stash after another, noting which got 201 and when."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.acked: list[str] = []
        self.failures: list[tuple[int, bytes]] = []
        self.slowest = 0.0

    def run(self) -> None:
        session = requests.Session()
        n = 0
        while not self.stop.is_set():
            path = f"failover/{n}"
            n += 1
            started = time.monotonic()
            try:
                reply = session.post(
                    f"{self.url}/stashes",
                    json={"path": path, "content": {"n": n}},
                    timeout=10,
                )
            except requests.RequestException as exc:  # must not happen
                self.failures.append((0, str(exc).encode()))
                continue
            done = time.monotonic()
            self.slowest = max(self.slowest, done - started)
            if reply.status_code == 201:
                self.acked.append(path)
            else:
                self.failures.append((reply.status_code, reply.content))
                time.sleep(0.02)
        session.close()


def wait_acked(writer: Writer, stashd: Stashd) -> None:
    """Until the writer has a few stashes acknowledged: writes are, once the replica
    has caught up with the primary, which a busy machine takes a while to see."""
    deadline = time.monotonic() + 15
    while len(writer.acked) < 5:
        assert time.monotonic() < deadline, stashd.output()
        time.sleep(0.05)


@contextmanager
def writing(sentinel: SentinelSetup, server: str) -> Iterator[tuple[Stashd, Writer]]:
    """stashd behind `sentinel` with WAIT_REPLICAS=1, and a writer whose first
    stashes have been acknowledged; both stopped after."""
    stashd = Stashd(
        server,
        {"STASHD_REDIS_URL": sentinel.url(), "STASHD_REDIS_WAIT_REPLICAS": "1"},
    )
    writer = Writer("")
    try:
        stashd.start()
        writer.url = stashd.url
        writer.start()
        wait_acked(writer, stashd)
        yield stashd, writer
    finally:
        writer.stop.set()
        if writer.is_alive():
            writer.join(15)
        stashd.stop()


def wait_serving(stashd: Stashd, writer: Writer, promoted: float) -> None:
    """Until a read is served again, within RECOVER_WITHIN of the promotion."""
    first = f"{stashd.url}/stash/{writer.acked[0]}"
    while requests.get(first, timeout=5).status_code != 200:
        assert time.monotonic() < promoted + RECOVER_WITHIN, (
            "not serving 5 s after the promotion"
        )
        time.sleep(0.05)


def check_nothing_lost(stashd: Stashd, writer: Writer) -> None:
    """Stop the writer: every refusal was quick and said why, and every stash it
    had acknowledged is there."""
    writer.stop.set()
    writer.join(15)
    assert writer.slowest < ANSWER_WITHIN
    assert all(
        status == 500 and body == b'{"error": "not connected to redis"}'
        for status, body in writer.failures
    ), writer.failures[:3]
    missing = [
        path
        for path in writer.acked
        if requests.get(f"{stashd.url}/stash/{path}", timeout=5).status_code != 200
    ]
    assert missing == [], f"{len(missing)} of {len(writer.acked)} lost"


@pytest.mark.parametrize("server", SERVERS)
def test_kill_9_of_the_primary_loses_no_acknowledged_stash(sentinel, server):
    with writing(sentinel, server) as (stashd, writer):
        old = sentinel.kill_primary()
        promoted = sentinel.wait_promoted(old)
        # With its one replica promoted, the new primary has none to confirm
        # writes: they get 500 until one joins, but reads are served again.
        wait_serving(stashd, writer, promoted)
        time.sleep(0.3)
        assert writer.failures, "no write was refused during the failover"
        check_nothing_lost(stashd, writer)


# Under granian only: the per-thread client of gunicorn meets the same failover in
# tests/redisio/test_sentinel.py, and each run waits ~10 s for Redis itself.
def test_a_graceful_failover_under_load_loses_nothing(sentinel):
    with writing(sentinel, "granian") as (stashd, writer):
        promoted = sentinel.failover()
        wait_serving(stashd, writer, promoted)
        # Writes are confirmed again once the old primary, told by the sentinels
        # to follow the new one, has caught up (Redis takes ~10 s to tell it).
        acked = len(writer.acked)
        deadline = time.monotonic() + 30
        while len(writer.acked) == acked:
            assert time.monotonic() < deadline, "writes never confirmed again"
            time.sleep(0.1)
        check_nothing_lost(stashd, writer)
