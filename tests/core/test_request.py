"""Each server's request value: path, query, any header, and one set of body rules."""

from __future__ import annotations

import asyncio
import io

import pytest

from core.errors import BadRequest, PayloadTooLarge
from core.request import RSGIRequest, WSGIRequest

LIMIT = 10


class Scope:
    """What an RSGIRequest reads of granian's scope (its headers: lower-case names)."""

    def __init__(self, method: str, path: str, query: str = "", headers=None) -> None:
        self.method, self.path, self.query_string = method, path, query
        self.headers = dict(headers or {})


class Protocol:
    """granian's request body: one await for all of it, or chunk by chunk."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks, self.error = chunks, error
        self.read = 0
        self.awaits = 0

    async def __call__(self) -> bytes:
        self.awaits += 1
        if self.error is not None:
            raise self.error
        self.read = sum(map(len, self.chunks))
        return b"".join(self.chunks)

    async def __aiter__(self):
        for chunk in self.chunks:
            self.awaits += 1
            self.read += len(chunk)
            yield chunk


class Stream(io.BytesIO):
    """wsgi.input, counting what is read of it."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.taken = 0

    def read(self, size: int = -1) -> bytes:
        chunk = super().read(size)
        self.taken += len(chunk)
        return chunk


def wsgi(
    method: str, path: str, query: str = "", headers=None, body=b""
) -> WSGIRequest:
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        environ[key if key.startswith("CONTENT_") else "HTTP_" + key] = value
    environ["wsgi.input"] = Stream(body)
    environ["wsgi.input_terminated"] = True
    return WSGIRequest(environ)


def rsgi(method: str, path: str, query: str = "", headers=None) -> RSGIRequest:
    return RSGIRequest(Scope(method, path, query, headers))


def test_requests_read_method_path_and_query_alike():
    for request in (wsgi("GET", "//stash/a", "x=1"), rsgi("GET", "//stash/a", "x=1")):
        assert (request.method, request.path, request.query) == (
            "GET",
            "/stash/a",
            "x=1",
        )


@pytest.mark.parametrize("make", [wsgi, rsgi], ids=["wsgi", "rsgi"])
def test_requests_read_any_header_by_its_lower_case_name(make):
    headers = {"x-made-up": "yes", "content-length": "3", "content-type": "text/x"}
    request = make("GET", "/", headers=headers)
    assert request.header("x-made-up") == "yes"
    assert request.header("content-length") == "3"
    assert request.header("content-type") == "text/x"
    assert request.header("authorization") is None


def test_rsgi_request_path_holds_the_url_bytes_as_latin1_text():
    assert rsgi("GET", "/stash/é").path == "/stash/\xc3\xa9"  # as PATH_INFO would
    # granian's stand-in for bytes that are not UTF-8 becomes such a byte again.
    assert rsgi("GET", "/stash/\ufffd").path == "/stash/\xff"


def body(kind: str, headers: dict, *chunks: bytes) -> tuple[bytes | Exception, int]:
    """The body of a POST with `headers`, or its error; and how many bytes were read."""
    if kind == "wsgi":
        request = wsgi("POST", "/stashes", headers=headers, body=b"".join(chunks))
        stream = request.environ["wsgi.input"]
    else:
        request = rsgi("POST", "/stashes", headers=headers)
        stream = Protocol(*chunks)
        asyncio.run(request.receive(stream, LIMIT))
    try:
        result: bytes | Exception = request.body(LIMIT)
    except (BadRequest, PayloadTooLarge) as exc:
        result = exc
    return result, stream.taken if kind == "wsgi" else stream.read


KINDS = pytest.mark.parametrize("kind", ["wsgi", "rsgi"])


@KINDS
def test_body_of_a_declared_length_within_the_limit_is_read(kind):
    assert body(kind, {"content-length": "4"}, b"{}{}") == (b"{}{}", 4)


@KINDS
def test_body_declared_over_the_limit_is_413_before_reading(kind):
    result, read = body(kind, {"content-length": str(LIMIT + 1)}, b"x" * (LIMIT + 1))
    assert isinstance(result, PayloadTooLarge) and read == 0


@KINDS
def test_body_with_a_length_that_is_not_a_number_is_400(kind):
    result, _ = body(kind, {"content-length": "4x"}, b"{}{}")
    assert isinstance(result, BadRequest)


@KINDS
def test_body_chunked_is_read_up_to_the_limit(kind):
    assert body(kind, {}, b"12345", b"67890") == (b"1234567890", LIMIT)


@KINDS
def test_body_chunked_over_the_limit_is_413_after_one_byte_more(kind):
    result, read = body(kind, {}, b"12345", b"67890", b"1", b"more")
    assert isinstance(result, PayloadTooLarge)
    assert read == LIMIT + 1


def test_rsgi_body_of_a_length_that_fits_takes_one_await():
    request = rsgi("POST", "/stashes", headers={"content-length": "4"})
    protocol = Protocol(b"{}", b"{}")
    asyncio.run(request.receive(protocol, LIMIT))
    assert protocol.awaits == 1 and request.body(LIMIT) == b"{}{}"


def test_rsgi_body_cut_short_receiving_it_is_400():
    # granian raises RSGIProtocolClosed (a RuntimeError) when the client goes away.
    request = rsgi("POST", "/stashes", headers={"content-length": "4"})
    asyncio.run(request.receive(Protocol(error=RuntimeError("gone")), LIMIT))
    with pytest.raises(BadRequest, match="request body is incomplete"):
        request.body(LIMIT)
