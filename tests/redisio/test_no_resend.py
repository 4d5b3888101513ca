"""A command sent to Redis is never sent again (spec stashes.md 17.6), both clients.

Late replies come from a proxy that runs each command at once but holds its reply
back (tests/redisio/proxy.py): what an fsync stall under ``appendfsync always`` does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
import redis

from core.errors import redis_refusal
from redisio.clients import BlockingClient, make_client
from redisio.keys import Keys
from redisio.pipelined import PipelinedClient
from stashes.store import StashStore
from tests.redisio.proxy import RedisProxy, touching


def config(url: str, timeout: float) -> dict:
    return {"REDIS_URL": url, "REDIS_TIMEOUT": timeout}


@pytest.fixture
def proxy(redis_server) -> Iterator[RedisProxy]:
    proxy = RedisProxy(redis_server.port).start()
    yield proxy
    proxy.stop()


def run_blocking(url: str, timeout: float, *args):
    client = make_client(config(url, timeout))
    runner = BlockingClient(client)
    try:
        return runner.execute(*args)
    finally:
        runner.close()
        client.close()


def run_pipelined(url: str, timeout: float, *args):
    client = PipelinedClient(config(url, timeout))

    async def main():
        try:
            return await client.execute(*args)
        finally:
            client.close()

    return asyncio.run(main())


def run_redis_py(url: str, timeout: float, *args):
    client = make_client(config(url, timeout))
    try:
        return client.execute_command(*args)
    finally:
        client.close()


@pytest.mark.integration
@pytest.mark.parametrize(
    "run",
    [run_blocking, run_pipelined, run_redis_py],
    ids=["blocking", "pipelined", "redis-py"],
)
def test_a_write_whose_reply_is_late_is_not_sent_again(run, proxy, real_redis):
    proxy.hold(1.0, touching("counter"))
    with pytest.raises(redis.TimeoutError):
        run(proxy.url, 0.3, "INCR", "counter")
    assert real_redis.get("counter") == b"1"  # ran once; a resend would make it 2


@pytest.mark.integration
def test_a_late_reply_fails_only_the_commands_it_holds_up(proxy, real_redis):
    client = PipelinedClient(config(proxy.url, 1.0))
    proxy.hold(1.2, touching("slow"))

    async def main():
        try:
            await client.execute("PING")
            slow = asyncio.ensure_future(client.execute("INCR", "slow"))
            await asyncio.sleep(0.6)
            # Behind the late reply on the same connection, within its own deadline.
            behind = asyncio.ensure_future(client.execute("INCR", "behind"))
            with pytest.raises(redis.TimeoutError):
                await slow
            started = time.monotonic()
            fresh = await client.execute("INCR", "fresh")  # a new connection
            waited = time.monotonic() - started
            return fresh, waited, await behind
        finally:
            client.close()

    fresh, waited, behind = asyncio.run(main())
    assert (fresh, behind) == (1, 1)
    assert waited < 0.15  # not queued behind the late reply
    assert proxy.accepted == 2
    assert real_redis.mget("slow", "behind", "fresh") == [b"1", b"1", b"1"]


@pytest.mark.integration
def test_a_lost_connection_resends_only_what_was_never_written(proxy, real_redis):
    client = PipelinedClient(config(proxy.url, 2.0))
    proxy.hold(0.5, touching("written"))

    async def main():
        try:
            written = asyncio.ensure_future(client.execute("INCR", "written"))
            await asyncio.sleep(0.2)  # on its way to Redis, its reply held back
            queued = asyncio.ensure_future(client.execute("INCR", "queued"))
            await asyncio.sleep(0)  # queued, to be written at the end of the step
            pipe = client._pipe
            assert pipe is not None and pipe.outgoing
            pipe.fail(redis.ConnectionError("lost for the test"))
            with pytest.raises(redis.ConnectionError, match="lost for the test"):
                await written
            return await queued
        finally:
            client.close()

    assert asyncio.run(main()) == 1
    assert real_redis.mget("written", "queued") == [b"1", b"1"]


@pytest.mark.integration
def test_a_command_that_cannot_be_packed_leaves_the_replies_in_order(
    real_redis, redis_server
):
    real_redis.mset({"a": "1", "b": "2"})
    client = PipelinedClient(config(redis_server.url, 0.5))

    async def main():
        try:
            await client.execute("PING")
            with pytest.raises(TypeError):
                await client.execute("SET", "k", None)
            return await asyncio.gather(
                client.execute("GET", "a"), client.execute("GET", "b")
            )
        finally:
            client.close()

    assert asyncio.run(main()) == [b"1", b"2"]


@pytest.mark.integration
def test_blocking_client_replaces_a_connection_redis_closed_while_idle(
    real_redis, redis_server
):
    client = make_client(config(redis_server.url, 0.5))
    runner = BlockingClient(client)
    try:
        first = runner.execute("CLIENT", "ID")
        real_redis.client_kill_filter(_id=first)
        time.sleep(0.05)
        assert runner.execute("INCR", "n") == 1
        assert runner.execute("CLIENT", "ID") != first
    finally:
        runner.close()
        client.close()
    assert real_redis.get("n") == b"1"


class _Connection:
    """A connection whose sends and reads fail as told, counting what is sent."""

    is_connected = False

    def __init__(self, send_failures: int, read_error: Exception | None) -> None:
        self.send_failures = send_failures
        self.read_error = read_error
        self.sent: list[tuple] = []
        self.disconnects = 0

    def connect(self) -> None:
        pass  # sends fail as told

    def send_command(self, *args: object) -> None:
        if self.send_failures:
            self.send_failures -= 1
            raise redis.ConnectionError("Error 32 while writing to socket")
        self.sent.append(args)

    def read_response(self) -> object:
        if self.read_error is not None:
            raise self.read_error
        return b"OK"

    def disconnect(self) -> None:
        self.disconnects += 1


def blocking_on(conn: _Connection) -> BlockingClient:
    runner = BlockingClient(redis.Redis())
    runner._connect = lambda: conn  # type: ignore[method-assign]
    return runner


def test_blocking_client_sends_once_more_what_could_not_be_written():
    conn = _Connection(send_failures=1, read_error=None)
    assert blocking_on(conn).execute("SET", "k", "v") == b"OK"
    assert conn.sent == [("SET", "k", "v")]
    assert conn.disconnects == 1


def test_blocking_client_tries_an_unwritten_command_only_twice():
    conn = _Connection(send_failures=2, read_error=None)
    with pytest.raises(redis.ConnectionError):
        blocking_on(conn).execute("SET", "k", "v")
    assert conn.sent == []


@pytest.mark.parametrize(
    "error",
    [redis.TimeoutError("Timeout reading from socket"), redis.ConnectionError("EOF")],
)
def test_blocking_client_never_resends_a_written_command(error):
    conn = _Connection(send_failures=0, read_error=error)
    with pytest.raises(type(error)):
        blocking_on(conn).execute("SET", "k", "v")
    assert conn.sent == [("SET", "k", "v")]


# --- after READONLY, a fresh connection ----------------------------------------


@pytest.fixture
def replica(own_redis) -> Iterator[redis.Redis]:
    """`own_redis` turned into a read-only replica of a primary that is not there."""
    from tests.servers import free_port

    admin = redis.Redis(port=own_redis.port)
    admin.execute_command("REPLICAOF", "127.0.0.1", free_port())
    yield admin
    admin.execute_command("REPLICAOF", "NO", "ONE")
    admin.close()


@pytest.mark.integration
def test_blocking_client_drops_the_connection_after_readonly(own_redis, replica):
    client = make_client(config(own_redis.url, 0.5))
    runner = BlockingClient(client)
    put = StashStore(Keys("stashd")).put("p", b"{}", None)  # a script that writes
    try:
        first = runner.execute("CLIENT", "ID")
        with pytest.raises(redis.ResponseError) as refused:
            runner.run(put)
        assert redis_refusal(refused.value) == "READONLY"
        assert runner.execute("CLIENT", "ID") != first
    finally:
        runner.close()
        client.close()


@pytest.mark.integration
def test_pipelined_client_drops_the_connection_after_readonly(own_redis, replica):
    client = PipelinedClient(config(own_redis.url, 0.5))
    put = StashStore(Keys("stashd")).put("p", b"{}", None)

    async def main():
        try:
            first = await client.execute("CLIENT", "ID")
            with pytest.raises(redis.ResponseError) as refused:
                await client.run(put)
            assert redis_refusal(refused.value) == "READONLY"
            return first, await client.execute("CLIENT", "ID")
        finally:
            client.close()

    first, then = asyncio.run(main())
    assert then != first
