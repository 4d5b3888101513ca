"""An upstream for mirror tests: a small threaded HTTP server on 127.0.0.1 that
answers by path as told, counts its requests and keeps their headers."""

from __future__ import annotations

import collections
import http.server
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trustme


class Upstream:
    """Answers set per path: bytes, a status, a redirect, or a stall."""

    def __init__(self, ca_file: str | None = None) -> None:
        self.answers: dict[str, dict[str, Any]] = {}
        self.counts: collections.Counter[str] = collections.Counter()
        self.seen: list[dict[str, str]] = []
        self.lock = threading.Lock()
        # A stalled answer sends its headers, then waits for this before its body.
        self.release = threading.Event()
        handler = type("Handler", (_Handler,), {"upstream": self})
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        # Handler threads are joined when the server closes: no socket of theirs
        # outlives the test.
        self.server.daemon_threads = False
        self.port = self.server.server_address[1]
        self.scheme = "http"
        if ca_file is not None:  # HTTPS, by a CA of its own written to ca_file
            ca = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert("127.0.0.1").configure_cert(context)
            ca.cert_pem.write_to_path(ca_file)
            self.server.socket = context.wrap_socket(
                self.server.socket, server_side=True
            )
            self.scheme = "https"

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def serve(
        self,
        path: str,
        body: bytes = b"",
        status: int = 200,
        headers: dict[str, str] | None = None,
        stall: bool = False,
        delay: float = 0.0,
        chunked: bool = False,
        stall_at: int | None = None,
    ) -> str:
        """Answer GET `path` so; its URL. `stall_at`: send that many bytes of the
        body, then wait for `release` before the rest."""
        self.answers[path] = {
            "body": body,
            "status": status,
            "headers": headers or {},
            "stall": stall,
            "delay": delay,
            "chunked": chunked,
            "stall_at": stall_at,
        }
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        return self.serve(path, status=status, headers={"Location": to})

    def count(self, path: str | None = None) -> int:
        with self.lock:
            return sum(self.counts.values()) if path is None else self.counts[path]


class _Handler(http.server.BaseHTTPRequestHandler):
    upstream: Upstream
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        up = self.upstream
        with up.lock:
            up.counts[self.path] += 1
            up.seen.append(dict(self.headers.items()))
        answer = up.answers.get(self.path)
        if answer is None:
            answer = {"body": b"", "status": 404, "headers": {}, "stall": False}
        if answer.get("delay"):
            up.release.wait(answer["delay"])
        self.send_response(answer["status"])
        for name, value in answer["headers"].items():
            self.send_header(name, value)
        self.send_header("Connection", "close")
        self.close_connection = True
        body = answer["body"]
        if answer.get("chunked"):  # no length said: one chunk, then the end
            body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        else:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if answer.get("stall_at") is not None:  # part of the body, then a stall
            cut = answer["stall_at"]
            try:
                self.wfile.write(body[:cut])
                self.wfile.flush()
            except OSError:
                return  # the client went
            up.release.wait(30)
            body = body[cut:]
        if answer["stall"]:
            self.wfile.flush()
            up.release.wait(30)
        try:
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up on the stall

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def running(ca_file: str | None = None) -> Iterator[Upstream]:
    """An upstream serving until the block ends (HTTPS with `ca_file`)."""
    upstream = Upstream(ca_file)
    thread = threading.Thread(target=upstream.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield upstream
    finally:
        upstream.release.set()
        upstream.server.shutdown()
        upstream.server.server_close()
