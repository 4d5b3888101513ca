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
        # Decompressed bytes not read yet: pending[offset:]. Reads take slices
        # from the offset, so a read copies at most what it returns.
        self.pending = b""
        self.offset = 0
        self.done = False

    def _more(self) -> bytes:
        """The next decompressed bytes, at most _READ of them: a megabyte of gzip
        may inflate a thousandfold. b"" at the end."""
        while not self.done:
            inflater = self.inflater
            if inflater.eof:
                rest = inflater.unused_data or self.raw.read(_READ)
                if not rest:
                    self.done = True
                    return b""
                if not rest.startswith(GZIP_MAGIC[:2]):
                    raise Refused("archive is damaged: data after the gzip stream")
                self.inflater = zlib.decompressobj(31)
                data = rest
            else:
                data = inflater.unconsumed_tail or self.raw.read(_READ)
            out = self.inflater.decompress(data, _READ)
            if out:
                return out
            if not data and not self.inflater.eof:
                raise Refused("archive is damaged: gzip stream is truncated")
        return b""

    def _fill(self, size: int) -> None:
        """Make at least `size` bytes pending, unless the stream ends first."""
        try:
            while len(self.pending) - self.offset < size:
                more = self._more()
                if not more:
                    break
                self.pending = self.pending[self.offset :] + more
                self.offset = 0
        except zlib.error as exc:
            raise Refused(f"archive is damaged: {exc}") from None

    def peek(self, size: int) -> bytes:
        """The next `size` bytes (fewer at the end), left to be read."""
        self._fill(size)
        return self.pending[self.offset : self.offset + size]

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes, b"" at the end (every byte left when negative).
        A short read is what is decompressed already: no copy to make it whole."""
        if size < 0:
            parts = []
            while part := self.read(_READ):
                parts.append(part)
            return b"".join(parts)
        self._fill(1)
        end = self.offset + size
        data = self.pending[self.offset : end]
        self.offset += len(data)
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
            head = stream.peek(512)
            if head[USTAR_AT : USTAR_AT + len(USTAR)] != USTAR:
                raise Refused("gzip file does not contain a tar archive")
        names = []
        try:
            if stream is raw:
                # A plain tar's member data is sought past, not read: a header
                # beyond the end of the file is an error all the same.
                tar = tarfile.open(fileobj=raw, mode="r:")
            else:
                # Member data is skipped by reading it: a block of _READ at a time,
                # not tarfile's default of 10 KiB (ten thousand reads for 100 MiB).
                tar = tarfile.open(fileobj=stream, mode="r|", bufsize=_READ)  # type: ignore[call-overload]
            with tar:
                for member in tar:
                    _check_name(member.name)
                    names.append(member.name)
        except (tarfile.TarError, EOFError) as exc:
            raise Refused(f"archive is damaged: {exc}") from None
        # The rest of the stream (padding, the gzip trailer) must read cleanly too.
        while stream.read(_READ):
            pass
    return layout_warnings(names)
