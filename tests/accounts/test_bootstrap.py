"""Start-up seeding: default namespace, administrator, API key, generated admin."""

from __future__ import annotations

import base64
import logging
import os
import stat

import fakeredis
import pytest

from app import create_app
from core.addresses import trusted_proxies
from core.config_error import ConfigError
from core.settings_load import load
from server.bootstrap import bootstrap, password_file

NS = "/api/core/v2/namespaces"


@pytest.fixture
def redis():
    return fakeredis.FakeRedis()


@pytest.fixture
def start(redis, tmp_path):
    """start(**settings): bootstrap as a launcher would, then a test client."""

    def start(**settings):
        config = load({"DATA_DIR": str(tmp_path / "data"), **settings})
        bootstrap(config, redis)
        return create_app(config, redis=redis).test_client()

    return start


def basic(user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def login_status(client, user, password):
    return client.get("/auth", headers=basic(user, password)).status_code


def test_newcomer_gets_admin_with_generated_password_in_a_private_file(
    start, tmp_path, caplog
):
    caplog.set_level(logging.INFO)
    client = start()
    path = tmp_path / "data" / "admin-password"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    password = path.read_text().strip()
    assert len(password) >= 20
    assert login_status(client, "admin", password) == 200
    assert login_status(client, "admin", "wrong") == 401
    assert password in caplog.text  # shown once, at the start that made it


def test_generated_password_is_kept_and_not_logged_again(start, tmp_path, caplog):
    start()
    password = (tmp_path / "data" / "admin-password").read_text().strip()
    caplog.clear()
    caplog.set_level(logging.INFO)
    client = start()
    assert (tmp_path / "data" / "admin-password").read_text().strip() == password
    assert password not in caplog.text
    assert "admin-password" in caplog.text
    assert login_status(client, "admin", password) == 200


def test_deleting_the_password_file_makes_a_new_password(start, tmp_path):
    start()
    path = tmp_path / "data" / "admin-password"
    old = path.read_text().strip()
    path.unlink()
    client = start()
    new = path.read_text().strip()
    assert new != old
    assert login_status(client, "admin", old) == 401
    assert login_status(client, "admin", new) == 200


def test_configured_user_is_created_and_updated(start):
    client = start(API_USER="ops", API_PASSWORD="one")
    assert login_status(client, "ops", "one") == 200
    client = start(API_USER="ops", API_PASSWORD="two")
    assert login_status(client, "ops", "one") == 401
    assert login_status(client, "ops", "two") == 200


def test_configuring_a_user_removes_the_generated_admin(start, tmp_path):
    start()
    path = tmp_path / "data" / "admin-password"
    generated = path.read_text().strip()
    client = start(API_USER="ops", API_PASSWORD="pw")
    assert login_status(client, "admin", generated) == 401
    assert not path.exists()


def test_configured_admin_named_admin_takes_over(start, tmp_path):
    start()
    client = start(API_USER="admin", API_PASSWORD="chosen")
    assert login_status(client, "admin", "chosen") == 200


def test_no_generated_admin_once_a_user_was_configured(start, tmp_path):
    start(API_USER="ops", API_PASSWORD="pw")
    client = start()
    assert not (tmp_path / "data" / "admin-password").exists()
    assert login_status(client, "ops", "pw") == 200


def test_configured_api_key_works_and_is_revoked_when_unset(start):
    key = "k" * 16
    headers = {"Authorization": f"Key {key}"}
    client = start(API_USER="ops", API_PASSWORD="pw", API_KEY=key)
    assert client.get(NS, headers=headers).status_code == 200
    client = start(API_USER="ops", API_PASSWORD="pw", API_KEY="n" * 16)
    assert client.get(NS, headers=headers).status_code == 401
    client = start(API_USER="ops", API_PASSWORD="pw")
    assert (
        client.get(NS, headers={"Authorization": "Key " + "n" * 16}).status_code == 401
    )


def test_default_namespace_exists_after_the_first_start(start):
    client = start(API_USER="ops", API_PASSWORD="pw", API_KEY="k" * 16)
    headers = {"Authorization": "Key " + "k" * 16}
    assert client.get(NS, headers=headers).get_json() == [{"name": "default"}]


def test_password_file_follows_the_data_dir():
    assert password_file({"DATA_DIR": "/srv/stashd"}) == "/srv/stashd/admin-password"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"API_KEY": "k" * 16}, "STASHD_API_KEY needs"),
        (
            {"API_USER": "a", "API_PASSWORD": "b", "API_KEY": "short"},
            "at least 16",
        ),
        ({"API_REQUEST_LIMIT": 0}, "STASHD_API_REQUEST_LIMIT"),
        ({"ACCESS_TOKEN_TTL": -1}, "STASHD_ACCESS_TOKEN_TTL"),
        (
            {"ACCESS_TOKEN_TTL": 600, "REFRESH_TOKEN_TTL": 60},
            "STASHD_REFRESH_TOKEN_TTL",
        ),
        ({"AUTH_FAILURES": 0}, "STASHD_AUTH_FAILURES"),
        ({"AUTH_FAILURE_WINDOW": -60}, "STASHD_AUTH_FAILURE_WINDOW"),
        ({"TRUSTED_PROXIES": "10.0.0.0/33"}, "STASHD_TRUSTED_PROXIES"),
        ({"TRUSTED_PROXIES": "10.0.0.1 proxy.example"}, "'proxy.example'"),
    ],
)
def test_bad_settings_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        load(settings)


def login(client, user, password):
    response = client.get("/auth", headers=basic(user, password))
    assert response.status_code == 200, response.data
    return response.get_json()


def bearer_status(client, tokens):
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    return client.get(NS, headers=headers).status_code


def refresh_status(client, tokens):
    return client.post(
        "/auth/token",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        json={"refresh_token": tokens["refresh_token"]},
    ).status_code


def test_a_new_admin_password_at_start_ends_its_tokens(start, caplog):
    client = start(API_USER="ops", API_PASSWORD="one")
    tokens = login(client, "ops", "one")
    assert bearer_status(client, tokens) == 200
    caplog.set_level(logging.INFO)
    client = start(API_USER="ops", API_PASSWORD="two")
    assert bearer_status(client, tokens) == 401
    assert refresh_status(client, tokens) == 401
    assert "new password for user ops" in caplog.text


def test_the_same_admin_password_at_start_keeps_its_tokens(start):
    client = start(API_USER="ops", API_PASSWORD="one", API_KEY="k" * 16)
    tokens = login(client, "ops", "one")
    client = start(API_USER="ops", API_PASSWORD="one", API_KEY="k" * 16)
    assert bearer_status(client, tokens) == 200
    assert refresh_status(client, tokens) == 200


def test_a_new_api_user_removes_the_previous_one_once(start, caplog):
    client = start(API_USER="ops", API_PASSWORD="pw")
    tokens = login(client, "ops", "pw")
    created = client.post(
        "/api/core/v2/apikeys",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        json={"username": "ops"},
    )
    key = {"Authorization": "Key " + created.headers["Location"].rsplit("/", 1)[1]}
    assert client.get(NS, headers=key).status_code == 200
    caplog.set_level(logging.INFO)
    client = start(API_USER="root", API_PASSWORD="pw")
    assert login_status(client, "ops", "pw") == 401
    assert client.get(NS, headers=key).status_code == 401
    assert bearer_status(client, tokens) == 401
    assert refresh_status(client, tokens) == 401
    assert login_status(client, "root", "pw") == 200
    removed = "removed user ops, the previous STASHD_API_USER"
    assert caplog.text.count(removed) == 1
    caplog.clear()
    start(API_USER="root", API_PASSWORD="pw")
    assert removed not in caplog.text


def test_unsetting_api_user_keeps_the_previous_one(start):
    start(API_USER="ops", API_PASSWORD="pw")
    client = start()
    assert login_status(client, "ops", "pw") == 200
    client = start(API_USER="ops", API_PASSWORD="pw")
    assert login_status(client, "ops", "pw") == 200


def test_trusted_proxies_take_addresses_and_networks():
    config = load({"TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16 ::1"})
    assert config["TRUSTED_PROXIES"] == "10.0.0.1, 192.168.0.0/16 ::1"
    assert [str(n) for n in trusted_proxies(config["TRUSTED_PROXIES"])] == [
        "10.0.0.1/32",
        "192.168.0.0/16",
        "::1/128",
    ]
