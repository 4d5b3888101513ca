"""Starting, stopping and losing Redis: stashd under each server, real processes."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time

import pytest
import requests

from server.embedded import executable
from tests.servers import Stashd, alive, free_port, tree

pytestmark = [pytest.mark.http, pytest.mark.integration]

NOT_CONNECTED = {"error": "not connected to redis"}


@pytest.fixture
def stashd_on(server_kind, own_redis):
    server = Stashd(server_kind, {"STASHD_REDIS_URL": own_redis.url})
    server.start()
    yield server
    server.stop()


def test_redis_outage_gives_500_then_recovers_without_restart(own_redis, stashd_on):
    url = stashd_on.url
    assert requests.post(f"{url}/stash/kept", data='{"a": 1}').status_code == 201
    # Warm every worker's connection pool, so the outage hits pooled connections.
    for _ in range(20):
        assert requests.get(f"{url}/stash/kept").status_code == 200

    own_redis.stop()
    for method, path in [
        ("GET", "/stash/kept"),
        ("POST", "/stash/new"),
        ("GET", "/stashes"),
    ]:
        response = requests.request(method, url + path, data="{}", timeout=5)
        assert response.status_code == 500
        assert response.json() == NOT_CONNECTED
    health = requests.get(f"{url}/health", timeout=5)
    assert health.status_code == 412
    assert health.json() == ["not connected to redis"]
    info = requests.get(f"{url}/info", timeout=5)
    assert info.status_code == 200
    assert info.json()["redis"]["connected"] is False
    # Routing does not depend on Redis.
    assert requests.get(f"{url}/nowhere", timeout=5).status_code == 404
    assert requests.put(f"{url}/stashes", timeout=5).status_code == 405

    own_redis.start()  # same port, empty data (the test server keeps none)
    for _ in range(20):
        assert requests.get(f"{url}/stash/kept", timeout=5).status_code == 404
    assert requests.post(f"{url}/stash/back", data="{}", timeout=5).status_code == 201
    assert requests.get(f"{url}/health", timeout=5).status_code == 204


def test_redis_that_stops_answering_gives_500_not_a_hang(own_redis, stashd_on):
    requests.get(f"{stashd_on.url}/stash/x")  # connect first
    os.kill(own_redis.process.pid, signal.SIGSTOP)
    try:
        response = requests.get(f"{stashd_on.url}/stash/x", timeout=10)
        assert response.status_code == 500
        assert response.json() == NOT_CONNECTED
    finally:
        os.kill(own_redis.process.pid, signal.SIGCONT)
    assert requests.get(f"{stashd_on.url}/stash/x", timeout=5).status_code == 404


@pytest.fixture
def data_dir(tmp_path):
    return str(tmp_path / "data")


@pytest.fixture
def embedded(server_kind, data_dir):
    """A function making stashd servers on the embedded Redis in `data_dir`."""
    return lambda: Stashd(server_kind, {"STASHD_DATA_DIR": data_dir})


def redis_pids(data_dir: str) -> list[int]:
    """Embedded Redis processes whose working directory is `data_dir`."""
    pids = []
    for pid in os.listdir("/proc"):
        try:
            if os.readlink(f"/proc/{pid}/cwd") == data_dir:
                with open(f"/proc/{pid}/comm") as comm:
                    if comm.read().strip() == os.path.basename(executable())[:15]:
                        pids.append(int(pid))
        except (OSError, ValueError):
            continue
    return pids


def test_embedded_redis_keeps_stashes_across_restarts(embedded, data_dir):
    server = embedded()
    server.start()
    try:
        body = {"path": "silence/db1", "content": {"reason": "upgrade"}, "expire": 3600}
        assert requests.post(f"{server.url}/stashes", json=body).status_code == 201
        assert (
            requests.post(f"{server.url}/stash/forever", data="{}").status_code == 201
        )
        assert redis_pids(data_dir)
    finally:
        assert server.stop() == 0
    assert os.listdir(os.path.join(data_dir, "appendonlydir"))
    assert redis_pids(data_dir) == []  # stopped with the server

    server.start()
    try:
        listed = requests.get(f"{server.url}/stashes").json()
        assert [item["path"] for item in listed] == ["forever", "silence/db1"]
        assert listed[1]["content"] == {"reason": "upgrade"}
        assert 3500 < listed[1]["expire"] <= 3600
    finally:
        server.stop()


def test_embedded_redis_loses_no_acknowledged_write_on_kill_9(embedded, data_dir):
    server = embedded()
    server.start()
    for i in range(50):
        assert (
            requests.post(f"{server.url}/stash/s{i:02}", data="{}").status_code == 201
        )
    old = tree(server.process.pid)
    os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait()
    server.process = None
    # granian, in a session of its own, stops gracefully after its parent (a worker
    # still starting takes its 10 s): until it has, the new server's readiness check
    # and requests could reach the old one.
    deadline = time.monotonic() + 20
    while (redis_pids(data_dir) or any(map(alive, old))) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)  # killed with the group; give the kernel a moment

    server.start()
    try:
        listed = requests.get(f"{server.url}/stashes").json()
        assert len(listed) == 50
    finally:
        server.stop()


def test_embedded_redis_dies_with_a_killed_server(embedded, data_dir):
    server = embedded()
    server.start()
    assert redis_pids(data_dir)
    os.kill(server.process.pid, signal.SIGKILL)  # the master only, not its group
    server.process.wait()
    server.process = None
    deadline = time.monotonic() + 10
    while redis_pids(data_dir):
        assert time.monotonic() < deadline, "embedded redis-server outlived its server"
        time.sleep(0.05)


def assert_refused(server: Stashd, reason: str) -> None:
    """`server` exited 1 after one line saying why it cannot start, no traceback."""
    assert server.process.wait(30) == 1
    server.process = None
    output = server.output()
    lines = [line for line in output.splitlines() if "stashd cannot start: " in line]
    assert len(lines) == 1, output
    assert reason in lines[0].partition("stashd cannot start: ")[2], output
    assert "Traceback" not in output


def test_second_server_on_the_same_data_dir_is_refused(embedded, data_dir):
    first = embedded()
    first.start()
    try:
        second = embedded()
        second.start(wait=False)
        assert second.process.wait(30) != 0
        assert "in use by another stashd" in second.output()
        assert_refused(second, f"{data_dir} is in use by another stashd")
        assert requests.get(f"{first.url}/health").status_code == 204
    finally:
        first.stop()


@pytest.mark.parametrize(
    ("env", "reason"),
    [
        ({"STASHD_KEY_PREFIX": "a:b"}, "STASHD_KEY_PREFIX must be"),
        ({"STASHD_MAX_BODY_BYTES": "lots"}, "STASHD_MAX_BODY_BYTES: cannot parse"),
        # gunicorn reads the addresses from its config file, before on_starting.
        ({"STASHD_BIND": "localhost"}, "STASHD_BIND: 'localhost' is not host:port"),
        # gunicorn configures its logging before on_starting, too.
        ({"STASHD_LOG_LEVEL": "loud"}, "STASHD_LOG_LEVEL must be one of"),
    ],
)
def test_invalid_setting_stops_the_server_at_start(server_kind, own_redis, env, reason):
    env = {"STASHD_REDIS_URL": own_redis.url, **env}
    server = Stashd(server_kind, env)
    server.start(wait=False)
    assert server.process.wait(30) != 0
    assert reason in server.output()
    assert_refused(server, reason)


def test_unreachable_redis_stops_the_server_at_start(server_kind, data_dir):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    env = {"STASHD_REDIS_URL": closed, "STASHD_DATA_DIR": data_dir}
    server = Stashd(server_kind, env)
    server.start(wait=False)
    assert_refused(server, "Redis cannot be reached")


def test_sigterm_lets_a_request_in_flight_finish(own_redis, stashd_on):
    """A POST whose body is still arriving when SIGTERM comes is completed."""
    body = b'{"path": "late", "content": {}}'
    with socket.create_connection(
        ("127.0.0.1", stashd_on.ports[0]), timeout=15
    ) as sock:
        # A first request answered on the same connection: a worker holds it, so
        # the SIGTERM cannot find it still waiting to be accepted (a busy machine).
        sock.sendall(b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n")  # no body
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            head += sock.recv(65536)
        assert head.startswith(b"HTTP/1.1 204")
        sock.sendall(
            b"POST /stashes HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body) + body[:10]
        )
        time.sleep(0.5)  # the request is being read by a worker
        stopper = threading.Thread(target=stashd_on.stop)
        stopper.start()
        time.sleep(1)
        sock.sendall(body[10:])
        response = sock.recv(65536)
    stopper.join()
    assert response.startswith(b"HTTP/1.1 201")


def test_a_stop_right_after_the_start_stops_every_worker_gracefully(stashd_on):
    """A SIGTERM that a granian worker misses while it starts is sent again: the
    worker is not left to granian's kill timeout."""
    assert stashd_on.stop() == 0
    output = stashd_on.output()
    assert "refused to gracefully stop" not in output, output
    assert "Traceback" not in output
