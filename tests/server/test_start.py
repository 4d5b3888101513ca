"""The start-up both launchers share: settings, the embedded Redis, bootstrap."""

from __future__ import annotations

import logging

import pytest
import redis

import server.start
from redisio.keys import Keys
from server.start import StartError, start, start_or_exit
from tests.servers import free_port


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


def closed_port_url() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.ConnectionError:
        return False
    finally:
        client.close()


def test_an_invalid_setting_stops_the_start_before_anything_runs(tmp_path):
    data_dir = tmp_path / "data"
    environ = {"STASHD_KEY_PREFIX": "a:b", "STASHD_DATA_DIR": str(data_dir)}
    with pytest.raises(StartError, match="STASHD_KEY_PREFIX must be"):
        start(environ)
    assert not data_dir.exists()  # no embedded Redis was started


def test_unreachable_redis_is_a_start_error(data_dir):
    environ = {"STASHD_REDIS_URL": closed_port_url(), "STASHD_DATA_DIR": data_dir}
    with pytest.raises(StartError, match="^Redis cannot be reached"):
        start(environ)


def test_a_data_dir_that_cannot_be_made_is_a_start_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StartError, match="File exists"):
        start({"STASHD_DATA_DIR": str(blocker)})


def test_start_or_exit_logs_one_line_and_exits_1(caplog):
    log = logging.getLogger("test.launcher")
    with pytest.raises(SystemExit) as exit_info:
        start_or_exit({"STASHD_LOG_LEVEL": "loud"}, log)
    assert exit_info.value.code == 1
    # Only the launcher's own lines: a background thread another test left (a
    # mirror fetch finishing) may log meanwhile.
    lines = [r.getMessage() for r in caplog.records if r.name == log.name]
    assert lines == [
        "stashd cannot start: STASHD_LOG_LEVEL must be one of CRITICAL, ERROR, "
        "WARNING, WARN, INFO, DEBUG, NOTSET, not 'loud'"
    ]


@pytest.mark.integration
def test_start_or_exit_returns_what_started(redis_server, data_dir):
    environ = {"STASHD_REDIS_URL": redis_server.url, "STASHD_DATA_DIR": data_dir}
    started = start_or_exit(environ, logging.getLogger("test.launcher"))
    assert started.redis_url == redis_server.url
    assert started.embedded is None
    assert started.addresses == [("127.0.0.1", 4567), ("127.0.0.1", 8080)]
    started.stop()


@pytest.mark.integration
def test_embedded_redis_starts_bootstraps_and_stops(data_dir):
    started = start({"STASHD_DATA_DIR": data_dir})
    try:
        assert started.redis_url.startswith("unix://")
        assert answers(started.redis_url)
        client = redis.Redis.from_url(started.redis_url)
        assert client.exists(Keys("stashd").seeded)
        client.close()
    finally:
        started.stop()
    assert not answers(started.redis_url)
    started.stop()  # a second stop is harmless


@pytest.mark.integration
def test_a_locked_data_dir_is_a_start_error(data_dir):
    first = start({"STASHD_DATA_DIR": data_dir})
    try:
        with pytest.raises(StartError, match="is in use by another stashd"):
            start({"STASHD_DATA_DIR": data_dir})
        assert answers(first.redis_url)  # the refused start left the first alone
    finally:
        first.stop()


@pytest.mark.integration
@pytest.mark.parametrize(
    ("failure", "raised", "message"),
    [
        (RuntimeError("Redis cannot be reached: gone"), StartError, "cannot be"),
        (redis.ResponseError("NOAUTH"), StartError, "Redis refused the bootstrap"),
        (KeyboardInterrupt(), KeyboardInterrupt, None),
    ],
)
def test_a_failed_bootstrap_stops_the_embedded_redis(
    monkeypatch, data_dir, failure, raised, message
):
    urls = []

    def failing(settings, redis_url):
        urls.append(redis_url)
        raise failure

    monkeypatch.setattr(server.start, "at_start", failing)
    with pytest.raises(raised, match=message):
        start({"STASHD_DATA_DIR": data_dir})
    assert urls and not answers(urls[0])
    monkeypatch.undo()
    # The data directory is free again: its lock went with the embedded Redis.
    start({"STASHD_DATA_DIR": data_dir}).stop()
