"""The silenced APIs (Sensu 1.x and Sensu Go) in stashd's OpenAPI document.

The bodies are checked by hand in `schemas` (each API keeps its own decoding
rules), so they are written out here as JSON Schema; tests/test_openapi.py checks
that every route of `routes`, `go_routes` and the fast match routes is here.
"""

from __future__ import annotations

from core.openapi import (
    GUARDED,
    SENSU1_SECURITY,
    SENSUGO_SECURITY,
    Document,
    errors,
    json_body,
    operation,
    path_param,
    query_param,
    response,
)
from stashes.openapi import LIST_PARAMETERS

TAG = "silenced (Sensu 1.x)"
GO_TAG = "silenced (Sensu Go)"
GO = "/api/core/v2"

_NULLABLE_STRING = {"type": ["string", "null"]}
_NULLABLE_INT = {"type": ["integer", "null"]}
_STRINGS = {"type": "array", "items": {"type": "string"}}
_STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}


def _object(**properties: Document) -> Document:
    """An object with every one of `properties`."""
    return {"type": "object", "required": list(properties), "properties": properties}


_NULLABLE_MAP = {"type": ["object", "null"], "additionalProperties": {"type": "string"}}
# The 1.x view shows every key, null for what is absent (views.v1_json).
_V1_ENTRY = {
    "id": {"type": "string"},
    "subscription": _NULLABLE_STRING,
    "check": _NULLABLE_STRING,
    "reason": _NULLABLE_STRING,
    "creator": _NULLABLE_STRING,
    "begin": _NULLABLE_INT,
    "expire_on_resolve": {"type": "boolean"},
    "timestamp": _NULLABLE_INT,
    "expire": {"type": "integer", "description": "Seconds left; -1: none."},
}

SCHEMAS: dict[str, object] = {
    "SilencedV1": {
        "type": "object",
        "required": list(_V1_ENTRY),
        "properties": _V1_ENTRY,
    },
    "SilencedV1Write": {
        "type": "object",
        "description": "Unknown keys are ignored; null is the same as absent.",
        "properties": {
            "subscription": {
                "type": ["string", "null"],
                "pattern": "^[A-Za-z0-9_.:-]+$",
            },
            "check": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_.-]+$"},
            "reason": _NULLABLE_STRING,
            "creator": _NULLABLE_STRING,
            "begin": _NULLABLE_INT,
            "expire": {
                "type": ["integer", "null"],
                "description": "Seconds; 0 or less: no expiry.",
            },
            "expire_on_resolve": {"type": ["boolean", "null"]},
        },
    },
    "SilencedV1Clear": {
        "type": "object",
        "description": '`{"id"}`, or `{"subscription", "check"}`; `"all": true` '
        "clears every entry whose sides are those.",
        "properties": {
            "id": _NULLABLE_STRING,
            "subscription": _NULLABLE_STRING,
            "check": {"type": ["string", "null"], "pattern": "^[A-Za-z0-9_.-]+$"},
            "all": {"type": ["boolean", "null"]},
        },
    },
    "SilencedMatch": _object(silenced={"type": "boolean"}, silenced_by=_STRINGS),
    "SilencedCleared": _object(cleared=_STRINGS),
    "SilencedGo": {
        "type": "object",
        "required": ["metadata", "expire", "expire_on_resolve", "begin", "expire_at"],
        "properties": {
            "metadata": {
                "type": "object",
                "required": ["name", "namespace"],
                "properties": {
                    "name": {"type": "string"},
                    "namespace": {"type": "string"},
                    "labels": _STRING_MAP,
                    "annotations": _STRING_MAP,
                    "created_by": {"type": "string"},
                },
            },
            "expire": {"type": "integer"},
            "expire_on_resolve": {"type": "boolean"},
            "creator": {"type": "string"},
            "check": {"type": "string"},
            "reason": {"type": "string"},
            "subscription": {"type": "string"},
            "begin": {"type": "integer"},
            "expire_at": {"type": "integer"},
        },
    },
    "SilencedGoWrite": {
        "type": "object",
        "description": "Unknown keys are ignored; null is the zero value.",
        "properties": {
            "metadata": {
                "type": ["object", "null"],
                "properties": {
                    "name": _NULLABLE_STRING,
                    "namespace": _NULLABLE_STRING,
                    "labels": _NULLABLE_MAP,
                    "annotations": _NULLABLE_MAP,
                },
            },
            "subscription": _NULLABLE_STRING,
            "check": _NULLABLE_STRING,
            "reason": _NULLABLE_STRING,
            "creator": _NULLABLE_STRING,
            "begin": _NULLABLE_INT,
            "expire": _NULLABLE_INT,
            "expire_on_resolve": {"type": ["boolean", "null"]},
        },
    },
}


def _resolve_body(who: str) -> Document:
    return {
        "type": "object",
        "required": ["check"],
        "properties": {
            who: _NULLABLE_STRING,
            "check": {"type": "string", "minLength": 1},
            "subscriptions": {"type": ["array", "null"], "items": {"type": "string"}},
        },
    }


def _match_params(who: str) -> list[Document]:
    return [
        query_param(who, "The event's client (entity) name."),
        query_param("check", "The event's check.", required=True),
        query_param(
            "subscription",
            "The client's subscriptions (repeat the parameter; at most 1000).",
            {"type": "array", "items": {"type": "string"}},
            style="form",
            explode=True,
        ),
    ]


def _v1_list(summary: str, op: str, params: list[Document]) -> Document:
    return operation(
        summary,
        op,
        TAG,
        {
            "200": response(
                "The entries by id",
                {"type": "array", "items": {"$ref": "#/components/schemas/SilencedV1"}},
                headers=["X-Pagination"],
            ),
            **errors("sensu1", 404, *GUARDED),
        },
        parameters=[*params, *LIST_PARAMETERS],
        security=SENSU1_SECURITY,
    )


def _v1_paths() -> dict[str, dict[str, Document]]:
    sub = path_param("subscription", "Exact", pattern="^[A-Za-z0-9_.:-]+$")
    check = path_param("check", "Exact", pattern="^[A-Za-z0-9_.-]+$")
    name = path_param(
        "name", "`<subscription>:<check>`", pattern="^[A-Za-z0-9_.*:-]+$", example="a:b"
    )
    return {
        "/silenced": {
            "get": _v1_list("Every entry of the 1.x view", "list_silenced", []),
            "post": operation(
                "Create or replace an entry",
                "create_silenced",
                TAG,
                {
                    "201": response("Stored; an empty body"),
                    **errors("sensu1", 413, *GUARDED),
                },
                body=json_body("SilencedV1Write"),
                security=SENSU1_SECURITY,
            ),
        },
        "/silenced/clear": {
            "post": operation(
                "Clear one entry, or every matching one",
                "clear_silenced",
                TAG,
                {
                    "204": response("Cleared", media=None),
                    **errors("sensu1", 404, 413, *GUARDED),
                },
                body=json_body("SilencedV1Clear"),
                security=SENSU1_SECURITY,
            )
        },
        "/silenced/subscriptions/{subscription}": {
            "get": _v1_list(
                "Entries of one subscription", "list_by_subscription", [sub]
            )
        },
        "/silenced/checks/{check}": {
            "get": _v1_list("Entries of one check", "list_by_check", [check])
        },
        "/silenced/ids/{name}": {
            "get": operation(
                "One entry by its exact id",
                "get_silenced",
                TAG,
                {
                    "200": response("The entry", "SilencedV1"),
                    **errors("sensu1", 404, *GUARDED),
                },
                parameters=[name],
                security=SENSU1_SECURITY,
            )
        },
        "/silenced/match": {
            "get": operation(
                "Is an event silenced? (Sensu 1.x's rule; one Redis round trip)",
                "match_silenced",
                TAG,
                {
                    "200": response("The answer", "SilencedMatch"),
                    **errors("sensu1", *GUARDED),
                },
                parameters=_match_params("client"),
                security=SENSU1_SECURITY,
            )
        },
        "/silenced/resolve": {
            "post": operation(
                "An event resolved: clear the matching expire_on_resolve entries",
                "resolve_silenced",
                TAG,
                {
                    "200": response("The entries cleared", "SilencedCleared"),
                    **errors("sensu1", 413, *GUARDED),
                },
                body=json_body(_resolve_body("client")),
                security=SENSU1_SECURITY,
            )
        },
    }


_NS = path_param("ns", "A namespace", example="default")
_GO_ERRORS = (400, *GUARDED)


def _go_list(summary: str, op: str, params: list[Document]) -> Document:
    selectors = [
        query_param("labelSelector", 'Label selector (`region == "x"`)'),
        query_param("fieldSelector", 'Field selector (`silenced.check == "x"`)'),
    ]
    return operation(
        summary,
        op,
        GO_TAG,
        {
            "200": response(
                "Every entry by name (never paged: `limit` and `continue` are "
                "ignored, as in Sensu)",
                {"type": "array", "items": {"$ref": "#/components/schemas/SilencedGo"}},
            ),
            **errors("sensugo", *_GO_ERRORS),
        },
        parameters=[*params, *selectors],
        security=SENSUGO_SECURITY,
    )


def _go_paths() -> dict[str, dict[str, Document]]:
    ns_path = GO + "/namespaces/{ns}/silenced"
    name = path_param("name", "`<subscription>:<check>`", example="linux:disk")
    sub = path_param("subscription", "Exact")
    check = path_param("check", "Exact")
    write = json_body("SilencedGoWrite", "named `<subscription>:<check>`")
    return {
        ns_path: {
            "get": _go_list("Every entry of a namespace", "list_silenced_go", [_NS]),
            "post": operation(
                "Create an entry",
                "create_silenced_go",
                GO_TAG,
                {
                    "201": response("Stored; an empty body"),
                    **errors("sensugo", 404, 409, 413, *_GO_ERRORS),
                },
                parameters=[_NS],
                body=write,
                security=SENSUGO_SECURITY,
            ),
        },
        ns_path + "/subscriptions/{subscription}": {
            "get": _go_list("Entries of one subscription", "list_go_by_sub", [_NS, sub])
        },
        ns_path + "/checks/{check}": {
            "get": _go_list("Entries of one check", "list_go_by_check", [_NS, check])
        },
        ns_path + "/match": {
            "get": operation(
                "Is an event silenced? (Sensu Go's field matching)",
                "match_silenced_go",
                GO_TAG,
                {
                    "200": response("The answer", "SilencedMatch"),
                    **errors("sensugo", 404, *_GO_ERRORS),
                },
                parameters=[_NS, *_match_params("entity")],
                security=SENSUGO_SECURITY,
            )
        },
        ns_path + "/resolve": {
            "post": operation(
                "An event resolved: clear the matching expire_on_resolve entries",
                "resolve_silenced_go",
                GO_TAG,
                {
                    "200": response("The entries cleared", "SilencedCleared"),
                    **errors("sensugo", 404, 413, *_GO_ERRORS),
                },
                parameters=[_NS],
                body=json_body(_resolve_body("entity")),
                security=SENSUGO_SECURITY,
            )
        },
        ns_path + "/{name}": {
            "get": operation(
                "One entry",
                "get_silenced_go",
                GO_TAG,
                {
                    "200": response("The entry", "SilencedGo", headers=["ETag"]),
                    **errors("sensugo", 404, *_GO_ERRORS),
                },
                parameters=[_NS, name],
                security=SENSUGO_SECURITY,
            ),
            "put": operation(
                "Create or replace an entry (201 either way)",
                "put_silenced_go",
                GO_TAG,
                {
                    "201": response("Stored; an empty body"),
                    **errors("sensugo", 404, 413, *_GO_ERRORS),
                },
                parameters=[_NS, name],
                body=write,
                security=SENSUGO_SECURITY,
            ),
            "delete": operation(
                "Delete an entry",
                "delete_silenced_go",
                GO_TAG,
                {
                    "204": response("Deleted; an empty body"),
                    **errors("sensugo", 404, *_GO_ERRORS),
                },
                parameters=[_NS, name],
                security=SENSUGO_SECURITY,
            ),
        },
        GO + "/silenced": {
            "get": _go_list("The entries of every namespace", "list_all_silenced", [])
        },
        GO + "/silenced/checks/{check}": {
            "get": _go_list(
                "Entries of one check, every namespace", "list_all_by_check", [check]
            )
        },
    }


def paths() -> dict[str, dict[str, Document]]:
    """Every path of both silenced APIs."""
    return {**_v1_paths(), **_go_paths()}
