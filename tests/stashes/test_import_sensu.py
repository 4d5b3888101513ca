"""`flask --app wsgi import-sensu`: stashes from a Sensu 1.x Redis into stashd."""

from __future__ import annotations

import json

import pytest
import redis

pytestmark = pytest.mark.integration


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


def sensu_stash(client, path, content, ttl=None):
    client.set(
        f"stash:{path}", content if isinstance(content, str) else json.dumps(content)
    )
    if ttl:
        client.expire(f"stash:{path}", ttl)
    client.sadd("stashes", path)


def test_import_sensu_copies_content_and_remaining_ttl(
    app, client, sensu, redis_server
):
    sensu_stash(sensu, "silence/web1", {"reason": "disk"}, ttl=3600)
    sensu_stash(sensu, "silence/db1/cpu", {"n": 1})
    sensu.sadd("stashes", "silence/gone")  # Sensu leaves expired paths in the set

    result = app.test_cli_runner().invoke(
        args=["import-sensu", source_url(redis_server)]
    )

    assert result.exit_code == 0, result.output
    assert "imported 2 stashes, skipped 0" in result.output
    listed = client.get("/stashes").get_json()
    assert [item["path"] for item in listed] == ["silence/db1/cpu", "silence/web1"]
    assert listed[0]["expire"] == -1
    assert 3590 < listed[1]["expire"] <= 3600
    assert listed[1]["content"] == {"reason": "disk"}


def test_import_sensu_skips_values_that_are_not_json_objects(
    app, client, sensu, redis_server
):
    sensu_stash(sensu, "ok", {"a": 1})
    sensu_stash(sensu, "broken", "{not json")
    sensu_stash(sensu, "list", [1, 2])

    result = app.test_cli_runner().invoke(
        args=["import-sensu", source_url(redis_server)]
    )

    assert result.exit_code == 0, result.output
    assert "imported 1 stashes, skipped 2" in result.output
    assert [item["path"] for item in client.get("/stashes").get_json()] == ["ok"]
