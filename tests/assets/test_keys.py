"""The Redis key layout of the Sensu Go API: Cluster slots, and what gets stored."""

from __future__ import annotations

import pytest
from redis.crc import key_slot

from redisio.keys import Keys
from tests.sensugo import asset


@pytest.mark.parametrize("ns", ["default", "a.b-c:d_1"])
def test_every_key_of_a_namespace_shares_one_cluster_slot(ns):
    keys = Keys("stashd")
    names = ["x", "sensu/slack:1.0", "{braces}", "/a//b/"]
    slots = {
        key_slot(key.encode())
        for key in [keys.namespace(ns), keys.asset_index(ns)]
        + [keys.asset(ns, name) for name in names]
    }
    assert len(slots) == 1


def test_namespaces_spread_over_slots():
    keys = Keys("stashd")
    slots = {key_slot(keys.asset_index(f"ns{i}").encode()) for i in range(20)}
    assert len(slots) > 1


def test_every_account_key_shares_one_cluster_slot():
    keys = Keys("stashd")
    slots = {
        key_slot(key.encode())
        for key in [
            keys.user("admin"),
            keys.user_index,
            keys.apikey("ab" * 32),
            keys.apikey_index,
            keys.access_token("cd" * 32),
            keys.refresh_token("ef" * 32),
            keys.configured_key,
            keys.seeded,
        ]
    }
    assert len(slots) == 1


def test_an_asset_is_a_hash_beside_its_namespace_index(app, sensu, redis_client):
    keys = Keys(app.config["KEY_PREFIX"])
    sensu.create(asset("sensu/x"))
    assert redis_client.type(keys.asset("default", "sensu/x")) == b"hash"
    assert redis_client.zrange(keys.asset_index("default"), 0, -1) == [b"sensu/x"]
    sensu.delete("sensu/x")
    assert not redis_client.exists(keys.asset("default", "sensu/x"))
    assert redis_client.zcard(keys.asset_index("default")) == 0


@pytest.mark.parametrize(
    "attempt",
    [
        lambda s: s.create(asset("x", "nowhere"), "nowhere"),
        lambda s: s.put(asset("x", "nowhere")),
        lambda s: s.create(asset("x", sha512="short"), "default"),
        lambda s: s.create(asset("x"), headers={"Authorization": None}),
        lambda s: s.request("POST", "/api/core/v2/namespaces", {"name": "a b"}),
    ],
)
def test_failed_writes_leave_redis_as_it_was(app, sensu, redis_client, attempt):
    before = {key: redis_client.dump(key) for key in redis_client.keys("*")}
    assert attempt(sensu).status_code >= 400
    after = {key: redis_client.dump(key) for key in redis_client.keys("*")}
    assert after == before
