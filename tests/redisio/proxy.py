"""A Redis proxy on 127.0.0.1 that can answer late, or refuse, chosen commands.

It stands between stashd and a real redis-server: commands are passed on one at a
time, in order, per connection; a `hold` rule passes its command on at once but
delays the reply (the command has run, its answer is late: an fsync stall), a
`refuse` rule answers with an error reply instead of Redis (READONLY, LOADING, ...).
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

import hiredis

Matcher = Callable[[list[bytes]], bool]

# What a client sends on connecting; rules leave these alone.
HANDSHAKE = frozenset({b"AUTH", b"CLIENT", b"HELLO", b"SELECT"})


def touching(marker: str) -> Matcher:
    """Commands with an argument that contains `marker` (a path, a name)."""
    wanted = marker.encode()
    return lambda command: any(wanted in arg for arg in command[1:])


def any_command(command: list[bytes]) -> bool:
    """Every command but the handshake."""
    return command[0].upper() not in HANDSHAKE


class Rule(NamedTuple):
    when: Matcher
    delay: float  # seconds the reply is held back
    error: bytes | None  # an error reply given instead of Redis's


# RESP2 and RESP3 types: with a length line, and with a count (of pairs for maps).
_BLOBS = frozenset(b"$!=")
_AGGREGATES = {ord("*"): 1, ord("~"): 1, ord(">"): 1, ord("%"): 2, ord("|"): 2}


def _end(buffer: bytes, start: int) -> int | None:
    """Where the reply at `start` ends, or None while it is incomplete."""
    line = buffer.find(b"\r\n", start)
    if line < 0:
        return None
    kind, after = buffer[start], line + 2
    if kind in _BLOBS:
        size = int(buffer[start + 1 : line])
        end = after if size < 0 else after + size + 2
        return end if end <= len(buffer) else None
    if kind in _AGGREGATES:
        for _ in range(max(0, int(buffer[start + 1 : line])) * _AGGREGATES[kind]):
            found = _end(buffer, after)
            if found is None:
                return None
            after = found
    return after


class RedisProxy:
    """A proxy to the redis-server on `upstream_port`; `accepted` counts connections."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.rules: list[Rule] = []
        self.accepted = 0
        self.stopping = threading.Event()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisProxy:
        self._spawn(self._accept)
        return self

    def hold(self, seconds: float, when: Matcher = any_command) -> None:
        """Run matching commands, but send their replies `seconds` late."""
        self.rules.append(Rule(when, seconds, None))

    def refuse(self, error: str, when: Matcher = any_command) -> None:
        """Answer matching commands with the error reply `error` instead of Redis."""
        self.rules.append(Rule(when, 0.0, error.encode()))

    def clear(self) -> None:
        self.rules = []

    def stop(self) -> None:
        self.stopping.set()
        with self._lock:
            # shutdown() wakes the threads blocked in accept() and recv().
            for sock in [self.listener, *self._sockets]:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
        for thread in self._threads:
            thread.join(5)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            self._spawn(self._serve, client)

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self.stopping.is_set():
                sock.close()
                return False
            self._sockets.add(sock)
            return True

    def _serve(self, client: socket.socket) -> None:
        if not self._track(client):
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), 5)
        except OSError:
            client.close()
            return
        if not self._track(upstream):
            return
        upstream.settimeout(None)
        commands, replies = hiredis.Reader(), bytearray()
        try:
            while data := client.recv(1 << 16):
                commands.feed(data)
                while (command := commands.gets()) is not False:
                    client.sendall(self._answer(command, upstream, replies))
        except OSError:
            pass  # either side went away, or the proxy stops
        finally:
            client.close()
            upstream.close()

    def _answer(
        self, command: list[bytes], upstream: socket.socket, replies: bytearray
    ) -> bytes:
        """The reply to `command`: Redis's bytes as they are, or an error of a rule."""
        rule = next((r for r in self.rules if r.when(command)), None)
        if rule is not None and rule.error is not None:
            return b"-%s\r\n" % rule.error
        upstream.sendall(hiredis.pack_command(tuple(command)))
        while (end := _end(bytes(replies), 0)) is None:
            data = upstream.recv(1 << 16)
            if not data:
                raise OSError("redis closed the connection")
            replies += data
        reply = bytes(replies[:end])
        del replies[:end]
        if rule is not None and rule.delay:
            self.stopping.wait(rule.delay)
        return reply
