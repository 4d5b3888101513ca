"""Pieces of stashd's OpenAPI document that every Sensu Go API shares: the list
parameters (`paging`), the list response with ``Sensu-Continue``, merge patches."""

from __future__ import annotations

from core.openapi import (
    GUARDED,
    SENSUGO_SECURITY,
    Document,
    errors,
    header_param,
    operation,
    query_param,
    response,
    schema_ref,
)
from sensugo.http import MERGE_PATCH

# Sensu reads `limit` as Go's strconv.Atoi: anything that is not an integer means
# "no limit", so it is a string here; a negative one gets 400.
LIST_PARAMETERS = [
    query_param(
        "limit",
        "Page size; 0, absent or not an integer: everything; negative: 400.",
        {"type": "string"},
    ),
    query_param(
        "continue",
        "The `Sensu-Continue` of the previous page; any other value gets 400.",
    ),
    query_param(
        "labelSelector",
        'A selector over labels (`region == "us-west-1" && tier in (a, b)`).',
    ),
    query_param("fieldSelector", "A selector over the resource's fields."),
]

CONDITIONS = [
    header_param("If-Match", "ETags (or `*`) the resource must have; else 412."),
    header_param("If-None-Match", "ETags (or `*`) it must not have; else 412."),
]

# Statuses every Sensu Go route may answer: bad input, credentials, scopes, throttle.
GO_ERRORS = (400, *GUARDED)


def list_operation(
    summary: str,
    operation_id: str,
    tag: str,
    item: str,
    parameters: list[Document],
    *statuses: int,
) -> Document:
    """A paged list of `item` (a component schema name)."""
    return operation(
        summary,
        operation_id,
        tag,
        {
            "200": response(
                "A page; `Sensu-Continue` when more items follow",
                {"type": "array", "items": schema_ref(item)},
                headers=["Sensu-Continue"],
            ),
            **errors("sensugo", *statuses, *GO_ERRORS),
        },
        parameters=[*parameters, *LIST_PARAMETERS],
        security=SENSUGO_SECURITY,
    )


def merge_patch_body(schema: str) -> Document:
    """A JSON Merge Patch (RFC 7386) of `schema`; `application/json` is accepted
    too (sensuctl sends it), a JSON Patch is refused with 400."""
    patch = {"schema": schema_ref(schema)}
    return {
        "required": True,
        "content": {MERGE_PATCH: patch, "application/json": patch},
    }
