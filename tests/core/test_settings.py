"""The settings table: parsing by declared kind, defaults, checks, the public digest."""

from __future__ import annotations

import os

import pytest

from core.addresses import binds, redis_target
from core.config_error import ConfigError
from core.settings import (
    DEFAULT_CORS,
    DEFAULTS,
    SETTINGS,
    cors_headers,
    public_settings,
)
from core.settings_load import from_env, load
from tests.servers import ROOT


def test_every_setting_is_declared_once_with_a_reason():
    names = [setting.name for setting in SETTINGS]
    assert len(names) == len(set(names))
    assert all(setting.why for setting in SETTINGS)
    assert list(DEFAULTS) == names


def test_defaults_are_valid():
    assert load({}) == dict(DEFAULTS)


def test_readme_documents_every_setting():
    with open(os.path.join(ROOT, "README.md")) as readme:
        text = readme.read()
    missing = [s.name for s in SETTINGS if f"`STASHD_{s.name}`" not in text]
    assert missing == []


def test_from_env_reads_only_stashd_variables_that_are_set():
    environ = {"STASHD_KEY_PREFIX": "mine", "STASHD_DATA_DIR": "", "KEY_PREFIX": "x"}
    assert from_env(environ) == {"KEY_PREFIX": "mine"}


@pytest.mark.parametrize("text", ["1234", "true", "null", '{"a": 1}', " spaced "])
def test_string_settings_stay_the_text_typed(text):
    assert from_env({"STASHD_API_PASSWORD": text}) == {"API_PASSWORD": text}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        *[(text, True) for text in ("1", "true", "yes", "on", "TRUE", " On ")],
        *[(text, False) for text in ("0", "false", "no", "off", "False", " OFF ")],
    ],
)
def test_bool_settings_take_the_usual_words(text, value):
    assert from_env({"STASHD_FAST_PATH": text}) == {"FAST_PATH": value}


def test_numbers_and_json_are_parsed_by_kind():
    settings = from_env(
        {
            "STASHD_MAX_BODY_BYTES": "1024",
            "STASHD_REDIS_TIMEOUT": "2",
            "STASHD_CORS": '{"Origin": "https://example.com"}',
        }
    )
    assert settings == {
        "MAX_BODY_BYTES": 1024,
        "REDIS_TIMEOUT": 2.0,
        "CORS": {"Origin": "https://example.com"},
    }
    assert isinstance(settings["REDIS_TIMEOUT"], float)
    assert from_env({"STASHD_CORS": "false"}) == {"CORS": False}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("FAST_PATH", "maybe"),
        ("MAX_BODY_BYTES", "lots"),
        ("MAX_BODY_BYTES", "1.5"),
        ("REDIS_TIMEOUT", "soon"),
        ("CORS", "{not json"),
    ],
)
def test_a_value_that_does_not_parse_names_its_variable(name, text):
    with pytest.raises(ConfigError, match=f"^STASHD_{name}: cannot parse"):
        from_env({f"STASHD_{name}": text})


def test_load_hands_out_copies_of_the_defaults():
    load({})["CORS"]["Origin"] = "changed"
    assert DEFAULTS["CORS"] == DEFAULT_CORS
    assert load({})["CORS"]["Origin"] == "*"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"KEY_PREFIX": "a:b"}, "STASHD_KEY_PREFIX must be"),
        ({"MAX_BODY_BYTES": 0}, "STASHD_MAX_BODY_BYTES"),
        ({"API_USER": "admin"}, "set both or neither"),
        ({"CORS": {"Origin": 1}}, "STASHD_CORS values must be strings"),
        ({"BIND": "localhost"}, "STASHD_BIND: 'localhost' is not host:port"),
        ({"BIND": " , "}, "STASHD_BIND names no host:port address"),
        ({"LOG_LEVEL": "loud"}, "STASHD_LOG_LEVEL must be one of"),
    ],
)
def test_settings_stashd_cannot_run_with_are_refused(settings, message):
    with pytest.raises(ConfigError, match=message):
        load(settings)


@pytest.mark.parametrize("level", ["debug", "INFO", "Warning", "error"])
def test_log_level_takes_any_case(level):
    assert load({"LOG_LEVEL": level})["LOG_LEVEL"] == level


def test_binds_splits_on_spaces_and_commas():
    assert binds("0.0.0.0:4567, [::1]:8080 localhost:1") == [
        ("0.0.0.0", 4567),
        ("::1", 8080),
        ("localhost", 1),
    ]
    assert binds(DEFAULTS["BIND"]) == [("127.0.0.1", 4567), ("127.0.0.1", 8080)]


@pytest.mark.parametrize("item", [":80", "host:", "host:http", "host:0", "h:65536"])
def test_binds_refuses_what_is_not_host_port(item):
    with pytest.raises(ConfigError, match="STASHD_BIND"):
        binds(item)


def test_public_settings_leave_secrets_out_and_mask_the_redis_password():
    config = load(
        {
            "API_USER": "admin",
            "API_PASSWORD": "secret one",
            "API_KEY": "k" * 16,
            "REDIS_URL": "redis://user:hunter2@redis.example:6379/0",
        }
    )
    public = public_settings(config)
    assert "API_PASSWORD" not in public
    assert "API_KEY" not in public
    assert public["API_USER"] == "admin"
    assert public["REDIS_URL"] == "redis://***@redis.example:6379/0"


def test_cors_headers_follow_the_setting():
    assert ("Access-Control-Allow-Origin", "*") in cors_headers(DEFAULT_CORS)
    assert cors_headers(False) == []


@pytest.mark.parametrize(
    ("url", "mode", "node_url", "nodes", "service"),
    [
        ("redis://h:1/2", "standalone", "redis://h:1/2", (), None),
        ("unix:///tmp/r.sock", "standalone", "unix:///tmp/r.sock", (), None),
        (
            "redis+sentinel://h1:26380,h2/primary",
            "sentinel",
            "redis://h1:26380/0",
            (("h1", 26380), ("h2", 26379)),
            "primary",
        ),
        (
            "rediss+sentinel://u:p%40ss@[::1]:5/primary/3?ssl_cert_reqs=none",
            "sentinel",
            "rediss://u:p%40ss@[::1]:5/3?ssl_cert_reqs=none",
            (("::1", 5),),
            "primary",
        ),
        (
            "redis+cluster://:secret@a:7000,b:7001",
            "cluster",
            "redis://:secret@a:7000/0",
            (("a", 7000), ("b", 7001)),
            None,
        ),
        ("rediss+cluster://a/", "cluster", "rediss://a:6379/0", (("a", 6379),), None),
    ],
)
def test_redis_url_names_the_mode_and_its_nodes(url, mode, node_url, nodes, service):
    target = redis_target(url)
    assert (target.mode, target.node_url, target.nodes, target.service) == (
        mode,
        node_url,
        nodes,
        service,
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://h:1", "must start redis://"),
        ("redis+replica://h:1", "must start redis://"),
        ("redis+sentinel://h:1", "must name the Sentinel service"),
        ("redis+sentinel://h:1/", "must name the Sentinel service"),
        ("redis+sentinel://h:port/m", "'h:port' is not host:port"),
        ("redis+sentinel:///m", "names no host:port"),
        ("redis+sentinel://h/m/x", "is not a valid path"),
        ("redis+cluster://h:1/3", "database 0 only"),
        ("redis+cluster://h:70000", "is not host:port"),
    ],
)
def test_a_redis_url_of_no_known_form_stops_the_start(url, message):
    with pytest.raises(ConfigError, match=message):
        load({"REDIS_URL": url})


def test_wait_replicas_and_the_sentinel_password_are_read_as_typed():
    environ = {"STASHD_REDIS_WAIT_REPLICAS": "2", "STASHD_REDIS_SENTINEL_PASSWORD": "7"}
    settings = load(from_env(environ))
    assert settings["REDIS_WAIT_REPLICAS"] == 2
    assert settings["REDIS_SENTINEL_PASSWORD"] == "7"
    assert "REDIS_SENTINEL_PASSWORD" not in public_settings(settings)
    with pytest.raises(ConfigError, match="REDIS_WAIT_REPLICAS must be 0 or more"):
        load({"REDIS_WAIT_REPLICAS": -1})


def test_public_settings_mask_the_password_of_a_sentinel_url():
    config = load({"REDIS_URL": "redis+sentinel://u:hunter2@h1:1,h2:2/primary"})
    assert (
        public_settings(config)["REDIS_URL"] == "redis+sentinel://***@h1:1,h2:2/primary"
    )
