"""PipelinedClient, the RSGI server's pipelined connection, on a real Redis."""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest
import redis

from redisio.calls import Call, Script
from redisio.pipelined import PipelinedClient

pytestmark = pytest.mark.integration


def client_for(url: str, timeout: float = 0.5) -> PipelinedClient:
    return PipelinedClient({"REDIS_URL": url, "REDIS_TIMEOUT": timeout})


def run(client: PipelinedClient, work):
    """Run coroutine `work` on a loop of its own; close the connection after."""

    async def main():
        try:
            return await work
        finally:
            client.close()

    return asyncio.run(main())


def test_async_client_answers_concurrent_commands_in_their_own_order(
    real_redis, redis_server
):
    client = client_for(redis_server.url)
    real_redis.mset({f"k{i}": f"v{i}" for i in range(500)})

    async def main():
        return await asyncio.gather(
            *(client.execute("GET", f"k{i}") for i in range(500))
        )

    assert run(client, main()) == [f"v{i}".encode() for i in range(500)]


def test_async_client_loads_a_script_redis_does_not_have(real_redis, redis_server):
    client = client_for(redis_server.url)
    script = Script("return redis.call('INCRBY', KEYS[1], ARGV[1])", convert=str)
    real_redis.script_flush()

    async def main():
        return [
            await client.run(script(["n"], [2])),
            await client.run(script(["n"], [3])),
        ]

    assert run(client, main()) == ["2", "5"]


def test_async_client_raises_error_replies_and_keeps_the_connection(
    real_redis, redis_server
):
    client = client_for(redis_server.url)
    real_redis.set("text", "x")

    async def main():
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            await client.execute("LPUSH", "text", "y")
        return await client.run(Call(("GET", "text")))

    assert run(client, main()) == b"x"


def test_async_client_reconnects_after_a_redis_restart(own_redis):
    client = client_for(own_redis.url)

    async def ping():
        return await client.execute("PING")

    async def main():
        assert await ping() == b"PONG"
        own_redis.stop()
        with pytest.raises(redis.ConnectionError):
            await ping()
        own_redis.start()
        return await ping()

    assert run(client, main()) == b"PONG"


def test_async_client_gives_up_on_a_redis_that_stops_answering(own_redis):
    client = client_for(own_redis.url, timeout=0.3)

    async def main():
        await client.execute("PING")
        os.kill(own_redis.process.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            pings = asyncio.gather(*(client.execute("PING") for _ in range(20)))
            with pytest.raises(redis.TimeoutError):  # not the guard's own TimeoutError
                await asyncio.wait_for(pings, 10)
            waited = time.monotonic() - started
        finally:
            os.kill(own_redis.process.pid, signal.SIGCONT)
        return waited, await client.execute("PING")

    waited, answer = run(client, main())
    assert answer == b"PONG"  # a fresh connection once Redis answers again
    assert waited < 10  # the watchdog fired; without it this would hang


def test_async_client_follows_the_url_database_and_password(own_redis):
    admin = redis.Redis(port=own_redis.port)
    admin.config_set("requirepass", "s3cret")
    try:
        url = f"redis://:s3cret@127.0.0.1:{own_redis.port}/3"
        client = client_for(url)
        run(client, client.execute("SET", "where", "db3"))
        wrong = client_for(f"redis://:nope@127.0.0.1:{own_redis.port}/0")
        with pytest.raises(redis.ConnectionError, match="refused"):
            run(wrong, wrong.execute("PING"))
    finally:
        authed = redis.Redis(port=own_redis.port, password="s3cret")
        assert authed.execute_command("SELECT", 3) and authed.get("where") == b"db3"
        authed.config_set("requirepass", "")
