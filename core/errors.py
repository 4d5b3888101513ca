"""The single error path: errors are raised anywhere, and rendered here.

Each API keeps the error dialect its clients already parse:

* Sensu 1.x (stash routes, /health, /info): 400/413/500/503 carry ``{"error": "..."}``;
  401, 404 and 405 have empty bodies.
* Sensu Go (``/api/core/v2...``, ``/auth...``): ``{"message": "...", "code": <kind>}``,
  where ``code`` is Sensu's error kind, not the HTTP status.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from http import HTTPStatus

import redis
from flask import Flask, Response, current_app, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from core import metrics

log = logging.getLogger(__name__)

# What "Redis cannot be reached" looks like to redis-py.
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)

# The order 405's Allow header lists methods in (spec stashes.md section 2.5).
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

JSON = "application/json"


class ApiError(Exception):
    """An error a client gets to see: an HTTP status, a Sensu Go kind, a message."""

    status = 500
    kind = 0  # Sensu Go: internal
    default = "internal server error"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.default)
        self.message = message or self.default
        # Headers this error adds to its answer (Content-Range of a 416, say).
        self.headers: list[tuple[str, str]] = []


class BadRequest(ApiError):
    status, kind, default = 400, 1, "bad request"


class Unauthorized(ApiError):
    status, kind, default = 401, 5, "bad credentials"


class Forbidden(ApiError):
    status, kind, default = 403, 4, "permission denied"


class NotFound(ApiError):
    status, kind, default = 404, 2, "not found"


class MethodNotAllowed(ApiError):
    status, kind, default = 405, 1, "method not allowed"

    def __init__(self, allowed: list[str] | None = None) -> None:
        super().__init__()
        self.allowed = sorted(allowed or (), key=METHOD_ORDER.index)


class Conflict(ApiError):
    status, kind, default = 409, 3, "resource already exists"


class PreconditionFailed(ApiError):
    status, kind, default = 412, 7, "precondition failed"


class PayloadTooLarge(ApiError):
    status, kind, default = 413, 1, "request body is too large"


class TooManyRequests(ApiError):
    """Too many failed logins from one address (spec stashes.md 17.4)."""

    status, kind, default = 429, 4, "too many failed logins, retry later"

    def __init__(self, retry_after: float) -> None:
        super().__init__()
        # Whole seconds, rounded up: a client retrying on time is let through.
        self.retry_after = max(1, math.ceil(retry_after))


class RedisUnavailable(ApiError):
    default = "not connected to redis"


class RedisRefused(ApiError):
    """Redis is up but cannot serve now (a replica, loading, busy, out of memory)."""

    status = 503


# Replies by which Redis refuses a command for a state it is in (spec stashes.md
# 17.12), and the reason a client gets.
REFUSALS = {
    "READONLY": "redis is a read-only replica",
    "MASTERDOWN": "redis has lost its primary",
    "LOADING": "redis is loading its data",
    "BUSY": "redis is busy running a script",
    "OOM": "redis is out of memory",
}
_REFUSAL_CLASSES = (
    (redis.exceptions.ReadOnlyError, "READONLY"),
    (redis.exceptions.MasterDownError, "MASTERDOWN"),
    (redis.exceptions.BusyLoadingError, "LOADING"),
    (redis.exceptions.OutOfMemoryError, "OOM"),
)
# Redis 6 wraps an error a script met: "Error running script (...): ... -OOM ...".
_IN_SCRIPT = re.compile(r"^Error running script .*?: -([A-Z]+) ")


def redis_refusal(exc: BaseException) -> str | None:
    """The code (a key of REFUSALS) of a Redis refusal, met by a script or not;
    None for any other error."""
    for cls, code in _REFUSAL_CLASSES:
        if isinstance(exc, cls):
            return code
    if not isinstance(exc, redis.ResponseError):
        return None
    message = str(exc)
    code = message.split(" ", 1)[0]
    if code not in REFUSALS:
        found = _IN_SCRIPT.match(message)
        code = found.group(1) if found else ""
    return code if code in REFUSALS else None


# Statuses whose Sensu 1.x body is empty.
_EMPTY_IN_SENSU1 = frozenset({401, 404, 405})


def is_sensu_go(path: str) -> bool:
    """True for routes that speak Sensu Go's dialect (assets, namespaces, /auth,
    archive downloads)."""
    return path.startswith(("/api/core/v2/", "/auth/", "/archives/")) or path in (
        "/api/core/v2",
        "/auth",
    )


@functools.cache
def status_line(status: int) -> str:
    """The WSGI status string, e.g. ``404 Not Found``."""
    return f"{status} {HTTPStatus(status).phrase}"


# A body: its bytes, or for a big one (a list of big stashes) its parts in order,
# which the servers send in turn and nothing ever joins whole (spec 17.10).
Body = bytes | list[bytes]

# A whole answer: status, headers, body.
Answer = tuple[int, list[tuple[str, str]], Body]


def render(error: ApiError, path: str) -> Answer:
    """Status, headers and body of `error` in the dialect of the route at `path`."""
    headers: list[tuple[str, str]] = list(error.headers)
    if path.startswith("/archives/"):
        # An error must never be cached in place of the archive (spec archives.md 7.1).
        headers.append(("Cache-Control", "no-store"))
    if isinstance(error, MethodNotAllowed) and error.allowed:
        headers.append(("Allow", ", ".join(error.allowed)))
    elif isinstance(error, TooManyRequests):
        headers.append(("Retry-After", str(error.retry_after)))
    if is_sensu_go(path):
        body = json.dumps({"message": error.message, "code": error.kind}).encode()
    elif error.status in _EMPTY_IN_SENSU1:
        body = b""
        if error.status == 401:
            headers.append(("WWW-Authenticate", 'Basic realm="Restricted Area"'))
    else:
        body = json.dumps({"error": error.message}).encode()
    if body:
        headers.append(("Content-Type", JSON))
    headers.append(("Content-Length", str(len(body))))
    return error.status, headers, body


def as_api_error(exc: Exception, method: str, path: str) -> ApiError:
    """Any exception as the error a client sees; the one table for every path.

    Unexpected errors are logged with their traceback; Redis outages and refusals
    (READONLY, LOADING, ...: 503) with one line.
    """
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ValidationError):
        return BadRequest(validation_message(exc.messages))
    refusal = redis_refusal(exc)  # before UNREACHABLE: LOADING is a ConnectionError
    if refusal is not None:
        log.error("redis refused %s %s: %s %s", method, path, refusal, exc)
        metrics.redis_error("refused")
        return RedisRefused(REFUSALS[refusal])
    if isinstance(exc, UNREACHABLE):
        log.error("redis unreachable on %s %s: %s", method, path, exc)
        timeout = isinstance(exc, redis.TimeoutError)
        metrics.redis_error("timeout" if timeout else "unreachable")
        return RedisUnavailable()
    if isinstance(exc, HTTPException):  # Werkzeug's routing and body errors
        code = exc.code or 500
        if code == 404:
            return NotFound()
        if code == 405:
            return MethodNotAllowed(list(getattr(exc, "valid_methods", None) or ()))
        if code == 413:
            return PayloadTooLarge()
        error = ApiError(exc.description)
        error.status, error.kind = code, (1 if 400 <= code < 500 else 0)
        return error
    if isinstance(exc, redis.RedisError):
        metrics.redis_error("other")
    log.error("unhandled error on %s %s", method, path, exc_info=exc)
    return ApiError()


def register_error_handlers(app: Flask) -> None:
    """Turn every exception into a response of the right dialect; no HTML, ever."""

    @app.errorhandler(Exception)
    def any_error(exc: Exception) -> Response:
        error = as_api_error(exc, request.method, request.path)
        status, headers, body = render(error, request.path)
        return current_app.response_class(body, status=status, headers=headers)


def validation_message(messages: dict | list | str) -> str:
    """marshmallow's nested messages as one line: ``expire: Not a valid integer.``"""
    if isinstance(messages, dict):
        parts = []
        for field, inner in messages.items():
            text = validation_message(inner)
            parts.append(text if field == "_schema" else f"{field}: {text}")
        return "; ".join(parts)
    if isinstance(messages, list):
        return " ".join(validation_message(m) for m in messages)
    return str(messages)
