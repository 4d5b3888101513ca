"""stashd under each server, over real HTTP: what only a real server and socket show."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest
import requests

pytestmark = [pytest.mark.http, pytest.mark.integration]


@pytest.fixture
def server(stashd_http, real_redis):
    """The session's gunicorn, its Redis emptied for this test."""
    return stashd_http


def raw(port: int, request: bytes, timeout: float = 5) -> bytes:
    """Send `request` as bytes and read the whole response (Connection: close)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def get(port: int, target: bytes) -> bytes:
    """A raw GET of `target`, exactly as given (no client-side normalising)."""
    return raw(
        port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def body_of(response: bytes) -> bytes:
    return response.partition(b"\r\n\r\n")[2]


def test_server_stash_round_trip_on_every_bound_port(server):
    for port in server.ports:
        url = f"http://127.0.0.1:{port}"
        created = requests.post(
            f"{url}/stashes", json={"path": f"p{port}", "content": {"a": 1}}
        )
        assert created.status_code == 201
        assert requests.get(f"{url}/stash/p{port}").json() == {"a": 1}
        assert requests.delete(f"{url}/stashes/p{port}").status_code == 204


def test_server_doubled_leading_slash_is_served_without_redirect(server):
    requests.post(f"{server.url}/stash/silence/web1/disk", data="{}")
    response = get(server.ports[0], b"//stash/silence/web1/disk")
    assert status_of(response) == 200
    assert body_of(response) == b"{}"


def test_server_percent_encoded_path_is_decoded_once(server):
    requests.post(f"{server.url}/stashes/a%2520b", data='{"x": 1}')
    listed = requests.get(f"{server.url}/stashes").json()
    assert [item["path"] for item in listed] == ["a%20b"]


def test_server_path_that_is_not_utf8_gets_400(server):
    response = raw(
        server.ports[0],
        b"GET /stashes/%FF HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    assert status_of(response) == 400
    assert "error" in json.loads(body_of(response))


def test_server_chunked_body_is_read(server):
    def chunks():
        yield b'{"path": "chunky", '
        yield b'"content": {"n": 1}}'

    assert requests.post(f"{server.url}/stashes", data=chunks()).status_code == 201
    assert requests.get(f"{server.url}/stash/chunky").json() == {"n": 1}


def test_server_chunked_body_over_the_limit_gets_413_and_stores_nothing(server):
    big = b'{"pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'

    def chunks():
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    response = requests.post(f"{server.url}/stash/big", data=chunks())
    assert response.status_code == 413
    assert "error" in response.json()
    assert requests.get(f"{server.url}/stash/big").status_code == 404


def test_server_declared_length_over_the_limit_gets_413(server):
    head = (
        b"POST /stash/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        b"Content-Length: 9000000\r\n\r\n{}"
    )
    assert status_of(raw(server.ports[0], head)) == 413


def test_server_malformed_request_gets_4xx_and_the_server_stays_up(server):
    response = raw(server.ports[0], b"GARBAGE\r\n\r\n")
    assert 400 <= status_of(response) < 500
    assert requests.get(f"{server.url}/health").status_code == 204


def test_server_responses_carry_content_length(server):
    requests.post(f"{server.url}/stash/x", data="{}")
    for path in (b"/stash/x", b"/stashes", b"/info"):
        head = get(server.ports[0], path).partition(b"\r\n\r\n")[0].lower()
        assert b"content-length:" in head or b"transfer-encoding: chunked" in head


def test_server_slow_clients_do_not_starve_others(server):
    """50 clients sending a byte at a time; ordinary requests still get answers."""
    stop = threading.Event()
    sockets = [
        socket.create_connection(("127.0.0.1", server.ports[0])) for _ in range(50)
    ]
    request = b"GET /stashes HTTP/1.1\r\nHost: x\r\n\r\n"

    def dribble():
        for i in range(len(request) - 2):  # never finish the request
            for sock in sockets:
                sock.send(request[i : i + 1])
            if stop.wait(0.2):
                return

    thread = threading.Thread(target=dribble, daemon=True)
    thread.start()
    try:
        time.sleep(0.5)  # let every slow client reach the server first
        for _ in range(20):
            response = requests.get(f"{server.url}/health", timeout=5)
            assert response.status_code == 204
    finally:
        stop.set()
        thread.join()
        for sock in sockets:
            sock.close()
