"""One registry, two views (D1, section 12): Uchiwa's entries are sensuctl's."""

from __future__ import annotations

import json
import time

import pytest

from tests.silenced.go.helpers import names, silence, url
from tests.silenced.helpers import V1


@pytest.fixture
def v1(client):
    return V1(client)


def test_a_1x_entry_in_the_go_view(v1, sensu):
    v1.created(
        subscription="client:web1",
        check="disk",
        reason="new disk",
        creator="uchiwa-admin",
        expire=3600,
        expire_on_resolve=True,
    )
    entry = sensu.request("GET", url(name="client:web1:disk")).get_json()
    assert entry["metadata"] == {"name": "client:web1:disk", "namespace": "default"}
    assert entry["subscription"] == "client:web1" and entry["check"] == "disk"
    assert entry["creator"] == "uchiwa-admin" and entry["reason"] == "new disk"
    assert entry["expire"] == 3600 and entry["expire_on_resolve"] is True
    assert abs(entry["expire_at"] - (time.time() + 3600)) < 5
    assert entry["begin"] == v1.entry("client:web1:disk").get_json()["timestamp"]


def test_a_go_entry_in_the_1x_view(v1, sensu):
    begin = int(time.time()) - 10
    body = silence(subscription="linux", check="cpu", expire=600, begin=begin)
    assert sensu.request("POST", url(), body).status_code == 201
    entry = v1.entry("linux:cpu").get_json()
    assert entry["subscription"] == "linux" and entry["check"] == "cpu"
    assert entry["creator"] == "admin" and entry["reason"] == "maintenance"
    assert entry["begin"] == begin
    assert 585 <= entry["expire"] <= 590  # remaining: expire_at = begin + expire


def test_absent_sides_null_in_1x_omitted_in_go(v1, sensu):
    v1.created(check="disk")
    assert "subscription" not in sensu.request("GET", url(name="*:disk")).get_json()
    sensu.request("POST", url(), silence(subscription="linux", check=""))
    assert v1.entry("linux:*").get_json()["check"] is None


def test_go_check_with_a_colon_shows_in_1x_as_is(v1, sensu):
    sensu.request("POST", url(), silence(subscription="linux", check="a:b"))
    assert v1.ids() == ["linux:a:b"]


def test_deletes_and_clears_cross_views(v1, sensu):
    v1.created(subscription="web")
    assert sensu.request("DELETE", url(name="web:*")).status_code == 204
    assert v1.ids() == []
    sensu.request("POST", url(), silence(check="disk"))
    assert v1.clear({"check": "disk"}).status_code == 204
    assert names(sensu.request("GET", url())) == []


def test_1x_post_replaces_what_go_would_409(v1, sensu):
    sensu.request("POST", url(), silence(subscription="web"))
    v1.created(subscription="web", reason="from uchiwa")
    assert sensu.request("POST", url(), silence(subscription="web")).status_code == 409
    assert sensu.request("GET", url(name="web:*")).get_json()["reason"] == (
        "from uchiwa"
    )


def test_other_namespaces_stay_out_of_the_1x_view(v1, sensu):
    sensu.namespace("team")
    sensu.request("POST", url("team"), silence("team", subscription="web"))
    assert v1.ids() == []
    assert v1.match(check="x", subscription="web")["silenced"] is False


def test_sensu_go_client_round_trip_keeps_the_entry(sensu):
    # The client PUTs back what it read: expire -1, expire_at and begin included.
    sensu.request("POST", url(), silence(subscription="linux", expire=60))
    read = sensu.request("GET", url(name="linux:*")).get_json()
    read["reason"] = "longer"
    read["expire"] = 120  # sensuctl update: the deadline moves (D7)
    assert sensu.request("PUT", url(name="linux:*"), read).status_code == 201
    after = sensu.request("GET", url(name="linux:*")).get_json()
    assert after["reason"] == "longer"
    assert after["expire_at"] == read["begin"] + 120


class TestOtherV1Namespace:
    @pytest.fixture
    def config(self, tmp_path):
        return {"DATA_DIR": str(tmp_path / "data"), "SILENCED_V1_NAMESPACE": "ops"}

    def test_the_1x_view_is_that_namespace(self, v1, sensu):
        sensu.namespace("ops")
        v1.created(subscription="web")
        assert names(sensu.request("GET", url("ops"))) == ["web:*"]
        assert names(sensu.request("GET", url())) == []
        every = sensu.request("GET", "/api/core/v2/silenced").get_json()
        assert [i["metadata"]["namespace"] for i in every] == ["ops"]


def test_match_through_the_go_view_uses_fields(v1, sensu):
    v1.created(subscription="client:web1")
    sensu.request("POST", url(), silence(subscription="entity:web1", check="disk"))
    found = sensu.request("GET", url() + "/match?entity=web1&check=disk").get_json()
    assert found == {"silenced": True, "silenced_by": ["entity:web1:disk"]}
    by_sub = url() + "/match?entity=x&check=disk&subscription=client:web1"
    assert json.loads(sensu.request("GET", by_sub).data)["silenced_by"] == [
        "client:web1:*"
    ]
