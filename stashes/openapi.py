"""The Sensu 1.x stash API, /health and /info in stashd's OpenAPI document.

Bodies come from `schemas.StashSchema` where the API reads one; what the routes
answer is described here (spec stashes.md), and tests/test_openapi.py checks that
every route of `routes` (and of the fast path, `fast`) is here.
"""

from __future__ import annotations

from core.openapi import Api, Document, array_of, json_body, path_param, response
from sensu1.openapi import LIST_PARAMETERS
from stashes.schemas import StashSchema

API = Api("stashes", "sensu1")

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

_PATH = path_param(
    "path",
    "The stash path, verbatim (it may hold `/`).",
    example="silence/web1/disk",
)


def _one_stash(prefix: str) -> dict[str, Document]:
    op = prefix.strip("/")
    return {
        "get": API.operation(
            "The content of one stash",
            f"get_{op}",
            {"200": response("The content, as it was stored", {"type": "object"})},
            404,
            parameters=[_PATH],
        ),
        "post": API.operation(
            "Store the body as the content of the stash, without a TTL",
            f"write_{op}",
            {"201": response("Stored", "StashPath")},
            413,
            parameters=[_PATH],
            body=json_body({"type": "object"}, "The content: a JSON object."),
        ),
        "delete": API.operation(
            "Delete one stash",
            f"delete_{op}",
            {"204": response("Deleted", media=None)},
            404,
            parameters=[_PATH],
        ),
    }


def paths() -> dict[str, dict[str, Document]]:
    """Every path of the stash API, /health and /info."""
    return {
        "/stashes": {
            "get": API.operation(
                "Live stashes sorted by path",
                "list_stashes",
                {
                    "200": response(
                        "The stashes", array_of("StashEntry"), headers=["X-Pagination"]
                    )
                },
                parameters=LIST_PARAMETERS,
            ),
            "post": API.operation(
                "Create or replace a stash",
                "create_stash",
                {"201": response("Stored", "StashPath")},
                413,
                body=json_body(
                    "StashWrite",
                    "`expire` of 0 or less (or null) means no TTL; unknown keys are "
                    "ignored.",
                ),
            ),
        },
        "/stash/{path}": _one_stash("/stash"),
        "/stashes/{path}": _one_stash("/stashes"),
        "/health": {
            "get": API.operation(
                "Whether Redis answers",
                "health",
                {
                    "204": response("Redis answers", media=None),
                    "412": response(
                        "Redis does not answer: the reasons",
                        {"type": "array", "items": {"type": "string"}},
                    ),
                },
            )
        },
        "/info": {
            "get": API.operation(
                "Version and Redis connection, in Sensu's shape",
                "info",
                {"200": response("Always, even with Redis down", _INFO)},
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
