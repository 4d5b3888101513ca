"""Archives the tests upload: tarballs built in memory, and request helpers."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import tarfile
from typing import Any

from tests.sensugo import AUTH, CORE

BASE = f"{CORE}/namespaces/default/archives"
HELLO = b"#!/bin/sh\necho hello from the asset\n"


def tarball(
    files: dict[str, bytes] | None = None,
    compress: bool = True,
    fmt: int = tarfile.USTAR_FORMAT,
) -> bytes:
    """A tar (gzip-compressed unless `compress` is false) holding `files`."""
    files = {"bin/hello": HELLO} if files is None else files
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o755, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if compress else raw


def v7_tar() -> bytes:
    """A pre-POSIX tar: no ``ustar`` mark at 257, which agents refuse."""
    data = bytearray(tarball(compress=False))
    data[257:265] = b"\0" * 8
    return bytes(data)


# Bytes agents refuse, and the kind the refusal names.
REFUSED = {
    "zip": (b"PK\x03\x04" + b"\0" * 100, "looks like zip"),
    "html": (b"<!DOCTYPE html>\n<html><body>Not Found</body></html>", "HTML page"),
    "json": (b'{"message": "not found"}', "looks like JSON"),
    "bzip2": (bz2.compress(b"x" * 100), "looks like bzip2"),
    "empty": (b"", "archive is empty"),
    "gzip-of-text": (
        gzip.compress(b"just text " * 100),
        "gzip file does not contain a tar archive",
    ),
    "truncated": (tarball({"bin/x": bytes(range(256)) * 64})[:-40], "damaged"),
    "v7": (v7_tar(), "looks like unknown"),
    "dotdot": (tarball({"../evil": b"x"}), "member ../evil would be unpacked"),
    "absolute": (tarball({"/etc/evil": b"x"}), "member /etc/evil would be"),
}


def sha512(data: bytes) -> str:
    return hashlib.sha512(data).hexdigest()


def upload(client: Any, data: bytes, ns: str = "default", **query: Any) -> Any:
    """POST `data` as a raw body, `query` as the query string."""
    url = f"{CORE}/namespaces/{ns}/archives"
    return client.post(url, data=data, headers=AUTH, query_string=query)


def upload_multipart(
    client: Any,
    data: bytes,
    filename: str = "hello.tar.gz",
    ns: str = "default",
    part: str = "file",
    fields: dict[str, str] | None = None,
    **query: Any,
) -> Any:
    form: dict[str, Any] = dict(fields or {})
    form[part] = (io.BytesIO(data), filename)
    url = f"{CORE}/namespaces/{ns}/archives"
    return client.post(
        url,
        data=form,
        headers=AUTH,
        query_string=query,
        content_type="multipart/form-data",
    )


def blob_files(app: Any) -> list[str]:
    """The blobs on disk."""
    return list(app.extensions["blobs"].ids())


def temp_files(app: Any) -> list[str]:
    import os

    tmp = app.extensions["blobs"].tmp
    return os.listdir(tmp) if os.path.isdir(tmp) else []


def cached_pages(path: str) -> int:
    """How many pages of the file at `path` the kernel's page cache holds now
    (mincore(2) over a mapping that touches none of them)."""
    import ctypes
    import mmap
    import os

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]  # fmt: skip
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    size = os.path.getsize(path)
    pages = -(-size // mmap.PAGESIZE)
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap failed")
        try:
            vector = (ctypes.c_ubyte * pages)()
            if libc.mincore(address, size, vector) != 0:
                raise OSError(ctypes.get_errno(), "mincore failed")
            return sum(byte & 1 for byte in vector)
        finally:
            libc.munmap(address, size)
    finally:
        os.close(fd)


def drops_clean_pages(directory: str) -> bool:
    """Whether the filesystem of `directory` lets advice drop a synced file's pages
    from the cache (tmpfs does not: its pages are the file)."""
    import os

    path = os.path.join(directory, "probe")
    with open(path, "wb") as file:
        file.write(os.urandom(1 << 16))
        file.flush()
        os.fsync(file.fileno())
        os.posix_fadvise(file.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
    try:
        return cached_pages(path) == 0
    finally:
        os.unlink(path)
