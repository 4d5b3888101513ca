"""Redis unreachable: quick 500s on stash routes, routing unaffected (2.6, 6.7, 6.8)."""

from __future__ import annotations

import socket
import time

import pytest

from app import create_app
from tests.stashes.helpers import DEFAULT_CORS, allowed, assert_empty, cors_headers


@pytest.fixture(params=[True, False], ids=["fast", "flask"])
def down(request):
    """A client of an app whose Redis port has nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"redis://127.0.0.1:{port}/0"
    app = create_app({"REDIS_URL": url, "FAST_PATH": request.param})
    yield app.test_client()
    app.extensions["redis"].close()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/stashes", None),
        ("GET", "/stashes?limit=1", None),
        ("GET", "/stashes?filter.path=x", None),
        ("GET", "/stashes/x", None),
        ("POST", "/stashes/x", "{}"),
        ("POST", "/stashes", '{"path": "x", "content": {}, "expire": 5}'),
        ("DELETE", "/stash/x", None),
    ],
)
def test_redis_down_stash_routes_are_500_within_2_seconds(down, method, path, body):
    started = time.monotonic()
    response = down.open(path, method=method, data=body)
    assert time.monotonic() - started < 2
    assert response.status_code == 500
    assert response.get_json() == {"error": "not connected to redis"}
    assert sorted(cors_headers(response)) == sorted(DEFAULT_CORS.items())


def test_redis_down_head_is_500_without_body(down):
    response = down.head("/stashes/x")
    assert response.status_code == 500
    assert response.data == b""


def test_redis_down_health_is_412_with_reasons(down):
    response = down.get("/health")
    assert response.status_code == 412
    assert response.get_json() == ["not connected to redis"]


def test_redis_down_info_is_200_and_not_connected(down):
    response = down.get("/info")
    assert response.status_code == 200
    body = response.get_json()
    assert body["redis"]["connected"] is False
    assert isinstance(body["sensu"]["version"], str) and body["sensu"]["version"]


def test_redis_down_unknown_path_is_still_404(down):
    assert_empty(down.get("/nowhere"), 404)


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/stashes", ["GET", "HEAD", "POST"]),
        ("/stashes/x", ["GET", "HEAD", "POST", "DELETE"]),
    ],
)
def test_redis_down_wrong_method_is_still_405(down, path, methods):
    response = down.put(path, data="{}")
    assert_empty(response, 405)
    assert allowed(response) == methods


def test_redis_down_options_is_still_200(down):
    assert_empty(down.options("/stashes"), 200)
