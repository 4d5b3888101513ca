"""drive(): both clients run the calls steps yield, and raise failed ones in them."""

from __future__ import annotations

import asyncio

import pytest
import redis

from redisio.calls import Call
from redisio.clients import BlockingClient
from redisio.pipelined import PipelinedClient
from tests.servers import free_port


def drive_blocking(url: str, steps):
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    runner = BlockingClient(client)
    try:
        return runner.drive(steps)
    finally:
        runner.close()
        client.close()


def drive_pipelined(url: str, steps):
    client = PipelinedClient({"REDIS_URL": url, "REDIS_TIMEOUT": 0.5})

    async def main():
        try:
            return await client.drive(steps)
        finally:
            client.close()

    return asyncio.run(main())


@pytest.fixture(params=[drive_blocking, drive_pipelined], ids=["blocking", "pipelined"])
def drive(request):
    """drive(url, steps): `steps` driven by one client or the other, closed after."""
    return request.param


def answering(call: Call):
    """Steps that answer their one call's error themselves."""
    try:
        reply = yield call
    except redis.RedisError as exc:
        return "answered", type(exc)
    return "replied", reply


@pytest.mark.integration
def test_drive_sends_each_call_its_result_and_returns_the_steps_own(
    drive, real_redis, redis_server
):
    real_redis.set("a", "1")

    def steps():
        first = yield Call(("GET", "a"))
        second = yield Call(("INCR", "a"))
        return first, second

    assert drive(redis_server.url, steps()) == (b"1", 2)


@pytest.mark.integration
def test_drive_raises_an_error_reply_in_the_steps_which_may_answer_it(
    drive, real_redis, redis_server
):
    real_redis.set("text", "x")
    answer = drive(redis_server.url, answering(Call(("LPUSH", "text", "y"))))
    assert answer == ("answered", redis.ResponseError)


@pytest.mark.integration
def test_drive_goes_on_with_steps_that_answered_an_error(
    drive, real_redis, redis_server
):
    real_redis.set("text", "x")

    def steps():
        try:
            yield Call(("LPUSH", "text", "y"))
        except redis.ResponseError:
            pass
        return (yield Call(("GET", "text")))

    assert drive(redis_server.url, steps()) == b"x"


@pytest.mark.integration
def test_drive_lets_an_error_the_steps_do_not_answer_out_as_it_was(
    drive, real_redis, redis_server
):
    real_redis.set("text", "x")

    def steps():
        yield Call(("LPUSH", "text", "y"))
        raise AssertionError("not reached")

    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        drive(redis_server.url, steps())


def test_drive_raises_unreachable_redis_in_the_steps(drive):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    answer = drive(url, answering(Call(("GET", "a"))))
    assert answer == ("answered", redis.ConnectionError)
