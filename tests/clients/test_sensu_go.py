"""The sensu-go 0.5.0 Python client, unmodified, against stashd under each server.

It runs from its own virtualenv (`make clients`), driven by drivers/sensu_go_client.py
through namespaces and assets: create, get, list past one page, select, update and
delete, with an API key and with a user and password (GET /auth, then Bearer).
"""

from __future__ import annotations

import json

import pytest

from tests.clients.test_clients import drive
from tests.servers import stashd_on_own_redis

pytestmark = [pytest.mark.clients, pytest.mark.http, pytest.mark.integration]

USER, PASSWORD, KEY = "sensu-admin", "p@ss:word", "sensu-go-client-key-0123"
NAMES = [f"team/asset-{i:03}:1.0" for i in range(105)]


@pytest.fixture(scope="module")
def stashd(server_kind, tmp_path_factory):
    env = {
        "STASHD_DATA_DIR": str(tmp_path_factory.mktemp("sensu-go")),
        "STASHD_API_USER": USER,
        "STASHD_API_PASSWORD": PASSWORD,
        "STASHD_API_KEY": KEY,
    }
    with stashd_on_own_redis(server_kind, env) as server:
        yield server


@pytest.mark.parametrize(
    "credentials", [(KEY,), (USER, PASSWORD)], ids=["api-key", "password"]
)
def test_sensu_go_client_namespaces_and_assets(stashd, credentials):
    output = drive("sensu-go", "sensu_go_client.py", stashd.url, *credentials)
    results = json.loads(output)
    assert results["namespace"] == "team-1"
    assert results["namespace_again"].startswith("raised: ValueError")  # it exists
    assert results["namespaces"] == ["default", "team-1"]
    assert results["create_many"] is True
    assert results["created"] == "https://example.com/asset-7.tar.gz"
    assert results["created_by"] == USER
    assert results["list"] == NAMES  # 105 assets: two pages of the client's 100
    gold = ["team/asset-000:1.0", "team/asset-050:1.0", "team/asset-100:1.0"]
    assert results["select_labels"] == gold
    assert results["select_fields"] == ["team/asset-001:1.0", "team/asset-002:1.0"]
    assert results["select_matches"] == [f"team/asset-10{i}:1.0" for i in range(5)]
    assert results["select_in_filters"] == 105
    assert results["update"] == "https://example.com/updated.tar.gz"
    assert results["create_existing"].startswith("raised: ValueError")
    assert results["delete"] is None
    assert results["find_deleted"] is None
    assert results["delete_again"].startswith("raised: ResponseError")
    assert results["count_after"] == 104
    assert results["delete_namespace"] is None


def test_sensu_go_client_with_wrong_password_fails_to_log_in(stashd):
    output = drive("sensu-go", "sensu_go_client.py", stashd.url, USER, "wrong")
    assert json.loads(output)["namespace"].startswith("raised: AuthError")
