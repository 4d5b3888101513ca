"""A Flask request's body under RSGI: read from a thread, chunk by chunk, lazily."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import pytest

import server.rsgi_input
from core.errors import BadRequest, PayloadTooLarge
from core.request import read_limited
from server.rsgi_input import LoopInput


class Protocol:
    """granian's request body, chunk by chunk; counts the chunks handed out."""

    def __init__(self, *chunks: bytes, error: Exception | None = None) -> None:
        self.chunks, self.error = chunks, error
        self.given = 0
        self.stall = False
        self.pause = 0.0  # seconds before each chunk

    async def __aiter__(self):
        for chunk in self.chunks:
            if self.pause:
                await asyncio.sleep(self.pause)
            self.given += 1
            yield chunk
        if self.stall:
            await asyncio.sleep(60)
        if self.error is not None:
            raise self.error


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop running on a thread of its own, as granian's worker loop does."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_loop_input_reads_nothing_until_asked(loop):
    protocol = Protocol(b"abc", b"def")
    LoopInput(protocol, loop)
    assert protocol.given == 0


def test_loop_input_reads_only_the_chunks_a_read_needs(loop):
    protocol = Protocol(b"abc", b"def", b"ghi")
    stream = LoopInput(protocol, loop)
    assert stream.read(2) == b"ab"
    assert protocol.given == 1
    assert stream.read(3) == b"cde"
    assert stream.read(-1) == b"fghi"
    assert stream.read(5) == b""


def test_loop_input_under_the_body_rules_stops_one_byte_past_the_limit(loop):
    protocol = Protocol(*[b"x" * 4] * 100)
    with pytest.raises(PayloadTooLarge):
        read_limited(None, True, LoopInput(protocol, loop), 10)
    assert protocol.given == 3  # 12 bytes: enough to tell 11 > 10, no more


def test_loop_input_body_shorter_than_declared_is_incomplete(loop):
    stream = LoopInput(Protocol(b"{}"), loop)
    with pytest.raises(BadRequest, match="request body is incomplete"):
        read_limited("3", True, stream, 10)


def test_loop_input_transport_closed_mid_body_is_incomplete(loop):
    stream = LoopInput(Protocol(b"{", error=RuntimeError("closed")), loop)
    with pytest.raises(BadRequest, match="request body is incomplete"):
        read_limited(None, True, stream, 10)


def test_loop_input_gives_up_on_a_body_that_stops_arriving(loop, monkeypatch):
    monkeypatch.setattr(server.rsgi_input, "BODY_WAIT", 0.2)
    protocol = Protocol(b"{")
    protocol.stall = True
    with pytest.raises(BadRequest, match="request body is incomplete"):
        read_limited("2", True, LoopInput(protocol, loop), 10)


def test_loop_input_gathers_a_read_in_one_trip_to_the_loop(loop, monkeypatch):
    trips = []
    real = asyncio.run_coroutine_threadsafe

    def counted(coro, target):
        trips.append(1)
        return real(coro, target)

    monkeypatch.setattr(server.rsgi_input.asyncio, "run_coroutine_threadsafe", counted)
    stream = LoopInput(Protocol(*[bytes([n]) * 4 for n in range(10)]), loop)
    first = stream.read(10)
    assert first == b"\x00" * 4 + b"\x01" * 4 + b"\x02" * 2
    assert type(first) is bytes and len(trips) == 1
    assert stream.read(2) == b"\x02" * 2 and len(trips) == 1  # the split chunk's rest
    assert stream.read(-1) == b"".join(bytes([n]) * 4 for n in range(3, 10))
    assert len(trips) == 2


def test_loop_input_waits_for_each_chunk_not_for_the_whole_read(loop, monkeypatch):
    monkeypatch.setattr(server.rsgi_input, "BODY_WAIT", 0.2)
    protocol = Protocol(*[b"x" * 4] * 6)
    protocol.pause = 0.1  # 0.6 s in all, each chunk within the wait
    assert LoopInput(protocol, loop).read(24) == b"x" * 24
