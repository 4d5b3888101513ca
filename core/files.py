"""Response bodies each server sends its own way. `FileBody`, part of a file on
disk: gunicorn's ``wsgi.file_wrapper`` uses sendfile, granian's RSGI sends the file
itself (server/rsgi.py), any other WSGI server iterates it in chunks. `StreamBody`,
pieces made as they are sent: granian's RSGI pulls each off the event loop."""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import BinaryIO

CHUNK = 1 << 20


class FileBody:
    """`length` bytes of the open `file` (at `path`) from `offset`; closes it."""

    def __init__(self, file: BinaryIO, path: str, offset: int, length: int) -> None:
        self.file = file
        self.path = path
        self.offset = offset
        self.length = length

    def __iter__(self) -> Iterator[bytes]:
        left = self.length
        fd = self.file.fileno()
        position = self.offset
        while left > 0:
            chunk = os.pread(fd, min(CHUNK, left), position)
            if not chunk:
                break  # the file shrank: Content-Length tells the client
            position += len(chunk)
            left -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.file.close()


class StreamBody:
    """A body made while it is sent (a bundle: headers and files in turn), never
    held whole; WSGI servers iterate it, the RSGI adapter pulls `next_piece`."""

    def __init__(self, pieces: Generator[bytes, None, None]) -> None:
        self.pieces = pieces

    def __iter__(self) -> Iterator[bytes]:
        return self.pieces

    def next_piece(self) -> bytes | None:
        """The next piece, None at the end (on a thread: it may read a disk)."""
        return next(self.pieces, None)

    def close(self) -> None:
        self.pieces.close()
