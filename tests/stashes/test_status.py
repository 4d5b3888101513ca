"""/health and /info (spec stashes.md sections 6.7 and 6.8)."""

from __future__ import annotations

import pytest

from app import create_app
from core.settings import DEFAULTS
from tests.stashes.helpers import assert_empty, basic


def test_health_is_204_with_empty_body(client):
    assert_empty(client.get("/health"), 204)


def test_health_head_is_204(client):
    assert_empty(client.head("/health"), 204)


def test_health_accepts_consumers_and_messages_parameters(client):
    assert_empty(client.get("/health?consumers=1&messages=1000"), 204)


def test_health_accepts_any_query_parameters(client):
    assert_empty(client.get("/health?consumers=abc&messages=-5&x"), 204)


def test_health_ignores_a_json_body_on_get(client):
    # pysensu-ng's get_health() sends its thresholds as a JSON body.
    response = client.get("/health", json={"consumers": 100, "messages": 0})
    assert_empty(response, 204)


def test_health_ignores_a_body_that_is_not_json(client):
    assert_empty(client.get("/health", data="{not json"), 204)


def test_info_is_200_json_object(client):
    response = client.get("/info")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert isinstance(response.get_json(), dict)


def test_info_sensu_version_is_a_non_empty_string(client):
    version = client.get("/info").get_json()["sensu"]["version"]
    assert isinstance(version, str) and version


def test_info_redis_is_connected(client):
    assert client.get("/info").get_json()["redis"]["connected"] is True


def test_info_transport_is_an_object(client):
    assert isinstance(client.get("/info").get_json()["transport"], dict)


def test_info_servers_is_an_array(client):
    assert isinstance(client.get("/info").get_json()["servers"], list)


def test_info_settings_hexdigest_is_hex(client):
    digest = client.get("/info").get_json()["sensu"]["settings"]["hexdigest"]
    assert digest and int(digest, 16) >= 0


class TestSecrets:
    @pytest.fixture
    def config(self):
        return {"API_USER": "admin", "API_PASSWORD": "first secret"}

    def test_info_hexdigest_leaves_the_password_out(self, app, client):
        settings = {name: app.config[name] for name in DEFAULTS}
        other = create_app(
            {**settings, "API_PASSWORD": "second"}, redis=app.extensions["redis"]
        ).test_client()
        first = client.get("/info", headers=basic("admin", "first secret"))
        second = other.get("/info", headers=basic("admin", "second"))
        assert first.status_code == second.status_code == 200
        digest = first.get_json()["sensu"]["settings"]
        assert digest == second.get_json()["sensu"]["settings"]
        assert "first secret" not in first.get_data(as_text=True)
