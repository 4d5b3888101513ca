"""Request and response helpers of the Sensu Go dialect, for every /api/core/v2 API.

Bodies are read within ``API_REQUEST_LIMIT`` and parsed as strict JSON whatever the
Content-Type says (as Sensu does); merge patches follow Sensu's Content-Type rules;
lists answer with ``Sensu-Continue``; ETag conditions follow spec assets.md 7.2.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, request

from core import strictjson
from core.errors import BadRequest, PreconditionFailed
from core.http import JSONResponse
from core.request import read_body
from sensugo.paging import ListQuery, continue_headers
from sensugo.selectors import matches

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


def read_raw() -> bytes:
    """The request body, within the Sensu Go limit. :raise PayloadTooLarge:"""
    return read_body(request.environ, current_app.config["API_REQUEST_LIMIT"])


def read_json() -> Any:
    """The request body as JSON, whatever the Content-Type says (Sensu does not
    check it). :raise PayloadTooLarge: :raise BadRequest: not JSON.
    """
    return strictjson.parse(read_raw())


def read_object() -> dict[str, Any]:
    """The request body, which must be a JSON object. :raise BadRequest:"""
    return strictjson.parse_object(read_raw())


def read_merge_patch() -> dict[str, Any]:
    """A JSON Merge Patch body, after Sensu's Content-Type rules (spec 7.1)."""
    header = request.headers.get("Content-Type")
    media = (header or "").split(";")[0].strip().lower()
    if media == JSON_PATCH:
        raise BadRequest(
            f"JSON Patch is not supported yet. Allowed values: {MERGE_PATCH}"
        )
    if header is not None and media != MERGE_PATCH:
        raise BadRequest(
            f"invalid Content-Type header: {header}.  Allowed values: {MERGE_PATCH}"
        )
    return read_object()


def empty(status: int) -> JSONResponse:
    """A success without a body; Sensu still says application/json."""
    return JSONResponse(status=status)


def quoted(etag: str) -> str:
    return f'"{etag}"'


def _tags(header: str) -> list[str]:
    return [tag.strip() for tag in header.split(",") if tag.strip()]


def check_conditions(etag: str, key: str) -> None:
    """If-Match / If-None-Match against the current ETag (spec 7.2).

    :raise PreconditionFailed: a condition does not hold.
    """
    failed = PreconditionFailed(f"at least one condition failed for the key {key}")
    current = quoted(etag)
    if_match = request.headers.get("If-Match")
    if if_match is not None:
        tags = _tags(if_match)
        if "*" not in tags and current not in tags:
            raise failed
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = [t.removeprefix("W/") for t in _tags(if_none_match)]
        if "*" in tags or current in tags:
            raise failed


def with_continue(
    items: list[Any], more: bool, key: Callable[[Any], str], body: bytes
) -> JSONResponse:
    response = JSONResponse(body, 200)
    response.headers.update(continue_headers(more, key(items[-1]) if items else None))
    return response


def selected(
    query: ListQuery,
    labels: Callable[[Any], dict[str, str]],
    fields: Callable[[Any], dict[str, str]],
) -> Callable[[Any], bool] | None:
    """The predicate of the list's selectors, or None when it has none."""
    if not (query.labels or query.fields):
        return None

    def keep(item: Any) -> bool:
        return matches(query.labels, labels(item)) and matches(
            query.fields, fields(item)
        )

    return keep
