"""Reading an upload's body into a temp file, raw or multipart (spec archives.md 5.1).

The body is streamed: each chunk goes to the temp file and its hashes as it comes
(`TempBlob`), through Werkzeug's streaming multipart parser for multipart bodies,
so an archive is never held whole in memory. Sizes are checked before reading
(``Content-Length``) and while reading (chunked bodies).
"""

from __future__ import annotations

import email.message
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, NamedTuple

from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from archives.blobs import BlobStore, StorageFailed, TempBlob
from archives.schemas import OPTIONS
from core import strictjson
from core.errors import BadRequest, PayloadTooLarge
from core.request import INCOMPLETE, Readable, exceeds

CHUNK = 1 << 20
# Room for multipart boundaries and part headers around the archive.
MULTIPART_OVERHEAD = 1 << 20
# Largest text part (an option or the definition).
MAX_TEXT_PART = 64 * 1024
FILE_PARTS = ("file", "asset[file]")


class Received(NamedTuple):
    """An upload's bytes in a temp file, and what came with them."""

    temp: TempBlob
    options: dict[str, list[str]]  # multipart text parts, by name
    filename: str | None  # the file part's, or Content-Disposition's
    definition: Any  # the `definition` part, decoded; None without one


def too_large(limit: int) -> PayloadTooLarge:
    """413 ``archive is larger than <limit> bytes`` (spec archives.md 5.3)."""
    return PayloadTooLarge(f"archive is larger than {limit} bytes")


def declared_length(declared: str | None, limit: int, overhead: int = 0) -> int | None:
    """The Content-Length, checked against `limit` (plus a multipart body's
    `overhead`) before reading anything.

    :raise PayloadTooLarge: :raise BadRequest: not a number.
    """
    if not declared:
        return None
    if not (declared.isascii() and declared.isdigit()):
        raise BadRequest("Content-Length is not a number")
    if exceeds(declared, limit + overhead):
        raise too_large(limit)
    return int(declared)


def chunks(
    stream: Readable, length: int | None, limit: int, overhead: int = 0
) -> Iterator[bytes]:
    """The body in chunks: `length` bytes, or to its end when chunked.

    :raise BadRequest: it ended early. :raise PayloadTooLarge: past `limit` (plus
    a multipart body's `overhead`).
    """
    left = length
    total = 0
    while left is None or left > 0:
        want = CHUNK if left is None else min(CHUNK, left)
        try:
            chunk = stream.read(want)
        except Exception as exc:  # each server's way of saying the client left
            raise BadRequest(INCOMPLETE) from exc
        if not chunk:
            break
        total += len(chunk)
        if total > limit + overhead:
            raise too_large(limit)
        if left is not None:
            left -= len(chunk)
        yield chunk
    if left:
        raise BadRequest(INCOMPLETE)


def disposition_filename(header: str | None) -> str | None:
    """The file name of a Content-Disposition header, if it names one."""
    if not header:
        return None
    message = email.message.Message()
    message["Content-Disposition"] = header
    name = message.get_filename()
    return name if isinstance(name, str) and name else None


def multipart_boundary(content_type: str | None) -> str | None:
    """The boundary of a multipart/form-data body; None for any other body."""
    if not content_type:
        return None
    message = email.message.Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary:
        raise BadRequest("multipart body without a boundary")
    return boundary


class Body(NamedTuple):
    """A request body about to be read, its length checked."""

    stream: Readable
    length: int | None  # None: chunked, read to its end
    boundary: str | None  # a multipart body's; None for a raw one


def body_of(environ: Mapping[str, Any], limit: int) -> Body:
    """The body of a WSGI request whose archive may be `limit` bytes, checked
    before a byte is read (a multipart body has room for its parts around it).

    :raise PayloadTooLarge: :raise BadRequest: a bad length or boundary.
    """
    boundary = multipart_boundary(environ.get("CONTENT_TYPE"))
    overhead = MULTIPART_OVERHEAD if boundary else 0
    length = declared_length(environ.get("CONTENT_LENGTH"), limit, overhead)
    if length is None and not environ.get("wsgi.input_terminated", False):
        length = 0  # no length, and a server that does not end the input: none
    return Body(environ["wsgi.input"], length, boundary)


@contextmanager
def discarding(temp: TempBlob) -> Iterator[TempBlob]:
    """Remove `temp` when the block fails; the disk's refusal (OSError) becomes
    :raise StorageFailed:."""
    try:
        yield temp
    except OSError as exc:
        temp.discard()
        raise StorageFailed.of(exc) from None
    except BaseException:
        temp.discard()
        raise


def receive_raw(
    blobs: BlobStore, stream: Readable, length: int | None, limit: int
) -> TempBlob:
    """The whole body as the archive. :raise PayloadTooLarge: :raise BadRequest:
    :raise StorageFailed: the disk refused."""
    with discarding(new_temp(blobs)) as temp:
        for chunk in chunks(stream, length, limit):
            temp.write(chunk)
        temp.flush()
    return temp


def new_temp(blobs: BlobStore) -> TempBlob:
    """A temp file for an archive. :raise StorageFailed: the disk refused."""
    try:
        return blobs.temp()
    except OSError as exc:
        raise StorageFailed.of(exc) from None


def receive_multipart(
    blobs: BlobStore,
    stream: Readable,
    length: int | None,
    boundary: str,
    limit: int,
) -> Received:
    """The file part into a temp file, text parts as options.

    :raise BadRequest: no file part or more than one, a bad part, a bad body.
    :raise PayloadTooLarge: the file part is larger than `limit`.
    """
    decoder = MultipartDecoder(boundary.encode("latin-1"), max_form_memory_size=None)
    temp: TempBlob | None = None
    options: dict[str, list[str]] = {}
    filename: str | None = None
    definition: Any = None
    current: str | None = None  # "file", or the text part's name
    text = bytearray()
    files = 0
    try:
        body = chunks(stream, length, limit, MULTIPART_OVERHEAD)
        ended = False
        while not ended:
            data = next(body, None)
            decoder.receive_data(data)
            while True:
                try:
                    event = decoder.next_event()
                except ValueError as exc:
                    raise BadRequest(f"multipart body is malformed: {exc}") from None
                if isinstance(event, NeedData):
                    if data is None:
                        raise BadRequest("multipart body is incomplete")
                    break
                if isinstance(event, Epilogue):
                    ended = True
                    break
                if isinstance(event, File | Field):
                    if event.name in FILE_PARTS:
                        files += 1
                        if files > 1:
                            raise BadRequest("exactly one file part is allowed")
                        current = "file"
                        filename = getattr(event, "filename", None) or None
                        temp = new_temp(blobs)
                    elif _is_option(event.name):
                        current, text = event.name, bytearray()
                    else:  # other parts are ignored, as unknown JSON keys are
                        current = None
                elif isinstance(event, Data):
                    if current == "file":
                        assert temp is not None
                        if temp.size + len(event.data) > limit:
                            raise too_large(limit)
                        temp.write(event.data)
                    elif current is not None:
                        text += event.data
                        if len(text) > MAX_TEXT_PART:
                            raise BadRequest(f"part {current} is too large")
                        if not event.more_data and current == "definition":
                            definition = _definition(bytes(text))
                        elif not event.more_data:
                            options.setdefault(current, []).append(
                                _utf8(current, bytes(text))
                            )
                    if not event.more_data:
                        current = None
        if temp is None:
            raise BadRequest("multipart body needs one file part named file")
        temp.flush()
    except OSError as exc:
        if temp is not None:
            temp.discard()
        raise StorageFailed.of(exc) from None
    except BaseException:
        if temp is not None:
            temp.discard()
        raise
    return Received(temp, options, filename, definition)


def _is_option(name: str) -> bool:
    return name in OPTIONS or name == "definition" or name.startswith("labels.")


def _definition(data: bytes) -> dict[str, Any]:
    """The ``definition`` part: a JSON object. :raise BadRequest:"""
    value = strictjson.parse(data)
    if not isinstance(value, dict):
        raise BadRequest("definition must be a JSON object")
    return value


def _utf8(name: str, data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError:
        raise BadRequest(f"part {name} is not UTF-8") from None
