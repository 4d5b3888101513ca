"""HTTP helpers the blueprints share: the JSON response class and body reading.

`read_body` lives with the request value (core/request.py), whose rules it shares.
"""

from __future__ import annotations

from typing import Any

from flask import Response

from core import strictjson
from core.replies import Reply


class JSONResponse(Response):
    """Every body stashd sends is JSON, so that is the default Content-Type."""

    default_mimetype = "application/json"


def json_response(
    value: Any, status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    """`value` as compact, strict JSON."""
    return JSONResponse(strictjson.dumps(value), status, headers)


def reply_response(reply: Reply) -> JSONResponse:
    """A service's `reply` as a Flask response."""
    response = JSONResponse(reply.body, reply.status)
    # After the body: a HEAD reply brings the Content-Length of the body it omits.
    response.headers.update(reply.headers)
    return response
