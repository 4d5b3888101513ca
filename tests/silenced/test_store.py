"""The silenced store: Cluster slots, atomic writes, expiry bookkeeping (section 13).

Through `app`, these run on fakeredis and on a real redis-server.
"""

from __future__ import annotations

import re
import threading

import pytest
from redis.crc import key_slot

from redisio.keys import Keys
from silenced import scripts
from silenced.store import Candidate, SilencedStore, Write


def slots(call) -> set[int]:
    if call.args[0] == "MGET":
        return {key_slot(key.encode()) for key in call.args[1:]}
    count = call.args[2]
    return {key_slot(key.encode()) for key in call.args[3 : 3 + count]}


def drain(steps, reply=None):
    """The calls of a Steps generator, each sent `reply` (enough to see its keys)."""
    calls = []
    try:
        calls.append(next(steps))
        while True:
            calls.append(steps.send(reply))
    except (StopIteration, TypeError, ValueError):
        return calls


@pytest.mark.parametrize("ns", ["default", "team-1", "a:b", "x.y_z"])
def test_every_key_of_a_namespace_shares_its_slot(ns):
    keys = Keys("stashd")
    found = {
        key_slot(key.encode())
        for key in (
            keys.namespace(ns),
            keys.silenced_index(ns),
            keys.silenced_expiry(ns),
            keys.silence(ns, "web:*"),
            keys.silence(ns, "{other}:x"),
        )
    }
    assert len(found) == 1


def test_every_script_call_names_keys_of_one_slot():
    store = SilencedStore(Keys("stashd"), "default")
    write = Write({"sub": "web"}, 60)
    pair = [Candidate("web:*", "web", ""), Candidate("*:disk", "", "disk")]
    calls = [
        store.put("team", "web:*", write, create=True, need_namespace=True),
        store.delete("team", "web:*"),
        store.fetch("team", ["a:*", "b:*", "c:*"]),
        store.match("team", pair, by_fields=True),
        store.resolve("team", pair, by_fields=False),
        *drain(store.page("team", 0, 10), [1, 0]),
        *drain(store.scan("team"), [1]),
    ]
    for call in calls:
        assert call.args[0] in ("EVALSHA", "MGET")
        assert len(slots(call)) == 1, call.args


def test_scripts_touch_only_the_keys_they_are_given():
    # A key built inside a script (prefix .. name) could leave the slot of KEYS.
    sources = [
        value.source
        for value in vars(scripts).values()
        if isinstance(value, scripts.Script)
    ]
    assert len(sources) >= 6
    for source in sources:
        concatenations = re.findall(r"\S+ \.\. \S+", source)
        assert concatenations in ([], ["'(' .. now,"]), concatenations


def test_an_expired_entry_leaves_hash_index_and_schedule(app, v1, shorten, keys):
    redis = app.extensions["redis"]
    v1.created(subscription="web", expire=60)
    v1.created(subscription="db")
    assert redis.zscore(keys.silenced_expiry("default"), "web:*") is not None
    shorten("web:*", -1)
    assert v1.ids(query="limit=10") == ["db:*"]
    assert redis.zrange(keys.silenced_index("default"), 0, -1) == [b"db:*"]
    assert redis.zcard(keys.silenced_expiry("default")) == 0
    assert not redis.exists(keys.silence("default", "web:*"))


def test_replacing_without_expire_leaves_the_schedule(app, v1, keys):
    redis = app.extensions["redis"]
    v1.created(subscription="web", expire=60)
    v1.created(subscription="web")
    assert redis.zcard(keys.silenced_expiry("default")) == 0
    assert redis.ttl(keys.silence("default", "web:*")) == -1
    assert redis.hget(keys.silence("default", "web:*"), "deadline") is None


def test_clear_removes_hash_and_both_index_entries(app, v1, keys):
    redis = app.extensions["redis"]
    v1.created(subscription="web", expire=60)
    assert v1.clear({"id": "web:*"}).status_code == 204
    assert redis.zcard(keys.silenced_index("default")) == 0
    assert redis.zcard(keys.silenced_expiry("default")) == 0
    assert not redis.exists(keys.silence("default", "web:*"))


def test_the_v1_namespace_is_a_setting(v1, keys, app):
    app.extensions["silenced"].v1_namespace  # noqa: B018 - present
    v1.created(subscription="web")
    assert app.extensions["redis"].exists(keys.silence("default", "web:*"))


class TestOtherNamespace:
    @pytest.fixture
    def config(self):
        return {"SILENCED_V1_NAMESPACE": "ops"}

    def test_writes_go_to_that_namespace(self, app, v1, keys):
        v1.created(subscription="web")
        redis = app.extensions["redis"]
        assert redis.exists(keys.silence("ops", "web:*"))
        assert not redis.exists(keys.silence("default", "web:*"))


def test_concurrent_posts_of_one_id_leave_one_consistent_entry(
    app, redis_client, keys, pttl
):
    clients = [app.test_client() for _ in range(8)]
    errors = []

    def post(i: int) -> None:
        for j in range(20):
            expire = 0 if (i + j) % 2 else 100 + i
            body = {"subscription": "web", "expire": expire, "reason": f"{i}-{j}"}
            if clients[i].post("/silenced", json=body).status_code != 201:
                errors.append(body)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    stored = redis_client.hgetall(keys.silence("default", "web:*"))
    scheduled = redis_client.zscore(keys.silenced_expiry("default"), "web:*")
    if int(stored[b"expire"]) > 0:
        assert int(stored[b"deadline"]) == scheduled
        assert pttl("web:*") > 0
    else:
        assert b"deadline" not in stored and scheduled is None
        assert pttl("web:*") == -1
    assert redis_client.zrange(keys.silenced_index("default"), 0, -1) == [b"web:*"]
