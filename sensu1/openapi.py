"""Pieces of stashd's OpenAPI document that the Sensu 1.x APIs share: the list
parameters (`query`)."""

from __future__ import annotations

from core.openapi import query_param

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
