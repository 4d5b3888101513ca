"""Bundles (spec archives.md 13): archives and their asset definitions as one
plain tar, for a stashd on the far side of an air gap. No Flask, no Redis.

A bundle is ``stashd-bundle.json`` (the manifest) first, then ``archives/<id>`` per
archive. Its length is known before the first byte (`Export.length`), so exports
carry ``Content-Length``. An import reads the whole stream, every member into a temp
file hashed on the way, and checks it all against the manifest (`read_bundle`)
before the caller stores anything.
"""

from __future__ import annotations

import hashlib
import json
import tarfile
import time
from collections.abc import Generator, Iterable
from typing import Any, NamedTuple

from archives import service
from archives.blobs import BlobStore, StorageFailed, TempBlob
from archives.schemas import ARCHIVE_ID, Invalid, check_filename
from archives.upload import discarding, new_temp
from core.errors import BadRequest, PayloadTooLarge

FORMAT = "stashd-bundle/1"
MANIFEST = "stashd-bundle.json"
MEMBER_PREFIX = "archives/"
BLOCK = 512
CHUNK = 1 << 20
# The manifest is read into memory: definitions, not bytes. 64 MiB holds some
# hundred thousand assets.
MAX_MANIFEST = 64 * 1024 * 1024
KINDS = ("tar", "tar+gzip")
# The manifest's SHA-256, in its member's PAX header: the archives are checked
# against the manifest, and the manifest against this.
MANIFEST_DIGEST = "STASHD.sha256"


class Entry(NamedTuple):
    """One archive of a bundle, as its manifest lists it."""

    sha512: str
    sha256: str
    size: int
    type: str
    filename: str
    labels: dict[str, str]
    annotations: dict[str, str]


def entry_json(entry: Entry) -> dict[str, Any]:
    return entry._asdict()


def _header(
    name: str, size: int, mtime: int, pax: dict[str, str] | None = None
) -> bytes:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o600
    info.pax_headers = pax or {}
    # PAX: member names of 137 characters do not fit a ustar header's 100.
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _padding(size: int) -> bytes:
    return b"\0" * (-size % BLOCK)


class Export(NamedTuple):
    """A bundle to send: its exact length, and its bytes as they are read."""

    length: int
    pieces: Generator[bytes, None, None]


def export(
    manifest: dict[str, Any], blobs: BlobStore, entries: list[Entry], now: int
) -> Export:
    """The bundle of `manifest` and the blobs of `entries`, streamed from disk.

    The sizes are the records'; the caller checked the blobs have them (a blob
    that shrinks meanwhile cuts the stream short of its Content-Length).
    """
    data = json.dumps(manifest, separators=(",", ":"), ensure_ascii=False).encode()
    digest = {MANIFEST_DIGEST: hashlib.sha256(data).hexdigest()}
    first = _header(MANIFEST, len(data), now, digest) + data + _padding(len(data))
    heads = [_header(MEMBER_PREFIX + e.sha512, e.size, now) for e in entries]
    end = b"\0" * (2 * BLOCK)
    length = len(first) + len(end)
    for head, entry in zip(heads, entries, strict=True):
        length += len(head) + entry.size + len(_padding(entry.size))

    def pieces() -> Generator[bytes, None, None]:
        yield first
        for head, entry in zip(heads, entries, strict=True):
            yield head
            left = entry.size
            with open(blobs.path(entry.sha512), "rb") as file:
                while left > 0:
                    chunk = file.read(min(CHUNK, left))
                    if not chunk:
                        raise StorageFailed(f"archive {entry.sha512} shrank on disk")
                    left -= len(chunk)
                    yield chunk
            yield _padding(entry.size)
        yield end

    return Export(length, pieces())


def manifest(
    namespace: str,
    url: str,
    version: str,
    entries: list[Entry],
    assets: list[dict[str, Any]],
    missing: list[str],
) -> dict[str, Any]:
    """The manifest of 13.1."""
    return {
        "format": FORMAT,
        "created_at": int(time.time()),
        "source": {"namespace": namespace, "url": url, "version": version},
        "archives": [entry_json(e) for e in entries],
        "assets": assets,
        "missing": missing,
    }


class Reader:
    """A file-like `read` over body chunks, for tarfile's stream mode."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = iter(chunks)
        self.left = b""

    def read(self, size: int = -1) -> bytes:
        if not self.left:
            self.left = next(self.chunks, b"")
        if size < 0 or size >= len(self.left):
            out, self.left = self.left, b""
            return out
        out, self.left = self.left[:size], self.left[size:]
        return out


class Received(NamedTuple):
    """A bundle read whole and checked: its manifest, and each archive's bytes in
    a temp file with its type and warnings."""

    manifest: dict[str, Any]
    entries: list[Entry]
    assets: list[Any]
    temps: dict[str, tuple[TempBlob, str, list[str]]]

    def discard(self) -> None:
        for temp, _, _ in self.temps.values():
            temp.discard()


def _strings(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise BadRequest(f"manifest: {what} must be an object of strings")
    return dict(value)


def parse_manifest(data: bytes) -> tuple[dict[str, Any], list[Entry], list[Any]]:
    """The manifest, its archive entries and its assets. :raise BadRequest:"""
    try:
        found = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("manifest is not valid JSON") from None
    if not isinstance(found, dict):
        raise BadRequest("manifest must be a JSON object")
    if found.get("format") != FORMAT:
        raise BadRequest(f"unknown bundle format {found.get('format')!r}")
    archives, assets = found.get("archives"), found.get("assets")
    if not isinstance(archives, list) or not isinstance(assets, list):
        raise BadRequest("manifest: archives and assets must be arrays")
    entries: dict[str, Entry] = {}
    for item in archives:
        if not isinstance(item, dict):
            raise BadRequest("manifest: each archive must be an object")
        sha512, size = item.get("sha512"), item.get("size")
        if not isinstance(sha512, str) or not ARCHIVE_ID.fullmatch(sha512):
            raise BadRequest(f"manifest: invalid sha512 {sha512!r}")
        sha512 = sha512.lower()
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise BadRequest(f"manifest: archive {sha512} has an invalid size")
        kind, filename = item.get("type"), item.get("filename")
        if kind not in KINDS:
            raise BadRequest(f"manifest: archive {sha512} has an invalid type")
        try:
            filename = check_filename(filename if isinstance(filename, str) else "")
        except Invalid as exc:
            raise BadRequest(f"manifest: archive {sha512}: {exc}") from None
        sha256 = item.get("sha256")
        if not isinstance(sha256, str):
            raise BadRequest(f"manifest: archive {sha512} has an invalid sha256")
        if sha512 in entries:
            raise BadRequest(f"manifest: archive {sha512} is listed twice")
        entries[sha512] = Entry(
            sha512,
            sha256.lower(),
            size,
            kind,
            filename,
            _strings(item.get("labels"), f"archive {sha512} labels"),
            _strings(item.get("annotations"), f"archive {sha512} annotations"),
        )
    return found, list(entries.values()), assets


def read_bundle(stream: Any, blobs: BlobStore, member_limit: int) -> Received:
    """Read a bundle from `stream` (``read(n)``) to its end: every archive into a
    temp file, each checked against its name and the manifest (SHA-512, SHA-256,
    size) and as an upload is (5.3), none missing, none unknown.

    :raise BadRequest: naming what is wrong (no temp file is left).
    :raise PayloadTooLarge: a member over `member_limit`, or the stream's limit.
    """
    temps: dict[str, tuple[TempBlob, str, list[str]]] = {}
    try:
        return _read(stream, blobs, member_limit, temps)
    except BaseException:
        for temp, _, _ in temps.values():
            temp.discard()
        raise


def _read(
    stream: Any,
    blobs: BlobStore,
    member_limit: int,
    temps: dict[str, tuple[TempBlob, str, list[str]]],
) -> Received:
    try:
        tar = tarfile.open(fileobj=stream, mode="r|", bufsize=CHUNK)
    except tarfile.TarError as exc:
        raise BadRequest(f"bundle is not a tar archive: {exc}") from None
    found: dict[str, Any] | None = None
    entries: dict[str, Entry] = {}
    assets: list[Any] = []
    try:
        for member in tar:
            if not member.isreg():
                raise BadRequest(f"member {member.name} is not a file")
            if found is None:
                if member.name != MANIFEST:
                    raise BadRequest(f"the first member must be {MANIFEST}")
                if member.size > MAX_MANIFEST:
                    raise BadRequest("manifest is too large")
                file = tar.extractfile(member)
                assert file is not None
                data = file.read()
                digest = hashlib.sha256(data).hexdigest()
                if member.pax_headers.get(MANIFEST_DIGEST) != digest:
                    raise BadRequest("manifest does not match its digest")
                found, listed, assets = parse_manifest(data)
                entries = {e.sha512: e for e in listed}
                continue
            _member(tar, member, blobs, member_limit, entries, temps)
        # The whole stream, to its end: a cut bundle is refused, not half-read.
        while stream.read(CHUNK):
            pass
    except tarfile.TarError as exc:
        raise BadRequest(f"bundle is damaged: {exc}") from None
    except EOFError:
        raise BadRequest("bundle is damaged: it ends early") from None
    if found is None:
        raise BadRequest(f"bundle has no {MANIFEST}")
    for sha512 in entries:
        if sha512 not in temps:
            raise BadRequest(f"member {MEMBER_PREFIX}{sha512} is missing")
    return Received(found, list(entries.values()), assets, dict(temps))


def _member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    blobs: BlobStore,
    member_limit: int,
    entries: dict[str, Entry],
    temps: dict[str, tuple[TempBlob, str, list[str]]],
) -> None:
    """One ``archives/<id>`` member into a temp file, checked."""
    name = member.name
    sha512 = name[len(MEMBER_PREFIX) :] if name.startswith(MEMBER_PREFIX) else ""
    entry = entries.get(sha512)
    if entry is None:
        raise BadRequest(f"member {name} is not in the manifest")
    if sha512 in temps:
        raise BadRequest(f"member {name} comes twice")
    if member.size != entry.size:
        raise BadRequest(
            f"member {name} has {member.size} bytes, the manifest says {entry.size}"
        )
    if member.size > member_limit:
        raise PayloadTooLarge(f"archive is larger than {member_limit} bytes")
    file = tar.extractfile(member)
    assert file is not None
    with discarding(new_temp(blobs)) as temp:
        while chunk := file.read(CHUNK):
            temp.write(chunk)
        temp.flush()
        if temp.size != entry.size:
            raise BadRequest(f"member {name} ends early")
        if temp.id != sha512 or temp.sha256.hexdigest() != entry.sha256:
            raise BadRequest(f"member {name} does not match its digests")
        try:
            kind, warnings = service.check_bytes(temp)
        except BadRequest as exc:
            raise BadRequest(f"member {name}: {exc.message}") from None
    temps[sha512] = (temp, kind, warnings)
