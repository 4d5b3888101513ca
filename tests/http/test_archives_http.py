"""Archive hosting over real HTTP, under granian (`make run`) and gunicorn: uploads
streamed to disk, downloads sent from disk, and a Sensu agent's steps end to end
(spec archives.md 16)."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import signal
import socket
import subprocess
import tarfile
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.archives.helpers import tarball
from tests.servers import (
    RedisServer,
    Stashd,
    admin_env,
    alive,
    stashd_on_own_redis,
    tree,
)

pytestmark = [pytest.mark.http, pytest.mark.integration]

CORE = "/api/core/v2"
KEY = "http-archives-key-0123456789"
PASSWORD = "archives-pass"
KEYED = {"Authorization": f"Key {KEY}"}
SCRIPT = b"#!/bin/sh\necho hello from the asset $1\n"


@pytest.fixture(scope="module")
def server(server_kind, tmp_path_factory):
    env = {
        **admin_env(tmp_path_factory.mktemp("archives-http"), PASSWORD, KEY),
        # A download outlives gunicorn's worker timeout (gthread workers).
        "GUNICORN_CMD_ARGS": "--timeout 2",
    }
    with stashd_on_own_redis(server_kind, env) as stashd:
        yield stashd


def post(server, data, **query):
    url = f"{server.url}{CORE}/namespaces/default/archives"
    return requests.post(url, data=data, headers=KEYED, params=query)


def test_upload_each_way_and_download_the_exact_bytes(server):
    data = tarball({"bin/x": os.urandom(3 * 1024 * 1024)})
    archive_id = hashlib.sha512(data).hexdigest()
    raw = post(server, data, filename="big.tar.gz")
    assert raw.status_code == 201, raw.text
    record = raw.json()["archive"]
    assert record["sha512"] == archive_id
    assert record["sha256"] == hashlib.sha256(data).hexdigest()
    url = f"{server.url}{CORE}/namespaces/default/archives"
    multipart = requests.post(url, files={"file": ("b.tgz", data)}, headers=KEYED)
    assert multipart.status_code == 200, multipart.text

    def chunked() -> Iterator[bytes]:
        for i in range(0, len(data), 100_000):
            yield data[i : i + 100_000]

    assert requests.post(url, data=chunked(), headers=KEYED).status_code == 200
    download = f"{server.url}/archives/default/{archive_id}/big.tar.gz"
    response = requests.get(
        download, headers={**KEYED, "Accept-Encoding": "gzip"}, stream=True
    )
    body = response.raw.read(decode_content=False)
    assert response.status_code == 200
    assert body == data
    assert response.headers["Content-Length"] == str(len(data))
    assert response.headers["Content-Type"] == "application/gzip"
    assert response.headers["ETag"] == f'"{archive_id}"'
    assert "Content-Encoding" not in response.headers
    ranged = requests.get(download, headers={**KEYED, "Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]
    assert ranged.headers["Content-Length"] == "10"
    assert ranged.headers["Content-Range"] == f"bytes 10-19/{len(data)}"
    head = requests.head(download, headers=KEYED)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["Content-Length"] == str(len(data))
    cached = requests.get(
        download, headers={**KEYED, "If-None-Match": f'"{archive_id}"'}
    )
    assert cached.status_code == 304 and cached.content == b""


def _read_response(sock: socket.socket) -> str:
    """One whole HTTP response with a Content-Length, as text."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
    while len(body) < length:
        body += sock.recv(65536)
    return (head + b"\r\n\r\n" + body).decode("latin-1")


def _upload_head(port: int, query: str, length: int) -> bytes:
    """The head of an upload to `port` that declares `length` bytes of body."""
    return (
        f"POST {CORE}/namespaces/default/archives{query} HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Key {KEY}\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode()


def test_declared_length_over_the_limit_is_413_before_reading(server):
    port = server.ports[0]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_upload_head(port, "", 10**12))
        answer = _read_response(sock)
    assert answer.startswith("HTTP/1.1 413"), answer
    assert '"archive is larger than 268435456 bytes"' in answer


def test_a_bad_option_is_answered_at_once_and_the_connection_closed(server):
    """A client about to send 100 MiB gets its 400 before sending any, with
    ``Connection: close``, and the server closes rather than read on (5.2)."""
    port = server.ports[0]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_upload_head(port, "?as=zip", 100 * 1024 * 1024))
        answer = _read_response(sock)
        assert answer.startswith("HTTP/1.1 400"), answer
        connection = re.findall(r"(?im)^connection:.*$", answer)
        assert [c.lower() for c in connection] == ["connection: close\r"], answer
        assert '"as must be url or build"' in answer
        sock.settimeout(5)
        try:
            rest = sock.recv(65536)
        except ConnectionResetError:
            rest = b""
        assert rest == b""  # closed by the server, not waiting for the body


def test_an_upload_read_to_its_end_keeps_the_connection(server):
    data = tarball({"bin/kept": b"1"})
    port = server.ports[0]
    head = (
        f"POST {CORE}/namespaces/default/archives HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nAuthorization: Key {KEY}\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for _ in range(2):  # the second on the same connection
            sock.sendall(head + data)
            answer = _read_response(sock)
            assert answer.split(" ")[1] in ("200", "201"), answer
            assert not re.search(r"(?im)^connection: *close", answer), answer


def test_refusal_names_the_kind(server):
    response = post(server, b"<!DOCTYPE html><html><body>oops</body></html>")
    assert response.status_code == 400
    assert "looks like HTML page" in response.json()["message"]


def test_missing_credentials_are_401(server):
    response = requests.get(f"{server.url}/archives/default/{'0' * 128}")
    assert response.status_code == 401
    assert response.json() == {"message": "bad credentials", "code": 5}


# A Sensu Go agent's steps (spec archives.md 16, 17), by the agent's own rules.


def _passes(expression: str, entity: dict) -> bool:
    """A filter of the kind these tests write: ``entity.<a>.<b> == "<value>"``
    clauses joined by ``&&``."""
    for clause in expression.split("&&"):
        left, _, right = clause.partition("==")
        value: object = {"entity": entity}
        for part in left.strip().split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value != right.strip().strip("'\""):
            return False
    return True


def _templated(text: str, entity: dict) -> str:
    return re.sub(
        r"\{\{\s*\.annotations\.(\w+)\s*\}\}",
        lambda m: entity["metadata"]["annotations"][m.group(1)],
        text,
    )


def agent_install(
    server_url: str, asset_name: str, entity: dict, cache: str, via: str | None = None
) -> str:
    """Fetch, verify and unpack an asset as a Sensu Go agent does; the unpacked
    directory. :raise AssertionError: where the agent would fail."""
    definition = requests.get(
        f"{server_url}{CORE}/namespaces/default/assets/{asset_name}", headers=KEYED
    ).json()
    chosen = definition
    for build in definition.get("builds") or []:
        if all(_passes(f, entity) for f in build.get("filters") or []):
            chosen = build
            break
    headers = {}
    for name, value in (chosen.get("headers") or {}).items():
        # Each value is templated, then split on commas into lines of its own.
        parts = [p.strip() for p in _templated(value, entity).split(",")]
        headers[name] = ", ".join(parts)
    url = chosen["url"]
    if via is not None:
        url = url.replace(server_url, via)
    # requests asks for gzip and decodes a gzip Content-Encoding, as Go does.
    response = requests.get(url, headers=headers, allow_redirects=True)
    assert response.status_code == 200, f"Response Code {response.status_code}"
    body = response.content
    got = hashlib.sha512(body).hexdigest()
    assert got.lower() == chosen["sha512"].lower(), "sha512 does not match"
    head = body[:262]
    if head.startswith(b"\x1f\x8b\x08"):
        mode = "r:gz"
    elif head[257:262] == b"ustar":
        mode = "r:"
    else:
        raise AssertionError("given file of format does not appear valid")
    target = os.path.join(cache, got)
    with tarfile.open(fileobj=io.BytesIO(body), mode=mode) as tar:
        tar.extractall(target, filter="data")
    return target


def scoped_key(server, scopes: list[str]) -> str:
    """A new API key of the administrator with `scopes`."""
    response = requests.post(
        f"{server.url}{CORE}/apikeys",
        json={"username": "ops", "scopes": scopes},
        headers=KEYED,
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"].rsplit("/", 1)[1]


def entity(key: str) -> dict:
    """The agent's entity, whose annotation brings the key its definitions name."""
    return {
        "system": {"os": "linux", "arch": "amd64"},
        "metadata": {"annotations": {"stashd_key": key}},
    }


ENTITY = entity(KEY)


def test_a_read_scoped_key_downloads_and_nothing_more(server):
    key = scoped_key(server, ["archives:read:default"])
    headers = {"Authorization": f"Key {key}"}
    data = tarball({"bin/scoped": b"x"})
    assert post(server, data).status_code == 201
    archive_id = hashlib.sha512(data).hexdigest()
    response = requests.get(
        f"{server.url}/archives/default/{archive_id}", headers=headers
    )
    assert response.status_code == 200 and response.content == data
    # The fast path's credential check (the stash routes) refuses it too.
    assert requests.get(f"{server.url}/stashes", headers=headers).status_code == 403
    upload = requests.post(
        f"{server.url}{CORE}/namespaces/default/archives", data=data, headers=headers
    )
    assert upload.status_code == 403


@pytest.mark.parametrize("compress", [True, False])
def test_agent_end_to_end(server, tmp_path, compress):
    marker = f"{server.server}-{compress}".encode()
    data = tarball({"bin/hello": SCRIPT, "lib/marker": marker}, compress=compress)
    definition = {"headers": {"Authorization": "Key {{ .annotations.stashd_key }}"}}
    url = f"{server.url}{CORE}/namespaces/default/archives"
    name = f"hello-{compress}"
    for filters, content in (
        (['entity.system.os == "windows"'], tarball()),
        (['entity.system.os == "linux" && entity.system.arch == "amd64"'], data),
    ):
        response = requests.post(
            url,
            files={
                "file": ("hello.tar.gz", content),
                "definition": (None, json.dumps(definition)),
            },
            params={"asset": name, "as": "build", "filter": filters},
            headers=KEYED,
        )
        assert response.status_code in (200, 201), response.text
        assert response.json()["warnings"] == []
    # The agent brings a read-only key of its own, through its entity.
    reader = scoped_key(server, ["archives:read:default"])
    target = agent_install(server.url, name, entity(reader), str(tmp_path))
    with open(os.path.join(target, "lib", "marker"), "rb") as file:
        assert file.read() == marker
    out = subprocess.run(
        [os.path.join(target, "bin", "hello"), "x"], capture_output=True, check=True
    )
    assert out.stdout == b"hello from the asset x\n"


class _GzipLabellingProxy(http.server.BaseHTTPRequestHandler):
    """A proxy that forwards GETs and marks every answer ``Content-Encoding: gzip``,
    as a misconfigured compressing proxy does to an already gzipped file."""

    upstream = ""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
        answer = requests.get(self.upstream + self.path, headers=headers)
        self.send_response(answer.status_code)
        body = answer.content
        self.send_header("Content-Type", answer.headers.get("Content-Type", ""))
        self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_agent_fails_behind_a_proxy_adding_content_encoding(server, tmp_path):
    data = tarball({"bin/hello": SCRIPT})
    definition = {"headers": {"Authorization": f"Key {KEY}"}}
    response = requests.post(
        f"{server.url}{CORE}/namespaces/default/archives",
        files={
            "file": ("p.tar.gz", data),
            "definition": (None, json.dumps(definition)),
        },
        params={"asset": "proxied"},
        headers=KEYED,
    )
    assert response.status_code in (200, 201), response.text
    handler = type("Proxy", (_GzipLabellingProxy,), {"upstream": server.url})
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        via = f"http://127.0.0.1:{proxy.server_address[1]}"
        agent_install(server.url, "proxied", ENTITY, str(tmp_path / "direct"))
        with pytest.raises(AssertionError, match="sha512 does not match"):
            agent_install(server.url, "proxied", ENTITY, str(tmp_path / "p"), via=via)
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.mark.slow
def test_100_mib_download_read_slowly_past_the_worker_timeout(server):
    data = tarball({"bin/big": os.urandom(100 * 1024 * 1024)}, compress=False)
    response = post(server, data, filename="big.tar")
    assert response.status_code in (200, 201), response.text[:300]
    archive_id = hashlib.sha512(data).hexdigest()
    del data
    url = f"{server.url}/archives/default/{archive_id}"
    digest = hashlib.sha512()
    started = time.monotonic()
    with requests.get(url, headers=KEYED, stream=True) as download:
        assert download.status_code == 200
        for chunk in download.iter_content(1024 * 1024):
            digest.update(chunk)
            time.sleep(0.03)  # about 3.5 s in all: past gunicorn's 2 s timeout
    assert time.monotonic() - started > 2
    assert digest.hexdigest() == archive_id


def _answer(url: str) -> requests.Response:
    """GET `url` once the restarted server answers: granian may reset connections
    its workers were not up yet to take."""
    deadline = time.monotonic() + 15
    while True:
        try:
            return requests.get(url, headers=KEYED)
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _wait_for(condition, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_kill_between_rename_and_redis_leaves_no_record(server_kind, tmp_path):
    """Redis is frozen once the upload's bytes stream in; the server is killed as
    soon as the blob is in place: no record names it, the asset is unchanged, and
    GC removes the blob later (spec archives.md 4.1, 6.3)."""
    redis_server = RedisServer()
    redis_server.start()
    data_dir = tmp_path / "data"
    env = {
        "STASHD_REDIS_URL": redis_server.url,
        **admin_env(data_dir, PASSWORD, KEY),
        "STASHD_ARCHIVE_BLOB_GRACE_SECONDS": "0",
        "WEB_CONCURRENCY": "1",
    }
    stashd = Stashd(server_kind, env)
    stashd.start()
    url = f"{CORE}/namespaces/default/archives"
    try:
        first = tarball({"bin/first": b"1"})
        assert post(stashd, first, asset="x").status_code == 201
        before = requests.get(
            f"{stashd.url}{CORE}/namespaces/default/assets/x", headers=KEYED
        )
        data = tarball({"bin/second": os.urandom(2 * 1024 * 1024)})
        archive_id = hashlib.sha512(data).hexdigest()
        blobs = data_dir / "archives" / "blobs"
        blob = blobs / archive_id[:2] / archive_id[2:4] / archive_id
        tmp = data_dir / "archives" / "tmp"
        port = stashd.ports[0]
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                (
                    f"POST {url}?asset=x HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                    f"Authorization: Key {KEY}\r\nContent-Length: {len(data)}\r\n\r\n"
                ).encode()
                + data[:1000]
            )
            # The body is being received: credentials and namespace are checked.
            _wait_for(lambda: tmp.is_dir() and any(tmp.iterdir()))
            os.kill(redis_server.process.pid, signal.SIGSTOP)
            try:
                sock.sendall(data[1000:])
                _wait_for(blob.exists)
                pids = tree(stashd.process.pid)
                for pid in pids:
                    os.kill(pid, signal.SIGKILL)
                stashd.process.wait()
                _wait_for(lambda: not any(alive(p) for p in pids))
            finally:
                os.kill(redis_server.process.pid, signal.SIGCONT)
        stashd.process = None
        stashd.start()
        listed = _answer(f"{stashd.url}{url}").json()
        assert [r["sha512"] for r in listed] == [hashlib.sha512(first).hexdigest()]
        after = requests.get(
            f"{stashd.url}{CORE}/namespaces/default/assets/x", headers=KEYED
        )
        assert after.content == before.content
        assert blob.exists()
        report = requests.post(f"{stashd.url}{CORE}/archives/gc", headers=KEYED).json()
        assert report["deleted_blobs"] == 1
        assert not blob.exists()
    finally:
        stashd.stop()
        redis_server.remove()
