"""Redis refusals (READONLY, MASTERDOWN, LOADING, BUSY, OOM) get a 503 with a reason
and one log line, in either dialect (spec stashes.md 17.12)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator

import pytest
import redis
from redis._parsers.base import BaseParser

from core.errors import REFUSALS, as_api_error, redis_refusal, render
from redisio.clients import BlockingClient, make_client
from redisio.keys import Keys
from redisio.pipelined import PipelinedClient
from stashes.store import StashStore

SCRIPT = "script: 495aae5c514e42ec6dcf2f8fe95a2abca533bfc9, on @user_script:22."
IN_SCRIPT_6 = "ERR Error running script (call to f_495aae5c): @user_script:1: "

# Error replies as Redis sends them: plain, from a script (Redis 7, Valkey), and
# wrapped by a script (Redis 6).
REPLIES = [
    ("READONLY You can't write against a read only replica.", "READONLY"),
    (f"READONLY You can't write against a read only replica. {SCRIPT}", "READONLY"),
    (
        IN_SCRIPT_6 + "@user_script: 1: -READONLY You can't write against a read "
        "only replica.",
        "READONLY",
    ),
    (
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to "
        "'no'.",
        "MASTERDOWN",
    ),
    ("LOADING Redis is loading the dataset in memory", "LOADING"),
    (
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or "
        "SHUTDOWN NOSAVE.",
        "BUSY",
    ),
    ("OOM command not allowed when used memory > 'maxmemory'.", "OOM"),
    (f"OOM command not allowed when used memory > 'maxmemory'. {SCRIPT}", "OOM"),
    (
        IN_SCRIPT_6 + "@user_script: 1: -OOM command not allowed when used memory "
        "> 'maxmemory'.",
        "OOM",
    ),
]
OTHERS = [
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "BUSYKEY Target key name already exists.",
    IN_SCRIPT_6 + "attempt to compare nil with number",
    "ERR unknown command 'FOO'",
]


@pytest.mark.parametrize(("reply", "code"), REPLIES)
def test_a_refusal_is_known_by_its_code(reply, code):
    # What both clients raise for the reply: redis-py's parser picks the class.
    assert redis_refusal(BaseParser.parse_error(reply)) == code


@pytest.mark.parametrize("reply", OTHERS)
def test_other_error_replies_are_not_refusals(reply):
    assert redis_refusal(BaseParser.parse_error(reply)) is None


def test_connection_errors_are_not_refusals():
    assert redis_refusal(redis.ConnectionError("Connection refused")) is None
    assert redis_refusal(redis.TimeoutError("Timeout reading")) is None


@pytest.mark.parametrize(
    ("path", "dialect"),
    [("/stash/x", "sensu1"), ("/api/core/v2/namespaces/default/assets", "sensugo")],
)
@pytest.mark.parametrize(("reply", "code"), REPLIES)
def test_a_refusal_is_503_with_its_reason_and_one_log_line(
    reply, code, path, dialect, caplog
):
    caplog.set_level(logging.INFO, logger="core.errors")
    error = as_api_error(BaseParser.parse_error(reply), "POST", path)
    status, headers, body = render(error, path)
    assert status == 503
    assert ("Content-Type", "application/json") in headers
    reason = REFUSALS[code]
    expected = {"error": reason} if dialect == "sensu1" else {"message": reason}
    if dialect == "sensugo":
        expected["code"] = 0
    assert json.loads(body) == expected
    (record,) = caplog.records
    assert record.levelno == logging.ERROR and record.exc_info is None
    assert code in record.getMessage() and path in record.getMessage()


# --- a real Redis out of memory, through both clients -----------------------------


@pytest.fixture
def full(own_redis) -> Iterator[str]:
    """`own_redis` with no memory to spare: every write is refused with OOM."""
    admin = redis.Redis(port=own_redis.port)
    admin.config_set("maxmemory-policy", "noeviction")
    admin.config_set("maxmemory", 1)
    yield own_redis.url
    admin.config_set("maxmemory", 0)
    admin.close()


@pytest.mark.integration
def test_an_out_of_memory_redis_refuses_a_stash_write_with_503(full):
    put = StashStore(Keys("stashd")).put("p", b"{}", None)
    config = {"REDIS_URL": full, "REDIS_TIMEOUT": 0.5}
    client = make_client(config)
    runner = BlockingClient(client)
    try:
        with pytest.raises(redis.ResponseError) as blocking:
            runner.run(put)
    finally:
        runner.close()
        client.close()
    pipelined = PipelinedClient(config)

    async def main():
        try:
            await pipelined.run(put)
        finally:
            pipelined.close()

    with pytest.raises(redis.ResponseError) as from_pipelined:
        asyncio.run(main())
    for raised in (blocking.value, from_pipelined.value):
        error = as_api_error(raised, "POST", "/stash/p")
        assert (error.status, error.message) == (503, "redis is out of memory")
