"""HTTP helpers the blueprints share: the JSON response class and body reading.

`read_body` lives with the request value (core/request.py), whose rules it shares.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from core import strictjson
from core.replies import Reply, pieces, size

# The environ key that asks the server adapters (server/wsgi.py, server/rsgi.py) to
# close the connection after the response, with ``Connection: close``. WSGI lets no
# application send that hop-by-hop header itself.
CLOSE_KEY = "stashd.close"


def close_after_response(close: bool = True) -> None:
    """Have the connection closed after this request's response (``False``: not),
    so that a request refused with its body unread is not read on to its end."""
    request.environ[CLOSE_KEY] = close


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
    body = reply.body
    if isinstance(body, bytes):
        response = JSONResponse(body, reply.status)
    else:
        response = JSONResponse(pieces(body), reply.status)
        response.headers["Content-Length"] = str(size(body))
    # After the body: a HEAD reply brings the Content-Length of the body it omits.
    response.headers.update(reply.headers)
    return response
