"""`flask --app wsgi import-sensu` also copies a Sensu 1.x Redis's silences."""

from __future__ import annotations

import json

import pytest
import redis

pytestmark = pytest.mark.integration


@pytest.fixture
def backend() -> str:
    return "real"  # the source is database 1 of the same redis-server


def source_url(redis_server) -> str:
    return redis_server.url.replace("/0", "/1")


@pytest.fixture
def sensu(redis_server):
    """Database 1 of the test Redis, laid out as Sensu 1.x leaves it."""
    client = redis.Redis.from_url(source_url(redis_server))
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def sensu_silence(client, sid, value, ttl=None):
    key = f"silence:{sid}"
    client.set(key, value if isinstance(value, str) else json.dumps(value))
    if ttl:
        client.expire(key, ttl)
    client.sadd("silenced", key)


def run_import(app, redis_server):
    result = app.test_cli_runner().invoke(
        args=["import-sensu", source_url(redis_server)]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_import_copies_entries_with_remaining_ttls(app, v1, sensu, redis_server):
    entry = {
        "id": "web:disk",
        "subscription": "web",
        "check": "disk",
        "reason": "new disk",
        "creator": "ops",
        "begin": None,
        "expire_on_resolve": True,
        "timestamp": 1700000000,
    }
    sensu_silence(sensu, "web:disk", entry, ttl=3600)
    # Written before Sensu 0.28 / 1.2: no timestamp, no begin.
    sensu_silence(sensu, "*:cpu", {"id": "*:cpu", "subscription": None, "check": "cpu"})
    sensu.sadd("silenced", "silence:gone:*")  # Sensu cleans the set lazily
    sensu.sadd("stashes", "silence/web1")
    sensu.set("stash:silence/web1", "{}")

    output = run_import(app, redis_server)

    assert "imported 1 stashes, skipped 0" in output
    assert "imported 2 silences, skipped 0" in output
    items = {item["id"]: item for item in v1.items()}
    assert sorted(items) == ["*:cpu", "web:disk"]
    web = items["web:disk"]
    assert 3590 < web["expire"] <= 3600
    assert web["timestamp"] == 1700000000
    assert (web["reason"], web["creator"], web["expire_on_resolve"]) == (
        "new disk",
        "ops",
        True,
    )
    assert web["begin"] is None
    cpu = items["*:cpu"]
    assert cpu["expire"] == -1 and cpu["subscription"] is None
    assert isinstance(cpu["timestamp"], int) and cpu["begin"] is None


def test_import_makes_sensus_null_ids_match(app, v1, sensu, redis_server):
    # Sensu stored {"subscription": null, "check": "foo"} as silence::foo.
    sensu_silence(sensu, ":foo", {"id": ":foo", "subscription": None, "check": "foo"})
    run_import(app, redis_server)
    assert v1.ids() == ["*:foo"]
    assert v1.match(check="foo")["silenced_by"] == ["*:foo"]


def test_import_skips_and_reports_what_it_cannot_read(app, v1, sensu, redis_server):
    sensu_silence(sensu, "ok:*", {"subscription": "ok", "check": None})
    sensu_silence(sensu, "broken:*", "{not json")
    sensu_silence(sensu, "list:*", [1, 2])
    sensu_silence(sensu, "nothing", {"subscription": None, "check": None})
    sensu_silence(sensu, "typed:*", {"subscription": "typed", "begin": "soon"})
    sensu.set("elsewhere", json.dumps({"subscription": "x"}))
    sensu.sadd("silenced", "elsewhere")

    output = run_import(app, redis_server)

    assert "imported 1 silences, skipped 5" in output
    assert "broken" in output and "elsewhere" in output
    assert v1.ids() == ["ok:*"]
