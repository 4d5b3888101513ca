"""HTTP helpers the blueprints share: the JSON response class and body reading."""

from __future__ import annotations

from typing import Any

from flask import Response

from core import strictjson
from core.errors import BadRequest, PayloadTooLarge


class JSONResponse(Response):
    """Every body stashd sends is JSON, so that is the default Content-Type."""

    default_mimetype = "application/json"


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`value` as compact, strict JSON."""
    return JSONResponse(strictjson.dumps(value), status, headers)


def read_body(environ: dict, limit: int) -> bytes:
    """The request body, chunked or not, of at most `limit` bytes.

    Read from ``wsgi.input`` directly, so Flask views and the fast path share it.

    :raise PayloadTooLarge: the body is larger; nothing past `limit` + 1 is read.
    :raise BadRequest: the Content-Length header is not a number.
    """
    declared = environ.get("CONTENT_LENGTH")
    if declared:
        if not (declared.isascii() and declared.isdigit()):
            raise BadRequest("Content-Length is not a number")
        wanted = int(declared)
        if wanted > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    elif environ.get("wsgi.input_terminated"):
        wanted = limit + 1  # chunked: read until the end, or one byte past the limit
    else:
        return b""
    stream = environ["wsgi.input"]
    chunks = []
    while wanted > 0:
        chunk = stream.read(wanted)
        if not chunk:
            break
        chunks.append(chunk)
        wanted -= len(chunk)
    body = b"".join(chunks)
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body
