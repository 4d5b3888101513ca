"""The checks an archive's bytes must pass before they are stored (spec archives.md
5.3), and the layout hint. No Flask, no Redis: bytes and files only.

The type is told exactly as a Sensu Go agent tells it (h2non/filetype 1.0.3, the
first 262 bytes): gzip when bytes 0-2 are ``1f 8b 08``, tar when bytes 257-261 are
``ustar``. Anything else would fail on every agent, so it is refused here, naming
what it looks like: an HTML error page saved in place of a tarball is the usual
cause of agents' checksum failures.
"""

from __future__ import annotations

import tarfile
import zlib
from typing import IO

TAR_GZIP = "tar+gzip"
TAR = "tar"

GZIP_MAGIC = b"\x1f\x8b\x08"
USTAR = b"ustar"
USTAR_AT = 257

# Magic numbers of what is uploaded by mistake, tried in order.
_KINDS: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),
    (b"PK\x07\x08", "zip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"7z\xbc\xaf\x27\x1c", "7z"),
    (b"\x7fELF", "ELF executable"),
)

# Top-level directories agents put on PATH, LD_LIBRARY_PATH and CPATH.
AGENT_DIRS = ("bin", "lib", "include")

_READ = 1 << 20


class Refused(ValueError):
    """Bytes that must not be stored; the message is the client's reason."""


def kind_of(head: bytes) -> str:
    """What bytes that are not a tar or gzip look like, for the refusal."""
    for magic, kind in _KINDS:
        if head.startswith(magic):
            return kind
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html", b"<head", b"<body")) or (
        text.startswith(b"<") and b"<html" in text
    ):
        return "HTML page"
    if text.startswith((b"{", b"[")):
        return "JSON"
    return "unknown"


def sniff(head: bytes) -> str:
    """The archive type of bytes starting with `head`, as an agent tells it.

    :raise Refused: neither gzip nor tar (a V7 tar without ``ustar`` included).
    """
    if head.startswith(GZIP_MAGIC):
        return TAR_GZIP
    if head[USTAR_AT : USTAR_AT + len(USTAR)] == USTAR:
        return TAR
    raise Refused(
        f"not a tar or gzip-compressed tar archive (looks like {kind_of(head)}); "
        "Sensu agents unpack only those two formats"
    )


class _Gunzip:
    """A file-like reader of the decompressed bytes of a gzip file, which checks
    every member's CRC and length, and that nothing but gzip members follows."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.inflater = zlib.decompressobj(31)
        self.pending = b""
        self.done = False

    def _more(self) -> bytes:
        while not self.done:
            data = self.raw.read(_READ)
            if not data:
                if not self.inflater.eof:
                    raise Refused("archive is damaged: gzip stream is truncated")
                self.done = True
                return b""
            out = self.inflater.decompress(data)
            while self.inflater.eof and self.inflater.unused_data:
                rest = self.inflater.unused_data
                if not rest.startswith(GZIP_MAGIC[:2]):
                    raise Refused("archive is damaged: data after the gzip stream")
                self.inflater = zlib.decompressobj(31)
                out += self.inflater.decompress(rest)
            if out:
                return out
        return b""

    def read(self, size: int = -1) -> bytes:
        try:
            while size < 0 or len(self.pending) < size:
                more = self._more()
                if not more:
                    break
                self.pending += more
        except zlib.error as exc:
            raise Refused(f"archive is damaged: {exc}") from None
        if size < 0:
            data, self.pending = self.pending, b""
        else:
            data, self.pending = self.pending[:size], self.pending[size:]
        return data


def _check_name(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or ".." in parts:
        raise Refused(f"member {name} would be unpacked outside the asset directory")


def layout_warnings(names: list[str]) -> list[str]:
    """The layout hint: agents find nothing without top-level bin/, lib/ or
    include/ (spec 5.3); never a refusal."""
    tops = set()
    for name in names:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if parts:
            tops.add(parts[0])
    if not tops or tops & set(AGENT_DIRS):
        return []
    inside = f" (everything is inside {next(iter(tops))}/)" if len(tops) == 1 else ""
    return [
        f"no top-level bin/, lib/ or include/{inside}: agents will not find the "
        "commands"
    ]


def inspect(path: str, kind: str) -> list[str]:
    """Read the whole archive at `path` (of type `kind`): gzip to its end, CRC
    included; every tar header to the end marker; member names. The layout
    warnings when it passes.

    :raise Refused: with the reason.
    """
    with open(path, "rb") as raw:
        stream: IO[bytes] | _Gunzip = raw
        if kind == TAR_GZIP:
            stream = _Gunzip(raw)
            head = stream.read(512)
            if head[USTAR_AT : USTAR_AT + len(USTAR)] != USTAR:
                raise Refused("gzip file does not contain a tar archive")
            stream.pending = head + stream.pending
        names = []
        try:
            with tarfile.open(fileobj=stream, mode="r|") as tar:  # type: ignore[call-overload]
                for member in tar:
                    _check_name(member.name)
                    names.append(member.name)
        except (tarfile.TarError, EOFError) as exc:
            raise Refused(f"archive is damaged: {exc}") from None
        # The rest of the stream (padding, the gzip trailer) must read cleanly too.
        while stream.read(_READ):
            pass
    return layout_warnings(names)
