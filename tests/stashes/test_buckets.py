"""Stash buckets: today's keys on one Redis, buckets spread over a cluster's
primaries, and pages found by a rank search across buckets."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from core.settings_load import load
from redisio.cluster import ClusterBlockingClient, ClusterPipelinedClient
from redisio.keys import STASH_BUCKETS, Keys, StashKeys, stash_tags
from redisio.pipelined import make_pipelined
from stashes.buckets import SEEK_SLACK, BucketedStashStore
from stashes.store import StashStore
from tests.ha import ClusterSetup

KEYS = Keys("stashd")
STASHES = 3_000


def test_one_bucket_keeps_the_keys_of_a_single_redis():
    assert KEYS.stash_buckets(1) == [
        StashKeys(
            "stashd:{stashes}:index", "stashd:{stashes}:expiry", "stashd:{stashes}:s:"
        )
    ]
    assert StashStore(KEYS).bucket("any") == KEYS.stash_buckets(1)[0]


def test_bucket_tags_fall_evenly_over_the_slot_space():
    tags = stash_tags(STASH_BUCKETS)
    assert len(set(tags)) == STASH_BUCKETS
    shares = [key_slot(tag.encode()) * STASH_BUCKETS // 16384 for tag in tags]
    assert shares == list(range(STASH_BUCKETS))
    # A fresh cluster of three primaries splits the slots in three equal ranges.
    thirds = [key_slot(tag.encode()) * 3 // 16384 for tag in tags]
    assert sorted(thirds.count(third) for third in range(3)) == [5, 5, 6]


@pytest.fixture(scope="module")
def filled(redis_cluster: ClusterSetup) -> Iterator[tuple[ClusterSetup, list[str]]]:
    """The cluster holding STASHES stashes, written through the pipelined client."""
    redis_cluster.flushall()
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    lean = make_pipelined(load({"REDIS_URL": redis_cluster.url()}))
    paths = [f"host{n % 97}/check{n}" for n in range(STASHES)]

    async def fill() -> None:
        try:
            for start in range(0, STASHES, 500):
                chunk = paths[start : start + 500]
                await asyncio.gather(
                    *(lean.run(store.put(p, b'{"x":1}', 600)) for p in chunk)
                )
        finally:
            lean.close()

    asyncio.run(fill())
    yield redis_cluster, sorted(paths)
    redis_cluster.flushall()


@pytest.mark.integration
def test_stashes_spread_over_every_primary(filled):
    cluster, _ = filled
    sizes = []
    for node in cluster.nodes:
        with redis.Redis(port=node.port) as client:
            sizes.append(client.dbsize())
    assert min(sizes) >= 0.15 * sum(sizes), sizes


def counting(client: ClusterBlockingClient, steps: Any) -> tuple[Any, int]:
    """Drive `steps`, counting its steps (a list of calls counts as one)."""
    count = 0

    def counted() -> Any:
        nonlocal count
        reply = None
        try:
            step = steps.send(None)
            while True:
                count += 1
                reply = yield step
                step = steps.send(reply)
        except StopIteration as done:
            return done.value

    return client.drive(counted()), count


@pytest.mark.integration
@pytest.mark.parametrize("offset", [0, 1, 63, 64, 65, 200, 1500, 2950, 2999, 3000])
@pytest.mark.parametrize("limit", [1, 25])
def test_a_page_is_the_same_as_from_one_sorted_list(filled, offset, limit):
    cluster, paths = filled
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    client = ClusterBlockingClient(load({"REDIS_URL": cluster.url()}))
    (total, items), steps = counting(client, store.page(offset, limit))
    client.close()
    assert total == STASHES
    assert [item.path for item in items] == paths[offset : offset + limit]
    assert all(item.expire > 590 and item.content == b'{"x":1}' for item in items)
    # Counts, a few seek rounds of two, one read: not in proportion to the offset.
    assert steps <= 10


@pytest.mark.integration
def test_the_whole_list_merges_every_bucket_in_order(filled):
    cluster, paths = filled
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    lean = make_pipelined(load({"REDIS_URL": cluster.url()}))
    assert isinstance(lean, ClusterPipelinedClient)

    async def both() -> tuple[Any, Any]:
        try:
            return (
                await lean.drive(store.scan()),
                await lean.drive(store.page(1234, 100)),
            )
        finally:
            lean.close()

    everything, (total, page) = asyncio.run(both())
    assert [item.path for item in everything] == paths
    assert total == STASHES
    assert [item.path for item in page] == paths[1234:1334]


@pytest.mark.integration
@pytest.mark.parametrize("offset", [100, 1500, 2900])
def test_the_rank_search_stops_close_to_the_offset(filled, offset):
    cluster, _ = filled
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    client = ClusterBlockingClient(load({"REDIS_URL": cluster.url()}))

    def seek() -> Any:
        counts = yield from store._counts()
        return (yield from store._seek(offset, counts))

    (_, skip), steps = counting(client, seek())
    client.close()
    assert skip <= SEEK_SLACK
    assert steps <= 1 + 2 * 3


def test_accounts_namespaces_and_the_default_namespace_fall_in_three_thirds():
    plain = Keys("stashd")
    assert (plain.user_index, plain.namespace_index) == (
        "stashd:{accounts}:users",
        "stashd:{namespaces}:index",
    )
    spread = Keys("stashd", cluster=True)
    tags = [
        key.split("{")[1].split("}")[0]
        for key in (
            spread.user_index,
            spread.namespace_index,
            spread.namespace("default"),
        )
    ]
    assert [key_slot(tag.encode()) * 3 // 16384 for tag in tags] == [0, 1, 2]


@pytest.mark.integration
def test_a_list_while_a_bucket_migrates_drops_no_stash(redis_cluster):
    cluster = redis_cluster
    cluster.flushall()
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    client = ClusterBlockingClient(load({"REDIS_URL": cluster.url()}))
    paths = sorted(f"m{n}" for n in range(200))
    for path in paths:
        client.run(store.put(path, b"{}", None))
    moving = store.bucket(paths[0])
    slot = key_slot(moving.paths.split("{")[1].split("}")[0].encode())
    source = cluster.owner(slot)
    target = next(n.port for n in cluster.nodes if n.port != source)
    cluster.begin_migration(slot, target)
    try:
        # Half its content keys gone ahead: the scripts declare them, so Redis
        # tells the client to try again instead of the list thinking them deleted.
        mine = [p for p in paths if store.bucket(p) == moving]
        with cluster.node(source) as src:
            src.execute_command(
                "MIGRATE", "127.0.0.1", target, "", 0, 5000,
                "KEYS", *(moving.prefix + p for p in mine[::2]),
            )  # fmt: skip
        with pytest.raises(redis.ConnectionError):
            client.drive(store.scan())
    finally:
        cluster.finish_migration(slot, source, target)
    total, items = client.drive(store.page(0, 1000))
    assert total == len(paths)
    assert [item.path for item in items] == paths
    client.close()
    cluster.flushall()


@pytest.mark.integration
@pytest.mark.parametrize("offset", [0, 150, 290])
def test_a_page_from_buckets_far_from_even_is_whole_and_in_order(redis_cluster, offset):
    # Each bucket is read a little past its even share of a page at first: here
    # nearly every path sits in one bucket, so that one is read again and again.
    cluster = redis_cluster
    cluster.flushall()
    store = BucketedStashStore(KEYS, STASH_BUCKETS)
    client = ClusterBlockingClient(load({"REDIS_URL": cluster.url()}))
    crowded = store.bucket("c0")
    candidates = (f"c{n}" for n in range(100_000))
    paths = [p for p in candidates if store.bucket(p) == crowded][:290]
    paths += ["a-first", "zz-last"]
    for path in paths:
        client.run(store.put(path, b"{}", None))
    total, items = client.drive(store.page(offset, 100))
    client.close()
    cluster.flushall()
    assert total == len(paths)
    assert [item.path for item in items] == sorted(paths)[offset : offset + 100]
