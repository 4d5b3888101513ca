"""Every key under `<KEY_PREFIX>:`; other prefixes never meet (spec 16.7)."""

from __future__ import annotations

import pytest
import redis

from app import create_app
from tests.stashes.helpers import Api

AWKWARD_PATHS = ["p", "a:b", "{stashes}:index", "../x", "*", "s:"]


def write_everything(api):
    for path in AWKWARD_PATHS:
        assert api.create(path, {"path": path}, expire=600).status_code == 201
        assert api.write(path + "/permanent", {}).status_code == 201
    api.delete("p/permanent")


def every_key(client: redis.Redis | redis.RedisCluster) -> list[bytes]:
    """Every key, of every primary on Redis Cluster."""
    if isinstance(client, redis.RedisCluster):
        return client.keys("*", target_nodes=redis.RedisCluster.PRIMARIES)
    return client.keys("*")


def test_key_prefix_default_is_stashd(api, redis_client):
    write_everything(api)
    written = every_key(redis_client)
    assert written
    assert all(key.startswith(b"stashd:") for key in written), written


class TestConfigured:
    @pytest.fixture
    def config(self):
        return {"KEY_PREFIX": "team-a.prod_1"}

    def test_key_prefix_starts_every_key(self, api, redis_client):
        write_everything(api)
        written = every_key(redis_client)
        assert written
        assert all(key.startswith(b"team-a.prod_1:") for key in written), written

    def test_key_prefix_separates_deployments(self, app, api):
        other = Api(
            create_app(
                {"KEY_PREFIX": "team-b", "REDIS_URL": app.config["REDIS_URL"]},
                redis=app.extensions["redis"],
            ).test_client()
        )
        write_everything(api)
        other.create("only-b", {"b": True})
        assert other.paths() == ["only-b"]
        assert "only-b" not in api.paths()
        assert other.get("p").status_code == 404
        assert other.delete("p").status_code == 404
        assert api.get("p").get_json() == {"path": "p"}
