"""Scripts that learn from data which keys they touch ask for them in KEYS
(DECLARE_PRELUDE), and every client sends them again with those keys."""

from __future__ import annotations

import asyncio
import importlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from core.settings_load import load
from redisio.calls import DECLARE_PRELUDE, NEED, Call, Script
from redisio.clients import BlockingClient
from redisio.cluster import ClusterBlockingClient
from redisio.pipelined import make_pipelined
from tests.ha import ClusterSetup

# KEYS[1] holds the name of another key; returns its value, with every key declared.
FOLLOW = Script(
    DECLARE_PRELUDE
    + """
local target = redis.call('GET', KEYS[1])
need(target)
local more = missing()
if more then return more end
return {#KEYS, redis.call('GET', target)}
""",
    write=False,
)

# Asks for a new key on every call: never satisfied.
GREEDY = Script(
    DECLARE_PRELUDE
    + """
need('{t}k' .. (#KEYS + 1))
return missing()
""",
    write=False,
)


def test_a_script_with_the_prelude_declares():
    assert FOLLOW(["a"], []).declares
    assert not Script("return 1")([], []).declares


def test_widened_adds_the_asked_keys_before_the_arguments():
    call = FOLLOW(["a"], ["x"])
    wider = call.widened([NEED.encode(), b"b", b"c"])
    assert wider is not None
    assert wider.args == ("EVALSHA", FOLLOW.sha, 3, "a", b"b", b"c", "x")
    assert wider.fallback() == ("EVAL", FOLLOW.source, 3, "a", b"b", b"c", "x")


@pytest.mark.parametrize("reply", [1, [], [b"other"], None, b"stashd:need"])
def test_widened_leaves_answers_alone(reply):
    assert FOLLOW(["a"], []).widened(reply) is None


def blocking(url: str) -> Any:
    client = redis.Redis.from_url(url)
    runner = BlockingClient(client)
    return runner, [runner.close, client.close]


def pipelined_run(url: str, call: Call) -> Any:
    client = make_pipelined(load({"REDIS_URL": url}))

    async def main() -> Any:
        try:
            return await client.run(call)
        finally:
            client.close()

    return asyncio.run(main())


@pytest.fixture
def cluster(redis_cluster: ClusterSetup) -> Iterator[ClusterSetup]:
    redis_cluster.flushall()
    yield redis_cluster


@pytest.mark.integration
@pytest.mark.parametrize("mode", ["blocking", "pipelined"])
def test_each_client_runs_a_script_again_with_the_keys_it_asks_for(
    mode, real_redis, redis_server
):
    real_redis.set("{t}a", "{t}b")
    real_redis.set("{t}b", "found")
    call = FOLLOW(["{t}a"], [])
    if mode == "blocking":
        runner, closers = blocking(redis_server.url)
        try:
            assert runner.run(call) == [2, b"found"]
            assert runner.run_all([call, call]) == [[2, b"found"]] * 2
        finally:
            for close in closers:
                close()
    else:
        assert pipelined_run(redis_server.url, call) == [2, b"found"]


@pytest.mark.integration
def test_a_script_that_keeps_asking_is_an_error(real_redis, redis_server):
    runner, closers = blocking(redis_server.url)
    try:
        with pytest.raises(RuntimeError, match="kept asking"):
            runner.run(GREEDY(["{t}k1"], []))
    finally:
        for close in closers:
            close()


@pytest.mark.integration
def test_cluster_clients_run_it_on_the_slot_of_its_keys(cluster):
    seed = cluster.client()
    seed.mset_nonatomic({"{t}a": "{t}b", "{t}b": "found"})
    seed.close()
    config = load({"REDIS_URL": cluster.url()})
    runner = ClusterBlockingClient(config)
    call = FOLLOW(["{t}a"], [])
    try:
        assert runner.run(call) == [2, b"found"]
    finally:
        runner.close()
    assert pipelined_run(cluster.url(), call) == [2, b"found"]


def every_script() -> list[tuple[str, Script]]:
    """Every Script the stores define, by module and name."""
    found = []
    for module in (
        "accounts.scripts",
        "archives.gc_scripts",
        "archives.import_scripts",
        "archives.list_scripts",
        "archives.scan_store",
        "archives.scripts",
        "archives.share_store",
        "archives.store",
        "archives.trash_scripts",
        "assets.store",
        "namespaces.store",
        "silenced.scripts",
        "stashes.store",
        "stashes.buckets",
    ):
        for name, value in vars(importlib.import_module(module)).items():
            if isinstance(value, Script):
                found.append((f"{module}.{name}", value))
    return found


@pytest.mark.parametrize(("name", "script"), every_script())
def test_a_script_builds_a_key_only_to_ask_for_it(name, script):
    # A key built in Lua from a prefix (`ARGV[n] .. name`) is one the caller did not
    # declare: the script must ask for it before touching it.
    builds = re.search(r"ARGV\[[^\]]+\] \.\.", script.source)
    assert not builds or script.declares, name
