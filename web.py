"""HTTP helpers the blueprints share: the JSON response class and body reading."""

from __future__ import annotations

from typing import Any

from flask import Response, request

import strictjson
from errors import PayloadTooLarge


class JSONResponse(Response):
    """Every body stashd sends is JSON, so that is the default Content-Type."""

    default_mimetype = "application/json"


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`value` as compact, strict JSON."""
    return JSONResponse(strictjson.dumps(value), status, headers)


def read_body(limit: int) -> bytes:
    """The request body, chunked or not, of at most `limit` bytes.

    :raise PayloadTooLarge: the body is larger; it is not read past `limit` + 1.
    """
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    # Werkzeug stops silently at max_content_length, so read one byte more to see
    # whether a chunked body goes past the limit.
    request.max_content_length = limit + 1
    body = request.get_data(cache=False)
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body
