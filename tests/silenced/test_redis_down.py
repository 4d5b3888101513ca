"""Redis unreachable: the silenced routes answer 500 quickly, in their dialect."""

from __future__ import annotations

import socket
import time

import pytest

from app import create_app


@pytest.fixture
def down():
    """A client of an app whose Redis port has nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{port}/0"})
    yield app.test_client()
    app.extensions["redis"].close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/silenced", None),
        ("GET", "/silenced?limit=5", None),
        ("POST", "/silenced", '{"subscription": "web"}'),
        ("POST", "/silenced/clear", '{"id": "web:*"}'),
        ("GET", "/silenced/ids/web:*", None),
        ("GET", "/silenced/match?check=disk&client=web1", None),
        ("POST", "/silenced/resolve", '{"check": "disk"}'),
    ],
)
def test_redis_down_1x_routes_are_500_within_2_seconds(down, method, path, body):
    started = time.monotonic()
    response = down.open(path, method=method, data=body)
    assert time.monotonic() - started < 2
    assert response.status_code == 500
    assert response.get_json() == {"error": "not connected to redis"}
