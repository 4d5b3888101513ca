"""A response body that is part of a file on disk, which each server sends its own
way: gunicorn's ``wsgi.file_wrapper`` uses sendfile, granian's RSGI sends the file
itself (server/rsgi.py), any other WSGI server iterates it in chunks."""

from __future__ import annotations

import os
from collections.abc import Iterator
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
