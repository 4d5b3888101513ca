"""Hostile clients over real sockets, under granian and gunicorn (spec stashes.md 17).

Rules 1, 2, 7, 8, 9 and 11: short bodies, bodies read only after credentials,
cross-site browser writes, request IDs, huge numbers in the query, private files.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import Iterator

import pytest
import requests

from tests.archives.helpers import tarball
from tests.servers import Stashd, stashd_on_own_redis

pytestmark = [pytest.mark.http, pytest.mark.integration]

KEY = "hardening-test-key-0123456789"
# An API key: taken on the stash routes and the Sensu Go routes alike.
CREDENTIALS = f"Key {KEY}"


class KeyAuth(requests.auth.AuthBase):
    """requests' `auth=` for the API key."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = CREDENTIALS
        return request


AUTH = KeyAuth()
LISTED = "https://dash.example"
EVIL = "https://evil.example"
CORE = "/api/core/v2"
DIGITS = "9" * 4301  # more than Python's int() takes


@pytest.fixture(scope="module")
def server(server_kind: str) -> Iterator[Stashd]:
    """stashd with an administrator (so stash routes need credentials) and one
    listed origin, on a Redis of its own."""
    env = {
        "STASHD_API_USER": "admin",
        "STASHD_API_PASSWORD": "hardening-test-password",
        "STASHD_API_KEY": KEY,
        "STASHD_ALLOWED_ORIGINS": LISTED,
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        yield stashd


def exchange(
    port: int, head: bytes, body: bytes = b"", half_close: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send a request as bytes and read one response (5 s at most).

    :raise TimeoutError: no whole response came in time.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(head + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        received = b""
        deadline = time.monotonic() + 5
        while b"\r\n\r\n" not in received or len(received) < _whole(received):
            if time.monotonic() > deadline:
                raise TimeoutError(f"no whole response: {received!r}")
            chunk = sock.recv(65536)
            if not chunk:
                break
            received += chunk
    top, _, content = received.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, content


def _whole(received: bytes) -> int:
    """How long the response in `received` is, from its Content-Length."""
    top, _, _ = received.partition(b"\r\n\r\n")
    for line in top.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(top) + 4 + int(value)
    return len(received)


def post_head(path: str, length: int, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: x", f"Content-Length: {length}", *headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


# 17.1 Short bodies ----------------------------------------------------------------

SHORT = [
    ("/stashes", {"path": "short", "content": {}}, "error"),  # a fast route
    ("/silenced", {"subscription": "short"}, "error"),  # a Flask route, Sensu 1.x
    (f"{CORE}/namespaces", {"name": "short"}, "message"),  # a Flask route, Sensu Go
]


@pytest.mark.parametrize(("path", "body", "key"), SHORT)
def test_body_shorter_than_its_length_gets_400_and_stores_nothing(
    server, path, body, key
):
    sent = json.dumps(body).encode()
    head = post_head(path, len(sent) + 1, f"Authorization: {CREDENTIALS}")
    status, _, content = exchange(server.ports[0], head, sent, half_close=True)
    assert status == 400
    assert json.loads(content)[key] == "request body is incomplete"
    assert requests.get(f"{server.url}/stash/short", auth=AUTH).status_code == 404
    assert requests.get(f"{server.url}/silenced", auth=AUTH).json() == []
    namespaces = requests.get(f"{server.url}{CORE}/namespaces", auth=AUTH).json()
    assert {"name": "short"} not in namespaces


@pytest.mark.parametrize(("path", "body", "key"), SHORT)
def test_chunked_body_cut_off_gets_400_and_stores_nothing(server, path, body, key):
    sent = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"Authorization: {CREDENTIALS}\r\n\r\n"
    ).encode()
    half = sent[: len(sent) // 2]
    chunk = b"%x\r\n%s\r\n" % (len(half), half)  # and never the last chunk
    status, _, content = exchange(server.ports[0], head, chunk, half_close=True)
    assert status == 400
    assert key in json.loads(content)
    assert requests.get(f"{server.url}/stash/short", auth=AUTH).status_code == 404
    assert requests.get(f"{server.url}/silenced", auth=AUTH).json() == []


# 17.2 Bodies after credentials ---------------------------------------------------

EIGHT_MIB = 8 * 1024 * 1024


@pytest.mark.parametrize(
    ("path", "length", "authorized", "status"),
    [
        ("/stashes", EIGHT_MIB, False, 401),
        ("/silenced", EIGHT_MIB, False, 401),
        (f"{CORE}/namespaces", 512_000, False, 401),
        ("/nowhere", EIGHT_MIB, True, 404),
        (f"{CORE}/nowhere", 512_000, True, 404),
        (f"{CORE}/namespaces", 512_001, True, 413),
        ("/stashes", EIGHT_MIB + 1, True, 413),
    ],
)
def test_request_refused_is_answered_before_its_body_is_sent(
    server, path, length, authorized, status
):
    """Only the headers are sent: a server that read the body first would wait."""
    auth = [f"Authorization: {CREDENTIALS}"] if authorized else []
    got, _, _ = exchange(server.ports[0], post_head(path, length, *auth))
    assert got == status


def test_ten_refused_requests_at_once_are_all_answered_at_once(server):
    socks = [
        socket.create_connection(("127.0.0.1", server.ports[0])) for _ in range(10)
    ]
    try:
        for sock in socks:
            sock.sendall(post_head(f"{CORE}/namespaces", 500_000) + b"{" * 1000)
        for sock in socks:
            sock.settimeout(5)
            assert sock.recv(64).split(b" ")[1] == b"401"
    finally:
        for sock in socks:
            sock.close()


def test_body_read_after_credentials_may_arrive_slowly(server):
    sent = json.dumps({"name": "slow"}).encode()
    head = (
        f"PUT {CORE}/namespaces/slow HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: {CREDENTIALS}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(sent)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.ports[0]), timeout=5) as sock:
        sock.sendall(head + sent[:5])
        time.sleep(0.3)
        sock.sendall(sent[5:])
        assert sock.recv(64).split(b" ")[1] == b"201"


# 17.7 Cross-site browser writes -------------------------------------------------


def test_cross_site_writes_are_refused_and_change_nothing(server):
    url = server.url
    assert requests.post(f"{url}/stash/kept", data="{}", auth=AUTH).status_code == 201
    refused = [
        requests.post(
            f"{url}/stashes",
            json={"path": "evil", "content": {}},
            headers={"Origin": EVIL},
            auth=AUTH,
        ),
        requests.delete(
            f"{url}/stash/kept", headers={"Sec-Fetch-Site": "cross-site"}, auth=AUTH
        ),
        requests.post(
            f"{url}/silenced",
            json={"subscription": "evil"},
            headers={"Origin": "null"},
            auth=AUTH,
        ),
    ]
    for response in refused:
        assert response.status_code == 403
        assert response.json() == {"error": "cross-site request refused"}
    go = requests.put(
        f"{url}{CORE}/namespaces/evil",
        json={"name": "evil"},
        headers={"Origin": EVIL},
        auth=AUTH,
    )
    assert go.status_code == 403
    assert go.json() == {"message": "cross-site request refused", "code": 4}
    assert requests.get(f"{url}/stash/kept", auth=AUTH).status_code == 200
    assert requests.get(f"{url}/stash/evil", auth=AUTH).status_code == 404
    assert requests.get(f"{url}/silenced", auth=AUTH).json() == []
    namespaces = requests.get(f"{url}{CORE}/namespaces", auth=AUTH).json()
    assert {"name": "evil"} not in namespaces


@pytest.mark.parametrize(
    "headers",
    [
        {},  # curl and the Sensu clients send neither header
        {"Origin": LISTED},
        {"Origin": "own"},
        {"Origin": "own", "Sec-Fetch-Site": "same-origin"},
    ],
)
def test_writes_from_no_browser_the_own_origin_or_a_listed_one_pass(server, headers):
    if headers.get("Origin") == "own":
        headers = {**headers, "Origin": server.url}
    response = requests.post(
        f"{server.url}/stash/allowed", data="{}", headers=headers, auth=AUTH
    )
    assert response.status_code == 201


def test_reads_from_other_sites_are_left_to_cors(server):
    response = requests.get(
        f"{server.url}/stashes",
        headers={"Origin": EVIL, "Sec-Fetch-Site": "cross-site"},
        auth=AUTH,
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"


# 17.8 Request IDs -------------------------------------------------------------


def test_plain_request_id_is_echoed_and_logged(server):
    given = "trace-4f1c.2:b_9"
    response = requests.get(
        f"{server.url}/stashes", headers={"X-Request-ID": given}, auth=AUTH
    )
    assert response.headers["X-Request-ID"] == given
    if server.server == "gunicorn":  # its access log has the response's ID
        assert _logged(server, f"rid={given}")


@pytest.mark.parametrize(
    "given", ["x" * 129, "two words", "<script>", "id%0d%0aforged"]
)
def test_any_other_request_id_is_replaced_in_answer_and_log(server, given):
    response = requests.get(
        f"{server.url}/stashes", headers={"X-Request-ID": given}, auth=AUTH
    )
    made = response.headers["X-Request-ID"]
    assert made != given and len(made) == 36
    if server.server == "gunicorn":
        assert _logged(server, f"rid={made}")
    assert given not in server.output()


def _logged(server: Stashd, text: str) -> bool:
    """True once `text` is in the server's output (access logs are written after)."""
    deadline = time.monotonic() + 5
    while text not in server.output():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


# 17.9 Numbers in the query -------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        f"/stashes?limit={DIGITS}&offset={DIGITS}",
        f"/stashes?limit=1&offset={DIGITS}",
        f"/silenced?limit={DIGITS}&offset={DIGITS}",
        f"{CORE}/namespaces/default/assets?limit={DIGITS}",
        f"{CORE}/namespaces?limit={DIGITS}",
    ],
)
def test_huge_limit_and_offset_are_read_as_past_the_end(server, target):
    response = requests.get(server.url + target, auth=AUTH)
    if server.server == "gunicorn" and response.status_code == 414:
        return  # over gunicorn's limit_request_line: refused before stashd sees it
    assert response.status_code == 200
    if "offset" in target:
        assert response.json() == []


@pytest.mark.parametrize(
    "target",
    [
        "/stashes?limit=1&offset=" + "9" * 4000,
        "/silenced?limit=" + "9" * 4000,
        f"{CORE}/namespaces?limit=" + "9" * 4000,
    ],
)
def test_limit_and_offset_of_the_longest_request_line_are_read(server, target):
    response = requests.get(server.url + target, auth=AUTH)
    assert response.status_code == 200
    if "offset" in target:
        assert response.json() == []
        paging = json.loads(response.headers["X-Pagination"])
        assert paging["offset"] == 10**64


# 17.11 Private files -------------------------------------------------------------


def test_data_dir_and_every_file_in_it_are_the_owners_only(server_kind, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    left = data_dir / "redis.log"  # as an earlier release left it
    left.write_text("")
    os.chmod(left, 0o644)
    stashd = Stashd(server_kind, {"STASHD_DATA_DIR": str(data_dir)})
    stashd.start()
    try:
        assert requests.post(f"{stashd.url}/stash/x", data="{}").status_code == 201
        # An archive blob and the directories it lands in (spec archives.md 4.1), by
        # the generated administrator.
        password = (data_dir / "admin-password").read_text().strip()
        login = requests.get(f"{stashd.url}/auth", auth=("admin", password))
        token = login.json()["access_token"]
        uploaded = requests.post(
            f"{stashd.url}/api/core/v2/namespaces/default/archives",
            data=tarball(),
            headers={"Authorization": f"Bearer {token}"},
        )
        assert uploaded.status_code == 201, uploaded.text
        assert _private(data_dir)
    finally:
        stashd.stop()
    assert _private(data_dir)
    assert stat.S_IMODE(os.stat(data_dir).st_mode) == 0o700
    password = data_dir / "admin-password"
    assert stat.S_IMODE(os.stat(password).st_mode) == 0o600
    assert any(data_dir.joinpath("appendonlydir").iterdir())


def _private(data_dir) -> bool:
    modes = {}
    for root, dirs, files in os.walk(data_dir):
        for name in [*dirs, *files]:
            path = os.path.join(root, name)
            modes[path] = stat.S_IMODE(os.lstat(path).st_mode)
    shared = {path: oct(mode) for path, mode in modes.items() if mode & 0o077}
    assert shared == {}
    return len(modes) >= 4  # lock, log, password, AOF directory and its files


# No credential in the logs ----------------------------------------------------------


def test_gunicorn_access_lines_never_name_an_api_key(tmp_path):
    """An API key is the last segment of its own URL; gunicorn's plain access
    lines show it redacted, however the path is spelled."""
    admin = ("ops", "log-pass-0123")
    env = {
        "STASHD_DATA_DIR": str(tmp_path / "data"),
        "STASHD_API_USER": admin[0],
        "STASHD_API_PASSWORD": admin[1],
    }
    stashd = Stashd("gunicorn", env)
    stashd.start()
    try:
        token = requests.get(f"{stashd.url}/auth", auth=admin).json()["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        base = f"{stashd.url}/api/core/v2"
        made = requests.post(
            f"{base}/apikeys", json={"username": "ops"}, headers=bearer
        )
        assert made.status_code == 201, made.text
        key = made.headers["Location"].rsplit("/", 1)[1]
        for path in (f"/apikeys/{key}", f"/api%6beys/{key}"):
            assert requests.get(base + path, headers=bearer).status_code == 200
        assert (
            requests.delete(f"{base}/apikeys/{key}", headers=bearer).status_code == 204
        )
    finally:
        stashd.stop()
    output = stashd.output()
    assert key not in output
    assert output.count("/apikeys/<redacted>") == 3, output
