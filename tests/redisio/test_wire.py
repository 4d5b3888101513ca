"""Packed commands (redisio.wire): the bytes hiredis would write, and every client
sends them as they are."""

from __future__ import annotations

import asyncio

import fakeredis
import hiredis
import pytest
import redis

from redisio.calls import Call
from redisio.clients import BlockingClient
from redisio.pipelined import PipelinedClient
from redisio.wire import pack_keys, unpacked

PREFIX = "stashd:{ns:default}:silence-match:"
SIDES = (":*", ":check_disk")


def plain(heads, sides=SIDES, last="*:check_disk", prefix=PREFIX) -> tuple:
    keys = [prefix + head + side for head in heads for side in sides]
    return ("MGET", *keys, prefix + last)


@pytest.mark.parametrize(
    "heads",
    [
        [],
        ["linux"],
        ["linux", "base", "dc-2", "client:host-01234.example.com"],
        # Keys of 99 and 100 bytes, and of 999 and 1,000: lengths of more digits.
        ["a" * n for n in (0, 1, 53, 54, 55, 953, 954, 955)],
        [f"s{n}" for n in range(300)],
        ["with space", 'quote"', "back\\slash", "new\r\nline"],
    ],
)
def test_packed_keys_are_the_bytes_hiredis_packs(heads):
    packed = pack_keys("MGET", PREFIX, heads, SIDES, "*:check_disk")
    assert isinstance(packed, bytes)
    assert packed == hiredis.pack_command(plain(heads))
    assert unpacked(packed) == plain(heads)


def test_pieces_that_are_not_ascii_or_too_long_stay_plain_arguments():
    # Byte lengths are not character counts there, or not in the table.
    for heads in (["café"], ["x" * 5000]):
        command = pack_keys("MGET", PREFIX, heads, SIDES, "*:check_disk")
        assert command == plain(heads)
    assert pack_keys("MGET", "ns:é:", ["a"], SIDES, "b") == plain(
        ["a"], last="b", prefix="ns:é:"
    )
    assert pack_keys("MGET", PREFIX, [f"{n}" for n in range(3000)], SIDES, "x") == (
        plain([f"{n}" for n in range(3000)], last="x")
    )


def test_plain_arguments_are_their_own_arguments():
    assert unpacked(("GET", "k")) == ("GET", "k")


def values(heads) -> dict[str, str]:
    """A value for every other key of `plain(heads)`, the rest left missing."""
    return {key: f"v{n}" for n, key in enumerate(plain(heads)[1::2])}


def expected(heads) -> list[bytes | None]:
    stored = values(heads)
    got = [stored.get(key) for key in plain(heads)[1:]]
    return [None if v is None else v.encode() for v in got]


HEADS = ["linux", "web", "client:h1.example.com"]


@pytest.mark.parametrize(
    "backend", ["fake", pytest.param("real", marks=pytest.mark.integration)]
)
def test_the_blocking_client_sends_a_packed_command(backend, request):
    if backend == "fake":
        server = fakeredis.FakeServer()
        client = fakeredis.FakeRedis(server=server)
    else:
        client = request.getfixturevalue("real_redis")
    client.mset(values(HEADS))
    runner = BlockingClient(client)
    call = Call(pack_keys("MGET", PREFIX, HEADS, SIDES, "*:check_disk"))
    assert isinstance(call.args, bytes)
    assert runner.run(call) == expected(HEADS)
    # And in a batch, among commands that are not packed.
    assert runner.run_all([Call(("GET", plain(HEADS)[1])), call]) == [
        b"v0",
        expected(HEADS),
    ]
    runner.close()


@pytest.mark.integration
def test_the_pipelined_client_sends_a_packed_command(real_redis, redis_server):
    real_redis.mset(values(HEADS))
    client = PipelinedClient({"REDIS_URL": redis_server.url, "REDIS_TIMEOUT": 2.0})
    call = Call(pack_keys("MGET", PREFIX, HEADS, SIDES, "*:check_disk"))

    async def main():
        try:
            # Among plain commands in the same write: replies stay in order.
            return await asyncio.gather(
                client.execute("GET", plain(HEADS)[1]),
                client.run(call),
                client.execute("GET", "missing"),
            )
        finally:
            client.close()

    assert asyncio.run(main()) == [b"v0", expected(HEADS), None]


@pytest.mark.integration
def test_an_error_reply_to_a_packed_command_is_raised(real_redis):
    runner = BlockingClient(real_redis)
    unknown = pack_keys("NOSUCHCOMMAND", PREFIX, ["a"], SIDES, "b")
    assert isinstance(unknown, bytes)
    with pytest.raises(redis.ResponseError, match="unknown command"):
        runner.run(Call(unknown))
    assert runner.run(Call(("ECHO", "next"))) == b"next"  # the connection goes on
    runner.close()
