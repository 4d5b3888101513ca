"""Pieces of stashd's OpenAPI document that every Sensu Go API shares: the URL
prefix and namespace parameter, the list parameters (`paging`), the list response
with ``Sensu-Continue``, merge patches."""

from __future__ import annotations

from core.openapi import (
    Api,
    Document,
    array_of,
    header_param,
    path_param,
    query_param,
    response,
    schema_ref,
)
from sensugo.http import MERGE_PATCH

# Where app.py mounts every Sensu Go blueprint.
PREFIX = "/api/core/v2"

NAMESPACE = path_param("ns", "A namespace", example="default")

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


def list_operation(
    api: Api,
    summary: str,
    operation_id: str,
    item: str,
    parameters: list[Document],
    *statuses: int,
) -> Document:
    """A paged list of `item` (a component schema name), an operation of `api`."""
    return api.operation(
        summary,
        operation_id,
        {
            "200": response(
                "A page; `Sensu-Continue` when more items follow",
                array_of(item),
                headers=["Sensu-Continue"],
            )
        },
        *statuses,
        parameters=[*parameters, *LIST_PARAMETERS],
    )


def merge_patch_body(schema: str) -> Document:
    """A JSON Merge Patch (RFC 7386) of `schema`; `application/json` is accepted
    too (sensuctl sends it), a JSON Patch is refused with 400."""
    patch = {"schema": schema_ref(schema)}
    return {
        "required": True,
        "content": {MERGE_PATCH: patch, "application/json": patch},
    }
