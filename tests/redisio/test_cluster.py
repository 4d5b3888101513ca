"""The lean clients over Redis Cluster: the slot map, MOVED, ASK and TRYAGAIN."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from redis.crc import key_slot

from core.settings_load import load
from redisio.calls import Call
from redisio.cluster import ClusterBlockingClient, ClusterPipelinedClient, call_slot
from redisio.keys import Keys
from redisio.pipelined import make_pipelined
from redisio.wire import pack_keys
from stashes.store import StashStore
from tests.ha import ClusterSetup

KEYS = Keys("stashd")
STORE = StashStore(KEYS)
STASH_SLOT = key_slot(b"stashes")


@pytest.mark.parametrize(
    ("args", "key"),
    [
        (("GET", "a{t}b"), b"t"),
        ((b"set", "k", "v"), b"k"),
        (("EVALSHA", "0" * 40, 2, "x{s}", "y{s}", "arg"), b"s"),
        (("EVAL", "return 1", 1, "k"), b"k"),
    ],
)
def test_a_call_goes_to_the_slot_of_its_first_key(args, key):
    assert call_slot(args) == key_slot(key)


def slot(tag: str) -> int:
    return key_slot(tag.encode())


def test_a_packed_call_goes_to_the_slot_of_its_first_key():
    packed = pack_keys("MGET", "p:{ns:x}:", ["a", "b"], (":*", ":c"), "*:c")
    assert isinstance(packed, bytes)
    assert call_slot(packed) == slot("ns:x")


@pytest.mark.parametrize(
    "args", [("PING",), ("WAIT", 1, 100), ("EVALSHA", "0" * 40, 0, "arg")]
)
def test_a_call_without_keys_has_no_slot(args):
    assert call_slot(args) is None


@pytest.fixture
def cluster(redis_cluster: ClusterSetup) -> Iterator[ClusterSetup]:
    redis_cluster.flushall()
    yield redis_cluster


def both(cluster: ClusterSetup) -> tuple[ClusterBlockingClient, Any]:
    config = load({"REDIS_URL": cluster.url()})
    lean = make_pipelined(config)
    assert isinstance(lean, ClusterPipelinedClient)
    return ClusterBlockingClient(config), lean


def on_loop(lean: ClusterPipelinedClient, *calls: Call) -> list[Any]:
    async def main() -> list[Any]:
        try:
            return [await lean.run(call) for call in calls]
        finally:
            lean.close()

    return asyncio.run(main())


@pytest.mark.integration
def test_both_clients_reach_every_primary(cluster):
    blocking, lean = both(cluster)
    calls = [Call(("SET", f"k{n}", str(n)), write=True) for n in range(30)]
    for call in calls[:15]:
        blocking.run(call)
    on_loop(lean, *calls[15:])
    reads = [Call(("GET", f"k{n}")) for n in range(30)]
    assert [blocking.run(c) for c in reads] == [str(n).encode() for n in range(30)]
    _, lean = both(cluster)
    assert on_loop(lean, *reads) == [str(n).encode() for n in range(30)]
    owners = {cluster.owner(key_slot(f"k{n}".encode())) for n in range(30)}
    assert len(owners) == 3
    blocking.close()


@pytest.mark.integration
def test_both_clients_send_a_packed_call_to_its_slot(cluster):
    blocking, lean = both(cluster)
    for n, node in enumerate(cluster.nodes):  # a tag on each primary
        tag = next(
            f"t{i}" for i in range(999) if cluster.owner(slot(f"t{i}")) == node.port
        )
        prefix = f"p:{{{tag}}}:"
        blocking.run(Call(("SET", prefix + "a:c", f"v{n}"), write=True))
        call = Call(pack_keys("MGET", prefix, ["a", "b"], (":*", ":c"), "*:c"))
        assert isinstance(call.args, bytes)
        assert blocking.run(call) == [None, f"v{n}".encode(), None, None, None]
        _, lean = both(cluster)
        assert on_loop(lean, call) == [[None, f"v{n}".encode(), None, None, None]]
    blocking.close()


@pytest.mark.integration
def test_both_clients_follow_a_slot_that_moved(cluster):
    blocking, lean = both(cluster)
    blocking.run(STORE.put("before", b"{}", None))  # the maps are read now
    assert on_loop(lean, STORE.get("before")) == [b"{}"]
    source = cluster.owner(STASH_SLOT)
    target = next(n.port for n in cluster.nodes if n.port != source)
    cluster.begin_migration(STASH_SLOT, target)
    cluster.finish_migration(STASH_SLOT, source, target)
    assert blocking.run(STORE.get("before")) == b"{}"  # MOVED, then there
    assert on_loop(lean, STORE.put("after", b"{}", None), STORE.get("before")) == [
        1,
        b"{}",
    ]
    assert blocking.run(STORE.get("after")) == b"{}"
    blocking.close()


@pytest.mark.integration
def test_both_clients_ask_the_importing_node_for_keys_not_migrated(cluster):
    blocking, lean = both(cluster)
    slot = key_slot(b"elsewhere")
    blocking.run(Call(("SET", "a{elsewhere}", "old"), write=True))
    source = cluster.owner(slot)
    target = next(n.port for n in cluster.nodes if n.port != source)
    cluster.begin_migration(slot, target)
    try:
        # Not on the migrating node: ASK, then ASKING and the command on the target.
        blocking.run(Call(("SET", "b{elsewhere}", "new"), write=True))
        on_loop(lean, Call(("SET", "c{elsewhere}", "new"), write=True))
        assert blocking.run(Call(("GET", "a{elsewhere}"))) == b"old"
        with cluster.node(target) as dst:
            dst.execute_command("ASKING")
            assert dst.execute_command("GET", "b{elsewhere}") == b"new"
            dst.execute_command("ASKING")
            assert dst.execute_command("GET", "c{elsewhere}") == b"new"
        # A script over keys on both sides cannot run until the slot has moved:
        # TRYAGAIN, tried again a few times, then a connection error (a 500).
        both_sides = Call(("EVAL", "return 1", 2, "a{elsewhere}", "b{elsewhere}"))
        with pytest.raises(redis.ConnectionError, match="redirections"):
            blocking.run(both_sides)
    finally:
        cluster.finish_migration(slot, source, target)
    assert blocking.run(Call(("GET", "b{elsewhere}"))) == b"new"
    _, lean = both(cluster)
    assert on_loop(lean, Call(("GET", "a{elsewhere}"))) == [b"old"]
    blocking.close()


def test_rediss_cluster_urls_take_tls_to_every_node():
    config = load({"REDIS_URL": "rediss+cluster://u:pw@127.0.0.1:1?ssl_cert_reqs=none"})
    blocking = ClusterBlockingClient(config)
    node = blocking._node(("127.0.0.1", 2))._connect()
    assert isinstance(node, redis.SSLConnection)
    assert (node.host, node.port, node.password) == ("127.0.0.1", 2, "pw")
    lean = make_pipelined(config)
    assert isinstance(lean, ClusterPipelinedClient)
    pipelined = lean._node(("127.0.0.1", 2))
    assert pipelined.tls is not None
    assert (pipelined.params["host"], pipelined.params["port"]) == ("127.0.0.1", 2)


@pytest.mark.integration
def test_both_clients_follow_a_replica_taking_over_a_dead_primary():
    cluster = ClusterSetup(replicas=1)
    try:
        cluster.start()
        blocking, lean = both(cluster)
        put = STORE.put("p", b"{}", None)
        blocking.run(put)
        assert on_loop(lean, STORE.get("p")) == [b"{}"]  # both maps are read
        old = cluster.owner(STASH_SLOT)
        # Replication is asynchronous: a write the replica has not confirmed may
        # be lost with its primary (STASHD_REDIS_WAIT_REPLICAS is for that).
        cluster.wait_replicated(old)
        cluster.kill(old)
        deadline = time.monotonic() + 20
        for run in (
            lambda: blocking.run(STORE.get("p")),
            lambda: on_loop(lean, STORE.get("p"))[0],
        ):
            while True:
                started = time.monotonic()
                try:
                    assert run() == b"{}"
                    break
                except redis.ConnectionError:
                    assert time.monotonic() - started < 2
                assert time.monotonic() < deadline, "no replica took over"
                time.sleep(0.05)
        promoted = cluster.owner(STASH_SLOT)
        assert promoted != old
        blocking.close()
    finally:
        cluster.remove()
