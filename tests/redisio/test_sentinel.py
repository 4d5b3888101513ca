"""The three clients under Sentinel: they find the primary, follow a failover, and
with REDIS_WAIT_REPLICAS answer a write only once a replica has it."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from core.errors import UNREACHABLE
from core.settings_load import load
from redisio.clients import BlockingClient, make_client
from redisio.keys import Keys
from redisio.pipelined import PipelinedClient
from stashes.store import StashStore
from tests.ha import SentinelSetup

pytestmark = pytest.mark.integration

STORE = StashStore(Keys("stashd"))


@pytest.fixture(scope="module")
def sentinel() -> Iterator[SentinelSetup]:
    setup = SentinelSetup()
    try:
        setup.start()
        yield setup
    finally:
        setup.remove()


def settings(setup: SentinelSetup, **more: Any) -> dict[str, Any]:
    return load({"REDIS_URL": setup.url(), **more})


@pytest.fixture
def clients(sentinel: SentinelSetup) -> Iterator[Callable[..., tuple]]:
    """Makes (redis-py client, BlockingClient, PipelinedClient) on the sentinels."""
    sentinel.wait_healthy()  # a test's failover may still be settling
    made: list[tuple] = []

    def make(**more: Any) -> tuple:
        config = settings(sentinel, **more)
        client = make_client(config)
        trio = (client, BlockingClient(client, config["REDIS_WAIT_REPLICAS"]))
        made.append(trio)
        return (*trio, PipelinedClient(config))

    yield make
    for client, blocking in made:
        blocking.close()
        client.close()


def pipelined(client: PipelinedClient, *calls: Any) -> list[Any]:
    """Run each call on a loop of its own, as one worker's requests would."""

    async def main() -> list[Any]:
        try:
            return [await client.run(call) for call in calls]
        finally:
            client.close()

    return asyncio.run(main())


def test_every_client_reaches_the_primary_the_sentinels_name(sentinel, clients):
    client, blocking, lean = clients()
    assert client.execute_command("ROLE")[0] == b"master"
    blocking.run(STORE.put("a", b'{"n":1}', None))
    assert pipelined(lean, STORE.put("b", b'{"n":2}', None), STORE.get("a")) == [
        1,
        b'{"n":1}',
    ]
    assert blocking.run(STORE.get("b")) == b'{"n":2}'
    primary = redis.Redis(port=sentinel.primary_port())
    assert primary.get("stashd:{stashes}:s:b") == b'{"n":2}'
    primary.close()


def test_writes_wait_for_the_replica_and_fail_while_it_is_paused(sentinel, clients):
    client, blocking, lean = clients(REDIS_WAIT_REPLICAS=1)
    assert blocking.run(STORE.put("kept", b"{}", None)) == 1
    assert pipelined(lean, STORE.put("kept-too", b"{}", None)) == [1]
    primary = sentinel.primary_port()
    replica = sentinel.replica if primary == sentinel.primary.port else sentinel.primary
    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)
    try:
        started = time.monotonic()
        # "0 of 1 replicas confirmed", or on a busy machine the WAIT's own reply
        # late: a 500 either way.
        with pytest.raises(UNREACHABLE):
            blocking.run(STORE.put("unconfirmed", b"{}", None))
        with pytest.raises(UNREACHABLE):
            pipelined(lean, STORE.put("unconfirmed", b"{}", None))
        assert time.monotonic() - started < 2
        # Reads need no replica.
        assert blocking.run(STORE.get("kept")) == b"{}"
        assert pipelined(lean, STORE.get("kept-too")) == [b"{}"]
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)


def test_writes_sent_together_share_one_wait(sentinel, clients):
    _, _, lean = clients(REDIS_WAIT_REPLICAS=1)
    primary = redis.Redis(port=sentinel.primary_port())
    before = primary.info("commandstats").get("cmdstat_wait", {}).get("calls", 0)

    async def main() -> list[Any]:
        try:
            # Connected, and the script loaded: then requests of one loop turn
            # write together, as under load.
            await lean.run(STORE.put("first", b"{}", None))
            calls = [STORE.put(f"w{n}", b"{}", None) for n in range(50)]
            return await asyncio.gather(*(lean.run(call) for call in calls))
        finally:
            lean.close()

    try:
        assert asyncio.run(main()) == [1] * 50
        after = primary.info("commandstats")["cmdstat_wait"]["calls"]
        # One WAIT per write would hold the connection 50 times in turn.
        assert after - before <= 3
    finally:
        primary.close()


def test_reads_never_wait_for_replicas(sentinel, clients):
    _, blocking, lean = clients(REDIS_WAIT_REPLICAS=5)  # more than there are
    assert blocking.run(STORE.get("nothing")) is None
    assert pipelined(lean, STORE.get("nothing")) == [None]
    with pytest.raises(redis.ConnectionError, match="1 of 5 replicas"):
        blocking.run(STORE.delete("nothing"))


def test_sentinels_with_a_password_of_their_own():
    setup = SentinelSetup(sentinel_password="sentinel-secret")
    try:
        setup.start()
        config = settings(setup, REDIS_SENTINEL_PASSWORD="sentinel-secret")
        client = make_client(config)
        blocking = BlockingClient(client)
        try:
            assert blocking.run(STORE.put("p", b"{}", None)) == 1
            assert pipelined(PipelinedClient(config), STORE.get("p")) == [b"{}"]
            assert client.get("stashd:{stashes}:s:p") == b"{}"
        finally:
            blocking.close()
            client.close()
        # Without it, no sentinel answers: Redis is out of reach.
        config = settings(setup)
        with pytest.raises(redis.ConnectionError):
            pipelined(PipelinedClient(config), STORE.get("p"))
        client = make_client(config)
        with pytest.raises(redis.ConnectionError):
            client.get("x")
        client.close()
    finally:
        setup.remove()


# Last in the module: the roles have changed after it.
def test_every_client_follows_a_graceful_failover(sentinel, clients):
    client, blocking, lean = clients()
    blocking.run(STORE.put("before", b"{}", None))
    promoted = sentinel.failover()
    deadline = promoted + 5

    def serves(run: Callable[[], Any]) -> float:
        """Try until it works; each failure must come within 2 s as a
        ConnectionError. Return when it worked."""
        while True:
            started = time.monotonic()
            try:
                run()
                return time.monotonic()
            except redis.ConnectionError:
                assert time.monotonic() - started < 2
            assert time.monotonic() < deadline, "not serving 5 s after the promotion"
            time.sleep(0.05)

    serves(lambda: client.set("stashd:probe", "1"))
    serves(lambda: blocking.run(STORE.put("after-blocking", b"{}", None)))
    serves(lambda: pipelined(lean, STORE.put("after-lean", b"{}", None)))
    assert blocking.run(STORE.get("before")) == b"{}"
    assert blocking.run(STORE.get("after-lean")) == b"{}"


def test_rediss_sentinel_urls_take_tls_to_sentinels_and_data_nodes():
    config = load(
        {"REDIS_URL": "rediss+sentinel://127.0.0.1:1/primary?ssl_cert_reqs=none"}
    )
    client = make_client(config)
    pool = client.connection_pool
    assert issubclass(pool.connection_class, redis.SSLConnection)
    assert pool.connection_kwargs["ssl_cert_reqs"] == "none"
    sentinel = pool.sentinel_manager.sentinels[0].connection_pool
    assert issubclass(sentinel.connection_class, redis.SSLConnection)
    lean = PipelinedClient(config)
    assert lean.tls is not None and lean.sentinels == (("127.0.0.1", 1),)
    client.close()
