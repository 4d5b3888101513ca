"""Building blocks of stashd's OpenAPI 3.1 document (``GET /openapi.json``).

Each API describes its routes in its own ``openapi.py`` with these helpers, and
server/openapi.py puts the document together once. Here: both error dialects of
`core.errors` (Sensu 1.x's ``{"error"}`` or empty body, Sensu Go's ``{"message",
"code"}``), the headers every API shares, and the security schemes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

JSON = "application/json"

Dialect = Literal["sensu1", "sensugo"]
Document = dict[str, Any]

# Shared pieces, added to the document's components by server/openapi.py.
SCHEMAS: dict[str, Document] = {
    "Sensu1Error": {
        "type": "object",
        "description": "A Sensu 1.x error (400, 403, 409, 412, 413, 429, 5xx).",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "SensuGoError": {
        "type": "object",
        "description": "A Sensu Go error; `code` is Sensu's error kind, not the "
        "HTTP status (0 internal, 1 invalid, 2 not found, 3 exists, 4 permission "
        "denied, 5 unauthenticated, 7 precondition failed).",
        "required": ["message", "code"],
        "properties": {
            "message": {"type": "string"},
            "code": {"type": "integer", "enum": [0, 1, 2, 3, 4, 5, 7]},
        },
    },
}

HEADERS: dict[str, Document] = {
    "X-Request-ID": {
        "description": "The client's X-Request-ID when it is plain "
        "(`[A-Za-z0-9._:-]{1,128}`), else one stashd made; on every response.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
    },
    "X-Pagination": {
        "description": 'With a valid `limit`: `{"limit":L,"offset":O,"total":T}`.',
        "schema": {"type": "string", "pattern": '^\\{"limit":'},
    },
    "Sensu-Continue": {
        "description": "The token that asks for the next page (`continue`); "
        "absent on the last page.",
        "schema": {"type": "string"},
    },
    "ETag": {
        "description": "The resource's version, quoted, for If-Match/If-None-Match.",
        "required": True,
        "schema": {"type": "string"},
    },
    "Location": {"required": True, "schema": {"type": "string"}},
    "Content-Length": {
        "description": "The body's size in bytes, known before it is sent.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Retry-After": {
        "description": "Seconds until the failed-login window ends.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "WWW-Authenticate": {
        "required": True,
        "schema": {"type": "string", "const": 'Basic realm="Restricted Area"'},
    },
}

SECURITY_SCHEMES: dict[str, Document] = {
    "basic": {"type": "http", "scheme": "basic"},
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`Key <api key>`",
    },
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "An access token from /auth",
    },
}

# Who may call a route: the Sensu 1.x routes are open until an administrator is
# configured ({}), then take any of the three; the Sensu Go routes need a key or token.
SENSU1_SECURITY: list[Document] = [{}, {"basic": []}, {"apiKey": []}, {"bearer": []}]
SENSUGO_SECURITY: list[Document] = [{"apiKey": []}, {"bearer": []}]

_REASONS = {
    400: "Bad input; nothing changed",
    401: "No valid credentials",
    403: "A cross-site browser write, or an API key whose scopes do not allow it",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    410: "Gone (deleted)",
    412: "A precondition failed",
    413: "The request body is too large",
    416: "The range cannot be satisfied",
    429: "Too many failed logins from this address",
    500: "Redis cannot be reached, or an unexpected error",
    502: "A mirror's upstream failed (its answer, or the bytes it sent)",
    503: "Redis refuses to serve now (a replica, loading, busy, out of memory)",
    504: "A mirror's upstream took too long",
}

# What any route may answer, besides its own statuses: a URL path that is not
# UTF-8, an outage of Redis. Routes with credentials add 401, 403 and 429.
ALWAYS = (400, 500, 503)
GUARDED = (401, 403, 429)


def header_ref(name: str) -> Document:
    return {"$ref": f"#/components/headers/{name}"}


def schema_ref(name: str) -> Document:
    return {"$ref": f"#/components/schemas/{name}"}


def response(
    description: str,
    schema: Any = None,
    *,
    headers: Iterable[str] = (),
    media: str | None = JSON,
) -> Document:
    """A response: `schema` (a JSON Schema, a schema name or a marshmallow schema)
    under `media`; `media` alone, an empty body sent with that Content-Type."""
    out: Document = {
        "description": description,
        "headers": {name: header_ref(name) for name in ("X-Request-ID", *headers)},
    }
    if media is not None:
        if isinstance(schema, str):
            schema = schema_ref(schema)
        out["content"] = {media: {} if schema is None else {"schema": schema}}
    return out


def _error(dialect: Dialect, status: int) -> Document:
    """How `status` is answered in `dialect` (core.errors.render)."""
    headers = ["Retry-After"] if status == 429 else []
    reason = _REASONS[status]
    if dialect == "sensugo":
        return response(reason, "SensuGoError", headers=headers)
    if status in (401, 404, 405):
        if status == 401:
            headers.append("WWW-Authenticate")
        description = f"{reason}: an empty body, as in Sensu"
        return response(description, media=None, headers=headers)
    return response(reason, "Sensu1Error", headers=headers)


# Every error response, named `<dialect>-<status>` in the document's components.
RESPONSES: dict[str, Document] = {
    f"{dialect}-{status}": _error(dialect, status)
    for dialect in ("sensu1", "sensugo")
    for status in _REASONS
}


def error(dialect: Dialect, status: int) -> Document:
    """A reference to the response of `status` in `dialect`."""
    return {"$ref": f"#/components/responses/{dialect}-{status}"}


def errors(dialect: Dialect, *statuses: int) -> dict[str, Document]:
    """The error responses of an operation: `statuses` and those of `ALWAYS`."""
    return {str(s): error(dialect, s) for s in sorted({*statuses, *ALWAYS})}


def operation(
    summary: str,
    operation_id: str,
    tag: str,
    responses: Mapping[str, Document],
    *,
    parameters: Iterable[Document] = (),
    body: Document | None = None,
    security: list[Document] | None = None,
    description: str | None = None,
) -> Document:
    """One operation; `responses` maps status (as text) to response."""
    out: Document = {
        "summary": summary,
        "operationId": operation_id,
        "tags": [tag],
        "responses": dict(sorted(responses.items())),
    }
    if description:
        out["description"] = description
    if parameters:
        out["parameters"] = list(parameters)
    if body is not None:
        out["requestBody"] = body
    if security is not None:
        out["security"] = security
    return out


@dataclass(frozen=True)
class Api:
    """One API's operations: its tag, and the error dialect and credentials its
    routes share (every route but a few public ones checks credentials)."""

    tag: str
    dialect: Dialect

    def operation(
        self,
        summary: str,
        operation_id: str,
        answers: Mapping[str, Document],
        *statuses: int,
        parameters: Iterable[Document] = (),
        body: Document | None = None,
        security: list[Document] | None = None,
        description: str | None = None,
    ) -> Document:
        """An operation answering `answers`, or the errors of `statuses`, `GUARDED`
        and `ALWAYS`; `security` is the dialect's unless given."""
        if security is None:
            security = SENSU1_SECURITY if self.dialect == "sensu1" else SENSUGO_SECURITY
        return operation(
            summary,
            operation_id,
            self.tag,
            {**answers, **errors(self.dialect, *statuses, *GUARDED)},
            parameters=parameters,
            body=body,
            security=security,
            description=description,
        )


def array_of(name: str) -> Document:
    """A JSON array of the component schema `name`."""
    return {"type": "array", "items": schema_ref(name)}


def json_body(schema: Any, description: str = "", required: bool = True) -> Document:
    """A request body of JSON (stashd parses it whatever the Content-Type says)."""
    if isinstance(schema, str):
        schema = schema_ref(schema)
    out: Document = {"required": required, "content": {JSON: {"schema": schema}}}
    if description:
        out["description"] = description
    return out


def path_param(name: str, description: str, **schema: Any) -> Document:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "minLength": 1, **schema},
    }


def query_param(
    name: str, description: str, schema: Document | None = None, **extra: Any
) -> Document:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": schema or {"type": "string"},
        **extra,
    }


def header_param(name: str, description: str) -> Document:
    return {
        "name": name,
        "in": "header",
        "description": description,
        "schema": {"type": "string"},
    }
