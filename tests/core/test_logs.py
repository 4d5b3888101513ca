"""JSON log lines (core/logs.py) and the access lines of each request (core/observe.py),
through both paths of the app (the fast path and Flask)."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import socket
import sys
from collections.abc import Iterator

import fakeredis
import pytest

from app import create_app
from core.config_error import ConfigError
from core.logs import JsonFormatter, dict_config, request_id
from core.settings_load import load

ADMIN = ("admin", "admin-password-123")


def test_json_formatter_writes_one_object_with_extras_and_request_id():
    record = logging.LogRecord(
        "stashd.x", logging.WARNING, "f", 1, "a %s", ("b",), None
    )
    record.route = "/stashes"
    token = request_id.set("rid-1")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)

    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "a b"
    assert parsed["level"] == "WARNING"
    assert parsed["logger"] == "stashd.x"
    assert parsed["request_id"] == "rid-1"
    assert parsed["route"] == "/stashes"
    assert parsed["time"].endswith("Z")


def test_json_formatter_keeps_a_traceback_on_one_line():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord(
            "stashd", logging.ERROR, "f", 1, "failed", (), sys.exc_info()
        )
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert "ValueError: boom" in json.loads(line)["exception"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_dict_config_is_accepted_by_logging(fmt):
    root, access = logging.getLogger(), logging.getLogger("stashd.access")
    saved = root.handlers[:], root.level, access.handlers[:], access.propagate
    try:
        logging.config.dictConfig(dict_config("DEBUG", fmt))
        assert root.level == logging.DEBUG
        assert access.propagate is False
        formatter = access.handlers[0].formatter
        assert isinstance(formatter, JsonFormatter) == (fmt == "json")
    finally:
        root.handlers[:], root.level, access.handlers[:], access.propagate = saved


def test_log_format_setting_is_text_or_json():
    assert load({})["LOG_FORMAT"] == "text"
    assert load({"LOG_FORMAT": "json"})["LOG_FORMAT"] == "json"
    with pytest.raises(
        ConfigError, match="STASHD_LOG_FORMAT must be one of text, json"
    ):
        load({"LOG_FORMAT": "xml"})


@pytest.fixture
def lines() -> Iterator[io.StringIO]:
    """What the root logger and the access logger write, as JSON lines."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)  # access lines propagate to it
    logging.getLogger("stashd.access").setLevel(logging.INFO)
    yield out
    logging.getLogger().removeHandler(handler)
    logging.getLogger("stashd.access").setLevel(logging.NOTSET)


def access_lines(out: io.StringIO) -> list[dict]:
    parsed = [json.loads(line) for line in out.getvalue().splitlines()]
    return [line for line in parsed if line["logger"] == "stashd.access"]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "flask"])
def test_access_lines_name_the_route_template(lines, fast):
    app = create_app(
        {
            "ACCESS_LOG": True,
            "FAST_PATH": fast,
            "API_USER": ADMIN[0],
            "API_PASSWORD": ADMIN[1],
        },
        redis=fakeredis.FakeRedis(),
    )
    client = app.test_client()
    requests = [
        ("POST", "/stash/secret/path", ADMIN, 201),
        ("GET", "/stashes", ADMIN, 200),
        ("GET", "/stash/secret/path", ("admin", "nope"), 401),
        ("OPTIONS", "/stashes/x", None, 200),
        ("GET", "/silenced/match?client=a&check=b", ADMIN, 200),
        ("GET", "/api/core/v2/apikeys/secret-key-value", None, 401),
        ("GET", "/nowhere", ADMIN, 404),
    ]
    ids = []
    for method, path, auth, status in requests:
        response = client.open(path, method=method, auth=auth, data="{}")
        assert response.status_code == status, (path, response.data)
        ids.append(response.headers["X-Request-ID"])

    logged = access_lines(lines)

    assert [line["request_id"] for line in logged] == ids
    assert [(line["method"], line["route"], line["status"]) for line in logged] == [
        ("POST", "/stash/<stash:path>", 201),
        ("GET", "/stashes", 200),
        ("GET", "/stash/<stash:path>", 401),
        ("OPTIONS", "/stashes/<stash:path>", 200),
        ("GET", "/silenced/match", 200),
        ("GET", "/api/core/v2/apikeys/<identifier>", 401),
        ("GET", "<unrouted>", 404),
    ]
    assert all(line["duration_ms"] >= 0 for line in logged)
    assert {line["client"] for line in logged} == {"127.0.0.1"}
    text = lines.getvalue()
    assert "secret" not in text and "nope" not in text


def test_no_access_lines_by_default(lines):
    app = create_app({}, redis=fakeredis.FakeRedis())
    app.test_client().get("/stashes")
    assert access_lines(lines) == []


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "flask"])
def test_own_lines_logged_while_serving_carry_the_request_id(lines, fast):
    with socket.socket() as sock:  # a Redis port with nothing listening
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app(
        {
            "REDIS_URL": f"redis://127.0.0.1:{port}/0",
            "LOG_FORMAT": "json",
            "FAST_PATH": fast,
        }
    )
    try:
        response = app.test_client().get("/stash/x", headers={"X-Request-ID": "rid-77"})
    finally:
        app.extensions["redis"].close()

    assert response.status_code == 500
    own = [json.loads(line) for line in lines.getvalue().splitlines()]
    errors = [line for line in own if line["level"] == "ERROR"]
    assert errors, own
    assert all(line["request_id"] == "rid-77" for line in errors)
