"""The Sensu 1.x stash API, /health and /info in stashd's OpenAPI document.

Bodies come from `schemas.StashSchema` where the API reads one; what the routes
answer is described here (spec stashes.md), and tests/test_openapi.py checks that
every route of `routes` (and of the fast path, `fast`) is here.
"""

from __future__ import annotations

from core.openapi import (
    GUARDED,
    SENSU1_SECURITY,
    Document,
    errors,
    json_body,
    operation,
    path_param,
    query_param,
    response,
)
from stashes.schemas import StashSchema

TAG = "stashes"

SCHEMAS: dict[str, object] = {
    "StashWrite": StashSchema,
    "StashEntry": {
        "type": "object",
        "required": ["path", "content", "expire"],
        "properties": {
            "path": {"type": "string"},
            "content": {"type": "object"},
            "expire": {
                "type": "integer",
                "description": "Seconds left, rounded up; -1 without a TTL.",
            },
        },
    },
    "StashPath": {
        "type": "object",
        "required": ["path"],
        "properties": {"path": {"type": "string"}},
    },
}

# Sensu 1.x reads paging leniently: a value that is not plain digits means "not
# given" (spec stashes.md 2.3), so these are strings, not integers.
LIST_PARAMETERS = [
    query_param(
        "limit",
        "Page size, as digits; anything else means no paging. With it, the "
        "response has X-Pagination. `filter.<key>[.<key>...]=<value>` parameters "
        "keep the entries whose value at that key path is `value`, before paging.",
    ),
    query_param("offset", "Entries to skip, as digits (only with `limit`)."),
]

_PATH = path_param(
    "path",
    "The stash path, verbatim (it may hold `/`).",
    example="silence/web1/disk",
)


def _one_stash(prefix: str) -> dict[str, Document]:
    op = prefix.strip("/")
    return {
        "get": operation(
            "The content of one stash",
            f"get_{op}",
            TAG,
            {
                "200": response("The content, as it was stored", {"type": "object"}),
                **errors("sensu1", 404, *GUARDED),
            },
            parameters=[_PATH],
            security=SENSU1_SECURITY,
        ),
        "post": operation(
            "Store the body as the content of the stash, without a TTL",
            f"write_{op}",
            TAG,
            {
                "201": response("Stored", "StashPath"),
                **errors("sensu1", 413, *GUARDED),
            },
            parameters=[_PATH],
            body=json_body({"type": "object"}, "The content: a JSON object."),
            security=SENSU1_SECURITY,
        ),
        "delete": operation(
            "Delete one stash",
            f"delete_{op}",
            TAG,
            {
                "204": response("Deleted", media=None),
                **errors("sensu1", 404, *GUARDED),
            },
            parameters=[_PATH],
            security=SENSU1_SECURITY,
        ),
    }


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the stash API, /health and /info."""
    return {
        "/stashes": {
            "get": operation(
                "Live stashes sorted by path",
                "list_stashes",
                TAG,
                {
                    "200": response(
                        "The stashes",
                        {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/StashEntry"},
                        },
                        headers=["X-Pagination"],
                    ),
                    **errors("sensu1", *GUARDED),
                },
                parameters=LIST_PARAMETERS,
                security=SENSU1_SECURITY,
            ),
            "post": operation(
                "Create or replace a stash",
                "create_stash",
                TAG,
                {
                    "201": response("Stored", "StashPath"),
                    **errors("sensu1", 413, *GUARDED),
                },
                body=json_body(
                    "StashWrite",
                    "`expire` of 0 or less (or null) means no TTL; unknown keys are "
                    "ignored.",
                ),
                security=SENSU1_SECURITY,
            ),
        },
        "/stash/{path}": _one_stash("/stash"),
        "/stashes/{path}": _one_stash("/stashes"),
        "/health": {
            "get": operation(
                "Whether Redis answers",
                "health",
                TAG,
                {
                    "204": response("Redis answers", media=None),
                    "412": response(
                        "Redis does not answer: the reasons",
                        {"type": "array", "items": {"type": "string"}},
                    ),
                    **errors("sensu1", *GUARDED),
                },
                security=SENSU1_SECURITY,
            )
        },
        "/info": {
            "get": operation(
                "Version and Redis connection, in Sensu's shape",
                "info",
                TAG,
                {
                    "200": response("Always, even with Redis down", _INFO),
                    **errors("sensu1", *GUARDED),
                },
                security=SENSU1_SECURITY,
            )
        },
    }


_QUEUE = {
    "type": "object",
    "required": ["messages", "consumers"],
    "properties": {
        "messages": {"type": "integer"},
        "consumers": {"type": "integer"},
    },
}
_INFO = {
    "type": "object",
    "required": ["sensu", "transport", "redis", "servers"],
    "properties": {
        "sensu": {
            "type": "object",
            "required": ["version", "settings"],
            "properties": {
                "version": {"type": "string"},
                "settings": {
                    "type": "object",
                    "required": ["hexdigest"],
                    "properties": {"hexdigest": {"type": "string"}},
                },
            },
        },
        "transport": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "connected": {"type": "boolean"},
                "keepalives": _QUEUE,
                "results": _QUEUE,
            },
        },
        "redis": {
            "type": "object",
            "required": ["connected"],
            "properties": {"connected": {"type": "boolean"}},
        },
        "servers": {"type": "array"},
    },
}
