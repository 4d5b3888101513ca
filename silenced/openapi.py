"""The silenced APIs (Sensu 1.x and Sensu Go) in stashd's OpenAPI document.

The bodies are checked by hand in `schemas` (each API keeps its own decoding
rules), so they are written out here as JSON Schema; tests/test_openapi.py checks
that every route of `routes`, `go_routes` and the fast match routes is here.
"""

from __future__ import annotations

from core.openapi import (
    Api,
    Document,
    array_of,
    json_body,
    path_param,
    query_param,
    response,
)
from sensu1.openapi import LIST_PARAMETERS
from sensugo.openapi import NAMESPACE, PREFIX

V1_API = Api("silenced (Sensu 1.x)", "sensu1")
GO_API = Api("silenced (Sensu Go)", "sensugo")

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
    return V1_API.operation(
        summary,
        op,
        {
            "200": response(
                "The entries by id",
                array_of("SilencedV1"),
                headers=["X-Pagination"],
            )
        },
        404,
        parameters=[*params, *LIST_PARAMETERS],
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
            "post": V1_API.operation(
                "Create or replace an entry",
                "create_silenced",
                {"201": response("Stored; an empty body")},
                413,
                body=json_body("SilencedV1Write"),
            ),
        },
        "/silenced/clear": {
            "post": V1_API.operation(
                "Clear one entry, or every matching one",
                "clear_silenced",
                {"204": response("Cleared", media=None)},
                404,
                413,
                body=json_body("SilencedV1Clear"),
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
            "get": V1_API.operation(
                "One entry by its exact id",
                "get_silenced",
                {"200": response("The entry", "SilencedV1")},
                404,
                parameters=[name],
            )
        },
        "/silenced/match": {
            "get": V1_API.operation(
                "Is an event silenced? (Sensu 1.x's rule; one Redis round trip)",
                "match_silenced",
                {"200": response("The answer", "SilencedMatch")},
                parameters=_match_params("client"),
            )
        },
        "/silenced/resolve": {
            "post": V1_API.operation(
                "An event resolved: clear the matching expire_on_resolve entries",
                "resolve_silenced",
                {"200": response("The entries cleared", "SilencedCleared")},
                413,
                body=json_body(_resolve_body("client")),
            )
        },
    }


def _go_list(summary: str, op: str, params: list[Document]) -> Document:
    selectors = [
        query_param("labelSelector", 'Label selector (`region == "x"`)'),
        query_param("fieldSelector", 'Field selector (`silenced.check == "x"`)'),
    ]
    return GO_API.operation(
        summary,
        op,
        {
            "200": response(
                "Every entry by name (never paged: `limit` and `continue` are "
                "ignored, as in Sensu)",
                array_of("SilencedGo"),
            )
        },
        parameters=[*params, *selectors],
    )


def _go_paths() -> dict[str, dict[str, Document]]:
    ns_path = PREFIX + "/namespaces/{ns}/silenced"
    name = path_param("name", "`<subscription>:<check>`", example="linux:disk")
    sub = path_param("subscription", "Exact")
    check = path_param("check", "Exact")
    write = json_body("SilencedGoWrite", "named `<subscription>:<check>`")
    return {
        ns_path: {
            "get": _go_list(
                "Every entry of a namespace", "list_silenced_go", [NAMESPACE]
            ),
            "post": GO_API.operation(
                "Create an entry",
                "create_silenced_go",
                {"201": response("Stored; an empty body")},
                404,
                409,
                413,
                parameters=[NAMESPACE],
                body=write,
            ),
        },
        ns_path + "/subscriptions/{subscription}": {
            "get": _go_list(
                "Entries of one subscription", "list_go_by_sub", [NAMESPACE, sub]
            )
        },
        ns_path + "/checks/{check}": {
            "get": _go_list(
                "Entries of one check", "list_go_by_check", [NAMESPACE, check]
            )
        },
        ns_path + "/match": {
            "get": GO_API.operation(
                "Is an event silenced? (Sensu Go's field matching)",
                "match_silenced_go",
                {"200": response("The answer", "SilencedMatch")},
                404,
                parameters=[NAMESPACE, *_match_params("entity")],
            )
        },
        ns_path + "/resolve": {
            "post": GO_API.operation(
                "An event resolved: clear the matching expire_on_resolve entries",
                "resolve_silenced_go",
                {"200": response("The entries cleared", "SilencedCleared")},
                404,
                413,
                parameters=[NAMESPACE],
                body=json_body(_resolve_body("entity")),
            )
        },
        ns_path + "/{name}": {
            "get": GO_API.operation(
                "One entry",
                "get_silenced_go",
                {"200": response("The entry", "SilencedGo", headers=["ETag"])},
                404,
                parameters=[NAMESPACE, name],
            ),
            "put": GO_API.operation(
                "Create or replace an entry (201 either way)",
                "put_silenced_go",
                {"201": response("Stored; an empty body")},
                404,
                413,
                parameters=[NAMESPACE, name],
                body=write,
            ),
            "delete": GO_API.operation(
                "Delete an entry",
                "delete_silenced_go",
                {"204": response("Deleted; an empty body")},
                404,
                parameters=[NAMESPACE, name],
            ),
        },
        PREFIX + "/silenced": {
            "get": _go_list("The entries of every namespace", "list_all_silenced", [])
        },
        PREFIX + "/silenced/checks/{check}": {
            "get": _go_list(
                "Entries of one check, every namespace", "list_all_by_check", [check]
            )
        },
    }


def paths() -> dict[str, dict[str, Document]]:
    """Every path of both silenced APIs."""
    return {**_v1_paths(), **_go_paths()}
